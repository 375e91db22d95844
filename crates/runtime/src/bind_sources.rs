//! Bind sources for a container in a new user namespace: its root (a mapped uid) may not be
//! able to reach them (a 0700 directory of the host's root). As runc, the runtime opens them
//! (O_PATH) with its own credentials but inside the container's mount namespace (a bind mount
//! must come from the caller's namespace), and hands the fds to the init, which mounts
//! `/proc/self/fd/N`. A source that cannot be opened fails `create` with the real cause.

use crate::channel::{recv_fds, send_fds, Channel};
use crate::error::{Error, Result};
use crate::rootfs::is_bind;
use nix::fcntl::OFlag;
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Indexes of the mounts that are binds with a source.
fn bind_indexes(mounts: &[Mount]) -> Vec<usize> {
    (0..mounts.len())
        .filter(|i| is_bind(&mounts[*i]) && mounts[*i].source().is_some())
        .collect()
}

/// Whether the init must wait for bind source fds before mounting. Not for a plain user's
/// runtime (runc's rootless mode): its init, root of a namespace the user owns, reaches what the
/// user reaches, and the user could not join the container's mount namespace from outside
/// anyway (setns needs CAP_SYS_CHROOT in the caller's own namespace).
pub fn expected(new_userns: bool, mounts: &[Mount]) -> bool {
    // SAFETY: geteuid has no preconditions.
    let privileged = unsafe { libc::geteuid() } == 0;
    new_userns && privileged && !bind_indexes(mounts).is_empty()
}

/// In the runtime: open the bind sources inside the mount namespace of `pid` (from a helper
/// process: setns needs a single thread) and send them to the init over `to_init`.
pub fn send(pid: i32, bundle: &Path, mounts: &[Mount], to_init: &Channel) -> Result<()> {
    let idx = bind_indexes(mounts);
    let (ours, theirs) = Channel::pair()?;
    let mntns = nix::fcntl::open(
        format!("/proc/{pid}/ns/mnt").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::Other(format!("opening the container's mount namespace: {e}")))?;
    // SAFETY: fork; the child only makes syscalls and leaves through _exit.
    match unsafe { nix::unistd::fork() }
        .map_err(|e| Error::Other(format!("fork for bind sources: {e}")))?
    {
        nix::unistd::ForkResult::Child => {
            let r = open_all(&mntns, bundle, mounts, &idx);
            let sent = match &r {
                Ok(fds) => {
                    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
                    send_fds(theirs.as_raw_fd(), &raw, "ok")
                }
                Err(e) => send_fds(theirs.as_raw_fd(), &[], &e.to_string()),
            };
            // SAFETY: leave the helper without running the parent's destructors.
            unsafe { libc::_exit(i32::from(sent.is_err() || r.is_err())) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            let got = recv_fds(ours.as_raw_fd(), idx.len());
            let _ = nix::sys::wait::waitpid(child, None);
            let (fds, text) = got?;
            if text != "ok" || fds.len() != idx.len() {
                return Err(Error::Spec(text));
            }
            let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
            send_fds(to_init.as_raw_fd(), &raw, "binds")
        }
    }
}

fn open_all(
    mntns: &OwnedFd,
    bundle: &Path,
    mounts: &[Mount],
    idx: &[usize],
) -> Result<Vec<OwnedFd>> {
    nix::sched::setns(mntns, nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::Other(format!("joining the container's mount namespace: {e}")))?;
    idx.iter()
        .map(|i| {
            // a relative source is relative to the bundle (join keeps an absolute one)
            let src = bundle.join(mounts[*i].source().as_ref().expect("bind with source"));
            nix::fcntl::open(
                &src,
                OFlag::O_PATH | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| {
                Error::Spec(format!(
                    "mounts[{i}]: bind source {}: {}",
                    src.display(),
                    e.desc()
                ))
            })
        })
        .collect()
}

/// In the init: receive the fds [`send`] opened; per mount, the path to bind from. The fds
/// must stay open until the mounts are done.
pub fn receive(ch: &Channel, mounts: &[Mount]) -> Result<(Vec<OwnedFd>, Vec<Option<PathBuf>>)> {
    let idx = bind_indexes(mounts);
    let (fds, _) = recv_fds(ch.as_raw_fd(), idx.len())?;
    if fds.len() != idx.len() {
        return Err(Error::Other(
            "bind sources: wrong number of file descriptors".into(),
        ));
    }
    let mut paths = vec![None; mounts.len()];
    for (i, fd) in idx.iter().zip(&fds) {
        paths[*i] = Some(PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())));
    }
    Ok((fds, paths))
}
