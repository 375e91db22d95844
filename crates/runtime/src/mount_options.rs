//! The spec's mount options: fstab-style flags, propagation and filesystem data for mount(2),
//! and the recursive attributes (`rro`, `rnosuid`, `rnodev`, `rnoexec`, ... from runtime-spec
//! 1.1 / runc), applied with mount_setattr(2) and AT_RECURSIVE to a mount and every mount
//! below it, which a bind remount (`ro`) cannot do: the submounts of an `rbind` stay writable
//! with plain `ro`.

use crate::error::{Error, Result};
use nix::mount::MsFlags;

/// Mount options of the spec split into what mount(2) needs.
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call itself.
    pub flags: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options (`size=64m`, `mode=755`, ...).
    pub data: Vec<String>,
    pub bind: bool,
    pub recursive: bool,
    /// `rro`, `rnosuid`, ...: applied to the whole mount tree after mounting.
    pub rec: RecAttr,
}

/// Parse fstab-style options. Unknown options are passed to the filesystem as data, as runc does.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        propagation: vec![],
        data: vec![],
        bind: false,
        recursive: false,
        rec: RecAttr::default(),
    };
    for opt in options {
        if o.rec.parse(opt) {
            continue;
        }
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation
                    .push(propagation_flags(opt).unwrap_or(MsFlags::empty()));
                continue;
            }
            // Options runc knows and handles elsewhere or ignores: never hand them to the kernel.
            "tmpcopyup" | "idmap" | "ridmap" | "defaults" => continue,
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
    }
    o
}

/// `private`, `rslave`, ... as mount(2) propagation flags.
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The atime mode is one field: setting one of these clears the others.
pub const MOUNT_ATTR_ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;

/// Attributes to set and clear on a whole mount tree.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecAttr {
    pub set: u64,
    pub clr: u64,
}

impl RecAttr {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }

    /// Takes a recursive option (`rro`, `rrw`, ...); false when `opt` is not one.
    pub fn parse(&mut self, opt: &str) -> bool {
        let (set, clr) = match opt {
            "rro" => (MOUNT_ATTR_RDONLY, 0),
            "rrw" => (0, MOUNT_ATTR_RDONLY),
            "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
            "rsuid" => (0, MOUNT_ATTR_NOSUID),
            "rnodev" => (MOUNT_ATTR_NODEV, 0),
            "rdev" => (0, MOUNT_ATTR_NODEV),
            "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
            "rexec" => (0, MOUNT_ATTR_NOEXEC),
            "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
            "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
            "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR_ATIME),
            "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME),
            "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
            _ => return false,
        };
        if clr & MOUNT_ATTR_ATIME != 0 {
            // a later atime option replaces an earlier one
            self.set &= !MOUNT_ATTR_ATIME;
        }
        self.set = (self.set & !clr) | set;
        self.clr = (self.clr & !set) | clr;
        true
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2): sets and clears `attr` on the mount at `dirfd` + `path` (`flags`:
/// AT_RECURSIVE for a whole tree, AT_EMPTY_PATH for the mount `dirfd` itself is).
pub fn mount_setattr(
    dirfd: std::os::fd::RawFd,
    path: &std::ffi::CStr,
    flags: libc::c_uint,
    attr: RecAttr,
) -> std::io::Result<()> {
    let ma = MountAttr {
        attr_set: attr.set,
        attr_clr: attr.clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a valid C string and a mount_attr of the size we pass; the kernel only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &ma as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// mount_setattr(AT_FDCWD, path, AT_RECURSIVE, attr).
pub fn apply(path: &std::path::Path, attr: RecAttr) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Other(format!("{} contains a NUL byte", path.display())))?;
    let rc = mount_setattr(libc::AT_FDCWD, &c, libc::AT_RECURSIVE as libc::c_uint, attr);
    if let Err(e) = rc {
        let hint = if e.raw_os_error() == Some(libc::ENOSYS) {
            " (recursive mount options need Linux 5.12 or later)"
        } else {
            ""
        };
        return Err(Error::Other(format!(
            "mount_setattr {} (recursive mount options): {e}{hint}",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&strings(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]));
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, strings(&["mode=755", "size=65536k"]));
        let o = parse_options(&strings(&["rbind", "ro", "rw"]));
        assert!(o.bind && o.recursive);
        assert!(o.flags.is_empty(), "rw after ro clears it");
    }

    fn parse(opts: &[&str]) -> RecAttr {
        let mut a = RecAttr::default();
        for o in opts {
            assert!(a.parse(o), "{o}");
        }
        a
    }

    #[test]
    fn recursive_options_set_and_clear() {
        assert_eq!(
            parse(&["rro", "rnosuid"]),
            RecAttr {
                set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
                clr: 0
            }
        );
        // the later option wins
        assert_eq!(
            parse(&["rro", "rrw"]),
            RecAttr {
                set: 0,
                clr: MOUNT_ATTR_RDONLY
            }
        );
        let a = parse(&["rnoatime", "rstrictatime"]);
        assert_eq!(a.set, MOUNT_ATTR_STRICTATIME);
        assert_eq!(a.clr, MOUNT_ATTR_ATIME);
        assert!(!RecAttr::default().parse("ro"));
        assert!(RecAttr::default().is_empty());
    }
}
