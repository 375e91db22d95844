//! `berth __dns`: the per-network server process, and how the engine starts and stops it.
//!
//! Files in the run dir, per network: `dns-<id>.pid` (the live server's pid), `dns-<id>.lock`
//! (a flock held by the engine while it starts or stops the network's server, and by the server
//! while it decides to exit) and `dns-<id>.log` (the server's stderr, opened by the engine).
//!
//! - Start ([`Lock::take`], [`running`], then the engine spawns `berth __dns ID` with a pipe as
//!   fd 3 and calls [`wait_ready`]): the server binds the gateway's port 53, writes its pid file
//!   and says `ok` on the pipe, or `error: ...` when it cannot serve. A failed bind is an error
//!   for whoever started the container, never a silent broken resolver.
//! - Idle exit (the network has had no endpoints for a while, or is gone): the server takes the
//!   lock without waiting (an engine holding it is starting or stopping this very server: later
//!   then), looks at the db once more, closes its sockets, removes its pid file and only then
//!   lets go of the lock. So an engine holding the lock finds either a live server that will see
//!   the endpoint just added, or no server and a free port.
//! - Stop ([`stop`], when the network is removed): under the lock, SIGTERM through a pidfd and a
//!   wait for the exit (SIGKILL after [`STOP_GRACE`]), so the gateway's port is free once
//!   `network rm` returns and a network made next on the same subnet can serve its names.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::names::{upstreams, Snapshot};
use super::server::{bind, serve_inner};
use super::*;

/// How long [`stop`] waits for the server to exit after SIGTERM, and again after SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The pid file of the server of `network_id`.
pub fn pid_file(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("dns-{network_id}.pid"))
}

/// The log (stderr) of the server of `network_id`.
pub fn log_file(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("dns-{network_id}.log"))
}

fn lock_file(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("dns-{network_id}.lock"))
}

fn write_pid(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension(format!("pid.{}", std::process::id()));
    fs::write(&tmp, format!("{}\n", std::process::id()))?;
    fs::rename(&tmp, path)
}

/// Removes the pid file if it is still ours.
fn remove_pid(path: &Path) {
    if let Ok(s) = fs::read_to_string(path) {
        if s.trim() == std::process::id().to_string() {
            let _ = fs::remove_file(path);
        }
    }
}

/// The exclusive lock on a network's server (see the module docs); released on drop.
pub struct Lock {
    _held: Flock<File>,
}

impl Lock {
    fn open(run_dir: &Path, network_id: &str) -> Result<File, DnsError> {
        fs::create_dir_all(run_dir).map_err(io_err(format!("create {}", run_dir.display())))?;
        let path = lock_file(run_dir, network_id);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(format!("open {}", path.display())))
    }

    /// Waits for the lock.
    pub fn take(run_dir: &Path, network_id: &str) -> Result<Lock, DnsError> {
        let mut file = Self::open(run_dir, network_id)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusive) {
                Ok(l) => return Ok(Lock { _held: l }),
                Err((f, nix::errno::Errno::EINTR)) => file = f,
                Err((_, e)) => {
                    let path = lock_file(run_dir, network_id);
                    return Err(io_err(format!("lock {}", path.display()))(e.into()));
                }
            }
        }
    }

    /// The lock if nobody holds it.
    fn try_take(run_dir: &Path, network_id: &str) -> Option<Lock> {
        let file = Self::open(run_dir, network_id).ok()?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .ok()
            .map(|l| Lock { _held: l })
    }
}

/// A pidfd of `pid` (Linux 5.3): signals and waits that cannot hit a recycled pid.
fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_signal(fd: &OwnedFd, sig: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match r {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            // already gone
            e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            e => Err(e),
        },
    }
}

/// Waits up to `timeout` for the process of `fd` to exit; whether it did.
fn pidfd_wait(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut p, PollTimeout::from(ms)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) if std::time::Instant::now() < deadline => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The live server of `network_id` from its pid file: a pidfd for it, once its command line
/// says it is `berth __dns NETWORK_ID` (not a recycled pid).
fn server_pidfd(run_dir: &Path, network_id: &str) -> Option<OwnedFd> {
    let pid: i32 = fs::read_to_string(pid_file(run_dir, network_id))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let fd = pidfd_open(pid).ok()?;
    // read after the pidfd is open: if this is our server, the pidfd is for it
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmdline.split(|b| *b == 0);
    let ours = args.any(|a| a == b"__dns") && args.any(|a| a == network_id.as_bytes());
    ours.then_some(fd)
}

