//! linux.seccomp as a user sees it: the syscalls a profile denies fail inside the container with
//! the profile's errno, and docker's default profile keeps an unprivileged container process from
//! unshare/mount. Runtime under test: `BERTH_TEST_RUNTIME` (unset → berth-runtime, `runc` → runc).

use berth_e2e::{test_env, DOCKER_DEFAULT_CAPS};

#[test]
fn profile_denying_mkdir_gives_eperm() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|v| {
        v["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        })
    });
    let out = env.sh(
        &mut b,
        "mkdir /tmp/d 2>&1; echo rc=$?; touch /tmp/f && echo touch-ok",
    );
    out.ok();
    assert!(out.out().contains("Operation not permitted"), "{out:?}");
    assert!(
        out.out().contains("rc=1") && out.out().contains("touch-ok"),
        "{out:?}"
    );
}

#[test]
fn default_profile_blocks_unshare_and_mount() {
    let env = test_env!();
    let caps: Vec<String> = DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let script = "unshare -U true 2>&1; echo unshare=$?; mount -t tmpfs t /mnt 2>&1; echo mount=$?; echo alive";
    // Without a filter, an unprivileged process may create a user namespace: the profile is
    // what stops it below.
    let mut plain = env.bundle("plain");
    plain.user(1000, 1000);
    let out = env.sh(&mut plain, script);
    out.ok();
    assert!(
        out.out().contains("unshare=0"),
        "baseline: unshare -U must work without seccomp here: {out:?}"
    );

    let mut b = env.bundle("b");
    b.user(1000, 1000);
    let profile = serde_json::to_value(seccomp::default_profile(&caps)).unwrap();
    b.edit(|v| v["linux"]["seccomp"] = profile);
    let out = env.sh(&mut b, script);
    out.ok();
    assert!(out.out().contains("unshare=1"), "{out:?}");
    assert!(
        out.out().contains("mount=") && !out.out().contains("mount=0"),
        "{out:?}"
    );
    assert!(out.out().contains("Operation not permitted"), "{out:?}");
    assert!(out.out().ends_with("alive"), "{out:?}");
}
