use super::*;
use crate::syscall::Recorder;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("berth-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn symlinks_cannot_escape_the_root() {
    let root = tmpdir("resolve");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../..", root.join("a/up")).unwrap();
    std::os::unix::fs::symlink("b", root.join("a/rel")).unwrap();
    assert_eq!(
        resolve_in_root(&root, Path::new("/abs/passwd")).unwrap(),
        root.join("etc/passwd")
    );
    assert_eq!(
        resolve_in_root(&root, Path::new("/a/up/etc")).unwrap(),
        root.join("etc")
    );
    assert_eq!(
        resolve_in_root(&root, Path::new("/../../x")).unwrap(),
        root.join("x")
    );
    assert_eq!(
        resolve_in_root(&root, Path::new("/a/rel/c")).unwrap(),
        root.join("a/b/c")
    );
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    assert!(resolve_in_root(&root, Path::new("/loop/x")).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}

fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
    serde_json::from_value(
        serde_json::json!({"destination": dest, "type": typ, "source": src, "options": opts}),
    )
    .unwrap()
}

#[test]
fn mounts_devices_and_pivot_in_order() {
    let root = PathBuf::from("/b/rootfs");
    let mounts = vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount("/data", "bind", "/srv/data", &["rbind", "ro", "rprivate"]),
    ];
    let sys = Recorder {
        dirs: vec![PathBuf::from("/srv/data"), PathBuf::from("/proc/sys")],
        files: vec![PathBuf::from("/proc/kcore")],
        ..Default::default()
    };
    let masked = strings(&["/proc/kcore", "/proc/missing"]);
    let ro = strings(&["/proc/sys"]);
    let plan = RootfsPlan {
        rootfs: &root,
        bundle: Path::new("/b"),
        mounts: &mounts,
        devices: &[],
        propagation: None,
        readonly: true,
        no_pivot: false,
        shared_mntns: false,
        userns: false,
        cgroupns: false,
        cgroup_layout: None,
        masked: &masked,
        readonly_paths: &ro,
        bind_sources: &[],
    };
    plan.mount_all(&sys).unwrap();
    plan.enter(&sys).unwrap();
    plan.finish(&sys).unwrap();
    let calls = sys.calls();
    let expect_prefix = [
        "mount - / - MS_REC | MS_SLAVE -",
        "mount /b/rootfs /b/rootfs - MS_BIND | MS_REC -",
        "mkdir /b/rootfs/proc",
        "mount proc /b/rootfs/proc proc 0 ",
        "mkdir /b/rootfs/dev",
        "mount tmpfs /b/rootfs/dev tmpfs MS_NOSUID | MS_STRICTATIME mode=755,size=65536k",
        "mkdir /b/rootfs/data",
        "mount /srv/data /b/rootfs/data - MS_BIND | MS_REC -",
        "mount - /b/rootfs/data - MS_RDONLY | MS_REMOUNT | MS_BIND | MS_REC -",
        "mount - /b/rootfs/data - MS_REC | MS_PRIVATE -",
        "mknod /b/rootfs/dev/null c 1:3 666",
    ];
    for (i, e) in expect_prefix.iter().enumerate() {
        assert_eq!(calls[i].trim_end(), e.trim_end(), "call {i}: {calls:#?}");
    }
    assert!(calls.contains(&"symlink /b/rootfs/dev/fd -> /proc/self/fd".to_string()));
    assert!(calls.contains(&"symlink /b/rootfs/dev/ptmx -> pts/ptmx".to_string()));
    let pivot = calls
        .iter()
        .position(|c| c == "pivot_root /b/rootfs")
        .unwrap();
    let tail = &calls[pivot + 1..];
    assert_eq!(
        tail,
        &[
            "mount /proc/sys /proc/sys - MS_BIND | MS_REC -",
            "mount /proc/sys /proc/sys - MS_RDONLY | MS_REMOUNT | MS_BIND | MS_REC -",
            "mount /dev/null /proc/kcore - MS_BIND -",
            "mount - / - MS_RDONLY | MS_REMOUNT | MS_BIND -",
        ]
    );
}

#[test]
fn user_namespace_binds_devices_instead_of_mknod() {
    let root = PathBuf::from("/r");
    let sys = Recorder {
        dirs: vec![PathBuf::from("/r/dev")],
        ..Default::default()
    };
    let plan = RootfsPlan {
        rootfs: &root,
        bundle: Path::new("/"),
        mounts: &[],
        devices: &[],
        propagation: Some("rprivate"),
        readonly: false,
        no_pivot: true,
        shared_mntns: false,
        userns: true,
        cgroupns: false,
        cgroup_layout: None,
        masked: &[],
        readonly_paths: &[],
        bind_sources: &[],
    };
    plan.mount_all(&sys).unwrap();
    plan.enter(&sys).unwrap();
    let calls = sys.calls();
    assert_eq!(calls[0], "mount - / - MS_REC | MS_PRIVATE -");
    assert!(calls.iter().all(|c| !c.starts_with("mknod")), "{calls:#?}");
    assert!(calls.contains(&"mount /dev/null /r/dev/null - MS_BIND -".to_string()));
    assert_eq!(calls.last().unwrap(), "move_root /r");
}

#[test]
fn bind_mount_of_missing_source_is_a_clear_error() {
    let root = PathBuf::from("/r");
    let mounts = vec![mount("/x", "bind", "/nope", &["bind"])];
    let plan = RootfsPlan {
        rootfs: &root,
        bundle: Path::new("/"),
        mounts: &mounts,
        devices: &[],
        propagation: None,
        readonly: false,
        no_pivot: false,
        shared_mntns: false,
        userns: false,
        cgroupns: false,
        cgroup_layout: None,
        masked: &[],
        readonly_paths: &[],
        bind_sources: &[],
    };
    let err = plan
        .mount_all(&Recorder::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nope") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn proc_on_a_symlink_is_refused_and_rro_applies_recursively() {
    let root = tmpdir("procsym");
    std::fs::create_dir_all(root.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", root.join("proc")).unwrap();
    let proc_mount = vec![mount("/proc", "proc", "proc", &[])];
    let mut plan = RootfsPlan {
        rootfs: &root,
        bundle: Path::new("/"),
        mounts: &proc_mount,
        devices: &[],
        propagation: None,
        readonly: false,
        no_pivot: false,
        shared_mntns: false,
        userns: false,
        cgroupns: false,
        cgroup_layout: None,
        masked: &[],
        readonly_paths: &[],
        bind_sources: &[],
    };
    let sys = Recorder::default();
    let err = plan.mount_all(&sys).unwrap_err().to_string();
    assert!(err.contains("/proc") && err.contains("symlink"), "{err}");
    assert!(sys.calls().iter().all(|c| !c.contains("proc proc")));

    let rro = vec![mount("/data", "bind", "/srv", &["rbind", "rro"])];
    plan.mounts = &rro;
    let sys = Recorder {
        dirs: vec![PathBuf::from("/srv")],
        ..Default::default()
    };
    plan.mount_all(&sys).unwrap();
    let calls = sys.calls();
    let data = root.join("data").display().to_string();
    let i = calls
        .iter()
        .position(|c| c.starts_with(&format!("mount /srv {data}")))
        .unwrap();
    assert_eq!(
        calls[i + 1],
        format!("mount_setattr {data} +0x1 -0x0 recursive")
    );
    std::fs::remove_dir_all(&root).unwrap();
}
