//! cgroup v2 delegation to a plain user (rootless containers, podman's rule): the kernel lets
//! a user manage the subtree whose directory and interface files it owns (systemd delegates
//! `user@UID.service` so), with the controllers the parent enabled for it, listed in the
//! subtree's `cgroup.controllers`. Limits of a rootless container are applied in a child of
//! that subtree when it has the controllers they need, and refused otherwise, naming why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::layout::{Layout, Mode};

/// The delegated subtree of a process in cgroup `own` (relative to the v2 mount `mount`): the
/// top-most directory on the way up from `own` whose directory, `cgroup.procs` and
/// `cgroup.subtree_control` belong to `uid`. None when `own` itself is not the user's.
pub fn delegated_root(mount: &Path, own: &Path, uid: u32) -> Option<PathBuf> {
    let owned = |d: &Path| {
        ["", "cgroup.procs", "cgroup.subtree_control"]
            .iter()
            .all(|f| std::fs::metadata(d.join(f)).is_ok_and(|m| m.uid() == uid))
    };
    let mut dir = mount.join(own.strip_prefix("/").unwrap_or(own));
    let mut found = None;
    while dir.starts_with(mount) && dir != mount && owned(&dir) {
        found = Some(dir.clone());
        if !dir.pop() {
            break;
        }
    }
    found
}

/// The v2 controllers the limits in `r` need.
pub fn controllers_needed(r: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(c) = r.cpu() {
        if c.shares().is_some() || c.quota().is_some() || c.period().is_some() {
            out.push("cpu");
        }
        if c.cpus().is_some() || c.mems().is_some() {
            out.push("cpuset");
        }
    }
    if r.memory()
        .as_ref()
        .is_some_and(|m| m.limit().is_some() || m.reservation().is_some())
    {
        out.push("memory");
    }
    if r.pids().is_some() {
        out.push("pids");
    }
    if r.block_io().is_some() {
        out.push("io");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        out.push("hugetlb");
    }
    out
}

/// Where the limits `r` of a rootless container go: the delegated subtree of the calling
/// process (of user `uid` as seen in its user namespace) on a cgroup v2 host, when it has
/// every controller they need. The error says why not.
pub fn rootless_parent(layout: &Layout, uid: u32, r: &LinuxResources) -> Result<PathBuf, String> {
    let u =
        match (&layout.mode, &layout.unified) {
            (Mode::V2, Some(u)) => u,
            (Mode::V2, None) => return Err("no cgroup2 filesystem is mounted".into()),
            _ => return Err(
                "this host has cgroup v1, whose hierarchies cannot be delegated to a plain user"
                    .into(),
            ),
        };
    let own = u
        .mount_point
        .join(u.own.strip_prefix("/").unwrap_or(&u.own));
    let root = delegated_root(&u.mount_point, &u.own, uid).ok_or_else(|| {
        format!(
            "the cgroup v2 subtree {} is not delegated to the user (its directory and \
             cgroup.procs, cgroup.subtree_control are not the user's: systemd's Delegate=yes \
             in user@.service does it)",
            own.display()
        )
    })?;
    let avail = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let avail: Vec<&str> = avail.split_whitespace().collect();
    if let Some(c) = controllers_needed(r)
        .into_iter()
        .find(|c| !avail.contains(c))
    {
        return Err(format!(
            "the controller {c} is not delegated to the user's cgroup v2 subtree {} (not in \
             its cgroup.controllers: systemd's Delegate= of user@.service lists the \
             controllers)",
            root.display()
        ));
    }
    let rel = root.strip_prefix(&u.mount_point).unwrap_or(&root);
    Ok(Path::new("/").join(rel))
}
