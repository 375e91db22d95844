//! End-to-end suite of the docker-compatible `berth` container commands,
//! written against docker's behaviour: every test types what a user types
//! and asserts what a user sees (stdout, stderr, exit codes).
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same suite
//! against a real docker daemon (the reference); unset/`berth` runs
//! `$BERTH_BIN` (default `$CARGO_TARGET_DIR/debug/berth`) with a private
//! `--root` per test.  Needs root.

use std::time::{Duration, Instant};

use berth_e2e::engine::{cgroup_cpu_usage_ns, pid_alive, pids_with_cmdline, Engine};
use berth_e2e::{berth_only, engine};

const LOOP_LINES: &str = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done";

/// Container CPU use in % of one core over `dur`, and the host's idle cores
/// meanwhile.
fn sample_cpu(pid: i32, dur: Duration) -> (f64, f64) {
    let host_idle = || -> f64 {
        let st = std::fs::read_to_string("/proc/stat").unwrap();
        let f: Vec<f64> = st
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        // idle + iowait, in USER_HZ (100/s)
        (f[3] + f[4]) / 100.0
    };
    let u0 = cgroup_cpu_usage_ns(pid).expect("cpu usage of the container's cgroup");
    let i0 = host_idle();
    let t0 = Instant::now();
    std::thread::sleep(dur);
    let u1 = cgroup_cpu_usage_ns(pid).unwrap();
    let i1 = host_idle();
    let secs = t0.elapsed().as_secs_f64();
    ((u1 - u0) as f64 / 1e9 / secs * 100.0, (i1 - i0) / secs)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `2024-01-02T03:04:05.123456789Z` or with a `+hh:mm` offset.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

/// Column names of a table header: cells separated by 2+ spaces.
fn header_columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// A running `sleep` container named `short`; returns its full name.
#[track_caller]
fn run_sleeper(e: &Engine, short: &str, extra: &[&str]) -> String {
    let n = e.name(short);
    let mut args = vec!["run", "-d", "--name", &n];
    args.extend_from_slice(extra);
    let img = e.img().to_string();
    args.extend_from_slice(&[&img, "sleep", "100000"]);
    let id = e.ok(&args);
    assert!(
        is_hex64(id.trim()),
        "run -d must print the 64-hex id, got {id:?}"
    );
    n
}

// ---------------------------------------------------------------------------
// 1. foreground run

#[test]
fn run_foreground_output_and_exit_codes() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("fg");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--name",
        &n,
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.code, 3, "{o:?}");
    assert_eq!(o.stdout, "out\n", "{o:?}");
    assert_eq!(o.stderr, "err\n", "{o:?}");
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !ps.lines().any(|l| l.trim() == n),
        "--rm container still listed:\n{ps}"
    );

    let o = e.cmd(&["run", "--rm", &img, "nosuchcmd"]);
    assert_eq!(o.code, 127, "missing executable must exit 127: {o:?}");
    assert!(o.stderr.contains("nosuchcmd"), "{o:?}");

    let o = e.cmd(&["run", "--rm", &img, "/etc/passwd"]);
    assert_eq!(o.code, 126, "non-executable file must exit 126: {o:?}");

    // Missing image: docker tries a pull (offline here) and fails with 125.
    let missing = format!("{}nosuchimage:latest", e.name(""));
    let o = e.cmd(&["run", "--rm", &missing, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr.contains(&e.name("nosuchimage")),
        "message must name the image: {o:?}"
    );
}

/// A process that cannot start (its working directory is a file descriptor, not a directory)
/// is an error naming the cause, exit 125 as docker's run, and never a running container: berth
/// ran into the failure after `start` had returned, exited 1 without a word, and with `-d`
/// reported the container running (issue 13 hole 6).
#[test]
fn a_start_failure_names_its_cause_and_never_runs() {
    let e = engine!();
    let img = e.img().to_string();
    // (fd 5 of the runtime's init is a file under runc, "not a directory"; berth-runtime
    // has none open there, "no such file or directory"; under dockerd it can be a host
    // directory the init still holds, refused as "outside the container's root": all refuse
    // and say so)
    let says_why = |o: &berth_e2e::cmd::Output| {
        let err = o.stderr.to_lowercase();
        (125..=127).contains(&o.code)
            && err.contains("/proc/self/fd/5")
            && (err.contains("not a directory")
                || err.contains("no such file or directory")
                || err.contains("outside the container's root"))
    };
    let o = e.cmd(&["run", "--rm", "-w", "/proc/self/fd/5", &img, "echo", "ran"]);
    assert!(says_why(&o), "{o:?}");
    assert!(!o.stdout.contains("ran"), "{o:?}");

    let n = e.name("badcwd");
    let o = e.cmd(&[
        "run",
        "-d",
        "--name",
        &n,
        "-w",
        "/proc/self/fd/5",
        &img,
        "sleep",
        "100",
    ]);
    assert!(says_why(&o), "{o:?}");
    let state = e.inspect(&n)["State"].clone();
    assert_eq!(state["Running"], false, "{state}");
    assert_eq!(state["Pid"], 0, "{state}");
    assert_ne!(state["Status"], "running", "{state}");
    assert!(
        state["Error"]
            .as_str()
            .unwrap_or("")
            .contains("/proc/self/fd/5"),
        "{state}"
    );
    let ps = e.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(
        !ps.lines().any(|l| l.trim() == n),
        "listed as running:\n{ps}"
    );
    e.ok(&["rm", "-f", &n]);
}

