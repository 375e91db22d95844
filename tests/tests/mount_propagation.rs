//! `linux.rootfsPropagation` as runc applies it: from the first remount of `/` in the
//! container's mount namespace, so with `rshared` a mount the container makes under an
//! `rshared` bind of a shared host directory appears on the host (Kubernetes' bidirectional
//! mount propagation; critest checks it). berth-runtime made `/` rslave first and applied the
//! propagation only after pivot_root, so nothing made inside ever reached the host.
//! Validated against runc: BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test mount_propagation

use berth_e2e::test_env;
use std::path::Path;
use std::process::Command;

fn sh(script: &str) {
    let st = Command::new("sh").args(["-c", script]).status().unwrap();
    assert!(st.success(), "{script}");
}

/// The host directory made shared for the test, unmounted (with what reached it) on drop.
struct SharedDir(std::path::PathBuf);

impl Drop for SharedDir {
    fn drop(&mut self) {
        let d = self.0.display();
        let _ = Command::new("sh")
            .args(["-c", &format!("umount -R {d} 2>/dev/null; true")])
            .status();
    }
}

#[test]
fn rshared_root_propagates_container_mounts_to_the_host() {
    let env = test_env!();
    let src = env.path().join("shared-src");
    std::fs::create_dir_all(&src).unwrap();
    let s = src.display();
    sh(&format!("mount --bind {s} {s} && mount --make-rshared {s}"));
    let _guard = SharedDir(src.clone());
    let mut b = env.bundle("b");
    b.edit(|spec| spec["linux"]["rootfsPropagation"] = "rshared".into());
    let mut caps = berth_e2e::caps::DOCKER_DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    for set in ["bounding", "effective", "permitted"] {
        b.caps(set, &caps);
    }
    b.mount(
        "/mnt",
        "bind",
        s.to_string().as_str(),
        &["rbind", "rshared", "rw"],
    );
    let out = env.sh(
        &mut b,
        "mkdir -p /mnt/inner && mount -t tmpfs made-inside /mnt/inner && echo ok > /mnt/inner/f",
    );
    out.ok();
    let f = Path::new(&src).join("inner/f");
    assert_eq!(
        std::fs::read_to_string(&f).ok().as_deref(),
        Some("ok\n"),
        "the container's mount did not reach the host at {}",
        f.display()
    );
}
