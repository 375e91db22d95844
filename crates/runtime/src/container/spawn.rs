//! Cloning the container's processes: directly, or through an intermediate that joins
//! existing namespaces first, with the caller's stdio fds made the new process's 0-2.

use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{self};
use crate::namespaces;
use nix::sched::CloneFlags;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::reap;

/// The raw fds to make a new process's 0, 1 and 2.
pub(super) fn stdio_fds(
    stdin: &Option<OwnedFd>,
    stdout: &Option<OwnedFd>,
    stderr: &Option<OwnedFd>,
) -> Stdio {
    let raw = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd());
    [raw(stdin), raw(stdout), raw(stderr)]
}

/// fds for a new process's 0, 1 and 2 (None: keep the one inherited).
pub(super) type Stdio = [Option<RawFd>; 3];

/// In a freshly cloned child: the given fds become 0, 1 and 2. Each is first copied above 2,
/// so a source that is itself one of 0-2 is not overwritten before it is used. Only
/// async-signal-safe calls.
fn redirect_stdio(stdio: Stdio) {
    let mut high: [RawFd; 3] = [-1; 3];
    for (h, fd) in high.iter_mut().zip(stdio) {
        if let Some(fd) = fd {
            // SAFETY: fcntl on an fd of ours.
            *h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        }
    }
    for (target, h) in high.into_iter().enumerate() {
        if h >= 0 {
            // SAFETY: dup2 onto our standard fds in the new process, then close the copy.
            unsafe {
                libc::dup2(h, target as RawFd);
                libc::close(h);
            }
        }
    }
}

/// clone(2) without a new stack: like fork(), but with namespace flags. The child continues on
/// a copy-on-write copy of our stack, which is safe because the runtime is single-threaded.
fn clone_child(flags: CloneFlags) -> Result<Option<i32>> {
    // SAFETY: raw clone with a NULL stack behaves like fork; the child only runs our own code
    // and leaves through execve or _exit.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    cloned(rc, || format!("clone({flags:?})"))
}

/// A fork-like clone's return: None in the child, the child's pid in the parent.
fn cloned(rc: libc::c_long, what: impl FnOnce() -> String) -> Result<Option<i32>> {
    match rc {
        -1 => Err(nix::Error::last()).ctx(what),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}

/// clone3(2)'s arguments (linux/sched.h, version 2: with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// [`clone_child`] straight into the v2 cgroup `cgroup` (a directory fd), so nobody has to
/// move the process there (see `cgroups::Entry`). Err when the kernel cannot (before 5.7, or
/// the cgroup refuses): nothing was created, the caller clones the usual way.
fn clone_into_cgroup(flags: CloneFlags, cgroup: RawFd) -> Result<Option<i32>> {
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with no stack behaves like fork (see clone_child); `args` outlives the
    // call and its size is the one passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    cloned(rc, || format!("clone3({flags:?}, into a cgroup)"))
}

/// Clone the container process: directly when it only gets new namespaces, through an
/// intermediate process that joins the existing ones first otherwise.
/// With `cgroup` (a v2 cgroup directory fd), the process is cloned into that cgroup where the
/// kernel can: the second value says whether it was.
pub(super) fn spawn<F>(
    new: CloneFlags,
    join_fds: Vec<(CloneFlags, OwnedFd)>,
    stdio: Stdio,
    cgroup: Option<RawFd>,
    parent: &Channel,
    child: &Channel,
    f: F,
) -> Result<(i32, bool)>
where
    F: FnOnce(&Channel) -> Result<std::convert::Infallible>,
{
    if !join_fds.is_empty() {
        return Ok((
            spawn_via_intermediate(join_fds, new, stdio, parent, child, f)?,
            false,
        ));
    }
    // (with a new user namespace, the runtime opens the new mount namespace itself right after
    // the clone, for the bind sources: all are made by clone then)
    let later = match new.contains(CloneFlags::CLONE_NEWUSER) {
        true => CloneFlags::empty(),
        false => new & MADE_BY_CHILD,
    };
    let at_clone = new.difference(later);
    let (cloned, into_cgroup) = match cgroup.map(|fd| clone_into_cgroup(at_clone, fd)) {
        Some(Ok(c)) => (c, true),
        None | Some(Err(_)) => (clone_child(at_clone)?, false),
    };
    match cloned {
        None => {
            close_runtime_end(parent);
            redirect_stdio(stdio);
            init::child_main(child, || {
                if !later.is_empty() {
                    nix::sched::unshare(later).ctx(|| format!("unshare({later:?})"))?;
                }
                f(child)
            })
        }
        Some(pid) => Ok((pid, into_cgroup)),
    }
}

/// New namespaces the new process makes itself, first thing (unshare(2)), rather than clone(2):
/// the same namespaces, made while the runtime goes on with its cgroup (a network namespace
/// alone takes ~0.4 ms). Pid and time namespaces stay with clone (unshare gives them to
/// children only). The runtime may not look at these namespaces of the process (its
/// /proc/PID/ns files) before the process's go-ahead.
const MADE_BY_CHILD: CloneFlags = CloneFlags::CLONE_NEWNET
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC);

/// In a cloned child, its copy of the runtime's end of the channel is closed: when the
/// runtime dies (or drops its end), the child's reads then end, rather than wait on an end it
/// holds itself (an init waiting for its go-ahead from a creator killed after `create` stayed
/// blocked until `delete`). The child never returns into the frames that own the runtime's
/// `Channel` (it execs or `_exit`s), so nothing closes that fd number again.
fn close_runtime_end(parent: &Channel) {
    // SAFETY: closing an fd of ours; see above for why no owner closes it again.
    unsafe {
        libc::close(parent.as_raw_fd());
    }
}

pub(super) fn spawn_via_intermediate<F>(
    join_fds: Vec<(CloneFlags, OwnedFd)>,
    new: CloneFlags,
    stdio: Stdio,
    parent: &Channel,
    child: &Channel,
    f: F,
) -> Result<i32>
where
    F: FnOnce(&Channel) -> Result<std::convert::Infallible>,
{
    match clone_child(CloneFlags::empty())? {
        None => init::child_main(child, || {
            close_runtime_end(parent);
            // the process cloned next inherits them
            redirect_stdio(stdio);
            namespaces::join_all(&join_fds)?;
            drop(join_fds);
            // CLONE_PARENT: the real child becomes the runtime's child, so it can be waited for.
            match clone_child(new | CloneFlags::CLONE_PARENT)? {
                None => f(child),
                Some(pid) => {
                    child.send(&Msg::Pid(pid))?;
                    // SAFETY: leave the intermediate without running any destructors.
                    unsafe { libc::_exit(0) }
                }
            }
        }),
        Some(inter) => {
            reap(inter);
            match parent.recv()? {
                Msg::Pid(pid) => Ok(pid),
                Msg::Error(e) => Err(Error::Other(e)),
                other => Err(Error::Other(format!("unexpected message {other:?}"))),
            }
        }
    }
}
