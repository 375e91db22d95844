//! The kernel: its version and the features berth needs from it.

use crate::{check, Check, Level};
// ---------------------------------------------------------------------------------------
// kernel

/// "6.18.44-fc-v657" -> (6, 18).
pub(crate) fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

pub(crate) fn kernel_check() -> Check {
    let release = match nix::sys::utsname::uname() {
        Ok(u) => u.release().to_string_lossy().into_owned(),
        Err(e) => {
            return check(
                "kernel",
                Level::Warn,
                "unknown kernel version",
                format!("uname failed ({e}); berth cannot tell which kernel features to expect."),
            )
        }
    };
    match parse_kernel_version(&release) {
        None => check(
            "kernel",
            Level::Warn,
            format!("Linux {release} (version not understood)"),
            "berth could not read the version number; the checks below still say what works.",
        ),
        Some(v) if v < (3, 18) => check(
            "kernel",
            Level::Fail,
            format!("Linux {release} is too old"),
            "Kernels before 3.18 have no overlayfs and lack namespace features containers need. Upgrade the kernel.",
        ),
        Some(v) if v < (5, 3) => check(
            "kernel",
            Level::Warn,
            format!("Linux {release} (older than 5.3)"),
            "Containers run, but this kernel predates pidfds and clone3 (5.3) and the cgroup v2 freezer (5.2); berth falls back to slower or racier ways where it can. A 5.10 or newer kernel is recommended.",
        ),
        Some(_) => check(
            "kernel",
            Level::Ok,
            format!("Linux {release}"),
            "Recent enough for everything berth uses (namespaces, overlayfs, pidfds, seccomp).",
        ),
    }
}

pub(crate) fn kernel_at_least(major: u32, minor: u32) -> bool {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel_version(&u.release().to_string_lossy()))
        .is_some_and(|v| v >= (major, minor))
}
