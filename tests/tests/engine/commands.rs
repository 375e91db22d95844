use super::*;

// ---------------------------------------------------------------------------
// 11. the other commands

#[test]
fn create_then_start_attached() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("cr");
    let id = e.ok(&[
        "create",
        "--name",
        &n,
        &img,
        "sh",
        "-c",
        "echo hi; echo ho >&2; exit 2",
    ]);
    assert!(is_hex64(id.trim()), "{id:?}");
    assert_eq!(e.status(&n).as_deref(), Some("created"));
    let st = e.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={n}"),
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(st.trim(), "Created");
    let o = e.cmd(&["start", "-a", &n]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (2, "hi\n", "ho\n"),
        "{o:?}"
    );
    assert_eq!(
        e.inspect_f(&n, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 2"
    );
    // start without -a prints the name and returns at once.
    assert_eq!(e.ok(&["start", &n]).trim(), n);
    assert_eq!(e.ok(&["wait", &n]).trim(), "2");
}

#[test]
fn restart_and_wait_and_kill_signal() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("trap");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        &img,
        "sh",
        "-c",
        "trap 'echo got USR1' USR1; trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    let wait_logs = |pred: &dyn Fn(&str) -> bool, what: &str| {
        let start = Instant::now();
        loop {
            let l = e.ok(&["logs", &n]);
            if pred(&l) {
                return l;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{what} not in logs: {l:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_logs(&|l| l.contains("ready"), "ready");
    assert_eq!(e.ok(&["kill", "-s", "USR1", &n]).trim(), n);
    wait_logs(&|l| l.contains("got USR1"), "got USR1");
    assert_eq!(e.status(&n).as_deref(), Some("running"));

    let started0 = e.inspect_f(&n, "{{.State.StartedAt}}");
    let pid0 = e.inspect_f(&n, "{{.State.Pid}}");
    assert_eq!(e.ok(&["restart", "-t", "5", &n]).trim(), n);
    assert_eq!(e.status(&n).as_deref(), Some("running"));
    assert_ne!(e.inspect_f(&n, "{{.State.StartedAt}}"), started0);
    assert_ne!(e.inspect_f(&n, "{{.State.Pid}}"), pid0);
    assert_eq!(
        e.inspect_f(&n, "{{.RestartCount}}"),
        "0",
        "a manual restart is not counted"
    );
    wait_logs(&|l| l.matches("ready").count() == 2, "second ready");

    // wait prints the exit code once it exits (TERM trap: exit 0).
    let mut w = e.spawn(&["wait", &n], false);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.try_code(), None, "wait returned while the container runs");
    e.ok(&["kill", "-s", "TERM", &n]);
    assert_eq!(w.wait_code(Duration::from_secs(10)), Some(0));
    assert_eq!(w.stdout().trim(), "0");

    let n2 = e.name("four");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n2,
        &img,
        "sh",
        "-c",
        "sleep 0.5; exit 4",
    ]);
    assert_eq!(e.ok(&["wait", &n2]).trim(), "4");

    // kill defaults to SIGKILL
    let n3 = run_sleeper(&e, "k", &[]);
    e.ok(&["kill", &n3]);
    e.wait_status(&n3, "exited", Duration::from_secs(10));
    assert_eq!(e.inspect_f(&n3, "{{.State.ExitCode}}"), "137");
    let o = e.cmd(&["kill", &n3]);
    assert_eq!(o.code, 1, "kill of a stopped container: {o:?}");
    assert!(o.stderr.contains("is not running"), "{o:?}");
}

