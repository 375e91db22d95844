//! Overlay snapshots of images with more layers than one mount(2) option page holds.

mod common;

use common::Tar;
use image::snapshot::{self, SnapshotKind};
use image::ImageStore;
use std::path::Path;

const LAYERS: usize = 120;

struct Cleanup<'a>(&'a ImageStore, Vec<String>);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for id in &self.1 {
            let _ = self.0.remove_snapshot(id);
        }
    }
}

/// 120 layers, each adding `/layerN`; the first also has `/keep` and `/gone`, the last
/// rewrites `/keep` and whites out `/gone`.
fn many_layer_image(s: &ImageStore) -> image::Image {
    let layers: Vec<Vec<u8>> = (0..LAYERS)
        .map(|i| {
            let mut t = Tar::new().file(&format!("layer{i}"), format!("{i}\n").as_bytes());
            if i == 0 {
                t = t.file("keep", b"old\n").file("gone", b"gone\n");
            }
            if i == LAYERS - 1 {
                t = t.file("keep", b"new\n").file(".wh.gone", b"");
            }
            t.finish()
        })
        .collect();
    common::make_image(s, "many", &layers, false)
}

fn check_merged(root: &Path) {
    for i in 0..LAYERS {
        assert_eq!(
            std::fs::read_to_string(root.join(format!("layer{i}"))).unwrap(),
            format!("{i}\n"),
            "layer{i}"
        );
    }
    assert_eq!(std::fs::read(root.join("keep")).unwrap(), b"new\n");
    assert!(!root.join("gone").exists(), "whited-out file visible");
}

/// The mountinfo lines whose mount point is under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m.starts_with(dir.as_str()))
        })
        .map(str::to_string)
        .collect()
}

/// Whether the kernel takes overlay lower dirs one by one (`lowerdir+`, Linux 6.8).
fn kernel_has_lowerdir_plus() -> bool {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = r
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (6, 8)
}

fn lower_dirs_len(s: &ImageStore, img: &image::Image) -> usize {
    img.info
        .diff_ids
        .iter()
        .map(|d| s.snapshots.layer_dir(d).as_os_str().len() + 1)
        .sum()
}

#[test]
fn overlay_of_120_layers_mounts_both_ways() {
    if !common::is_root() {
        eprintln!("skipped: overlay mounts need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let s = ImageStore::open(&base).unwrap();
    let img = many_layer_image(&s);
    assert_eq!(img.info.diff_ids.len(), LAYERS);
    // the plain lowerdir= list alone is far over a page
    assert!(lower_dirs_len(&s, &img) > 4096);

    let mut guard = Cleanup(&s, Vec::new());
    let (root, kind) = s.create_snapshot("many", "many").unwrap();
    guard.1.push("many".into());
    assert_eq!(kind, SnapshotKind::Overlay);
    assert!(snapshot::is_mountpoint(&root));
    check_merged(&root);
    if kernel_has_lowerdir_plus() {
        // mounted by the new mount API, with the full layer paths
        let lines = mounts_under(&base);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].contains("/proc/self/fd/"), "{}", lines[0]);
    }

    // writes land in the upper dir only
    std::fs::write(root.join("written"), b"hello\n").unwrap();
    let upper = s.snapshots.upper_dir("many");
    assert_eq!(std::fs::read(upper.join("written")).unwrap(), b"hello\n");
    for d in &img.info.diff_ids {
        assert!(!s.snapshots.layer_dir(d).join("written").exists());
    }

    // the same snapshot through mount(2) only, as on kernels before 6.8
    snapshot::unmount(&root).unwrap();
    assert!(!snapshot::is_mountpoint(&root));
    s.snapshots
        .mount_overlay_legacy("many", &img.info.diff_ids)
        .unwrap();
    assert!(snapshot::is_mountpoint(&root));
    let lines = mounts_under(&base);
    assert!(lines[0].contains("lowerdir=/proc/self/fd/"), "{}", lines[0]);
    check_merged(&root);
    assert_eq!(std::fs::read(root.join("written")).unwrap(), b"hello\n");
    // the ordinary remount path sees it mounted and leaves it be
    s.snapshots
        .mount_overlay("many", &img.info.diff_ids)
        .unwrap();
    assert_eq!(mounts_under(&base).len(), 1, "{:?}", mounts_under(&base));

    s.remove_snapshot("many").unwrap();
    guard.1.clear();
    assert!(!root.exists());
    assert!(mounts_under(&base).is_empty(), "{:?}", mounts_under(&base));
}

#[test]
fn volatile_overlay_of_120_layers() {
    if !common::is_root() {
        eprintln!("skipped: overlay mounts need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let s = ImageStore::open(&base).unwrap();
    let img = many_layer_image(&s);
    let mut guard = Cleanup(&s, Vec::new());
    let (root, kind) = s.create_snapshot_opts("v", "many", true).unwrap();
    guard.1.push("v".into());
    assert_eq!(kind, SnapshotKind::Overlay);
    check_merged(&root);
    let lines = mounts_under(&base);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("volatile"), "{}", lines[0]);

    // and through mount(2), volatile too; overlayfs refuses to mount a volatile upper
    // again while its work dir has `work/incompat/volatile` (what a crash leaves behind)
    snapshot::unmount(&root).unwrap();
    let upper = s.snapshots.upper_dir("v");
    let work = upper.with_extension("work");
    std::fs::remove_dir_all(work.join("work/incompat/volatile")).unwrap();
    s.snapshots
        .mount_overlay_legacy("v", &img.info.diff_ids)
        .unwrap();
    check_merged(&root);
    let lines = mounts_under(&base);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("volatile"), "{}", lines[0]);

    s.remove_snapshot("v").unwrap();
    guard.1.clear();
    assert!(mounts_under(&base).is_empty(), "{:?}", mounts_under(&base));
}
