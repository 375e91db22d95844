//! Terminals: a pty created inside the container, its master handed to the caller.

use crate::error::{Context, Result};
use nix::fcntl::OFlag;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub slave_path: String,
}

/// Open a new pty through the container's /dev/ptmx (so it belongs to the container's devpts).
pub fn open_pty() -> Result<Pty> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx")?;
    nix::pty::grantpt(&master).ctx(|| "grantpt")?;
    nix::pty::unlockpt(&master).ctx(|| "unlockpt")?;
    let slave_path = nix::pty::ptsname_r(&master).ctx(|| "ptsname")?;
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {slave_path}"))?;
    // SAFETY: into_raw_fd hands us ownership of the master fd.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok(Pty {
        master,
        slave,
        slave_path,
    })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

pub fn get_size(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize struct we own.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The size of the terminal we were started on: our stdin's, else our stdout's (as docker's
/// client does, so `exec -t` without `-i`, whose stdin is /dev/null, still gets it).
pub fn caller_size() -> Option<(u16, u16)> {
    get_size(0).or_else(|| get_size(1))
}

/// Make `slave` the controlling terminal and stdio of this (new-session) process.
pub fn make_controlling(slave: &OwnedFd) -> Result<()> {
    // SAFETY: TIOCSCTTY on an fd we own.
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    nix::Error::result(rc).ctx(|| "TIOCSCTTY")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard fds.
        let rc = unsafe { libc::dup2(slave.as_raw_fd(), fd) };
        nix::Error::result(rc).ctx(|| "dup2 terminal")?;
    }
    Ok(())
}

/// Gives the process user `uid` its stdio where it is an anonymous pipe or socket (what an
/// engine or the caller made for this process), so it can reopen /dev/stdout as runc allows.
/// Anything else (/dev/null, a host terminal, a file stdout was redirected to) is a node of
/// the host that the runtime must not change, and keeps its owner.
pub fn chown_stdio_pipes(uid: u32) -> Result<()> {
    const PIPEFS_MAGIC: i64 = 0x5049_5045;
    const SOCKFS_MAGIC: i64 = 0x534F_434B;
    for fd in 0..3 {
        // SAFETY: fstat/fstatfs fill the zeroed structs we pass for an fd number.
        let (st, fs) = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let mut fs: libc::statfs = std::mem::zeroed();
            if libc::fstat(fd, &mut st) != 0 || libc::fstatfs(fd, &mut fs) != 0 {
                continue; // closed
            }
            (st, fs)
        };
        // f_type is i64 on x86_64 glibc but of other widths elsewhere: the cast is for them
        #[allow(clippy::unnecessary_cast)]
        let anonymous = matches!(fs.f_type as i64, PIPEFS_MAGIC | SOCKFS_MAGIC);
        if !anonymous || st.st_uid == uid {
            continue;
        }
        // SAFETY: fchown of a standard fd; the group stays as it is (-1).
        if unsafe { libc::fchown(fd, uid, u32::MAX) } != 0 {
            let e = std::io::Error::last_os_error();
            // EINVAL/EPERM: uid or the owner is not mapped in our user namespace; leave it
            if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EPERM)) {
                return Err(crate::error::Error::Other(format!(
                    "chown stdio fd {fd} to uid {uid}: {e}"
                )));
            }
        }
    }
    Ok(())
}

/// Put the caller's terminal in raw mode; the returned guard restores it.
pub struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    pub fn enter() -> RawMode {
        Self::enter_inner(false).0
    }

    /// [`RawMode::enter`] for a relay that forwards our stdin to another terminal: also returns
    /// the input our (canonical) terminal had already completed, to be forwarded first.
    ///
    /// In canonical mode the line discipline keeps an EOF typed at the start of a line (VEOF,
    /// ^D: what `script` sends when its own stdin ends) as a NUL marking the line's end; once
    /// the terminal is raw that marker reads as a plain NUL byte, which would reach the
    /// container as a ^@ keystroke. So the complete lines are read while still canonical, and
    /// every EOF among them is passed on as the VEOF character, the keystroke that made it.
    pub fn enter_relaying() -> (RawMode, Vec<u8>) {
        Self::enter_inner(true)
    }

    fn enter_inner(take_pending: bool) -> (RawMode, Vec<u8>) {
        use nix::sys::termios::{LocalFlags, SpecialCharacterIndices};
        let stdin = std::io::stdin();
        match nix::sys::termios::tcgetattr(&stdin) {
            Ok(orig) => {
                let mut pending = Vec::new();
                if take_pending && orig.local_flags.contains(LocalFlags::ICANON) {
                    let veof = orig.control_chars[SpecialCharacterIndices::VEOF as usize];
                    pending = take_canonical_input(stdin.as_fd(), veof);
                }
                let mut raw = orig.clone();
                nix::sys::termios::cfmakeraw(&mut raw);
                let _ =
                    nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &raw);
                (RawMode(Some(orig)), pending)
            }
            Err(_) => (RawMode(None), Vec::new()),
        }
    }
}

/// Read what a canonical-mode terminal has ready without blocking: its complete lines, with
/// each EOF (a read of 0 bytes) as `veof` (nothing when VEOF is disabled).
fn take_canonical_input(fd: BorrowedFd<'_>, veof: u8) -> Vec<u8> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: a hung-up terminal stays readable (0 bytes) forever.
    for _ in 0..64 {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(1) => {}
            Err(nix::Error::EINTR) => continue,
            _ => break,
        }
        let rev = fds[0].revents().unwrap_or(PollFlags::empty());
        if !rev.contains(PollFlags::POLLIN)
            || rev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
        {
            break;
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) if veof != 0 => out.push(veof),
            Ok(0) => {}
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR) => {}
            Err(_) => break,
        }
    }
    out
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}
