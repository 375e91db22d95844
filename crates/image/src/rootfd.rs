//! Gap-free access to a file system someone else may be changing under us: a container's root
//! (a running container renames, swaps and re-links its files while `cp`, `export`, `diff` or
//! `commit` read or write them), an overlay upper directory, a volume.
//!
//! Nothing here goes by a host path string below the root. The root is opened once as an
//! `O_PATH` directory fd ([`Root`]); a container path is resolved *and* opened in one call,
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so the kernel keeps every step of the
//! walk (symlinks, absolute or relative, and `..`) inside the root, and refuses the magic links
//! of /proc (`/proc/self/root`...) that would jump out of it. Trees are walked by fds
//! ([`Node`]): each child is opened with `O_PATH | O_NOFOLLOW` relative to its parent's fd and
//! stat'ed through that fd; its content is read by reopening *that* fd (never its name), only
//! when it is a regular file or a directory, so a name swapped for a symlink or a device node
//! between two steps is never followed or opened. (CVE-2018-15664 was docker's `cp` losing
//! exactly this race.)

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use std::ffi::CString;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "nul byte in name"))
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd the kernel just returned, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The path of an fd in /proc, to reopen the very inode it holds.
fn proc_fd(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// A directory every path is resolved in, as if it were `/`.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// where the root is, as the kernel names it from here (`/` for a running container's
    /// /proc/PID/root: names below it are then the container's own)
    at: PathBuf,
}

impl Root {
    /// Open `path` (a trusted host path: a rootfs, /proc/PID/root, an upper dir) as the root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let c = cstr(path.as_os_str().as_bytes())?;
        // SAFETY: valid nul-terminated path.
        let fd = owned(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        let at = std::fs::read_link(proc_fd(fd.as_fd()))?;
        Ok(Root { fd, at })
    }

    /// Resolve and open `path` (absolute or relative: both start at the root) inside the root,
    /// `O_PATH`. `follow`: a symlink at the end is followed (inside the root) too; otherwise
    /// the fd is the symlink itself. `..` stops at the root; /proc magic links are refused.
    pub fn open_path(&self, path: &str, follow: bool) -> io::Result<OwnedFd> {
        let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        if !follow {
            flags |= OFlag::O_NOFOLLOW;
        }
        self.openat2(
            path,
            flags,
            ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        )
    }

    /// `path` below the root exactly as named, `O_PATH`: no symlink is followed on the way
    /// (one at the end is returned itself), no `..` leaves the root. For layer directories,
    /// where a path through a symlink is not the same path.
    pub fn open_beneath(&self, path: &str) -> io::Result<Node> {
        let fd = self.openat2(
            path,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS,
        )?;
        Node::from_fd(fd)
    }

