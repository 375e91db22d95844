//! `snapshot::is_mountpoint` against the mount table: it asks statx rather than reading
//! mountinfo (whose size grows with every container), and must answer as mountinfo does.

use image::snapshot::is_mountpoint;
use std::path::{Path, PathBuf};

/// The mount points of this process, from /proc/self/mountinfo (field 5, octal escapes as
/// the kernel writes them for a space).
fn mount_points() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .collect()
}

#[test]
fn is_mountpoint_answers_as_the_mount_table() {
    let table = mount_points();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link-to-proc");
    std::os::unix::fs::symlink("/proc", &link).unwrap();
    for (p, want) in [
        (Path::new("/"), true),
        (Path::new("/proc"), true),
        (Path::new("/proc/self"), false),
        (dir.path(), table.iter().any(|m| m == dir.path())),
        (&dir.path().join("missing"), false),
        (&dir.path().join("missing/below"), false),
        // a symlink is followed, as canonicalize did
        (&link, true),
    ] {
        assert_eq!(is_mountpoint(p), want, "{}", p.display());
    }
    // every mount point of the table is one (those this process can reach)
    for m in table.iter().filter(|m| m.is_dir()) {
        if let Ok(canon) = m.canonicalize() {
            // (another test of this binary may have unmounted it since the table was read)
            if &canon == m && !is_mountpoint(m) {
                assert!(!mount_points().contains(m), "{}", m.display());
            }
        }
    }
}

#[test]
fn a_bind_mount_is_a_mountpoint_until_unmounted() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to mount");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    assert!(!is_mountpoint(&dst));
    nix::mount::mount(
        Some(&src),
        &dst,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let mounted = is_mountpoint(&dst);
    image::snapshot::unmount(&dst).unwrap();
    assert!(mounted);
    assert!(!is_mountpoint(&dst));
}
