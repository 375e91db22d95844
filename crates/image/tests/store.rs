//! Content store and image index.

mod common;

use image::{Digest, Error, ImageStore};
use std::io::Write;

#[test]
fn blob_digest_is_verified_and_nothing_is_kept_on_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let good = Digest::of(b"hello");
    assert_eq!(s.content.put(b"hello", Some(&good)).unwrap(), good);
    assert_eq!(s.content.read(&good).unwrap(), b"hello");

    let wrong = Digest::of(b"other");
    let err = s.content.put(b"hello!", Some(&wrong)).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    let mut w = s.content.writer(Some(wrong.clone()), None).unwrap();
    w.write_all(b"not it").unwrap();
    assert!(w.commit().is_err());
    assert!(!s.content.has(&wrong));
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "temp files left behind"
    );
    assert_eq!(s.content.list().unwrap(), vec![good]);
}

#[test]
fn concurrent_writes_of_one_blob_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::of(&data);
    std::thread::scope(|sc| {
        for _ in 0..8 {
            sc.spawn(|| {
                let mut w = s
                    .content
                    .writer(Some(d.clone()), Some(data.len() as u64))
                    .unwrap();
                for c in data.chunks(65536) {
                    w.write_all(c).unwrap();
                }
                assert_eq!(w.commit().unwrap(), d);
            });
        }
    });
    assert_eq!(s.content.read(&d).unwrap(), data);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn index_tags_resolve_and_rmi() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let img = common::make_image(&s, "busybox", &[common::busybox_layer()], true);
    let id = img.id().clone();
    assert_eq!(s.resolve("busybox").unwrap().config, id);
    assert_eq!(
        s.resolve("docker.io/library/busybox:latest")
            .unwrap()
            .config,
        id
    );
    assert_eq!(s.resolve(&id.hex()[..12]).unwrap().config, id);
    assert_eq!(s.resolve(id.as_str()).unwrap().config, id);
    assert!(matches!(
        s.resolve("nope").unwrap_err(),
        Error::ImageNotFound(_)
    ));
    s.tag("busybox", "localhost:5000/me/bb:v1").unwrap();
    assert_eq!(s.resolve("localhost:5000/me/bb:v1").unwrap().config, id);
    // removing one of two tags only untags
    let r = s.remove("busybox", false).unwrap();
    assert_eq!(r.untagged, vec!["busybox:latest"]);
    assert!(r.deleted.is_empty());
    // a snapshot using it blocks rmi without force
    s.create_snapshot("c1", "localhost:5000/me/bb:v1").unwrap();
    let e = s.remove("localhost:5000/me/bb:v1", false).unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
    let r = s.remove("localhost:5000/me/bb:v1", true).unwrap();
    assert_eq!(r.deleted, vec![id]);
    assert!(s.content.list().unwrap().is_empty(), "blobs left after rmi");
    assert!(
        s.snapshots.layer_dirs().unwrap().is_empty(),
        "layers left after rmi"
    );
    assert!(s.index.snapshots().unwrap().is_empty());
}

#[test]
fn prune_removes_dangling_images_and_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let a = common::make_image(&s, "app:1", &[common::busybox_layer()], false);
    let extra = common::Tar::new().file("x", b"x").finish();
    // retagging app:1 to a new image leaves the old one dangling
    let b = common::make_image(&s, "app:1", &[common::busybox_layer(), extra], false);
    assert_eq!(s.index.images().unwrap().len(), 2);
    let stray = s.content.put(b"stray blob", None).unwrap();
    let r = s.prune(false).unwrap();
    assert_eq!(r.deleted, vec![a.id().clone()]);
    assert!(!s.content.has(&stray));
    assert!(
        s.content.has(&b.manifest.layers[0].digest),
        "shared layer removed"
    );
    assert_eq!(s.resolve("app:1").unwrap().config, *b.id());
    let r = s.prune(true).unwrap();
    assert_eq!(r.deleted.len(), 1);
    assert!(s.content.list().unwrap().is_empty());
}
