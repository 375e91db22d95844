use super::*;

// --------------------------------------------------------------- namespaces

#[test]
fn new_namespaces_differ_from_host() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.namespace("cgroup", None);
    let kinds = ["pid", "network", "ipc", "uts", "mount", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{}; ", proc_ns_name(k)))
        .collect();
    let out = env.sh(&mut b, &script);
    out.ok();
    let got: Vec<&str> = out.out().lines().collect();
    assert_eq!(got.len(), kinds.len(), "{out:?}");
    for (k, inside) in kinds.iter().zip(got) {
        let host = host_ns(proc_ns_name(k));
        assert!(
            inside.starts_with(&format!("{}:[", proc_ns_name(k))),
            "{out:?}"
        );
        assert_ne!(inside, host, "{k} namespace must be new");
    }
    // Namespaces that are not listed are shared with the runtime (host).
    let user_inside = env.sh(&mut b, "readlink /proc/self/ns/user");
    assert_eq!(user_inside.out(), host_ns("user"), "{user_inside:?}");
}

/// A new cgroup namespace is rooted at the container's own cgroup: the
/// process sees "/" for every hierarchy, never the host's path to it (the
/// namespace is made once the process is in its cgroup, as runc does).
#[test]
fn new_cgroup_namespace_is_rooted_at_the_container_cgroup() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.namespace("cgroup", None);
    let out = env.sh(&mut b, "cat /proc/self/cgroup");
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert!(!lines.is_empty(), "{out:?}");
    for l in lines {
        let path = l.splitn(3, ':').nth(2).unwrap_or("");
        assert_eq!(path, "/", "a host path shows through: {l}\n{out:?}");
    }
    // without one, the host's path to the container's cgroup shows
    let mut b = env.bundle("c");
    let out = env.sh(&mut b, "cat /proc/self/cgroup");
    out.ok();
    assert!(
        out.out()
            .lines()
            .any(|l| l.splitn(3, ':').nth(2).is_some_and(|p| p != "/")),
        "{out:?}"
    );
}

#[test]
fn unlisted_namespace_is_shared_with_host() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.remove_namespace("network").remove_namespace("uts");
    b.edit(|s| {
        s.as_object_mut().unwrap().remove("hostname");
    });
    let out = env.sh(
        &mut b,
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts",
    );
    out.ok();
    assert_eq!(
        out.out(),
        format!("{}\n{}", host_ns("net"), host_ns("uts")),
        "{out:?}"
    );
}

#[test]
fn user_namespace_with_mappings() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.namespace("user", None)
        .uid_mapping(0, 100000, 65536)
        .gid_mapping(0, 200000, 65536);
    // sysfs cannot be mounted by an unprivileged user namespace without its
    // own netns owner... the netns is new and owned by the userns, so it can.
    b.sh("id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; readlink /proc/self/ns/user; echo ready > /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.05; done");
    // The rootfs must be writable by the mapped root for the ready file.
    nix::unistd::chown(
        &b.rootfs().join("tmp"),
        Some(100000.into()),
        Some(200000.into()),
    )
    .unwrap();
    let id = env.id("user");
    let c = env.create(&id, &b);
    c.ok();
    let pid = env.pid(&id);
    env.start(&id).ok();
    assert!(TestEnv::wait_for(10 * SEC, || b
        .rootfs()
        .join("tmp/ready")
        .exists()));
    // Seen from the host the process runs as the mapped ids.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let gid_line = status.lines().find(|l| l.starts_with("Gid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("100000"),
        "{uid_line}"
    );
    assert_eq!(
        gid_line.split_whitespace().nth(1),
        Some("200000"),
        "{gid_line}"
    );
    std::fs::write(b.rootfs().join("tmp/go"), "").unwrap();
    env.wait_status(&id, "stopped", 10 * SEC);
    let out = c.reread();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 5, "{out:?} {:?}", c.reread_stderr());
    assert_eq!(lines[0], ["0"], "{out:?}");
    assert_eq!(lines[1], ["0"], "{out:?}");
    assert_eq!(lines[2], ["0", "100000", "65536"], "{out:?}");
    assert_eq!(lines[3], ["0", "200000", "65536"], "{out:?}");
    assert_ne!(lines[4], [host_ns("user").as_str()], "{out:?}");
    env.delete(&id).ok();
}

/// Start a host process holding fresh namespaces (`unshare FLAGS sleep`) and
/// wait until it has them.
fn ns_holder(env: &TestEnv, flags: &[&str], check: &str) -> i32 {
    let mut args: Vec<&str> = flags.to_vec();
    args.extend_from_slice(&["sleep", "1000"]);
    let pid = env.spawn_host("unshare", &args);
    let host = host_ns(check);
    assert!(
        TestEnv::wait_for(5 * SEC, || std::fs::read_link(format!(
            "/proc/{pid}/ns/{check}"
        ))
        .map(|l| l.to_string_lossy() != host)
        .unwrap_or(false)),
        "unshare {flags:?} did not create its namespaces"
    );
    pid
}

