//! The narrow interface between the container setup logic and the kernel.
//!
//! Everything in `rootfs`, `capabilities` and `process` that changes kernel state goes through
//! [`Syscall`], so the logic (which mounts, in which order, with which flags; which capability
//! sets) is unit-tested without root against [`Recorder`], while [`Linux`] does the real work.

use crate::error::{Context, Result};
use crate::mount_options::RecAttr;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Capability state to install in one step (bit masks indexed by capability number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapState {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()>;
    fn umount(&self, target: &Path, flags: MntFlags) -> Result<()>;
    /// Set/clear attributes on the mount at `target` and every mount below it (`rro`, ...).
    fn mount_setattr_rec(&self, target: &Path, attr: RecAttr) -> Result<()>;
    /// Open `path` (already resolved inside `root`) without letting any symlink escape `root`,
    /// and return a path usable as a mount target that refers to exactly that inode.
    fn pin_in_root(&self, root: &Path, path: &Path) -> Result<PathBuf>;
    /// Make `new_root` the root: pivot_root(2), then detach the old root.
    fn pivot_root(&self, new_root: &Path) -> Result<()>;
    /// `--no-pivot`: move the rootfs onto / and chroot into it.
    fn move_root(&self, new_root: &Path) -> Result<()>;
    /// No mount namespace of its own: chroot into `new_root`, leaving every mount as it is.
    fn chroot(&self, new_root: &Path) -> Result<()>;
    fn mkdir_all(&self, path: &Path) -> Result<()>;
    fn create_file(&self, path: &Path) -> Result<()>;
    fn symlink(&self, target: &Path, link: &Path) -> Result<()>;
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()>;
    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<()>;
    fn is_dir(&self, path: &Path) -> Option<bool>;
    /// The per-mount flags (ro, nosuid, nodev, noexec, ...) of the mount holding `path`: a bind
    /// remount inside a user namespace must keep the ones the kernel locked.
    fn mount_flags(&self, path: &Path) -> MsFlags;
    fn set_hostname(&self, name: &str) -> Result<()>;
    fn set_domainname(&self, name: &str) -> Result<()>;
    fn write_file(&self, path: &Path, data: &str) -> Result<()>;
    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> Result<()>;
    fn drop_bounding(&self, cap: u8) -> Result<()>;
    fn set_caps(&self, caps: &CapState) -> Result<()>;
    fn raise_ambient(&self, cap: u8) -> Result<()>;
    fn set_keep_caps(&self, keep: bool) -> Result<()>;
    fn set_groups(&self, gids: &[u32]) -> Result<()>;
    fn set_ids(&self, uid: u32, gid: u32) -> Result<()>;
    fn set_no_new_privs(&self) -> Result<()>;
}

/// The real kernel.
#[derive(Default)]
pub struct Linux {
    pinned: RefCell<Vec<OwnedFd>>,
}

fn cstr_opt(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        nix::mount::mount(source, target, cstr_opt(fstype), flags, cstr_opt(data)).ctx(|| {
            format!(
                "mount {} on {} (type {}, flags {:?}, data {:?})",
                source.map(|s| s.display().to_string()).unwrap_or_default(),
                target.display(),
                fstype.unwrap_or(""),
                flags,
                data.unwrap_or("")
            )
        })
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> Result<()> {
        nix::mount::umount2(target, flags).ctx(|| format!("umount {}", target.display()))
    }

    fn mount_setattr_rec(&self, target: &Path, attr: RecAttr) -> Result<()> {
        crate::mount_options::apply(target, attr)
    }

    fn pin_in_root(&self, root: &Path, path: &Path) -> Result<PathBuf> {
        let rel = path.strip_prefix(root).unwrap_or(path);
        let rootfd = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open {}", root.display()))?;
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = nix::fcntl::openat2(&rootfd, rel, how)
            .ctx(|| format!("open {} inside {}", rel.display(), root.display()))?;
        let link = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        // Belt and braces: the inode we hold must still be inside the rootfs.
        let real = std::fs::read_link(&link).ctx(|| format!("readlink {}", link.display()))?;
        if !real.starts_with(root) {
            return Err(crate::Error::Other(format!(
                "mount destination {} resolves to {} outside the rootfs",
                path.display(),
                real.display()
            )));
        }
        self.pinned.borrow_mut().push(fd);
        Ok(link)
    }

    fn pivot_root(&self, new_root: &Path) -> Result<()> {
        // pivot_root(".", ".") stacks the old root on top of the new one at "/": we then detach it.
        // Making it a slave first keeps the unmount from propagating back to the host.
        self.pinned.borrow_mut().clear();
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let old = nix::fcntl::open("/", flags, Mode::empty()).ctx(|| "open /")?;
        let new = nix::fcntl::open(new_root, flags, Mode::empty())
            .ctx(|| format!("open {}", new_root.display()))?;
        nix::unistd::fchdir(&new).ctx(|| "fchdir to rootfs")?;
        nix::unistd::pivot_root(".", ".").ctx(|| format!("pivot_root {}", new_root.display()))?;
        nix::unistd::fchdir(&old).ctx(|| "fchdir to old root")?;
        nix::mount::mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "make old root rslave")?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach old root")?;
        nix::unistd::chdir("/").ctx(|| "chdir /")
    }

    fn move_root(&self, new_root: &Path) -> Result<()> {
        self.pinned.borrow_mut().clear();
        nix::unistd::chdir(new_root).ctx(|| format!("chdir {}", new_root.display()))?;
        nix::mount::mount(
            Some(new_root),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .ctx(|| "move rootfs onto /")?;
        nix::unistd::chroot(".").ctx(|| "chroot")?;
        nix::unistd::chdir("/").ctx(|| "chdir /")
    }

    fn chroot(&self, new_root: &Path) -> Result<()> {
        self.pinned.borrow_mut().clear();
        nix::unistd::chroot(new_root).ctx(|| format!("chroot {}", new_root.display()))?;
        nix::unistd::chdir("/").ctx(|| "chdir /")
    }

    fn mkdir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).ctx(|| format!("mkdir {}", path.display()))
    }

    fn create_file(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(drop)
            .ctx(|| format!("create {}", path.display()))
    }

    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        match std::os::unix::fs::symlink(target, link) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            r => r.ctx(|| format!("symlink {} -> {}", link.display(), target.display())),
        }
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()> {
        match nix::sys::stat::mknod(path, kind, perm, dev) {
            Err(nix::Error::EEXIST) => Ok(()),
            r => r.ctx(|| format!("mknod {}", path.display())),
        }
    }

    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        nix::unistd::chown(path, uid.map(Into::into), gid.map(Into::into))
            .ctx(|| format!("chown {}", path.display()))
    }

    fn is_dir(&self, path: &Path) -> Option<bool> {
        std::fs::metadata(path).ok().map(|m| m.is_dir())
    }

    fn mount_flags(&self, path: &Path) -> MsFlags {
        use nix::sys::statvfs::FsFlags;
        let Ok(st) = nix::sys::statvfs::statvfs(path) else {
            return MsFlags::empty();
        };
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (a, b) in [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(a) {
                out |= b;
            }
        }
        out
    }

    fn set_hostname(&self, name: &str) -> Result<()> {
        nix::unistd::sethostname(name).ctx(|| format!("sethostname {name:?}"))
    }

    fn set_domainname(&self, name: &str) -> Result<()> {
        // SAFETY: pointer and length describe a valid byte buffer for the duration of the call.
        let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        nix::Error::result(rc)
            .map(drop)
            .ctx(|| format!("setdomainname {name:?}"))
    }

    fn write_file(&self, path: &Path, data: &str) -> Result<()> {
        std::fs::write(path, data).ctx(|| format!("write {:?} to {}", data, path.display()))
    }

    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> Result<()> {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `lim` is a valid rlimit for the duration of the call.
        let rc = unsafe { libc::setrlimit(resource as _, &lim) };
        nix::Error::result(rc).map(drop).ctx(|| {
            format!("setrlimit {} soft={soft} hard={hard} (raising a hard limit needs CAP_SYS_RESOURCE)", crate::rlimit::rlimit_name(resource))
        })
    }

    fn drop_bounding(&self, cap: u8) -> Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        match nix::Error::result(rc) {
            // A capability the kernel does not know is simply not in the bounding set.
            Err(nix::Error::EINVAL) => Ok(()),
            r => r
                .map(drop)
                .ctx(|| format!("drop capability {cap} from the bounding set")),
        }
    }

    fn set_caps(&self, caps: &CapState) -> Result<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Default, Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const V3: u32 = 0x2008_0522;
        let mut hdr = Header {
            version: V3,
            pid: 0,
        };
        let split = |v: u64| (v as u32, (v >> 32) as u32);
        let (e0, e1) = split(caps.effective);
        let (p0, p1) = split(caps.permitted);
        let (i0, i1) = split(caps.inheritable);
        let data = [
            Data {
                effective: e0,
                permitted: p0,
                inheritable: i0,
            },
            Data {
                effective: e1,
                permitted: p1,
                inheritable: i1,
            },
        ];
        // SAFETY: header and two data structs as capset(2) expects for _LINUX_CAPABILITY_VERSION_3.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
        nix::Error::result(rc as i32)
            .map(drop)
            .ctx(|| format!("capset {caps:x?}"))
    }

    fn raise_ambient(&self, cap: u8) -> Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        nix::Error::result(rc)
            .map(drop)
            .ctx(|| format!("raise ambient capability {cap}"))
    }

    fn set_keep_caps(&self, keep: bool) -> Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0, 0, 0) };
        nix::Error::result(rc)
            .map(drop)
            .ctx(|| "prctl(PR_SET_KEEPCAPS)")
    }

    fn set_groups(&self, gids: &[u32]) -> Result<()> {
        let gids: Vec<nix::unistd::Gid> = gids.iter().map(|g| (*g).into()).collect();
        nix::unistd::setgroups(&gids).ctx(|| format!("setgroups {gids:?}"))
    }

    fn set_ids(&self, uid: u32, gid: u32) -> Result<()> {
        let (u, g) = (
            nix::unistd::Uid::from_raw(uid),
            nix::unistd::Gid::from_raw(gid),
        );
        nix::unistd::setresgid(g, g, g).ctx(|| format!("setgid {gid}"))?;
        nix::unistd::setresuid(u, u, u).ctx(|| format!("setuid {uid}"))
    }

    fn set_no_new_privs(&self) -> Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        nix::Error::result(rc)
            .map(drop)
            .ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)")
    }
}

