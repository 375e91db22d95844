//! Layer tarball unpacking (`image::layer::apply_layer`) into a temporary directory.
//!
//! Input: byte 0 picks the whiteout mode (bit 0) and how the rest is read (bit 1): as the
//! layer itself (tar, tar+gzip or tar+zstd, as pulled), or as a compact list of entries
//! that is turned into a tar with valid checksums, so that the fuzzer reaches the unpacker's
//! logic instead of tar's checksum check. Each compact entry is
//! `[type][name len][name][link len][link][mode byte][data len][data]`; names and links
//! are raw bytes (`..`, absolute paths, anything).
//!
//! Invariants, checked after every input: no panic; nothing changed outside the target
//! directory: its sibling `outside/` (a file, a directory and a symlink, which escapes
//! through `../outside` would hit) is exactly as before, and the parent directory holds
//! nothing new. Device nodes are not allowed (the fuzzer runs as root: a device node in
//! /tmp pointing at a disk is not something to leave to chance).
#![no_main]

use image::layer::{apply_layer, ApplyOptions, WhiteoutMode};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Sandbox {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

fn sandbox() -> &'static Sandbox {
    static S: OnceLock<Sandbox> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("berth-fuzz-layer.")
            .tempdir()
            .expect("temp dir");
        let base = dir.path().to_path_buf();
        let outside = base.join("outside");
        fs::create_dir_all(outside.join("dir")).unwrap();
        fs::write(outside.join("file"), b"outside\n").unwrap();
        fs::write(outside.join("dir/file"), b"outside too\n").unwrap();
        std::os::unix::fs::symlink("file", outside.join("link")).unwrap();
        let root = base.join("root");
        fs::create_dir(&root).unwrap();
        let before = snapshot(&base, &root);
        Sandbox {
            _dir: dir,
            base,
            root,
            before,
        }
    })
}

/// Everything below `base` except the inside of `root`: path -> type, mode, owner, links,
/// times and content.
fn snapshot(base: &Path, root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(p: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let m = fs::symlink_metadata(p).unwrap();
        let content = if m.is_file() {
            format!("{:?}", fs::read(p).unwrap())
        } else if m.file_type().is_symlink() {
            format!("{:?}", fs::read_link(p).unwrap())
        } else {
            String::new()
        };
        let desc = format!(
            "{:o} {}:{} n{} m{}.{} {content}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.nlink(),
            m.mtime(),
            m.mtime_nsec()
        );
        out.insert(p.to_path_buf(), desc);
        if m.is_dir() && p != root {
            for e in fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(base, root, &mut out);
    // the root's own mode and times may change (an entry "./" sets them); its contents are the layer's
    out.remove(root);
    out.remove(base);
    out
}

/// Empties `root` whatever modes the layer left behind.
fn clear(root: &Path) {
    fn open_up(p: &Path) {
        let Ok(m) = fs::symlink_metadata(p) else {
            return;
        };
        if m.is_dir() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(root);
    for e in fs::read_dir(root).unwrap().flatten() {
        let p = e.path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            fs::remove_dir_all(&p).unwrap();
        } else {
            fs::remove_file(&p).unwrap();
        }
    }
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (a, b) = data.split_at(n);
    *data = b;
    a
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

/// Builds a tar from the compact description (see the module documentation).
fn compact_tar(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let kind = match byte(&mut data) % 6 {
            0 => b'0', // regular
            1 => b'5', // directory
            2 => b'2', // symlink
            3 => b'1', // hardlink
            4 => b'6', // fifo
            _ => b'0',
        };
        let n = byte(&mut data) as usize % 100;
        let name = take(&mut data, n).to_vec();
        let n = byte(&mut data) as usize % 100;
        let link = take(&mut data, n).to_vec();
        let mode = [0o644, 0o755, 0o000, 0o4755, 0o1777, 0o700, 0o444, 0o600]
            [byte(&mut data) as usize % 8];
        let n = byte(&mut data) as usize;
        let body = if kind == b'0' {
            take(&mut data, n).to_vec()
        } else {
            Vec::new()
        };
        let mut h = tar::Header::new_ustar();
        {
            let u = h.as_ustar_mut().unwrap();
            u.name[..name.len()].copy_from_slice(&name);
            u.linkname[..link.len()].copy_from_slice(&link);
            u.typeflag = [kind];
        }
        h.set_mode(mode);
        h.set_size(body.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fuzz_target!(|data: &[u8]| {
    let s = sandbox();
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let opts = ApplyOptions {
        whiteouts: if flags & 1 == 0 {
            WhiteoutMode::Apply
        } else {
            WhiteoutMode::Overlay
        },
        allow_devices: false,
        chown: image::layer::running_as_root(),
    };
    let tar = if flags & 2 == 0 {
        rest.to_vec()
    } else {
        compact_tar(rest)
    };
    let _ = apply_layer(&tar[..], &s.root, &opts);
    let after = snapshot(&s.base, &s.root);
    assert_eq!(
        s.before, after,
        "the layer changed something outside its directory"
    );
    clear(&s.root);
});
