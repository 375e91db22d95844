//! berth-runtime as a drop-in for runc: the behaviours runc's own integration suite
//! (opencontainers/runc tests/integration, v1.1.5) and the engines built on runc depend on,
//! beyond what the OCI spec says. Each test is validated against runc:
//!   BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test runc_compat

use berth_e2e::{test_env, Bundle, TestEnv};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

/// The capabilities of `runc spec`: none that reaches past file permissions.
fn runc_caps(b: &mut Bundle) {
    for set in ["bounding", "effective", "permitted"] {
        b.caps(
            set,
            &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        );
    }
}

/// A running container whose process sleeps.
fn sleeper(env: &TestEnv, name: &str) -> (String, Bundle) {
    let mut b = env.bundle(name);
    b.args(&["sleep", "1000"]);
    let id = env.id(name);
    env.create_start(&id, &b);
    (id, b)
}

fn v1_controller_dir(controller: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new("/sys/fs/cgroup").join(controller);
    p.join("tasks").exists().then_some(p)
}

// ------------------------------------------------------------ command line

#[test]
fn version_has_commit_and_spec_lines() {
    let env = test_env!();
    // dockerd splits the first line at "version" and reads the commit line (`docker info`).
    let out = env.rt(&["-v"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains(" version "), "{out:?}");
    assert!(lines[1].starts_with("commit:"), "{out:?}");
    let spec = lines[2].strip_prefix("spec: ").expect("spec: line");
    assert_eq!(spec.split('.').count(), 3, "{out:?}");
}

#[test]
fn unknown_command_has_no_help_topic() {
    let env = test_env!();
    for args in [&["foo", "-h"][..], &["help", "foo"]] {
        let out = env.rt(args);
        out.fails();
        assert!(out.stderr.contains("No help topic for 'foo'"), "{out:?}");
    }
}

#[test]
fn debug_goes_to_stderr_or_the_log_file() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.args(&["true"]);
    b.write();
    let bs = b.dir.to_str().unwrap();
    let out = env.rt(&["--debug", "run", "--bundle", bs, &env.id("d1")]);
    out.ok();
    assert!(out.stderr.contains("level=debug"), "{out:?}");
    let log = env.path().join("debug.log");
    let ls = log.to_str().unwrap();
    let out = env.rt(&["--debug", "--log", ls, "--log-format", "json"]
        .iter()
        .copied()
        .chain(["run", "--bundle", bs, &env.id("d2")])
        .collect::<Vec<_>>());
    out.ok();
    assert!(!out.stderr.contains("level=debug"), "{out:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(r#""level":"debug""#), "{text}");
}

#[test]
fn delete_force_of_a_missing_container_succeeds() {
    let env = test_env!();
    env.rt(&["delete", "--force", "never-created"]).ok();
    env.rt(&["delete", "never-created"]).fails();
}

#[test]
fn kill_with_signal_zero_checks_the_container() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "k0");
    env.kill(&id, "0").ok();
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    env.kill(&id, "KILL").ok();
    env.wait_status(&id, "stopped", 10 * SEC);
    env.delete(&id).ok();
}

