//! One test's world: temp dir, private state root, runtime helpers and a
//! cleanup guard.

use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::bundle::Bundle;
use crate::cmd::{run_with_timeout, Output, Stdin};
use crate::runtime::Runtime;

/// Default timeout of one runtime invocation.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A test's environment.  Dropping it deletes every container it created
/// (`delete --force`), kills leftover processes, unmounts whatever is still
/// mounted under the temp dir and removes the temp dir.
pub struct TestEnv {
    pub rt: Runtime,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// The `--root` state directory passed to every invocation.
    pub root: PathBuf,
    suffix: String,
    ids: RefCell<Vec<String>>,
    pids: RefCell<Vec<i32>>,
    children: RefCell<Vec<Child>>,
    seq: Cell<u32>,
}

impl TestEnv {
    /// New environment, or None when not root.  `name` only labels the temp
    /// dir for debugging.
    pub fn new(name: &str) -> Option<TestEnv> {
        if !crate::is_root() {
            return None;
        }
        let rt = Runtime::from_env();
        rt.ensure_exists();
        let _ = name;
        // (0755: readable by the mapped uids of user-namespace tests)
        let (dir, path) = make_test_dir("berth-e2e-");
        let root = path.join("state");
        let suffix = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("berth-e2e-")
            .to_lowercase();
        Some(TestEnv {
            rt,
            dir: Some(dir),
            path,
            root,
            suffix,
            ids: RefCell::new(Vec::new()),
            pids: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
            seq: Cell::new(0),
        })
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A container id unique across parallel tests (runc names cgroups after
    /// the id when no cgroupsPath is given, so two tests using the same id
    /// would share a cgroup).
    pub fn id(&self, name: &str) -> String {
        format!("{name}-{}", self.suffix)
    }

    /// A fresh busybox bundle in `<tmp>/<name>`.
    pub fn bundle(&self, name: &str) -> Bundle {
        Bundle::new(&self.path.join(name))
    }

    fn next_tag(&self, what: &str) -> String {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        format!("{n:03}-{what}")
    }

    /// Remember a container id for cleanup.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.borrow_mut();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// Remember a host pid to kill at cleanup.
    pub fn track_pid(&self, pid: i32) {
        self.pids.borrow_mut().push(pid);
    }

    /// Run `<runtime> --root R ARGS...` with a timeout.
    pub fn rt_with(&self, args: &[&str], stdin: Stdin<'_>, timeout: Duration) -> Output {
        let mut cmd = Command::new(&self.rt.bin);
        cmd.arg("--root").arg(&self.root).args(args);
        let tag = self.next_tag(args.first().copied().unwrap_or("none"));
        run_with_timeout(cmd, &self.path.join("io"), &tag, stdin, timeout)
    }

    /// Run `<runtime> --root R ARGS...` with the working directory `cwd`.
    pub fn rt_in(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.rt.bin);
        cmd.current_dir(cwd)
            .arg("--root")
            .arg(&self.root)
            .args(args);
        let tag = self.next_tag(args.first().copied().unwrap_or("none"));
        run_with_timeout(cmd, &self.path.join("io"), &tag, Stdin::Null, TIMEOUT)
    }

    /// Run `<runtime> --root R ARGS...` (stdin /dev/null, default timeout).
    pub fn rt(&self, args: &[&str]) -> Output {
        self.rt_with(args, Stdin::Null, TIMEOUT)
    }

    fn bundle_str(b: &Bundle) -> String {
        b.dir.to_str().unwrap().to_string()
    }

    /// `create --bundle B ID` (writes config.json first).
    pub fn create(&self, id: &str, b: &Bundle) -> Output {
        self.create_with(id, b, &[])
    }

    /// `create` with extra flags (e.g. `--console-socket`, `--pid-file`).
    pub fn create_with(&self, id: &str, b: &Bundle, extra: &[&str]) -> Output {
        b.write();
        self.track(id);
        let bs = Self::bundle_str(b);
        let mut args = vec!["create", "--bundle", &bs];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt(&args)
    }

    pub fn start(&self, id: &str) -> Output {
        self.rt(&["start", id])
    }

    /// `run --bundle B ID` in the foreground.
    pub fn run(&self, id: &str, b: &Bundle) -> Output {
        self.run_with(id, b, &[])
    }

    pub fn run_with(&self, id: &str, b: &Bundle, extra: &[&str]) -> Output {
        b.write();
        self.track(id);
        let bs = Self::bundle_str(b);
        let mut args = vec!["run", "--bundle", &bs];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt(&args)
    }

    /// Run the bundle's process to completion under a fresh unique id and
    /// return the output (the container is deleted by the runtime itself).
    pub fn run_once(&self, b: &Bundle) -> Output {
        let n = self.seq.get();
        let id = self.id(&format!("r{n}"));
        self.run(&id, b)
    }

    /// Set the bundle's args to `sh -c SCRIPT`, run it, return the output.
    pub fn sh(&self, b: &mut Bundle, script: &str) -> Output {
        b.sh(script);
        self.run_once(b)
    }

    pub fn kill(&self, id: &str, sig: &str) -> Output {
        self.rt(&["kill", id, sig])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.rt(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.rt(&["delete", "--force", id])
    }

    /// `exec ID ARGS...`
    pub fn exec(&self, id: &str, args: &[&str]) -> Output {
        self.exec_with(id, &[], args)
    }

    /// `exec OPTS... ID ARGS...` (options such as `--user`, `--env`,
    /// `--cwd`, `--process FILE`, `-d` go before the id).
    pub fn exec_with(&self, id: &str, opts: &[&str], args: &[&str]) -> Output {
        let mut a = vec!["exec"];
        a.extend_from_slice(opts);
        a.push(id);
        a.extend_from_slice(args);
        self.rt(&a)
    }

    pub fn list(&self) -> Output {
        self.rt(&["list"])
    }

    pub fn ps(&self, id: &str) -> Output {
        self.rt(&["ps", id])
    }

    /// `state ID` parsed as JSON; Err(output) when the command failed or did
    /// not print JSON.
    pub fn state(&self, id: &str) -> Result<Value, Box<Output>> {
        let out = self.rt(&["state", id]);
        if !out.success() {
            return Err(Box::new(out));
        }
        serde_json::from_str(&out.stdout).map_err(|_| Box::new(out))
    }

    /// The `status` field of `state ID`, or None if state failed.
    pub fn status(&self, id: &str) -> Option<String> {
        self.state(id)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_string))
    }

