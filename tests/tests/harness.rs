//! Self-tests of the harness: the cleanup guard really cleans up, even when
//! a test panics.

use berth_e2e::{test_env, TestEnv};
use std::path::Path;
use std::time::Duration;

#[test]
fn guard_cleans_up_after_a_panic() {
    if !berth_e2e::is_root() {
        eprintln!("SKIP: e2e tests need root (euid 0)");
        return;
    }
    let (path, pid, holder) = {
        let env = test_env!();
        let path = env.path().to_path_buf();
        // A host mount under the temp dir.
        let mnt = path.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &mnt,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        // A running container and a host helper process.
        let mut b = env.bundle("b");
        b.sh("sleep 1000");
        let id = env.id("g");
        env.create_start(&id, &b);
        let pid = env.pid(&id);
        let holder = env.spawn_host("sleep", &["1000"]);
        // Panic with the env alive: the guard runs during unwinding.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _env = env;
            panic!("deliberate");
        }));
        assert!(res.is_err());
        (path, pid, holder)
    };
    assert!(!path.exists(), "temp dir {} left behind", path.display());
    let prefix = path.to_string_lossy().to_string();
    assert!(
        !berth_e2e::env::mount_points()
            .iter()
            .any(|m| m.starts_with(&prefix)),
        "mounts left under {prefix}"
    );
    let gone = |p: i32| {
        // Gone or a zombie nobody will reap (not ours).
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s.split(' ').nth(2) == Some("Z"))
            .unwrap_or(true)
    };
    assert!(
        TestEnv::wait_for(Duration::from_secs(5), || gone(pid)),
        "container process {pid} still alive"
    );
    assert!(gone(holder), "helper {holder} still alive");
    assert!(!Path::new(&format!("/proc/{holder}/cmdline")).exists() || gone(holder));
}

#[test]
fn mountinfo_paths_are_unescaped() {
    if !berth_e2e::is_root() {
        eprintln!("SKIP: e2e tests need root (euid 0)");
        return;
    }
    let env = test_env!();
    let mnt = env.path().join("with space");
    std::fs::create_dir(&mnt).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &mnt,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    assert!(berth_e2e::env::mount_points()
        .iter()
        .any(|m| m == mnt.to_str().unwrap()));
    berth_e2e::env::unmount_under(env.path());
    assert!(!berth_e2e::env::mount_points()
        .iter()
        .any(|m| m == mnt.to_str().unwrap()));
}