#[test]
fn list_json_and_events_in_runc_field_order() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "lj");
    // Scripts (and runc's suite) match the text, not just the JSON.
    let out = env.rt(&["list", "--format", "json"]);
    out.ok();
    assert!(out.stdout.starts_with(r#"[{"ociVersion":"#), "{out:?}");
    let fields = [r#""id":"#, r#""pid":"#, r#""status":"#, r#""bundle":"#];
    let pos: Vec<usize> = fields
        .iter()
        .map(|f| {
            out.stdout
                .find(f)
                .unwrap_or_else(|| panic!("{f} in {out:?}"))
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{out:?}");
    let out = env.rt(&["events", "--stats", &id]);
    out.ok();
    let want = format!(r#"{{"type":"stats","id":"{id}","data":"#);
    assert!(out.stdout.starts_with(&want), "{out:?}");
}

#[test]
fn events_stats_say_nothing_of_oom() {
    let env = test_env!();
    // runc's events.bats waits for `grep oom` in the event stream and then kills the
    // container: a stats line that mentions OOM would pass for the OOM event itself.
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"])
        .edit(|s| s["linux"]["resources"] = serde_json::json!({"memory": {"limit": 33554432}}));
    let id = env.id("st");
    env.create_start(&id, &b).ok();
    let out = env.rt(&["events", "--stats", &id]);
    out.ok();
    let line: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(
        line["data"]["memory"]["usage"]["limit"], 33554432,
        "{out:?}"
    );
    assert!(!out.stdout.to_lowercase().contains("oom"), "{out:?}");
    env.delete_force(&id).ok();
}

// ------------------------------------------------------------ exec

#[test]
fn exec_failures_exit_255() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "e255");
    assert_eq!(env.exec(&id, &["sh", "-c", "exit 42"]).code, 42);
    assert_eq!(env.exec(&id, &["no-such-binary"]).code, 255);
    assert_eq!(env.exec("no-such-container", &["true"]).code, 255);
}

#[test]
fn exec_in_a_paused_container_needs_ignore_paused() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "ep");
    env.rt(&["pause", &id]).ok();
    let out = env.exec(&id, &["echo", "ok"]);
    assert_eq!(out.code, 255, "{out:?}");
    assert!(
        out.stderr.contains("cannot exec in a paused container"),
        "{out:?}"
    );
    // With --ignore-paused the process starts once the container is resumed.
    let mut resume = std::process::Command::new(&env.rt.bin);
    resume.arg("--root").arg(&env.root).args(["resume", &id]);
    let resumer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        resume.status().unwrap()
    });
    let out = env.exec_with(&id, &["--ignore-paused"], &["echo", "ok"]);
    assert!(resumer.join().unwrap().success());
    out.ok();
    assert_eq!(out.out(), "ok");
}

#[test]
fn exec_process_file_without_user_runs_as_root() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "epu");
    let p = env.path().join("process.json");
    std::fs::write(&p, r#"{"args":["/bin/id","-u"],"cwd":"/"}"#).unwrap();
    let out = env.exec_with(&id, &["--process", p.to_str().unwrap()], &[]);
    out.ok();
    assert_eq!(out.out(), "0");
}

