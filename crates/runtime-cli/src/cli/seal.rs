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
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on an fd we own.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        anyhow::bail!(
            "sealing the runtime copy: {}",
            std::io::Error::last_os_error()
        );
    }
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
