//! The running monitor: the container's stdio, log, attach clients and health checks until
//! its init exits.

use super::frames::{write_frame, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT};
use crate::engine::Engine;
use crate::error::{IoContext, Result};
use crate::health::Checker;
use crate::logs::{LogWriter, Stream};
use crate::types::Container;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

pub(super) struct Client {
    pub(super) sock: UnixStream,
    buf: Vec<u8>,
    wants_stdin: bool,
    /// a write to it failed (it left): dropped after the current round, never mid-round, so
    /// the indices of a round's ready list stay right
    dead: bool,
}

pub(super) struct Stdio {
    /// container stdout/stderr read ends (None: closed or tty)
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    /// our end of the container's stdin
    stdin: Option<OwnedFd>,
    /// pty master when Tty
    master: Option<OwnedFd>,
}

pub(super) fn new_client(s: UnixStream) -> Client {
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    Client {
        sock: s,
        buf: Vec::new(),
        wants_stdin: true,
        dead: false,
    }
}

/// The monitor of one container, across its restarts.
pub(super) struct Mon<'a> {
    pub(super) engine: &'a Engine,
    pub(super) id: String,
    pub(super) log: Option<LogWriter>,
    pub(super) clients: Vec<Client>,
    pub(super) listener: UnixListener,
    pub(super) sfd: SignalFd,
    /// flock'ed for the monitor's life: one monitor per container
    pub(super) _lock: File,
}

/// What one poll found ready, by source: `s`ignalfd, `l`istener, `o`ut, `e`rr, pty `m`aster,
/// `h`ealth probe output, `c`lient.
type Ready = Vec<(u8, PollFlags)>;

/// At most this many reads of each output before the start is reported (16 KiB each).
const PENDING_ROUNDS: usize = 16;
/// One read of the container's output.
const RELAY_BUF: usize = 16 * 1024;
/// One read of a client's input.
const CLIENT_READ: usize = 32 * 1024;