#[test]
fn exec_process_file_can_be_a_pipe() {
    let env = test_env!();
    let (id, _b) = sleeper(&env, "epp");
    // `exec -p <(...)`: the process file can be read only once
    let fifo = env.path().join("process.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let f = fifo.clone();
    let writer = std::thread::spawn(move || {
        std::fs::write(f, r#"{"args":["/bin/echo","piped"],"cwd":"/"}"#).unwrap();
    });
    let out = env.rt_with(
        &["exec", "--process", fifo.to_str().unwrap(), &id],
        berth_e2e::cmd::Stdin::Null,
        10 * SEC,
    );
    writer.join().unwrap();
    out.ok();
    assert_eq!(out.out(), "piped");
}

#[test]
fn exec_into_sub_cgroups() {
    let env = test_env!();
    if v1_controller_dir("memory").is_none() {
        eprintln!("SKIP: needs the cgroup v1 memory hierarchy");
        return;
    }
    let (id, _b) = sleeper(&env, "ecg");
    let cg = |line: &str| line.rsplit(':').next().unwrap_or("").to_string();
    let own = env.exec(&id, &["cat", "/proc/self/cgroup"]);
    own.ok();
    let mem_line = own.stdout.lines().find(|l| l.contains(":memory:")).unwrap();
    let base = cg(mem_line);
    let host = std::path::Path::new("/sys/fs/cgroup/memory").join(base.trim_start_matches('/'));
    std::fs::create_dir(host.join("sub")).unwrap();
    let out = env.exec_with(
        &id,
        &["--cgroup", "memory:sub"],
        &["cat", "/proc/self/cgroup"],
    );
    out.ok();
    let mem = out.stdout.lines().find(|l| l.contains(":memory:")).unwrap();
    assert_eq!(cg(mem), format!("{base}/sub"), "{out:?}");
    let out = env.exec_with(&id, &["--cgroup", ".."], &["true"]);
    assert!(
        out.stderr.contains(".. is not a sub cgroup path"),
        "{out:?}"
    );
    let out = env.exec_with(&id, &["--cgroup", "nope"], &["true"]);
    assert!(
        out.stderr.contains("/nope/cgroup.procs: no such file"),
        "{out:?}"
    );
    let out = env.exec_with(&id, &["--cgroup", "whaaat:/"], &["true"]);
    assert!(out.stderr.contains("unknown controller"), "{out:?}");
    env.kill(&id, "KILL").ok();
    env.wait_status(&id, "stopped", 10 * SEC);
    env.delete(&id).ok();
}

#[test]
fn cwd_is_entered_before_the_user_is_switched() {
    let env = test_env!();
    let mut b = env.bundle("b");
    // /root: root's only; the process runs as uid 42 without any capability over files.
    std::fs::set_permissions(
        b.rootfs().join("root"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    runc_caps(&mut b);
    b.user(42, 42).cwd("/root").args(&["ls", "/tmp"]);
    env.run_once(&b).ok();
    // exec as root into a container whose cwd only its user can enter
    let mut b = env.bundle("b2");
    nix::unistd::chown(&b.rootfs().join("root"), Some(42.into()), None).unwrap();
    std::fs::set_permissions(
        b.rootfs().join("root"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    runc_caps(&mut b);
    b.user(42, 42).cwd("/root").args(&["sleep", "1000"]);
    let id = env.id("cwd");
    env.create_start(&id, &b);
    env.exec_with(&id, &["--user", "0"], &["true"]).ok();
}

// ------------------------------------------------------------ resources and devices

#[test]
fn update_takes_runc_flags() {
    let env = test_env!();
    if v1_controller_dir("memory").is_none() {
        eprintln!("SKIP: needs cgroup v1");
        return;
    }
    let (id, _b) = sleeper(&env, "upd");
    let pid = env.pid(&id);
    let cat = |f: &str| {
        let (ctrl, file) = f.split_once('/').unwrap();
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let rel = cg
            .lines()
            .find(|l| l.split(':').nth(1).unwrap().split(',').any(|c| c == ctrl))
            .and_then(|l| l.rsplit(':').next())
            .unwrap()
            .to_string();
        let dir = v1_controller_dir(ctrl)
            .unwrap()
            .join(rel.trim_start_matches('/'));
        std::fs::read_to_string(dir.join(file))
            .unwrap()
            .trim()
            .to_string()
    };
    let up = |args: &[&str]| {
        let mut a = vec!["update"];
        a.extend_from_slice(args);
        a.push(&id);
        env.rt(&a).ok();
    };
    up(&["--memory", "50M", "--memory-reservation", "32M"]);
    assert_eq!(
        cat("memory/memory.limit_in_bytes"),
        (50u64 << 20).to_string()
    );
    assert_eq!(
        cat("memory/memory.soft_limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        up(&["--memory-swap", "96M"]);
        assert_eq!(
            cat("memory/memory.memsw.limit_in_bytes"),
            (96u64 << 20).to_string()
        );
    }
    up(&["--cpu-period", "900000", "--cpu-quota", "600000"]);
    assert_eq!(cat("cpu/cpu.cfs_quota_us"), "600000");
    up(&["--cpu-quota", "-1"]);
    assert_eq!(cat("cpu/cpu.cfs_quota_us"), "-1");
    up(&["--cpuset-cpus", "0", "--cpuset-mems", "0"]);
    assert_eq!(cat("cpuset/cpuset.cpus"), "0");
    // deprecated, accepted and ignored as by runc
    up(&["--kernel-memory", "100M"]);
}

#[test]
fn device_rules_follow_runc() {
    let env = test_env!();
    let mut b = env.bundle("b");
    // Deny all, /dev/kmsg created but not allowed; a deny rule with runc's "rwa" access; a fifo
    // in linux.devices (the device cgroup has no say over fifos).
    b.edit(|s| {
        s["linux"]["resources"] = serde_json::json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwa"}
        ]});
        s["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11},
            {"path": "/dev/myfifo", "type": "p"}
        ]);
    });
    for set in ["bounding", "effective", "permitted"] {
        b.caps(set, &["CAP_SYSLOG"]);
    }
    let out = env.sh(
        &mut b,
        "test -p /dev/myfifo && echo fifo; head -c1 /dev/kmsg >/dev/null && echo kmsg; echo x > /dev/null && echo null",
    );
    out.ok();
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["fifo", "null"],
        "{out:?}"
    );
}

#[test]
fn read_only_dev_gets_its_nodes_first() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|s| {
        for m in s["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push("ro".into());
            }
        }
    });
    let out = env.sh(
        &mut b,
        "grep '^tmpfs /dev ' /proc/mounts; test -c /dev/null && echo null",
    );
    out.ok();
    assert!(out.stdout.contains(" ro,"), "{out:?}");
    assert!(out.stdout.contains("null"), "{out:?}");
}

