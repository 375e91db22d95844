//! A rootless engine on a pure cgroup v2 host with a subtree delegated to the user (what
//! systemd's `Delegate=yes` gives a login): the container gets its cgroup there and `pause`
//! freezes it with v2's freezer, which needs no controller. A limit needs its controller
//! delegated too; this host's cgroup2 hierarchy has none (they are all bound to v1), so a
//! limit is refused naming the controller, never dropped. This host is hybrid, so the
//! test shows the user's commands a pure v2 host: a mount namespace where /sys/fs/cgroup is
//! the real cgroup2 hierarchy (see `User::delegate_cgroup2`); nothing here is a fake tree.
//! Needs root, Debian's uidmap and busybox-static.

use berth_e2e::rootless::User;
use std::path::Path;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn rootless_pause_in_a_delegated_cgroup2_subtree() {
    let mut u = User::new("cg");
    let Some(delegated) = u.delegate_cgroup2() else {
        panic!("this host mounts no cgroup2 hierarchy");
    };
    let img = u.import_busybox();
    let o = u.run(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--pids-limit",
            "7",
            &img,
            "true",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        err.contains("controller pids is not delegated") && err.contains("berth-delegated-"),
        "the refusal names the controller and the subtree: {err}"
    );
    assert_eq!(u.ok(&["ps", "-aq"]), "", "a refused run left a container");

    let id = u.ok(&["run", "-d", "--network", "none", &img, "sleep", "600"]);
    let cg = delegated.join("berth").join(&id);
    assert!(
        cg.is_dir(),
        "the container's cgroup {} is missing",
        cg.display()
    );
    let pid = u.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    assert!(
        read(&cg.join("cgroup.procs")).lines().any(|l| l == pid),
        "the container's process {pid} is in {}",
        cg.display()
    );

    u.ok(&["pause", &id]);
    assert_eq!(u.ok(&["inspect", "-f", "{{.State.Status}}", &id]), "paused");
    assert!(read(&cg.join("cgroup.events")).contains("frozen 1"));
    u.ok(&["unpause", &id]);
    assert!(read(&cg.join("cgroup.events")).contains("frozen 0"));
    assert_eq!(u.ok(&["exec", &id, "echo", "thawed"]), "thawed");

    // dockerd's default on a v2 host: a private cgroup namespace, rooted at the container's
    // (the kernel lists its v1 hierarchies too: this host is hybrid underneath the view)
    let cgroup = u.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(cgroup.lines().any(|l| l == "0::/"), "{cgroup}");
    assert_eq!(
        u.ok(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", &id]),
        "private"
    );
    u.ok(&["rm", "-f", &id]);
    assert!(!cg.exists(), "{} left after rm", cg.display());

    // the host's namespace: cgroup2 cannot be mounted afresh there by a plain user, so its
    // /sys/fs/cgroup is the host's, bound read-only (runc's way)
    let out = u.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroupns",
        "host",
        &img,
        "sh",
        "-c",
        "cat /proc/self/cgroup; ls /sys/fs/cgroup/cgroup.procs; touch /sys/fs/cgroup/x || echo ro",
    ]);
    assert!(
        out.lines().any(|l| l.starts_with("0::/berth-delegated-")),
        "{out}"
    );
    assert!(out.ends_with("ro"), "{out}");
}
