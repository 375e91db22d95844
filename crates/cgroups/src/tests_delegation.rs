//! cgroup v2 delegation (rootless limits) on a fake cgroupfs: the delegated subtree is found
//! by ownership, limits land in a child of it, and an undelegated subtree or a controller the
//! parent did not enable is refused naming why. Needs root (the fake tree is chown'ed).

use std::os::unix::fs::chown;
use std::path::Path;

use oci_spec::runtime::{LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder};

use crate::delegation::{delegated_root, rootless_parent};
use crate::tests_fake::{put, v2_leaf, TempDir};
use crate::*;

const USER: u32 = 4242;

/// /sys/fs/cgroup-like tree: root's user.slice, the user's user@4242.service (delegated when
/// `delegate`, with `controllers`) and the user's own cgroup app.slice/berth.scope in it.
fn tree(t: &TempDir, delegate: bool, controllers: &str) -> (Layout, std::path::PathBuf) {
    let root = &t.0;
    put(root, &[("cgroup.controllers", "cpuset cpu io memory pids")]);
    let service = root.join("user.slice/user-4242.slice/user@4242.service");
    let own = service.join("app.slice/berth.scope");
    for d in [&service, &service.join("app.slice"), &own] {
        v2_leaf(d);
        put(d, &[("cgroup.controllers", controllers)]);
    }
    if delegate {
        for d in [&service, &service.join("app.slice"), &own] {
            for f in ["", "cgroup.procs", "cgroup.subtree_control"] {
                chown(d.join(f), Some(USER), Some(USER)).unwrap();
            }
        }
    }
    let mut layout = Layout::v2_at(root);
    layout.unified.as_mut().unwrap().own =
        Path::new("/user.slice/user-4242.slice/user@4242.service/app.slice/berth.scope").into();
    (layout, service)
}

fn limits() -> oci_spec::runtime::LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(50).build().unwrap())
        .build()
        .unwrap()
}

#[test]
fn limits_go_in_the_delegated_subtree() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    let t = TempDir::new("deleg");
    let (layout, service) = tree(&t, true, "memory pids");
    let u = layout.unified.as_ref().unwrap();
    assert_eq!(
        delegated_root(&u.mount_point, &u.own, USER),
        Some(service.clone())
    );
    let parent = rootless_parent(&layout, USER, &limits()).unwrap();
    assert_eq!(
        parent,
        Path::new("/user.slice/user-4242.slice/user@4242.service")
    );
    // the container's cgroup under it gets the limit files
    let path = format!("{}/berth/c1", parent.display());
    let dir = service.join("berth/c1");
    v2_leaf(&service.join("berth"));
    v2_leaf(&dir);
    let m = manager_with_layout(&layout, &path, "c1").unwrap();
    m.create().unwrap();
    m.set(&limits()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.max")).unwrap(),
        "67108864"
    );
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "50");
}

#[test]
fn undelegated_subtree_or_controller_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    // the user's cgroup belongs to root: not delegated
    let t = TempDir::new("nodeleg");
    let (layout, _) = tree(&t, false, "memory pids");
    let e = rootless_parent(&layout, USER, &limits()).unwrap_err();
    assert!(e.contains("is not delegated to the user"), "{e}");
    // delegated, but without the memory controller
    let t = TempDir::new("nomem");
    let (layout, _) = tree(&t, true, "cpu pids");
    let e = rootless_parent(&layout, USER, &limits()).unwrap_err();
    assert!(e.contains("controller memory is not delegated"), "{e}");
    // cgroup v1 (this host) is refused as before
    let mut v1 = layout.clone();
    v1.mode = Mode::V1;
    let e = rootless_parent(&v1, USER, &limits()).unwrap_err();
    assert!(e.contains("cgroup v1"), "{e}");
}