#[test]
fn warns_about_a_shared_non_empty_cgroup_and_refuses_unified_on_v1() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let cgpath = format!("/berth-e2e-{}", env.id("cg"));
    b.edit(|s| s["linux"]["cgroupsPath"] = cgpath.clone().into());
    let first = env.id("cg1");
    env.create_start(&first, &b);
    let second = env.id("cg2");
    let out = env.create(&second, &b);
    out.ok();
    assert!(
        out.stderr.contains("container's cgroup is not empty"),
        "{out:?}"
    );
    env.delete_force(&second).ok();
    env.delete_force(&first).ok();
    if v1_controller_dir("memory").is_some() {
        let mut b = env.bundle("u");
        b.edit(|s| {
            s["linux"]["resources"] = serde_json::json!({"unified": {"memory.min": "131072"}})
        });
        let out = env.run_once(&b);
        out.fails();
        assert!(out.stderr.contains("invalid configuration"), "{out:?}");
    }
}

/// `delete --force` of a container whose cgroup another container shares (the teardown of
/// runc's cgroups.bats): it kills its own init only, the cgroup that cannot go yet is a
/// warning, and the delete succeeds, running or stopped. berth-runtime killed the other
/// container too, and with a stopped one waited 10 s per hierarchy, then failed.
#[test]
fn delete_force_spares_the_other_container_of_a_shared_cgroup() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.args(&["sleep", "1000"]);
    let cgpath = format!("/berth-e2e-{}", env.id("shared"));
    b.edit(|s| s["linux"]["cgroupsPath"] = cgpath.clone().into());
    let (first, second) = (env.id("sh1"), env.id("sh2"));
    env.create_start(&first, &b).ok();
    env.create_start(&second, &b).ok();
    env.delete_force(&first).ok();
    assert_eq!(env.status(&second).as_deref(), Some("running"));
    b.args(&["true"]);
    let done = env.id("sh3");
    env.create_start(&done, &b).ok();
    env.wait_status(&done, "stopped", Duration::from_secs(10));
    env.delete_force(&done).ok();
    assert_eq!(env.status(&second).as_deref(), Some("running"));
    env.delete_force(&second).ok();
}

// ------------------------------------------------------------ hooks, namespaces, mounts

#[test]
fn hooks_run_where_runc_runs_them() {
    let env = test_env!();
    let mut b = env.bundle("b");
    let log = env.path().join("hooks.log");
    let l = log.to_str().unwrap();
    for stage in ["createRuntime", "createContainer", "poststart"] {
        b.hook(
            stage,
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {stage} $(pwd) >> {l}")]}),
        );
    }
    // hooks the init runs inherit nothing but stdio (the runtime's own fds stay closed)
    b.hook(
        "startContainer",
        serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "ls /proc/self/fd | wc -l > /fds"]}),
    );
    b.args(&["true"]);
    env.run_once(&b).ok();
    let fds = std::fs::read_to_string(b.rootfs().join("fds")).unwrap();
    assert_eq!(fds.trim(), "4", "0-2 and ls's own directory fd");
    let text = std::fs::read_to_string(&log).unwrap();
    let bundle = b.dir.canonicalize().unwrap();
    let rootfs = b.rootfs().canonicalize().unwrap();
    assert!(
        text.contains(&format!("createRuntime {}\n", bundle.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("createContainer {}\n", rootfs.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("poststart {}\n", bundle.display())),
        "{text}"
    );
}

#[test]
fn a_failed_hook_is_reported_in_runcs_words() {
    let env = test_env!();
    // runc's seccomp.bats: the startContainer hook runs under the container's seccomp filter
    // (with noNewPrivileges), and the failure names the hook and the signal as runc does.
    let mut b = env.bundle("b");
    b.args(&["true"]).no_new_privileges(true).edit(|s| {
        s["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]
        })
    });
    b.hook(
        "startContainer",
        serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/foo"]}),
    );
    let out = env.run_once(&b);
    out.fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("error running hook #0"), "{out:?}");
    assert!(all.contains("bad system call"), "{out:?}");
    // an exit status in Go's words
    let mut b = env.bundle("c");
    b.args(&["true"])
        .hook("prestart", serde_json::json!({"path": "/bin/false"}));
    let out = env.run_once(&b);
    out.fails();
    assert!(out.stderr.contains("exit status 1"), "{out:?}");
}

