//! CVE-2019-5736 without a copy: our own executable, opened through a private view no process
//! can write through, to re-execute from.
//!
//! A process that enters a container runs runtime code whose `/proc/<pid>/exe` the container can
//! reach; the host's binary must never be writable that way. A read-only bind mount of it is not
//! enough: anyone holding a path on a detached mount may clear its read-only flag with
//! mount_setattr(2), and root of a user namespace the container makes itself (no CAP_SYS_ADMIN
//! needed, only an unconfined seccomp) passes that check, then writes the binary. So the view is
//! a detached overlayfs with two lower layers (the binary's directory and an empty private
//! tmpfs) and no upper one: the superblock itself is read-only, no mount flag makes it writable,
//! and only its creator (CAP_SYS_ADMIN in the initial user namespace) could reconfigure it.
//! The pages are the host binary's own page cache: nothing is copied, unlike a sealed memfd.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

fn fd_or_err(rc: libc::c_long, what: &str) -> io::Result<OwnedFd> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    // SAFETY: the syscall returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// A new detached mount of filesystem `fstype` with `options`, read-only, nosuid, nodev.
fn detached_mount(fstype: &str, options: &[(&str, &str)]) -> io::Result<OwnedFd> {
    let name = CString::new(fstype)?;
    // SAFETY: fsopen with a valid C string.
    let fs = fd_or_err(
        unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) },
        "fsopen",
    )?;
    for (k, v) in options {
        let (k, v) = (CString::new(*k)?, CString::new(*v)?);
        // SAFETY: fsconfig on our fs context with valid C strings.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: fsconfig CMD_CREATE takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    // SAFETY: fsmount of our created fs context.
    fd_or_err(
        unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) },
        "fsmount",
    )
}

/// A path for overlayfs's `lowerdir` list (`:` separates layers, `\` escapes).
fn layer(p: &str) -> String {
    p.replace('\\', "\\\\").replace(':', "\\:")
}

/// An `O_PATH` fd of `exe` on a private read-only overlayfs view, to `execveat` (or
/// `fexecve`). Fails where overlayfs cannot be mounted (no module, no privilege): callers fall
/// back to a sealed in-memory copy.
pub fn open(exe: &Path) -> io::Result<OwnedFd> {
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(io::Error::other(format!(
            "{}: not a file path",
            exe.display()
        )));
    };
    let dir = dir
        .to_str()
        .ok_or_else(|| io::Error::other("executable's directory is not UTF-8"))?;
    let empty = detached_mount("tmpfs", &[("size", "4k"), ("mode", "0500")])?;
    let lower = format!(
        "{}:{}",
        layer(dir),
        layer(&format!("/proc/self/fd/{}", empty.as_raw_fd()))
    );
    let view = detached_mount("overlay", &[("lowerdir", &lower)])?;
    let name = CString::new(name.as_encoded_bytes())?;
    // SAFETY: openat on our mount fd with a valid C string.
    fd_or_err(
        unsafe {
            libc::openat(
                view.as_raw_fd(),
                name.as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            )
        } as libc::c_long,
        "open the executable in its view",
    )
}

/// Whether the running executable is on a read-only overlayfs superblock: a view made by
/// [`open`] (a writable overlay, as a container's root, is not).
fn running_from_view() -> bool {
    let Ok(st) = nix::sys::statfs::statfs("/proc/self/exe") else {
        return false;
    };
    #[allow(clippy::unnecessary_cast)] // the field type differs between targets
    let overlay = st.filesystem_type().0 as i64 == OVERLAYFS_SUPER_MAGIC;
    let Ok(vfs) = nix::sys::statvfs::statvfs("/proc/self/exe") else {
        return false;
    };
    overlay && vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
}

/// Whether the running executable is a sealed copy (no write, no more seals).
fn running_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on an fd we own.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0
        && seals & libc::F_SEAL_SEAL != 0
        && seals & (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE) != 0
}

/// Whether the running executable is one nothing can write through: a view ([`open`]) or a
/// sealed copy ([`sealed_copy`]), or needs neither ([`safe_as_is`]). A process that enters a
/// container must be.
pub fn running_protected() -> bool {
    running_from_view() || running_sealed() || safe_as_is(Path::new("/proc/self/exe"))
}

/// Whether `exe` may be executed as it is by a process that enters containers: the process is
/// not root (a rootless engine, whose containers run as the user or its subordinate ids, never
/// as host root) and only root may write the file. A plain user can mount no overlayfs view,
/// and a sealed copy would cost each such process the binary's size in memory.
pub fn safe_as_is(exe: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    !nix::unistd::geteuid().is_root()
        && std::fs::metadata(exe).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
}