// ---------------------------------------------------------------------------
// 2. detached container, ps, logs, stop

#[test]
fn detached_ps_logs_stop() {
    let e = engine!();
    let img = e.img().to_string();
    let n = e.name("lines");
    let id = e.ok(&["run", "-d", "--name", &n, &img, "sh", "-c", LOOP_LINES]);
    let id = id.trim().to_string();
    assert!(is_hex64(&id), "run -d prints the full id: {id:?}");

    let filter = format!("name={n}");
    let ps = e.ok(&["ps", "--filter", &filter]);
    let mut lines = ps.lines();
    let header = header_columns(lines.next().expect("ps prints a header"));
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "ps header:\n{ps}"
    );
    let row = lines
        .next()
        .unwrap_or_else(|| panic!("ps does not list {n}:\n{ps}"));
    assert!(
        row.starts_with(&id[..12]),
        "row starts with the short id: {row:?}"
    );
    assert!(
        row.trim_end().ends_with(&n),
        "row ends with the name: {row:?}"
    );
    assert!(row.contains("Up "), "{row:?}");
    let st = e.ok(&["ps", "--filter", &filter, "--format", "{{.Status}}"]);
    assert!(st.starts_with("Up"), "status {st:?}");
    let full = e.ok(&["ps", "-q", "--no-trunc", "--filter", &filter]);
    assert_eq!(full.trim(), id);

    // logs
    std::thread::sleep(Duration::from_millis(700));
    let logs = e.ok(&["logs", &n]);
    assert!(logs.starts_with("line0\n"), "{logs:?}");

    let mut f = e.spawn(&["logs", "-f", &n], false);
    let first = f.wait_stdout(Duration::from_secs(10), "some lines", |s| {
        s.lines().count() >= 2
    });
    let last_seen = first.lines().count();
    f.wait_stdout(
        Duration::from_secs(10),
        "new lines streamed by logs -f",
        |s| s.lines().count() >= last_seen + 3,
    );
    f.kill();

    let tail = e.ok(&["logs", "--tail", "2", &n]);
    assert_eq!(tail.lines().count(), 2, "logs --tail 2: {tail:?}");
    assert!(tail.lines().all(|l| l.starts_with("line")), "{tail:?}");

    let ts = e.ok(&["logs", "-t", "--tail", "3", &n]);
    for l in ts.lines() {
        let (stamp, msg) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("logs -t line {l:?}"));
        assert!(
            is_rfc3339(stamp),
            "logs -t: {stamp:?} is not RFC3339 in {l:?}"
        );
        assert!(msg.starts_with("line"), "{l:?}");
    }

    // sh as pid 1 ignores SIGTERM: stop -t 1 has to SIGKILL it.
    let t = Instant::now();
    let out = e.ok(&["stop", "-t", "1", &n]);
    assert_eq!(out.trim(), n, "stop prints what it was given");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stop -t 1 took {:?}",
        t.elapsed()
    );
    assert_eq!(
        e.inspect_f(&n, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    let q = e.ok(&["ps", "-q"]);
    assert!(!q.contains(&id[..12]), "stopped container in ps -q:\n{q}");
    let a = e.ok(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(a.starts_with(&format!("{n} Exited (137)")), "{a:?}");
}

// ---------------------------------------------------------------------------
// 3. exec

#[test]
fn exec_into_running_container() {
    let e = engine!();
    let n = run_sleeper(&e, "ex", &[]);
    let id = e.inspect_f(&n, "{{.Id}}");
    let h = e.ok(&["exec", &n, "cat", "/etc/hostname"]);
    assert_eq!(h.trim(), &id[..12], "default hostname is the short id");
    assert_eq!(
        e.ok(&["exec", "-e", "X=1", &n, "sh", "-c", "echo $X"]),
        "1\n"
    );
    assert_eq!(e.ok(&["exec", "-w", "/tmp", &n, "pwd"]), "/tmp\n");
    assert_eq!(e.ok(&["exec", &n, "pwd"]), "/\n");
    assert_eq!(e.ok(&["exec", "-u", "1000", &n, "id", "-u"]), "1000\n");
    assert_eq!(e.ok(&["exec", "-u", "app", &n, "id", "-un"]), "app\n");
    assert_eq!(e.ok(&["exec", &n, "id", "-u"]), "0\n");
    let o = e.cmd(&["exec", &n, "sh", "-c", "echo o; echo e >&2; exit 5"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (5, "o\n", "e\n"),
        "{o:?}"
    );
    // docker 20.10 exits 126 here and prints the runtime's message on
    // stdout; newer dockers exit 127 (as `run` does).  Either is fine.
    let o = e.cmd(&["exec", &n, "nosuchcmd"]);
    assert!(o.code == 126 || o.code == 127, "{o:?}");
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("nosuchcmd"),
        "{o:?}"
    );
    assert_eq!(
        e.ok(&["exec", &n, "sh", "-c", "echo $PATH"]),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        "default PATH when the image sets none"
    );
    let o = e.cmd_stdin(&["exec", "-i", &n, "cat"], b"piped\n");
    assert_eq!(o.stdout, "piped\n", "{o:?}");

    let o = e.ok(&["exec", "-d", &n, "sh", "-c", "sleep 0.3; touch /tmp/f"]);
    assert_eq!(o, "", "exec -d prints nothing");
    let start = Instant::now();
    while !e.cmd(&["exec", &n, "test", "-f", "/tmp/f"]).success() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "exec -d never created /tmp/f"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // exec into a stopped container fails.
    e.ok(&["stop", "-t", "0", &n]);
    let o = e.fails(&["exec", &n, "true"]);
    assert!(o.stderr.contains("is not running"), "{o:?}");
}

/// `exec -t`: the process's terminal has the size of the user's terminal
/// from its start (`stty size` right away), and nothing the user did not
/// type reaches it: an EOF (^D) typed ahead while the user's terminal was
/// still in canonical mode used to arrive as a NUL (echoed as `^@`).
#[test]
fn exec_tty_size_and_typeahead() {
    let e = engine!();
    berth_only!(
        e,
        "docker 20.10 sizes an exec's terminal only after the process started, \
         and its client turns an EOF typed ahead into a NUL"
    );
    let n = run_sleeper(&e, "ptyx", &[]);
    let clean = |o: &berth_e2e::Output| {
        assert!(
            !o.stdout.contains('\0') && !o.stdout.contains("^@"),
            "a NUL reached the terminal: {o:?}"
        );
    };
    // several times: the size used to be set after the process started
    for _ in 0..5 {
        let o = e.cmd_pty(
            &["exec", "-it", &n, "sh", "-c", "tty; stty size"],
            b"",
            30,
            100,
        );
        assert_eq!(o.code, 0, "{o:?}");
        clean(&o);
        let lines: Vec<&str> = o.stdout.split("\r\n").collect();
        assert!(lines[0].starts_with("/dev/pts/"), "{o:?}");
        assert_eq!(lines[1..], ["30 100", ""], "{o:?}");
    }
    // without -i (stdin /dev/null) the size comes from stdout's terminal
    // (which, not in raw mode, turns the \r\n into \r\r\n)
    let o = e.cmd_pty(&["exec", "-t", &n, "stty", "size"], b"", 40, 120);
    assert_eq!(
        (o.code, o.stdout.replace('\r', "")),
        (0, "40 120\n".into()),
        "{o:?}"
    );
    // a line typed ahead still reaches the process, and the EOF after it
    // ends its input
    let o = e.cmd_pty(
        &[
            "exec",
            "-it",
            &n,
            "sh",
            "-c",
            "read x; echo got:$x; cat; echo eof",
        ],
        b"hello\n",
        30,
        100,
    );
    assert_eq!(o.code, 0, "{o:?}");
    clean(&o);
    assert!(o.stdout.contains("got:hello\r\n"), "{o:?}");
    assert!(o.stdout.ends_with("eof\r\n"), "{o:?}");
}

#[test]
fn run_tty_size_and_typeahead() {
    let e = engine!();
    berth_only!(
        e,
        "docker 20.10 (API 1.41, no ConsoleSize at create) sizes the terminal only after \
         the process started"
    );
    let img = e.img().to_string();
    // several times: the terminal used to be sized after the process started
    for _ in 0..3 {
        let o = e.cmd_pty(&["run", "--rm", "-it", &img, "stty", "size"], b"", 30, 100);
        assert_eq!(o.code, 0, "{o:?}");
        assert!(
            !o.stdout.contains('\0') && !o.stdout.contains("^@"),
            "a NUL reached the terminal: {o:?}"
        );
        assert_eq!(o.stdout, "30 100\r\n", "{o:?}");
    }
    // a line typed ahead reaches the process
    let o = e.cmd_pty(
        &[
            "run",
            "--rm",
            "-it",
            &img,
            "sh",
            "-c",
            "read x; echo got:$x",
        ],
        b"hello\n",
        30,
        100,
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("got:hello\r\n"), "{o:?}");
}

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
