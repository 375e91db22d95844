//! Snapshots: every layer is unpacked once into `<root>/snapshots/layers/<diff_id hex>`
//! (in overlay form: whiteouts as 0/0 devices, opaque dirs as xattrs) and shared by
//! all images and containers. A container's rootfs is an overlayfs mount of those
//! directories plus its own `<id>.upper` and `<id>.work`; where overlayfs cannot be
//! mounted the layers are copied (applied in order) into `<id>.rootfs` instead.
//!
//! Active snapshots are flat siblings (`<id>.upper`, `<id>.work`, `<id>.merged`)
//! with their metadata in the image index, so one costs three empty directories
//! (plus the `work/work` overlayfs creates) on disk.

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::layer::{self, ApplyOptions, WhiteoutMode};
use crate::store::random_suffix;
use crate::trash::Trash;
use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    Overlay,
    Copy,
}

impl SnapshotKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SnapshotKind::Overlay => "overlay",
            SnapshotKind::Copy => "copy",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Snapshotter {
    root: PathBuf,
}

fn valid_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Snapshot(
            id.to_string(),
            "invalid id: use 1-128 letters, digits, '-' or '_'".into(),
        ));
    }
    Ok(())
}

/// Is `p` (symlinks followed) the root of a mount? Asked of statx (STATX_ATTR_MOUNT_ROOT,
/// Linux 5.8), which costs the same whatever the number of mounts; mountinfo, where statx
/// cannot tell, has a line per container's rootfs: reading it on every start and removal
/// made 1,000 containers' `rm -f` quadratic.
pub fn is_mountpoint(p: &Path) -> bool {
    match statx_mount_root(p) {
        Ok(Some(root)) => root,
        // gone or not a directory path: not mounted, and mountinfo would say so too
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => false,
        Ok(None) | Err(_) => is_mountpoint_in_mountinfo(p),
    }
}

/// STATX_ATTR_MOUNT_ROOT of `p`; None when the kernel does not report that attribute.
fn statx_mount_root(p: &Path) -> io::Result<Option<bool>> {
    let c = CString::new(p.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: statx is plain data, all zeroes is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a valid path string and a statx buffer we own; mask 0: only the basic fields
    // and the attributes, which statx always reports.
    if unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, 0, &mut stx) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let bit = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok((stx.stx_attributes_mask & bit != 0).then_some(stx.stx_attributes & bit != 0))
}

fn is_mountpoint_in_mountinfo(p: &Path) -> bool {
    let Ok(text) = mountinfo::read_self() else {
        return false;
    };
    let Ok(canon) = p.canonicalize() else {
        return false;
    };
    let mounted = mountinfo::mounts(&text).any(|m| m.mount_point == canon);
    mounted
}

pub fn unmount(p: &Path) -> io::Result<()> {
    let c = CString::new(p.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
    // SAFETY: valid path string.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
    }
    Ok(())
}

