//! The container's filesystem view: spec mounts, /dev, pivot_root, masked and read-only paths.
//!
//! Every mount destination is resolved inside the rootfs first ([`resolve_in_root`]: symlinks are
//! followed as if the rootfs were `/`, so `..` and absolute links cannot leave it), then pinned
//! with openat2(RESOLVE_IN_ROOT) and mounted through its /proc/self/fd path, so a symlink swapped
//! in between cannot redirect the mount onto the host.

use crate::error::{Error, Result};
pub use crate::mount_options::{parse_options, propagation_flags, MountOptions};
use crate::syscall::Syscall;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};
use std::path::{Component, Path, PathBuf};

/// Resolve `unsafe_path` as if `root` were `/`: `..` stops at the root and symlinks (absolute or
/// relative) are followed inside it. Missing components are kept as they are. The result always
/// lies under `root`.
pub fn resolve_in_root(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    let mut resolved = PathBuf::new(); // relative to root
    let mut pending: Vec<PathBuf> = unsafe_path
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        match comp.components().next() {
            None | Some(Component::RootDir) | Some(Component::CurDir) => continue,
            Some(Component::ParentDir) => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.join(&comp);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(Error::Other(format!(
                        "too many levels of symlinks in {}",
                        unsafe_path.display()
                    )));
                }
                let target = std::fs::read_link(&full)
                    .map_err(|e| Error::Other(format!("readlink {}: {e}", full.display())))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in target.components().rev() {
                    pending.push(PathBuf::from(c.as_os_str()));
                }
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// Everything rootfs setup needs, borrowed from the spec.
pub struct RootfsPlan<'a> {
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub mounts: &'a [Mount],
    pub devices: &'a [LinuxDevice],
    pub propagation: Option<&'a str>,
    pub readonly: bool,
    pub no_pivot: bool,
    /// No mount namespace of its own: the mounts land in the runtime's namespace, so nothing
    /// outside the rootfs is touched (no propagation change, no pivot_root) and the process
    /// is chrooted.
    pub shared_mntns: bool,
    pub userns: bool,
    pub cgroupns: bool,
    /// The host's cgroup mounts as the runtime saw them before cloning the init (None: read
    /// them here): /proc/self/mountinfo has a line per running container and costs
    /// milliseconds to read on a busy host.
    pub cgroup_layout: Option<&'a cgroups::Layout>,
    pub masked: &'a [String],
    pub readonly_paths: &'a [String],
    /// Per mount, a bind source opened by the runtime (`bind_sources`), to mount instead.
    pub bind_sources: &'a [Option<PathBuf>],
}

/// The devices every container gets (runtime-spec config-linux.md "Default Devices").
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

