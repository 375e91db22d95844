//! CVE-2019-5736: a container must never be able to open the runtime binary for writing through
//! /proc/<pid>/exe of a runtime process that entered it. Before creating or entering a
//! container, re-execute from a sealed, anonymous in-memory copy (memfd with write, grow, shrink
//! and seal seals), so /proc/self/exe of every process in the container points at that copy.

use std::ffi::CString;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NAME: &str = "berth-runtime-sealed";

pub fn is_sealed() -> bool {
    std::fs::read_link("/proc/self/exe")
        .map(|p| p.to_string_lossy().starts_with(&format!("/memfd:{NAME}")))
        .unwrap_or(false)
}

/// Re-execute ourselves from a sealed memfd unless we already are that copy. Only returns on error.
pub fn reexec_sealed() -> anyhow::Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let name = CString::new(NAME)?;
    // SAFETY: memfd_create with a valid C string.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        anyhow::bail!("memfd_create: {}", std::io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned here.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut dst = std::fs::File::from(memfd);
    let mut src = std::fs::File::open("/proc/self/exe")?;
    // std::io::copy uses copy_file_range/sendfile between files: the copy stays in the kernel.
    std::io::copy(&mut src, &mut dst)?;
    dst.seek(SeekFrom::Start(0))?;
    seal(&dst)?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()))
        .collect::<Result<_, _>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.into_encoded_bytes();
            b.push(b'=');
            b.extend(v.into_encoded_bytes());
            CString::new(b)
        })
        .collect::<Result<_, _>>()?;
    let err = nix::unistd::fexecve(&dst, &args, &env).unwrap_err();
    anyhow::bail!("re-executing the sealed runtime copy: {err}")
}

/// Seal the copy: no shrinking, growing or writing, then no more seals. F_SEAL_WRITE waits for
/// every extra reference to the pages to go, and pages just written can still sit in another
/// CPU's LRU batch: under load the kernel gives up with EBUSY (seen in a test run). So it is
/// tried a few times, then F_SEAL_FUTURE_WRITE is taken instead, which refuses every write and
/// writable mapping from now on just the same, for a file nobody has mapped.
fn seal(f: &std::fs::File) -> anyhow::Result<()> {
    let add = |seals: libc::c_int| -> std::io::Result<()> {
        // SAFETY: fcntl on an fd we own.
        if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    let fail = |e: std::io::Error| anyhow::anyhow!("sealing the runtime copy: {e}");
    add(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW).map_err(fail)?;
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
            Err(e) => return Err(fail(e)),
        }
    }
    if !write_sealed {
        add(libc::F_SEAL_FUTURE_WRITE).map_err(fail)?;
    }
    add(libc::F_SEAL_SEAL).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_sealed_copy_takes_no_write_and_no_more_seals() {
        let name = CString::new("seal-test").unwrap();
        // SAFETY: memfd_create with a valid C string.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_ALLOW_SEALING) };
        assert!(fd >= 0);
        // SAFETY: fd was just created and is owned here.
        let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        f.write_all(b"runtime").unwrap();
        seal(&f).unwrap();
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
}