impl Snapshotter {
    pub fn open(root: &Path) -> Result<Self> {
        let root = root.join("snapshots");
        for d in ["layers", "active", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).ctx(|| format!("create {}", p.display()))?;
        }
        Ok(Snapshotter { root })
    }

    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).is_dir()
    }

    /// Unpack a layer blob into its shared directory unless it is there already.
    /// The result is verified against `diff_id` before it becomes visible.
    /// Returns the unpacked size in bytes (None if it already existed).
    pub fn unpack_layer<R: io::Read>(&self, blob: R, diff_id: &Digest) -> Result<Option<u64>> {
        if self.has_layer(diff_id) {
            return Ok(None);
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{}", diff_id.short(), random_suffix()));
        fs::create_dir(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        let guard = RemoveOnDrop(Some(tmp.clone()));
        let opts = ApplyOptions {
            whiteouts: WhiteoutMode::Overlay,
            ..Default::default()
        };
        let applied = layer::apply_layer(blob, &tmp, &opts)?;
        if applied.diff_id != *diff_id {
            return Err(Error::DigestMismatch {
                what: "uncompressed layer (diff_id)".into(),
                expected: diff_id.to_string(),
                actual: applied.diff_id.to_string(),
            });
        }
        let dst = self.layer_dir(diff_id);
        match fs::rename(&tmp, &dst) {
            Ok(()) => {
                std::mem::forget(guard);
                Ok(Some(applied.size))
            }
            // somebody else unpacked it meanwhile; ours is dropped
            Err(e) if dst.is_dir() || e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(None),
            Err(e) => Err(e).ctx(|| format!("rename {} to {}", tmp.display(), dst.display())),
        }
    }

    pub fn remove_layer(&self, diff_id: &Digest) -> Result<()> {
        let d = self.layer_dir(diff_id);
        if d.exists() {
            // move aside first so a half-removed layer is never used
            let tmp = self
                .root
                .join("tmp")
                .join(format!("rm-{}", random_suffix()));
            fs::rename(&d, &tmp).ctx(|| format!("rename {}", d.display()))?;
            fs::remove_dir_all(&tmp).ctx(|| format!("remove {}", tmp.display()))?;
        }
        Ok(())
    }

    pub fn layer_dirs(&self) -> Result<Vec<Digest>> {
        let d = self.root.join("layers");
        let mut v = Vec::new();
        for e in fs::read_dir(&d).ctx(|| format!("read {}", d.display()))? {
            let e = e.ctx(|| format!("read {}", d.display()))?;
            if let Some(Ok(dg)) = e.file_name().to_str().map(Digest::from_hex) {
                v.push(dg);
            }
        }
        Ok(v)
    }

    fn active(&self, id: &str, suffix: &str) -> PathBuf {
        self.root.join("active").join(format!("{id}.{suffix}"))
    }

    pub fn upper_dir(&self, id: &str) -> PathBuf {
        self.active(id, "upper")
    }

    /// Where the container's rootfs is: the overlay mount or the copied tree.
    pub fn rootfs(&self, id: &str, kind: SnapshotKind) -> PathBuf {
        match kind {
            SnapshotKind::Overlay => self.active(id, "merged"),
            SnapshotKind::Copy => self.active(id, "rootfs"),
        }
    }

    /// Mount an overlay rootfs for `id` over the layers (bottom first).
    pub fn prepare_overlay(&self, id: &str, diff_ids: &[Digest]) -> Result<PathBuf> {
        self.prepare_overlay_opts(id, diff_ids, false)
    }

    /// [`Snapshotter::prepare_overlay`]; `volatile` (for containers removed when they exit)
    /// mounts with overlayfs' `volatile`: no syncs of the upper layer, so neither writes nor
    /// the unmount wait for the disk. Such a snapshot cannot be mounted again after a crash.
    pub fn prepare_overlay_opts(
        &self,
        id: &str,
        diff_ids: &[Digest],
        volatile: bool,
    ) -> Result<PathBuf> {
        valid_id(id)?;
        let upper = self.active(id, "upper");
        let work = self.active(id, "work");
        let merged = self.active(id, "merged");
        for d in [&upper, &work, &merged] {
            fs::create_dir(d).ctx(|| format!("create {}", d.display()))?;
        }
        if volatile {
            fs::write(self.active(id, "volatile"), b"").ctx(|| format!("mark {id} volatile"))?;
        }
        if let Err(e) = self.mount_overlay(id, diff_ids) {
            for d in [&upper, &work, &merged] {
                let _ = fs::remove_dir_all(d);
            }
            return Err(e);
        }
        Ok(merged)
    }

    /// A `volatile` snapshot made an ordinary one (its container is kept after all): its upper
    /// dir synced, and overlayfs' mark of a volatile mount (which refuses to mount it again)
    /// and ours removed; it is unmounted first.
    pub fn make_durable(&self, id: &str) -> Result<()> {
        valid_id(id)?;
        let marker = self.active(id, "volatile");
        if !marker.exists() {
            return Ok(());
        }
        let merged = self.active(id, "merged");
        unmount(&merged).ctx(|| format!("unmount {}", merged.display()))?;
        let upper = self.active(id, "upper");
        let synced = fs::File::open(&upper).and_then(|f| {
            // SAFETY: a valid descriptor.
            match unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)) } {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            }
        });
        synced.ctx(|| format!("sync {}", upper.display()))?;
        let incompat = self.active(id, "work").join("work/incompat");
        match fs::remove_dir_all(&incompat) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).ctx(|| format!("remove {}", incompat.display()))
            }
            _ => {}
        }
        fs::remove_file(&marker).ctx(|| format!("remove {}", marker.display()))
    }

    /// (Re)mount an existing overlay snapshot.
    ///
    /// Uses the new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`), which takes
    /// the lower dirs one by one (`lowerdir+`, Linux >= 6.8) with no limit on their
    /// total length; elsewhere it falls back to mount(2) (see
    /// [`Snapshotter::mount_overlay_legacy`]).
    pub fn mount_overlay(&self, id: &str, diff_ids: &[Digest]) -> Result<()> {
        let merged = self.active(id, "merged");
        if is_mountpoint(&merged) {
            return Ok(());
        }
        let lowers = self.lower_dirs(id, diff_ids)?;
        let upper = self.active(id, "upper");
        let work = self.active(id, "work");
        let volatile = self.active(id, "volatile").exists();
        if crate::overlay_xattr::fuse_forced() {
            return mount_fuse_overlay(id, &lowers, &upper, &work, &merged);
        }
        match newapi::mount_overlay(&lowers, &upper, &work, &merged, volatile) {
            Ok(()) => Ok(()),
            // no new mount API (ENOSYS, a seccomp filter), no `lowerdir+` (EINVAL before
            // 6.8): the classic way; should that fail too, both errors are reported
            Err(first) => self
                .mount_classic(id, &lowers, &upper, &work, &merged, volatile)
                .or_else(|e| {
                    // a user namespace where the kernel refuses overlayfs (before 5.11)
                    if crate::overlay_xattr::userxattr() && fuse_overlayfs().is_some() {
                        mount_fuse_overlay(id, &lowers, &upper, &work, &merged)
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| match e {
                    Error::Snapshot(id, msg) => {
                        Error::Snapshot(id, format!("{msg} (new mount API: {first})"))
                    }
                    e => e,
                }),
        }
    }

    /// [`Snapshotter::mount_overlay`] with mount(2) only, as on kernels without the new
    /// mount API or `lowerdir+`. When the option string would not fit the page mount(2)
    /// accepts, the lower dirs are passed by short `/proc/self/fd/N` names of `O_PATH`
    /// descriptors held for the duration of the call (no chdir, nothing left on disk).
    pub fn mount_overlay_legacy(&self, id: &str, diff_ids: &[Digest]) -> Result<()> {
        let merged = self.active(id, "merged");
        if is_mountpoint(&merged) {
            return Ok(());
        }
        let lowers = self.lower_dirs(id, diff_ids)?;
        let upper = self.active(id, "upper");
        let work = self.active(id, "work");
        let volatile = self.active(id, "volatile").exists();
        self.mount_classic(id, &lowers, &upper, &work, &merged, volatile)
    }

    /// The lower dirs of a snapshot, topmost first. A layer an image holds twice (two steps
    /// that changed the same files the same way) is stacked once, at its topmost place:
    /// overlayfs refuses a directory twice ("conflicting lowerdir path"), and the lower copy
    /// is hidden by the upper one anyway (every path it has, the upper copy has too).
    fn lower_dirs(&self, id: &str, diff_ids: &[Digest]) -> Result<Vec<PathBuf>> {
        if diff_ids.is_empty() {
            // overlayfs needs a lower dir: an empty one
            let empty = self.root.join("empty");
            fs::create_dir_all(&empty).ctx(|| format!("create {}", empty.display()))?;
            return Ok(vec![empty]);
        }
        let mut seen = std::collections::HashSet::new();
        diff_ids
            .iter()
            .rev()
            .filter(|d| seen.insert(d.to_string()))
            .map(|d| {
                let p = self.layer_dir(d);
                if !p.is_dir() {
                    return Err(Error::Snapshot(
                        id.into(),
                        format!("layer {d} is not unpacked"),
                    ));
                }
                Ok(p)
            })
            .collect()
    }

    fn mount_classic(
        &self,
        id: &str,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        merged: &Path,
        volatile: bool,
    ) -> Result<()> {
        let page = page_size();
        let names: Vec<String> = lowers
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let mut opts = overlay_data(&names, upper, work, volatile);
        // keeps the O_PATH descriptors named in `opts` open until the mount is done
        let mut held = Vec::new();
        if !fits_page(&opts, page) {
            for p in lowers {
                held.push(open_path(p).map_err(|e| {
                    Error::Snapshot(id.into(), format!("open {}: {e}", p.display()))
                })?);
            }
            let short: Vec<String> = held.iter().map(|fd| fd_name(fd.0)).collect();
            opts = overlay_data(&short, upper, work, volatile);
            if !fits_page(&opts, page) {
                return Err(Error::Snapshot(
                    id.into(),
                    format!(
                        "{} layers are too many for one overlay mount on this kernel \
                         (mount options of {} bytes, at most {} accepted)",
                        lowers.len(),
                        opts.len(),
                        page - 1
                    ),
                ));
            }
        }
        let mount = |o: &str| {
            nix::mount::mount(
                Some("overlay"),
                merged,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(o),
            )
        };
        let mut r = mount(&opts);
        if r.is_err() && volatile {
            // a kernel without `volatile` (before 5.10): mount it the ordinary way
            r = mount(opts.trim_end_matches(",volatile"));
        }
        r.map_err(|e| {
            Error::Snapshot(
                id.into(),
                format!("mount overlay on {}: {e}", merged.display()),
            )
        })
    }

    /// The copying fallback: apply every layer blob in order into `<id>.rootfs`.
    pub fn prepare_copy(&self, id: &str, blobs: Vec<Box<dyn io::Read + '_>>) -> Result<PathBuf> {
        valid_id(id)?;
        let rootfs = self.active(id, "rootfs");
        fs::create_dir(&rootfs).ctx(|| format!("create {}", rootfs.display()))?;
        let opts = ApplyOptions::default();
        for b in blobs {
            if let Err(e) = layer::apply_layer(b, &rootfs, &opts) {
                let _ = fs::remove_dir_all(&rootfs);
                return Err(e);
            }
        }
        Ok(rootfs)
    }

    /// Unmount and delete a snapshot's directories.
    /// Unmount snapshot `id` and move its directories into `trash` (removed when it is emptied).
    pub fn remove(&self, id: &str, trash: &Trash) -> Result<()> {
        valid_id(id)?;
        let merged = self.active(id, "merged");
        if merged.exists() {
            unmount(&merged).ctx(|| format!("unmount {}", merged.display()))?;
        }
        let _ = fs::remove_file(self.active(id, "volatile"));
        for s in ["merged", "upper", "work", "rootfs"] {
            trash.take(&self.active(id, s))?;
        }
        Ok(())
    }

    /// Write the changes of an overlay snapshot as a layer tar.
    pub fn diff<W: io::Write>(&self, id: &str, kind: SnapshotKind, w: W) -> Result<W> {
        valid_id(id)?;
        if kind != SnapshotKind::Overlay {
            return Err(Error::Snapshot(
                id.into(),
                "diff of a copied (non-overlay) snapshot is not supported".into(),
            ));
        }
        crate::diff::tree_tar::tar_overlay_upper(&self.active(id, "upper"), w)
    }

    /// Whether overlayfs can be mounted here (probed once per call); in a user namespace
    /// fuse-overlayfs stands in where the kernel refuses it.
    pub fn overlay_supported(&self) -> bool {
        if std::env::var("BERTH_SNAPSHOTTER").as_deref() == Ok("copy") {
            return false;
        }
        if crate::overlay_xattr::fuse_forced() {
            return fuse_overlayfs().is_some();
        }
        let base = self
            .root
            .join("tmp")
            .join(format!("probe-{}", random_suffix()));
        let guard = RemoveOnDrop(Some(base.clone()));
        let dirs = ["l", "u", "w", "m"].map(|d| base.join(d));
        if dirs.iter().any(|d| fs::create_dir_all(d).is_err()) {
            return false;
        }
        let lower = [dirs[0].to_string_lossy().into_owned()];
        let opts = overlay_data(&lower, &dirs[1], &dirs[2], false);
        let ok = nix::mount::mount(
            Some("overlay"),
            &dirs[3],
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .is_ok();
        if ok {
            let _ = unmount(&dirs[3]);
        }
        drop(guard);
        ok || (crate::overlay_xattr::userxattr() && fuse_overlayfs().is_some())
    }
}

/// fuse-overlayfs, the rootless fallback (podman's), if installed.
fn fuse_overlayfs() -> Option<PathBuf> {
    [
        "/usr/bin/fuse-overlayfs",
        "/usr/local/bin/fuse-overlayfs",
        "/bin/fuse-overlayfs",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Mount the overlay with fuse-overlayfs (it daemonizes once mounted; unmounting ends it).
fn mount_fuse_overlay(
    id: &str,
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
) -> Result<()> {
    let bin = fuse_overlayfs().ok_or_else(|| {
        Error::Snapshot(
            id.into(),
            "fuse-overlayfs is not installed (Debian: apt install fuse-overlayfs)".into(),
        )
    })?;
    let names: Vec<String> = lowers
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        names.join(":"),
        upper.display(),
        work.display()
    );
    let out = std::process::Command::new(&bin)
        .arg("-o")
        .arg(&opts)
        .arg(merged)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Snapshot(id.into(), format!("run {}: {e}", bin.display())))?;
    if !out.status.success() {
        return Err(Error::Snapshot(
            id.into(),
            format!(
                "fuse-overlayfs on {}: {}",
                merged.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// The page mount(2) copies its data from (the option string, NUL included, must fit).
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// The classic overlayfs mount(2) data; lower dirs topmost first.
fn overlay_data(lowers: &[String], upper: &Path, work: &Path, volatile: bool) -> String {
    let mut opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    );
    if volatile {
        opts.push_str(",volatile");
    }
    if crate::overlay_xattr::userxattr() {
        opts.push_str(",userxattr");
    }
    opts
}

/// Whether mount(2) takes `data` whole: with its NUL it must fit in one page.
fn fits_page(data: &str, page: usize) -> bool {
    data.len() < page
}

/// A short name for an open descriptor, resolvable by the kernel while it is open.
fn fd_name(fd: libc::c_int) -> String {
    format!("/proc/self/fd/{fd}")
}

/// An owned file descriptor, closed on drop.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn cstr(p: &[u8]) -> io::Result<CString> {
    CString::new(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

fn open_path(p: &Path) -> io::Result<Fd> {
    let c = cstr(p.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Fd(fd))
}

/// The new mount API by raw syscalls (constants from linux/mount.h).
mod newapi {
    use super::{cstr, Fd};
    use std::ffi::CStr;
    use std::fmt;
    use std::io;
    use std::path::Path;

    const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
    const FSCONFIG_SET_FLAG: libc::c_uint = 0;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

    /// Which step failed, and how.
    #[derive(Debug)]
    pub(super) struct StepError(String, io::Error);

    impl fmt::Display for StepError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}: {}", self.0, self.1)
        }
    }

    fn step<T>(what: impl FnOnce() -> String, r: io::Result<T>) -> Result<T, StepError> {
        r.map_err(|e| StepError(what(), e))
    }

    fn check(r: libc::c_long) -> io::Result<libc::c_long> {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    fn fsopen(fs: &CStr) -> io::Result<Fd> {
        // SAFETY: valid NUL-terminated name; the result is a new descriptor we own.
        let fd = check(unsafe { libc::syscall(libc::SYS_fsopen, fs.as_ptr(), FSOPEN_CLOEXEC) })?;
        Ok(Fd(fd as libc::c_int))
    }

    fn fsconfig(
        fd: &Fd,
        cmd: libc::c_uint,
        key: Option<&CStr>,
        value: Option<&CStr>,
    ) -> io::Result<()> {
        let k = key.map_or(std::ptr::null(), |k| k.as_ptr());
        let v = value.map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: valid descriptor and NUL-terminated (or null) strings.
        check(unsafe { libc::syscall(libc::SYS_fsconfig, fd.0, cmd, k, v, 0 as libc::c_int) })?;
        Ok(())
    }

    fn set_string(fd: &Fd, key: &CStr, value: &[u8]) -> io::Result<()> {
        fsconfig(fd, FSCONFIG_SET_STRING, Some(key), Some(&cstr(value)?))
    }

    fn fsmount(fd: &Fd) -> io::Result<Fd> {
        // SAFETY: valid descriptor; the result is a new descriptor we own.
        let m = check(unsafe {
            libc::syscall(libc::SYS_fsmount, fd.0, FSMOUNT_CLOEXEC, 0 as libc::c_uint)
        })?;
        Ok(Fd(m as libc::c_int))
    }

    fn move_mount(m: &Fd, to: &Path) -> io::Result<()> {
        let to = cstr(to.as_os_str().as_encoded_bytes())?;
        // SAFETY: valid descriptor and NUL-terminated paths.
        check(unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                m.0,
                c"".as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        })?;
        Ok(())
    }

    /// Mount an overlay with the lower dirs (topmost first) appended one by one.
    pub(super) fn mount_overlay(
        lowers: &[std::path::PathBuf],
        upper: &Path,
        work: &Path,
        merged: &Path,
        volatile: bool,
    ) -> Result<(), StepError> {
        let fs = step(|| "fsopen overlay".into(), fsopen(c"overlay"))?;
        step(
            || "fsconfig source".into(),
            set_string(&fs, c"source", b"overlay"),
        )?;
        for l in lowers {
            step(
                || format!("fsconfig lowerdir+ {}", l.display()),
                set_string(&fs, c"lowerdir+", l.as_os_str().as_encoded_bytes()),
            )?;
        }
        step(
            || format!("fsconfig upperdir {}", upper.display()),
            set_string(&fs, c"upperdir", upper.as_os_str().as_encoded_bytes()),
        )?;
        step(
            || format!("fsconfig workdir {}", work.display()),
            set_string(&fs, c"workdir", work.as_os_str().as_encoded_bytes()),
        )?;
        if volatile {
            // a kernel without `volatile` mounts it the ordinary way
            let _ = fsconfig(&fs, FSCONFIG_SET_FLAG, Some(c"volatile"), None);
        }
        if crate::overlay_xattr::userxattr() {
            step(
                || "fsconfig userxattr (overlayfs in a user namespace needs Linux >= 5.11)".into(),
                fsconfig(&fs, FSCONFIG_SET_FLAG, Some(c"userxattr"), None),
            )?;
        }
        step(
            || "fsconfig create".into(),
            fsconfig(&fs, FSCONFIG_CMD_CREATE, None, None),
        )?;
        let m = step(|| "fsmount".into(), fsmount(&fs))?;
        step(
            || format!("move_mount to {}", merged.display()),
            move_mount(&m, merged),
        )
    }
}

struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_dir_all(p);
        }
    }
}

#[cfg(test)]
mod tests;
