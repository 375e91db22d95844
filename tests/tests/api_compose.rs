//! docker-compose 1.29 (Debian's, on docker-py 5) through the Docker Engine
//! API: `berth serve`, or a private dockerd with `BERTH_TEST_ENGINE=docker`.
//! The project in tests/api/compose/docker-compose.yml: `web` serves a page
//! from a named volume, `client` fetches http://web/ by service name over the
//! project's network.  Needs root and `docker-compose` on PATH.

use std::process::Command;
use std::time::{Duration, Instant};

use berth_e2e::api::{which, ApiServer};
use berth_e2e::api_server;
use berth_e2e::cmd::{Output, Stdin};
use berth_e2e::runtime::workspace_root;

const PROJECT: &str = "e2ecompose";

fn compose(s: &ApiServer, args: &[&str]) -> Output {
    let file = workspace_root().join("tests/api/compose/docker-compose.yml");
    let mut c: Command = s.command("docker-compose");
    c.args(["--ansi", "never"])
        .arg("-p")
        .arg(PROJECT)
        .arg("-f")
        .arg(&file)
        .args(args);
    s.run(c, Stdin::Null, Duration::from_secs(90))
}

#[track_caller]
fn compose_ok(s: &ApiServer, args: &[&str]) -> Output {
    let o = compose(s, args);
    assert!(o.success(), "docker-compose failed: {o:?}");
    o
}

#[test]
fn compose_up_ps_logs_exec_down() {
    let s = api_server!();
    assert!(
        which("docker-compose").is_some(),
        "docker-compose not found: apt-get install docker-compose"
    );
    s.busybox();
    let vol = format!("{PROJECT}_webdata");
    let net = format!("{PROJECT}_default");
    let web = format!("{PROJECT}_web_1");
    let client = format!("{PROJECT}_client_1");

    let o = compose_ok(&s, &["up", "-d"]);
    let said = format!("{}{}", o.stdout, o.stderr);
    for want in [
        format!("Creating network \"{net}\""),
        format!("Creating volume \"{vol}\""),
        format!("Creating {web}"),
        format!("Creating {client}"),
    ] {
        assert!(said.contains(&want), "`up -d` did not say {want:?}: {o:?}");
    }

    // The client reached web by name and got the page from the volume.
    wait_client_fetched(&s);

    let ps = compose_ok(&s, &["ps"]).stdout;
    for name in [&web, &client] {
        let row = ps
            .lines()
            .find(|l| l.starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("`compose ps` lacks {name}:\n{ps}"));
        assert!(row.contains(" Up "), "{name} not up:\n{ps}");
    }
    let ps_q = compose_ok(&s, &["ps", "-q"]).stdout;
    assert_eq!(ps_q.split_whitespace().count(), 2, "{ps_q}");

    // exec: output and exit code.
    let o = compose_ok(&s, &["exec", "-T", "web", "cat", "/www/index.html"]);
    assert_eq!(o.stdout, "compose-ok\n", "{o:?}");
    let o = compose(&s, &["exec", "-T", "web", "sh", "-c", "exit 3"]);
    assert_eq!(o.code, 3, "exec exit code: {o:?}");

    // What compose made, seen through the docker CLI.
    let nets = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|l| l == net), "{nets}");
    let vols = s.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(vols.lines().any(|l| l == vol), "{vols}");
    let mp = s.inspect_f(&vol, "{{.Mountpoint}}");
    assert_eq!(
        std::fs::read_to_string(format!("{mp}/index.html")).unwrap_or_default(),
        "compose-ok\n",
        "the page is in the named volume"
    );
    assert_eq!(
        s.inspect_f(
            &web,
            "{{index .Config.Labels \"com.docker.compose.service\"}}"
        ),
        "web"
    );

    // down -v: containers, network and volume gone.
    let t = Instant::now();
    compose_ok(&s, &["down", "-v"]);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "down took {:?}",
        t.elapsed()
    );
    let psa = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!psa.contains(PROJECT), "containers left after down: {psa}");
    let nets = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.lines().any(|l| l == net), "network left: {nets}");
    let vols = s.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!vols.lines().any(|l| l == vol), "volume left: {vols}");
    let o = compose_ok(&s, &["ps", "-q"]);
    assert_eq!(o.stdout.trim(), "", "{o:?}");

    // `down && up`: the network comes back (on the same subnet) and its names resolve again
    // (the old network's DNS server went with it and does not hold the gateway's port 53).
    compose_ok(&s, &["up", "-d"]);
    wait_client_fetched(&s);
    compose_ok(&s, &["down", "-v"]);
}

/// Waits (up to 30 s) until the client's log says it fetched http://web/ by name.
#[track_caller]
fn wait_client_fetched(s: &ApiServer) {
    let start = Instant::now();
    loop {
        let o = compose(s, &["logs", "client"]);
        if o.stdout.contains("got: compose-ok") {
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!(
                "client never fetched http://web/: {o:?}\n  web logs: {:?}",
                compose(s, &["logs", "web"])
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
