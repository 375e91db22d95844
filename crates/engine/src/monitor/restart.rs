//! The monitor process: set up, start the container, serve it, and start it again as its
//! restart policy says.

use super::frames::{short_path, ERROR, EXIT};
use super::serve::{new_client, Client, Mon};
use super::spawn::{report, SyncMsg};
use crate::container::leftovers::Leftovers;
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::logs::LogWriter;
use crate::types::Container;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

/// Entry point of `berth __monitor ID [--attach]`. Exit status is for debugging only.
pub fn main(root: &Path, id: &str, attach: bool) -> i32 {
    fault::mark("monitor.main");
    super::memory::one_arena();
    super::memory::forget_tunables();
    let mut sync = crate::helper::spawn::inherited_sync_fd();
    report(
        &mut sync,
        &SyncMsg {
            monitor: Some(std::process::id() as i32),
            listening: false,
            pid: 0,
            error: None,
        },
    );
    let r = Engine::open(root).and_then(|engine| {
        let mut m = Mon::open(&engine, id, attach, &mut sync)?;
        m.run(&mut sync)
    });
    match r {
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

/// The monitor lock, held for the process's life: a second monitor for `id` is refused.
fn lock(engine: &Engine, id: &str) -> Result<File> {
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
    Ok(lock)
}

/// The attach socket, listening.
fn listen(engine: &Engine, id: &str) -> Result<UnixListener> {
    let sock_path = engine.attach_socket(id);
    let _ = std::fs::remove_file(&sock_path);
    let listener = short_path(&sock_path, |p| UnixListener::bind(p))
        .ctx(|| format!("bind {}", sock_path.display()))?;
    let _ = std::fs::set_permissions(
        &sock_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    );
    Ok(listener)
}

impl<'a> Mon<'a> {
    /// Becomes the monitor of `id`: its lock, a subreaper blocking every signal (SIGCHLD
    /// through a signalfd), the attach socket, the log; with `attach`, the first client.
    // never inlined: its frame goes before the container runs, not into `main`'s, which stays
    #[inline(never)]
    fn open(
        engine: &'a Engine,
        id: &str,
        attach: bool,
        sync: &mut Option<File>,
    ) -> Result<Mon<'a>> {
        let dir = engine.monitor_dir(id);
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        // the runtime's warnings (e.g. syscalls this libseccomp does not know) go to a log
        // file, never into the container's own stderr
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("runtime.log"))
        {
            runtime::log::init(Some(f), false, false);
        }
        let lock = lock(engine, id)?;
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
        // Every signal is blocked: the monitor outlives terminal hangups and stray SIGTERMs;
        // SIGCHLD is read from a signalfd.
        let _ = SigSet::all().thread_block();
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        let sfd = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .ctx(|| "signalfd".into())?;
        let listener = listen(engine, id)?;
        let c = engine
            .store
            .get(id)?
            .ok_or_else(|| Error::NoSuchContainer(id.into()))?;
        let log = if c.log_path.is_empty() {
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
        fault::mark("monitor.attached");
        listener.set_nonblocking(true).ctx(|| "listener".into())?;
        Ok(Mon {
            engine,
            id: id.to_string(),
            log,
            clients,
            listener,
            sfd,
            _lock: lock,
        })
    }

    /// Start, serve and restart the container until it stops for good.
    // never inlined: `main`'s frame stays small, and this one holds only the loop's state
    #[inline(never)]
    fn run(&mut self, sync: &mut Option<File>) -> Result<()> {
        let (engine, id) = (self.engine, self.id.clone());
        let mut first = true;
        // the relay buffer, on the heap: an array here would stay dirty in this frame
        let mut buf = Vec::new();
        let mut backoff = Duration::from_millis(100);
        loop {
            let c = engine
                .store
                .get(&id)?
                .ok_or_else(|| Error::NoSuchContainer(id.clone()))?;
            let started_at = Instant::now();
            let (pid, mut stdio) = match self.start(&c) {
                Ok(x) => x,
                Err(e) => return self.start_failed(&c, e, first, sync),
            };
            if first {
                self.relay_pending(&mut stdio, &mut buf);
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
            super::memory::release_idle(engine);
            let code = self.serve(pid, stdio, &c, &mut buf);
            if !self.exited(&c, code, started_at, &mut backoff)? {
                return Ok(());
            }
        }
    }

    /// After the init's exit: record it, release what the run held, then either wait out the
    /// restart backoff (true: start again) or finish for good (false). Never inlined: its work
    /// would otherwise be part of `run`'s frame, which stays on the stack while the container
    /// runs.
    #[inline(never)]
    fn exited(
        &mut self,
        c: &Container,
        code: i64,
        started_at: Instant,
        backoff: &mut Duration,
    ) -> Result<bool> {
        let (engine, id) = (self.engine, self.id.clone());
        fault::mark("monitor.exited");
        let oom = self.oom_killed();
        crate::events::died(engine, c, code, oom, started_at.elapsed());
        // the host veths go once the exit is told (or before a restart plugs new ones), as
        // does the runtime state of a container removed at exit (its id is never reused)
        let mut later = Leftovers::new(engine);
        if !c.host_config.auto_remove {
            let _ = engine.runtime.delete(&id, true);
        }
        fault::mark("monitor.runtime-deleted");
        crate::net::teardown_into(engine, c, &mut later);
        fault::mark("monitor.net-released");
        let ran = started_at.elapsed();
        let c = engine
            .store
            .update(&id, |c| c.state.set_stopped(code, oom))?;
        if should_restart(&c, code) {
            if ran >= Duration::from_secs(10) {
                *backoff = Duration::from_millis(100);
            }
            engine.store.update(&id, |c| {
                c.state.set_restarting();
                c.restart_count += 1;
            })?;
            later.clear();
            if self.sleep_unless_stopped(*backoff) {
                *backoff = (*backoff * 2).min(Duration::from_secs(60));
                return Ok(true);
            }
        }
        self.finish(&c, code, later);
        Ok(false)
    }

    /// The container could not start: record it (exit status 126/127/128 as docker's); on the
    /// first start tell the starter and the clients, on a restart finish as after an exit.
    #[inline(never)] // (as `finish`)
    fn start_failed(
        &mut self,
        c: &Container,
        e: Error,
        first: bool,
        sync: &mut Option<File>,
    ) -> Result<()> {
        let (engine, id) = (self.engine, c.id.as_str());
        // (the network may have been plugged in before the start failed)
        crate::net::teardown(engine, c);
        let msg = e.to_string();
        let code = i64::from(crate::helper::exec::failure_code(&msg, 128));
        let _ = engine
            .store
            .update(id, |c| c.state.set_start_failed(code, msg.clone()));
        let _ = engine.runtime.delete(id, true);
        if !first {
            self.finish(c, code, Leftovers::new(engine));
            return Ok(());
        }
        self.broadcast(ERROR, msg.as_bytes());
        self.broadcast(EXIT, &(code as i32).to_be_bytes());
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
            let c = engine.store.get(id)?.unwrap_or_else(|| c.clone());
            let _ = engine.destroy(&c, true);
        } else {
            engine.unmount_rootfs(c);
        }
        Ok(())
    }

    /// Wait before a restart; false if the container was stopped meanwhile.
    fn sleep_unless_stopped(&mut self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
            self.accept_clients();
            match self.engine.store.get(&self.id) {
                Ok(Some(c)) if !c.internal.manually_stopped && !c.internal.removing => {}
                _ => return false,
            }
        }
        true
    }

    /// Final exit: record it, unmount, remove with --rm, then tell the clients; what the
    /// removal left for later (`later`) goes after that, so no client waits for it.
    // never inlined: a frame of its own, not part of the restart loop's while the container runs
    #[inline(never)]
    fn finish(&mut self, c: &Container, code: i64, mut later: Leftovers) {
        let c = self
            .engine
            .store
            .update(&c.id, |c| c.state.set_finished())
            .unwrap_or_else(|_| c.clone());
        if c.host_config.auto_remove {
            let _ = self.engine.destroy_into(&c, true, &mut later);
        } else {
            self.engine.unmount_rootfs(&c);
        }
        fault::mark("monitor.finished");
        self.broadcast(EXIT, &(code as i32).to_be_bytes());
        for cl in &self.clients {
            let _ = cl.sock.shutdown(std::net::Shutdown::Both);
        }
        fault::point("monitor.exit-told");
        later.clear();
        self.engine.tidy_databases();
        fault::mark("monitor.leftovers-cleared");
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
