//! The monitor: one small process per running container (the berth binary re-executed as
//! `berth __monitor`). It is the container init's parent, so it alone gets the exit status; it
//! owns the container's stdio (pipes, or the pty master), writes the json-file log, serves
//! attach clients on a unix socket, records the exit code and OOM kill, and applies the restart
//! policy. `berth` itself returns as soon as the container runs.
//!
//! Attach stream: frames of `[kind u8][len u32 BE][payload]`. Client → monitor: STDIN, STDIN_EOF,
//! RESIZE (rows u16, cols u16). Monitor → client: STDOUT, STDERR, EXIT (i32 BE, sent after the
//! container is fully stopped -- and removed with `--rm`), ERROR (start failure text).

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::logs::{LogWriter, Stream};
use crate::types::Container;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN_EOF: u8 = 4;
pub const RESIZE: u8 = 5;
pub const ERROR: u8 = 6;

/// The fd the monitor reports its start outcome on.

pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(5 + data.len());
    buf.push(kind);
    buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
    buf.extend_from_slice(data);
    w.write_all(&buf)
}

pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        r => r?,
    }
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((h[0], data)))
}

// ------------------------------------------------------------------ spawning

/// How the monitor reported its start.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct SyncMsg {
    /// the monitor's pid, sent first: the starter watches it, as the pipe's EOF never comes
    /// when a monitor dies while the container's init (a clone holding the pipe) waits
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monitor: Option<i32>,
    #[serde(default)]
    listening: bool,
    #[serde(default)]
    pid: i64,
    #[serde(default)]
    error: Option<String>,
}

/// Start a monitor for container `id` (double fork: it is nobody's child, so `berth` can exit
/// and a long-running `berth serve` never has to reap it). Returns once the container runs, or
/// with `attach` once the monitor listens for the client that will see it start.
pub fn spawn(engine: &Engine, id: &str, attach: bool) -> Result<()> {
    spawn_with(engine, id, attach, None)
}

/// Start a monitor and connect its first client (`connect`, called once it listens) before
/// the process starts, so the client sees everything the container writes and its exit code;
/// returns once the process runs, or the start error.
pub fn spawn_connected(
    engine: &Engine,
    id: &str,
    connect: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    spawn_with(engine, id, true, Some(connect))
}

fn spawn_with(
    engine: &Engine,
    id: &str,
    attach: bool,
    mut connect: Option<&mut dyn FnMut() -> Result<()>>,
) -> Result<()> {
    let dir = engine.monitor_dir(id);
    std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let req = crate::helper::Request::Monitor {
        id: id.to_string(),
        attach,
    };
    crate::helper::spawn_detached(&engine.root, &req, Some(w), None)?;
    let mut sync = SyncReader {
        pipe: std::fs::File::from(r),
        buf: Vec::new(),
        monitor: None,
    };
    loop {
        let msg = sync.next()?;
        if let Some(e) = msg.error {
            return Err(Error::Other(e));
        }
        if msg.listening && attach {
            match connect.as_mut() {
                Some(f) => f()?,
                None => return Ok(()),
            }
            continue;
        }
        if msg.pid > 0 {
            return Ok(());
        }
    }
}

/// The starter's end of the monitor's sync pipe: one JSON message a line.
struct SyncReader {
    pipe: std::fs::File,
    buf: Vec<u8>,
    /// (pid, start time) of the monitor, once it said
    monitor: Option<(i32, u64)>,
}

