//! Where a state root keeps things: the default roots (root's, or a rootless user's under the
//! XDG base directories), the volatile state dir of a root and the default API socket.
//! A leaf: the engine, the event journal, the CLI, the API and the helpers all ask here.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_RUN_ROOT: &str = "/run/berth";
pub const DEFAULT_SOCKET: &str = "/run/berth.sock";

/// The host uid berth runs for when it is not root on the host (`berth` run by a plain user,
/// before or after it entered its user namespace); None for root.
pub fn rootless_uid() -> Option<u32> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(euid);
    }
    runtime::util::userns_root_owner().filter(|&u| u != 0)
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The rootless state root: `$XDG_DATA_HOME/berth`, default `~/.local/share/berth`.
pub fn rootless_root(uid: u32) -> PathBuf {
    if let Some(d) = env_dir("XDG_DATA_HOME") {
        return d.join("berth");
    }
    let home = env_dir("HOME").unwrap_or_else(|| {
        nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map(|u| u.dir)
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/berth-{uid}")))
    });
    home.join(".local/share/berth")
}

/// The rootless user's private run dir: `$XDG_RUNTIME_DIR`, or `/tmp/berth-$UID` (mode 0700,
/// ours) where there is none (no login session, e.g. `su`/`setpriv`).
fn user_runtime_dir(uid: u32) -> PathBuf {
    env_dir("XDG_RUNTIME_DIR").unwrap_or_else(|| PathBuf::from(format!("/tmp/berth-{uid}")))
}

/// The state root when none is given: `$BERTH_ROOT`, /var/lib/berth for root,
/// `$XDG_DATA_HOME/berth` for a rootless user.
pub fn default_root() -> PathBuf {
    if let Some(r) = std::env::var_os("BERTH_ROOT") {
        return PathBuf::from(r);
    }
    match rootless_uid() {
        Some(uid) => rootless_root(uid),
        None => PathBuf::from(DEFAULT_ROOT),
    }
}

/// The volatile state dir of a state root: /run/berth for root's default root,
/// `$XDG_RUNTIME_DIR/berth` (or `/tmp/berth-$UID/berth`) for a rootless user's default root,
/// `<root>/run` otherwise.
pub fn run_root_of(root: &Path) -> PathBuf {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    if root == Path::new(DEFAULT_ROOT) {
        return PathBuf::from(DEFAULT_RUN_ROOT);
    }
    if let Some(uid) = rootless_uid() {
        if root == rootless_root(uid) {
            return user_runtime_dir(uid).join("berth");
        }
    }
    root.join("run")
}

/// The API socket `berth serve` listens on by default: /run/berth.sock for root,
/// `$XDG_RUNTIME_DIR/berth.sock` for a rootless user.
pub fn default_socket() -> PathBuf {
    match rootless_uid() {
        Some(uid) => user_runtime_dir(uid).join("berth.sock"),
        None => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// Create (if needed) a rootless user's private directory and check it is safe to keep state
/// in: owned by us and closed to others (a /tmp fallback could have been planted by another
/// user). Its parent too, when that is the `/tmp/berth-$UID` fallback.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(uid) = rootless_uid() {
        let fallback = PathBuf::from(format!("/tmp/berth-{uid}"));
        if dir.starts_with(&fallback) && dir != fallback {
            ensure_private_dir(&fallback)?;
        }
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let md = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !md.is_dir() || md.uid() != euid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory owned by uid {euid} (owner {}): refusing to keep state there",
                dir.display(),
                md.uid()
            ),
        ));
    }
    if md.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The cgroup of a container, below each hierarchy's root (the spec's cgroupsPath).
pub fn cgroups_path(id: &str) -> String {
    cgroups_path_in("", id)
}

/// The cgroup of a container under `--cgroup-parent` (`""`: berth's own, `/berth`).
pub fn cgroups_path_in(parent: &str, id: &str) -> String {
    let parent = parent.trim_matches('/');
    if !parent.is_empty() {
        return format!("/{parent}/{id}");
    }
    format!("/berth/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dir_is_created_0700_and_reused() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        ensure_private_dir(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_file_is_not_a_private_dir() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, "").unwrap();
        assert!(ensure_private_dir(&f).is_err());
    }
}
