use super::*;

// ---------------------------------------------------------------------------
// 12. berth only: recovery after the engine's processes are SIGKILLed

#[test]
fn berth_recovers_after_sigkill_of_its_processes() {
    let e = engine!();
    berth_only!(e, "kills berth's own monitor processes");
    let img = e.img().to_string();
    let root = e.root.clone().unwrap();
    let up = run_sleeper(&e, "up", &[]);
    let ex = e.name("ex");
    e.ok(&["run", "-d", "--name", &ex, &img, "sh", "-c", "exit 7"]);
    e.wait_status(&ex, "exited", Duration::from_secs(10));
    let ids = [e.inspect_f(&up, "{{.Id}}"), e.inspect_f(&ex, "{{.Id}}")];
    let pid: i32 = e.inspect_f(&up, "{{.State.Pid}}").parse().unwrap();
    assert!(pid_alive(pid));

    let victims = pids_with_cmdline(root.to_str().unwrap());
    eprintln!("killing berth processes of {}: {victims:?}", root.display());
    for p in &victims {
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    std::thread::sleep(Duration::from_millis(300));

    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"]);
    let status_of = |name: &str| {
        ps.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}|")))
            .unwrap_or_else(|| panic!("{name} not listed after the kill:\n{ps}"))
            .to_string()
    };
    assert!(status_of(&ex).starts_with("Exited (7)"), "{ps}");
    let s = status_of(&up);
    if pid_alive(pid) {
        assert!(s.starts_with("Up"), "pid {pid} alive but status {s:?}");
        assert_eq!(e.inspect_f(&up, "{{.State.Status}}"), "running");
    } else {
        assert!(s.starts_with("Exited ("), "pid {pid} dead but status {s:?}");
        assert_eq!(e.inspect_f(&up, "{{.State.Status}}"), "exited");
    }

    e.ok(&["rm", "-f", &up, &ex]);
    assert!(
        !pid_alive(pid),
        "rm -f left the container's process {pid} running"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    let root_s = root.to_string_lossy().to_string();
    let left: Vec<String> = e
        .mounts_under_root()
        .into_iter()
        .filter(|m| m.starts_with(&root_s))
        .collect();
    assert!(left.is_empty(), "mounts left under the root: {left:?}");
    for ent in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for id in &ids {
            let d = ent.path().join("berth").join(id);
            assert!(!d.exists(), "cgroup left behind: {}", d.display());
        }
    }
}

#[test]
fn health_checks_and_log_rotation() {
    let e = engine!();
    let img = e.img().to_string();
    let ok = e.name("hok");
    let bad = e.name("hbad");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &ok,
        "--health-cmd",
        "echo fine",
        "--health-interval",
        "1s",
        &img,
        "sleep",
        "100000",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        &bad,
        "--health-cmd",
        "exit 3",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        &img,
        "sleep",
        "100000",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let a = e.inspect_f(&ok, "{{.State.Health.Status}}");
        let b = e.inspect_f(&bad, "{{.State.Health.Status}}");
        if a == "healthy" && b == "unhealthy" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "health never settled: {a} {b}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = e.inspect_f(&ok, "{{(index .State.Health.Log 0).Output}}");
    assert_eq!(out.trim(), "fine");
    let st = e.ok(&[
        "ps",
        "--filter",
        &format!("name={bad}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(st.trim().ends_with("(unhealthy)"), "{st:?}");

    // --log-opt max-size/max-file: docker's json-file rotation keeps at most max-file files
    let lg = e.name("rot");
    e.ok(&[
        "run",
        "--name",
        &lg,
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        &img,
        "sh",
        "-c",
        "for i in $(seq 1 400); do echo line-$i; done",
    ]);
    let path = e.inspect_f(&lg, "{{.LogPath}}");
    let path = path.trim();
    assert!(
        std::path::Path::new(&format!("{path}.1")).exists(),
        "rotated file"
    );
    assert!(
        !std::path::Path::new(&format!("{path}.2")).exists(),
        "max-file=2"
    );
    let logs = e.ok(&["logs", &lg]);
    assert!(logs.trim_end().ends_with("line-400"), "{logs:?}");
    assert!(
        !logs.contains("line-1\n"),
        "the oldest lines were rotated away"
    );
}
