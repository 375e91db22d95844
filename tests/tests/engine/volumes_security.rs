use super::*;

// ---------------------------------------------------------------------------
// 8. volumes

#[test]
fn named_volume_lifecycle() {
    let e = engine!();
    let img = e.img().to_string();
    let v = e.name("data");
    assert_eq!(e.ok(&["volume", "create", &v]).trim(), v);
    let mnt = format!("{v}:/data");
    e.ok(&[
        "run",
        "--rm",
        "-v",
        &mnt,
        &img,
        "sh",
        "-c",
        "echo hello > /data/f",
    ]);
    assert_eq!(
        e.ok(&["run", "--rm", "-v", &mnt, &img, "cat", "/data/f"]),
        "hello\n"
    );
    let ls = e.ok(&["volume", "ls", "-q"]);
    assert!(ls.lines().any(|l| l.trim() == v), "volume ls -q:\n{ls}");
    let ls = e.ok(&["volume", "ls"]);
    assert_eq!(
        header_columns(ls.lines().next().unwrap_or("")),
        ["DRIVER", "VOLUME NAME"],
        "{ls}"
    );

    let j: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", &v])).unwrap();
    let j = &j[0];
    assert_eq!(j["Name"], v.as_str(), "{j}");
    assert_eq!(j["Driver"], "local", "{j}");
    let mp = j["Mountpoint"].as_str().unwrap_or_default();
    assert!(mp.starts_with('/'), "{j}");
    assert_eq!(
        std::fs::read_to_string(format!("{mp}/f")).unwrap_or_default(),
        "hello\n",
        "data lives at the Mountpoint"
    );

    // In use by a stopped container: rm refuses.
    let c = e.name("user");
    e.ok(&["run", "--name", &c, "-v", &mnt, &img, "true"]);
    let o = e.fails(&["volume", "rm", &v]);
    assert!(o.stderr.contains("volume is in use"), "{o:?}");
    e.ok(&["rm", &c]);
    assert_eq!(e.ok(&["volume", "rm", &v]).trim(), v);
    let o = e.fails(&["volume", "inspect", &v]);
    assert!(o.stderr.contains("no such volume"), "{o:?}");
}

#[test]
fn volume_prefill_bind_and_anonymous() {
    let e = engine!();
    let img = e.img().to_string();
    // A new named volume is filled from the image's content on first use.
    let mnt = format!("{}:/etc", e.name("v2"));
    let ls = e.ok(&["run", "--rm", "-v", &mnt, &img, "ls", "/etc"]);
    assert!(ls.lines().any(|l| l == "passwd"), "{ls:?}");
    // ... and keeps what it has afterwards.
    e.ok(&["run", "--rm", "-v", &mnt, &img, "rm", "/etc/group"]);
    let ls = e.ok(&["run", "--rm", "-v", &mnt, &img, "ls", "/etc"]);
    assert!(!ls.lines().any(|l| l == "group"), "{ls:?}");

    // Bind mount, read-only.
    let host = e.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "from host\n").unwrap();
    let bind = format!("{}:/h:ro", host.display());
    assert_eq!(
        e.ok(&["run", "--rm", "-v", &bind, &img, "cat", "/h/file"]),
        "from host\n"
    );
    let o = e.cmd(&["run", "--rm", "-v", &bind, &img, "touch", "/h/x"]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("Read-only file system"), "{o:?}");
    assert!(!host.join("x").exists());
    // read-write bind: the host sees the write
    let bind = format!("{}:/h", host.display());
    e.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        &img,
        "sh",
        "-c",
        "echo back > /h/y",
    ]);
    assert_eq!(std::fs::read_to_string(host.join("y")).unwrap(), "back\n");

    // Anonymous volume: in inspect's Mounts, removed by rm -v.
    let n = run_sleeper(&e, "anon", &["-v", "/anon"]);
    let m = e.inspect(&n)["Mounts"].clone();
    let m = m
        .as_array()
        .and_then(|a| a.iter().find(|m| m["Destination"] == "/anon"))
        .unwrap_or_else(|| panic!("no /anon in Mounts: {m}"))
        .clone();
    assert_eq!(m["Type"], "volume", "{m}");
    assert_eq!(m["Driver"], "local", "{m}");
    assert_eq!(m["RW"], true, "{m}");
    let vname = m["Name"].as_str().unwrap().to_string();
    assert!(is_hex64(&vname), "anonymous volume name {vname:?}");
    e.ok(&["volume", "inspect", &vname]);
    e.ok(&["rm", "-f", "-v", &n]);
    e.fails(&["volume", "inspect", &vname]);
}

