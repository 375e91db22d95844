//! Starting helpers: detached (the monitor, a DNS server) or as a child of the caller (an
//! exec for the API server), the request on fd 4 either way.

use super::request::{Request, REQUEST_FD, SYNC_FD};
use crate::error::{Error, IoContext, Result};
use nix::sys::wait::waitpid;
use std::ffi::CString;
use std::io::{Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The request as JSON in a sealed-size memory file, rewound, at an fd number above 9 (so
/// that moving it to fd 4 never overwrites another fd the child is given).
fn request_fd(req: &Request) -> Result<OwnedFd> {
    let data = serde_json::to_vec(req)?;
    let fd =
        nix::sys::memfd::memfd_create(c"berth-request", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .ctx(|| "memfd for a helper's request".into())?;
    let mut f = std::fs::File::from(fd);
    f.write_all(&data)
        .and_then(|_| f.rewind())
        .ctx(|| "write a helper's request".into())?;
    high_fd(f.as_fd())
}

/// `berth --root ROOT __NAME ...` for `req` as a child of ours (its stdio is the caller's to
/// set), the request on its fd 4.
pub fn command(root: &Path, req: &Request) -> Result<std::process::Command> {
    let request = request_fd(req)?;
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root").arg(root).args(req.argv());
    // SAFETY: dup2 is async-signal-safe; `request` lives in the closure until the command is
    // dropped.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(request.as_raw_fd(), REQUEST_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(cmd)
}

/// The executable of the container monitors: nothing but the monitor, so each of them maps
/// (and privately relocates) a fraction of the CLI's binary. `cargo build -p berth-cli` builds
/// it next to `berth`.
pub const MONITOR_EXE: &str = "berth-monitor";

/// In a monitor run from [`MONITOR_EXE`]: the `berth` that started it (its argv[0]), which
/// starts the other helpers (a monitor cannot find itself: it runs from a detached mount).
static IN_MONITOR_EXE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Called first by the [`MONITOR_EXE`]'s entry: the process is a monitor whose argv[0] is the
/// path of the `berth` that started it.
pub fn started_as_monitor_exe() {
    let berth = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let _ = IN_MONITOR_EXE.set(berth);
}

/// The `berth` executable: ours, or the one that started this monitor.
fn berth_exe() -> Option<PathBuf> {
    match IN_MONITOR_EXE.get() {
        Some(berth) => berth.clone(),
        None => std::env::current_exe().ok(),
    }
}

/// What a detached helper is executed from. A monitor: [`MONITOR_EXE`] next to `berth`, else
/// `berth` itself, whose `main` runs every helper (so a copied or hard-linked lone `berth`
/// still works, with monitors as big as itself). Any other helper: `berth`.
fn helper_exe(req: &Request) -> PathBuf {
    let own = PathBuf::from("/proc/self/exe");
    if let Some(berth) = IN_MONITOR_EXE.get() {
        // never a name looked up from the working directory: without berth's absolute path,
        // berth-monitor itself, which refuses the request and says so
        return match (req, berth) {
            (Request::Monitor { .. }, _) | (_, None) => own,
            (_, Some(berth)) => berth.clone(),
        };
    }
    let Request::Monitor { .. } = req else {
        return own;
    };
    let Ok(exe) = std::env::current_exe() else {
        return own;
    };
    let sibling = exe.with_file_name(MONITOR_EXE);
    match std::fs::metadata(&sibling) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => sibling,
        _ => own,
    }
}

/// Exec fd of `exe` through a view nothing can write through (CVE-2019-5736): processes
/// cloned from the monitor run with /proc/self/exe on it. A private read-only overlayfs (no
/// copy; a read-only bind mount would not do: root of a user namespace the container makes
/// itself can clear a detached mount's read-only flag), else a sealed in-memory copy.
fn protected_exe(exe: &Path) -> Result<OwnedFd> {
    let as_is = |p: &Path| {
        std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(p)
            .map(OwnedFd::from)
            .ctx(|| format!("open {}", p.display()))
    };
    if exe == Path::new("/proc/self/exe") && runtime::exe_view::running_protected() {
        // a monitor starting another: its own view will do
        return as_is(exe);
    }
    if runtime::exe_view::safe_as_is(exe) {
        // a rootless engine's monitors
        return as_is(exe);
    }
    runtime::exe_view::protected(exe, "berth-helper")
        .ctx(|| format!("a protected view of {}", exe.display()))
}

/// Starts the helper for `req` as a detached process, executed from a read-only view of the
/// helpers' binary ([`helper_exe`]), with stdio on /dev/null (stderr on `log` if given), `sync`
/// as its fd 3 and the request on fd 4. It is spawned (vfork and exec: nothing of the caller's
/// memory is copied, which in a big `berth serve` took milliseconds) in a session of its own,
/// then forks itself away ([`detach`]) and its first process exits: it is nobody's child, so
/// `berth` can exit and a long-running `berth serve` never has to reap it.
pub fn spawn_detached(
    root: &Path,
    req: &Request,
    sync: Option<OwnedFd>,
    log: Option<&Path>,
) -> Result<()> {
    let request = request_fd(req)?;
    let exe_path = helper_exe(req);
    let exe = protected_exe(&exe_path)?;
    // argv[0]: where `berth` is, for a monitor that starts other helpers
    let argv0 = berth_exe().unwrap_or_else(|| "berth".into());
    let mut argv = vec![
        CString::new(argv0.as_os_str().as_encoded_bytes())
            .map_err(|e| Error::Other(e.to_string()))?,
        CString::new("--root").expect("static"),
        CString::new(root.as_os_str().as_encoded_bytes())
            .map_err(|e| Error::Other(e.to_string()))?,
    ];
    for a in req.argv() {
        argv.push(CString::new(a).map_err(|e| Error::Other(e.to_string()))?);
    }
    let mut env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut b = k.into_encoded_bytes();
            b.push(b'=');
            b.extend(v.into_encoded_bytes());
            CString::new(b).ok()
        })
        .collect();
    if matches!(req, Request::Monitor { .. }) {
        if let Some(e) = crate::monitor::start_tunables() {
            env.push(CString::new(e).expect("no NUL"));
        }
    }
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx(|| "open /dev/null".into())?;
    let log = match log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ctx(|| format!("open {}", p.display()))?,
        ),
        None => None,
    };
    let stderr = log.as_ref().map_or(devnull.as_fd(), |f| f.as_fd());
    // every source above fd 9, so that no dup2 below overwrites one still to be moved
    let mut moves = vec![
        (high_fd(devnull.as_fd())?, 0),
        (high_fd(devnull.as_fd())?, 1),
        (high_fd(stderr)?, 2),
    ];
    if let Some(s) = &sync {
        moves.push((high_fd(s.as_fd())?, SYNC_FD));
    }
    moves.push((request, REQUEST_FD));
    let child = spawn_session(&exe, &moves, &argv, &env)?;
    drop((sync, moves));
    // its first process exits as soon as it has forked the helper away
    while let Err(nix::errno::Errno::EINTR) = waitpid(child, None) {}
    Ok(())
}