impl SyncReader {
    /// The next message other than the monitor's pid; an error when the monitor died first.
    fn next(&mut self) -> Result<SyncMsg> {
        let died =
            || Error::Other("the container monitor exited before the container started".into());
        loop {
            if let Some(at) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=at).collect();
                let msg: SyncMsg = serde_json::from_slice(&line)?;
                match msg.monitor {
                    Some(pid) => {
                        let start = runtime::util::proc_stat(pid).ok_or_else(died)?.1;
                        self.monitor = Some((pid, start));
                    }
                    None => return Ok(msg),
                }
                continue;
            }
            let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Ok(0) => {
                    if self
                        .monitor
                        .is_some_and(|(pid, start)| !runtime::util::process_alive(pid, start))
                    {
                        return Err(died());
                    }
                    continue;
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "reading from the monitor".into()),
                Ok(_) => {}
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .pipe
                .read(&mut chunk)
                .ctx(|| "reading from the monitor".into())?;
            if n == 0 {
                return Err(died());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

// ------------------------------------------------------------------ the monitor process

struct Client {
    sock: UnixStream,
    buf: Vec<u8>,
    wants_stdin: bool,
}

struct Stdio {
    /// container stdout/stderr read ends (None: closed or tty)
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    /// our end of the container's stdin
    stdin: Option<OwnedFd>,
    /// pty master when Tty
    master: Option<OwnedFd>,
}

fn report(sync: &mut Option<std::fs::File>, msg: &SyncMsg) {
    if let Some(f) = sync {
        let mut line = serde_json::to_string(msg).unwrap_or_default();
        line.push('\n');
        let _ = f.write_all(line.as_bytes());
    }
}

/// Entry point of `berth __monitor ID [--attach]`. Exit status is for debugging only.
pub fn main(root: &Path, id: &str, attach: bool) -> i32 {
    let mut sync = crate::helper::inherited_sync_fd();
    report(
        &mut sync,
        &SyncMsg {
            monitor: Some(std::process::id() as i32),
            listening: false,
            pid: 0,
            error: None,
        },
    );
    match run(root, id, attach, &mut sync) {
        Ok(()) => 0,
        Err(e) => {
            report(
                &mut sync,
                &SyncMsg {
                    monitor: None,
                    listening: false,
                    pid: 0,
                    error: Some(e.to_string()),
                },
            );
            1
        }
    }
}

fn run(root: &Path, id: &str, attach: bool, sync: &mut Option<std::fs::File>) -> Result<()> {
    let engine = Engine::open(root)?;
    let dir = engine.monitor_dir(id);
    std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
    // the runtime's warnings (e.g. syscalls this libseccomp does not know) go to a log file,
    // never into the container's own stderr
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runtime.log"))
    {
        runtime::log::init(Some(f), false, false);
    }
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(engine.lock_path(id))
        .ctx(|| "open monitor lock".into())?;
    // SAFETY: flock on an fd we own; held until this process exits.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::Conflict(format!(
            "container {id} already has a monitor"
        )));
    }
    // SAFETY: prctl with constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(
            libc::PR_SET_NAME,
            c"berth-monitor".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    // Every signal is blocked: the monitor outlives terminal hangups and stray SIGTERMs; SIGCHLD
    // is read from a signalfd.
    let _ = SigSet::all().thread_block();
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let sfd = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .ctx(|| "signalfd".into())?;

    let sock_path = engine.attach_socket(id);
    let _ = std::fs::remove_file(&sock_path);
    let listener = short_path(&sock_path, |p| UnixListener::bind(p))
        .ctx(|| format!("bind {}", sock_path.display()))?;
    let _ = std::fs::set_permissions(
        &sock_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    );
    let c = engine
        .store
        .get(id)?
        .ok_or_else(|| Error::NoSuchContainer(id.into()))?;
    let mut log = if c.log_path.is_empty() {
        None
    } else {
        Some(LogWriter::open(
            Path::new(&c.log_path),
            &c.host_config.log_config.config,
        )?)
    };

    let mut clients: Vec<Client> = Vec::new();
    if attach {
        report(
            sync,
            &SyncMsg {
                monitor: None,
                listening: true,
                pid: 0,
                error: None,
            },
        );
        // the attaching client connects right away; do not start without it
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut fds, PollTimeout::from(30_000u16)), Ok(n) if n > 0) {
            if let Ok((s, _)) = listener.accept() {
                clients.push(new_client(s));
            }
        }
    }
    listener.set_nonblocking(true).ctx(|| "listener".into())?;

    let mut m = Mon {
        engine: &engine,
        id: id.to_string(),
        log: log.take(),
        clients,
        listener,
        sfd,
    };
    let mut first = true;
    let mut backoff = Duration::from_millis(100);
    loop {
        let c = engine
            .store
            .get(id)?
            .ok_or_else(|| Error::NoSuchContainer(id.into()))?;
        let started_at = Instant::now();
        let (pid, stdio) = match m.start(&c) {
            Ok(x) => x,
            Err(e) => {
                // (the network may have been plugged in before the start failed)
                crate::net::teardown(&engine, id);
                let msg = e.to_string();
                let code = i64::from(failure_code(&msg, 128));
                let _ = engine
                    .store
                    .update(id, |c| c.state.set_start_failed(code, msg.clone()));
                let _ = engine.runtime.delete(id, true);
                if first {
                    m.broadcast(ERROR, msg.as_bytes());
                    m.broadcast(EXIT, &(code as i32).to_be_bytes());
                    report(
                        sync,
                        &SyncMsg {
                            monitor: None,
                            listening: false,
                            pid: 0,
                            error: Some(msg),
                        },
                    );
                    if c.host_config.auto_remove {
                        let c = engine.store.get(id)?.unwrap_or(c);
                        let _ = engine.destroy(&c, true);
                    } else {
                        engine.unmount_rootfs(&c);
                    }
                    return Ok(());
                }
                m.finish(&c, code);
                return Ok(());
            }
        };
        if first {
            report(
                sync,
                &SyncMsg {
                    monitor: None,
                    listening: false,
                    pid: pid as i64,
                    error: None,
                },
            );
            *sync = None;
            first = false;
        }
        // The monitor lives as long as the container: hand back to the kernel what starting
        // it needed (spec parsing, runtime setup) so it idles on a few hundred KiB.
        engine.close_networks();
        // SAFETY: malloc_trim only releases free heap memory.
        unsafe {
            libc::malloc_trim(0);
        }
        let code = m.serve(pid, stdio, &c);
        let oom = m.oom_killed();
        crate::events::died(&engine, &c, code, oom, started_at.elapsed());
        let _ = engine.runtime.delete(id, true);
        crate::net::teardown(&engine, id);
        let ran = started_at.elapsed();
        let c = engine
            .store
            .update(id, |c| c.state.set_stopped(code, oom))?;
        if should_restart(&c, code) {
            if ran >= Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            engine.store.update(id, |c| {
                c.state.set_restarting();
                c.restart_count += 1;
            })?;
            if m.sleep_unless_stopped(backoff) {
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        }
        m.finish(&c, code);
        return Ok(());
    }
}