/// A test double that records every call as a line of text and changes nothing.
#[derive(Default)]
pub struct Recorder {
    pub calls: RefCell<Vec<String>>,
    /// Paths that `is_dir` reports as directories (others as files; absent = missing).
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
}

impl Recorder {
    fn rec(&self, s: String) -> Result<()> {
        self.calls.borrow_mut().push(s);
        Ok(())
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

/// `MS_BIND | MS_REC`, or `0`.
pub fn flag_names(flags: MsFlags) -> String {
    let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join(" | ")
    }
}

impl Syscall for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        self.rec(format!(
            "mount {} {} {} {} {}",
            source
                .map(|s| s.display().to_string())
                .unwrap_or_else(|| "-".into()),
            target.display(),
            fstype.unwrap_or("-"),
            flag_names(flags),
            data.unwrap_or("-")
        ))
    }
    fn umount(&self, target: &Path, _flags: MntFlags) -> Result<()> {
        self.rec(format!("umount {}", target.display()))
    }
    fn mount_setattr_rec(&self, target: &Path, attr: RecAttr) -> Result<()> {
        self.rec(format!(
            "mount_setattr {} +{:#x} -{:#x} recursive",
            target.display(),
            attr.set,
            attr.clr
        ))
    }
    fn pin_in_root(&self, _root: &Path, path: &Path) -> Result<PathBuf> {
        Ok(path.to_path_buf())
    }
    fn pivot_root(&self, new_root: &Path) -> Result<()> {
        self.rec(format!("pivot_root {}", new_root.display()))
    }
    fn move_root(&self, new_root: &Path) -> Result<()> {
        self.rec(format!("move_root {}", new_root.display()))
    }
    fn chroot(&self, new_root: &Path) -> Result<()> {
        self.rec(format!("chroot {}", new_root.display()))
    }
    fn mkdir_all(&self, path: &Path) -> Result<()> {
        self.rec(format!("mkdir {}", path.display()))
    }
    fn create_file(&self, path: &Path) -> Result<()> {
        self.rec(format!("touch {}", path.display()))
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        self.rec(format!(
            "symlink {} -> {}",
            link.display(),
            target.display()
        ))
    }
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()> {
        let t = if kind == SFlag::S_IFBLK { 'b' } else { 'c' };
        self.rec(format!(
            "mknod {} {t} {}:{} {:o}",
            path.display(),
            nix::sys::stat::major(dev),
            nix::sys::stat::minor(dev),
            perm.bits()
        ))
    }
    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        self.rec(format!("chown {} {uid:?} {gid:?}", path.display()))
    }
    fn is_dir(&self, path: &Path) -> Option<bool> {
        if self.dirs.iter().any(|d| d == path) {
            Some(true)
        } else if self.files.iter().any(|f| f == path) {
            Some(false)
        } else {
            None
        }
    }
    fn mount_flags(&self, _path: &Path) -> MsFlags {
        MsFlags::empty()
    }
    fn set_hostname(&self, name: &str) -> Result<()> {
        self.rec(format!("sethostname {name}"))
    }
    fn set_domainname(&self, name: &str) -> Result<()> {
        self.rec(format!("setdomainname {name}"))
    }
    fn write_file(&self, path: &Path, data: &str) -> Result<()> {
        self.rec(format!("write {} {data}", path.display()))
    }
    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> Result<()> {
        self.rec(format!("setrlimit {resource} {soft} {hard}"))
    }
    fn drop_bounding(&self, cap: u8) -> Result<()> {
        self.rec(format!("capbset_drop {cap}"))
    }
    fn set_caps(&self, caps: &CapState) -> Result<()> {
        self.rec(format!(
            "capset e={:x} p={:x} i={:x}",
            caps.effective, caps.permitted, caps.inheritable
        ))
    }
    fn raise_ambient(&self, cap: u8) -> Result<()> {
        self.rec(format!("ambient_raise {cap}"))
    }
    fn set_keep_caps(&self, keep: bool) -> Result<()> {
        self.rec(format!("keepcaps {keep}"))
    }
    fn set_groups(&self, gids: &[u32]) -> Result<()> {
        self.rec(format!("setgroups {gids:?}"))
    }
    fn set_ids(&self, uid: u32, gid: u32) -> Result<()> {
        self.rec(format!("setids {uid} {gid}"))
    }
    fn set_no_new_privs(&self) -> Result<()> {
        self.rec("no_new_privs".into())
    }
}
