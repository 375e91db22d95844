//! The volumes and binds of a container that is not running, mounted into its rootfs for one
//! archive operation (`cp`, the archive endpoints), as dockerd does: a volume path of a created
//! or stopped container is the volume's content, and a tar put there lands in the volume.
//!
//! The mounts are made in a mount namespace of the calling thread alone (unshare(CLONE_FS |
//! CLONE_NEWNS), made a slave of the host's so nothing propagates back), and the thread returns
//! to its own namespace when the operation ends: the host never sees them, two operations on
//! one container never share them, and nothing stays mounted whatever happens to the
//! operation (the namespace dies with its last user).

use crate::error::{Error, IoContext, Result};
use crate::types::MountPoint;
use image::rootfd::Root;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// The calling thread in a mount namespace of its own until dropped, when it goes back to the
/// one it was in (and to its working directory, which setns resets).
pub struct PrivateMounts {
    orig: File,
    cwd: File,
}

impl PrivateMounts {
    pub fn enter() -> Result<PrivateMounts> {
        let orig =
            File::open("/proc/thread-self/ns/mnt").ctx(|| "open the mount namespace".into())?;
        let cwd = File::open(".").ctx(|| "open the working directory".into())?;
        nix::sched::unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)
            .map_err(|e| Error::Other(format!("unshare the mount namespace: {e}")))?;
        let me = PrivateMounts { orig, cwd };
        // a slave: the host's mounts still reach us, ours never reach the host
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| Error::Other(format!("make / a slave mount: {e}")))?;
        Ok(me)
    }
}

impl Drop for PrivateMounts {
    fn drop(&mut self) {
        if let Err(e) = nix::sched::setns(self.orig.as_fd(), CloneFlags::CLONE_NEWNS) {
            // never seen: the thread keeps a namespace that still has every host mount
            eprintln!("berth: cannot return to the mount namespace: {e}");
        }
        let _ = nix::unistd::fchdir(self.cwd.as_fd());
    }
}

/// The mounts an archive operation must see: volumes and binds (a tmpfs of a stopped
/// container has nothing in it), the shallow ones first so nested ones land on top.
pub fn archive_mounts(mounts: &[MountPoint]) -> Vec<&MountPoint> {
    let mut v: Vec<&MountPoint> = mounts
        .iter()
        .filter(|m| matches!(m.kind.as_str(), "volume" | "bind") && !m.source.is_empty())
        .collect();
    v.sort_by_key(|m| m.destination.split('/').filter(|s| !s.is_empty()).count());
    v
}

/// Mount each of `mounts` at its destination inside the root at `rootfs` (the destination
/// made, inside the root, when missing: a directory, or a file for a file's bind).
pub fn mount_all(rootfs: &Path, mounts: &[&MountPoint]) -> Result<()> {
    for m in mounts {
        // opened anew for each: a lookup crosses the mounts made before it
        let root = Root::open(rootfs).ctx(|| format!("open {}", rootfs.display()))?;
        let src = Path::new(&m.source);
        let is_dir = std::fs::metadata(src)
            .ctx(|| format!("mount source {}", m.source))?
            .is_dir();
        let target = mount_point(&root, &m.destination, is_dir)
            .ctx(|| format!("mount point {}", m.destination))?;
        let at = format!("/proc/self/fd/{}", target.as_raw_fd());
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        nix::mount::mount(Some(src), at.as_str(), None::<&str>, bind, None::<&str>)
            .map_err(|e| Error::Other(format!("mount {} on {}: {e}", m.source, m.destination)))?;
        if !m.rw {
            let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
            nix::mount::mount(None::<&str>, at.as_str(), None::<&str>, ro, None::<&str>)
                .map_err(|e| Error::Other(format!("read-only {}: {e}", m.destination)))?;
        }
    }
    Ok(())
}

/// `dest` inside `root`, followed, made when missing (the missing directories on the way,
/// 0755; the last one a directory or an empty file): its `O_PATH` fd.
fn mount_point(root: &Root, dest: &str, is_dir: bool) -> io::Result<OwnedFd> {
    let parts: Vec<&str> = dest.split('/').filter(|s| !s.is_empty()).collect();
    let mut at = String::new();
    for (i, name) in parts.iter().enumerate() {
        let parent = if at.is_empty() {
            "/".to_string()
        } else {
            at.clone()
        };
        at = format!("{at}/{name}");
        match root.open_path(&at, true) {
            Ok(_) => continue,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let dir = root.open_path(&parent, true)?;
        let last = i + 1 == parts.len();
        let made = if last && !is_dir {
            nix::fcntl::openat(
                &dir,
                *name,
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_EXCL
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_NOFOLLOW
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            nix::sys::stat::mkdirat(&dir, *name, nix::sys::stat::Mode::from_bits_truncate(0o755))
        };
        match made {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    root.open_path(dest, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(kind: &str, dest: &str) -> MountPoint {
        MountPoint {
            kind: kind.into(),
            source: "/x".into(),
            destination: dest.into(),
            ..Default::default()
        }
    }

    #[test]
    fn shallow_first_and_no_tmpfs() {
        let m = [mp("bind", "/a/b/c"), mp("tmpfs", "/t"), mp("volume", "/a")];
        let got: Vec<&str> = archive_mounts(&m)
            .iter()
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(got, ["/a", "/a/b/c"]);
    }

    #[test]
    fn mount_points_are_made_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        // a symlink out of the root is followed inside it
        std::os::unix::fs::symlink("/etc", t.path().join("out")).unwrap();
        let root = Root::open(t.path()).unwrap();
        mount_point(&root, "/out/new/dir", true).unwrap();
        assert!(t.path().join("etc/new/dir").is_dir());
        mount_point(&root, "/f/file", false).unwrap();
        assert!(t.path().join("f/file").is_file());
        // there already: taken as it is
        mount_point(&root, "/etc", true).unwrap();
    }
}