#[test]
fn inspect_fields() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("insp");
    let vol = format!("{}:/v", e.name("iv"));
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--memory",
        "32m",
        "--restart",
        "on-failure:2",
        "-e",
        "FOO=bar",
        "-v",
        &vol,
        &img,
        "sleep",
        "100000",
    ]);
    let j = e.inspect(&n);
    assert!(is_hex64(j["Id"].as_str().unwrap()), "{j}");
    assert_eq!(
        j["Name"],
        format!("/{n}"),
        "Name has docker's leading slash"
    );
    let s = &j["State"];
    assert_eq!(s["Status"], "running", "{s}");
    assert_eq!(s["Running"], true, "{s}");
    assert_eq!(s["ExitCode"], 0, "{s}");
    assert_eq!(s["OOMKilled"], false, "{s}");
    assert!(s["Pid"].as_i64().unwrap() > 0, "{s}");
    assert!(pid_alive(s["Pid"].as_i64().unwrap() as i32));
    assert!(is_rfc3339(s["StartedAt"].as_str().unwrap()), "{s}");
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z", "{s}");
    let c = &j["Config"];
    assert_eq!(c["Image"], img.as_str(), "{c}");
    assert_eq!(c["Cmd"], serde_json::json!(["sleep", "100000"]), "{c}");
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&"FOO=bar"), "{env:?}");
    // The default PATH is added to the process, not to Config.Env.
    assert_eq!(env, ["FOO=bar"], "{env:?}");
    let h = &j["HostConfig"];
    assert_eq!(h["Memory"], 33554432, "{h}");
    assert_eq!(h["RestartPolicy"]["Name"], "on-failure", "{h}");
    assert_eq!(h["RestartPolicy"]["MaximumRetryCount"], 2, "{h}");
    let m = &j["Mounts"][0];
    assert_eq!(m["Type"], "volume", "{m}");
    assert_eq!(m["Name"], e.name("iv"), "{m}");
    assert_eq!(m["Destination"], "/v", "{m}");
    assert!(j["Image"].as_str().unwrap().starts_with("sha256:"), "{j}");

    e.ok(&["stop", "-t", "0", &n]);
    let j = e.inspect(&n);
    assert_eq!(j["State"]["Status"], "exited");
    assert_eq!(j["State"]["Running"], false);
    assert_eq!(j["State"]["Pid"], 0);
    assert!(is_rfc3339(j["State"]["FinishedAt"].as_str().unwrap()));
    assert_ne!(j["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    // inspect of several, -f with json
    let both = e.ok(&["inspect", "-f", "{{json .Config.Cmd}}", &n, &n]);
    assert_eq!(both, "[\"sleep\",\"100000\"]\n[\"sleep\",\"100000\"]\n");
}

#[test]
fn top_and_stats() {
    let e = engine!();
    let n = run_sleeper(&e, "top", &[]);
    let top = e.ok(&["top", &n]);
    let mut lines = top.lines();
    let header = header_columns(lines.next().unwrap_or(""));
    assert!(
        header.contains(&"PID".to_string()) && header.contains(&"CMD".to_string()),
        "{top}"
    );
    assert!(lines.any(|l| l.contains("sleep 100000")), "{top}");
    let pid = e.inspect_f(&n, "{{.State.Pid}}");
    assert!(top.contains(&pid), "top shows host pids: {top}");

    let st = e.ok(&["stats", "--no-stream", &n]);
    let mut lines = st.lines();
    assert_eq!(
        header_columns(lines.next().unwrap_or("")),
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{st}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(row.contains(&n), "{st}");
    let f = e.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        &n,
    ]);
    assert_eq!(f.trim(), format!("{n} 1"));
}

