//! Storage: overlayfs and the state root's file system.

use crate::{check, Check, Level};
use std::fs;
use std::path::{Path, PathBuf};
// ---------------------------------------------------------------------------------------
// overlayfs

/// True when /proc/filesystems lists `fs`.
pub(crate) fn filesystems_has(text: &str, fs: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().last() == Some(fs))
}

/// The directory to probe in: `root`, or its nearest existing ancestor.
pub(crate) fn existing_base(root: &Path) -> PathBuf {
    let mut p = root.to_path_buf();
    loop {
        if p.is_dir() {
            return p;
        }
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
}

pub(crate) fn probe_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(".berth-doctor-{what}-{}-{nanos}", std::process::id())
}

/// Removes the probe directory (unmounting first) whatever happened.
pub(crate) struct ProbeDir {
    dir: PathBuf,
    mounted: Option<PathBuf>,
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            if nix::mount::umount(&m).is_err() {
                let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A test overlay under `base`; `extra` mount options (`,userxattr` in a user namespace).
pub(crate) fn overlay_mount_probe(base: &Path, extra: &str) -> Result<(), String> {
    let dir = base.join(probe_name("overlay"));
    fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut guard = ProbeDir {
        dir: dir.clone(),
        mounted: None,
    };
    let (lower, upper, work, merged) = (
        dir.join("lower"),
        dir.join("upper"),
        dir.join("work"),
        dir.join("merged"),
    );
    for d in [&lower, &upper, &work, &merged] {
        fs::create_dir(d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    fs::write(lower.join("hello"), b"lower").map_err(|e| format!("write lower file: {e}"))?;
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}{extra}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if dir.to_string_lossy().contains([',', ':']) {
        return Err(format!(
            "the path {} contains ',' or ':', which overlay mount options cannot express",
            dir.display()
        ));
    }
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOSUID,
        Some(opts.as_str()),
    )
    .map_err(|e| format!("mount overlay on {}: {e}", base.display()))?;
    guard.mounted = Some(merged.clone());
    let seen =
        fs::read(merged.join("hello")).map_err(|e| format!("read through the overlay: {e}"))?;
    if seen != b"lower" {
        return Err("the overlay does not show the lower layer's file".into());
    }
    fs::write(merged.join("new"), b"upper")
        .map_err(|e| format!("write through the overlay: {e}"))?;
    if !upper.join("new").exists() {
        return Err("a file written through the overlay did not land in the upper dir".into());
    }
    Ok(())
}

pub(crate) fn overlay_check(root: &Path) -> Check {
    const FALLBACK: &str = "containers fall back to copying snapshots, slower and bigger";
    let listed = fs::read_to_string("/proc/filesystems")
        .map(|t| filesystems_has(&t, "overlay"))
        .unwrap_or(false);
    if !listed {
        // the module may simply not be loaded yet; a mount would load it
        let module = Path::new("/sys/module/overlay").exists();
        if !module {
            return check(
                "overlayfs",
                Level::Warn,
                "not available",
                format!("/proc/filesystems does not list overlay: {FALLBACK}. Load it with `modprobe overlay`."),
            );
        }
    }
    let base = existing_base(root);
    match overlay_mount_probe(&base, "") {
        Ok(()) => check(
            "overlayfs",
            Level::Ok,
            "works",
            format!("A test overlay mount under {} worked (and was removed): container filesystems are copy-on-write layers.", base.display()),
        ),
        Err(why) => check(
            "overlayfs",
            Level::Warn,
            "listed by the kernel but a test mount failed",
            format!("{why}. So {FALLBACK}. Overlay needs an upper dir on ext4, xfs (ftype=1), btrfs or tmpfs -- not on overlay, NFS or FUSE."),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// state root

/// Name of a filesystem by its statfs magic.
pub(crate) fn fs_type_name(magic: i64) -> &'static str {
    match magic {
        0xEF53 => "ext2/3/4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlay",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x5346_544E => "ntfs",
        0x4d44 => "vfat",
        0x0102_1997 => "9p",
        0x6E73_6673 => "nsfs",
        0x7371_7368 => "squashfs",
        0xF2F5_2010 => "f2fs",
        _ => "unknown",
    }
}

pub(crate) fn state_root_check(root: &Path) -> Check {
    let exists = root.is_dir();
    let base = existing_base(root);
    let where_ = if exists {
        format!("{}", root.display())
    } else {
        format!(
            "{} (does not exist yet; berth creates it; checked {})",
            root.display(),
            base.display()
        )
    };
    // writable: create and remove a file
    let probe = base.join(probe_name("write"));
    let writable = fs::write(&probe, b"x").and_then(|_| fs::remove_file(&probe));
    if let Err(e) = writable {
        let _ = fs::remove_file(&probe);
        return check(
            "state root",
            Level::Fail,
            format!("{} is not writable", base.display()),
            format!("Writing a test file in {where_} failed ({e}). berth keeps images, containers and logs there: run as root or pick another --root."),
        );
    }
    // the field types of statfs differ between targets
    #[allow(clippy::unnecessary_cast)]
    let (fs_name, free) = match nix::sys::statfs::statfs(&base) {
        Ok(s) => (
            fs_type_name(s.filesystem_type().0 as i64),
            Some(s.blocks_available() as u64 * s.block_size() as u64),
        ),
        Err(_) => ("unknown", None),
    };
    let mut level = Level::Ok;
    let mut lines = vec![format!(
        "{where_} is writable, on {fs_name}{}.",
        free.map(|f| format!(" with {} free", human(f)))
            .unwrap_or_default()
    )];
    if matches!(fs_name, "overlay" | "nfs" | "fuse" | "9p") {
        level = Level::Warn;
        lines.push(format!("overlayfs cannot put its upper layers on {fs_name}: containers fall back to copying snapshots, slower and bigger. Put --root on ext4, xfs or btrfs."));
    }
    if free.is_some_and(|f| f < 1 << 30) {
        level = Level::Warn;
        lines.push("Less than 1 GiB is free: pulls and container writes will soon fail with 'no space left on device'.".into());
    }
    check(
        "state root",
        level,
        format!("{} ({fs_name})", root.display()),
        lines.join("\n"),
    )
}

pub(crate) fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}
