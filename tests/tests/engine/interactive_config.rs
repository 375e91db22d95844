use super::*;

#[test]
fn attach_and_interactive_stdin() {
    let e = engine!();
    let img = e.img().to_string();
    let o = e.cmd_stdin(&["run", "-i", "--rm", &img, "cat"], b"hi\n");
    assert_eq!((o.code, o.stdout.as_str()), (0, "hi\n"), "{o:?}");
    // without -i the container gets no stdin
    let o = e.cmd_stdin(&["run", "--rm", &img, "cat"], b"hi\n");
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
    let o = e.cmd_stdin(
        &[
            "run",
            "-i",
            "--rm",
            &img,
            "sh",
            "-c",
            "read a; read b; echo $b $a; exit 9",
        ],
        b"one\ntwo\n",
    );
    assert_eq!((o.code, o.stdout.as_str()), (9, "two one\n"), "{o:?}");

    let n = e.name("att");
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &n,
        &img,
        "sh",
        "-c",
        "while read l; do echo got $l; done; echo eof",
    ]);
    let mut a = e.spawn(&["attach", &n], true);
    std::thread::sleep(Duration::from_millis(500));
    a.write_stdin(b"hello\n");
    a.wait_stdout(Duration::from_secs(10), "got hello", |s| {
        s.contains("got hello")
    });
    a.write_stdin(b"again\n");
    a.wait_stdout(Duration::from_secs(10), "got again", |s| {
        s.contains("got again")
    });
    a.kill();
    assert_eq!(
        e.status(&n).as_deref(),
        Some("running"),
        "killing attach leaves the container running"
    );
    let logs = e.ok(&["logs", &n]);
    assert_eq!(logs, "got hello\ngot again\n");
}

#[test]
fn image_config_semantics() {
    let e = engine!();
    let (img, image_has_stopsignal) = e.config_image();
    // ENTRYPOINT + CMD, CMD replaced by arguments
    assert_eq!(e.ok(&["run", "--rm", &img]), "ep default\n");
    assert_eq!(e.ok(&["run", "--rm", &img, "x", "y"]), "ep x y\n");
    // Env, WorkingDir, User (by name, from the image's /etc/passwd)
    let o = e.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "echo $A $B; pwd; id -un; id -u; id -g",
    ]);
    assert_eq!(o, "1 two\n/w\napp\n1000\n1000\n");
    // flags override the image
    let o = e.ok(&[
        "run",
        "--rm",
        "-e",
        "A=9",
        "-w",
        "/tmp",
        "-u",
        "root",
        "--entrypoint",
        "sh",
        &img,
        "-c",
        "echo $A $B; pwd; id -un",
    ]);
    assert_eq!(o, "9 two\n/tmp\nroot\n");
    let o = e.ok(&[
        "run",
        "--rm",
        "-u",
        "1000:65534",
        "--entrypoint",
        "id",
        &img,
    ]);
    assert!(o.starts_with("uid=1000(app) gid=65534(nogroup)"), "{o:?}");

    // STOPSIGNAL SIGUSR1 is what stop sends (from the image, or from
    // --stop-signal where the daemon cannot import it).
    let n = e.name("sig");
    let mut args = vec!["run", "-d", "--name", &n, "--entrypoint", "sh"];
    if !image_has_stopsignal {
        eprintln!("NOTE: STOPSIGNAL not importable here, using --stop-signal");
        args.extend(["--stop-signal", "SIGUSR1"]);
    }
    args.extend([
        img.as_str(),
        "-c",
        "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    e.ok(&args);
    assert_eq!(e.inspect_f(&n, "{{.Config.StopSignal}}"), "SIGUSR1");
    let start = Instant::now();
    while !e.ok(&["logs", &n]).contains("ready") {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(100));
    }
    e.ok(&["stop", "-t", "10", &n]);
    assert_eq!(e.inspect_f(&n, "{{.State.ExitCode}}"), "3");
    assert!(e.ok(&["logs", &n]).contains("got USR1"));

    // VOLUME /data gives an anonymous volume
    let m = e.inspect(&n)["Mounts"].clone();
    let m = m.as_array().cloned().unwrap_or_default();
    assert!(
        m.iter().any(|m| m["Destination"] == "/data"
            && m["Type"] == "volume"
            && is_hex64(m["Name"].as_str().unwrap_or(""))),
        "{m:?}"
    );
    assert_eq!(
        e.inspect_f(&n, "{{index .Config.Labels \"made-by\"}}"),
        "berth-e2e"
    );
    e.ok(&["rm", "-v", &n]);
}

