//! Layer application: formats, metadata, whiteouts, and hostile input.

mod common;

use common::Tar;
use image::layer::{apply_layer, ApplyOptions, WhiteoutMode};
use image::Error;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

fn apply(t: &[u8], dir: &Path) -> image::Result<image::layer::Applied> {
    apply_layer(t, dir, &ApplyOptions::default())
}

#[test]
fn tar_gzip_and_zstd_with_metadata() {
    let t = Tar::new()
        .dir("etc/")
        .file_mode("etc/secret", b"s3cret", 0o4750, 1234)
        .symlink("etc/link", "/etc/secret")
        .hardlink("etc/hard", "etc/secret")
        .xattr_file("etc/x", b"x", "user.test", b"value")
        .finish();
    for blob in [t.clone(), common::gzip(&t), common::zstd(&t)] {
        let dir = tempfile::tempdir().unwrap();
        let a = apply(&blob, dir.path()).unwrap();
        assert_eq!(a.diff_id, image::Digest::of(&t));
        let p = dir.path().join("etc/secret");
        let md = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o4750);
        assert_eq!(md.mtime(), 1_600_000_000);
        if common::is_root() {
            assert_eq!((md.uid(), md.gid()), (1234, 1234));
        }
        assert_eq!(
            std::fs::read_link(dir.path().join("etc/link")).unwrap(),
            Path::new("/etc/secret")
        );
        let hard = std::fs::metadata(dir.path().join("etc/hard")).unwrap();
        assert_eq!(hard.ino(), md.ino());
        let mut v = vec![0u8; 16];
        let c = std::ffi::CString::new(dir.path().join("etc/x").to_str().unwrap()).unwrap();
        let n =
            unsafe { libc::getxattr(c.as_ptr(), c"user.test".as_ptr(), v.as_mut_ptr().cast(), 16) };
        assert_eq!(&v[..n as usize], b"value");
    }
}

#[test]
fn whiteouts_and_opaque_dirs_when_flattening() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = Tar::new()
        .dir("a/")
        .file("a/keep", b"1")
        .file("a/gone", b"1")
        .dir("o/")
        .file("o/old", b"1")
        .finish();
    let l2 = Tar::new()
        .file("a/.wh.gone", b"")
        .dir("o/")
        .file("o/new", b"2")
        .file("o/.wh..wh..opq", b"")
        .finish();
    apply(&l1, dir.path()).unwrap();
    apply(&l2, dir.path()).unwrap();
    assert!(dir.path().join("a/keep").exists());
    assert!(!dir.path().join("a/gone").exists());
    assert!(!dir.path().join("o/old").exists());
    assert_eq!(std::fs::read(dir.path().join("o/new")).unwrap(), b"2");
}

#[test]
fn overlay_form_whiteouts() {
    if !common::is_root() {
        eprintln!("skipped: overlay whiteouts need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = Tar::new()
        .dir("o/")
        .file("o/.wh..wh..opq", b"")
        .file(".wh.gone", b"")
        .finish();
    let opts = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay,
        ..Default::default()
    };
    apply_layer(&l[..], dir.path(), &opts).unwrap();
    let md = std::fs::symlink_metadata(dir.path().join("gone")).unwrap();
    assert!(md.file_type().is_char_device());
    assert_eq!(md.rdev(), 0);
    let c = std::ffi::CString::new(dir.path().join("o").to_str().unwrap()).unwrap();
    let mut v = [0u8; 4];
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            v.as_mut_ptr().cast(),
            4,
        )
    };
    assert_eq!(&v[..n as usize], b"y");
}

