//! Foreground `run`/`exec`: forward signals to the container process, relay its terminal, and
//! return its exit status the way a shell reports it (128+N for a signal).

use crate::detach_keys::Detach;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Block every signal so none is lost between starting the container and the wait loop (the
/// container process unblocks them before exec). Call before creating the process.
pub fn block_signals() {
    let _ = SigSet::all().thread_block();
}

fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// How a terminal relay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Relayed {
    /// The process exited with this status.
    Exited(i32),
    /// The user typed the detach sequence: the process runs on, its terminal held by a
    /// background process that drains it until the process is gone.
    Detached,
}

pub fn forward_and_wait(pid: i32, console: Option<OwnedFd>) -> anyhow::Result<i32> {
    match forward_until_detached(pid, console, None)? {
        Relayed::Exited(code) => Ok(code),
        Relayed::Detached => unreachable!("no detach sequence was watched for"),
    }
}

/// [`forward_and_wait`], watching the terminal's input for `detach` (when given and the
/// process has a terminal of ours).
pub fn forward_until_detached(
    pid: i32,
    console: Option<OwnedFd>,
    mut detach: Option<Detach>,
) -> anyhow::Result<Relayed> {
    let sfd = SignalFd::with_flags(
        &SigSet::all(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?;
    let _raw = console.as_ref().map(enter_raw);
    let stdin = std::io::stdin();
    let mut stdin_open = console.is_some();
    let mut code = None;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // Exit once the process is gone and its terminal output is drained.
        let mut fds = vec![nix::poll::PollFd::new(
            sfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if let Some(m) = &console {
            fds.push(nix::poll::PollFd::new(
                m.as_fd(),
                nix::poll::PollFlags::POLLIN,
            ));
            if stdin_open {
                fds.push(nix::poll::PollFd::new(
                    stdin.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                ));
            }
        }
        let timeout = if code.is_some() {
            nix::poll::PollTimeout::from(50u16)
        } else {
            nix::poll::PollTimeout::NONE
        };
        match nix::poll::poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(0) => break,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            drain_signals(&sfd, pid, console.as_ref(), &mut code);
        }
        if let Some(m) = &console {
            if ready.get(1) == Some(&true) {
                match nix::unistd::read(m, &mut buf) {
                    Ok(0) | Err(nix::Error::EIO) => {
                        if code.is_some() {
                            break;
                        }
                    }
                    Ok(n) => {
                        let _ = nix::unistd::write(std::io::stdout(), &buf[..n]);
                    }
                    Err(_) => {}
                }
            }
            if ready.get(2) == Some(&true) {
                match nix::unistd::read(&stdin, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let (data, done) = match detach.as_mut() {
                            Some(d) => d.feed(&buf[..n]),
                            None => (buf[..n].to_vec(), false),
                        };
                        let _ = nix::unistd::write(m, &data);
                        if done {
                            drop(_raw);
                            hold_terminal(console.expect("relaying a terminal"))?;
                            return Ok(Relayed::Detached);
                        }
                    }
                }
            }
        } else if code.is_some() {
            break;
        }
    }
    Ok(Relayed::Exited(code.unwrap_or(255)))
}

/// Our terminal in raw mode while relaying to the process's terminal `m`, which gets a resize
/// since the process started and the input typed while our terminal was still canonical.
fn enter_raw(m: &OwnedFd) -> crate::tty::RawMode {
    let (raw, typed) = crate::tty::RawMode::enter_relaying();
    // The process got our terminal's size before it ran (`console_for`): this only catches
    // a resize since then.
    if let Some((r, c)) = crate::tty::caller_size() {
        crate::tty::set_size(m.as_raw_fd(), r, c);
    }
    // Input completed while our terminal was still canonical goes first.
    let mut rest = &typed[..];
    while !rest.is_empty() {
        match nix::unistd::write(m, rest) {
            Ok(0) => break,
            Ok(n) => rest = &rest[n..],
            Err(nix::Error::EINTR) => {}
            Err(_) => break,
        }
    }
    raw
}

/// Handle the signals queued on `sfd`: reap children (the process's exit status into `code`),
/// pass a resize to its terminal, forward anything else to the process.
fn drain_signals(sfd: &SignalFd, pid: i32, console: Option<&OwnedFd>, code: &mut Option<i32>) {
    while let Ok(Some(info)) = sfd.read_signal() {
        let sig = info.ssi_signo as i32;
        if sig == Signal::SIGCHLD as i32 {
            loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(ws) if ws.pid() == Some(Pid::from_raw(pid)) => *code = exit_code(ws),
                    Ok(_) => {}
                }
            }
        } else if sig == Signal::SIGWINCH as i32 {
            if let (Some(m), Some((r, c))) = (console, crate::tty::caller_size()) {
                crate::tty::set_size(m.as_raw_fd(), r, c);
            }
        } else if let Ok(s) = Signal::try_from(sig) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), s);
        }
    }
}

/// Keep a detached process's terminal open (its output drained) in a background process until
/// the process is gone, so detaching hangs nothing up; the caller's stdio is not kept.
fn hold_terminal(master: OwnedFd) -> anyhow::Result<()> {
    let mut buf = [0u8; 4096];
    // SAFETY: the child only makes system calls on fds it owns, then _exits.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { .. } => Ok(()),
        nix::unistd::ForkResult::Child => {
            let _ = nix::unistd::setsid();
            if let Ok(null) = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR,
                nix::sys::stat::Mode::empty(),
            ) {
                for fd in 0..3 {
                    // SAFETY: dup2 onto the standard fds of this process
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
            loop {
                match nix::unistd::read(&master, &mut buf) {
                    Ok(0) => break,
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(nix::Error::EAGAIN) => {
                        let mut fds = [nix::poll::PollFd::new(
                            master.as_fd(),
                            nix::poll::PollFlags::POLLIN,
                        )];
                        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE);
                    }
                    Err(_) => break,
                }
            }
            // SAFETY: leave without running the parent's destructors
            unsafe { libc::_exit(0) }
        }
    }
}
