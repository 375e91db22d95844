//! Overlay snapshots: sharing, copy-on-write isolation, diff, copy fallback.

mod common;

use image::ImageStore;
use std::io::Read;

struct Cleanup<'a>(&'a ImageStore, Vec<String>);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for id in &self.1 {
            let _ = self.0.remove_snapshot(id);
        }
    }
}

fn need_root() -> bool {
    if !common::is_root() {
        eprintln!("skipped: overlay mounts need root");
        return false;
    }
    true
}

#[test]
fn fifty_snapshots_share_layers_and_cost_little() {
    if !need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    common::make_image(&s, "busybox", &[common::busybox_layer()], true);
    let mut guard = Cleanup(&s, Vec::new());
    // warm up: the first snapshot creates the "active" dir entries
    s.index.checkpoint().unwrap();
    let before = common::du(dir.path());
    for i in 0..50 {
        let id = format!("c{i}");
        let (root, kind) = s.create_snapshot(&id, "busybox").unwrap();
        assert_eq!(kind, image::snapshot::SnapshotKind::Overlay);
        guard.1.push(id);
        assert!(root.join("bin/busybox").exists());
    }
    s.index.checkpoint().unwrap();
    let after = common::du(dir.path());
    let per = (after - before) / 50;
    eprintln!(
        "50 snapshots: {} bytes in all, {per} bytes each",
        after - before
    );
    assert!(per <= 16 * 1024, "each snapshot costs {per} bytes");
}

#[test]
fn writes_are_copy_on_write_and_diff_has_whiteouts() {
    if !need_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let img = common::make_image(&s, "busybox", &[common::busybox_layer()], false);
    let mut guard = Cleanup(&s, Vec::new());
    let (a, _) = s.create_snapshot("a", "busybox").unwrap();
    guard.1.push("a".into());
    let (b, _) = s.create_snapshot("b", "busybox").unwrap();
    guard.1.push("b".into());
    std::fs::write(a.join("etc/passwd"), b"changed\n").unwrap();
    std::fs::write(a.join("new"), b"new\n").unwrap();
    std::fs::remove_file(a.join("bin/ls")).unwrap();
    assert_eq!(
        std::fs::read(b.join("etc/passwd")).unwrap(),
        b"root:x:0:0:root:/root:/bin/sh\n"
    );
    assert!(b.join("bin/ls").exists() && !b.join("new").exists());
    let layer_dir = s.snapshots.layer_dir(&img.info.diff_ids[0]);
    assert_eq!(
        std::fs::read(layer_dir.join("etc/passwd")).unwrap(),
        b"root:x:0:0:root:/root:/bin/sh\n"
    );
    // only the changed file was copied up
    let upper = s.snapshots.upper_dir("a");
    let mut n = 0;
    for e in walk(&upper) {
        n += 1;
        assert!(!e.ends_with("busybox"), "busybox copied up");
    }
    assert!(n <= 5, "{n} entries in upper");

    let tar = s.diff_snapshot("a", Vec::new()).unwrap();
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&tar[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == "etc/passwd" {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            assert_eq!(s, "changed\n");
        }
        names.push(p);
    }
    names.sort();
    assert_eq!(
        names,
        vec!["bin/", "bin/.wh.ls", "etc/", "etc/passwd", "new"]
    );
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            v.extend(walk(&p));
        }
        v.push(p);
    }
    v
}

#[test]
fn copying_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let l2 = common::Tar::new()
        .file("bin/.wh.ls", b"")
        .file("hello", b"hi")
        .finish();
    common::make_image(&s, "img", &[common::busybox_layer(), l2], true);
    s.use_overlay(false);
    let (root, kind) = s.create_snapshot("copy1", "img").unwrap();
    let _g = Cleanup(&s, vec!["copy1".into()]);
    assert_eq!(kind, image::snapshot::SnapshotKind::Copy);
    assert!(root.join("bin/busybox").exists());
    assert!(!root.join("bin/ls").exists());
    assert_eq!(std::fs::read(root.join("hello")).unwrap(), b"hi");
}