/// A close-on-exec copy of `fd` numbered above 9.
fn high_fd(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: fcntl on a borrowed fd; the copy is a new fd we own.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if high < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "dup an fd for a helper".into());
    }
    // SAFETY: fcntl returned a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(high as RawFd) })
}

/// posix_spawn of the executable open at `exe`, in a new session, signals unblocked, each
/// `(fd, target)` of `moves` at its target.
fn spawn_session(
    exe: &OwnedFd,
    moves: &[(OwnedFd, RawFd)],
    argv: &[CString],
    env: &[CString],
) -> Result<nix::unistd::Pid> {
    use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
    let err = |e: nix::Error| Error::Other(format!("spawn a helper: {e}"));
    let mut actions = PosixSpawnFileActions::init().map_err(err)?;
    for (fd, target) in moves {
        actions.add_dup2(fd.as_raw_fd(), *target).map_err(err)?;
    }
    let mut attr = PosixSpawnAttr::init().map_err(err)?;
    // (nix names no flag for glibc's POSIX_SPAWN_SETSID)
    let setsid = PosixSpawnFlags::from_bits_retain(libc::POSIX_SPAWN_SETSID as libc::c_int);
    attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | setsid)
        .map_err(err)?;
    attr.set_sigmask(&nix::sys::signal::SigSet::empty())
        .map_err(err)?;
    // the open file itself (the child's copy of the fd, closed on exec)
    let path = format!("/proc/self/fd/{}", exe.as_raw_fd());
    posix_spawn(path.as_str(), &actions, &attr, argv, env).map_err(err)
}

/// Called first by a helper [`spawn_detached`] started: fork, and let the first process exit
/// (its starter waits for that), so the helper runs on as nobody's child.
pub fn detach() -> std::result::Result<(), String> {
    // SAFETY: called while the process is single-threaded (first thing in a helper's main);
    // the parent only exits.
    match unsafe { libc::fork() } {
        -1 => Err(format!("detach: fork: {}", std::io::Error::last_os_error())),
        0 => Ok(()),
        // SAFETY: _exit has no preconditions.
        _ => unsafe { libc::_exit(0) },
    }
}

/// The pipe a helper started by [`spawn_detached`] reports on (its fd 3), made close-on-exec;
/// `None` when fd 3 is not open (the helper was started by hand).
pub fn inherited_sync_fd() -> Option<std::fs::File> {
    // SAFETY: fcntl on a possibly closed fd only fails with EBADF.
    if unsafe { libc::fcntl(SYNC_FD, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: fd 3 was set up by `spawn_detached` and nothing else in this process uses it: we
    // own it from here on.
    let f = unsafe { std::fs::File::from_raw_fd(SYNC_FD) };
    // SAFETY: fcntl on our fd.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Some(f)
}
