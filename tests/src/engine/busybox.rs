//! The busybox image every suite runs, built from Debian's busybox-static.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of a busybox rootfs tarball, built once per test process under
/// `std::env::temp_dir()`: /bin/busybox (static, from Debian's
/// busybox-static) plus a symlink per applet, /etc/passwd with root, app
/// (1000) and nobody, /tmp 1777.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        // Named after the busybox binary (size, mtime) so concurrent and
        // later test processes share one tarball instead of leaving one each.
        let bb = busybox_path();
        let meta = std::fs::metadata(bb).unwrap();
        let mtime = std::os::unix::fs::MetadataExt::mtime(&meta);
        let tar =
            std::env::temp_dir().join(format!("berth-e2e-busybox-v1-{}-{mtime}.tar", meta.len()));
        if tar.is_file() {
            return tar;
        }
        let base =
            std::env::temp_dir().join(format!("berth-e2e-busybox-build-{}", std::process::id()));
        let root = base.join("rootfs");
        let _ = std::fs::remove_dir_all(&base);
        build_busybox_rootfs(&root);
        let tmp_tar = base.with_extension("tar");
        let st = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tmp_tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar of the busybox rootfs failed");
        std::fs::rename(&tmp_tar, &tar).unwrap();
        let _ = std::fs::remove_dir_all(&base);
        tar
    })
}

fn busybox_path() -> &'static Path {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("busybox not found: apt-get install busybox-static")
}

fn build_busybox_rootfs(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let busybox = busybox_path();
    for d in [
        "bin", "etc", "tmp", "proc", "sys", "dev", "root", "home/app",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         app:x:1000:1000:app:/home/app:/bin/sh\n\
         nobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n",
    )
    .unwrap();
    std::os::unix::fs::chown(root.join("home/app"), Some(1000), Some(1000)).unwrap();
}
