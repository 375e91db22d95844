//! Where a state root keeps things: the default roots, and the volatile state dir of a root.
//! A leaf: the engine, the event journal and the helpers all need it.

use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_RUN_ROOT: &str = "/run/berth";

/// The volatile state dir of a state root: /run/berth for the default root, `<root>/run`
/// otherwise.
pub fn run_root_of(root: &Path) -> PathBuf {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    if root == Path::new(DEFAULT_ROOT) {
        PathBuf::from(DEFAULT_RUN_ROOT)
    } else {
        root.join("run")
    }
}

/// The cgroup of a container, below each hierarchy's root (the spec's cgroupsPath).
pub fn cgroups_path(id: &str) -> String {
    format!("/berth/{id}")
}