// ---------------------------------------------------------------------------
// 9. security

#[test]
fn security_defaults() {
    let e = engine!();
    let img = e.img().to_string();
    let caps = e.ok(&["run", "--rm", &img, "grep", "Cap", "/proc/self/status"]);
    assert!(caps.contains("CapEff:\t00000000a80425fb"), "{caps}");
    assert!(caps.contains("CapBnd:\t00000000a80425fb"), "{caps}");
    assert!(caps.contains("CapAmb:\t0000000000000000"), "{caps}");
    let sec = e.ok(&["run", "--rm", &img, "grep", "Seccomp:", "/proc/self/status"]);
    assert_eq!(sec.split_whitespace().nth(1), Some("2"), "{sec}");
    let nnp = e.ok(&[
        "run",
        "--rm",
        &img,
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(
        nnp.contains('0'),
        "docker does not set no_new_privs by default: {nnp}"
    );

    // Masked paths read as empty (or are missing: this VM has no kcore).
    let o = e.ok(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c) timer_list=$(cat /proc/timer_list 2>/dev/null | wc -c) keys=$(cat /proc/keys | wc -c)",
    ]);
    assert_eq!(
        o.trim(),
        "kcore=0 timer_list=0 keys=0",
        "masked /proc files"
    );
    // Read-only /proc/sys and /proc/sysrq-trigger.
    let o = e.cmd(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo x > /proc/sys/kernel/domainname",
    ]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("Read-only file system"), "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    assert_ne!(o.code, 0, "{o:?}");
    // No new devices, no mount.
    let o = e.cmd(&["run", "--rm", &img, "mount", "-t", "tmpfs", "t", "/mnt"]);
    assert_ne!(o.code, 0, "{o:?}");
    let o = e.cmd(&["run", "--rm", &img, "mknod", "/tmp/sda", "b", "8", "0"]);
    assert_eq!(o.code, 0, "CAP_MKNOD is in docker's default set: {o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda",
    ]);
    assert_ne!(o.code, 0, "the device cgroup denies opening a disk: {o:?}");

    // --privileged: all capabilities.  (docker's runc 1.1 fails here on
    // this host, which lacks CAP_SYS_RESOURCE in its bounding set; berth
    // must not.)
    let o = e.cmd(&[
        "run",
        "--rm",
        "--privileged",
        &img,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    if e.is_docker() && o.stderr.contains("unable to apply caps") {
        eprintln!(
            "SKIP (docker known failure): --privileged on a host without CAP_SYS_RESOURCE: {o:?}"
        );
    } else {
        assert_eq!(o.code, 0, "{o:?}");
        let host = std::fs::read_to_string("/proc/self/status").unwrap();
        let host_bnd = host.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
        let hex = |s: &str| u64::from_str_radix(s.trim(), 16).unwrap();
        // dockerd 20.10 asks for the capabilities it knows (up to
        // CAP_AUDIT_READ, 37; with berth-runtime as its runtime, which hands
        // out what the host allows of them), berth for all the host's.
        let asked = if e.is_docker() {
            (1u64 << 38) - 1
        } else {
            u64::MAX
        };
        assert_eq!(
            hex(o.out().trim_start_matches("CapEff:")),
            hex(host_bnd.trim_start_matches("CapBnd:")) & asked,
            "{o:?}"
        );
    }
}

const BIND80: &str = "nc -l -p 80 2>&1 & p=$!; sleep 0.5; if kill $p 2>/dev/null; then echo bound; else echo nobind; fi";

#[test]
fn caps_user_read_only_rootfs() {
    let e = engine!();
    let img = e.img().to_string();
    // The Kubernetes-like hardened container.  docker sets
    // net.ipv4.ip_unprivileged_port_start=0 in the container's netns, so
    // uid 1000 binds port 80 (with no effective capability at all).
    let o = e.ok(&[
        "run",
        "--rm",
        "--user",
        "1000",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_BIND_SERVICE",
        "--read-only",
        "--tmpfs",
        "/tmp",
        &img,
        "sh",
        "-c",
        &format!(
            "id -u; grep CapEff /proc/self/status; {BIND80}; touch /x 2>/dev/null && echo rootfs-writable; touch /tmp/y && echo tmp-writable"
        ),
    ]);
    let lines: Vec<&str> = o.lines().collect();
    assert_eq!(
        lines,
        ["1000", "CapEff:\t0000000000000000", "bound", "tmp-writable"],
        "non-root user: no effective caps, read-only rootfs, writable --tmpfs"
    );
    let o = e.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_BIND_SERVICE",
        &img,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(o.trim(), "CapEff:\t0000000000000400");

    // With the privileged-port sysctl back at 1024 the capability decides.
    let sysctl = "net.ipv4.ip_unprivileged_port_start=1024";
    let with = e.ok(&[
        "run",
        "--rm",
        "--sysctl",
        sysctl,
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_BIND_SERVICE",
        &img,
        "sh",
        "-c",
        BIND80,
    ]);
    assert_eq!(with.trim(), "bound");
    let without = e.ok(&[
        "run",
        "--rm",
        "--sysctl",
        sysctl,
        "--cap-drop",
        "ALL",
        &img,
        "sh",
        "-c",
        BIND80,
    ]);
    assert!(
        without.contains("Permission denied") && without.contains("nobind"),
        "{without:?}"
    );
    let user = e.ok(&[
        "run",
        "--rm",
        "--sysctl",
        sysctl,
        "--user",
        "1000",
        "--cap-add",
        "NET_BIND_SERVICE",
        &img,
        "sh",
        "-c",
        BIND80,
    ]);
    assert!(
        user.contains("nobind"),
        "caps are not raised for a non-root user: {user:?}"
    );

    // --read-only alone: /tmp is read-only too.
    let o = e.cmd(&["run", "--rm", "--read-only", &img, "touch", "/tmp/z"]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("Read-only file system"), "{o:?}");
}

// ---------------------------------------------------------------------------
// 10. errors

#[test]
fn errors_and_no_leftovers() {
    let e = engine!();
    let img = e.img().to_string();
    let n = run_sleeper(&e, "dup", &[]);
    let o = e.cmd(&["run", "--name", &n, &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("is already in use"), "{o:?}");
    let o = e.cmd(&["create", "--name", &n, &img, "true"]);
    // docker: `run` exits 125 on daemon errors, `create` exits 1.
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("is already in use"), "{o:?}");

    let o = e.cmd(&["rm", &n]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("cannot remove a running container"),
        "{o:?}"
    );
    assert_eq!(e.status(&n).as_deref(), Some("running"));

    let nosuch = e.name("nosuch");
    let o = e.cmd(&["start", &nosuch]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains(&format!("No such container: {nosuch}")),
        "{o:?}"
    );
    for cmd in [
        "stop", "rm", "logs", "inspect", "kill", "restart", "pause", "wait",
    ] {
        let o = e.cmd(&[cmd, &nosuch]);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(o.stderr.to_lowercase().contains("no such"), "{o:?}");
    }
    let o = e.cmd(&["exec", &nosuch, "true"]);
    assert_ne!(o.code, 0, "{o:?}");

    let bad = e.name("bad");
    let o = e.cmd(&["run", "--name", &bad, "--memory", "lots", &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("invalid argument \"lots\""), "{o:?}");
    let o = e.cmd(&["run", "--name", &bad, "--nosuchflag", &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("unknown flag: --nosuchflag"), "{o:?}");
    let o = e.cmd(&[
        "run",
        "--name",
        &bad,
        "--restart",
        "sometimes",
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    let o = e.cmd(&[
        "run",
        "--name",
        &bad,
        "--rm",
        "--restart",
        "always",
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "--rm and --restart conflict: {o:?}");
    let o = e.cmd(&["run", "--name", "bad/name", &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("Invalid container name"), "{o:?}");

    assert_eq!(
        e.container_names(),
        vec![n],
        "failed commands must not leave containers"
    );
}
