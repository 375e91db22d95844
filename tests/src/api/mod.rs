//! The Docker Engine API under test, driven by real clients (the docker CLI,
//! docker-compose, docker-py) exactly as a user drives them.
//!
//! Every test starts its own [`ApiServer`] on its own unix socket in a fresh
//! temp dir:
//! - berth (default): `berth --root <tmp>/root serve -H unix://<tmp>/api.sock`;
//! - docker (`BERTH_TEST_ENGINE=docker`): a private `dockerd` (the reference
//!   implementation) on `<tmp>/data`, `<tmp>/exec`, its own default bridge
//!   (made here, with a free subnet) and `--iptables=false`, so that several
//!   daemons and berth roots coexist on one host;
//! - docker on berth-runtime (`BERTH_TEST_ENGINE=docker-berth`): the same
//!   dockerd with `--add-runtime berth=<berth-runtime> --default-runtime berth`.
//!
//! Dropping the server (also on panic) removes what the test made: containers,
//! networks and volumes, the server process and whatever it left running
//! (monitors, containerd shims, port proxies), mounts under the temp dir, the
//! temp dir itself (unless `BERTH_E2E_KEEP` is set).
//!
//! Images come from the busybox rootfs built locally from Debian's
//! busybox-static ([`crate::engine::busybox_tar`]), imported through the API
//! with `docker import` ([`ApiServer::busybox`]).

use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cmd::{run_bounded, run_with_timeout, Output, Stdin};
use crate::engine::{
    berth_bin, busybox_tar, docker_on_berth, first_inspected, pid_alive, pids_with_cmdline,
    poll_inspect, EngineKind, Spawned,
};
use crate::env::{make_test_dir, remove_test_dir, unmount_under};
use crate::runtime::berth_runtime_bin;

mod host;
mod http;
mod registry;

pub use host::{ensure_group, free_port, group_gid, group_name, shell_quote, wait_until, which};
use host::{free_bridge_subnet, random_u64};
use http::parse_http;
pub use http::HttpResponse;
pub use registry::Registry;

/// Default timeout of one client command.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the server gets to answer `/_ping` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(40);

/// The group berth serve gives its socket unless told otherwise.
pub const DEFAULT_GROUP: &str = "berth";

/// A long-running client command (`logs -f`, `events`...): output goes to
/// files the test polls; the process group is killed at drop.
pub type Bg = Spawned;

/// Options of [`ApiServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--group NAME` (berth) / `-G NAME` (dockerd); the group is deleted at
    /// drop.  None: berth's default group `berth`.
    pub group: Option<String>,
}

/// One test's API server.  See the module docs.
pub struct ApiServer {
    pub kind: EngineKind,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// The unix socket.
    pub sock: PathBuf,
    /// `unix://<sock>`, for DOCKER_HOST.
    pub host: String,
    /// berth's `--root`, or dockerd's `--data-root`.
    pub root: PathBuf,
    /// The group the socket should belong to.
    pub group: String,
    delete_group: bool,
    child: Option<Child>,
    log_path: PathBuf,
    bridge: Option<String>,
    seq: Cell<u32>,
    busybox: OnceLock<String>,
    bgs: RefCell<Vec<i32>>,
}