#[test]
fn user_namespace_binds_sources_its_root_cannot_reach() {
    let env = test_env!();
    let mut b = env.bundle("b");
    let src = b.dir.join("private");
    std::fs::create_dir_all(src.join("dir")).unwrap();
    std::fs::write(src.join("dir/foo.txt"), "hi").unwrap();
    std::fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // the mapped root cannot create a mount point in the host-owned rootfs
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    b.namespace("user", None)
        .uid_mapping(0, 100000, 65536)
        .gid_mapping(0, 100000, 65536)
        .bind("/mnt", &src.join("dir"), &["bind"]);
    let out = env.sh(&mut b, "cat /mnt/foo.txt");
    out.ok();
    assert_eq!(out.out(), "hi");
    // a source that does not exist says so
    let mut b2 = env.bundle("b2");
    let missing = b2.dir.join("missing");
    std::fs::create_dir_all(b2.rootfs().join("mnt")).unwrap();
    b2.namespace("user", None)
        .uid_mapping(0, 100000, 65536)
        .gid_mapping(0, 100000, 65536)
        .bind("/mnt", &missing, &["bind"]);
    let out = env.sh(&mut b2, "true");
    out.fails();
    assert!(
        out.stderr.to_lowercase().contains("no such file"),
        "{out:?}"
    );
}

#[test]
fn hostname_in_a_uts_namespace_joined_by_path() {
    let env = test_env!();
    let holder = env.spawn_host("unshare", &["--uts", "sleep", "1000"]);
    let ns = format!("/proc/{holder}/ns/uts");
    assert!(TestEnv::wait_for(5 * SEC, || {
        std::fs::read_link(&ns).ok() != std::fs::read_link("/proc/self/ns/uts").ok()
    }));
    let mut b = env.bundle("b");
    b.remove_namespace("uts")
        .namespace("uts", Some(&ns))
        .hostname("joined-host");
    let out = env.sh(&mut b, "hostname");
    out.ok();
    assert_eq!(out.out(), "joined-host");
}

#[test]
fn no_mount_namespace_shares_the_runtimes() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.remove_namespace("mount").args(&["sleep", "1000"]);
    b.edit(|s| {
        let linux = s["linux"].as_object_mut().unwrap();
        linux.remove("maskedPaths");
        linux.remove("readonlyPaths");
    });
    std::fs::write(b.rootfs().join("marker"), "inside").unwrap();
    let id = env.id("shared");
    env.create_start(&id, &b).ok();
    let pid = env.pid(&id);
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/mnt")).unwrap();
    assert_eq!(
        ns(&pid.to_string()),
        ns("self"),
        "the runtime's mount namespace"
    );
    let rootfs = b.rootfs().canonicalize().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        rootfs
    );
    // its mounts are in our namespace, below its rootfs only
    let proc_mount = rootfs.join("proc").to_string_lossy().into_owned();
    assert!(berth_e2e::env::mount_points().contains(&proc_mount));
    if env.rt.is_berth() {
        // exec'd processes are in the container's root too (runc 1.1.5: in the runtime's)
        let out = env.exec(&id, &["cat", "/marker"]);
        out.ok();
        assert_eq!(out.out(), "inside");
    }
    env.delete_force(&id).ok();
    if env.rt.is_berth() {
        // nothing left mounted on the host (runc 1.1.5 leaves the container's mounts there)
        let left: Vec<String> = berth_e2e::env::mount_points()
            .into_iter()
            .filter(|m| m.starts_with(rootfs.to_str().unwrap()))
            .collect();
        assert!(left.is_empty(), "left mounted: {left:?}");
    }
    // what only a mount namespace of its own can do is refused, in runc's words
    let mut b = env.bundle("masked");
    b.remove_namespace("mount").args(&["true"]);
    let out = env.run_once(&b);
    out.fails();
    assert!(
        out.stderr
            .contains("unable to restrict sys entries without a private MNT namespace"),
        "{out:?}"
    );
}

// ------------------------------------------------------------ seccomp user notification