/// Whether the server of `network_id` runs (call under [`Lock`]).
pub fn running(run_dir: &Path, network_id: &str) -> bool {
    server_pidfd(run_dir, network_id).is_some()
}

/// Stops the server of `network_id` if it runs and waits until it is gone, then removes its
/// files: the network is being removed.
pub fn stop(run_dir: &Path, network_id: &str) -> Result<(), DnsError> {
    let lock = Lock::take(run_dir, network_id)?;
    if let Some(fd) = server_pidfd(run_dir, network_id) {
        let gone = |sig| -> io::Result<bool> {
            pidfd_signal(&fd, sig)?;
            pidfd_wait(&fd, STOP_GRACE)
        };
        let ctx = || format!("stop the DNS server of network {network_id}");
        if !gone(libc::SIGTERM).map_err(io_err(ctx()))?
            && !gone(libc::SIGKILL).map_err(io_err(ctx()))?
        {
            return Err(DnsError::Config(format!("{}: still running", ctx())));
        }
    }
    for f in [
        pid_file(run_dir, network_id),
        log_file(run_dir, network_id),
        // removed while held: nobody else has a use for the lock of a removed network
        lock_file(run_dir, network_id),
    ] {
        let _ = fs::remove_file(f);
    }
    drop(lock);
    Ok(())
}

/// Waits for the word of a server the engine just started with `ready` as its fd 3: `Ok` once
/// it serves, else what went wrong.
pub fn wait_ready(ready: File, log: &Path) -> Result<(), String> {
    let mut line = String::new();
    match BufReader::new(ready).read_line(&mut line) {
        Ok(_) if line.trim() == "ok" => Ok(()),
        Ok(_) if line.starts_with("error: ") => Err(line["error: ".len()..].trim().to_string()),
        Ok(_) => Err(format!(
            "it exited before it was ready (see {})",
            log.display()
        )),
        Err(e) => Err(format!("reading its status: {e}")),
    }
}

/// Entry point of `berth __dns`: looks up the network's gateway in `db`, binds port 53 on it,
/// writes `<run_dir>/dns-<network_id>.pid`, says `ok` on `ready` (or `error: ...`), and serves
/// with the host's resolvers from /etc/resolv.conf as upstreams until the network is gone or
/// has had no endpoints for [`IDLE_EXIT`] (see the module docs). Returns the exit status
/// (errors are printed on stderr too).
pub fn run(db: &Path, run_dir: &Path, network_id: &str, ready: Option<File>) -> i32 {
    run_with_idle(db, run_dir, network_id, IDLE_EXIT, ready)
}

/// [`run`] with another idle time (tests).
pub fn run_with_idle(
    db: &Path,
    run_dir: &Path,
    network_id: &str,
    idle: Duration,
    mut ready: Option<File>,
) -> i32 {
    match run_inner(db, run_dir, network_id, idle, &mut ready) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(mut r) = ready.take() {
                let _ = writeln!(r, "error: {e}");
            }
            eprintln!("berth dns {network_id}: {e}");
            1
        }
    }
}

fn run_inner(
    db: &Path,
    run_dir: &Path,
    network_id: &str,
    idle: Duration,
    ready: &mut Option<File>,
) -> Result<(), DnsError> {
    let snap = Snapshot::load(db, network_id)?;
    if !snap.exists {
        return Err(DnsError::NoNetwork(network_id.to_string()));
    }
    let gateway = snap
        .gateway
        .ok_or_else(|| DnsError::Config(format!("network {network_id} has no IPv4 gateway")))?;
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let ups = upstreams(&resolv);
    let sockets = bind(gateway, 53)?;
    fs::create_dir_all(run_dir).map_err(io_err(format!("create {}", run_dir.display())))?;
    let pid = pid_file(run_dir, network_id);
    write_pid(&pid).map_err(io_err(format!("write {}", pid.display())))?;
    if let Some(mut r) = ready.take() {
        // the engine may have gone meanwhile: serve anyway
        let _ = writeln!(r, "ok");
    }
    let gate = || Lock::try_take(run_dir, network_id);
    let res = serve_inner(sockets, db, network_id, &ups, idle, &gate);
    // the sockets are closed: the pid file goes before the lock is let go
    remove_pid(&pid);
    res.map(drop)
}