impl ApiServer {
    /// A fresh server for one test (berth's default group).  Needs root.
    pub fn start() -> ApiServer {
        ApiServer::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> ApiServer {
        let kind = EngineKind::from_env();
        // (0755: traversable by the unprivileged users of the socket tests)
        let (dir, path) = make_test_dir("berth-api-");
        std::fs::create_dir_all(path.join("docker-config")).unwrap();
        let sock = path.join("api.sock");
        let host = format!("unix://{}", sock.display());
        let log_path = path.join("server.log");
        let group = opts
            .group
            .clone()
            .unwrap_or_else(|| DEFAULT_GROUP.to_string());
        let mut server = ApiServer {
            kind,
            dir: Some(dir),
            path: path.clone(),
            sock: sock.clone(),
            host: host.clone(),
            root: PathBuf::new(),
            group: group.clone(),
            delete_group: opts.group.is_some(),
            child: None,
            log_path: log_path.clone(),
            bridge: None,
            seq: Cell::new(0),
            busybox: OnceLock::new(),
            bgs: RefCell::new(Vec::new()),
        };
        let log = File::create(&log_path).unwrap();
        let mut cmd = match kind {
            EngineKind::Berth => {
                let bin = berth_bin();
                assert!(
                    bin.is_file(),
                    "berth binary {} not found; build it with `cargo build -p berth-cli` or set BERTH_BIN",
                    bin.display()
                );
                server.root = path.join("root");
                let mut c = Command::new(bin);
                c.arg("--root")
                    .arg(&server.root)
                    .arg("serve")
                    .arg("-H")
                    .arg(&host);
                if let Some(g) = &opts.group {
                    c.arg("--group").arg(g);
                }
                c
            }
            EngineKind::Docker => {
                assert!(
                    which("dockerd").is_some(),
                    "BERTH_TEST_ENGINE=docker but no dockerd on PATH"
                );
                // dockerd does not create its socket's group: do it here, as
                // berth serve does itself.
                ensure_group(&group);
                server.root = path.join("data");
                let bridge = server.make_bridge();
                let pool = format!("base=10.{}.0.0/16,size=24", 160 + random_u64() % 60);
                let mut c = Command::new("dockerd");
                c.arg("--data-root")
                    .arg(&server.root)
                    .arg("--exec-root")
                    .arg(path.join("exec"))
                    .arg("--pidfile")
                    .arg(path.join("dockerd.pid"))
                    .arg("-H")
                    .arg(&host)
                    .arg("-G")
                    .arg(&group)
                    .arg(format!("--bridge={bridge}"))
                    .args(["--iptables=false", "--ip6tables=false"])
                    .arg("--default-address-pool")
                    .arg(pool);
                if docker_on_berth() {
                    let rt = berth_runtime_bin();
                    assert!(rt.is_file(), "no berth-runtime at {}", rt.display());
                    c.arg("--add-runtime")
                        .arg(format!("berth={}", rt.display()))
                        .args(["--default-runtime", "berth"]);
                }
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        let child = cmd.spawn().expect("spawn the API server");
        server.child = Some(child);
        // From here on a panic drops `server`, which cleans up.
        let start = Instant::now();
        loop {
            if server.ping() {
                break;
            }
            if let Some(c) = server.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "the API server exited ({st}) before answering /_ping:\n{}",
                        server.server_log()
                    );
                }
            }
            if start.elapsed() > START_TIMEOUT {
                panic!(
                    "the API server did not answer /_ping on {} within {START_TIMEOUT:?}:\n{}",
                    sock.display(),
                    server.server_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if docker_on_berth() {
            let info = server.http("GET", "/info", None).expect("GET /info");
            let info: Value = serde_json::from_str(&info.text()).expect("/info is JSON");
            assert_eq!(info["DefaultRuntime"], "berth", "dockerd's default runtime");
        }
        server
    }

    /// A bridge with a free /24 for dockerd's default network.
    fn make_bridge(&mut self) -> String {
        let suffix: String = self
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("berth-api-")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let name = format!("bta{}", &suffix[..suffix.len().min(10)]);
        let (net, _) = free_bridge_subnet();
        let gw = std::net::Ipv4Addr::from(net | 1);
        let ip = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(st.success(), "ip {args:?} failed");
        };
        ip(&["link", "add", "name", &name, "type", "bridge"]);
        self.bridge = Some(name.clone());
        ip(&["addr", "add", &format!("{gw}/24"), "dev", &name]);
        ip(&["link", "set", &name, "up"]);
        name
    }

    /// The server process's pid (berth serve, or dockerd).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(-1)
    }

    pub fn is_docker(&self) -> bool {
        self.kind == EngineKind::Docker
    }

    pub fn is_berth(&self) -> bool {
        self.kind == EngineKind::Berth
    }

    /// The test's temp dir (files for bind mounts, cp, builds...).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the server printed on stderr/stdout so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `n` lines of the server's log, for failure messages.
    pub fn server_log_tail(&self, n: usize) -> String {
        let log = self.server_log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn tag(&self, what: &str) -> String {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        let what: String = what
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(20)
            .collect();
        format!("{n:03}-{what}")
    }

    /// A command with the client environment: DOCKER_HOST pointing at this
    /// server, a private DOCKER_CONFIG, no TLS or context overrides.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.path.join("docker-config"))
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_BUILDKIT")
            .current_dir(&self.path);
        c
    }

    /// Run a prepared command with captured output and a timeout (panics
    /// on timeout).
    pub fn run(&self, cmd: Command, stdin: Stdin<'_>, timeout: Duration) -> Output {
        // Named after the first words that are neither flags nor paths.
        let what = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.starts_with('-') && !a.contains('/'))
            .take(2)
            .collect::<Vec<_>>()
            .join("-");
        let prog = Path::new(cmd.get_program())
            .file_name()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tag = self.tag(&format!("{prog}-{what}"));
        run_with_timeout(cmd, &self.path.join("io"), &tag, stdin, timeout)
    }