/// A seccomp agent as runc's contrib/cmd/seccompagent: takes one listener, answers mkdir
/// with ENOMEDIUM and lets every other notified syscall continue. Returns the state message.
fn seccomp_agent(sock: &std::path::Path) -> std::thread::JoinHandle<serde_json::Value> {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags, ScmpSyscall};
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg
                .cmsgs()
                .unwrap()
                .find_map(|c| match c {
                    ControlMessageOwned::ScmRights(f) => f.first().copied(),
                    _ => None,
                })
                .expect("a listener fd");
            (msg.bytes, fd)
        };
        let state: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        let mkdir = ScmpSyscall::from_name("mkdir").unwrap();
        while let Ok(req) = ScmpNotifReq::receive(fd) {
            let resp = if req.data.syscall == mkdir {
                ScmpNotifResp::new_error(req.id, -libc::ENOMEDIUM, ScmpNotifRespFlags::empty())
            } else {
                ScmpNotifResp::new_continue(req.id, ScmpNotifRespFlags::CONTINUE)
            };
            let _ = resp.respond(fd);
        }
        // SAFETY: the listener fd is ours, closed once.
        unsafe { libc::close(fd) };
        state
    })
}

fn notify_profile(b: &mut Bundle, sock: &std::path::Path, names: &[&str]) {
    b.edit(|s| {
        s["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "bar",
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}]
        })
    });
}

#[test]
fn seccomp_notify_hands_the_listener_to_the_agent() {
    let env = test_env!();
    for nnp in [false, true] {
        let sock = env.path().join(format!("agent-{nnp}.sock"));
        let agent = seccomp_agent(&sock);
        let mut b = env.bundle(&format!("b{nnp}"));
        // the process's own reads, closes and execve are notified too: the agent lets them go
        notify_profile(
            &mut b,
            &sock,
            &["mkdir", "execve", "openat", "read", "close"],
        );
        b.no_new_privileges(nnp);
        let out = env.sh(&mut b, "mkdir /tmp/x; echo done");
        out.ok();
        assert!(out.stderr.contains("No medium found"), "{out:?}");
        assert_eq!(out.out(), "done");
        let state = agent.join().unwrap();
        assert_eq!(state["fds"], serde_json::json!(["seccompFd"]), "{state}");
        assert_eq!(state["metadata"], "bar", "{state}");
        assert!(state["pid"].as_i64().unwrap() > 0, "{state}");
        assert!(state["state"]["id"].is_string(), "{state}");
    }
}

#[test]
fn seccomp_notify_needs_an_agent_and_spares_write() {
    let env = test_env!();
    let mut b = env.bundle("b");
    notify_profile(&mut b, &env.path().join("nobody.sock"), &["mkdir"]);
    let out = env.sh(&mut b, "true");
    out.fails();
    assert!(
        out.stderr.contains("failed to connect with seccomp agent"),
        "{out:?}"
    );
    notify_profile(&mut b, &env.path().join("nobody.sock"), &["write"]);
    let out = env.sh(&mut b, "true");
    out.fails();
    assert!(
        out.stderr
            .contains("SCMP_ACT_NOTIFY cannot be used for the write syscall"),
        "{out:?}"
    );
}

// ------------------------------------------------------------ runc's wording for refusals

/// A freezer cgroup made (and frozen) by the test; thawed and removed at drop.
struct FrozenCgroup(std::path::PathBuf);

impl Drop for FrozenCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn refusals_use_runcs_words() {
    let env = test_env!();
    // proc on a symlink
    let mut b = env.bundle("b");
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/symlink", b.rootfs().join("proc")).unwrap();
    let out = env.sh(&mut b, "true");
    out.fails();
    assert!(
        out.stderr.contains("must be mounted on ordinary directory"),
        "{out:?}"
    );
    // a cgroup frozen before the container starts
    let Some(freezer) = v1_controller_dir("freezer") else {
        eprintln!("SKIP: needs the cgroup v1 freezer");
        return;
    };
    let rel = format!("berth-e2e-frozen-{}", env.id("f"));
    let cg = FrozenCgroup(freezer.join(&rel));
    std::fs::create_dir(&cg.0).unwrap();
    std::fs::write(cg.0.join("freezer.state"), "FROZEN").unwrap();
    let mut b = env.bundle("f");
    b.edit(|s| s["linux"]["cgroupsPath"] = format!("/{rel}").into());
    let out = env.sh(&mut b, "true");
    out.fails();
    assert!(
        out.stderr
            .contains("container's cgroup unexpectedly frozen"),
        "{out:?}"
    );
    // nothing of the container's is left in the other hierarchies
    let left: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|c| c.path().join(&rel))
        .filter(|p| p.exists() && *p != cg.0)
        .collect();
    for p in &left {
        let _ = std::fs::remove_dir(p);
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}
