//! The docker-compatible engine under test: `berth` (default) or real
//! `docker` (`BERTH_TEST_ENGINE=docker`, with `DOCKER_HOST` pointing at a
//! daemon), driven through its command line exactly as a user types it.
//!
//! Every test gets its own [`Engine`]:
//! - berth: a fresh temp state root passed as `--root R` to every command;
//! - docker: the shared daemon, but every container, volume and image the
//!   test makes is named with a unique per-test prefix ([`Engine::name`]),
//!   and everything is removed when the `Engine` is dropped (also on panic),
//!   so tests run in parallel.
//!
//! Images come from a busybox rootfs built locally from Debian's
//! busybox-static (no registry), imported with `import --change ...`.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cmd::{run_bounded, run_with_timeout, Output, Stdin};
use crate::env::{make_test_dir, mount_points, remove_test_dir, unmount_under};
use crate::runtime::workspace_root;

mod busybox;
mod procs;
mod spawned;

pub use busybox::busybox_tar;
pub use procs::{
    ancestors, cgroup_cpu_usage_ns, pid_alive, pids_in_cgroup_named, pids_with_cmdline,
    zombie_children,
};
pub use spawned::Spawned;

/// Default timeout of one engine command.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which engine runs the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Berth,
    Docker,
}

impl EngineKind {
    /// From `BERTH_TEST_ENGINE`: unset/`berth`, `docker`, or `docker-berth`
    /// (docker whose default runtime is berth-runtime: see [`docker_on_berth`]).
    pub fn from_env() -> EngineKind {
        match std::env::var("BERTH_TEST_ENGINE")
            .unwrap_or_default()
            .as_str()
        {
            "" | "berth" => EngineKind::Berth,
            "docker" | "docker-berth" => EngineKind::Docker,
            other => {
                panic!("BERTH_TEST_ENGINE={other:?}: expected `berth`, `docker` or `docker-berth`")
            }
        }
    }
}

/// `BERTH_TEST_ENGINE=docker-berth`: the suites run against dockerd with
/// berth-runtime as its default runtime (`--add-runtime berth=BIN
/// --default-runtime berth`), to check berth-runtime as a drop-in for runc.
/// The API suites start such daemons themselves; the CLI suites check that
/// the daemon at DOCKER_HOST is one ([`Engine::new`]).
pub fn docker_on_berth() -> bool {
    std::env::var("BERTH_TEST_ENGINE").is_ok_and(|e| e == "docker-berth")
}

/// Panics unless the daemon the docker CLI talks to runs containers with
/// berth-runtime by default (checked once per test process).
fn check_docker_default_runtime(docker: &Path) {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new(docker)
            .args(["info", "--format", "{{.DefaultRuntime}}"])
            .output()
            .expect("run docker info");
        let rt = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            rt,
            "berth",
            "BERTH_TEST_ENGINE=docker-berth but the daemon at DOCKER_HOST runs `{rt}` by default \
             (start one with tests/interop/dockerd.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The `berth` binary: `$BERTH_BIN`, else `$CARGO_TARGET_DIR/debug/berth`
/// (relative target dirs are taken from the workspace root), else
/// `<workspace>/target/debug/berth`.
pub fn berth_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("BERTH_BIN") {
        return PathBuf::from(b);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                workspace_root().join(t)
            }
        }
        _ => workspace_root().join("target"),
    };
    target.join("debug/berth")
}

fn docker_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let c = dir.join("docker");
        if c.is_file() {
            return c;
        }
    }
    panic!("BERTH_TEST_ENGINE=docker but no `docker` on PATH");
}

// ---------------------------------------------------------------------------
// Engine

/// One test's engine.  See the module docs.
pub struct Engine {
    pub kind: EngineKind,
    pub bin: PathBuf,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// berth's `--root`, None for docker.
    pub root: Option<PathBuf>,
    prefix: String,
    images: RefCell<Vec<String>>,
    children: RefCell<Vec<Child>>,
    busybox: OnceLock<String>,
    seq: Cell<u32>,
}

impl Engine {
    /// A fresh isolated engine for one test.  Needs root for berth.
    pub fn new() -> Engine {
        let kind = EngineKind::from_env();
        let bin = match kind {
            EngineKind::Berth => berth_bin(),
            EngineKind::Docker => docker_bin(),
        };
        assert!(
            bin.is_file(),
            "engine binary {} not found; build it with `cargo build -p berth-cli` or set BERTH_BIN",
            bin.display()
        );
        if docker_on_berth() {
            check_docker_default_runtime(&bin);
        }
        let (dir, path) = make_test_dir("berth-e2e-");
        let suffix: String = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("berth-e2e-")
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let root = match kind {
            EngineKind::Berth => Some(path.join("root")),
            EngineKind::Docker => None,
        };
        Engine {
            kind,
            bin,
            dir: Some(dir),
            path,
            root,
            prefix: format!("e2e-{suffix}-"),
            images: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
            busybox: OnceLock::new(),
            seq: Cell::new(0),
        }
    }