#[test]
fn join_net_uts_ipc_cgroup_by_path() {
    let env = test_env!();
    let holder = ns_holder(&env, &["--net", "--uts", "--ipc", "--cgroup"], "net");
    let kinds = ["network", "uts", "ipc", "cgroup"];
    let mut b = env.bundle("b");
    for k in kinds {
        b.namespace(k, Some(&format!("/proc/{holder}/ns/{}", proc_ns_name(k))));
    }
    // Setting a hostname in a joined UTS namespace is allowed; leave it out to
    // keep the holder's (we compare inodes only).
    b.edit(|s| {
        s.as_object_mut().unwrap().remove("hostname");
    });
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{}; ", proc_ns_name(k)))
        .collect();
    let out = env.sh(&mut b, &script);
    out.ok();
    let got: Vec<&str> = out.out().lines().collect();
    assert_eq!(got.len(), kinds.len(), "{out:?}");
    for (k, inside) in kinds.iter().zip(got) {
        assert_eq!(
            inside,
            pid_ns(holder, proc_ns_name(k)),
            "{k} must be joined: {out:?}"
        );
    }
}

#[test]
fn join_pid_namespace_of_other_container() {
    let env = test_env!();
    let mut first = env.bundle("first");
    first.sh("sleep 1000");
    let id1 = env.id("holder");
    env.create_start(&id1, &first);
    let pid1 = env.pid(&id1);
    let mut b = env.bundle("b");
    b.namespace("pid", Some(&format!("/proc/{pid1}/ns/pid")));
    b.namespace("network", Some(&format!("/proc/{pid1}/ns/net")));
    let out = env.sh(
        &mut b,
        "readlink /proc/self/ns/pid; readlink /proc/self/ns/net; echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(pid_ns(pid1, "pid").as_str()),
        "{out:?}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(pid_ns(pid1, "net").as_str()),
        "{out:?}"
    );
    assert_ne!(
        lines.get(2).copied(),
        Some("1"),
        "joined pid ns: not pid 1: {out:?}"
    );
    assert_eq!(
        lines.get(3).map(|s| s.trim()),
        Some("sleep 1000"),
        "{out:?}"
    );
    env.kill(&id1, "KILL").ok();
    env.wait_status(&id1, "stopped", 10 * SEC);
}

#[test]
fn join_mount_namespace_by_path() {
    let env = test_env!();
    let holder = ns_holder(&env, &["--mount", "--propagation", "private"], "mnt");
    let mut b = env.bundle("b");
    b.namespace("mount", Some(&format!("/proc/{holder}/ns/mnt")));
    let out = env.sh(&mut b, "readlink /proc/self/ns/mnt");
    out.ok();
    assert_eq!(out.out(), pid_ns(holder, "mnt"), "{out:?}");
}

#[test]
fn join_user_namespace_by_path() {
    let env = test_env!();
    // A user namespace with root mapped to 100000 (written by unshare as root).
    // (util-linux's --map-users needs newuidmap, so we write the maps
    // ourselves, as root in the parent namespace.)
    let holder = ns_holder(&env, &["--user"], "user");
    std::fs::write(format!("/proc/{holder}/uid_map"), "0 100000 65536\n").unwrap();
    std::fs::write(format!("/proc/{holder}/gid_map"), "0 100000 65536\n").unwrap();
    let mut b = env.bundle("b");
    b.namespace("user", Some(&format!("/proc/{holder}/ns/user")))
        .uid_mapping(0, 100000, 65536)
        .gid_mapping(0, 100000, 65536);
    let out = env.sh(
        &mut b,
        "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u",
    );
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(pid_ns(holder, "user").as_str()),
        "{out:?}"
    );
    assert_eq!(
        lines
            .get(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["0", "100000", "65536"]),
        "{out:?}"
    );
    assert_eq!(lines.get(2).copied(), Some("0"), "{out:?}");
}

/// The init is in the container's cgroup in every hierarchy (the unified one of a hybrid host
/// too) when it runs: berth-runtime's init enters the v1 hierarchies itself and is cloned
/// into the v2 cgroup, where runc writes its pid into each `cgroup.procs`.
#[test]
fn the_process_is_in_its_cgroup_in_every_hierarchy() {
    let env = test_env!();
    let mut b = env.bundle("b");
    let cgpath = format!("/berth-e2e-{}", env.id("cgin"));
    b.edit(|s| s["linux"]["cgroupsPath"] = cgpath.clone().into());
    let out = env.sh(&mut b, "cat /proc/self/cgroup");
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("0::")), "{out:?}");
    // (not hugetlb: this host's is mounted where crun wants it, and runc does not find it)
    let managed = [
        "", "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer",
    ];
    for l in &lines {
        let controllers = l.split(':').nth(1).unwrap_or("");
        if controllers.split(',').any(|c| managed.contains(&c)) {
            assert!(l.ends_with(&format!(":{cgpath}")), "{l}\n{out:?}");
        }
    }
}
