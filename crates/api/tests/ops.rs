//! End-to-end tests of `berth serve`'s container operations (top, stats, cp, export, diff,
//! rename, pause/unpause, container prune, update) driven by the real docker CLI, as root.
//!
//! Each test starts its own `berth serve` (the built `berth` binary: `$BERTH_BIN`, else
//! `$CARGO_TARGET_DIR/debug/berth`, else `<workspace>/target/debug/berth`) on a fresh state root
//! and socket, with a busybox image from scripts/busybox-image.sh; containers are made with
//! the `berth` CLI on the same root. Dropping the server removes its containers and networks,
//! stops it and removes the temp dir, also when a test fails. Skipped (with a note) when not
//! root or when berth, docker or busybox are missing.

use berth_e2e::api::which;
use berth_e2e::engine::berth_bin;
use berth_e2e::runtime::workspace_root;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Run `c` to completion, killed after `limit`.
fn run(mut c: Command, limit: Duration) -> Output {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("spawn");
    finish(child, limit)
}

fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Server {
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn start() -> Option<Server> {
        // SAFETY: geteuid has no side effects.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return None;
        }
        let bin = berth_bin();
        if !bin.is_file() || which("docker").is_none() || !Path::new("/bin/busybox").exists() {
            eprintln!(
                "skipped: needs {} (cargo build -p berth-cli), docker on PATH and /bin/busybox",
                bin.display()
            );
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "berth-api-ops-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docker-config")).unwrap();
        let mut s = Server { dir, child: None };
        let tar = s.path("busybox.tar");
        let o = run(
            {
                let mut c = Command::new(workspace_root().join("scripts/busybox-image.sh"));
                c.arg(&tar);
                c
            },
            TIMEOUT,
        );
        assert!(o.status.success(), "busybox-image.sh: {}", text(&o));
        s.berth_ok(&[
            "import",
            "--change",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            "busybox:latest",
        ]);
        let log = std::fs::File::create(s.path("serve.log")).unwrap();
        let child = Command::new(berth_bin())
            .arg("--root")
            .arg(s.path("root"))
            .arg("serve")
            .arg("-H")
            .arg(format!("unix://{}", s.sock().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berth serve");
        s.child = Some(child);
        let start = Instant::now();
        while s.get("/_ping").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "berth serve did not answer: {}",
                std::fs::read_to_string(s.path("serve.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(s)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    fn sock(&self) -> PathBuf {
        self.path("api.sock")
    }

    fn berth(&self, args: &[&str]) -> Output {
        let mut c = Command::new(berth_bin());
        c.arg("--root").arg(self.path("root")).args(args);
        run(c, TIMEOUT)
    }

    fn berth_ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        assert!(o.status.success(), "berth {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock().display()))
            .env("DOCKER_CONFIG", self.path("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .args(args);
        c
    }

    fn docker(&self, args: &[&str]) -> Output {
        run(self.docker_cmd(args), TIMEOUT)
    }

    fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(o.status.success(), "docker {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `docker ARGS` that must fail: its stderr.
    fn docker_fails(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            !o.status.success(),
            "docker {args:?} succeeded: {}",
            text(&o)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// A raw HTTP/1.0 request on the socket: (status, body); None when nobody answers.
    fn request(&self, method: &str, path: &str, limit: Duration) -> Option<(u16, Vec<u8>)> {
        let mut s = UnixStream::connect(self.sock()).ok()?;
        s.set_read_timeout(Some(limit)).ok()?;
        write!(s, "{method} {path} HTTP/1.0\r\nHost: berth\r\n\r\n").ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, raw[end + 4..].to_vec()))
    }

    fn status(&self, method: &str, path: &str) -> u16 {
        self.request(method, path, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{method} {path}: no answer"))
            .0
    }

    fn get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        self.request("GET", path, Duration::from_secs(10))
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.berth_ok(&["inspect", "-f", format, name])
            .trim()
            .to_string()
    }

    /// `berth run -d --name NAME busybox ARGS...`: the id.
    fn run_detached(&self, name: &str, args: &[&str]) -> String {
        let mut a = vec!["run", "-d", "--name", name, "busybox"];
        a.extend_from_slice(args);
        self.berth_ok(&a).trim().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let o = self.berth(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let _ = self.berth(&["rm", "-f", id]);
        }
        let _ = self.berth(&["network", "prune", "-f"]);
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling the server this test started.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // overlays left mounted below the root, deepest first
        let dir = self.dir.to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&dir))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        if std::env::var_os("BERTH_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The row of a table whose first or second column is `key`.
fn row<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().take(2).any(|c| c == key))
}

/// docker's human sizes ("1.5MiB", "4.1kB", "0B") in bytes.
fn size(s: &str) -> Option<f64> {
    let i = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(i);
    let n: f64 = n.parse().ok()?;
    let m = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024f64.powi(4),
        _ => return None,
    };
    Some(n * m)
}

/// Check a `docker stats` row for CONTAINER: CPU % and MEM USAGE / LIMIT parse, the limit is
/// not zero, NET I/O is there.
fn check_stats_row(r: &str, what: &str) {
    // ID NAME CPU% USAGE / LIMIT MEM% NETRX / NETTX BLKR / BLKW PIDS
    let f: Vec<&str> = r.split_whitespace().collect();
    assert_eq!(f.len(), 14, "{what}: {r:?}");
    let cpu: f64 = f[2]
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("{what}: CPU % {r:?}"));
    assert!((0.0..=100.0 * 1024.0).contains(&cpu), "{what}: {r:?}");
    let usage = size(f[3]).unwrap_or_else(|| panic!("{what}: MEM USAGE {r:?}"));
    let limit = size(f[5]).unwrap_or_else(|| panic!("{what}: LIMIT {r:?}"));
    assert!(usage > 0.0 && limit > usage, "{what}: {r:?}");
    assert!(f[6].ends_with('%'), "{what}: {r:?}");
    assert!(
        size(f[7]).is_some() && size(f[9]).is_some(),
        "{what}: NET I/O {r:?}"
    );
    assert!(
        f[13].parse::<u32>().is_ok_and(|p| p >= 1),
        "{what}: PIDS {r:?}"
    );
}

/// A cgroup limit of a running container: `v1_file` of `controller`'s hierarchy, or `v2_file`
/// of the unified one.
fn cgroup_limit(s: &Server, name: &str, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let pid = s.inspect(name, "{{.State.Pid}}");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = cg.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':').skip(1);
        let ctrls = parts.next()?;
        let path = parts.next()?;
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| format!("/sys/fs/cgroup/{controller}{path}/{v1_file}"))
    });
    let file = v1.unwrap_or_else(|| {
        let path = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("no cgroup");
        format!("/sys/fs/cgroup{path}/{v2_file}")
    });
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn top_and_stats() {
    let Some(s) = Server::start() else { return };
    let id = s.run_detached("ctop", &["sleep", "1000"]);
    s.berth_ok(&["create", "--name", "cidle", "busybox", "true"]);

    let out = s.docker_ok(&["top", "ctop"]);
    let head: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{out}"
    );
    assert!(out.lines().any(|l| l.ends_with("sleep 1000")), "{out}");
    let out = s.docker_ok(&["top", "ctop", "aux"]);
    assert!(out.starts_with("USER"), "{out}");
    assert!(out.contains("sleep 1000"), "{out}");
    let err = s.docker_fails(&["top", "cidle"]);
    assert!(err.contains("is not running"), "{err}");
    let err = s.docker_fails(&["top", "nosuch"]);
    assert!(err.contains("No such container: nosuch"), "{err}");

    // one-shot: a row for the container whose numbers parse; NET I/O from its eth0
    let busy = s.run_detached("cbusy", &["sh", "-c", "while :; do :; done"]);
    let out = s.docker_ok(&["stats", "--no-stream"]);
    let r = row(&out, &id[..12]).unwrap_or_else(|| panic!("no row for ctop: {out}"));
    check_stats_row(r, "stats --no-stream");
    // a busy loop's CPU % (from cpu_stats against precpu_stats) is well above zero
    let r = row(&out, &busy[..12]).unwrap_or_else(|| panic!("no row for cbusy: {out}"));
    check_stats_row(r, "stats --no-stream");
    let cpu: f64 = r
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 5.0, "busy loop at {cpu}% CPU: {out}");
    s.berth_ok(&["rm", "-f", "cbusy"]);
    let (st, body) = s
        .get(&format!("/containers/{}/stats?stream=0", &id[..12]))
        .unwrap();
    assert_eq!(st, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["name"], "/ctop");
    assert_eq!(v["id"], id.as_str());
    assert!(
        v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{v}"
    );
    assert!(v["memory_stats"]["limit"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["networks"]["eth0"]["rx_bytes"].is_u64(), "{v}");
    assert!(v["pids_stats"]["current"].as_u64() == Some(1), "{v}");
    assert_ne!(v["read"], v["preread"]);

    // streamed: a row a second (the CLI 28 without a terminal keeps running after SIGINT,
    // with `--` rows once its streams are cancelled, against dockerd too)
    let mut c = s.docker_cmd(&["stats", "ctop"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    // SAFETY: interrupting the docker CLI this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = finish(child, Duration::from_millis(500));
    let out = String::from_utf8_lossy(&o.stdout).replace("\x1b[K", "");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(" ctop ")).collect();
    let data = rows
        .iter()
        .take_while(|r| r.split_whitespace().nth(2) != Some("--"))
        .count();
    assert!(data >= 3, "streamed stats: {}", text(&o));
    for r in &rows[..data] {
        check_stats_row(r, "streamed stats");
    }

    // the stream ends when the container stops
    let (tx, rx) = std::sync::mpsc::channel();
    let sock = s.sock();
    let stream_id = id.clone();
    std::thread::spawn(move || {
        let mut c = UnixStream::connect(sock).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(c, "GET /containers/{stream_id}/stats HTTP/1.0\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        let r = c.read_to_end(&mut raw);
        let _ = tx.send((r.is_ok(), String::from_utf8_lossy(&raw).into_owned()));
    });
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    s.berth_ok(&["kill", "ctop"]);
    let (ended, raw) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("stats stream did not end after the container stopped");
    assert!(ended, "stats stream: {raw}");
    assert!(t.elapsed() < Duration::from_secs(10));
    let docs: Vec<Value> = raw
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!docs.is_empty(), "{raw}");
    assert!(docs.iter().all(|d| d["id"] == id.as_str()));
}

#[test]
fn cp_both_ways() {
    let Some(s) = Server::start() else { return };
    s.run_detached("ccp", &["sleep", "1000"]);
    let local = s.path("local");
    std::fs::create_dir_all(local.join("d/sub")).unwrap();
    std::fs::write(local.join("f"), "hello\n").unwrap();
    std::fs::write(local.join("d/sub/x"), "deep\n").unwrap();
    let l = |p: &str| local.join(p).to_string_lossy().into_owned();

    // host → container: a file to a new name, a directory, a directory's content
    s.docker_ok(&["cp", &l("f"), "ccp:/tmp/renamed"]);
    s.docker_ok(&["cp", &l("d"), "ccp:/tmp/"]);
    s.docker_ok(&["cp", &l("d"), "ccp:/tmp/newdir"]);
    s.docker_ok(&["cp", &format!("{}/.", l("d")), "ccp:/tmp/content"]);
    let ls = s.berth_ok(&[
        "exec",
        "ccp",
        "sh",
        "-c",
        "cat /tmp/renamed /tmp/d/sub/x /tmp/newdir/sub/x /tmp/content/sub/x",
    ]);
    assert_eq!(ls, "hello\ndeep\ndeep\ndeep\n");

    // container → host: a file to a new name, a directory, its content
    let out = s.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = |p: &str| out.join(p).to_string_lossy().into_owned();
    s.docker_ok(&["cp", "ccp:/etc/passwd", &o("pw")]);
    assert!(std::fs::read_to_string(out.join("pw"))
        .unwrap()
        .starts_with("root:x:0:0"));
    s.docker_ok(&["cp", "ccp:/tmp/d", &o("dcopy")]);
    assert_eq!(
        std::fs::read_to_string(out.join("dcopy/sub/x")).unwrap(),
        "deep\n"
    );
    s.docker_ok(&["cp", "ccp:/tmp/d/.", &o("dcontent")]);
    assert_eq!(
        std::fs::read_to_string(out.join("dcontent/sub/x")).unwrap(),
        "deep\n"
    );
    s.docker_ok(&["cp", "ccp:/tmp/d", &o("")]);
    assert!(out.join("d/sub/x").is_file());
    // as a tar on stdout
    let o2 = s.docker(&["cp", "ccp:/tmp/d", "-"]);
    assert!(o2.status.success(), "{}", text(&o2));
    let mut t = Command::new("tar")
        .arg("t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    t.stdin.take().unwrap().write_all(&o2.stdout).unwrap();
    let names = String::from_utf8_lossy(&t.wait_with_output().unwrap().stdout).into_owned();
    assert_eq!(names, "d/\nd/sub/\nd/sub/x\n");

    // missing paths, as dockerd words them
    let err = s.docker_fails(&["cp", "ccp:/nope", &o("x")]);
    assert!(
        err.contains("Could not find the file /nope in container ccp"),
        "{err}"
    );
    let err = s.docker_fails(&["cp", &l("f"), "ccp:/nope/x"]);
    assert!(
        err.contains("Could not find the file /nope in container ccp"),
        "{err}"
    );
    let err = s.docker_fails(&["cp", &l("d"), "ccp:/tmp/renamed"]);
    assert!(err.contains("cannot copy directory"), "{err}");
    // a file over a directory deeper down: refused (noOverwriteDirNonDir)
    let other = s.path("other");
    std::fs::create_dir_all(other.join("d")).unwrap();
    std::fs::write(other.join("d/sub"), "file").unwrap();
    let err = s.docker_fails(&["cp", &other.join("d").to_string_lossy(), "ccp:/tmp/"]);
    assert!(err.contains("cannot overwrite directory"), "{err}");

    // the stat endpoint: header for a path, 404 for a missing one
    assert_eq!(s.status("HEAD", "/containers/ccp/archive?path=/nope"), 404);
    assert_eq!(s.status("GET", "/containers/ccp/archive"), 400);
}

#[test]
fn export_diff_rename_pause() {
    let Some(s) = Server::start() else { return };
    s.run_detached(
        "cops",
        &[
            "sh",
            "-c",
            "echo x > /newfile; rm /etc/group; exec sleep 1000",
        ],
    );
    let start = Instant::now();
    while s
        .berth(&["exec", "cops", "test", "-e", "/newfile"])
        .status
        .code()
        != Some(0)
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "/newfile never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // export | tar t
    let tarfile = s.path("export.tar");
    s.docker_ok(&["export", "-o", tarfile.to_str().unwrap(), "cops"]);
    let o = run(
        {
            let mut c = Command::new("tar");
            c.arg("tf").arg(&tarfile);
            c
        },
        TIMEOUT,
    );
    assert!(o.status.success(), "{}", text(&o));
    let names = String::from_utf8_lossy(&o.stdout).into_owned();
    for want in ["bin/busybox", "etc/passwd", "newfile"] {
        assert!(
            names.lines().any(|l| l == want),
            "{want} not in export: {names}"
        );
    }
    let err = s.docker_fails(&["export", "-o", s.path("x.tar").to_str().unwrap(), "nosuch"]);
    assert!(err.contains("No such container"), "{err}");

    // diff
    let d = s.docker_ok(&["diff", "cops"]);
    let lines: Vec<&str> = d.lines().collect();
    for want in ["A /newfile", "C /etc", "D /etc/group"] {
        assert!(lines.contains(&want), "{want} not in diff: {d}");
    }
    assert!(!d.contains("/etc/hostname"), "{d}");

    // rename: 204, then a taken name is a conflict
    s.docker_ok(&["rename", "cops", "cops2"]);
    assert_eq!(s.inspect("cops2", "{{.Name}}"), "/cops2");
    s.berth_ok(&["create", "--name", "taken", "busybox", "true"]);
    let err = s.docker_fails(&["rename", "cops2", "taken"]);
    assert!(err.contains("is already in use"), "{err}");
    assert_eq!(s.status("POST", "/containers/cops2/rename?name=taken"), 409);

    // pause / unpause
    s.docker_ok(&["pause", "cops2"]);
    assert_eq!(s.inspect("cops2", "{{.State.Status}}"), "paused");
    let err = s.docker_fails(&["pause", "cops2"]);
    assert!(err.contains("already paused"), "{err}");
    s.docker_ok(&["unpause", "cops2"]);
    assert_eq!(s.inspect("cops2", "{{.State.Status}}"), "running");
    let err = s.docker_fails(&["unpause", "cops2"]);
    assert!(err.contains("not paused"), "{err}");
}

#[test]
fn prune_and_update() {
    let Some(s) = Server::start() else { return };
    let running = s.run_detached("crun", &["sleep", "1000"]);
    let a = s
        .berth_ok(&[
            "create", "--name", "pa", "--label", "team=a", "busybox", "true",
        ])
        .trim()
        .to_string();
    let b = s
        .berth_ok(&["create", "--name", "pb", "busybox", "true"])
        .trim()
        .to_string();

    let out = s.docker_ok(&["container", "prune", "-f", "--filter", "label=team=a"]);
    assert!(out.contains(&a) && !out.contains(&b), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let out = s.docker_ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert!(!out.contains(&b), "until=1h pruned a new container: {out}");
    let err = s.docker_fails(&["container", "prune", "-f", "--filter", "bogus=1"]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
    let out = s.docker_ok(&["container", "prune", "-f"]);
    assert!(out.contains(&b) && !out.contains(&running), "{out}");
    let ps = s.berth_ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(ps.trim(), running, "{ps}");

    // update a running container: the cgroup and the HostConfig
    let mem = |name: &str| cgroup_limit(&s, name, "memory", "memory.limit_in_bytes", "memory.max");
    s.docker_ok(&["update", "--memory", "64m", "crun"]);
    assert_eq!(mem("crun"), "67108864");
    assert_eq!(s.inspect("crun", "{{.HostConfig.Memory}}"), "67108864");
    let args = "update --pids-limit 50 --cpu-shares 512 --restart always crun";
    s.docker_ok(&args.split(' ').collect::<Vec<_>>());
    assert_eq!(
        cgroup_limit(&s, "crun", "pids", "pids.max", "pids.max"),
        "50"
    );
    assert_eq!(
        s.inspect(
            "crun",
            "{{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}"
        ),
        "50 512 always"
    );
    s.docker_ok(&["update", "--cpu-quota", "50000", "crun"]);
    let quota = cgroup_limit(&s, "crun", "cpu", "cpu.cfs_quota_us", "cpu.max");
    assert!(quota.starts_with("50000"), "{quota}");
    let err = s.docker_fails(&["update", "--memory", "1m", "crun"]);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    // the limits stay after a restart
    s.berth_ok(&["restart", "-t", "0", "crun"]);
    assert_eq!(mem("crun"), "67108864");
    // a stopped container: kept for its next start
    s.berth_ok(&["create", "--name", "later", "busybox", "sleep", "1000"]);
    s.docker_ok(&["update", "--memory", "32m", "later"]);
    s.berth_ok(&["start", "later"]);
    assert_eq!(mem("later"), "33554432");

    // in the event journal the CLI and the API share
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let until = until.to_string();
    let ev = s.docker_ok(&["events", "--since", "0", "--until", &until]);
    for want in [
        format!("container update {running}"),
        "container prune  (reclaimed=".to_string(),
    ] {
        assert!(ev.contains(&want), "no {want:?} in {ev}");
    }
}
