use super::*;

// ------------------------------------------------------------------- mounts

#[test]
fn tmpfs_mount_with_size_and_mode() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.mount(
        "/mnt/scratch",
        "tmpfs",
        "tmpfs",
        &["size=1m", "mode=1750", "nosuid"],
    );
    let out = env.sh(
        &mut b,
        "stat -c %a /mnt/scratch; grep ' /mnt/scratch ' /proc/self/mountinfo; \
         dd if=/dev/zero of=/mnt/scratch/f bs=1k count=2048 2>/dev/null; echo dd=$?",
    );
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(lines.first().copied(), Some("1750"), "{out:?}");
    let mi = lines.get(1).copied().unwrap_or("");
    assert!(mi.contains(" - tmpfs "), "{out:?}");
    assert!(mi.contains("size=1024k"), "{out:?}");
    assert!(mount_opts(mi).contains("nosuid"), "{out:?}");
    // The size limit is enforced: 2 MiB do not fit in 1 MiB.
    assert_ne!(lines.get(2).copied(), Some("dd=0"), "{out:?}");
    // Created inside the rootfs, not on the host.
    assert!(b.rootfs().join("mnt/scratch").is_dir());
}

#[test]
fn bind_mount_read_only() {
    let env = test_env!();
    let src = env.path().join("shared");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), "from-host").unwrap();
    let mut b = env.bundle("b");
    b.bind("/data", &src, &["bind", "ro"]);
    let out = env.sh(
        &mut b,
        "cat /data/hello; echo; if touch /data/new 2>/dev/null; then echo WRITABLE; else echo denied; fi; \
         grep ' /data ' /proc/self/mountinfo",
    );
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(lines.first().copied(), Some("from-host"), "{out:?}");
    assert_eq!(lines.get(1).copied(), Some("denied"), "{out:?}");
    assert!(
        mount_opts(lines.get(2).unwrap_or(&"")).contains("ro"),
        "{out:?}"
    );
    assert!(!src.join("new").exists());
    // A rw bind lets writes through to the host.
    let mut b2 = env.bundle("b2");
    b2.bind("/data", &src, &["bind"]);
    env.sh(&mut b2, "echo hi > /data/new").ok();
    assert_eq!(std::fs::read_to_string(src.join("new")).unwrap(), "hi\n");
}

#[test]
fn nosuid_noexec_nodev_options() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.mount(
        "/mnt/locked",
        "tmpfs",
        "tmpfs",
        &["nosuid", "noexec", "nodev", "size=16m"],
    );
    b.mount("/mnt/open", "tmpfs", "tmpfs", &["size=16m"]);
    let out = env.sh(
        &mut b,
        "grep ' /mnt/locked ' /proc/self/mountinfo; grep ' /mnt/open ' /proc/self/mountinfo; \
         cp /bin/busybox /mnt/locked/true; cp /bin/busybox /mnt/open/true; \
         if /mnt/locked/true 2>/dev/null; then echo EXECUTED; else echo noexec-ok; fi; \
         if /mnt/open/true; then echo exec-ok; else echo EXEC-FAILED; fi",
    );
    out.ok();
    let lines: Vec<&str> = out.out().lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    let locked = mount_opts(lines[0]);
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(locked.contains(o), "{o} missing: {out:?}");
    }
    let open = mount_opts(lines[1]);
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(!open.contains(o), "{o} set without being asked: {out:?}");
    }
    assert_eq!(lines[2], "noexec-ok", "{out:?}");
    assert_eq!(lines[3], "exec-ok", "{out:?}");
}

#[test]
fn rbind_includes_submounts_bind_does_not() {
    let env = test_env!();
    let src = env.path().join("tree");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("top"), "top").unwrap();
    // A submount on the host, under the test dir (the guard unmounts it).
    nix::mount::mount(
        Some("tmpfs"),
        &src.join("sub"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount tmpfs on host");
    std::fs::write(src.join("sub/inner"), "inner").unwrap();
    let mut b = env.bundle("b");
    b.bind("/rb", &src, &["rbind"]).bind("/pb", &src, &["bind"]);
    let out = env.sh(
        &mut b,
        "cat /rb/top; echo; cat /rb/sub/inner; echo; cat /pb/top; echo; \
         if [ -e /pb/sub/inner ]; then echo SUBMOUNT-VISIBLE; else echo plain; fi",
    );
    out.ok();
    assert_eq!(out.out(), "top\ninner\ntop\nplain", "{out:?}");
}

#[test]
fn symlink_mount_destination_stays_in_rootfs() {
    let env = test_env!();
    // A host dir the symlink points at, and a source dir to mount.
    let victim = env.path().join("victim");
    let victim2 = env.path().join("victim2");
    for v in [&victim, &victim2] {
        std::fs::create_dir(v).unwrap();
        std::fs::write(v.join("host-file"), "host").unwrap();
    }
    let src = env.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("marker"), "mounted").unwrap();
    let mut b = env.bundle("b");
    // Absolute and relative symlinks that escape the rootfs.
    std::os::unix::fs::symlink(&victim, b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../..".to_string() + victim2.to_str().unwrap(),
        b.rootfs().join("evil2"),
    )
    .unwrap();
    b.bind("/evil", &src, &["bind"]);
    b.mount("/evil2", "tmpfs", "tmpfs", &["size=1m"]);
    let out = env.sh(
        &mut b,
        "cat /evil/marker; echo; echo pwned > /evil2/pwned && echo wrote",
    );
    // Whatever the runtime did, the host dir must be untouched.
    for v in [&victim, &victim2] {
        let mut entries: Vec<String> = std::fs::read_dir(v)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        assert_eq!(entries, ["host-file"], "host dir {v:?} changed: {out:?}");
        assert!(
            !berth_e2e::env::mount_points()
                .iter()
                .any(|m| m == v.to_str().unwrap()),
            "a mount landed on the host path {v:?}"
        );
    }
    // And the mounts are where the container sees them: inside its rootfs.
    out.ok();
    assert_eq!(out.out(), "mounted\nwrote", "{out:?}");
}

