//! A container without a mount namespace of its own shares the runtime's (runtime-spec
//! config-linux.md "Namespaces": without a `mount` entry the container is in the runtime's
//! namespace). As runc, its mounts are made under the rootfs and the process is chrooted
//! there; unlike runc (v1.1.5), nothing outside the rootfs is changed: no propagation change
//! of `/` (runc makes the host's `/` rslave), no pivot_root, and what only a private namespace
//! can do is refused rather than dropped. The mounts the container gets live in the runtime's
//! namespace, so `delete` takes them away again (runc leaves them behind).

use crate::error::{Error, Result};
use nix::mount::MntFlags;
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// What only a private mount namespace can give, refused up front.
pub fn check(spec: &Spec, new_userns: bool) -> Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if non_empty(linux.masked_paths()) || non_empty(linux.readonly_paths()) {
        // runc's words
        return Err(Error::Spec(
            "unable to restrict sys entries without a private MNT namespace".into(),
        ));
    }
    let refuse = |what: &str| {
        Err(Error::Spec(format!(
            "{what} needs a mount namespace of the container's own (linux.namespaces has no \"mount\")"
        )))
    };
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        return refuse("root.readonly");
    }
    if linux
        .rootfs_propagation()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return refuse("linux.rootfsPropagation");
    }
    if new_userns && spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        return refuse("mounting in a new user namespace");
    }
    Ok(())
}

/// Mount points strictly below `rootfs` in a mountinfo text, in mount order.
pub fn mounts_below(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    mountinfo::mounts(mountinfo)
        .map(|m| m.mount_point)
        .filter(|mp| mp.starts_with(rootfs) && mp != rootfs)
        .collect()
}

/// The mount points below `rootfs` in the runtime's mount namespace now.
pub fn current(rootfs: &Path) -> Result<Vec<PathBuf>> {
    let mi = mountinfo::read_self().map_err(|e| Error::Other(format!("reading mountinfo: {e}")))?;
    let root = crate::util::real_path(rootfs).unwrap_or_else(|_| rootfs.to_path_buf());
    Ok(mounts_below(&mi, &root))
}

/// The mounts below `rootfs` that were not there `before`: the ones the container got.
pub fn made_since(rootfs: &Path, before: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut now = current(rootfs)?;
    now.retain(|p| !before.contains(p));
    now.dedup();
    Ok(now)
}

/// Detaches `mounts` (made in the runtime's namespace for a container), last mounted first.
/// Each is detached as often as it is stacked; one already gone is no error.
pub fn unmount(mounts: &[PathBuf]) -> Result<()> {
    for p in mounts.iter().rev() {
        loop {
            match nix::mount::umount2(p, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
                Ok(()) => continue,
                Err(nix::Error::EINVAL | nix::Error::ENOENT) => break,
                Err(e) => {
                    return Err(Error::Other(format!(
                        "unmounting {} (the container shared the runtime's mount namespace): {e}",
                        p.display()
                    )))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::RootfsPlan;
    use crate::syscall::Recorder;
    use oci_spec::runtime::Mount;

    #[test]
    fn mounts_go_below_the_rootfs_and_nothing_else_is_touched() {
        let root = PathBuf::from("/b/rootfs");
        let mounts: Vec<Mount> =
            serde_json::from_str(r#"[{"destination": "/proc", "type": "proc", "source": "proc"}]"#)
                .unwrap();
        let sys = Recorder::default();
        let plan = RootfsPlan {
            rootfs: &root,
            bundle: Path::new("/b"),
            mounts: &mounts,
            devices: &[],
            propagation: None,
            readonly: false,
            no_pivot: true,
            shared_mntns: true,
            userns: false,
            cgroupns: false,
            cgroup_layout: None,
            masked: &[],
            readonly_paths: &[],
            bind_sources: &[],
        };
        plan.mount_all(&sys).unwrap();
        plan.enter(&sys).unwrap();
        plan.finish(&sys).unwrap();
        let calls = sys.calls();
        // every mount is below the rootfs: no propagation change of /, no rootfs self-bind
        for c in calls.iter().filter(|c| c.starts_with("mount ")) {
            let target = c.split(' ').nth(2).unwrap();
            assert!(target.starts_with("/b/rootfs/"), "{c}: {calls:#?}");
        }
        // chroot, never pivot_root or a move onto / (even with --no-pivot)
        assert!(
            calls.contains(&"chroot /b/rootfs".to_string()),
            "{calls:#?}"
        );
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("pivot_root") || c.starts_with("move_root")),
            "{calls:#?}"
        );
    }

    #[test]
    fn lists_only_mounts_strictly_below_the_rootfs() {
        let mi = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                  30 22 0:5 / /b/rootfs rw - overlay o rw\n\
                  31 30 0:6 / /b/rootfs/proc rw - proc proc rw\n\
                  32 30 0:7 / /b/rootfs/dev rw - tmpfs tmpfs rw\n\
                  33 22 0:8 / /b/rootfs2/proc rw - proc proc rw\n\
                  34 30 0:9 / /b/rootfs/my\\040dir rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mounts_below(mi, Path::new("/b/rootfs")),
            ["/b/rootfs/proc", "/b/rootfs/dev", "/b/rootfs/my dir"]
                .map(PathBuf::from)
                .to_vec()
        );
    }
}
