//! Isolation: user namespaces and seccomp.

use crate::{check, Check, Level};
use std::fs;
// ---------------------------------------------------------------------------------------
// user namespaces

/// Forks a child that tries unshare(CLONE_NEWUSER); Ok or the errno it got.
pub(crate) fn userns_probe() -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe functions (unshare, _exit) before
    // exiting, so forking a multithreaded process is fine.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        unsafe {
            let r = libc::unshare(libc::CLONE_NEWUSER);
            let code = if r == 0 {
                0
            } else {
                (*libc::__errno_location()).clamp(1, 255)
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid: {e}"));
        }
    }
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => Ok(()),
            errno => Err(format!(
                "unshare(CLONE_NEWUSER): {}",
                std::io::Error::from_raw_os_error(errno)
            )),
        }
    } else {
        Err("the probe child was killed".into())
    }
}

pub(crate) fn userns_check() -> Check {
    let max = fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if max == Some(0) {
        return check(
            "user namespaces",
            Level::Warn,
            "disabled (max_user_namespaces is 0)",
            "Containers run, but --userns-remap style uid mapping and rootless use are impossible. Enable with `sysctl user.max_user_namespaces=15000`.",
        );
    }
    match userns_probe() {
        Ok(()) => check(
            "user namespaces",
            Level::Ok,
            format!(
                "work (max_user_namespaces {})",
                max.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into())
            ),
            "A test child created a user namespace: uid/gid mapping for containers is available.",
        ),
        Err(why) => check(
            "user namespaces",
            Level::Warn,
            "cannot be created",
            format!("{why}. Containers run without uid mapping (container root is host root). Check user.max_user_namespaces and kernel.unprivileged_userns_clone, or a security module blocking them."),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// seccomp

/// A field of /proc/<pid>/status, e.g. "CapBnd" -> "000001fffeffffff".
pub(crate) fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim())
    })
}

pub(crate) fn seccomp_check() -> Check {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kernel = status_field(&status, "Seccomp").is_some();
    let actions = fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !kernel {
        return check(
            "seccomp",
            Level::Warn,
            "the kernel has no seccomp",
            "/proc/self/status has no Seccomp field (kernel built without CONFIG_SECCOMP): containers run without the default syscall filter, as with --security-opt seccomp=unconfined.",
        );
    }
    let caps: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    match seccomp::compile(&seccomp::default_profile(&caps)) {
        Ok(_) => check(
            "seccomp",
            Level::Ok,
            "kernel support and libseccomp work",
            format!(
                "docker's default profile compiles with libseccomp and the kernel supports filters{}.",
                if actions.is_empty() {
                    String::new()
                } else {
                    format!(" (actions: {actions})")
                }
            ),
        ),
        Err(e) => check(
            "seccomp",
            Level::Warn,
            "libseccomp cannot build the default profile",
            format!("{e}. Containers would have to run without the default syscall filter (--security-opt seccomp=unconfined). Install libseccomp 2.5 or newer."),
        ),
    }
}