    pub fn is_docker(&self) -> bool {
        self.kind == EngineKind::Docker
    }

    pub fn is_berth(&self) -> bool {
        self.kind == EngineKind::Berth
    }

    /// The test's temp dir (host dirs for bind mounts, files for `cp`...).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A container/volume name unique to this test (`e2e-<rand>-<short>`).
    pub fn name(&self, short: &str) -> String {
        format!("{}{short}", self.prefix)
    }

    /// The label `key=value` every prune in this test filters on, so a
    /// prune on the shared docker daemon cannot touch other tests.
    pub fn test_label(&self) -> String {
        format!("berth-e2e={}", self.prefix.trim_end_matches('-'))
    }

    /// A unique image reference for this test, removed at drop.
    pub fn image_name(&self, short: &str) -> String {
        self.image_tag(short, "latest")
    }

    /// As [`Self::image_name`] with tag `tag`: `e2e-<rand>-<short>:<tag>`.
    pub fn image_tag(&self, short: &str, tag: &str) -> String {
        let r = format!("{}{short}:{tag}", self.prefix);
        self.images.borrow_mut().push(r.clone());
        r
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        if let Some(root) = &self.root {
            cmd.arg("--root").arg(root);
        }
        cmd
    }

    fn tag(&self, args: &[&str]) -> String {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        let what: String = args
            .first()
            .copied()
            .unwrap_or("none")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("{n:03}-{what}")
    }

