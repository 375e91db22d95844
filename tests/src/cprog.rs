//! Tiny static C programs compiled at test time (`gcc -static`, from Debian's build-essential),
//! for what busybox cannot do: raw syscalls by number, ioctls, ...  Each is built once per test
//! process into a temp dir and copied where a test needs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Compiles `source` (C) into a static executable named `name` and returns its path. The
/// programs live in `<target>/debug/cprog/`, named by a hash of their source, so every test
/// process reuses one build and nothing is left in /tmp. Panics with gcc's output when it does
/// not build.
pub fn static_c(name: &str, source: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut h);
    let dir = crate::engine::berth_bin()
        .parent()
        .expect("the berth binary has a directory")
        .join("cprog");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(format!("{name}-{:016x}", h.finish()));
    if exe.exists() {
        return exe;
    }
    // Built under a name of this process's own, then renamed: test processes run in parallel.
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let src = tmp.with_extension("c");
    std::fs::write(&src, source).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .expect("run gcc (is build-essential installed?)");
    let _ = std::fs::remove_file(&src);
    assert!(
        out.status.success(),
        "gcc {name}.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &exe).unwrap();
    exe
}

/// Copies a program from [`static_c`] into `dir` (e.g. a bundle's rootfs `bin/`) under the
/// name it was built with, mode 0755.
pub fn install(exe: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = exe.file_name().unwrap().to_string_lossy();
    let name = file.rsplit_once('-').map_or(&*file, |(n, _)| n);
    let dest = dir.join(name);
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
    /* (allowed, a NULL params pointer would fail with EFAULT) */
    int uring = try(SYS_io_uring_setup, 1);
    printf("nr1000=%d unshare=%d io_uring_setup=%d\n", unknown, uns, uring);
    return 0;
}
"#;
