//! Recursive mount attributes (`rro`, `rnosuid`, `rnodev`, `rnoexec`, ... from runtime-spec
//! 1.1 / runc): applied with mount_setattr(2) and AT_RECURSIVE to a mount and every mount below
//! it, which a bind remount (`ro`) cannot do: the submounts of an `rbind` stay writable with
//! plain `ro`.

use crate::error::{Error, Result};

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

/// mount_setattr(AT_FDCWD, path, AT_RECURSIVE, attr).
pub fn apply(path: &std::path::Path, attr: RecAttr) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Other(format!("{} contains a NUL byte", path.display())))?;
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
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_RECURSIVE as libc::c_uint,
            &ma as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
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