impl RootfsPlan<'_> {
    /// Steps before pivot_root: propagation, the rootfs bind, every spec mount, /dev.
    pub fn mount_all(&self, sys: &dyn Syscall) -> Result<()> {
        self.mount_all_gated(sys, &mut || Ok(()))
    }

    /// [`mount_all`](Self::mount_all), calling `gate` before each step that needs the
    /// container's cgroup (made while the steps before it run): a cgroup mount, and the device
    /// nodes (a v1 device cgroup decides which can be made).
    pub fn mount_all_gated(
        &self,
        sys: &dyn Syscall,
        gate: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        if !self.shared_mntns {
            // As runc: the spec's rootfsPropagation from the start (rshared keeps mounts made in
            // the container flowing back to the host through rshared binds); by default rslave,
            // which keeps our mount changes from reaching the host.
            let root_prop = match self.propagation.filter(|p| !p.is_empty()) {
                Some(p) => propagation_flags(p).ok_or_else(|| {
                    Error::Spec(format!("linux.rootfsPropagation: unknown value {p:?}"))
                })?,
                None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
            };
            sys.mount(None, Path::new("/"), None, root_prop, None)?;
            // (only then can a mount still be shared: mountinfo is not read on the hot path)
            if root_prop.contains(MsFlags::MS_SHARED) || !root_prop.contains(MsFlags::MS_REC) {
                self.rootfs_parent_private(sys)?;
            }
            // pivot_root needs the new root to be a mount point.
            sys.mount(
                Some(self.rootfs),
                self.rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
        }
        let mut dev_is_bound = false;
        for (i, m) in self.mounts.iter().enumerate() {
            if m.destination() == Path::new("/dev") && is_bind(m) {
                dev_is_bound = true;
            }
            if matches!(typ_of(m), "cgroup" | "cgroup2") {
                gate()?;
            }
            self.mount_one(sys, m, self.bind_sources.get(i).and_then(Option::as_deref))?;
        }
        if !dev_is_bound {
            gate()?;
            self.create_devices(sys)?;
        }
        self.dev_symlinks(sys)
    }

    fn mount_one(&self, sys: &dyn Syscall, m: &Mount, opened: Option<&Path>) -> Result<()> {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(Error::Spec(format!(
                "mounts: destination {:?} must be an absolute path",
                dest
            )));
        }
        if typ_of(m) == "proc" || typ_of(m) == "sysfs" {
            refuse_non_directory(self.rootfs, dest, typ_of(m))?;
        }
        let target = resolve_in_root(self.rootfs, dest)?;
        let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
        let typ = m.typ().as_deref().unwrap_or("");
        if opts.bind || typ == "bind" {
            return self.mount_bind(sys, m, &target, &opts, opened);
        }
        if typ == "cgroup" || typ == "cgroup2" {
            return self.mount_cgroup(sys, &target, &opts, typ);
        }
        sys.mkdir_all(&target)?;
        let pinned = sys.pin_in_root(self.rootfs, &target)?;
        let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let data = opts.data.join(",");
        let mut flags = opts.flags;
        if dest == Path::new("/dev") {
            // The device nodes go in first: `dev_mount::dev_readonly` makes it read-only.
            flags.remove(MsFlags::MS_RDONLY);
        }
        let res = sys.mount(Some(&src), &pinned, Some(typ), flags, Some(&data));
        let pinned = sys.pin_in_root(self.rootfs, &target)?;
        match res {
            // sysfs cannot be mounted by a user namespace that does not own the network
            // namespace, and mqueue likewise for ipc: fall back to binding the host's, as runc does.
            Err(e) if e.is_permission() && (typ == "sysfs" || typ == "mqueue") => {
                self.bind_host_instead(sys, &target, &pinned, &opts, typ)?;
            }
            r => r?,
        }
        apply_propagation(sys, &pinned, &opts)
    }

    /// A bind mount of `m`'s source (or of `opened`, the source the runtime opened for us),
    /// then a remount for the flags the first call ignores.
    fn mount_bind(
        &self,
        sys: &dyn Syscall,
        m: &Mount,
        target: &Path,
        opts: &MountOptions,
        opened: Option<&Path>,
    ) -> Result<()> {
        let dest = m.destination();
        let src = m.source().as_ref().ok_or_else(|| {
            Error::Spec(format!(
                "mounts: bind mount on {} has no source",
                dest.display()
            ))
        })?;
        let src = opened.map_or_else(|| self.bundle.join(src), Path::to_path_buf);
        match sys.is_dir(&src) {
            Some(true) => sys.mkdir_all(target)?,
            Some(false) => sys.create_file(target)?,
            None => {
                return Err(Error::Spec(format!(
                    "mounts: bind source {} does not exist",
                    src.display()
                )))
            }
        }
        let pinned = sys.pin_in_root(self.rootfs, target)?;
        let mut flags = MsFlags::MS_BIND;
        if opts.recursive {
            flags |= MsFlags::MS_REC;
        }
        sys.mount(Some(&src), &pinned, None, flags, None)?;
        // The pinned fd still points at the directory under the new mount: pin the mount.
        let pinned = sys.pin_in_root(self.rootfs, target)?;
        let extra = opts.flags & !(MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            // Bind mounts ignore most flags on the first call: remount to apply them, keeping
            // the flags a user namespace locked on the source.
            let locked = if self.userns {
                sys.mount_flags(&pinned)
                    & (MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC
                        | MsFlags::MS_RDONLY)
            } else {
                MsFlags::empty()
            };
            sys.mount(
                None,
                &pinned,
                None,
                flags | MsFlags::MS_REMOUNT | extra | locked,
                None,
            )?;
        }
        apply_propagation(sys, &pinned, opts)
    }

    /// The host's /sys or /dev/mqueue bound on `pinned` (the mount of `target`) where a
    /// `typ` (sysfs or mqueue) mount is not permitted, read-only if the mount asked for it.
    fn bind_host_instead(
        &self,
        sys: &dyn Syscall,
        target: &Path,
        pinned: &Path,
        opts: &MountOptions,
        typ: &str,
    ) -> Result<()> {
        let host = if typ == "sysfs" {
            "/sys"
        } else {
            "/dev/mqueue"
        };
        sys.mount(
            Some(Path::new(host)),
            pinned,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        let pinned = sys.pin_in_root(self.rootfs, target)?;
        if opts.flags.contains(MsFlags::MS_RDONLY) {
            let locked = sys.mount_flags(&pinned);
            sys.mount(
                None,
                &pinned,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked,
                None,
            )?;
        }
        Ok(())
    }

    /// A `cgroup` mount: cgroup2 on a unified host; on v1/hybrid a tmpfs with one directory per
    /// hierarchy. With a cgroup namespace the hierarchies are mounted fresh (the kernel shows the
    /// namespace root); without, the container's own cgroup directory is bound from the host.
    fn mount_cgroup(
        &self,
        sys: &dyn Syscall,
        target: &Path,
        opts: &MountOptions,
        typ: &str,
    ) -> Result<()> {
        let layout = match self.cgroup_layout {
            // the same mount table (the init's is a copy of the runtime's), the own cgroups
            // the init's: it has been moved to the container's since
            Some(l) => l.reown(),
            None => cgroups::Layout::detect(),
        }
        .map_err(|e| Error::Other(format!("reading the host's cgroup layout: {e}")))?;
        sys.mkdir_all(target)?;
        let pinned = sys.pin_in_root(self.rootfs, target)?;
        let ro = opts.flags & MsFlags::MS_RDONLY;
        let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if typ == "cgroup2" || layout.mode == cgroups::Mode::V2 {
            let fresh = sys.mount(
                Some(Path::new("cgroup2")),
                &pinned,
                Some("cgroup2"),
                base | opts.flags,
                None,
            );
            return match (fresh, &layout.unified) {
                // in a user namespace without a cgroup namespace of its own, cgroup2 cannot be
                // mounted afresh: the host's hierarchy is bound instead (runc's way), with the
                // same flags (read-only unless asked otherwise)
                (Err(e), Some(u))
                    if e.errno() == Some(libc::EPERM) && crate::util::running_in_userns() =>
                {
                    let rec = MsFlags::MS_BIND | MsFlags::MS_REC;
                    sys.mount(Some(&u.mount_point), &pinned, None, rec, None)?;
                    let pinned = sys.pin_in_root(self.rootfs, target)?;
                    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | base | opts.flags;
                    sys.mount(None, &pinned, None, flags, None)
                }
                (r, _) => r,
            };
        }
        sys.mount(
            Some(Path::new("tmpfs")),
            &pinned,
            Some("tmpfs"),
            base,
            Some("mode=755"),
        )?;
        let pinned = sys.pin_in_root(self.rootfs, target)?;
        // the host's hierarchies only: where sysfs had to be bound from the host (a user
        // namespace without its own network namespace, e.g. rootless `--network host`), the
        // rootfs already shows them again, under the tmpfs just mounted
        for h in layout
            .v1
            .iter()
            .filter(|h| !h.mount_point.starts_with(self.rootfs))
        {
            let Some(name) = h.mount_point.file_name() else {
                continue;
            };
            let sub = target.join(name);
            sys.mkdir_all(&sub)?;
            let sub_pinned = sys.pin_in_root(self.rootfs, &sub)?;
            if self.cgroupns {
                sys.mount(
                    Some(Path::new("cgroup")),
                    &sub_pinned,
                    Some("cgroup"),
                    base | ro,
                    Some(&h.mount_options),
                )?;
            } else {
                let host = h
                    .mount_point
                    .join(h.own.strip_prefix("/").unwrap_or(&h.own));
                sys.mount(
                    Some(&host),
                    &sub_pinned,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )?;
                let sub_pinned = sys.pin_in_root(self.rootfs, &sub)?;
                sys.mount(
                    None,
                    &sub_pinned,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | base | ro,
                    None,
                )?;
            }
        }
        if !ro.is_empty() {
            sys.mount(
                None,
                &pinned,
                None,
                MsFlags::MS_REMOUNT | base | ro,
                Some("mode=755"),
            )?;
        }
        Ok(())
    }

    fn create_devices(&self, sys: &dyn Syscall) -> Result<()> {
        let dev = resolve_in_root(self.rootfs, Path::new("/dev"))?;
        for (name, major, minor) in DEFAULT_DEVICES {
            let path = dev.join(name);
            self.make_device(
                sys,
                &path,
                SFlag::S_IFCHR,
                0o666,
                *major,
                *minor,
                Some(0),
                Some(0),
            )?;
        }
        for d in self.devices {
            let path = resolve_in_root(self.rootfs, d.path())?;
            if let Some(parent) = path.parent() {
                sys.mkdir_all(parent)?;
            }
            let kind = match d.typ() {
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
            self.make_device(
                sys,
                &path,
                kind,
                mode,
                d.major() as u64,
                d.minor() as u64,
                d.uid(),
                d.gid(),
            )?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn make_device(
        &self,
        sys: &dyn Syscall,
        path: &Path,
        kind: SFlag,
        mode: u32,
        major: u64,
        minor: u64,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<()> {
        if self.userns {
            // mknod is not allowed in a user namespace: bind the host's node instead.
            let host = Path::new("/dev").join(path.file_name().unwrap_or_default());
            sys.create_file(path)?;
            let pinned = sys.pin_in_root(self.rootfs, path)?;
            return sys.mount(Some(&host), &pinned, None, MsFlags::MS_BIND, None);
        }
        sys.mknod(
            path,
            kind,
            Mode::from_bits_truncate(mode),
            nix::sys::stat::makedev(major, minor),
        )?;
        sys.chown(path, uid, gid)
    }

    fn dev_symlinks(&self, sys: &dyn Syscall) -> Result<()> {
        let dev = resolve_in_root(self.rootfs, Path::new("/dev"))?;
        if sys.is_dir(&dev) == Some(false) {
            return Ok(());
        }
        for (link, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
            ("ptmx", "pts/ptmx"),
        ] {
            sys.symlink(Path::new(target), &dev.join(link))?;
        }
        if sys.is_dir(Path::new("/proc/kcore")) == Some(false) {
            sys.symlink(Path::new("/proc/kcore"), &dev.join("core"))?;
        }
        Ok(())
    }

    /// Switch to the new root.
    pub fn enter(&self, sys: &dyn Syscall) -> Result<()> {
        if self.shared_mntns {
            sys.chroot(self.rootfs)
        } else if self.no_pivot {
            crate::no_pivot::hide_host_proc_sys(sys, self.rootfs)?;
            sys.move_root(self.rootfs)
        } else {
            sys.pivot_root(self.rootfs)
        }
    }

    /// The mount the rootfs lives on must not be shared (left so by a shared or private
    /// rootfsPropagation): pivot_root refuses a shared parent, and the rootfs bind would
    /// propagate to the host's peers. As runc, that one mount is made private.
    fn rootfs_parent_private(&self, sys: &dyn Syscall) -> Result<()> {
        let text =
            mountinfo::read_self().map_err(|e| Error::Other(format!("reading mountinfo: {e}")))?;
        match mountinfo::mount_of(&text, self.rootfs) {
            Some(m) if m.is_shared() => {
                sys.mount(None, &m.mount_point, None, MsFlags::MS_PRIVATE, None)
            }
            _ => Ok(()),
        }
    }

    /// Steps after pivot_root: requested propagation, masked paths, read-only paths, read-only root.
    pub fn finish(&self, sys: &dyn Syscall) -> Result<()> {
        if let Some(p) = self.propagation.filter(|p| !p.is_empty()) {
            let flags = propagation_flags(p).ok_or_else(|| {
                Error::Spec(format!("linux.rootfsPropagation: unknown value {p:?}"))
            })?;
            sys.mount(None, Path::new("/"), None, flags, None)?;
        }
        for p in self.readonly_paths {
            let path = Path::new(p);
            if sys.is_dir(path).is_none() {
                continue;
            }
            sys.mount(
                Some(path),
                path,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            let locked = sys.mount_flags(path)
                & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
            sys.mount(
                Some(path),
                path,
                None,
                MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_REC
                    | locked,
                None,
            )?;
        }
        for p in self.masked {
            let path = Path::new(p);
            match sys.is_dir(path) {
                None => continue,
                Some(true) => sys.mount(
                    Some(Path::new("tmpfs")),
                    path,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                )?,
                Some(false) => sys.mount(
                    Some(Path::new("/dev/null")),
                    path,
                    None,
                    MsFlags::MS_BIND,
                    None,
                )?,
            }
        }
        if self.readonly {
            let locked = sys.mount_flags(Path::new("/"));
            sys.mount(
                None,
                Path::new("/"),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked,
                None,
            )?;
        }
        Ok(())
    }
}

/// A mount's propagation flags and recursive attributes, applied to its pinned mount point.
fn apply_propagation(sys: &dyn Syscall, pinned: &Path, opts: &MountOptions) -> Result<()> {
    for p in &opts.propagation {
        sys.mount(None, pinned, None, *p, None)?;
    }
    if !opts.rec.is_empty() {
        sys.mount_setattr_rec(pinned, opts.rec)?;
    }
    Ok(())
}

fn typ_of(m: &Mount) -> &str {
    m.typ().as_deref().unwrap_or("")
}

/// proc and sysfs go on an ordinary directory of the rootfs, never through a symlink: a rootfs
/// (or a volume racing it) with `/proc -> /elsewhere` would get proc, and the masked and
/// read-only paths meant for it, somewhere else (CVE-2019-19921). runc refuses the same.
fn refuse_non_directory(rootfs: &Path, dest: &Path, typ: &str) -> Result<()> {
    let at = rootfs.join(dest.strip_prefix("/").unwrap_or(dest));
    match std::fs::symlink_metadata(&at) {
        Ok(m) if !m.is_dir() => Err(Error::Spec(format!(
            "mounts: {typ} must be mounted on ordinary directory, but {} in the rootfs is {}",
            dest.display(),
            if m.file_type().is_symlink() {
                "a symlink"
            } else {
                "not a directory"
            }
        ))),
        _ => Ok(()),
    }
}

pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

/// Unmount helper for cleanup paths that must not fail loudly.
pub fn detach(sys: &dyn Syscall, path: &Path) {
    let _ = sys.umount(path, MntFlags::MNT_DETACH);
}

#[cfg(test)]
mod tests;
