//! Loads real filters. Each scenario runs in a fresh process (this test binary re-executed
//! with `BERTH_SECCOMP_CHILD` set, on one thread) so the filter never touches the test
//! harness, and no code runs between fork and exec of a multi-threaded process.

use std::ffi::CString;
use std::process::Command;

use oci_spec::runtime::{
    LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscallBuilder,
};

const ENV: &str = "BERTH_SECCOMP_CHILD";

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn no_new_privs() {
    // SAFETY: plain prctl.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
        0
    );
}

/// Runs `scenario` in a child process; panics with its output unless it exits 0.
fn run_child(scenario: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--test-threads=1", "--nocapture"])
        .env(ENV, scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scenario {scenario} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child side: does the scenario's checks and exits (0 = all good).
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var(ENV) else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("berth-seccomp-{}", std::process::id()));
    let code = match scenario.as_str() {
        "deny-mkdir" => deny_mkdir(&tmp),
        "default-profile" => default_profile(&tmp),
        "args" => args_filter(),
        "unknown-enosys" => unknown_syscalls(false),
        "unknown-enosys-cached" => unknown_syscalls(true),
        other => {
            eprintln!("unknown scenario {other}");
            99
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    std::process::exit(code);
}

fn check(cond: bool, what: &str) -> i32 {
    if cond {
        0
    } else {
        eprintln!("check failed: {what}");
        1
    }
}

fn deny_mkdir(tmp: &std::path::Path) -> i32 {
    let spec = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![LinuxSyscallBuilder::default()
            .names(vec!["mkdir".to_string(), "mkdirat".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(libc::EPERM as u32)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let filter = seccomp::compile(&spec).unwrap();
    std::fs::write(tmp.with_extension("file"), b"x").unwrap();
    no_new_privs();
    filter.load().unwrap();
    let e = std::fs::create_dir(tmp).unwrap_err();
    let mut bad = check(e.raw_os_error() == Some(libc::EPERM), "mkdir gives EPERM");
    // Other syscalls still work.
    bad += check(
        std::fs::read(tmp.with_extension("file")).is_ok(),
        "read works",
    );
    bad += check(
        std::fs::remove_file(tmp.with_extension("file")).is_ok(),
        "unlink works",
    );
    bad += check(
        Command::new("/bin/true")
            .status()
            .is_ok_and(|s| s.success()),
        "exec /bin/true works",
    );
    bad
}

fn default_profile(tmp: &std::path::Path) -> i32 {
    let caps: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let filter = seccomp::compile(&seccomp::default_profile(&caps)).unwrap();
    no_new_privs();
    filter.load().unwrap();
    let mut bad = 0;
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        let r = libc::unshare(libc::CLONE_NEWNS);
        bad += check(r == -1 && errno() == libc::EPERM, "unshare is EPERM");
        let src = CString::new("none").unwrap();
        let dst = CString::new("/mnt").unwrap();
        let fstype = CString::new("tmpfs").unwrap();
        let r = libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        );
        bad += check(r == -1 && errno() == libc::EPERM, "mount is EPERM");
        let r = libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
        bad += check(r == -1 && errno() == libc::EPERM, "keyctl is EPERM");
        let r = libc::syscall(libc::SYS_setns, 0, 0);
        bad += check(r == -1 && errno() == libc::EPERM, "setns is EPERM");
        // clone with a namespace flag is refused, plain fork works (see below).
        let r = libc::syscall(
            libc::SYS_clone,
            libc::CLONE_NEWUSER | libc::SIGCHLD,
            0,
            0,
            0,
            0,
        );
        bad += check(
            r == -1 && errno() == libc::EPERM,
            "clone(CLONE_NEWUSER) is EPERM",
        );
        // personality: querying (0xffffffff) is allowed, a made-up domain is not.
        bad += check(
            libc::personality(0xffff_ffff) != -1,
            "personality query works",
        );
        bad += check(
            libc::personality(0x0400_0000) == -1,
            "personality(odd) refused",
        );
    }
    // Ordinary work: files, fork/exec.
    bad += check(std::fs::create_dir(tmp).is_ok(), "mkdir works");
    let f = tmp.join("f");
    bad += check(std::fs::write(&f, b"hello").is_ok(), "write works");
    bad += check(std::fs::read(&f).is_ok_and(|d| d == b"hello"), "read works");
    bad += check(
        Command::new("/bin/true")
            .status()
            .is_ok_and(|s| s.success()),
        "fork+exec /bin/true works",
    );
    bad += check(
        Command::new("/bin/sh")
            .args(["-c", "echo hi | cat > /dev/null"])
            .status()
            .is_ok_and(|s| s.success()),
        "a shell pipeline works",
    );
    bad
}

fn args_filter() -> i32 {
    // Deny personality(0x8) exactly, and socket(AF_UNIX, SOCK_DGRAM*) by masked compare on
    // the type argument (SOCK_CLOEXEC etc. masked away).
    let spec = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![
            LinuxSyscallBuilder::default()
                .names(vec!["personality".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(libc::EACCES as u32)
                .args(vec![LinuxSeccompArgBuilder::default()
                    .index(0usize)
                    .value(8u64)
                    .op(LinuxSeccompOperator::ScmpCmpEq)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
            LinuxSyscallBuilder::default()
                .names(vec!["socket".to_string(), "no_such_syscall".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(libc::EAFNOSUPPORT as u32)
                .args(vec![
                    LinuxSeccompArgBuilder::default()
                        .index(0usize)
                        .value(libc::AF_UNIX as u64)
                        .op(LinuxSeccompOperator::ScmpCmpEq)
                        .build()
                        .unwrap(),
                    LinuxSeccompArgBuilder::default()
                        .index(1usize)
                        .value(0xfu64)
                        .value_two(libc::SOCK_DGRAM as u64)
                        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
                        .build()
                        .unwrap(),
                ])
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    let filter = seccomp::compile(&spec).unwrap();
    let mut bad = check(
        filter.warnings().len() == 1 && filter.warnings()[0].contains("no_such_syscall"),
        "unknown syscall warned",
    );
    no_new_privs();
    filter.load().unwrap();
    // SAFETY: plain syscalls.
    unsafe {
        bad += check(
            libc::personality(8) == -1 && errno() == libc::EACCES,
            "personality(8) is EACCES",
        );
        bad += check(
            libc::personality(0xffff_ffff) != -1,
            "personality query works",
        );
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        bad += check(
            s == -1 && errno() == libc::EAFNOSUPPORT,
            "unix dgram refused",
        );
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        bad += check(s >= 0, "unix stream works");
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        bad += check(s >= 0, "inet dgram works");
    }
    bad
}

/// Docker's default profile, with its default errno changed to EACCES (so it is not only
/// docker's EPERM that gives way to ENOSYS), from `compile` or from the compiled-program cache.
fn unknown_syscalls(cached: bool) -> i32 {
    let caps: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut profile = seccomp::default_profile(&caps);
    profile.set_default_errno_ret(Some(libc::EACCES as u32));
    let filter = if cached {
        let dir = std::path::PathBuf::from(std::env::var("BERTH_SECCOMP_CACHE").unwrap());
        seccomp::compile_cached(&profile, &dir).unwrap()
    } else {
        seccomp::compile(&profile).unwrap()
    };
    no_new_privs();
    filter.load().unwrap();
    let mut bad = 0;
    // SAFETY: syscalls with no pointer arguments.
    unsafe {
        for nr in [1000, 0x3fff_ffff, -1] {
            let r = libc::syscall(nr);
            bad += check(
                r == -1 && errno() == libc::ENOSYS,
                &format!("syscall {nr} is ENOSYS, got {r} errno {}", errno()),
            );
        }
        let r = libc::unshare(libc::CLONE_NEWNS);
        bad += check(
            r == -1 && errno() == libc::EACCES,
            "unshare (known, denied) keeps the default errno",
        );
        let r = libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0);
        bad += check(
            r == -1 && errno() == libc::EACCES,
            "kexec_load (known, denied) keeps the default errno",
        );
        bad += check(libc::getpid() > 0, "getpid works");
    }
    bad += check(
        Command::new("/bin/true")
            .status()
            .is_ok_and(|s| s.success()),
        "fork+exec /bin/true works",
    );
    bad
}

#[test]
fn unknown_syscalls_get_enosys() {
    run_child("unknown-enosys");
    let dir = std::env::temp_dir().join(format!("berth-seccomp-enosys-{}", std::process::id()));
    // the first child compiles and fills the cache, the second loads the cached program
    for _ in 0..2 {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--test-threads=1", "--nocapture"])
            .env(ENV, "unknown-enosys-cached")
            .env("BERTH_SECCOMP_CACHE", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cached: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cached = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(cached, 1, "the program was cached");
}

#[test]
fn mkdir_denied_with_eperm() {
    run_child("deny-mkdir");
}

#[test]
fn default_profile_blocks_namespaces_mount_keyctl() {
    run_child("default-profile");
}

#[test]
fn argument_conditions() {
    run_child("args");
}
