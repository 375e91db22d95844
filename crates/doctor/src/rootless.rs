//! Rootless berth (a plain user running `berth doctor`): what the user's namespace needs --
//! subordinate ids and the setuid newuidmap/newgidmap, overlayfs inside a user namespace (or
//! fuse-overlayfs), /dev/net/tun for user-mode networking -- and what it cannot have here.

use crate::network::find_in_path;
use crate::storage::{existing_base, overlay_mount_probe};
use crate::{check, Check, Level};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Whether `user` (or its uid) has a range in an /etc/subuid-style file.
fn has_range(file: &str, user: &str, uid: u32) -> bool {
    std::fs::read_to_string(file).is_ok_and(|t| {
        t.lines().any(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            f.len() == 3
                && (f[0] == user || f[0] == uid.to_string())
                && f[2].parse::<u64>().is_ok_and(|c| c > 0)
        })
    })
}

fn setuid_tool(name: &str) -> bool {
    find_in_path(name)
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| m.permissions().mode() & 0o4000 != 0 && m.uid() == 0)
}

/// The id mapping the user's containers get.
pub(crate) fn ids_check() -> Check {
    let uid = euid();
    if uid == 0 {
        return check(
            "rootless",
            Level::Ok,
            "running as root",
            "Run `berth doctor` as the plain user to check rootless berth for that user.",
        );
    }
    let user = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let limits = if cgroups::pure_v2_host() {
        " Resource limits (--memory, --cpus, --pids-limit) and pause need a cgroup v2 subtree delegated to the user (systemd's Delegate=yes), with the limits' controllers in its cgroup.controllers; without one they are refused."
    } else {
        " Resource limits (--memory, --cpus, --pids-limit) are refused: cgroup v1 cannot be delegated to a plain user; containers without limits need no cgroup."
    };
    let tools = setuid_tool("newuidmap") && setuid_tool("newgidmap");
    let ranges = has_range("/etc/subuid", &user, uid) && has_range("/etc/subgid", &user, uid);
    match (tools, ranges) {
        (true, true) => check(
            "rootless",
            Level::Ok,
            "subordinate ids and newuidmap/newgidmap found",
            format!("Containers of {user} run in a user namespace: uid 0 is {user}, the other ids come from {user}'s ranges in /etc/subuid and /etc/subgid.{limits}"),
        ),
        _ => check(
            "rootless",
            Level::Warn,
            "single-id mapping only",
            format!(
                "{}{}Containers of {user} then get uid/gid 0 only (images with other owners or a USER fail).{limits}",
                if tools { "" } else { "newuidmap/newgidmap (setuid root) are missing: apt install uidmap. " },
                if ranges { "".to_string() } else { format!("{user} has no ranges in /etc/subuid and /etc/subgid: e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`. ") },
            ),
        ),
    }
}

/// Runs `probe` in a forked child inside a new user + mount namespace where the caller is
/// uid 0 (a single mapping the child writes itself); its error text, if any.
fn in_userns(probe: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (uid, gid) = (euid(), unsafe { libc::getegid() });
    let (mut r, mut w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child runs the probe and leaves with _exit; berth doctor is single-threaded.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let res = (|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
                    .map_err(|e| format!("unshare(CLONE_NEWUSER): {e}"))?;
                let wr = |f: &str, s: String| {
                    std::fs::write(f, s).map_err(|e| format!("write {f}: {e}"))
                };
                wr("/proc/self/uid_map", format!("0 {uid} 1"))?;
                wr("/proc/self/setgroups", "deny".into())?;
                wr("/proc/self/gid_map", format!("0 {gid} 1"))?;
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
                probe()
            })();
            let _ = w.write_all(res.err().unwrap_or_default().as_bytes());
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = r.read_to_string(&mut msg);
            let _ = nix::sys::wait::waitpid(child, None);
            if msg.is_empty() {
                Ok(())
            } else {
                Err(msg)
            }
        }
    }
}

/// Which overlay rootless snapshots get: native overlayfs in the user namespace (Linux >=
/// 5.11, `userxattr`), else fuse-overlayfs.
pub(crate) fn overlay_check(root: &Path) -> Check {
    if euid() == 0 {
        return check(
            "rootless overlay",
            Level::Ok,
            "not checked as root",
            "Run `berth doctor` as the plain user to check its overlays.",
        );
    }
    let base = existing_base(root);
    match in_userns(|| overlay_mount_probe(&base, ",userxattr")) {
        Ok(()) => check(
            "rootless overlay",
            Level::Ok,
            "native overlayfs in the user namespace (userxattr)",
            format!("A test overlay mounted with userxattr in a user namespace under {} worked: rootless snapshots are native overlays.", base.display()),
        ),
        Err(why) => {
            let fuse = find_in_path("fuse-overlayfs").is_some();
            let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").is_ok();
            let (level, what) = match (fuse, dev) {
                (true, true) => (Level::Warn, "fuse-overlayfs (native overlayfs refused)".to_string()),
                (false, _) => (Level::Fail, "no overlay: install fuse-overlayfs".to_string()),
                (true, false) => (Level::Fail, "no overlay: /dev/fuse is not usable by this user".to_string()),
            };
            check("rootless overlay", level, what, format!("Native overlayfs in a user namespace failed ({why}); it needs Linux >= 5.11."))
        }
    }
}

/// User-mode networking (the default network of rootless containers) needs pasta or
/// slirp4netns and a /dev/net/tun the user can open.
pub(crate) fn network_check() -> Check {
    if euid() == 0 {
        return check(
            "rootless network",
            Level::Ok,
            "not checked as root",
            "Run `berth doctor` as the plain user to check its user-mode networking.",
        );
    }
    let tool = ["pasta", "slirp4netns"]
        .into_iter()
        .find(|t| find_in_path(t).is_some());
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun");
    let mode = std::fs::metadata("/dev/net/tun")
        .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
        .unwrap_or_else(|_| "missing".into());
    match (tool, tun) {
        (Some(t), Ok(_)) => check(
            "rootless network",
            Level::Ok,
            format!("user-mode networking with {t}"),
            "Rootless containers get a user-mode network; --network none and host work too.",
        ),
        (tool, tun) => {
            let mut why = Vec::new();
            if tool.is_none() {
                why.push(
                    "neither pasta (apt install passt) nor slirp4netns is installed".to_string(),
                );
            }
            if let Err(e) = tun {
                why.push(format!("/dev/net/tun (mode {mode}) cannot be opened by this user: {e} (Debian's default mode is 0666: `chmod 0666 /dev/net/tun` as root)"));
            }
            check(
                "rootless network",
                Level::Warn,
                "only --network none and host",
                format!(
                    "User-mode networking (the default network, -p) is unavailable: {}.",
                    why.join("; ")
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_by_name_or_uid() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("subuid");
        std::fs::write(&f, "alice:100000:65536\n1001:200000:10\nbob:300000:0\n").unwrap();
        let f = f.to_str().unwrap();
        assert!(super::has_range(f, "alice", 1000));
        assert!(super::has_range(f, "carol", 1001));
        assert!(!super::has_range(f, "bob", 1002));
    }
}
