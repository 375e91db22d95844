//! The host stays protected from what runs in a container:
//! - CVE-2019-5736: a process that entered the container must not be able to open the runtime's
//!   binary for writing through /proc/<pid>/exe (the runtime runs from a private read-only
//!   overlayfs view of it, or a sealed in-memory copy), nor make that view writable;
//! - CVE-2024-21626: no file descriptor the runtime (or its caller) holds reaches the container
//!   unless it was passed on purpose (stdio, --preserve-fds).
//!
//! Runtime under test: `BERTH_TEST_RUNTIME` (unset → berth-runtime, `runc` → runc).

use berth_e2e::test_env;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

#[test]
fn runtime_binary_is_not_writable_from_the_container() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh("true");
    let id = env.id("seal");
    env.create(&id, &b).ok();
    // The created container's init is still runtime code, waiting for `start`: exactly the
    // process a container would attack through /proc/<pid>/exe.
    let pid = env.pid(&id);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let host_bin = std::fs::canonicalize(&env.rt.bin).unwrap();
    let before = std::fs::read(&host_bin).unwrap();
    assert_ne!(
        exe, host_bin,
        "the container's init runs the host binary itself"
    );
    if env.rt.is_berth() {
        // runc shows its init's exe from inside the container's mount namespace ("/"), so the
        // view check is berth's; the write checks below hold for both.
        let st = nix::sys::statfs::statfs(format!("/proc/{pid}/exe").as_str()).unwrap();
        let overlay = st.filesystem_type().0 as i64 == 0x794c_7630;
        assert!(
            exe.to_string_lossy().starts_with("/memfd:") || overlay,
            "init runs from {exe:?}, neither a sealed memfd copy nor an overlayfs view"
        );
    }
    let try_write = || match std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/exe"))
    {
        Err(_) => {}
        Ok(mut f) => assert!(
            f.write_all(b"\x7fELF-overwritten").is_err(),
            "the runtime copy was writable"
        ),
    };
    try_write();
    // what a process does to a read-only bind mount of the binary to write through it (root
    // of a user namespace of its own may): clear the mount's read-only flag, then write
    let o = std::fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    let attr = [0u64, libc::MOUNT_ATTR_RDONLY, 0, 0];
    // SAFETY: mount_setattr with a valid empty path and a mount_attr of the size passed.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            o.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    try_write();
    env.start(&id).ok();
    assert_eq!(
        std::fs::read(&host_bin).unwrap(),
        before,
        "the host binary changed"
    );
}

/// The container process lists its own fds: stdio, then the directory `ls` itself opens
/// (the lowest free number). Anything else was leaked.
fn list_fds(b: &mut berth_e2e::Bundle) {
    b.args(&["ls", "/proc/self/fd"]);
}

fn joined(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn only_stdio_reaches_the_container() {
    let env = test_env!();
    let mut b = env.bundle("b");
    list_fds(&mut b);
    b.write();
    let out = env.run(&env.id("fds"), &b);
    out.ok();
    assert_eq!(joined(out.out().as_bytes()), "0 1 2 3", "{out:?}");
}

#[test]
fn inherited_host_fds_are_closed_unless_preserved() {
    let env = test_env!();
    let mut b = env.bundle("b");
    list_fds(&mut b);
    b.write();
    // The caller leaks a host directory on fd 3 and fd 4 (not close-on-exec), like an engine
    // that forgot O_CLOEXEC.
    let leak = std::fs::File::open("/etc").unwrap();
    let run = |id: &str, extra: &[&str]| {
        let mut cmd = Command::new(&env.rt.bin);
        cmd.arg("--root")
            .arg(&env.root)
            .arg("run")
            .args(extra)
            .arg("--bundle")
            .arg(&b.dir)
            .arg(id);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let fd = leak.as_raw_fd();
        // SAFETY: only dup2 between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto the same number keeps FD_CLOEXEC: clear it explicitly.
                for target in [3, 4] {
                    if (fd != target && libc::dup2(fd, target) < 0)
                        || libc::fcntl(target, libc::F_SETFD, 0) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        env.track(id);
        cmd.output().unwrap()
    };
    let out = run(&env.id("leak"), &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(joined(&out.stdout), "0 1 2 3", "{out:?}");
    // --preserve-fds 1 passes fd 3 on purpose, and only fd 3.
    let out = run(&env.id("keep"), &["--preserve-fds", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(joined(&out.stdout), "0 1 2 3 4", "{out:?}");
}
