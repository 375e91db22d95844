//! OOM notifications: v1 `memory.oom_control` + eventfd registered through
//! `cgroup.event_control`; v2 inotify on `memory.events` (its `oom_kill` counter).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs;

/// What [`OomWatcher::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomEvent {
    /// The cgroup hit OOM; the number of events since the last report.
    Oom(u64),
    /// The cgroup was removed: no more events will come.
    Gone,
    /// Nothing happened before the timeout.
    Timeout,
}

/// Watches one cgroup for OOM events. Its file descriptor (see [`AsRawFd`]) becomes
/// readable when something may have happened, so it fits an event loop; call `wait` with
/// `Some(Duration::ZERO)` then.
#[derive(Debug)]
pub struct OomWatcher {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    V1 {
        efd: OwnedFd,
        _oom_control: File,
        dir: PathBuf,
    },
    V2 {
        inotify: OwnedFd,
        dir: PathBuf,
        last: u64,
    },
}

fn poll_in(fd: RawFd, timeout: Option<Duration>) -> Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms: i32 = match timeout {
        None => -1,
        Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Sys {
                op: "poll oom event fd".into(),
                source: e,
            });
        }
        return Ok(r > 0);
    }
}

impl OomWatcher {
    pub(crate) fn v1(dir: &Path) -> Result<OomWatcher> {
        let ctl_path = dir.join("memory.oom_control");
        let oom_control = File::open(&ctl_path).map_err(|source| Error::Read {
            path: ctl_path,
            source,
        })?;
        // SAFETY: plain syscall; the result is checked.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(Error::sys("eventfd for memory.oom_control"));
        }
        // SAFETY: efd is a fresh fd we own.
        let efd = unsafe { OwnedFd::from_raw_fd(efd) };
        let line = format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd());
        fs::write(dir, "cgroup.event_control", &line)?;
        Ok(OomWatcher {
            kind: Kind::V1 {
                efd,
                _oom_control: oom_control,
                dir: dir.to_path_buf(),
            },
        })
    }

    pub(crate) fn v2(dir: &Path) -> Result<OomWatcher> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(Error::sys("inotify_init1 for memory.events"));
        }
        // SAFETY: fd is a fresh fd we own.
        let inotify = unsafe { OwnedFd::from_raw_fd(fd) };
        let events = dir.join("memory.events");
        let c = std::ffi::CString::new(events.as_os_str().as_encoded_bytes()).map_err(|_| {
            Error::Parse {
                path: events.clone(),
                reason: "path contains a NUL byte".into(),
            }
        })?;
        // SAFETY: valid fd and NUL-terminated path.
        let wd = unsafe {
            libc::inotify_add_watch(
                inotify.as_raw_fd(),
                c.as_ptr(),
                libc::IN_MODIFY | libc::IN_DELETE_SELF,
            )
        };
        if wd < 0 {
            return Err(Error::Sys {
                op: format!("inotify_add_watch {}", events.display()),
                source: std::io::Error::last_os_error(),
            });
        }
        let last = oom_count_v2(dir)?;
        Ok(OomWatcher {
            kind: Kind::V2 {
                inotify,
                dir: dir.to_path_buf(),
                last,
            },
        })
    }

    /// Waits up to `timeout` (`None`: forever) for an OOM event.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<OomEvent> {
        match &mut self.kind {
            Kind::V1 { efd, dir, .. } => {
                if !poll_in(efd.as_raw_fd(), timeout)? {
                    return Ok(OomEvent::Timeout);
                }
                let mut buf = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer.
                let n = unsafe { libc::read(efd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                if n != 8 {
                    return Err(Error::sys("read oom eventfd"));
                }
                // The kernel also signals the eventfd when the cgroup goes away.
                if !dir.join("memory.oom_control").exists() {
                    return Ok(OomEvent::Gone);
                }
                Ok(OomEvent::Oom(u64::from_ne_bytes(buf)))
            }
            Kind::V2 {
                inotify, dir, last, ..
            } => {
                let deadline = timeout.map(|t| Instant::now() + t);
                loop {
                    if !dir.join("memory.events").exists() {
                        return Ok(OomEvent::Gone);
                    }
                    let cur = oom_count_v2(dir)?;
                    if cur > *last {
                        let n = cur - *last;
                        *last = cur;
                        return Ok(OomEvent::Oom(n));
                    }
                    let left = match deadline {
                        None => None,
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                return Ok(OomEvent::Timeout);
                            }
                            Some(d - now)
                        }
                    };
                    if poll_in(inotify.as_raw_fd(), left)? {
                        let mut buf = [0u8; 4096];
                        // Drain; the content does not matter, the counter does.
                        // SAFETY: reading into a buffer of the given size.
                        unsafe {
                            libc::read(inotify.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                        };
                    }
                }
            }
        }
    }
}

impl AsRawFd for OomWatcher {
    fn as_raw_fd(&self) -> RawFd {
        match &self.kind {
            Kind::V1 { efd, .. } => efd.as_raw_fd(),
            Kind::V2 { inotify, .. } => inotify.as_raw_fd(),
        }
    }
}

/// OOM kills counted in v2 memory.events (`oom_kill`, or `oom` on kernels without it).
pub(crate) fn oom_count_v2(dir: &Path) -> Result<u64> {
    let ev = fs::read_keyed(dir, "memory.events")?;
    if ev.iter().any(|(k, _)| k == "oom_kill") {
        Ok(fs::keyed(&ev, "oom_kill"))
    } else {
        Ok(fs::keyed(&ev, "oom"))
    }
}
