//! Process attributes: rlimits, user and groups, environment, executable lookup, fds.

use crate::capabilities::CapPlan;
use crate::error::{Error, Result};
use crate::rlimit::rlimit_resource;
use crate::syscall::Syscall;
use oci_spec::runtime::{PosixRlimit, Process};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn set_rlimits(sys: &dyn Syscall, limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        if l.soft() > l.hard() {
            return Err(Error::Spec(format!(
                "process.rlimits: {:?} soft limit {} exceeds hard limit {}",
                l.typ(),
                l.soft(),
                l.hard()
            )));
        }
        sys.set_rlimit(rlimit_resource(l.typ()), l.soft(), l.hard())?;
    }
    Ok(())
}

/// Switch to the spec's user keeping the capabilities the plan asks for, in runc's order:
/// drop the bounding set while we still hold CAP_SETPCAP, set groups and ids with KEEPCAPS so the
/// permitted set survives setuid, then install the final sets and raise ambient ones.
pub fn switch_user(
    sys: &dyn Syscall,
    process: &Process,
    caps: Option<&CapPlan>,
    userns_setgroups: bool,
) -> Result<()> {
    if let Some(c) = caps {
        c.drop_bounding(sys)?;
    }
    let user = process.user();
    if userns_setgroups {
        let gids = user.additional_gids().clone().unwrap_or_default();
        sys.set_groups(&gids)?;
    }
    sys.set_keep_caps(true)?;
    sys.set_ids(user.uid(), user.gid())?;
    sys.set_keep_caps(false)?;
    if let Some(c) = caps {
        c.apply(sys)?;
    }
    Ok(())
}

/// Find `name` like execvp would, in the PATH of the process environment.
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(p),
            Ok(m) if m.is_file() => Err(Error::Other(format!("exec: {name:?}: permission denied"))),
            Ok(_) => Err(Error::Other(format!("exec: {name:?}: is a directory"))),
            Err(e) => Err(Error::Other(format!("exec: {name:?}: {e}"))),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(name);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(Error::Other(format!(
        "exec: {name:?}: executable file not found in $PATH"
    )))
}

/// Mark every fd from `first` upwards close-on-exec, so nothing the runtime opened (a host
/// directory, a state file) reaches the container (CVE-2024-21626). Fds passed on purpose
/// (stdio, `--preserve-fds`, LISTEN_FDS) are below `first`.
pub fn cloexec_from(first: i32) -> Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Older kernels: walk /proc/self/fd.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Error::Other(format!("listing /proc/self/fd: {e}")))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on an fd number; a stale number just returns EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// The environment as the process will see it: the spec's, plus HOME when missing (as runc).
pub fn environment(process: &Process, home: Option<&str>) -> Vec<String> {
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home.unwrap_or("/")));
    }
    env
}

/// The home directory of `uid` from the container's /etc/passwd (after pivot_root).
pub fn home_of(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok()? == uid).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::Recorder;

    #[test]
    fn user_switch_order_keeps_caps_across_setuid() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "args": ["sh"], "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
        }))
        .unwrap();
        let plan = crate::capabilities::plan(p.capabilities().as_ref().unwrap(), u64::MAX, 5);
        let sys = Recorder::default();
        switch_user(&sys, &p, Some(&plan), true).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                "capbset_drop 0",
                "capbset_drop 1",
                "capbset_drop 2",
                "capbset_drop 3",
                "capbset_drop 4",
                "setgroups [10, 20]",
                "keepcaps true",
                "setids 1000 1000",
                "keepcaps false",
                "capset e=20 p=20 i=0",
            ]
        );
    }

    #[test]
    fn rlimit_soft_above_hard_is_rejected() {
        let l: Vec<PosixRlimit> = serde_json::from_value(
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]),
        )
        .unwrap();
        let err = set_rlimits(&Recorder::default(), &l)
            .unwrap_err()
            .to_string();
        assert!(err.contains("soft limit 10 exceeds hard limit 5"), "{err}");
        let l: Vec<PosixRlimit> = serde_json::from_value(
            serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 10}]),
        )
        .unwrap();
        let sys = Recorder::default();
        set_rlimits(&sys, &l).unwrap();
        assert_eq!(
            sys.calls(),
            vec![format!("setrlimit {} 5 10", libc::RLIMIT_NOFILE)]
        );
    }

    #[test]
    fn home_is_added_when_missing() {
        let p: Process = serde_json::from_value(serde_json::json!({"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]})).unwrap();
        assert_eq!(
            environment(&p, Some("/root")),
            vec!["PATH=/bin", "HOME=/root"]
        );
    }
}
