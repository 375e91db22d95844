//! `network connect`/`disconnect` of a running rootless container: its user networks live in
//! the user's network namespace, reached from outside through pasta and, for `-p`, a relay
//! in the host's namespace (see `rootless.rs`). What the container can reach must follow its
//! endpoints: after a disconnect its published port is no longer relayed to the address it
//! gave up, and pasta (which stops once no container is on a user network) comes back when it
//! joins one again, with its ports relayed to the new address. Validated against rootless
//! podman with `BERTH_TEST_ENGINE=podman` where podman behaves the same (noted per check).
//! Needs root, Debian's uidmap and passt, and busybox-static.

use berth_e2e::env::poll;
use berth_e2e::rootless::{free_port, podman, read_port, DevMode, User};
use std::time::Duration;

const SEC10: Duration = Duration::from_secs(10);
const STEP: Duration = Duration::from_millis(100);

/// A pasta of the user's (the namespace's or a user-mode container's). Read from /proc/PID/status: pasta makes itself non-dumpable, which
/// gives its /proc entries to root.
fn pasta_runs(u: &User) -> bool {
    let uid = format!("Uid:\t{}\t", u.uid);
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        // pasta is passt under another name, and runs as passt.avx2 where the CPU has it;
        // podman 4.3 links its rootless namespace to the outside with slirp4netns
        let names: &[&str] = match podman() {
            true => &["slirp4netns"],
            false => &["pasta", "passt"],
        };
        names
            .iter()
            .any(|n| status.starts_with(&format!("Name:\t{n}")))
            && status.lines().any(|l| l.starts_with(&uid))
            && !status.contains("State:\tZ")
    })
}

#[test]
fn rootless_connect_follows_the_containers_endpoints() {
    let u = User::new("nc");
    let img = u.import_busybox();
    let _restore = DevMode::open_to_all("/dev/net/tun");
    u.ok(&["network", "create", "nca"]);
    u.ok(&["network", "create", "ncb"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    u.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "nca",
        "-p",
        &publish,
        &img,
        "sh",
        "-c",
        "while true; do echo from-web | nc -l -p 80; done",
    ]);
    assert!(
        read_port(port, "from-web").contains("from-web"),
        "-p before"
    );
    assert!(pasta_runs(&u), "pasta while web is on nca");

    u.ok(&["network", "disconnect", "nca", "web"]);
    if !podman() {
        // no container is on a user network now: nothing reaches out, nothing relays
        assert!(poll(SEC10, STEP, || !pasta_runs(&u)), "pasta still runs");
        let refused = std::net::TcpStream::connect(("127.0.0.1", port));
        assert!(
            refused.is_err(),
            "the port is still relayed after disconnect"
        );
    }

    u.ok(&["network", "connect", "ncb", "web"]);
    assert!(pasta_runs(&u), "pasta is back once web joined ncb");
    let got = read_port(port, "from-web");
    assert!(
        got.contains("from-web"),
        "-p relayed to web's new address: {got:?}"
    );
    let ip = u.ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        "web",
    ]);
    let out = u.ok(&["exec", "web", "ip", "-4", "-o", "addr", "show"]);
    assert!(out.contains(&format!("{ip}/")), "{ip} in {out}");

    // a container on the default (user-mode) network joins no other, at start or later
    u.ok(&["run", "-d", "--name", "solo", &img, "sleep", "300"]);
    let o = u.run(&["network", "connect", "ncb", "solo"], None);
    assert!(
        !o.status.success(),
        "connect of a user-mode container: {o:?}"
    );
    if !podman() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("joins no other"), "{err}");
        u.ok(&["restart", "-t", "0", "solo"]);
    }

    u.ok(&["rm", "-f", "web", "solo"]);
    u.ok(&["network", "rm", "nca", "ncb"]);
    assert!(
        poll(SEC10, STEP, || !pasta_runs(&u)),
        "pasta still runs after the last network went"
    );
}