#[test]
fn pause_unpause() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("pz");
    e.ok(&["run", "-d", "--name", &n, &img, "sh", "-c", LOOP_LINES]);
    assert_eq!(e.ok(&["pause", &n]).trim(), n);
    assert_eq!(e.status(&n).as_deref(), Some("paused"));
    assert_eq!(
        e.inspect_f(&n, "{{.State.Paused}} {{.State.Running}}"),
        "true true"
    );
    let st = e.ok(&[
        "ps",
        "--filter",
        &format!("name={n}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(
        st.starts_with("Up ") && st.trim().ends_with("(Paused)"),
        "{st:?}"
    );
    let l1 = e.ok(&["logs", &n]).lines().count();
    std::thread::sleep(Duration::from_secs(1));
    let l2 = e.ok(&["logs", &n]).lines().count();
    assert_eq!(l1, l2, "a paused container prints nothing");
    let o = e.cmd(&["exec", &n, "true"]);
    assert_ne!(o.code, 0, "exec into a paused container: {o:?}");
    assert!(o.stderr.contains("paused"), "{o:?}");
    assert_eq!(e.ok(&["unpause", &n]).trim(), n);
    assert_eq!(e.status(&n).as_deref(), Some("running"));
    std::thread::sleep(Duration::from_millis(700));
    assert!(e.ok(&["logs", &n]).lines().count() > l2);
    let o = e.cmd(&["unpause", &n]);
    assert_eq!(o.code, 1, "unpause of a running container: {o:?}");
}

#[test]
fn rename_container() {
    let e = engine!();
    let a = run_sleeper(&e, "a", &[]);
    let b = e.name("b");
    assert_eq!(e.ok(&["rename", &a, &b]), "");
    assert_eq!(e.status(&b).as_deref(), Some("running"));
    let o = e.fails(&["inspect", &a]);
    assert!(o.stderr.contains("No such object"), "{o:?}");
    assert_eq!(e.inspect_f(&b, "{{.Name}}"), format!("/{b}"));
    // renaming onto a taken name fails
    let c = run_sleeper(&e, "c", &[]);
    let o = e.fails(&["rename", &c, &b]);
    assert!(o.stderr.contains("already in use"), "{o:?}");
}

#[test]
fn cp_both_ways() {
    let e = engine!();
    let img = e.img().to_string();
    let hf = e.path().join("hostfile");
    std::fs::write(&hf, "host content\n").unwrap();
    let hf = hf.to_str().unwrap().to_string();

    // into a created (never started) container
    let c = e.name("created");
    e.ok(&["create", "--name", &c, &img, "cat", "/tmp/hostfile"]);
    e.ok(&["cp", &hf, &format!("{c}:/tmp/")]);
    let o = e.cmd(&["start", "-a", &c]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "host content\n"), "{o:?}");

    // into and out of a running container
    let r = run_sleeper(&e, "running", &[]);
    e.ok(&["cp", &hf, &format!("{r}:/renamed")]);
    assert_eq!(e.ok(&["exec", &r, "cat", "/renamed"]), "host content\n");
    e.ok(&[
        "exec",
        &r,
        "sh",
        "-c",
        "mkdir -p /d/sub && echo deep > /d/sub/f",
    ]);
    let out = e.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let outs = out.to_str().unwrap();
    e.ok(&["cp", &format!("{r}:/etc/passwd"), outs]);
    let pw = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert!(pw.starts_with("root:x:0:0:"), "{pw:?}");
    e.ok(&["cp", &format!("{r}:/d"), outs]);
    assert_eq!(
        std::fs::read_to_string(out.join("d/sub/f")).unwrap(),
        "deep\n"
    );

    // to stdout as a tar stream
    let o = e.cmd(&["cp", &format!("{r}:/etc/passwd"), "-"]);
    assert_eq!(o.code, 0, "{o:?}");
    let raw = std::fs::read(&o.stdout_path).unwrap();
    assert!(
        raw.len() >= 1024 && raw.len() % 512 == 0,
        "a tar stream: {} bytes",
        raw.len()
    );
    let name = String::from_utf8_lossy(&raw[..100]);
    assert_eq!(name.trim_end_matches('\0'), "passwd");
    assert!(String::from_utf8_lossy(&raw).contains("app:x:1000:1000:"));

    // missing source
    let o = e.fails(&["cp", &format!("{r}:/nosuch"), outs]);
    assert!(
        o.stderr.contains("Could not find the file /nosuch"),
        "{o:?}"
    );
}