impl Mon<'_> {
    /// Create and start the container with fresh stdio.
    // never inlined: the start's deep frames must be gone, not part of the restart loop's frame,
    // when `memory::release_idle` trims the stack below it
    #[inline(never)]
    pub(super) fn start(&mut self, c: &Container) -> Result<(i32, Stdio)> {
        let rt = &self.engine.runtime;
        if rt.has_state(&c.id) {
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
            // started below, once the network is plugged in: the init waits for our go-ahead
            start_here: true,
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
        fault::mark("monitor.runtime-create");
        let started = rt.create(&c.host_config.runtime, &opts);
        // our copies of the init's ends: its exit then closes the pipes
        drop(opts);
        let started = started?;
        fault::point("monitor.runtime-created");
        // the network namespace exists now and nothing runs in it yet: plug it in
        if let Err(e) = crate::net::setup(self.engine, c, started.pid) {
            let _ = rt.delete(&c.id, true);
            crate::net::teardown(self.engine, c);
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
        rt.start_created(&c.id, started.gate)?;
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
    /// `buf` is the relay buffer of [`Self::relay_output`]. Never inlined: its frame is all
    /// that stays on the stack, below the restart loop's, while the container runs.
    #[inline(never)]
    pub(super) fn serve(
        &mut self,
        pid: i32,
        mut stdio: Stdio,
        c: &Container,
        buf: &mut Vec<u8>,
    ) -> i64 {
        let mut code: Option<i64> = None;
        let mut drain_deadline: Option<Instant> = None;
        let stdin_once = c.config.stdin_once;
        let mut checker = crate::health::settings(c.config.healthcheck.as_ref()).map(Checker::new);
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
            let ready = match self.wait_ready(&stdio, checker.as_ref(), code.is_some()) {
                Err(()) => break,
                Ok(None) => continue,
                Ok(Some(r)) => r,
            };
            let mut client_idx = 0;
            let mut drop_clients = Vec::new();
            for (w, rev) in ready {
                if w == b'c' {
                    let i = client_idx;
                    client_idx += 1;
                    if self.clients[i].dead
                        || (!rev.is_empty() && !self.client_input(i, &mut stdio, stdin_once))
                    {
                        drop_clients.push(i);
                    }
                    continue;
                }
                if rev.is_empty() {
                    continue;
                }
                match w {
                    b's' => {
                        self.reap(pid, &mut code, checker.as_mut());
                        if code.is_some() && drain_deadline.is_none() {
                            drain_deadline = Some(Instant::now() + Duration::from_millis(500));
                        }
                    }
                    b'h' => {
                        if let Some(h) = &mut checker {
                            h.read_output();
                        }
                    }
                    b'l' => self.accept_clients(),
                    b'o' | b'e' | b'm' => self.relay_output(w, &mut stdio, buf),
                    _ => {}
                }
            }
            if let Some(h) = &mut checker {
                if code.is_none() {
                    h.finish_if_done(self.engine, &c.id);
                    h.maybe_start(self.engine, c);
                }
            }
            for (i, cl) in self.clients.iter().enumerate() {
                if cl.dead && !drop_clients.contains(&i) {
                    drop_clients.push(i);
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

    /// Polls every source (see [`Ready`]): Err to stop serving, Ok(None) to poll again.
    fn wait_ready(
        &self,
        stdio: &Stdio,
        checker: Option<&Checker>,
        exited: bool,
    ) -> std::result::Result<Option<Ready>, ()> {
        let mut fds: Vec<PollFd> = Vec::new();
        let mut what: Vec<u8> = Vec::new();
        fds.push(PollFd::new(self.sfd.as_fd(), PollFlags::POLLIN));
        what.push(b's');
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        what.push(b'l');
        for (f, w) in [
            (&stdio.out, b'o'),
            (&stdio.err, b'e'),
            (&stdio.master, b'm'),
        ] {
            if let Some(f) = f {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                what.push(w);
            }
        }
        if let Some(f) = checker
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
        let timeout = if exited {
            PollTimeout::from(50u16)
        } else if let Some(h) = checker {
            PollTimeout::try_from(h.timeout().as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::NONE)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => return Ok(None),
            Err(_) => return Err(()),
            Ok(_) => {}
        }
        Ok(Some(
            fds.iter()
                .zip(&what)
                .map(|(f, w)| (*w, f.revents().unwrap_or(PollFlags::empty())))
                .collect(),
        ))
    }

    /// SIGCHLD: reap every child; the init's status becomes `code`, a probe's goes to the
    /// health checker.
    fn reap(&mut self, pid: i32, code: &mut Option<i64>, mut checker: Option<&mut Checker>) {
        while let Ok(Some(_)) = self.sfd.read_signal() {}
        loop {
            let (p, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(WaitStatus::Exited(p, c)) => (p, c as i64),
                Ok(WaitStatus::Signaled(p, s, _)) => (p, 128 + s as i64),
                Ok(_) => continue,
            };
            if p.as_raw() == pid {
                *code = Some(status);
            } else if let Some(h) = checker.as_deref_mut() {
                h.reaped(p.as_raw(), status);
            }
        }
    }

    pub(super) fn accept_clients(&mut self) {
        while let Ok((s, _)) = self.listener.accept() {
            let _ = s.set_nonblocking(false);
            self.clients.push(new_client(s));
        }
    }

    /// Relay what the container has written so far (without waiting for more): called before
    /// the start is reported, so output the process wrote before `start` returned is in its
    /// log when the client asks right after (docker-py reads logs right after start). A
    /// bounded number of rounds: a process that never stops writing must not hold the start
    /// report back for ever (`run -d` of a chatty container hung on it).
    pub(super) fn relay_pending(&mut self, stdio: &mut Stdio, buf: &mut Vec<u8>) {
        for _ in 0..PENDING_ROUNDS {
            let mut ready = Vec::new();
            for (f, w) in [
                (&stdio.out, b'o'),
                (&stdio.err, b'e'),
                (&stdio.master, b'm'),
            ] {
                if let Some(f) = f {
                    let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                    if matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
                        ready.push(w);
                    }
                }
            }
            if ready.is_empty() {
                return;
            }
            for w in ready {
                self.relay_output(w, stdio, buf);
            }
        }
    }

    /// Output of the container (`w`: o, e or m) to the log and the clients; the source is
    /// dropped at EOF (EIO on a pty master once the slave is gone). `buf` is made on the first
    /// output: a container that writes nothing (most of the idle ones) never dirties it.
    fn relay_output(&mut self, w: u8, stdio: &mut Stdio, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            buf.resize(RELAY_BUF, 0);
        }
        let (slot, stream, kind) = match w {
            b'o' => (&mut stdio.out, Stream::Stdout, STDOUT),
            b'e' => (&mut stdio.err, Stream::Stderr, STDERR),
            _ => (&mut stdio.master, Stream::Stdout, STDOUT),
        };
        let r = match slot.as_ref() {
            Some(f) => nix::unistd::read(f, buf),
            None => Ok(0),
        };
        match r {
            Ok(0) | Err(_) => *slot = None,
            Ok(n) => {
                if let Some(l) = &mut self.log {
                    let _ = l.write(stream, &buf[..n]);
                }
                let data = buf[..n].to_vec();
                self.broadcast(kind, &data);
            }
        }
    }

    /// Handle input from client `i`; false when it went away.
    /// Read straight into the client's buffer: a buffer on the stack would be in `serve`'s
    /// frame, and its pages dirty in every idle monitor (the stack is touched on entry).
    fn client_input(&mut self, i: usize, stdio: &mut Stdio, stdin_once: bool) -> bool {
        let cl = &mut self.clients[i];
        let kept = cl.buf.len();
        cl.buf.resize(kept + CLIENT_READ, 0);
        let n = match (&cl.sock).read(&mut cl.buf[kept..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        cl.buf.truncate(kept + n);
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

    /// Sends a frame to every client; one that cannot take it is marked dead (removed by the
    /// serve loop between rounds: removing it here shifted the indices of the round's ready
    /// list, and a client's input was then read from past the end, panicking the monitor).
    pub(super) fn broadcast(&mut self, kind: u8, data: &[u8]) {
        for c in self.clients.iter_mut().filter(|c| !c.dead) {
            if write_frame(&mut c.sock, kind, data).is_err() {
                c.dead = true;
            }
        }
    }

    /// Did the OOM killer kill anything in the container's cgroup during this run?
    pub(super) fn oom_killed(&self) -> bool {
        // the one counter we need, read directly (v1 memory.oom_control, v2 memory.events)
        for (file, key) in [
            (
                format!(
                    "/sys/fs/cgroup/memory{}/memory.oom_control",
                    crate::paths::cgroups_path(&self.id)
                ),
                "oom_kill ",
            ),
            (
                format!(
                    "/sys/fs/cgroup{}/memory.events",
                    crate::paths::cgroups_path(&self.id)
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
