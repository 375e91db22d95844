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
use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "nul byte in name"))
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn open_dir_at(dir: RawFd, name: &[u8]) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    // SAFETY: valid fd and nul-terminated name; the returned fd is owned.
    let fd = cvt(unsafe {
        libc::openat(
            dir,
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn lstat_at(dir: RawFd, name: &[u8]) -> io::Result<libc::stat> {
    let c = cstr(name)?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out pointer.
    cvt(unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

fn is_type(st: &libc::stat, t: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == t
}

/// Remove `name` in `dir` (recursively for directories), never following symlinks.
pub(crate) fn remove_all_at(dir: RawFd, name: &[u8]) -> io::Result<()> {
    let st = match lstat_at(dir, name) {
        Ok(st) => st,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    let c = cstr(name)?;
    if is_type(&st, libc::S_IFDIR) {
        let sub = open_dir_at(dir, name)?;
        for child in list_dir(sub.as_raw_fd())? {
            remove_all_at(sub.as_raw_fd(), &child)?;
        }
        cvt(unsafe { libc::unlinkat(dir, c.as_ptr(), libc::AT_REMOVEDIR) })?;
    } else {
        cvt(unsafe { libc::unlinkat(dir, c.as_ptr(), 0) })?;
    }
    Ok(())
}

fn list_dir(dir: RawFd) -> io::Result<Vec<Vec<u8>>> {
    let p = format!("/proc/self/fd/{dir}");
    let mut v = Vec::new();
    for e in std::fs::read_dir(p)? {
        v.push(e?.file_name().as_bytes().to_vec());
    }
    Ok(v)
}

fn set_xattr_fd(fd: RawFd, name: &str, value: &[u8]) -> io::Result<()> {
    let n = cstr(name.as_bytes())?;
    cvt(unsafe { libc::fsetxattr(fd, n.as_ptr(), value.as_ptr().cast(), value.len(), 0) })?;
    Ok(())
}

fn set_xattr_at(dir: RawFd, name: &[u8], key: &str, value: &[u8]) -> io::Result<()> {
    let mut p = format!("/proc/self/fd/{dir}/").into_bytes();
    p.extend_from_slice(name);
    let p = cstr(&p)?;
    let k = cstr(key.as_bytes())?;
    cvt(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })?;
    Ok(())
}

fn set_times_at(dir: RawFd, name: &[u8], mtime: u64) -> io::Result<()> {
    let c = cstr(name)?;
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    cvt(unsafe { libc::utimensat(dir, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(())
}

fn chown_at(dir: RawFd, name: &[u8], uid: u64, gid: u64) -> io::Result<()> {
    let c = cstr(name)?;
    cvt(unsafe {
        libc::fchownat(
            dir,
            c.as_ptr(),
            uid as libc::uid_t,
            gid as libc::gid_t,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(())
}

/// Split a tar path into safe components, refusing `..`.
fn components(raw: &[u8], shown: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(Error::UnsafePath {
                    path: shown.to_string(),
                    reason: "'..' would leave the layer root".into(),
                })
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

struct Walker {
    root: OwnedFd,
}

impl Walker {
    /// Open the directory `comps` below the root, creating missing ones when
    /// `create`, refusing to pass through symlinks or non-directories.
    fn open(&self, comps: &[Vec<u8>], create: bool, shown: &str) -> Result<OwnedFd> {
        let mut cur = self.root.try_clone().ctx(|| "dup root fd".to_string())?;
        for (i, c) in comps.iter().enumerate() {
            let next = match open_dir_at(cur.as_raw_fd(), c) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                    let cn = cstr(c).map_err(|e| entry_err(shown, e))?;
                    match cvt(unsafe { libc::mkdirat(cur.as_raw_fd(), cn.as_ptr(), 0o755) }) {
                        Ok(_) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => return Err(entry_err(shown, e)),
                    }
                    open_dir_at(cur.as_raw_fd(), c).map_err(|e| entry_err(shown, e))?
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                    let prefix = String::from_utf8_lossy(&comps[..=i].join(&b'/')).into_owned();
                    let st = lstat_at(cur.as_raw_fd(), c).map_err(|e| entry_err(shown, e))?;
                    let reason = if is_type(&st, libc::S_IFLNK) {
                        format!("parent {prefix:?} is a symlink; refusing to resolve through it")
                    } else {
                        format!("parent {prefix:?} is not a directory")
                    };
                    return Err(Error::UnsafePath {
                        path: shown.to_string(),
                        reason,
                    });
                }
                Err(e) => return Err(entry_err(shown, e)),
            };
            cur = next;
        }
        Ok(cur)
    }
}

fn entry_err(path: &str, source: io::Error) -> Error {
    Error::LayerEntry {
        path: path.to_string(),
        source,
    }
}

/// A directory's mode and time, applied after every entry (see [`Unpacker::finish_dirs`]).
struct DirMeta {
    comps: Vec<Vec<u8>>,
    mode: u32,
    mtime: u64,
}

/// What an entry's header (and its pax extensions) say about the file it makes.
struct EntryMeta {
    hdr: tar::Header,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl EntryMeta {
    fn read<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<EntryMeta> {
        let hdr = entry.header().clone();
        let mode = hdr.mode().unwrap_or(0o644) & 0o7777;
        let uid = hdr.uid().unwrap_or(0);
        let gid = hdr.gid().unwrap_or(0);
        let mtime = hdr.mtime().unwrap_or(0);
        let mut xattrs: Vec<(String, Vec<u8>)> = Vec::new();
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
                            xattrs.push((x.to_string(), ext.value_bytes().to_vec()));
                        }
                    }
                }
            }
        }
        Ok(EntryMeta {
            hdr,
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }
}

/// The final component of an entry, inside its parent directory, which was opened through
/// [`Walker::open`]: every call on it is an `*at` call that does not follow a symlink.
struct Slot<'a> {
    dfd: RawFd,
    name: &'a [u8],
    cname: CString,
    shown: &'a str,
}

impl Slot<'_> {
    fn err(&self, source: io::Error) -> Error {
        entry_err(self.shown, source)
    }

    /// The entry's owner, when the options ask for it.
    fn chown(&self, opts: &ApplyOptions, meta: &EntryMeta) -> Result<()> {
        if opts.chown {
            chown_at(self.dfd, self.name, meta.uid, meta.gid).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn xattrs(&self, meta: &EntryMeta) -> Result<()> {
        for (k, v) in &meta.xattrs {
            set_xattr_at(self.dfd, self.name, k, v).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn times(&self, meta: &EntryMeta) -> Result<()> {
        set_times_at(self.dfd, self.name, meta.mtime).map_err(|e| self.err(e))
    }
}

/// One layer being applied: the root it is confined to and what later steps need.
struct Unpacker<'a> {
    walker: Walker,
    opts: &'a ApplyOptions,
    dirs: Vec<DirMeta>,
    /// Paths this layer wrote (whiteout mode `Apply`): an opaque marker keeps them.
    seen: HashSet<Vec<u8>>,
    size: u64,
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
    let mut un = Unpacker {
        walker: Walker { root: target },
        opts,
        dirs: Vec::new(),
        seen: HashSet::new(),
        size: 0,
    };
    let entries = archive.entries().ctx(|| "read layer tar".to_string())?;
    for entry in entries {
        un.entry(entry.ctx(|| "read layer tar entry".to_string())?)?;
    }
    un.finish_dirs()?;
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).ctx(|| "read layer tar trailer".to_string())?;
    let (diff_id, _) = rest.finish();
    Ok(Applied {
        diff_id,
        size: un.size,
    })
}

impl Unpacker<'_> {
    /// One tar entry: a whiteout, or a file of any kind put in place.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let comps = components(&raw, &shown)?;
        let Some((name, parent)) = comps.split_last() else {
            return Ok(()); // the root itself
        };
        let meta = EntryMeta::read(&mut entry, &shown)?;
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            return self.whiteout(parent, hidden, &shown);
        }
        if self.opts.whiteouts == WhiteoutMode::Apply {
            self.seen.insert(comps.join(&b'/'));
        }

        let pfd = self.walker.open(parent, true, &shown)?;
        let slot = Slot {
            dfd: pfd.as_raw_fd(),
            name,
            cname: cstr(name).map_err(|e| entry_err(&shown, e))?,
            shown: &shown,
        };
        let etype = meta.hdr.entry_type();
        let existing = lstat_at(slot.dfd, name).ok();
        use tar::EntryType as T;
        if existing.is_some()
            && (etype != T::Directory || existing.is_some_and(|st| !is_type(&st, libc::S_IFDIR)))
        {
            remove_all_at(slot.dfd, name).map_err(|e| slot.err(e))?;
        }
        match etype {
            T::Directory => self.dir(&slot, existing, &meta, &comps),
            T::Regular | T::Continuous | T::GNUSparse => self.regular(&slot, &meta, &mut entry),
            T::Symlink => self.symlink(&slot, &meta, &entry),
            T::Link => self.hardlink(&slot, &entry),
            T::Char | T::Block | T::Fifo => self.node(&slot, &meta),
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => Ok(()),
            other => Err(Error::InvalidFormat {
                what: format!("layer entry {shown:?}"),
                reason: format!("unsupported tar entry type {other:?}"),
            }),
        }
    }

    /// `.wh.<hidden>` in `parent`: removes `hidden` (overlay: leaves a 0/0 char device in
    /// its place); `.wh..wh..opq` makes `parent` opaque.
    fn whiteout(&self, parent: &[Vec<u8>], hidden: &[u8], shown: &str) -> Result<()> {
        let pfd = self.walker.open(parent, true, shown)?;
        if hidden == b".wh..opq" {
            return self.opaque(pfd.as_raw_fd(), parent, shown);
        }
        if hidden.is_empty() || hidden.starts_with(b".wh.") {
            return Err(Error::UnsafePath {
                path: shown.to_string(),
                reason: "malformed whiteout".into(),
            });
        }
        let e = |err: io::Error| entry_err(shown, err);
        remove_all_at(pfd.as_raw_fd(), hidden).map_err(e)?;
        if self.opts.whiteouts == WhiteoutMode::Overlay {
            let c = cstr(hidden).map_err(e)?;
            cvt(unsafe { libc::mknodat(pfd.as_raw_fd(), c.as_ptr(), libc::S_IFCHR, 0) })
                .map_err(e)?;
        }
        Ok(())
    }

    /// An opaque directory (open as `pfd`): overlay's xattr, or, applied, everything in it
    /// removed but what this layer itself already wrote there.
    fn opaque(&self, pfd: RawFd, parent: &[Vec<u8>], shown: &str) -> Result<()> {
        let e = |err: io::Error| entry_err(shown, err);
        match self.opts.whiteouts {
            WhiteoutMode::Overlay => {
                set_xattr_fd(pfd, crate::overlay_xattr::opaque_name(), b"y").map_err(e)
            }
            WhiteoutMode::Apply => {
                let dir_path = parent.join(&b'/');
                for child in list_dir(pfd).map_err(e)? {
                    let mut full = dir_path.clone();
                    if !full.is_empty() {
                        full.push(b'/');
                    }
                    full.extend_from_slice(&child);
                    if !self.seen.contains(&full) {
                        remove_all_at(pfd, &child).map_err(e)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// A directory (an existing one is kept, with what lower layers put in it); its mode
    /// and time wait for [`Unpacker::finish_dirs`].
    fn dir(
        &mut self,
        slot: &Slot,
        existing: Option<libc::stat>,
        meta: &EntryMeta,
        comps: &[Vec<u8>],
    ) -> Result<()> {
        if existing.is_none_or(|st| !is_type(&st, libc::S_IFDIR)) {
            cvt(unsafe { libc::mkdirat(slot.dfd, slot.cname.as_ptr(), 0o700) })
                .map_err(|e| slot.err(e))?;
        }
        slot.chown(self.opts, meta)?;
        slot.xattrs(meta)?;
        self.dirs.push(DirMeta {
            comps: comps.to_vec(),
            mode: meta.mode,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A regular file, created with `O_EXCL | O_NOFOLLOW` and set up through its own fd.
    fn regular<R: Read>(
        &mut self,
        slot: &Slot,
        meta: &EntryMeta,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        let e = |err: io::Error| slot.err(err);
        let fd = cvt(unsafe {
            libc::openat(
                slot.dfd,
                slot.cname.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o600,
            )
        })
        .map_err(e)?;
        let mut f = unsafe { File::from_raw_fd(fd) };
        self.size += io::copy(entry, &mut f).map_err(e)?;
        if self.opts.chown {
            f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .map_err(e)?;
            cvt(unsafe {
                libc::fchown(
                    f.as_raw_fd(),
                    meta.uid as libc::uid_t,
                    meta.gid as libc::gid_t,
                )
            })
            .map_err(e)?;
        }
        cvt(unsafe { libc::fchmod(f.as_raw_fd(), meta.mode as libc::mode_t) }).map_err(e)?;
        for (k, v) in &meta.xattrs {
            set_xattr_fd(f.as_raw_fd(), k, v).map_err(e)?;
        }
        drop(f);
        slot.times(meta)
    }

    fn symlink<R: Read>(
        &self,
        slot: &Slot,
        meta: &EntryMeta,
        entry: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let target = entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let t = cstr(&target).map_err(|e| slot.err(e))?;
        cvt(unsafe { libc::symlinkat(t.as_ptr(), slot.dfd, slot.cname.as_ptr()) })
            .map_err(|e| slot.err(e))?;
        slot.chown(self.opts, meta)?;
        slot.xattrs(meta)?;
        slot.times(meta)
    }

    /// A hardlink: its target is resolved from the root like any entry, and must exist.
    fn hardlink<R: Read>(&self, slot: &Slot, entry: &tar::Entry<'_, R>) -> Result<()> {
        let shown = slot.shown;
        let target = entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let tshown = String::from_utf8_lossy(&target).into_owned();
        let tcomps = components(&target, shown)?;
        let Some((tname, tparent)) = tcomps.split_last() else {
            return Err(Error::UnsafePath {
                path: shown.to_string(),
                reason: "hardlink to the layer root".into(),
            });
        };
        let outside = || Error::UnsafePath {
            path: shown.to_string(),
            reason: format!("hardlink target {tshown:?} is not inside this layer"),
        };
        let tfd = self
            .walker
            .open(tparent, false, shown)
            .map_err(|err| match err {
                Error::LayerEntry { source, .. } if source.raw_os_error() == Some(libc::ENOENT) => {
                    outside()
                }
                other => other,
            })?;
        let tc = cstr(tname).map_err(|e| slot.err(e))?;
        match cvt(unsafe {
            libc::linkat(
                tfd.as_raw_fd(),
                tc.as_ptr(),
                slot.dfd,
                slot.cname.as_ptr(),
                0,
            )
        }) {
            Ok(_) => Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Err(outside()),
            Err(err) => Err(slot.err(err)),
        }
    }

    /// A fifo, or a device node when the options allow devices (by default: as root).
    fn node(&self, slot: &Slot, meta: &EntryMeta) -> Result<()> {
        use tar::EntryType as T;
        let kind = match meta.hdr.entry_type() {
            T::Char => libc::S_IFCHR,
            T::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        if kind != libc::S_IFIFO && !self.opts.allow_devices {
            return Err(Error::UnsafePath {
                path: slot.shown.to_string(),
                reason: "device nodes are only created when running as root".into(),
            });
        }
        let major = meta.hdr.device_major().ok().flatten().unwrap_or(0);
        let minor = meta.hdr.device_minor().ok().flatten().unwrap_or(0);
        let dev = libc::makedev(major, minor);
        let mode = meta.mode as libc::mode_t;
        let e = |err: io::Error| slot.err(err);
        cvt(unsafe { libc::mknodat(slot.dfd, slot.cname.as_ptr(), kind | mode, dev) })
            .map_err(e)?;
        slot.chown(self.opts, meta)?;
        cvt(unsafe { libc::fchmodat(slot.dfd, slot.cname.as_ptr(), mode, 0) }).map_err(e)?;
        slot.times(meta)
    }

    /// Directory modes and times last, deepest first, so that adding children
    /// does not change them and read-only directories do not block extraction.
    fn finish_dirs(&self) -> Result<()> {
        for d in self.dirs.iter().rev() {
            let Some((name, parent)) = d.comps.split_last() else {
                continue;
            };
            let Ok(pfd) = self.walker.open(parent, false, "") else {
                continue;
            };
            let Ok(fd) = open_dir_at(pfd.as_raw_fd(), name) else {
                continue;
            };
            let shown = String::from_utf8_lossy(&d.comps.join(&b'/')).into_owned();
            cvt(unsafe { libc::fchmod(fd.as_raw_fd(), d.mode as libc::mode_t) })
                .map_err(|e| entry_err(&shown, e))?;
            set_times_at(pfd.as_raw_fd(), name, d.mtime).map_err(|e| entry_err(&shown, e))?;
        }
        Ok(())
    }
}

/// Hash the uncompressed stream of a (possibly compressed) blob.
pub fn diff_id_of<R: Read>(r: R) -> Result<(Digest, u64)> {
    let mut h = HashingReader::new(decompress(r).ctx(|| "read layer".to_string())?);
    io::copy(&mut h, &mut io::sink()).ctx(|| "read layer".to_string())?;
    Ok(h.finish())
}