// ---------------------------------------------------- root, mounts, devices

#[test]
fn relative_bind_source_is_relative_to_bundle() {
    let env = test_env!();
    let mut b = env.bundle("b");
    std::fs::create_dir(b.dir.join("data")).unwrap();
    std::fs::write(b.dir.join("data/f"), "bundle-relative").unwrap();
    b.edit(|s| {
        s["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/data", "type": "bind", "source": "data", "options": ["bind"]
        }));
    });
    // Run from another cwd so a cwd-relative lookup would miss.
    b.sh("cat /data/f");
    b.write();
    let id = env.id("rel");
    env.track(&id);
    let bs = b.dir.to_str().unwrap().to_string();
    let out = env.rt_in(Path::new("/"), &["run", "--bundle", &bs, &id]);
    out.ok();
    assert_eq!(out.out(), "bundle-relative", "{out:?}");
}

#[test]
fn absolute_root_path() {
    let env = test_env!();
    let other = env.bundle("other-root");
    std::fs::write(other.rootfs().join("which-root"), "other").unwrap();
    let mut b = env.bundle("b");
    let abs = other.rootfs().to_str().unwrap().to_string();
    b.edit(|s| s["root"]["path"] = abs.clone().into());
    let out = env.sh(&mut b, "cat /which-root");
    out.ok();
    assert_eq!(out.out(), "other", "{out:?}");
}

#[test]
fn mounts_are_applied_in_order() {
    let env = test_env!();
    let src = env.path().join("inner");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "inner").unwrap();
    let mut b = env.bundle("b");
    // The bind lands inside the tmpfs mounted before it.
    b.mount("/stack", "tmpfs", "tmpfs", &["size=1m"])
        .bind("/stack/inner", &src, &["bind"]);
    let out = env.sh(
        &mut b,
        "cat /stack/inner/f; echo; awk '$5 ~ /^\\/stack/ {print $5}' /proc/self/mountinfo",
    );
    out.ok();
    assert_eq!(out.out(), "inner\n/stack\n/stack/inner", "{out:?}");
}

#[test]
fn linux_devices_are_created() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|s| {
        s["linux"]["devices"] = serde_json::json!([
            { "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
              "fileMode": 438, "uid": 0, "gid": 0 },
            { "path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5,
              "fileMode": 416, "uid": 1000, "gid": 1000 }
        ]);
    });
    let out = env.sh(
        &mut b,
        "stat -c '%F %t:%T %a %u:%g' /dev/mynull /dev/sub/myzero; echo hi > /dev/mynull && echo write-ok",
    );
    out.ok();
    assert_eq!(
        out.out(),
        "character special file 1:3 666 0:0\ncharacter special file 1:5 640 1000:1000\nwrite-ok",
        "{out:?}"
    );
}

#[test]
fn missing_executable_is_an_error() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.args(&["/no/such/binary"]);
    let id = env.id("nx");
    // runtime.md: if the process cannot be started the runtime MUST
    // generate an error (at create or at start).
    let c = env.create(&id, &b);
    if c.success() {
        env.start(&id).fails();
    }
    let out = env.run_once(&b);
    out.fails();
}

#[test]
fn kill_accepts_signal_names_and_numbers() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh(
        "trap 'echo usr1 >> /sigs' USR1; trap 'echo usr2 >> /sigs' USR2; \
          touch /ready; while true; do sleep 0.05; done",
    );
    let id = env.id("sig");
    env.create_start(&id, &b);
    let ready = b.rootfs().join("ready");
    assert!(TestEnv::wait_for(10 * SEC, || ready.exists()));
    let sigs = b.rootfs().join("sigs");
    let got = |n: usize| {
        TestEnv::wait_for(10 * SEC, || {
            std::fs::read_to_string(&sigs)
                .map(|s| s.lines().count() >= n)
                .unwrap_or(false)
        })
    };
    env.kill(&id, "SIGUSR1").ok();
    assert!(got(1), "SIGUSR1 not delivered");
    env.kill(&id, "12").ok(); // SIGUSR2 on x86_64/arm64
    assert!(got(2), "signal 12 not delivered");
    env.kill(&id, "USR1").ok();
    assert!(got(3), "USR1 not delivered");
    assert_eq!(
        std::fs::read_to_string(&sigs).unwrap(),
        "usr1\nusr2\nusr1\n"
    );
    env.kill(&id, "KILL").ok();
    env.wait_status(&id, "stopped", 10 * SEC);
    env.delete(&id).ok();
}

#[test]
fn delete_force_removes_created_container() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("dfc");
    env.create(&id, &b).ok();
    let pid = env.pid(&id);
    env.delete_force(&id).ok();
    assert!(env.state(&id).is_err());
    assert!(TestEnv::wait_for(5 * SEC, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split(' ').nth(2) == Some("Z"))
            .unwrap_or(true)
    }));
}