#[test]
fn diff_and_commit() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("chg");
    e.ok(&[
        "run",
        "--name",
        &n,
        &img,
        "sh",
        "-c",
        "touch /newfile; echo x > /etc/foo; rm /etc/group",
    ]);
    let d = e.ok(&["diff", &n]);
    let lines: Vec<&str> = d.lines().collect();
    for want in ["A /newfile", "C /etc", "A /etc/foo", "D /etc/group"] {
        assert!(lines.contains(&want), "diff lacks {want:?}:\n{d}");
    }
    assert!(
        !d.contains("/etc/hostname") && !d.contains("/etc/hosts"),
        "engine-made mount points are not changes:\n{d}"
    );

    let new = e.image_name("committed");
    let id = e.ok(&["commit", &n, &new]);
    assert!(id.trim().starts_with("sha256:"), "{id:?}");
    let o = e.ok(&[
        "run",
        "--rm",
        &new,
        "sh",
        "-c",
        "cat /etc/foo; ls /newfile; test -e /etc/group || echo nogroup",
    ]);
    assert_eq!(o, "x\n/newfile\nnogroup\n");
    // the committed image keeps the container's command
    let cmd = e.ok(&["image", "inspect", "-f", "{{json .Config.Cmd}}", &new]);
    assert!(cmd.contains("touch /newfile"), "{cmd}");
}

#[test]
fn container_prune() {
    let e = engine!();
    let img = e.img().to_string();
    let label = e.test_label();
    let a = e.name("exited");
    e.ok(&["run", "--label", &label, "--name", &a, &img, "true"]);
    let b = e.name("created");
    e.ok(&["create", "--label", &label, "--name", &b, &img, "true"]);
    let r = run_sleeper(&e, "up", &["--label", &label]);
    let mut args = vec!["container", "prune", "-f"];
    let f = format!("label={label}");
    if e.is_docker() {
        // the daemon is shared with other tests
        args.extend(["--filter", &f]);
    }
    let out = e.ok(&args);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(e.container_names(), vec![r]);
}

#[test]
fn info_version_system_df_prune() {
    let e = engine!();
    let img = e.img().to_string();
    let v = e.ok(&["version"]);
    assert!(v.contains("Client:") && v.contains("Version:"), "{v}");
    let cv = e.ok(&["version", "--format", "{{.Client.Version}}"]);
    assert!(!cv.trim().is_empty());

    let r = run_sleeper(&e, "up", &[]);
    let info = e.ok(&["info"]);
    for k in [
        "Containers:",
        "Running:",
        "Images:",
        "Server Version:",
        "Storage Driver:",
        "Cgroup Version:",
    ] {
        assert!(info.contains(k), "info lacks {k}:\n{info}");
    }
    let counts = e.ok(&[
        "info",
        "--format",
        "{{.Containers}} {{.ContainersRunning}} {{.Images}}",
    ]);
    let nums: Vec<u64> = counts
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 3, "{counts}");
    if e.is_berth() {
        assert_eq!(nums, [1, 1, 1], "{counts}");
    } else {
        assert!(nums[0] >= 1 && nums[1] >= 1 && nums[2] >= 1, "{counts}");
    }

    let df = e.ok(&["system", "df"]);
    let mut lines = df.lines();
    assert_eq!(
        header_columns(lines.next().unwrap_or("")),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{df}"
    );
    let types: Vec<String> = lines
        .map(|l| header_columns(l).first().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        ["Images", "Containers", "Local Volumes", "Build Cache"],
        "{df}"
    );

    let label = e.test_label();
    let x = e.name("exited");
    e.ok(&["run", "--label", &label, "--name", &x, &img, "true"]);
    let mut args = vec!["system", "prune", "-f"];
    let f = format!("label={label}");
    if e.is_docker() {
        args.extend(["--filter", &f]);
    }
    let out = e.ok(&args);
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(
        e.container_names(),
        vec![r],
        "system prune removes stopped containers only"
    );
    // the image used by a running container survives
    e.ok(&["image", "inspect", &img]);
}
