//! Rootless mode: a plain user's berth runs inside a user namespace of its own, where the user
//! is uid 0 and the user's subordinate ids (/etc/subuid, /etc/subgid) are the rest; there it
//! can unpack layers with their owners, mount overlays and create containers as root does.
//!
//! The namespace (and a mount namespace it owns, where the rootfs overlays live) is held by a
//! pause process, one per user (podman's design): every `berth` command of that user joins it
//! first, so a container started by one command is seen, exec'd into and removed by the next.
//! The ids are mapped by Debian's setuid `newuidmap`/`newgidmap` (package uidmap), which check
//! the ranges against /etc/subuid and /etc/subgid; berth itself stays unprivileged. A user
//! without ranges gets the single mapping `0 -> uid` and a warning, as podman does.

use crate::paths;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pause process's name (its /proc/<pid>/comm), checked before joining a pid from the file.
const PAUSE_COMM: &str = "berth-pause";

/// A range of subordinate ids: `start` on the host, `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u64,
    pub count: u64,
}

/// The ranges of `user` (or its uid) in an /etc/subuid-style file's text.
pub fn sub_ranges(text: &str, user: &str, uid: u32) -> Vec<IdRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != user && who != uid {
                return None;
            }
            Some(IdRange {
                start: start.parse().ok()?,
                count: count.parse().ok().filter(|&c| c > 0)?,
            })
        })
        .collect()
}

/// The `newuidmap PID` arguments after the pid: the user's own id as 0, then the ranges
/// from container id 1 on.
fn map_args(own: u32, ranges: &[IdRange]) -> Vec<String> {
    let mut args = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut inside = 1u64;
    for r in ranges {
        args.extend([inside.to_string(), r.start.to_string(), r.count.to_string()]);
        inside += r.count;
    }
    args
}

/// The user's ranges from /etc/subuid and /etc/subgid (empty when either has none).
fn user_ranges(uid: u32) -> (Vec<IdRange>, Vec<IdRange>, String) {
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let u = sub_ranges(&read("/etc/subuid"), &name, uid);
    let g = sub_ranges(&read("/etc/subgid"), &name, uid);
    (u, g, name)
}

/// The directory of the user's pause process (its pid file and lock).
fn pause_dir(uid: u32) -> PathBuf {
    paths::run_root_of(&paths::rootless_root(uid))
}

/// Join the user's namespaces, creating them (and the pause process) if need be. A no-op for
/// root (and inside the namespace, where berth is uid 0). Must run before any thread exists:
/// setns(2) into a user namespace refuses multithreaded callers.
pub fn enter() -> Result<(), String> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        return Ok(());
    }
    let cwd = std::env::current_dir().ok();
    let dir = pause_dir(uid);
    paths::ensure_private_dir(&dir)
        .map_err(|e| format!("rootless run dir {}: {e}", dir.display()))?;
    let lock = File::create(dir.join("pause.lock"))
        .map_err(|e| format!("{}: {e}", dir.join("pause.lock").display()))?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("lock {}: {e}", dir.join("pause.lock").display()))
        .and_then(|_lock| {
            let pid_file = dir.join("pause.pid");
            if let Some(pid) = live_pause(&pid_file, uid) {
                return join(pid);
            }
            let pid = spawn_pause(uid, gid)?;
            std::fs::write(&pid_file, pid.to_string())
                .map_err(|e| format!("{}: {e}", pid_file.display()))?;
            join(pid)
        })?;
    if let Some(cwd) = cwd {
        // joining a mount namespace moves us to its root
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(())
}

/// The pid in the pid file when it is still the user's pause process.
fn live_pause(pid_file: &Path, uid: u32) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let owner =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(format!("/proc/{pid}")).ok()?);
    // a zombie (killed, not yet reaped) keeps its name but has no namespaces left
    let alive = Path::new(&format!("/proc/{pid}/ns/user")).exists();
    (comm.trim() == PAUSE_COMM && owner == uid && alive).then_some(pid)
}

fn join(pid: i32) -> Result<(), String> {
    use nix::sched::{setns, CloneFlags};
    let open = |ns: &str| {
        File::open(format!("/proc/{pid}/ns/{ns}"))
            .map_err(|e| format!("rootless: open the namespace of pause process {pid}: {e}"))
    };
    let (user, mnt) = (open("user")?, open("mnt")?);
    setns(user.as_fd(), CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("rootless: join the user namespace of pause process {pid}: {e}"))?;
    setns(mnt.as_fd(), CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("rootless: join the mount namespace of pause process {pid}: {e}"))?;
    Ok(())
}

