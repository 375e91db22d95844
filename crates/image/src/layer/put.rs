//! Entries put into a directory (a layer's dir, a container's rootfs) one by one, confined to
//! it: every name is created relative to an fd of its parent, opened from the root without
//! passing through a symlink, and never followed itself. Layer tars are applied through it
//! (`super::apply_layer_at`), and so are the files the builder copies into a step's rootfs
//! from a context or another stage (a regular file's data then copied by `io::copy` between
//! two files, which the kernel does itself: `copy_file_range`).

use super::{ApplyOptions, WhiteoutMode};
use crate::error::{Error, IoContext, Result};
use std::collections::HashSet;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

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
pub(super) fn components(raw: &[u8], shown: &str) -> Result<Vec<Vec<u8>>> {
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

/// What an entry says about the file it makes (a tar header and its pax extensions, or the
/// builder's own choice).
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// permission bits (with setuid, setgid, sticky)
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// whole seconds (a tar keeps no more)
    pub mtime: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// What an entry makes.
pub enum Content<'a> {
    Dir,
    /// a regular file of `len` bytes read from a file: copied by the kernel
    File(&'a File, u64),
    /// a regular file read from anything else (a tar entry, a here-document)
    Data(&'a mut dyn Read),
    /// a symlink to this target, as stored
    Symlink(&'a [u8]),
    /// a hardlink to this path below the root, which must exist
    Hardlink(&'a [u8]),
    /// a fifo or a device node (`S_IFIFO`, `S_IFCHR`, `S_IFBLK`), and its device numbers
    Node(libc::mode_t, u32, u32),
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
    fn chown(&self, opts: &ApplyOptions, meta: &Meta) -> Result<()> {
        if opts.chown {
            chown_at(self.dfd, self.name, meta.uid, meta.gid).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn xattrs(&self, meta: &Meta) -> Result<()> {
        for (k, v) in &meta.xattrs {
            set_xattr_at(self.dfd, self.name, k, v).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn times(&self, meta: &Meta) -> Result<()> {
        set_times_at(self.dfd, self.name, meta.mtime).map_err(|e| self.err(e))
    }
}

/// Entries being put below a root, and what later ones (and [`Putter::finish`]) need.
pub struct Putter<'a> {
    walker: Walker,
    opts: &'a ApplyOptions,
    dirs: Vec<DirMeta>,
    /// Paths put (whiteout mode `Apply`): an opaque marker keeps them.
    seen: HashSet<Vec<u8>>,
    size: u64,
}

impl<'a> Putter<'a> {
    /// A putter below the directory `root` is open on.
    pub fn new(root: OwnedFd, opts: &'a ApplyOptions) -> Putter<'a> {
        Putter {
            walker: Walker { root },
            opts,
            dirs: Vec::new(),
            seen: HashSet::new(),
            size: 0,
        }
    }

    /// The directories' modes and times, once every entry is in; the bytes of the regular
    /// files put.
    pub fn finish(self) -> Result<u64> {
        self.finish_dirs()?;
        Ok(self.size)
    }

    /// One entry at `path` (below the root; `..` refused): a whiteout (`.wh.` names), or a
    /// file of any kind put in place of what was there (a directory is kept and merged).
    pub fn put(&mut self, path: &[u8], meta: &Meta, content: Content) -> Result<()> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let comps = components(path, &shown)?;
        let Some((name, parent)) = comps.split_last() else {
            return Ok(()); // the root itself
        };
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
        let existing = lstat_at(slot.dfd, name).ok();
        let is_dir = matches!(content, Content::Dir);
        if existing.is_some_and(|st| !is_dir || !is_type(&st, libc::S_IFDIR)) {
            remove_all_at(slot.dfd, name).map_err(|e| slot.err(e))?;
        }
        match content {
            Content::Dir => self.dir(&slot, existing, meta, &comps),
            Content::File(f, len) => self.regular(&slot, meta, &mut f.take(len)),
            Content::Data(r) => self.regular(&slot, meta, r),
            Content::Symlink(target) => self.symlink(&slot, meta, target),
            Content::Hardlink(target) => self.hardlink(&slot, target),
            Content::Node(kind, major, minor) => self.node(&slot, meta, kind, major, minor),
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
        meta: &Meta,
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
    fn regular<R: Read + ?Sized>(&mut self, slot: &Slot, meta: &Meta, data: &mut R) -> Result<()> {
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
        self.size += io::copy(data, &mut f).map_err(e)?;
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

    fn symlink(&self, slot: &Slot, meta: &Meta, target: &[u8]) -> Result<()> {
        let t = cstr(target).map_err(|e| slot.err(e))?;
        cvt(unsafe { libc::symlinkat(t.as_ptr(), slot.dfd, slot.cname.as_ptr()) })
            .map_err(|e| slot.err(e))?;
        slot.chown(self.opts, meta)?;
        slot.xattrs(meta)?;
        slot.times(meta)
    }

    /// A hardlink: its target is resolved from the root like any entry, and must exist.
    fn hardlink(&self, slot: &Slot, target: &[u8]) -> Result<()> {
        let shown = slot.shown;
        let tshown = String::from_utf8_lossy(target).into_owned();
        let tcomps = components(target, shown)?;
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
    fn node(
        &self,
        slot: &Slot,
        meta: &Meta,
        kind: libc::mode_t,
        major: u32,
        minor: u32,
    ) -> Result<()> {
        if kind != libc::S_IFIFO && !self.opts.allow_devices {
            return Err(Error::UnsafePath {
                path: slot.shown.to_string(),
                reason: "device nodes are only created when running as root".into(),
            });
        }
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
