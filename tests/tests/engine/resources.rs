use super::*;

// ---------------------------------------------------------------------------
// 4-7. resources

#[test]
fn memory_limit_oom_kill() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("oom");
    let o = e.cmd(&[
        "run",
        "--name",
        &n,
        "--memory",
        "64m",
        &img,
        "sh",
        "-c",
        "x=$(head -c 200m /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(o.code, 137, "{o:?}");
    assert!(!o.stdout.contains("survived"), "{o:?}");
    let mut oom = e.inspect_f(&n, "{{.State.OOMKilled}} {{.State.ExitCode}}");
    for _ in 0..20 {
        if oom != "false 137" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        oom = e.inspect_f(&n, "{{.State.OOMKilled}} {{.State.ExitCode}}");
    }
    if e.is_docker() && oom == "false 137" {
        // docker 20.10 on cgroup v1 races containerd's OOM event against
        // the exit event and loses under load; berth must not.
        eprintln!("SKIP (docker known flake): OOMKilled false after an OOM kill");
    } else {
        assert_eq!(oom, "true 137");
    }
    assert_eq!(e.inspect_f(&n, "{{.HostConfig.Memory}}"), "67108864");

    // Under the limit all is well, and OOMKilled is false.
    let n2 = e.name("fits");
    let o = e.cmd(&[
        "run",
        "--name",
        &n2,
        "--memory",
        "64m",
        &img,
        "sh",
        "-c",
        "x=$(head -c 8m /dev/zero | tr '\\0' a); echo ${#x}",
    ]);
    assert_eq!((o.code, o.out()), (0, "8388608"), "{o:?}");
    assert_eq!(e.inspect_f(&n2, "{{.State.OOMKilled}}"), "false");
}

#[test]
fn cpu_quota_half_a_core() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("cpu");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--cpus",
        "0.5",
        &img,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    assert_eq!(e.inspect_f(&n, "{{.HostConfig.NanoCpus}}"), "500000000");
    let pid: i32 = e.inspect_f(&n, "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    std::thread::sleep(Duration::from_millis(500));
    // The quota caps usage at 50 %; it only reaches 40 % when the host has
    // a spare core, so a sample taken while the host is saturated (other
    // tests running) is retried, and a low value with idle host CPU fails.
    let mut verdict = None;
    for attempt in 0..4 {
        let (pct, idle_cores) = sample_cpu(pid, Duration::from_secs(3));
        eprintln!("--cpus 0.5: measured {pct:.1}% of one core (host idle {idle_cores:.2} cores)");
        assert!(pct <= 60.0, "--cpus 0.5 used {pct:.1}% of one core");
        if pct >= 40.0 {
            verdict = Some(pct);
            break;
        }
        assert!(
            idle_cores < 0.3 || attempt < 3,
            "--cpus 0.5 used only {pct:.1}% of one core while {idle_cores:.2} cores were idle"
        );
    }
    if verdict.is_none() {
        eprintln!("NOTE: host saturated, lower bound of --cpus 0.5 not checked");
    }

    let stats = e.ok(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", &n]);
    eprintln!("stats CPUPerc: {}", stats.trim());
    assert!(stats.trim().ends_with('%'), "{stats:?}");
}

#[test]
fn pids_limit() {
    let e = engine!();
    let img = e.img().to_string();
    // ash gives up ("can't fork") at the first failing fork and exits 2.
    let o = e.cmd(&[
        "run",
        "--rm",
        "--pids-limit",
        "20",
        &img,
        "sh",
        "-c",
        "for i in $(seq 50); do sleep 5 & echo started $i; done; echo all",
    ]);
    assert!(
        !o.stdout.contains("all"),
        "50 processes under --pids-limit 20: {o:?}"
    );
    assert!(
        o.stderr.contains("can't fork") || o.stderr.contains("Resource temporarily unavailable"),
        "{o:?}"
    );
    let started: u32 = o
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("started "))
        .filter_map(|n| n.trim().parse().ok())
        .max()
        .unwrap_or(0);
    eprintln!("--pids-limit 20: {started} background jobs started");
    // sh itself is one of the 20.
    assert!((5..=19).contains(&started), "{started} jobs started: {o:?}");
}

#[test]
fn restart_on_failure_three_times() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("rs");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "--restart",
        "on-failure:3",
        &img,
        "sh",
        "-c",
        "echo run; exit 1",
    ]);
    e.wait_inspect(
        &n,
        "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
        Duration::from_secs(30),
        |s| s == "3 exited 1",
    );
    // and it stays there
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        e.inspect_f(&n, "{{.RestartCount}} {{.State.Status}}"),
        "3 exited"
    );
    assert_eq!(
        e.inspect_f(
            &n,
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure 3"
    );
    let logs = e.ok(&["logs", &n]);
    assert_eq!(
        logs.matches("run").count(),
        4,
        "1 run + 3 restarts: {logs:?}"
    );

    // on-failure does not restart a clean exit
    let n2 = e.name("rs0");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n2,
        "--restart",
        "on-failure:3",
        &img,
        "true",
    ]);
    e.wait_status(&n2, "exited", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        e.inspect_f(&n2, "{{.RestartCount}} {{.State.ExitCode}}"),
        "0 0"
    );
}