#[test]
fn init_and_ulimit() {
    let e = engine!();
    let img = e.img().to_string();
    let ps = e.ok(&["run", "--rm", "--init", &img, "ps", "-o", "pid,comm"]);
    let pid1 = ps
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no pid 1 in {ps}"));
    let comm = pid1.split_whitespace().nth(1).unwrap_or("");
    assert!(
        comm.contains("init") || comm.contains("tini"),
        "pid 1 is an init: {ps}"
    );
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().nth(1) == Some("ps")),
        "{ps}"
    );
    // --init forwards signals and reaps: exit code of the child
    let o = e.cmd(&["run", "--rm", "--init", &img, "sh", "-c", "exit 6"]);
    assert_eq!(o.code, 6, "{o:?}");
    // no --init: the command is pid 1
    let ps = e.ok(&["run", "--rm", &img, "ps", "-o", "pid,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "ps"]),
        "{ps}"
    );

    let o = e.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:2048",
        &img,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(o, "1024\n2048\n");
    let o = e.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=512",
        &img,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(o, "512\n512\n");
}

#[test]
fn hostname_workdir_env_labels() {
    let e = engine!();
    let img = e.img().to_string();
    let envf = e.path().join("env.list");
    std::fs::write(&envf, "# comment\nY=2\nZ=with space\n").unwrap();
    let n = e.name("cfg");
    let lv = format!("k={}", e.name("v"));
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--hostname",
        "h",
        "-w",
        "/work/dir",
        "-e",
        "X=1",
        "--env-file",
        envf.to_str().unwrap(),
        "--label",
        &lv,
        &img,
        "sleep",
        "100000",
    ]);
    assert_eq!(e.ok(&["exec", &n, "hostname"]), "h\n");
    assert_eq!(e.ok(&["exec", &n, "cat", "/etc/hostname"]), "h\n");
    assert_eq!(
        e.ok(&["exec", &n, "pwd"]),
        "/work/dir\n",
        "-w creates the directory"
    );
    assert_eq!(
        e.ok(&["exec", &n, "sh", "-c", "echo $X $Y $Z"]),
        "1 2 with space\n"
    );
    assert_eq!(
        e.inspect_f(&n, "{{.Config.Hostname}} {{.Config.WorkingDir}}"),
        "h /work/dir"
    );
    let env = e.inspect_f(&n, "{{json .Config.Env}}");
    for want in ["\"X=1\"", "\"Y=2\"", "\"Z=with space\""] {
        assert!(env.contains(want), "{env}");
    }
    assert_eq!(e.inspect_f(&n, "{{.Config.Labels.k}}"), e.name("v"));
    let f = format!("label={lv}");
    assert_eq!(
        e.ok(&["ps", "--filter", &f, "--format", "{{.Names}}"])
            .trim(),
        n
    );
    let f2 = format!("label=k={}", e.name("other"));
    assert_eq!(
        e.ok(&["ps", "--filter", &f2, "--format", "{{.Names}}"])
            .trim(),
        ""
    );
    assert_eq!(
        e.ok(&["ps", "--filter", &f, "--format", "{{.Label \"k\"}}"])
            .trim(),
        e.name("v")
    );
}
