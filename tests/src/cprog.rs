//! Tiny static C programs compiled at test time (`gcc -static`, from Debian's build-essential),
//! for what busybox cannot do: raw syscalls by number, ioctls, ...  Each is built once per test
//! process into a temp dir and copied where a test needs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Compiles `source` (C) into a static executable named `name`, once per test process, and
/// returns its path. Panics with gcc's output when it does not build.
pub fn static_c(name: &str, source: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("berth-cprog")
            .tempdir()
            .unwrap()
    });
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exe = dir.path().join(name);
    if exe.exists() {
        return exe;
    }
    let src = dir.path().join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("run gcc (is build-essential installed?)");
    assert!(
        out.status.success(),
        "gcc {name}.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Copies a program from [`static_c`] into `dir` (e.g. a bundle's rootfs `bin/`), mode 0755.
pub fn install(exe: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dest = dir.join(exe.file_name().unwrap());
    std::fs::copy(exe, &dest).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    dest
}

/// Prints `nr1000=<errno> unshare=<errno>`: the errno of a syscall numbered above any the
/// kernel or a profile knows (0 if it succeeded), and of unshare(CLONE_NEWUTS).
pub const SYSCALL_ERRNO_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
static int try(long nr, long a) { errno = 0; return syscall(nr, a, 0, 0, 0, 0, 0) == -1 ? errno : 0; }
int main(void) {
    int unknown = try(1000, 0);
    int uns = try(SYS_unshare, CLONE_NEWUTS);
    printf("nr1000=%d unshare=%d\n", unknown, uns);
    return 0;
}
"#;