/// Run a hostile layer against a target inside a sandbox dir that also holds
/// a "host" file; the host file must be untouched and the error clear.
fn hostile(layer: Vec<u8>, opts: ApplyOptions, expect: &str) {
    let sandbox = tempfile::tempdir().unwrap();
    let host = sandbox.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("passwd"), b"host data").unwrap();
    let target = sandbox.path().join("a/b/target");
    std::fs::create_dir_all(&target).unwrap();
    let layer = layer.into_iter().collect::<Vec<u8>>();
    let err = apply_layer(&layer[..], &target, &opts).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(expect),
        "error {msg:?} does not mention {expect:?}"
    );
    assert!(matches!(err, Error::UnsafePath { .. }), "{err:?}");
    assert_eq!(std::fs::read(host.join("passwd")).unwrap(), b"host data");
    let hostlist: Vec<_> = std::fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        hostlist.len(),
        1,
        "files appeared on the host: {hostlist:?}"
    );
    let top: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top.len(), 2, "files appeared outside the target: {top:?}");
}

#[test]
fn hostile_dotdot() {
    let host_rel = "../../../host/passwd";
    hostile(
        Tar::new().file(host_rel, b"pwned").finish(),
        ApplyOptions::default(),
        "'..' would leave the layer root",
    );
    hostile(
        Tar::new().file("../../etc/x", b"pwned").finish(),
        ApplyOptions::default(),
        "'..'",
    );
}

#[test]
fn hostile_symlink_then_write_through_it() {
    // absolute symlink to the host dir, then a file below it
    let sandbox_host = tempfile::tempdir().unwrap();
    let abs = sandbox_host.path().to_str().unwrap().to_string();
    hostile(
        Tar::new()
            .symlink("evil", &abs)
            .file("evil/passwd", b"pwned")
            .finish(),
        ApplyOptions::default(),
        "is a symlink; refusing to resolve through it",
    );
    assert_eq!(std::fs::read_dir(sandbox_host.path()).unwrap().count(), 0);
    // relative symlink climbing out
    hostile(
        Tar::new()
            .symlink("up", "../../../host")
            .file("up/passwd", b"pwned")
            .finish(),
        ApplyOptions::default(),
        "is a symlink",
    );
    // symlink to a dir, then a directory entry and a hardlink through it
    hostile(
        Tar::new().symlink("d", "/").dir("d/etc/").finish(),
        ApplyOptions::default(),
        "is a symlink",
    );
}

#[test]
fn hostile_hardlink_to_host_file() {
    hostile(
        Tar::new().hardlink("stolen", "/etc/passwd").finish(),
        ApplyOptions::default(),
        "is not inside this layer",
    );
    hostile(
        Tar::new()
            .hardlink("stolen", "../../../host/passwd")
            .finish(),
        ApplyOptions::default(),
        "'..'",
    );
    hostile(
        Tar::new()
            .symlink("h", "/etc")
            .hardlink("stolen", "h/passwd")
            .finish(),
        ApplyOptions::default(),
        "is a symlink",
    );
}

#[test]
fn hostile_device_node_refused_unless_allowed() {
    let opts = ApplyOptions {
        allow_devices: false,
        ..Default::default()
    };
    hostile(
        Tar::new().chardev("dev/sda", 8, 0).finish(),
        opts,
        "device nodes are only created when running as root",
    );
    if common::is_root() {
        // as root (allowed), the node is created inside the target only
        let dir = tempfile::tempdir().unwrap();
        apply(&Tar::new().chardev("dev/null", 1, 3).finish(), dir.path()).unwrap();
        let md = std::fs::symlink_metadata(dir.path().join("dev/null")).unwrap();
        assert!(md.file_type().is_char_device());
    }
}

#[test]
fn layer_with_wrong_digest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = image::ImageStore::open(dir.path()).unwrap();
    let layer = common::busybox_layer();
    let wrong = image::Digest::of(b"something else");
    let err = s.snapshots.unpack_layer(&layer[..], &wrong).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!s.snapshots.has_layer(&wrong));
    assert_eq!(
        std::fs::read_dir(dir.path().join("snapshots/tmp"))
            .unwrap()
            .count(),
        0
    );
    // and a blob with the wrong digest never enters the content store
    let err = s.content.put(&layer, Some(&wrong)).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}