/// Fork the pause process: it unshares a user and a mount namespace, waits for the id maps
/// (written here, by newuidmap/newgidmap or as a single mapping) and then sleeps for ever.
fn spawn_pause(uid: u32, gid: u32) -> Result<i32, String> {
    let (to_parent_r, to_parent_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (to_child_r, to_child_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: berth is single-threaded here (see `enter`); the child only makes syscalls and
    // never returns from `pause_main`.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            drop((to_parent_r, to_child_w));
            pause_main(File::from(to_parent_w), File::from(to_child_r))
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop((to_parent_w, to_child_r));
            let pid = child.as_raw();
            let mut ready = [0u8; 1];
            let mut r = File::from(to_parent_r);
            if r.read(&mut ready).ok() != Some(1) || ready[0] != b'u' {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err("rootless: cannot create a user namespace (unshare failed: \
                            is kernel.unprivileged_userns_clone or user.max_user_namespaces 0?)"
                    .into());
            }
            let mapped = write_maps(pid, uid, gid);
            let mut w = File::from(to_child_w);
            let _ = w.write_all(if mapped.is_ok() { b"m" } else { b"x" });
            drop(w);
            if let Err(e) = mapped {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(e);
            }
            // the pause process tells when it is set up (or exits on failure)
            if r.read(&mut ready).ok() != Some(1) || ready[0] != b'p' {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err("rootless: the pause process failed to set up its mounts".into());
            }
            Ok(pid)
        }
    }
}

/// Write the pause process's uid and gid maps.
fn write_maps(pid: i32, uid: u32, gid: u32) -> Result<(), String> {
    let (uranges, granges, name) = user_ranges(uid);
    let tools =
        Path::new("/usr/bin/newuidmap").exists() && Path::new("/usr/bin/newgidmap").exists();
    if uranges.is_empty() || granges.is_empty() || !tools {
        let why = if tools {
            format!("{name} has no subordinate ids in /etc/subuid and /etc/subgid")
        } else {
            "newuidmap/newgidmap are not installed (Debian: apt install uidmap)".to_string()
        };
        eprintln!(
            "berth: warning: {why}: using a single mapping (only uid/gid 0 in containers, as \
             {name}); images with other owners or USER will fail. Add ranges with e.g. \
             `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}`"
        );
        let w = |f: &str, s: String| {
            std::fs::write(format!("/proc/{pid}/{f}"), s)
                .map_err(|e| format!("rootless: write /proc/{pid}/{f}: {e}"))
        };
        w("uid_map", format!("0 {uid} 1\n"))?;
        w("setgroups", "deny\n".into())?;
        return w("gid_map", format!("0 {gid} 1\n"));
    }
    for (tool, own, ranges, file) in [
        ("newuidmap", uid, &uranges, "/etc/subuid"),
        ("newgidmap", gid, &granges, "/etc/subgid"),
    ] {
        let out = Command::new(format!("/usr/bin/{tool}"))
            .arg(pid.to_string())
            .args(map_args(own, ranges))
            .output()
            .map_err(|e| format!("rootless: run {tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "rootless: {tool} failed (ranges of {name} in {file}): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// The pause process: never returns.
fn pause_main(mut to_parent: File, mut from_parent: File) -> ! {
    use nix::sched::{unshare, CloneFlags};
    if unshare(CloneFlags::CLONE_NEWUSER).is_err() {
        std::process::exit(1);
    }
    let _ = to_parent.write_all(b"u");
    let mut go = [0u8; 1];
    if from_parent.read(&mut go).ok() != Some(1) || go[0] != b'm' {
        std::process::exit(1);
    }
    // now uid 0 of the namespace, with its capabilities: a mount namespace of our own, where
    // mounts of the host still arrive but ours stay here
    let setup = || -> nix::Result<()> {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())?;
        unshare(CloneFlags::CLONE_NEWNS)?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            None::<&str>,
        )?;
        nix::unistd::setsid()?;
        Ok(())
    };
    if setup().is_err() {
        std::process::exit(1);
    }
    let name = std::ffi::CString::new(PAUSE_COMM).expect("no nul");
    // SAFETY: PR_SET_NAME reads a nul-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    let _ = std::env::set_current_dir("/");
    let _ = to_parent.write_all(b"p");
    drop((to_parent, from_parent));
    // stdio may be a terminal or a pipe someone waits on: let go of them
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard fds, which this process no longer needs.
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) };
        }
    }
    // SAFETY: closing fds we do not use; nothing else runs in this process.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::close_range(3, u32::MAX, 0);
    }
    loop {
        nix::unistd::pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_by_name_or_uid() {
        let t = "alice:100000:65536\n# c\nbob:200000:10\n1001:300000:5\nalice:500000:0\n";
        assert_eq!(
            sub_ranges(t, "alice", 1000),
            vec![IdRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            sub_ranges(t, "carol", 1001),
            vec![IdRange {
                start: 300000,
                count: 5
            }]
        );
        assert!(sub_ranges(t, "dave", 1002).is_empty());
    }

    #[test]
    fn newuidmap_arguments() {
        let r = [
            IdRange {
                start: 100000,
                count: 65536,
            },
            IdRange {
                start: 300000,
                count: 10,
            },
        ];
        assert_eq!(
            map_args(1000, &r).join(" "),
            "0 1000 1 1 100000 65536 65537 300000 10"
        );
    }
}
