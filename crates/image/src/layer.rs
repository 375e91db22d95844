//! Applying layer tarballs (tar, tar+gzip, tar+zstd) to a directory (the writer of layer
//! tarballs is `diff::tree_tar`).
//!
//! Layers are untrusted. Every entry is resolved one component at a time from
//! an fd of the target root with `O_NOFOLLOW`, so a symlink (absolute or
//! relative) can never redirect a write out of the target: an entry whose parent
//! is a symlink is refused, `..` components are refused, hardlink targets are
//! resolved the same way, and the final component is created with `O_EXCL` /
//! `*at` calls that do not follow symlinks. Device nodes are created only when
//! the caller allows it (by default: when running as root).

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

mod put;
pub use put::{Content, Meta, Putter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Peek at the first bytes to find the compression.
pub fn detect_compression<R: BufRead>(r: &mut R) -> io::Result<Compression> {
    let buf = r.fill_buf()?;
    Ok(if buf.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if buf.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// A reader of the uncompressed tar stream, whatever the compression.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(1 << 20, r);
    Ok(match detect_compression(&mut br)? {
        Compression::None => Box::new(br),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
    })
}

/// How whiteouts in the layer are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Keep the layer in its own directory for overlayfs: `.wh.x` becomes a
    /// 0/0 character device, `.wh..wh..opq` the opaque xattr (see `overlay_xattr`).
    Overlay,
    /// Apply on top of the lower layers' content (a flattened rootfs): `.wh.x`
    /// removes `x`, an opaque dir loses what the lower layers put in it.
    Apply,
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub whiteouts: WhiteoutMode,
    /// Create character/block devices (otherwise such an entry is an error).
    pub allow_devices: bool,
    /// Set owners from the tar headers (needs root).
    pub chown: bool,
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        let root = running_as_root();
        ApplyOptions {
            whiteouts: WhiteoutMode::Apply,
            allow_devices: root,
            chown: root,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Applied {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Sum of regular file sizes.
    pub size: u64,
}

/// What an entry's header (and its pax extensions) say about the file it makes.
fn entry_meta<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<Meta> {
    let hdr = entry.header();
    let mut meta = Meta {
        mode: hdr.mode().unwrap_or(0o644) & 0o7777,
        uid: hdr.uid().unwrap_or(0),
        gid: hdr.gid().unwrap_or(0),
        mtime: hdr.mtime().unwrap_or(0),
        xattrs: Vec::new(),
    };
    if let Some(exts) = entry
        .pax_extensions()
        .ctx(|| format!("read pax headers of {shown}"))?
    {
        for ext in exts {
            let ext = ext.ctx(|| format!("read pax headers of {shown}"))?;
            if let Ok(k) = ext.key() {
                if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                    // overlay's own attributes could forge opaque dirs or redirects
                    if !crate::overlay_xattr::is_overlay_own(x) {
                        meta.xattrs
                            .push((x.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// Apply a (possibly compressed) layer tarball to `target`.
pub fn apply_layer<R: Read>(reader: R, target: &Path, opts: &ApplyOptions) -> Result<Applied> {
    let rootf = File::open(target).ctx(|| format!("open {}", target.display()))?;
    apply_layer_at(reader, rootf.into(), opts)
}

/// Apply a (possibly compressed) layer tarball to the directory `target` is open on (a
/// directory of a live container, resolved and opened without a gap: see [`crate::rootfd`]).
pub fn apply_layer_at<R: Read>(reader: R, target: OwnedFd, opts: &ApplyOptions) -> Result<Applied> {
    let dec = decompress(reader).ctx(|| "read layer".to_string())?;
    let mut archive = tar::Archive::new(HashingReader::new(dec));
    let mut putter = Putter::new(target, opts);
    put_entries(&mut putter, &mut archive)?;
    let size = putter.finish()?;
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).ctx(|| "read layer tar trailer".to_string())?;
    let (diff_id, _) = rest.finish();
    Ok(Applied { diff_id, size })
}

/// Every entry of a tar put by `putter` (a whiteout, or a file of any kind).
pub fn put_entries<R: Read>(putter: &mut Putter, archive: &mut tar::Archive<R>) -> Result<()> {
    let entries = archive.entries().ctx(|| "read layer tar".to_string())?;
    for entry in entries {
        put_entry(putter, entry.ctx(|| "read layer tar entry".to_string())?)?;
    }
    Ok(())
}

/// One tar entry.
fn put_entry<R: Read>(putter: &mut Putter, mut entry: tar::Entry<'_, R>) -> Result<()> {
    let raw = entry.path_bytes().into_owned();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let meta = entry_meta(&mut entry, &shown)?;
    let link = entry.link_name_bytes().map(|c| c.into_owned());
    let link = link.as_deref().unwrap_or_default();
    let hdr = entry.header();
    let dev = (
        hdr.device_major().ok().flatten().unwrap_or(0),
        hdr.device_minor().ok().flatten().unwrap_or(0),
    );
    use tar::EntryType as T;
    let content = match hdr.entry_type() {
        T::Directory => Content::Dir,
        T::Regular | T::Continuous | T::GNUSparse => Content::Data(&mut entry),
        T::Symlink => Content::Symlink(link),
        T::Link => Content::Hardlink(link),
        T::Char => Content::Node(libc::S_IFCHR, dev.0, dev.1),
        T::Block => Content::Node(libc::S_IFBLK, dev.0, dev.1),
        T::Fifo => Content::Node(libc::S_IFIFO, dev.0, dev.1),
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => return Ok(()),
        other => {
            return Err(Error::InvalidFormat {
                what: format!("layer entry {shown:?}"),
                reason: format!("unsupported tar entry type {other:?}"),
            })
        }
    };
    putter.put(&raw, &meta, content)
}

/// Hash the uncompressed stream of a (possibly compressed) blob.
pub fn diff_id_of<R: Read>(r: R) -> Result<(Digest, u64)> {
    let mut h = HashingReader::new(decompress(r).ctx(|| "read layer".to_string())?);
    io::copy(&mut h, &mut io::sink()).ctx(|| "read layer".to_string())?;
    Ok(h.finish())
}