/// Re-executes the running program, same arguments and environment, from a protected view of
/// its executable ([`open`], else a [`sealed_copy`] named `copy_name`) unless it already runs
/// from one. Only returns on error.
pub fn reexec_protected(copy_name: &str) -> io::Result<()> {
    if running_protected() {
        return Ok(());
    }
    let cstr = |b: Vec<u8>| CString::new(b).map_err(io::Error::other);
    let args: Vec<CString> = std::env::args_os()
        .map(|a| cstr(a.into_encoded_bytes()))
        .collect::<io::Result<_>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.into_encoded_bytes();
            b.push(b'=');
            b.extend(v.into_encoded_bytes());
            cstr(b)
        })
        .collect::<io::Result<_>>()?;
    let fd = protected(Path::new("/proc/self/exe"), copy_name)?;
    fault::mark("rt.reexec");
    let err = nix::unistd::execveat(
        fd.as_fd(),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(io::Error::other(format!(
        "re-executing from a protected view of the executable: {err}"
    )))
}

/// An fd to execute `exe` from (`execveat` with `AT_EMPTY_PATH`) that nothing can write
/// through: the view of the file ([`open`], symlinks and /proc/self/exe resolved), else a
/// [`sealed_copy`] of it named `copy_name`.
pub fn protected(exe: &Path, copy_name: &str) -> io::Result<OwnedFd> {
    if let Ok(fd) = crate::util::real_path(exe).and_then(|real| open(&real)) {
        return Ok(fd);
    }
    let mut src = std::fs::File::open(exe)?;
    sealed_copy(&mut src, copy_name).map(OwnedFd::from)
}

/// A sealed in-memory copy of `src` (memfd with shrink, grow, write and seal seals), rewound:
/// where no overlayfs view can be made. Its name shows in /proc/<pid>/exe as `/memfd:NAME`.
fn sealed_copy(src: &mut std::fs::File, name: &str) -> io::Result<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let cname = CString::new(name)?;
    // SAFETY: memfd_create with a valid C string.
    let fd =
        unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    let mut dst = std::fs::File::from(fd_or_err(fd as libc::c_long, "memfd_create")?);
    // std::io::copy uses copy_file_range/sendfile between files: the copy stays in the kernel.
    std::io::copy(src, &mut dst)?;
    dst.seek(SeekFrom::Start(0))?;
    seal(&dst)?;
    Ok(dst)
}

/// Seal the copy: no shrinking, growing or writing, then no more seals. F_SEAL_WRITE waits for
/// every extra reference to the pages to go, and pages just written can still sit in another
/// CPU's LRU batch: under load the kernel gives up with EBUSY (seen in a test run). So it is
/// tried a few times, then F_SEAL_FUTURE_WRITE is taken instead, which refuses every write and
/// writable mapping from now on just the same, for a file nobody has mapped.
fn seal(f: &std::fs::File) -> io::Result<()> {
    let add = |seals: libc::c_int| -> io::Result<()> {
        // SAFETY: fcntl on an fd we own.
        if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("sealing the copy: {e}")));
        }
        Ok(())
    };
    add(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW)?;
    let mut write_sealed = false;
    for _ in 0..5 {
        match add(libc::F_SEAL_WRITE) {
            Ok(()) => {
                write_sealed = true;
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
    if !write_sealed {
        add(libc::F_SEAL_FUTURE_WRITE)?;
    }
    add(libc::F_SEAL_SEAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn a_sealed_copy_takes_no_write_and_no_more_seals() {
        let mut src = tempfile_with(b"runtime");
        let mut f = sealed_copy(&mut src, "seal-test").unwrap();
        // SAFETY: fcntl on an fd we own.
        let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
        let want = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
        assert_eq!(seals & want, want, "{seals:#x}");
        assert_ne!(
            seals & (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE),
            0,
            "{seals:#x}"
        );
        f.seek(SeekFrom::Start(0)).unwrap();
        assert!(f.write_all(b"X").is_err());
        assert!(f.set_len(0).is_err());
    }

    fn tempfile_with(data: &[u8]) -> std::fs::File {
        let name = CString::new("src").unwrap();
        // SAFETY: memfd_create with a valid C string.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
        let mut f = std::fs::File::from(fd_or_err(fd as libc::c_long, "memfd").unwrap());
        f.write_all(data).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    /// The view is read-only at the superblock: a write open fails, and so does clearing the
    /// mount's read-only flag (the file is not a mount root), which is what a process does to
    /// a read-only bind mount of the binary to write through it.
    #[test]
    fn the_view_cannot_be_written_or_made_writable() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("berth-exe-view-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("tool");
        std::fs::write(&exe, b"#!/bin/sh\n").unwrap();
        let fd = open(&exe).unwrap();
        let p = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        let clear = crate::mount_options::RecAttr {
            set: 0,
            clr: libc::MOUNT_ATTR_RDONLY,
        };
        let empty = CString::new("").unwrap();
        let cleared = crate::mount_options::mount_setattr(
            fd.as_raw_fd(),
            &empty,
            libc::AT_EMPTY_PATH as libc::c_uint,
            clear,
        );
        assert!(cleared.is_err());
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"#!/bin/sh\n");
        drop(fd);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lowerdir_separators_are_escaped() {
        assert_eq!(layer("/a:b\\c"), "/a\\:b\\\\c");
    }
}