fn should_restart(c: &Container, code: i64) -> bool {
    if c.internal.manually_stopped || c.host_config.auto_remove || c.internal.removing {
        return false;
    }
    let rp = &c.host_config.restart_policy;
    match rp.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            code != 0 && (rp.maximum_retry_count == 0 || c.restart_count < rp.maximum_retry_count)
        }
        _ => false,
    }
}

/// The docker CLI's exit status for a process that could not be started: 127 when something
/// was not found, 126 when it was not allowed, else `other`.
pub fn failure_code(msg: &str, other: i32) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        other
    }
}

fn new_client(s: UnixStream) -> Client {
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    Client {
        sock: s,
        buf: Vec::new(),
        wants_stdin: true,
    }
}

struct Mon<'a> {
    engine: &'a Engine,
    id: String,
    log: Option<LogWriter>,
    clients: Vec<Client>,
    listener: UnixListener,
    sfd: SignalFd,
}

impl Mon<'_> {
    /// Create and start the container with fresh stdio.
    fn start(&mut self, c: &Container) -> Result<(i32, Stdio)> {
        let rt = &self.engine.runtime;
        if rt.root.join(&c.id).exists() {
            let _ = rt.delete(&c.id, true);
        }
        let tty = c.config.tty;
        let mut stdio = Stdio {
            out: None,
            err: None,
            stdin: None,
            master: None,
        };
        let mut opts = runtime::CreateOptions {
            id: c.id.clone(),
            bundle: c.internal.bundle.clone().into(),
            own_terminal: tty,
            ..Default::default()
        };
        if !tty {
            let (out_r, out_w) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
            let (err_r, err_w) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
            if c.config.open_stdin {
                let (r, w) =
                    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
                stdio.stdin = Some(w);
                opts.stdin = Some(r);
            }
            // the container init's fds 0-2
            opts.stdout = Some(out_w);
            opts.stderr = Some(err_w);
            stdio.out = Some(out_r);
            stdio.err = Some(err_r);
        }
        let started = rt.create(&opts);
        // our copies of the init's ends: its exit then closes the pipes
        drop(opts);
        let started = started?;
        fault::point("monitor.runtime-created");
        // the network namespace exists now and nothing runs in it yet: plug it in
        if let Err(e) = crate::net::setup(self.engine, c, started.pid) {
            let _ = rt.delete(&c.id, true);
            crate::net::teardown(self.engine, &c.id);
            return Err(e);
        }
        fault::point("monitor.network-up");
        stdio.master = started.console;
        if let Some(m) = &stdio.master {
            // the client's size when it gave one (before the process starts, so its first
            // look at the terminal sees it), else docker's default
            let (rows, cols) = match c.host_config.console_size.as_deref() {
                Some(&[r, c]) if r > 0 && c > 0 => (r, c),
                _ => (24, 80),
            };
            runtime::tty::set_size(m.as_raw_fd(), rows, cols);
        }
        rt.start(&c.id)?;
        fault::point("monitor.started");
        let pid = started.pid;
        self.engine.store.update(&c.id, |c| {
            c.state.set_running(pid as i64);
            c.internal.monitor_pid = std::process::id() as i64;
        })?;
        fault::point("monitor.running");
        crate::events::container(self.engine, c, "start", &[]);
        Ok((pid, stdio))
    }

    /// Relay output to the log and clients until the init exits; its exit code (128+N for a
    /// signal, as docker reports it).
    fn serve(&mut self, pid: i32, mut stdio: Stdio, c: &Container) -> i64 {
        let mut code: Option<i64> = None;
        let mut drain_deadline: Option<Instant> = None;
        let mut buf = vec![0u8; 16 * 1024];
        let stdin_once = c.config.stdin_once;
        let mut checker =
            crate::health::settings(c.config.healthcheck.as_ref()).map(crate::health::Checker::new);
        if checker.is_some() {
            let _ = self.engine.store.update(&c.id, |c| {
                c.state.health = Some(crate::types::Health {
                    status: "starting".into(),
                    ..Default::default()
                })
            });
        }
        loop {
            if code.is_some()
                && (stdio.out.is_none() && stdio.err.is_none() && stdio.master.is_none()
                    || drain_deadline.is_some_and(|d| Instant::now() > d))
            {
                break;
            }
            let mut fds: Vec<PollFd> = Vec::new();
            let mut what: Vec<u8> = Vec::new();
            fds.push(PollFd::new(self.sfd.as_fd(), PollFlags::POLLIN));
            what.push(b's');
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            what.push(b'l');
            if let Some(f) = &stdio.out {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                what.push(b'o');
            }
            if let Some(f) = &stdio.err {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                what.push(b'e');
            }
            if let Some(f) = &stdio.master {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                what.push(b'm');
            }
            if let Some(f) = checker
                .as_ref()
                .and_then(|h| h.probe.as_ref())
                .and_then(|p| p.out.as_ref())
            {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                what.push(b'h');
            }
            for cl in &self.clients {
                fds.push(PollFd::new(cl.sock.as_fd(), PollFlags::POLLIN));
                what.push(b'c');
            }
            let timeout = if code.is_some() {
                PollTimeout::from(50u16)
            } else if let Some(h) = &checker {
                PollTimeout::try_from(h.timeout().as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::NONE)
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                Err(nix::Error::EINTR) => continue,
                Err(_) => break,
                Ok(_) => {}
            }
            let ready: Vec<(u8, PollFlags)> = fds
                .iter()
                .zip(&what)
                .map(|(f, w)| (*w, f.revents().unwrap_or(PollFlags::empty())))
                .collect();
            drop(fds);
            let mut client_idx = 0;
            let mut drop_clients = Vec::new();
            for (w, rev) in ready {
                if w == b'c' {
                    let i = client_idx;
                    client_idx += 1;
                    if rev.is_empty() {
                        continue;
                    }
                    if !self.client_input(i, &mut stdio, stdin_once) {
                        drop_clients.push(i);
                    }
                    continue;
                }
                if rev.is_empty() {
                    continue;
                }
                match w {
                    b's' => {
                        while let Ok(Some(_)) = self.sfd.read_signal() {}
                        loop {
                            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                                Ok(WaitStatus::StillAlive) | Err(_) => break,
                                Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => {
                                    code = Some(c as i64)
                                }
                                Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                                    code = Some(128 + s as i64)
                                }
                                Ok(WaitStatus::Exited(p, c)) => {
                                    if let Some(h) = &mut checker {
                                        h.reaped(p.as_raw(), c as i64);
                                    }
                                }
                                Ok(WaitStatus::Signaled(p, s, _)) => {
                                    if let Some(h) = &mut checker {
                                        h.reaped(p.as_raw(), 128 + s as i64);
                                    }
                                }
                                Ok(_) => {}
                            }
                        }
                        if code.is_some() && drain_deadline.is_none() {
                            drain_deadline = Some(Instant::now() + Duration::from_millis(500));
                        }
                    }
                    b'h' => {
                        if let Some(h) = &mut checker {
                            h.read_output();
                        }
                    }
                    b'l' => {
                        while let Ok((s, _)) = self.listener.accept() {
                            let _ = s.set_nonblocking(false);
                            self.clients.push(new_client(s));
                        }
                    }
                    b'o' | b'e' | b'm' => {
                        let (slot, stream, kind) = match w {
                            b'o' => (&mut stdio.out, Stream::Stdout, STDOUT),
                            b'e' => (&mut stdio.err, Stream::Stderr, STDERR),
                            _ => (&mut stdio.master, Stream::Stdout, STDOUT),
                        };
                        let r = match slot.as_ref() {
                            Some(f) => nix::unistd::read(f, &mut buf),
                            None => Ok(0),
                        };
                        match r {
                            Ok(0) | Err(_) => {
                                // EOF (EIO on a pty master once the slave is gone)
                                *slot = None;
                            }
                            Ok(n) => {
                                if let Some(l) = &mut self.log {
                                    let _ = l.write(stream, &buf[..n]);
                                }
                                let data = buf[..n].to_vec();
                                self.broadcast(kind, &data);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(h) = &mut checker {
                if code.is_none() {
                    h.finish_if_done(self.engine, &c.id);
                    h.maybe_start(self.engine, c);
                }
            }
            drop_clients.sort_unstable();
            for i in drop_clients.into_iter().rev() {
                let cl = self.clients.remove(i);
                if stdin_once && cl.wants_stdin {
                    stdio.stdin = None;
                }
            }
        }
        if let Some(l) = &mut self.log {
            let _ = l.flush();
        }
        code.unwrap_or(137)
    }

    /// Handle input from client `i`; false when it went away.
    fn client_input(&mut self, i: usize, stdio: &mut Stdio, stdin_once: bool) -> bool {
        let mut tmp = [0u8; 32 * 1024];
        let n = match (&self.clients[i].sock).read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let cl = &mut self.clients[i];
        cl.buf.extend_from_slice(&tmp[..n]);
        loop {
            if cl.buf.len() < 5 {
                return true;
            }
            let len = u32::from_be_bytes([cl.buf[1], cl.buf[2], cl.buf[3], cl.buf[4]]) as usize;
            if cl.buf.len() < 5 + len {
                return true;
            }
            let kind = cl.buf[0];
            let data: Vec<u8> = cl.buf[5..5 + len].to_vec();
            cl.buf.drain(..5 + len);
            match kind {
                STDIN => {
                    let target = stdio.master.as_ref().or(stdio.stdin.as_ref());
                    if let Some(fd) = target {
                        let _ = write_all_fd(fd.as_raw_fd(), &data);
                    }
                }
                // docker closes the container's stdin at the client's EOF only with StdinOnce
                // (`run -i`); a later `attach` to a `-d -i` container leaves it open
                STDIN_EOF if stdin_once => {
                    if stdio.master.is_some() {
                        // ^D on a terminal
                        if let Some(m) = &stdio.master {
                            let _ = write_all_fd(m.as_raw_fd(), &[4]);
                        }
                    } else {
                        stdio.stdin = None;
                    }
                }
                RESIZE if data.len() == 4 => {
                    if let Some(m) = &stdio.master {
                        let rows = u16::from_be_bytes([data[0], data[1]]);
                        let cols = u16::from_be_bytes([data[2], data[3]]);
                        runtime::tty::set_size(m.as_raw_fd(), rows, cols);
                    }
                }
                _ => {}
            }
        }
    }

    fn broadcast(&mut self, kind: u8, data: &[u8]) {
        self.clients
            .retain_mut(|c| write_frame(&mut c.sock, kind, data).is_ok());
    }

    /// Did the OOM killer kill anything in the container's cgroup during this run?
    fn oom_killed(&self) -> bool {
        // the one counter we need, read directly (v1 memory.oom_control, v2 memory.events)
        for (file, key) in [
            (
                format!(
                    "/sys/fs/cgroup/memory{}/memory.oom_control",
                    crate::engine::cgroups_path(&self.id)
                ),
                "oom_kill ",
            ),
            (
                format!(
                    "/sys/fs/cgroup{}/memory.events",
                    crate::engine::cgroups_path(&self.id)
                ),
                "oom_kill ",
            ),
        ] {
            if let Ok(text) = std::fs::read_to_string(&file) {
                return text
                    .lines()
                    .filter_map(|l| l.strip_prefix(key))
                    .any(|n| n.trim().parse::<u64>().unwrap_or(0) > 0);
            }
        }
        let Ok(st) = self.engine.runtime.load(&self.id) else {
            return false;
        };
        runtime::resources::stats(&st)
            .ok()
            .and_then(|v| find_u64(&v, "oomKill"))
            .is_some_and(|n| n > 0)
    }

    /// Wait before a restart; false if the container was stopped meanwhile.
    fn sleep_unless_stopped(&mut self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
            while let Ok((s, _)) = self.listener.accept() {
                let _ = s.set_nonblocking(false);
                self.clients.push(new_client(s));
            }
            match self.engine.store.get(&self.id) {
                Ok(Some(c)) if !c.internal.manually_stopped && !c.internal.removing => {}
                _ => return false,
            }
        }
        true
    }

    /// Final exit: record it, unmount, remove with --rm, then tell the clients.
    fn finish(&mut self, c: &Container, code: i64) {
        let c = self
            .engine
            .store
            .update(&c.id, |c| c.state.set_finished())
            .unwrap_or_else(|_| c.clone());
        if c.host_config.auto_remove {
            let _ = self.engine.destroy(&c, true);
        } else {
            self.engine.unmount_rootfs(&c);
        }
        self.broadcast(EXIT, &(code as i32).to_be_bytes());
        for cl in &self.clients {
            let _ = cl.sock.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Unix socket paths are limited to 108 bytes; a deep state root goes beyond. Reach the socket
/// through /proc/self/fd/<dir fd>/<name> instead, which resolves to the same place.
fn short_path<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let d = std::fs::File::open(dir)?;
    let short = Path::new("/proc/self/fd")
        .join(d.as_raw_fd().to_string())
        .join(name);
    f(&short)
}

fn write_all_fd(fd: RawFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        // SAFETY: the fd is open for the duration of the call.
        let n = nix::unistd::write(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, data)?;
        data = &data[n..];
    }
    Ok(())
}

fn find_u64(v: &serde_json::Value, key: &str) -> Option<u64> {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(n) = m.get(key).and_then(|x| x.as_u64()) {
                return Some(n);
            }
            m.values().find_map(|x| find_u64(x, key))
        }
        _ => None,
    }
}