    /// The container's init pid from `state`.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let st = self
            .state(id)
            .unwrap_or_else(|o| panic!("state failed: {o:?}"));
        st["pid"].as_i64().expect("state has a pid") as i32
    }

    /// Poll `state` until status == `want`; panics with the last state after
    /// `timeout`.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            let st = self.state(id);
            if let Ok(v) = &st {
                if v["status"] == want {
                    return;
                }
            }
            if start.elapsed() > timeout {
                panic!("container {id} did not reach status {want:?} within {timeout:?}; last state: {st:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `create` + `start`, asserting both succeed: a running container.
    #[track_caller]
    pub fn create_start(&self, id: &str, b: &Bundle) -> Output {
        let c = self.create(id, b);
        c.ok();
        self.start(id).ok();
        c
    }

    /// Spawn a host helper process (e.g. a namespace holder), killed at
    /// cleanup.
    pub fn spawn_host(&self, program: &str, args: &[&str]) -> i32 {
        let child = Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let pid = child.id() as i32;
        self.children.borrow_mut().push(child);
        pid
    }

    /// Wait until `f()` is true or the timeout elapses; returns the last value.
    pub fn wait_for(timeout: Duration, f: impl FnMut() -> bool) -> bool {
        poll(timeout, Duration::from_millis(20), f)
    }

    fn cleanup(&mut self) {
        for id in self.ids.borrow().iter().rev() {
            let mut cmd = Command::new(&self.rt.bin);
            cmd.arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", id]);
            let tag = format!("cleanup-{id}");
            // Cleanup must never panic (we may already be unwinding).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_with_timeout(
                    cmd,
                    &self.path.join("io"),
                    &tag,
                    Stdin::Null,
                    Duration::from_secs(10),
                )
            }));
        }
        for pid in self.pids.borrow().iter() {
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        for child in self.children.borrow_mut().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_under(&self.path);
        if let Some(dir) = self.dir.take() {
            remove_test_dir(dir);
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A fresh test dir `/tmp/<prefix>XXXX`, mode 0755, with an empty `io`
/// subdir for command output; the dir and its path.
pub fn make_test_dir(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("create temp dir");
    let path = dir.path().to_path_buf();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(path.join("io")).unwrap();
    (dir, path)
}

/// Call `f` every `every` until it returns true; false after `timeout`.
pub fn poll(timeout: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Remove a test's temp dir, or keep it (and say where) when
/// `BERTH_E2E_KEEP` is set.
pub fn remove_test_dir(dir: tempfile::TempDir) {
    if std::env::var_os("BERTH_E2E_KEEP").is_some() {
        eprintln!("keeping {}", dir.keep().display());
    } else {
        let path = dir.path().to_path_buf();
        if let Err(e) = dir.close() {
            eprintln!("cleanup: cannot remove {}: {e}", path.display());
        }
    }
}

/// Decode the octal escapes (`\040`) of /proc/self/mountinfo.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points (field 5 of /proc/self/mountinfo).
pub fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape_mountinfo))
        .collect()
}

/// Lazily unmount everything mounted at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().to_string();
    for _round in 0..5 {
        let mut mps: Vec<String> = mount_points()
            .into_iter()
            .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
            .collect();
        if mps.is_empty() {
            return;
        }
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        mps.dedup();
        for m in mps {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
