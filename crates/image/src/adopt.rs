//! A finished overlay snapshot's upper dir taken as the unpacked dir of the layer just made of
//! it, instead of unpacking the layer tar that was just written from that very dir (the
//! builder's commit of a RUN or COPY step: the container goes right after).
//!
//! The dir is made what unpacking its tar gives (see `layer::apply_layer` in overlay form):
//! overlayfs' own xattrs are dropped but the opaque mark, sockets (never archived) go, and
//! every time is the whole second the tar keeps (access time = modification time). Whiteouts
//! are 0/0 character devices in both.
//!
//! Only where the kernel's overlayfs is used as root (`trusted.overlay.*`): a user namespace's
//! `user.overlay.*` or fuse-overlayfs keep the unpacking path.

use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::snapshot::{SnapshotKind, Snapshotter};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Whether snapshots here can be adopted (kernel overlayfs as root).
pub fn supported() -> bool {
    !crate::overlay_xattr::userxattr() && !crate::overlay_xattr::fuse_forced()
}

impl Snapshotter {
    /// Make the upper dir of overlay snapshot `id` the layer dir of `diff_id` (the tar of that
    /// upper dir, already stored). The snapshot is unmounted first and cannot be used again:
    /// only for a container that is being removed. Returns the layer's size (the sum of its
    /// regular files) when adopted; None when the layer is unpacked already, the snapshot is
    /// still in use (busy) or this host keeps the unpacking path.
    pub fn adopt_upper(&self, id: &str, diff_id: &Digest) -> Result<Option<u64>> {
        if !supported() || self.has_layer(diff_id) {
            return Ok(None);
        }
        let merged = self.rootfs(id, SnapshotKind::Overlay);
        if !umount_now(&merged).ctx(|| format!("unmount {}", merged.display()))? {
            return Ok(None);
        }
        let upper = self.upper_dir(id);
        let size = drop_overlay_xattrs(&upper, false)
            .and_then(|()| settle(&upper))
            .ctx(|| format!("prepare {} as a layer", upper.display()))?;
        let dst = self.layer_dir(diff_id);
        match fs::rename(&upper, &dst) {
            Ok(()) => Ok(Some(size)),
            // made meanwhile by another build: theirs stays, ours goes with the container
            Err(e) if dst.is_dir() || e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(None),
            Err(e) => Err(e).ctx(|| format!("rename {} to {}", upper.display(), dst.display())),
        }
    }
}

/// Unmount `p` at once (no lazy detach: a mount still in use keeps its upper dir busy);
/// false when it is busy. Not mounted is fine.
fn umount_now(p: &Path) -> io::Result<bool> {
    let c = CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), 0) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOENT) => Ok(true),
        Some(libc::EBUSY) => Ok(false),
        _ => Err(e),
    }
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)
}

/// overlayfs' own xattrs of `p` (not followed) dropped, but a directory's opaque mark.
fn drop_overlay_xattrs(p: &Path, is_dir: bool) -> io::Result<()> {
    for k in xattr::list(p)? {
        let name = k.to_string_lossy();
        if !crate::overlay_xattr::is_overlay_own(&name) {
            continue;
        }
        if is_dir && name == crate::overlay_xattr::opaque_name() {
            let v = xattr::get(p, &k).ok().flatten().unwrap_or_default();
            if crate::overlay_xattr::is_opaque(&name, &v) {
                continue;
            }
        }
        match xattr::remove(p, &k) {
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            r => r?,
        }
    }
    Ok(())
}

/// Both times of `p` (not followed) set to the whole second of `mtime`.
fn whole_second(p: &CString, mtime: i64) -> io::Result<()> {
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: valid path and two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            p.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make the tree below `dir` what unpacking its layer tar gives; the sum of its regular files'
/// sizes. Children first, so a directory's time is set after its entries changed.
fn settle(dir: &Path) -> io::Result<u64> {
    let mut size = 0;
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        let md = fs::symlink_metadata(&p)?;
        let ft = md.file_type();
        if ft.is_socket() {
            fs::remove_file(&p)?;
            continue;
        }
        if ft.is_dir() {
            size += settle(&p)?;
        } else if ft.is_file() {
            size += md.len();
        }
        drop_overlay_xattrs(&p, ft.is_dir())?;
        whole_second(&cpath(&p)?, md.mtime())?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_sums_files_drops_sockets_and_rounds_times() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/b")).unwrap();
        fs::write(d.path().join("a/b/f"), "12345").unwrap();
        fs::write(d.path().join("g"), "123").unwrap();
        std::os::unix::fs::symlink("g", d.path().join("l")).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(d.path().join("a/s")).unwrap();
        assert_eq!(settle(d.path()).unwrap(), 8);
        assert!(!d.path().join("a/s").exists());
        for p in ["a", "a/b", "a/b/f", "g", "l"] {
            let md = fs::symlink_metadata(d.path().join(p)).unwrap();
            assert_eq!(md.mtime_nsec(), 0, "{p}");
            assert_eq!((md.atime(), md.atime_nsec()), (md.mtime(), 0), "{p}");
        }
    }
}
