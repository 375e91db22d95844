//! `--no-pivot`: the container is moved onto `/` and chrooted instead of pivot_root(2), so the
//! mounts of the runtime's mount namespace stay in the container's. The kernel lets a process
//! in a new user namespace mount proc (or sysfs) only if one is already mounted "fully
//! visible" in its mount namespace; the host's /proc and /sys would be, and a nested user
//! namespace could then mount a proc without the container's masked and read-only paths. So,
//! as runc does, every host proc and sysfs is detached first (or covered by an empty tmpfs
//! where it cannot be unmounted).

use crate::error::Result;
use crate::syscall::Syscall;
use nix::mount::{MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// The mount points of whole (root `/`) proc and sysfs mounts outside `rootfs`, outermost first.
pub fn host_proc_sys(mountinfo: &str, rootfs: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mountinfo::mounts(mountinfo)
        .filter(|m| m.root == Path::new("/") && matches!(m.fs_type, "proc" | "sysfs"))
        .map(|m| m.mount_point)
        .filter(|mp| !mp.starts_with(rootfs))
        .collect();
    out.sort_by_key(|p| p.components().count());
    out.dedup();
    out
}

/// Detaches the host's proc and sysfs mounts (listed by [`host_proc_sys`]) from this mount
/// namespace, first making them slaves so the unmount never reaches the host.
pub fn hide_host_proc_sys(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let mi = mountinfo::read_self()
        .map_err(|e| crate::error::Error::Other(format!("reading mountinfo: {e}")))?;
    for p in host_proc_sys(&mi, rootfs) {
        match sys.mount(None, &p, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None) {
            // already gone with a parent detached before it
            Err(e) if e.errno() == Some(libc::ENOENT) => continue,
            r => r?,
        }
        match sys.umount(&p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            // not ours to unmount (a locked mount in a user namespace): cover it instead
            Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EPERM)) => sys.mount(
                Some(Path::new("tmpfs")),
                &p,
                Some("tmpfs"),
                MsFlags::empty(),
                None,
            )?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::Recorder;

    const MI: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
25 23 0:40 / /proc/sys/fs/binfmt_misc rw shared:13 - autofs systemd-1 rw
26 24 0:23 / /sys/fs/cgroup ro shared:8 - tmpfs tmpfs ro
27 22 0:50 / /run/b\\040x/proc rw - proc proc rw
28 22 0:21 /sys /run/partial rw - proc proc rw
30 22 8:1 /b/rootfs /b/rootfs rw - ext4 /dev/sda1 rw
31 30 0:60 / /b/rootfs/proc rw - proc proc rw
";

    #[test]
    fn finds_whole_host_proc_and_sysfs_outside_the_rootfs() {
        assert_eq!(
            host_proc_sys(MI, Path::new("/b/rootfs")),
            [
                PathBuf::from("/proc"),
                PathBuf::from("/sys"),
                PathBuf::from("/run/b x/proc")
            ]
        );
    }

    #[test]
    fn each_is_made_a_slave_then_detached() {
        let r = Recorder::default();
        hide_host_proc_sys(&r, Path::new("/nonexistent-rootfs")).unwrap();
        let calls = r.calls();
        let i = calls
            .iter()
            .position(|c| c.starts_with("mount - /proc - MS_REC | MS_SLAVE"))
            .unwrap_or_else(|| panic!("{calls:?}"));
        assert_eq!(calls[i + 1], "umount /proc");
    }
}