// ------------------------------------------------------------------ client side

/// A connection to a container's monitor.
pub struct Attach {
    pub sock: UnixStream,
}

impl Attach {
    pub fn connect(engine: &Engine, id: &str) -> Result<Attach> {
        let p = engine.attach_socket(id);
        let sock = short_path(&p, |p| UnixStream::connect(p)).ctx(|| format!("attach to {id}"))?;
        Ok(Attach { sock })
    }

    pub fn send_stdin(&mut self, data: &[u8]) -> std::io::Result<()> {
        write_frame(&mut self.sock, STDIN, data)
    }

    pub fn close_stdin(&mut self) -> std::io::Result<()> {
        write_frame(&mut self.sock, STDIN_EOF, &[])
    }

    /// Read the stream until the container's exit, handing output to `out` (STDOUT or STDERR,
    /// bytes). Returns the exit code the monitor sent (None if the stream ended without one)
    /// and the start error it reported, if any.
    pub fn follow(&mut self, out: &mut dyn FnMut(u8, &[u8])) -> (Option<i32>, Option<String>) {
        let mut error = None;
        loop {
            match read_frame(&mut self.sock) {
                Ok(Some((k @ (STDOUT | STDERR), d))) => out(k, &d),
                Ok(Some((ERROR, d))) => error = Some(String::from_utf8_lossy(&d).into_owned()),
                Ok(Some((EXIT, d))) if d.len() == 4 => {
                    return (Some(i32::from_be_bytes([d[0], d[1], d[2], d[3]])), error)
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return (None, error),
            }
        }
    }

    pub fn resize(&mut self, rows: u16, cols: u16) -> std::io::Result<()> {
        let mut d = rows.to_be_bytes().to_vec();
        d.extend_from_slice(&cols.to_be_bytes());
        write_frame(&mut self.sock, RESIZE, &d)
    }
}