    /// Run `ENGINE ARGS...` (stdin /dev/null, 60 s timeout).
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.cmd_with(args, Stdin::Null, ENGINE_TIMEOUT)
    }

    /// Run `ENGINE ARGS...` with `data` on stdin.
    pub fn cmd_stdin(&self, args: &[&str], data: &[u8]) -> Output {
        self.cmd_with(args, Stdin::Data(data), ENGINE_TIMEOUT)
    }

    pub fn cmd_with(&self, args: &[&str], stdin: Stdin<'_>, timeout: Duration) -> Output {
        let cmd = self.command_args(args);
        let tag = self.tag(args);
        run_with_timeout(cmd, &self.path.join("io"), &tag, stdin, timeout)
    }

    /// Run `ENGINE ARGS...` on a pseudo-terminal of `rows` x `cols` (through
    /// `script -qec`), `input` typed on it; stdout is what the terminal
    /// showed.  Once `input` is used up (at once when it is empty), `script`
    /// types an EOF (^D) on the terminal: with no input, the engine starts
    /// with that EOF pending in the terminal's (canonical) input, as when a
    /// user typed ^D ahead.
    pub fn cmd_pty(&self, args: &[&str], input: &[u8], rows: u16, cols: u16) -> Output {
        let cmd = self.command_args(args);
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        // the pause lets script's EOF land before the engine starts
        let mut line = format!("stty rows {rows} cols {cols} && sleep 0.2 && exec");
        for w in std::iter::once(cmd.get_program()).chain(cmd.get_args()) {
            line.push(' ');
            line.push_str(&quote(&w.to_string_lossy()));
        }
        let mut script = Command::new("script");
        script.args(["-qec", &line, "/dev/null"]);
        let tag = self.tag(args);
        let stdin = if input.is_empty() {
            Stdin::Null
        } else {
            Stdin::Data(input)
        };
        run_with_timeout(script, &self.path.join("io"), &tag, stdin, ENGINE_TIMEOUT)
    }

    fn command_args(&self, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(args);
        cmd
    }

    /// Run and assert exit 0; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        o.ok();
        o.stdout
    }

    /// Run and assert a non-zero exit; returns the output.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> Output {
        let o = self.cmd(args);
        o.fails();
        o
    }

    /// Start a long-running command (`logs -f`, `attach`); stdin piped when
    /// `stdin`, else /dev/null.
    pub fn spawn(&self, args: &[&str], stdin: bool) -> Spawned {
        let cmd = self.command_args(args);
        let tag = self.tag(args);
        let cmdline = format!("{} {}", self.bin.display(), args.join(" "));
        Spawned::start(cmd, cmdline, &self.path.join("io"), &tag, stdin)
    }

    /// The locally built busybox image (`CMD ["sh"]`), imported once per
    /// engine.  berth: `berth-busybox:latest`; docker: a per-test name.
    pub fn img(&self) -> &str {
        self.busybox.get_or_init(|| {
            let r = match self.kind {
                EngineKind::Berth => "berth-busybox:latest".to_string(),
                EngineKind::Docker => self.image_name("busybox"),
            };
            self.import(&r, &["CMD [\"sh\"]"]);
            r
        })
    }

    /// Import the busybox rootfs as `reference` with `--change` lines.
    #[track_caller]
    pub fn import(&self, reference: &str, changes: &[&str]) {
        let tar = busybox_tar().to_str().unwrap().to_string();
        let mut args: Vec<&str> = vec!["import"];
        for c in changes {
            args.push("--change");
            args.push(c);
        }
        args.push(&tar);
        args.push(reference);
        self.ok(&args);
    }

    /// An image whose config carries Entrypoint, Cmd, Env, WorkingDir,
    /// User (by name), Volumes, StopSignal and a label:
    /// `ENTRYPOINT ["/bin/echo", "ep"]`, `CMD ["default"]`, `ENV A=1 B=two`,
    /// `WORKDIR /w`, `USER app`, `VOLUME /data`, `STOPSIGNAL SIGUSR1`,
    /// `LABEL made-by=berth-e2e`.  Returns the reference and whether the
    /// StopSignal made it in: docker 20.10's `import` rejects `STOPSIGNAL`
    /// ("stopsignal is not a valid change command"), so against such a
    /// daemon the image is made without it.
    pub fn config_image(&self) -> (String, bool) {
        let r = match self.kind {
            EngineKind::Berth => "berth-config:latest".to_string(),
            EngineKind::Docker => self.image_name("config"),
        };
        let mut changes = vec![
            "ENTRYPOINT [\"/bin/echo\", \"ep\"]",
            "CMD [\"default\"]",
            "ENV A=1 B=two",
            "WORKDIR /w",
            "USER app",
            "VOLUME /data",
            "LABEL made-by=berth-e2e",
            "STOPSIGNAL SIGUSR1",
        ];
        let tar = busybox_tar().to_str().unwrap().to_string();
        let args = |changes: &[&'static str]| {
            let mut a: Vec<String> = vec!["import".into()];
            for c in changes {
                a.push("--change".into());
                a.push(c.to_string());
            }
            a.push(tar.clone());
            a.push(r.clone());
            a
        };
        let full = args(&changes);
        let o = self.cmd(&full.iter().map(String::as_str).collect::<Vec<_>>());
        if o.success() {
            return (r, true);
        }
        assert!(
            self.is_docker()
                && o.stderr
                    .contains("stopsignal is not a valid change command"),
            "import failed: {o:?}"
        );
        changes.pop();
        let part = args(&changes);
        self.ok(&part.iter().map(String::as_str).collect::<Vec<_>>());
        (r, false)
    }

    /// `inspect -f FORMAT NAME`, trimmed; panics on failure.
    #[track_caller]
    pub fn inspect_f(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name]).trim().to_string()
    }

    /// `inspect NAME` parsed; the first element of the array.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        first_inspected(name, &self.ok(&["inspect", name]))
    }

    /// `.State.Status` or None if the container does not exist.
    pub fn status(&self, name: &str) -> Option<String> {
        let o = self.cmd(&["inspect", "-f", "{{.State.Status}}", name]);
        o.success().then(|| o.out().to_string())
    }

    /// Poll `inspect -f FORMAT` until `pred`; panics with the last value.
    #[track_caller]
    pub fn wait_inspect(
        &self,
        name: &str,
        format: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        poll_inspect(name, format, timeout, pred, |a| self.cmd(a))
    }

    /// Wait until the container's status is `want`.
    #[track_caller]
    pub fn wait_status(&self, name: &str, want: &str, timeout: Duration) {
        self.wait_inspect(name, "{{.State.Status}}", timeout, |s| s == want);
    }

    /// Names of all containers (`ps -a --format {{.Names}}`) that belong
    /// to this test.
    pub fn container_names(&self) -> Vec<String> {
        let o = self.cmd(&["ps", "-a", "--format", "{{.Names}}"]);
        o.stdout
            .lines()
            .map(str::trim)
            .filter(|n| self.is_berth() || n.starts_with(&self.prefix))
            .map(str::to_string)
            .collect()
    }

    /// Container ids of this test (all containers for berth; for docker the
    /// ones named with the prefix or made from this test's images).
    fn own_container_ids(&self) -> Vec<String> {
        let run = |args: &[&str]| -> Vec<String> {
            let mut cmd = self.command_args(args);
            cmd.stdin(Stdio::null()).stderr(Stdio::null());
            cmd.output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut ids = Vec::new();
        match self.kind {
            EngineKind::Berth => ids.extend(run(&["ps", "-aq"])),
            EngineKind::Docker => {
                let f = format!("name={}", self.prefix);
                ids.extend(run(&["ps", "-aq", "--filter", &f]));
                let l = format!("label={}", self.test_label());
                ids.extend(run(&["ps", "-aq", "--filter", &l]));
                for img in self.images.borrow().iter() {
                    let f = format!("ancestor={img}");
                    ids.extend(run(&["ps", "-aq", "--filter", &f]));
                }
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    fn quiet(&self, args: &[&str]) {
        run_bounded(
            self.command_args(args),
            Stdio::null(),
            Duration::from_secs(30),
        );
    }

    fn cleanup(&mut self) {
        for c in self.children.borrow_mut().iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let ids = self.own_container_ids();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            self.quiet(&args);
        }
        match self.kind {
            EngineKind::Docker => {
                let f = format!("name={}", self.prefix);
                let vols: Vec<String> = {
                    let mut cmd = self.command_args(&["volume", "ls", "-q", "--filter", &f]);
                    cmd.stdin(Stdio::null()).stderr(Stdio::null());
                    cmd.output()
                        .map(|o| {
                            String::from_utf8_lossy(&o.stdout)
                                .split_whitespace()
                                .filter(|v| v.starts_with(&self.prefix))
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                if !vols.is_empty() {
                    let mut args = vec!["volume", "rm", "-f"];
                    args.extend(vols.iter().map(String::as_str));
                    self.quiet(&args);
                }
                let imgs = self.images.borrow().clone();
                if !imgs.is_empty() {
                    let mut args = vec!["rmi", "-f"];
                    args.extend(imgs.iter().map(String::as_str));
                    self.quiet(&args);
                }
            }
            EngineKind::Berth => {
                self.quiet(&["volume", "prune", "-f", "-a"]);
                // the test root's own default bridge and user networks
                self.quiet(&["network", "prune", "-f"]);
                self.quiet(&["volume", "prune", "-f"]);
                let root = self.root.clone().unwrap();
                // Whatever berth left running for this root (monitors).
                for pid in pids_with_cmdline(root.to_str().unwrap()) {
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        unmount_under(&self.path);
        if let Some(dir) = self.dir.take() {
            remove_test_dir(dir);
        }
    }

    /// Mount points at or under this test's temp dir (berth root included).
    pub fn mounts_under_root(&self) -> Vec<String> {
        let p = self.path.to_string_lossy().to_string();
        mount_points()
            .into_iter()
            .filter(|m| m == &p || m.starts_with(&format!("{p}/")))
            .collect()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Cleanup must never panic (we may already be unwinding).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.cleanup()));
    }
}

/// The first element of `inspect NAME`'s JSON array `out`; panics when it
/// is not one.
#[track_caller]
pub fn first_inspected(name: &str, out: &str) -> Value {
    let v: Value = serde_json::from_str(out)
        .unwrap_or_else(|e| panic!("inspect {name}: not JSON ({e}): {out}"));
    v.as_array()
        .and_then(|a| a.first().cloned())
        .unwrap_or_else(|| panic!("inspect {name}: expected a one-element array: {out}"))
}

/// Poll `inspect -f FORMAT NAME` (run by `cmd`, which gets the arguments
/// after the program) until `pred`; panics with the last value.
#[track_caller]
pub fn poll_inspect(
    name: &str,
    format: &str,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
    cmd: impl Fn(&[&str]) -> Output,
) -> String {
    let start = Instant::now();
    loop {
        let o = cmd(&["inspect", "-f", format, name]);
        if o.success() && pred(o.out()) {
            return o.out().to_string();
        }
        if start.elapsed() > timeout {
            panic!("{name}: `inspect -f {format}` not as expected within {timeout:?}; last: {o:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Skip the rest of a test (eprintln + return) unless running as root.
#[macro_export]
macro_rules! engine {
    () => {{
        if !$crate::is_root() {
            eprintln!("SKIP: engine tests need root (euid 0)");
            return;
        }
        $crate::engine::Engine::new()
    }};
}

/// Skip a berth-only test when the suite runs against docker.
#[macro_export]
macro_rules! berth_only {
    ($e:expr, $why:expr) => {
        if $e.is_docker() {
            eprintln!("SKIP (berth only): {}", $why);
            return;
        }
    };
}
