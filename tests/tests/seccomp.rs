//! linux.seccomp as a user sees it: the syscalls a profile denies fail inside the container with
//! the profile's errno, and docker's default profile keeps an unprivileged container process from
//! unshare/mount. Runtime under test: `BERTH_TEST_RUNTIME` (unset → berth-runtime, `runc` → runc).

use berth_e2e::{cprog, engine, test_env, DOCKER_DEFAULT_CAPS};

/// The calls a profile without networking denies.
const SOCKET_CALLS: &[&str] = &[
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
];

/// A profile that allows every syscall but `names`, which fail with EPERM.
fn denying(names: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    })
}

#[test]
fn profile_denying_mkdir_gives_eperm() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|v| v["linux"]["seccomp"] = denying(&["mkdir", "mkdirat"]));
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

/// A profile without networking (the socket calls denied) still lets the container start: the
/// runtime's init, under the filter by then, makes no socket call while it waits for its start
/// (berth-runtime's `run` once read its go-ahead with recvfrom, and failed here).
#[test]
fn profile_denying_the_socket_calls_still_starts() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|v| v["linux"]["seccomp"] = denying(SOCKET_CALLS));
    let out = env.sh(&mut b, "nc -l -p 1234 2>&1; echo started");
    out.ok();
    assert!(out.out().contains("started"), "{out:?}");
    assert!(out.out().contains("Operation not permitted"), "{out:?}");
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

/// A syscall newer than the profile (number 1000) fails with ENOSYS, so programs fall back to
/// an older call as they do on an older kernel; a syscall the profile knows and denies keeps
/// the profile's errno (docker's default: EPERM). runc's enosys stub does the same. io_uring,
/// whose rings run syscalls no filter sees, is denied as by docker since 25.0 (moby#46762).
#[test]
fn unknown_syscall_gets_enosys_known_denied_gets_eperm() {
    let env = test_env!();
    let caps: Vec<String> = DOCKER_DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let helper = cprog::static_c("syscall_errno", cprog::SYSCALL_ERRNO_C);
    let mut b = env.bundle("b");
    cprog::install(&helper, &b.rootfs().join("bin"));
    let profile = serde_json::to_value(seccomp::default_profile(&caps)).unwrap();
    b.edit(|v| v["linux"]["seccomp"] = profile);
    b.args(&["/bin/syscall_errno"]);
    let out = env.run_once(&b);
    out.ok();
    assert_eq!(
        out.out().trim(),
        format!(
            "nr1000={} unshare={} io_uring_setup={}",
            libc::ENOSYS,
            libc::EPERM,
            libc::EPERM
        ),
        "{out:?}"
    );
}

/// The same through `berth run` (docker's default profile, as the engine generates it):
/// docker 20.10 gives ENOSYS for syscall 1000 and EPERM for unshare. io_uring_setup: EPERM as
/// from docker 25.0 on; docker 20.10, older than that change, lets it through (EFAULT here).
#[test]
fn engine_run_unknown_syscall_gets_enosys() {
    let e = engine!();
    let img = e.img().to_string();
    let helper = cprog::static_c("syscall_errno", cprog::SYSCALL_ERRNO_C);
    let dir = e.path().join("helper");
    std::fs::create_dir_all(&dir).unwrap();
    cprog::install(&helper, &dir);
    let vol = format!("{}:/h:ro", dir.display());
    let out = e.ok(&["run", "--rm", "-v", &vol, &img, "/h/syscall_errno"]);
    let uring = if e.is_berth() {
        libc::EPERM
    } else {
        libc::EFAULT
    };
    assert_eq!(
        out.trim(),
        format!(
            "nr1000={} unshare={} io_uring_setup={uring}",
            libc::ENOSYS,
            libc::EPERM
        )
    );
}

/// `run --security-opt seccomp=PROFILE` with a profile without networking: the container
/// starts, and its socket calls fail (it failed to start in berth: see
/// `profile_denying_the_socket_calls_still_starts`).
#[test]
fn engine_run_with_a_profile_denying_the_socket_calls() {
    let e = engine!();
    let img = e.img().to_string();
    let profile = e.path().join("no-net.json");
    std::fs::write(&profile, denying(SOCKET_CALLS).to_string()).unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = e.ok(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        &img,
        "sh",
        "-c",
        "nc -l -p 1234 2>&1; echo started",
    ]);
    assert!(out.contains("started"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
}
