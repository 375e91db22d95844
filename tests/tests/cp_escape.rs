//! `cp` against a container that fights back (CVE-2018-15664 class): the container swaps a
//! directory with a symlink out of its root (`renameat2(RENAME_EXCHANGE)` in a tight loop)
//! while the host copies into and out of that directory a few hundred times. Every copy must
//! stay inside the container: nothing may be written on the host, no host file may come out.
//! The same for `export` of the whole rootfs while the container swaps.
//!
//! `BERTH_TEST_ENGINE=docker` runs the same test against dockerd (which pauses the container
//! for the copy). Needs root and a C compiler (the swapper is a static C program, built here:
//! busybox has no renameat2).

use std::path::{Path, PathBuf};

use berth_e2e::engine::Engine;
use berth_e2e::{cprog, engine};

/// Copies in each direction.
const TRIES: usize = 120;

/// Exports of the whole rootfs.
const EXPORTS: usize = 20;

const SWAPPER: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
/* swap A and B for ever */
int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    for (;;)
        syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
}
"#;

/// The swapper, compiled static (it runs on the busybox image).
fn build_swapper() -> PathBuf {
    cprog::static_c("swap", SWAPPER)
}

/// Removes a host path when dropped (a file an escaped copy would have left).
struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A container swapping its real directory /w/dir (holding `files`, each saying `inside`) with
/// /w/link -> `target` in a loop.
fn run_swapping(e: &Engine, short: &str, swap: &Path, target: &str, files: &str) -> String {
    let c = e.name(short);
    let script = format!(
        "mkdir -p /w/dir && for f in {files}; do echo inside > /w/dir/$f; done && \
         ln -s {target} /w/link && exec /swap /w/dir /w/link"
    );
    let img = e.img().to_string();
    let vol = format!("{}:/swap:ro", swap.display());
    e.ok(&[
        "run", "-d", "--name", &c, "-v", &vol, &img, "sh", "-c", &script,
    ]);
    // the loop is running once the link shows up where the directory was, or the reverse
    let mut seen_swapped = false;
    for _ in 0..100 {
        let o = e.cmd(&["exec", &c, "sh", "-c", "test -L /w/dir && echo swapped"]);
        if o.stdout.contains("swapped") {
            seen_swapped = true;
            break;
        }
    }
    assert!(seen_swapped, "the swap loop did not start in {c}");
    c
}

#[test]
fn cp_into_a_swapping_container_never_writes_on_the_host() {
    let e = engine!();
    let swap = build_swapper();
    // a name only this test uses: an escaped copy would make it in the host's /
    let name = format!("berth-cp-escape-{}", e.name("in"));
    let escaped = RemoveOnDrop(Path::new("/").join(&name));
    let src = e.path().join(&name);
    std::fs::write(&src, "payload\n").unwrap();
    let c = run_swapping(&e, "in", &swap, "/", "x");
    let dest = format!("{c}:/w/dir/");
    let src = src.to_str().unwrap();
    let mut copied = 0;
    for i in 1..=TRIES {
        if e.cmd(&["cp", src, &dest]).code == 0 {
            copied += 1;
        }
        assert!(
            !escaped.0.exists(),
            "try {i}: `cp {src} {dest}` wrote {} on the host",
            escaped.0.display()
        );
    }
    eprintln!("{copied} of {TRIES} copies into the swapping container went through");
    assert!(copied > 0, "no copy into the container went through at all");
}

#[test]
fn cp_out_of_a_swapping_container_never_reads_the_host() {
    let e = engine!();
    let swap = build_swapper();
    // the link leads to a host directory (absent in the container) holding a host-only file
    let host_dir = e.path().join("host-only");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("secret"), "HOST SECRET\n").unwrap();
    let c = run_swapping(&e, "out", &swap, host_dir.to_str().unwrap(), "secret");
    let out = e.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut copied = 0;
    for i in 1..=TRIES {
        let dest = out.join(format!("secret-{i}"));
        let o = e.cmd(&["cp", &format!("{c}:/w/dir/secret"), dest.to_str().unwrap()]);
        // a copy that lost the race may fail (dockerd then leaves an empty file), or
        // (dockerd) succeed with nothing to copy; but no host byte may ever come out, and a
        // copy that went through is the container's file (not its content at the host
        // file's size)
        let Ok(got) = std::fs::read(&dest) else {
            continue;
        };
        let got = String::from_utf8_lossy(&got);
        assert!(!got.contains("HOST"), "try {i}: `cp` brought out {got:?}");
        if o.code != 0 {
            continue;
        }
        copied += 1;
        assert_eq!(
            got, "inside\n",
            "try {i}: `cp` (exit {}) brought out {got:?}",
            o.code
        );
    }
    eprintln!("{copied} of {TRIES} copies out of the swapping container went through");
    assert!(
        copied > 0,
        "no copy out of the container went through at all"
    );
}

#[test]
fn export_of_a_swapping_container_never_reads_the_host() {
    let e = engine!();
    let swap = build_swapper();
    // the same names on both sides: each file is a chance for a walk that goes by path to
    // read the host's
    let host_dir = e.path().join("host-only");
    std::fs::create_dir(&host_dir).unwrap();
    let names: Vec<String> = (0..100).map(|i| format!("secret{i}")).collect();
    for n in &names {
        std::fs::write(host_dir.join(n), "HOST SECRET\n").unwrap();
    }
    let c = run_swapping(
        &e,
        "export",
        &swap,
        host_dir.to_str().unwrap(),
        &names.join(" "),
    );
    let out = e.path().join("export.tar");
    for i in 1..=EXPORTS {
        let o = e.cmd(&["export", "-o", out.to_str().unwrap(), &c]);
        let tar = std::fs::read(&out).unwrap_or_default();
        assert!(
            !tar.windows(11).any(|w| w == b"HOST SECRET"),
            "try {i}: `export` (exit {}) archived the host's file",
            o.code
        );
    }
}