    /// `docker ARGS...` against this server (stdin /dev/null, 60 s).
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_with(args, &[], Stdin::Null, CLIENT_TIMEOUT)
    }

    /// `docker ARGS...` with extra environment, stdin and timeout.
    pub fn docker_with(
        &self,
        args: &[&str],
        envs: &[(&str, &str)],
        stdin: Stdin<'_>,
        timeout: Duration,
    ) -> Output {
        let mut c = self.command("docker");
        c.args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        self.run(c, stdin, timeout)
    }

    /// `docker ARGS...`, asserting exit 0; returns stdout.
    #[track_caller]
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        // (the server's log is printed when the server is dropped)
        o.ok();
        o.stdout
    }

    /// `docker ARGS...`, asserting a non-zero exit.
    #[track_caller]
    pub fn docker_fails(&self, args: &[&str]) -> Output {
        let o = self.docker(args);
        o.fails();
        o
    }

    /// `docker ARGS...` on a pseudo-terminal (`script -qec`), `input` typed
    /// on it; the output is what the terminal showed.
    pub fn docker_pty(&self, args: &[&str], input: &[u8], timeout: Duration) -> Output {
        let mut line = String::from("docker");
        for a in args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        let mut c = self.command("script");
        c.args(["-qec", &line, "/dev/null"]);
        self.run(c, Stdin::Data(input), timeout)
    }

    /// Start `docker ARGS...` in the background.
    pub fn docker_bg(&self, args: &[&str]) -> Bg {
        let mut c = self.command("docker");
        c.args(args);
        self.spawn(c)
    }

    /// Start a prepared command in the background (own process group,
    /// killed when the returned [`Bg`] or the server is dropped).
    pub fn spawn(&self, cmd: Command) -> Bg {
        let cmdline = format!(
            "{} {}",
            cmd.get_program().to_string_lossy(),
            cmd.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let tag = self.tag(&format!(
            "bg-{}",
            cmd.get_args()
                .next()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let bg = Spawned::start(cmd, cmdline, &self.path.join("io"), &tag, false);
        self.bgs.borrow_mut().extend(bg.pid());
        bg
    }

    /// `berth --root R ARGS...` on the server's own state root (berth only).
    pub fn berth(&self, args: &[&str]) -> Output {
        assert!(self.is_berth(), "berth CLI on a dockerd server");
        let mut c = Command::new(berth_bin());
        c.arg("--root").arg(&self.root).args(args);
        self.run(c, Stdin::Null, CLIENT_TIMEOUT)
    }

    /// `berth --root R ARGS...`, asserting exit 0; returns stdout.
    #[track_caller]
    pub fn berth_ok(&self, args: &[&str]) -> String {
        let o = self.berth(args);
        o.ok();
        o.stdout
    }

    /// The local busybox image (`CMD ["sh"]`), imported through the API as
    /// `busybox:latest` once per server; returns `busybox`.
    pub fn busybox(&self) -> &str {
        self.busybox.get_or_init(|| {
            self.import_busybox("busybox:latest");
            "busybox".to_string()
        })
    }

    /// `docker import --change 'CMD ["sh"]' <busybox rootfs tar> REF`.
    #[track_caller]
    pub fn import_busybox(&self, reference: &str) {
        let tar = busybox_tar().to_str().unwrap().to_string();
        self.docker_ok(&["import", "--change", "CMD [\"sh\"]", &tar, reference]);
    }

    /// `docker inspect NAME` parsed: the first element of the array.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> Value {
        first_inspected(name, &self.docker_ok(&["inspect", name]))
    }

    /// `docker inspect -f FORMAT NAME`, trimmed.
    #[track_caller]
    pub fn inspect_f(&self, name: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, name])
            .trim()
            .to_string()
    }

    /// Poll `inspect -f FORMAT NAME` until `pred`; panics with the last value.
    #[track_caller]
    pub fn wait_inspect(
        &self,
        name: &str,
        format: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        poll_inspect(name, format, timeout, pred, |a| self.docker(a))
    }

    /// One HTTP/1.1 request on the socket (`Connection: close`), the whole
    /// response read (chunked bodies decoded).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<HttpResponse> {
        let body = body.map(|b| ("application/json", b.as_bytes()));
        self.http_bytes(method, path, body)
    }

    /// [`ApiServer::http`] with any body: `(content type, bytes)`.
    pub fn http_bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> std::io::Result<HttpResponse> {
        let mut s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_write_timeout(Some(Duration::from_secs(20)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: api\r\nUser-Agent: berth-e2e\r\nConnection: close\r\n");
        if let Some((ctype, b)) = body {
            req.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut req = req.into_bytes();
        if let Some((_, b)) = body {
            req.extend_from_slice(b);
        }
        s.write_all(&req)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse_http(&raw, method == "HEAD")
    }

    /// Does `GET /_ping` answer 200 `OK`?
    pub fn ping(&self) -> bool {
        matches!(self.http("GET", "/_ping", None), Ok(r) if r.status == 200 && r.text() == "OK")
    }

    /// Pids of processes started for this server (berth's monitors, dockerd's
    /// containerd and shims, docker-proxy...): those whose command line names
    /// the temp dir.
    fn leftover_pids(&self) -> Vec<i32> {
        pids_with_cmdline(self.path.to_str().unwrap())
    }

    /// A bounded, output-less command for cleanup.
    fn quiet(&self, cmd: Command, limit: Duration) -> String {
        let out = self
            .path
            .join("io")
            .join(format!("{}.cleanup", self.tag("c")));
        run_bounded(cmd, File::create(&out).unwrap().into(), limit);
        std::fs::read_to_string(&out).unwrap_or_default()
    }

    fn stop_server(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id() as i32;
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn cleanup(&mut self) {
        for pid in self.bgs.borrow().iter() {
            unsafe {
                libc::killpg(*pid, libc::SIGKILL);
            }
        }
        match self.kind {
            EngineKind::Docker => {
                // Through the daemon first, then stop it.
                if self.child.is_some() {
                    let mut c = self.command("docker");
                    c.args(["ps", "-aq"]);
                    let ids = self.quiet(c, Duration::from_secs(20));
                    let ids: Vec<&str> = ids.split_whitespace().collect();
                    if !ids.is_empty() {
                        let mut c = self.command("docker");
                        c.args(["rm", "-f", "-v"]).args(&ids);
                        self.quiet(c, Duration::from_secs(30));
                    }
                    let mut c = self.command("docker");
                    c.args(["network", "prune", "-f"]);
                    self.quiet(c, Duration::from_secs(20));
                }
                self.stop_server();
            }
            EngineKind::Berth => {
                // Stop the server, then clean its root with the berth CLI
                // (which does not depend on the API working).
                self.stop_server();
                let bin = berth_bin();
                let berth = |args: &[&str]| {
                    let mut c = Command::new(&bin);
                    c.arg("--root").arg(&self.root).args(args);
                    c
                };
                if self.root.exists() {
                    let ids = self.quiet(berth(&["ps", "-aq"]), Duration::from_secs(20));
                    let ids: Vec<&str> = ids.split_whitespace().collect();
                    if !ids.is_empty() {
                        let mut c = berth(&["rm", "-f", "-v"]);
                        c.args(&ids);
                        self.quiet(c, Duration::from_secs(30));
                    }
                    // the root's user networks and its own default bridge
                    self.quiet(berth(&["network", "prune", "-f"]), Duration::from_secs(20));
                    self.quiet(
                        berth(&["volume", "prune", "-f", "-a"]),
                        Duration::from_secs(20),
                    );
                }
            }
        }
        // Whatever is still running for this temp dir (monitors, shims,
        // containerd, docker-proxy, registry...).
        for _ in 0..3 {
            let pids = self.leftover_pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            wait_until(Duration::from_secs(2), || {
                self.leftover_pids().iter().all(|p| !pid_alive(*p))
            });
        }
        unmount_under(&self.path);
        if let Some(br) = self.bridge.take() {
            let _ = Command::new("ip")
                .args(["link", "del", &br])
                .stderr(Stdio::null())
                .status();
        }
        if self.delete_group {
            let _ = Command::new("groupdel")
                .arg(&self.group)
                .stderr(Stdio::null())
                .status();
        }
        if let Some(dir) = self.dir.take() {
            remove_test_dir(dir);
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // dockerd's info lines are noise; berth logs one line a request.
            let log = self.server_log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| !(self.is_docker() && l.contains("level=info")))
                .collect();
            eprintln!(
                "--- API server log (tail) {}:\n{}",
                self.log_path.display(),
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
        // Cleanup must never panic (we may already be unwinding).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.cleanup()));
    }
}
