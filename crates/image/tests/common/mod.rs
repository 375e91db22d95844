#![allow(dead_code)]
//! Helpers shared by the image crate's integration tests.

use image::spec::{OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST};
use image::{Digest, ImageStore, Reference};
use std::io::Write;

/// A tar builder for hand-made (possibly hostile) layers.
pub struct Tar(pub tar::Builder<Vec<u8>>);

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Self {
        Tar(tar::Builder::new(Vec::new()))
    }
    fn hdr(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
    /// Write a raw name into the header (bypassing the tar crate's checks).
    fn raw(&mut self, mut h: tar::Header, name: &str, data: &[u8]) {
        let n = name.as_bytes();
        h.as_old_mut().name[..n.len()].copy_from_slice(n);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
    }
    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        self.raw(
            Self::hdr(tar::EntryType::Regular, 0o644, data.len() as u64),
            name,
            data,
        );
        self
    }
    pub fn file_mode(mut self, name: &str, data: &[u8], mode: u32, uid: u64) -> Self {
        let mut h = Self::hdr(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(uid);
        self.raw(h, name, data);
        self
    }
    pub fn dir(mut self, name: &str) -> Self {
        self.raw(Self::hdr(tar::EntryType::Directory, 0o755, 0), name, &[]);
        self
    }
    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let mut h = Self::hdr(tar::EntryType::Symlink, 0o777, 0);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        self.raw(h, name, &[]);
        self
    }
    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let mut h = Self::hdr(tar::EntryType::Link, 0o644, 0);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        self.raw(h, name, &[]);
        self
    }
    pub fn chardev(mut self, name: &str, major: u32, minor: u32) -> Self {
        let mut h = Self::hdr(tar::EntryType::Char, 0o600, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.raw(h, name, &[]);
        self
    }
    pub fn xattr_file(mut self, name: &str, data: &[u8], key: &str, value: &[u8]) -> Self {
        let k = format!("SCHILY.xattr.{key}");
        self.0.append_pax_extensions([(k.as_str(), value)]).unwrap();
        self.raw(
            Self::hdr(tar::EntryType::Regular, 0o644, data.len() as u64),
            name,
            data,
        );
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// A busybox-static rootfs layer: /bin/busybox, /bin/sh and a few applets.
pub fn busybox_layer() -> Vec<u8> {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static at /bin/busybox");
    let mut t = Tar::new().dir("bin/").dir("etc/").dir("tmp/");
    t = t.file_mode("bin/busybox", &bb, 0o755, 0);
    for a in ["sh", "ls", "cat", "echo", "true"] {
        t = t.symlink(&format!("bin/{a}"), "busybox");
    }
    t.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        .finish()
}

/// Store layers (given uncompressed; gzip-compressed when `gz`) plus a config
/// and an OCI manifest, and register the image under `tag`.
pub fn make_image(store: &ImageStore, tag: &str, layers: &[Vec<u8>], gz: bool) -> image::Image {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(Digest::of(l).to_string());
        let blob = if gz { gzip(l) } else { l.clone() };
        let d = store.content.put(&blob, None).unwrap();
        descs.push(serde_json::json!({
            "mediaType": if gz { OCI_LAYER_GZIP } else { OCI_LAYER },
            "digest": d.to_string(), "size": blob.len()
        }));
    }
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created": "2024-01-02T03:04:05Z", "created_by": "test"})).collect::<Vec<_>>()
    });
    let cbytes = serde_json::to_vec(&config).unwrap();
    let cd = store.content.put(&cbytes, None).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd.to_string(), "size": cbytes.len()},
        "layers": descs
    });
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    store
        .add_image(&mbytes, &[Reference::parse(tag).unwrap()], None)
        .unwrap()
}

/// Disk usage in bytes (`du -sx --block-size=1`).
pub fn du(p: &std::path::Path) -> u64 {
    let out = std::process::Command::new("du")
        .args(["-sx", "--block-size=1"])
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}