    fn openat2(&self, path: &str, flags: OFlag, resolve: ResolveFlag) -> io::Result<OwnedFd> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        // the kernel answers EAGAIN when a rename raced a `..` step: that walk is retried
        for _ in 0..64 {
            let how = OpenHow::new().flags(flags).resolve(resolve);
            match nix::fcntl::openat2(&self.fd, rel, how) {
                Err(nix::errno::Errno::EAGAIN) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    /// [`Root::open_path`] as a [`Node`].
    pub fn node(&self, path: &str, follow: bool) -> io::Result<Node> {
        Node::from_fd(self.open_path(path, follow)?)
    }

    /// The root itself as a [`Node`].
    pub fn top(&self) -> io::Result<Node> {
        Node::from_fd(self.fd.try_clone()?)
    }

    /// Where `fd` (opened below the root) is, as a path inside the root (`/etc/passwd`); for
    /// messages and docker's `linkTarget`, never to open anything by.
    pub fn path_of(&self, fd: BorrowedFd<'_>) -> String {
        let Ok(p) = std::fs::read_link(proc_fd(fd)) else {
            return String::new();
        };
        match p.strip_prefix(&self.at) {
            Ok(rel) => format!("/{}", rel.to_string_lossy()),
            Err(_) => p.to_string_lossy().into_owned(),
        }
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One file of a tree walked by fds: an `O_PATH` fd (a symlink is the link itself) and its
/// metadata, read through that fd.
#[derive(Debug)]
pub struct Node {
    /// `O_PATH`: fstat, fstatfs, readlinkat and *at calls only
    file: File,
    pub md: Metadata,
}

impl Node {
    /// `name` (one component, never `.` or `..`) in the directory `dir`, not followed.
    pub fn at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Node> {
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a file name: {:?}", String::from_utf8_lossy(name)),
            ));
        }
        let c = cstr(name)?;
        // SAFETY: valid fd and nul-terminated name.
        let fd = owned(unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        Node::from_fd(fd)
    }

    /// A node of an `O_PATH` (or any) fd.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Node> {
        let file = File::from(fd);
        let md = file.metadata()?;
        Ok(Node { file, md })
    }

    /// Open a host path (the user's own files: `cp` from the host) as a node, not following
    /// a symlink at the end.
    pub fn open_host(path: &Path) -> io::Result<Node> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)?;
        Node::from_fd(file.into())
    }

    pub fn is_dir(&self) -> bool {
        self.md.is_dir()
    }

    /// The content of a regular file, read from this very inode.
    pub fn open_file(&self) -> io::Result<File> {
        if !self.md.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        self.reopen(libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK)
    }

    /// This directory opened for reading (a dirfd for *at calls, fchmod, fsetxattr).
    pub fn open_dir(&self) -> io::Result<File> {
        if !self.md.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        self.reopen(libc::O_RDONLY | libc::O_DIRECTORY)
    }

    fn reopen(&self, flags: libc::c_int) -> io::Result<File> {
        let p = cstr(proc_fd(self.file.as_fd()).as_bytes())?;
        // SAFETY: valid path; /proc/self/fd/N reopens the inode the fd holds.
        let fd = owned(unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) })?;
        let f = File::from(fd);
        let md = f.metadata()?;
        if (md.dev(), md.ino()) != (self.md.dev(), self.md.ino()) {
            return Err(io::Error::other("file changed while being opened"));
        }
        Ok(f)
    }

    /// The names in this directory (`.` and `..` left out), sorted.
    pub fn names(&self) -> io::Result<Vec<Vec<u8>>> {
        if !self.md.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let mut v = Vec::new();
        for e in std::fs::read_dir(proc_fd(self.file.as_fd()))? {
            v.push(e?.file_name().into_vec());
        }
        v.sort();
        Ok(v)
    }

    /// The child `name` of this directory.
    pub fn child(&self, name: &[u8]) -> io::Result<Node> {
        Node::at(self.file.as_fd(), name)
    }

    /// A symlink's target, as stored.
    pub fn read_link(&self) -> io::Result<PathBuf> {
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: valid fd, empty path (the fd itself, an O_PATH symlink) and buffer.
        let n = unsafe {
            libc::readlinkat(
                self.file.as_raw_fd(),
                c"".as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
    }

    /// statfs's f_type of the file system this node is on.
    pub fn fs_magic(&self) -> Option<i64> {
        let mut s: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd and out pointer.
        let r = unsafe { libc::fstatfs(self.file.as_raw_fd(), &mut s) };
        #[allow(clippy::unnecessary_cast)]
        (r == 0).then_some(s.f_type as i64)
    }

    /// Is this on one of the kernel's file systems (proc, sysfs, cgroup...) that an archive
    /// must not descend into?
    pub fn is_pseudo_fs(&self) -> bool {
        const PSEUDO: [i64; 6] = [
            0x9fa0,      // proc
            0x6265_6572, // sysfs
            0x0027_e0eb, // cgroup
            0x6367_7270, // cgroup2
            0x1cd1,      // devpts
            0x1980_0202, // mqueue
        ];
        self.fs_magic().is_some_and(|t| PSEUDO.contains(&t))
    }

    /// The extended attributes of this very inode (a symlink's own included).
    pub fn xattrs(&self) -> io::Result<Vec<(String, Vec<u8>)>> {
        // the /proc path lands on the inode the fd holds, which is not followed further
        let c = cstr(proc_fd(self.file.as_fd()).as_bytes())?;
        // SAFETY: valid path; a null buffer asks for the size.
        let n = unsafe { libc::listxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
        if n <= 0 {
            return Ok(Vec::new());
        }
        let mut names = vec![0u8; n as usize];
        // SAFETY: buffer of the given length.
        let n = unsafe { libc::listxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        for k in names[..n as usize]
            .split(|b| *b == 0)
            .filter(|k| !k.is_empty())
        {
            let kc = cstr(k)?;
            // SAFETY: as above.
            let vn = unsafe { libc::getxattr(c.as_ptr(), kc.as_ptr(), std::ptr::null_mut(), 0) };
            if vn < 0 {
                continue;
            }
            let mut v = vec![0u8; vn as usize];
            let vn =
                unsafe { libc::getxattr(c.as_ptr(), kc.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
            if vn < 0 {
                continue;
            }
            v.truncate(vn as usize);
            out.push((String::from_utf8_lossy(k).into_owned(), v));
        }
        Ok(out)
    }
}

impl AsFd for Node {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

use std::os::unix::fs::MetadataExt;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::write(r.join("etc/passwd"), "inside").unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../etc", r.join("a/b/up")).unwrap();
        symlink("../../../../../../../etc/passwd", r.join("a/deep")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink("/proc/self/root/etc", r.join("magic")).unwrap();
        let root = Root::open(r).unwrap();
        (t, root)
    }

    fn shown(root: &Root, p: &str, follow: bool) -> io::Result<String> {
        let fd = root.open_path(p, follow)?;
        Ok(root.path_of(fd.as_fd()))
    }

    #[test]
    fn dotdot_and_absolute_links_stay_inside() {
        let (_t, root) = tree();
        assert_eq!(
            shown(&root, "/../../etc/passwd", false).unwrap(),
            "/etc/passwd"
        );
        assert_eq!(shown(&root, "abs/passwd", false).unwrap(), "/etc/passwd");
        assert_eq!(
            shown(&root, "/a/b/up/passwd", false).unwrap(),
            "/etc/passwd"
        );
        // a relative link climbing far above the root lands at the root's /etc
        let n = root.node("/a/deep", true).unwrap();
        assert_eq!(
            std::fs::read_to_string(format!("/proc/self/fd/{}", n.as_fd().as_raw_fd())).unwrap(),
            "inside"
        );
        assert_eq!(shown(&root, "/", false).unwrap(), "/");
        assert_eq!(shown(&root, "", false).unwrap(), "/");
    }

    #[test]
    fn last_component_followed_only_when_asked() {
        let (_t, root) = tree();
        let n = root.node("/abs", false).unwrap();
        assert!(n.md.file_type().is_symlink());
        assert_eq!(n.read_link().unwrap(), Path::new("/etc"));
        let n = root.node("/abs", true).unwrap();
        assert!(n.is_dir());
        assert_eq!(root.path_of(n.as_fd()), "/etc");
        // `abs/.` names the directory the link leads to
        assert_eq!(shown(&root, "/abs/.", false).unwrap(), "/etc");
    }

    #[test]
    fn symlink_loops_and_magic_links_are_refused() {
        let (_t, root) = tree();
        let e = root.open_path("/loop1/x", false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        let e = root.open_path("/loop1", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        // /proc/self/root (a magic link) would lead to the host's /: refused, not followed
        let proc_root = Root::open(Path::new("/proc/self")).unwrap();
        let e = proc_root.open_path("root/etc", false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        let e = proc_root.open_path("cwd", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        // an ordinary symlink spelling a magic link's path resolves inside the root
        assert!(root.open_path("/magic", true).is_err());
    }

    #[test]
    fn walking_never_follows_or_opens_what_is_not_asked_for() {
        let (t, root) = tree();
        let top = root.top().unwrap();
        let names = top.names().unwrap();
        assert_eq!(
            names,
            [&b"a"[..], b"abs", b"etc", b"loop1", b"loop2", b"magic"]
        );
        let abs = top.child(b"abs").unwrap();
        assert!(abs.md.file_type().is_symlink());
        assert!(abs.open_file().is_err());
        assert!(abs.open_dir().is_err());
        assert!(top.child(b"..").is_err());
        assert!(top.child(b"a/b").is_err());
        // a fifo is never opened (that would block, a device could be a host disk)
        nix::unistd::mkfifo(
            &t.path().join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let f = top.child(b"fifo").unwrap();
        assert!(f.open_file().is_err());
        // a node keeps its inode when the name is swapped for a link to the host's /
        let etc = top.child(b"etc").unwrap();
        std::fs::rename(t.path().join("etc"), t.path().join("etc.old")).unwrap();
        symlink("/", t.path().join("etc")).unwrap();
        let pw = etc.child(b"passwd").unwrap();
        assert_eq!(
            std::io::read_to_string(pw.open_file().unwrap()).unwrap(),
            "inside"
        );
        assert!(top.child(b"etc").unwrap().md.file_type().is_symlink());
    }
}
