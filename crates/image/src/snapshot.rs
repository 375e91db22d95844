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

pub fn is_mountpoint(p: &Path) -> bool {
    let Ok(s) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(canon) = p.canonicalize() else {
        return false;
    };
    let want = canon.to_string_lossy().replace(' ', "\\040");
    s.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
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

    /// (Re)mount an existing overlay snapshot.
    pub fn mount_overlay(&self, id: &str, diff_ids: &[Digest]) -> Result<()> {
        let upper = self.active(id, "upper");
        let work = self.active(id, "work");
        let merged = self.active(id, "merged");
        if is_mountpoint(&merged) {
            return Ok(());
        }
        let lowers: Vec<String> = if diff_ids.is_empty() {
            // overlayfs needs a lower dir: an empty one
            let empty = self.root.join("empty");
            fs::create_dir_all(&empty).ctx(|| format!("create {}", empty.display()))?;
            vec![empty.to_string_lossy().into_owned()]
        } else {
            diff_ids
                .iter()
                .rev()
                .map(|d| {
                    let p = self.layer_dir(d);
                    if !p.is_dir() {
                        return Err(Error::Snapshot(
                            id.into(),
                            format!("layer {d} is not unpacked"),
                        ));
                    }
                    Ok(p.to_string_lossy().into_owned())
                })
                .collect::<Result<_>>()?
        };
        let mut opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            upper.display(),
            work.display()
        );
        let volatile = self.active(id, "volatile").exists();
        if volatile {
            opts.push_str(",volatile");
        }
        let mount = |o: &str| {
            nix::mount::mount(
                Some("overlay"),
                &merged,
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
    pub fn remove(&self, id: &str) -> Result<()> {
        valid_id(id)?;
        let merged = self.active(id, "merged");
        if merged.exists() {
            unmount(&merged).ctx(|| format!("unmount {}", merged.display()))?;
        }
        let _ = fs::remove_file(self.active(id, "volatile"));
        for s in ["merged", "upper", "work", "rootfs"] {
            let p = self.active(id, s);
            match fs::remove_dir_all(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx(|| format!("remove {}", p.display())),
            }
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
        layer::diff_upper(&self.active(id, "upper"), w)
    }

    /// Whether overlayfs can be mounted here (probed once per call).
    pub fn overlay_supported(&self) -> bool {
        if std::env::var("BERTH_SNAPSHOTTER").as_deref() == Ok("copy") {
            return false;
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
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            dirs[0].display(),
            dirs[1].display(),
            dirs[2].display()
        );
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
        ok
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
