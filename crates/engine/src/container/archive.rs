//! The archive endpoints behind `cp` (`stat_path`, `archive_get`, `archive_put`) and the
//! rootfs access they share with `export`, `diff` and `commit`.
//!
//! Every container path is resolved inside the container's root (symlinks included, `..`
//! clamped at the root), so nothing a container plants can make an operation read or write the
//! host.

use crate::container::archive_mounts::{archive_mounts, mount_all, PrivateMounts};
use crate::container::put_guard::{dir_non_dir_conflict, DirNonDirGuard, PutOptions};
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Container;
use image::diff::tree_tar::{append_tree, Flavor};
use image::rootfd::{Node, Root};
use serde_json::{json, Value};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A container's root for the length of one operation, opened once as a directory fd that
/// every path is resolved in without a gap (see [`image::rootfd`]). A stopped overlay
/// container's rootfs is mounted for it and unmounted again on drop.
pub struct RootAccess {
    pub root: Root,
    mounted: Option<PathBuf>,
    /// the namespace the container's volumes are mounted in for the operation; dropped last
    ns: Option<PrivateMounts>,
}

impl Drop for RootAccess {
    fn drop(&mut self) {
        if let Some(p) = &self.mounted {
            let _ = image::snapshot::unmount(p);
        }
    }
}

pub(crate) fn open_root(p: &Path) -> Result<Root> {
    Root::open(p).ctx(|| format!("open {}", p.display()))
}

impl Engine {
    /// The container's rootfs on the host (mounted for the operation when it is not).
    pub fn rootfs_access(&self, c: &Container) -> Result<RootAccess> {
        let p = PathBuf::from(&c.internal.rootfs);
        if c.driver != "overlay2" || image::snapshot::is_mountpoint(&p) {
            return Ok(RootAccess {
                root: open_root(&p)?,
                mounted: None,
                ns: None,
            });
        }
        let path = self.images()?.mount_snapshot(&c.id)?;
        match open_root(&path) {
            Ok(root) => Ok(RootAccess {
                root,
                mounted: Some(path),
                ns: None,
            }),
            Err(e) => {
                let _ = image::snapshot::unmount(&path);
                Err(e)
            }
        }
    }

    /// The root `cp` works in: the running container's own view (its volumes and binds
    /// included) through /proc/PID/root, opened once, or the rootfs of a stopped one.
    fn cp_root(&self, c: &Container) -> Result<RootAccess> {
        if c.state.status.is_live() && c.state.pid > 0 {
            if let Ok(root) = Root::open(Path::new(&format!("/proc/{}/root", c.state.pid))) {
                // a pid that outlived its container and went to a host process would be the
                // host's own root: never taken for the container's
                let id = |md: std::fs::Metadata| (md.dev(), md.ino());
                let host = std::fs::metadata("/").map(id).ok();
                if root.top().map(|n| id(n.md)).ok() != host {
                    return Ok(RootAccess {
                        root,
                        mounted: None,
                        ns: None,
                    });
                }
            }
        }
        let mounts = archive_mounts(&c.mounts);
        if mounts.is_empty() {
            return self.rootfs_access(c);
        }
        // its volumes and binds mounted over the rootfs, in a namespace of this operation
        let ns = PrivateMounts::enter()?;
        let mut access = self.rootfs_access(c)?;
        let rootfs = access
            .mounted
            .clone()
            .unwrap_or_else(|| PathBuf::from(&c.internal.rootfs));
        mount_all(&rootfs, &mounts)?;
        access.root = open_root(&rootfs)?;
        access.ns = Some(ns);
        Ok(access)
    }
}

/// A container path resolved and opened inside a root: `node` is the file itself (a symlink at
/// the end stays a symlink), `shown` its path inside the container.
#[derive(Debug)]
pub struct Resolved {
    pub node: Node,
    pub shown: String,
}

/// `path` (absolute, or relative to the container's /) without its trailing slashes.
fn trimmed(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        t => t,
    }
}

/// Resolve and open `path` inside `root`: every symlink of the parent is followed inside the
/// root, `..` stops at the root, /proc's magic links are refused; the last component is kept
/// as it is (a symlink stays a symlink) unless it is `.` or `..`.
pub fn resolve_path(root: &Root, path: &str) -> io::Result<Resolved> {
    let node = root.node(trimmed(path), false)?;
    let shown = root.path_of(node.as_fd());
    Ok(Resolved { node, shown })
}

/// `path` resolved with `follow` (the end followed too when it is a symlink).
fn resolve_followed(root: &Root, path: &str) -> io::Result<Node> {
    root.node(trimmed(path), true)
}

/// Is `e` the error of a path that is not there (a missing component, or a file where a
/// directory was to be)?
fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// The error of a failed resolution of `path` in container `c`.
fn resolve_err(e: io::Error, path: &str, c: &Container) -> Error {
    if is_missing(&e) {
        not_found(path, c)
    } else {
        Error::Other(format!("resolve {path}: {e}"))
    }
}

/// Go's os.FileMode bits for a file's type and permissions (docker's PathStat.Mode).
pub fn go_file_mode(md: &std::fs::Metadata) -> u32 {
    let ft = md.file_type();
    let mut m = md.mode() & 0o777;
    if ft.is_dir() {
        m |= 1 << 31;
    } else if ft.is_symlink() {
        m |= 1 << 27;
    } else if ft.is_block_device() {
        m |= 1 << 26;
    } else if ft.is_char_device() {
        m |= (1 << 26) | (1 << 21);
    } else if ft.is_fifo() {
        m |= 1 << 25;
    } else if ft.is_socket() {
        m |= 1 << 24;
    }
    let raw = md.mode();
    if raw & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if raw & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if raw & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

const NOT_FOUND: &str = "Could not find the file ";

fn not_found(path: &str, c: &Container) -> Error {
    Error::Other(format!("{NOT_FOUND}{path} in container {}", c.short_name()))
}

/// Is `e` the error of a container path that does not exist (the API's 404 for the archive
/// endpoints; `cp` takes it for a destination still to be made)?
pub fn is_path_not_found(e: &Error) -> bool {
    matches!(e, Error::Other(m) if m.starts_with(NOT_FOUND))
}

fn mtime_rfc3339(md: &std::fs::Metadata) -> String {
    chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn path_stat(root: &Root, r: &Resolved, path: &str, name: &str) -> Value {
    let md = &r.node.md;
    let link = if md.file_type().is_symlink() {
        // where the link leads, followed inside the root
        resolve_followed(root, path)
            .map(|n| root.path_of(n.as_fd()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    json!({
        "name": name,
        "size": md.len(),
        "mode": go_file_mode(md),
        "mtime": mtime_rfc3339(md),
        "linkTarget": link,
    })
}

fn base_name(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some((_, b)) if !b.is_empty() => b.to_string(),
        _ if t.is_empty() => "/".into(),
        _ => t.to_string(),
    }
}

/// statfs's f_type (its C type differs between libcs).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fs_magic(p: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(p)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

impl Engine {
    /// `HEAD /containers/{id}/archive`: docker's PathStat of a container path.
    pub fn stat_path(&self, key: &str, path: &str) -> Result<Value> {
        let c = self.find_reconciled(key)?;
        let access = self.cp_root(&c)?;
        let root = &access.root;
        let r = resolve_path(root, path).map_err(|e| resolve_err(e, path, &c))?;
        // `dir/` and `dir/.` name a directory (a symlink to one included), as lstat has it
        let t = path.trim_end_matches('/');
        if path.ends_with('/') || t.ends_with("/.") || t == "." {
            let is_dir = resolve_followed(root, path).is_ok_and(|n| n.is_dir());
            if !is_dir {
                return Err(Error::Invalid(format!("{path}: not a directory")));
            }
        }
        // named as the path was given (`dir/.` is `.`), as dockerd names it
        Ok(path_stat(root, &r, path, &base_name(path)))
    }

    /// `GET /containers/{id}/archive`: a tar of `path` (entries named after its base name)
    /// written to `w`; returns its PathStat. `follow_link`: a symlink at `path` is archived as
    /// what it points to (inside the container), under the link's name.
    pub fn archive_get<W: Write>(
        &self,
        key: &str,
        path: &str,
        follow_link: bool,
        w: W,
    ) -> Result<(Value, W)> {
        self.archive_get_as(key, path, follow_link, None, w)
    }

    /// `archive_get` with the tar's top entry named `name` (`""`: the content of a directory
    /// at the top of the tar), as `cp` wants it for its destination.
    pub fn archive_get_as<W: Write>(
        &self,
        key: &str,
        path: &str,
        follow_link: bool,
        as_name: Option<&str>,
        w: W,
    ) -> Result<(Value, W)> {
        let c = self.find_reconciled(key)?;
        let access = self.cp_root(&c)?;
        let root = &access.root;
        let r = resolve_path(root, path).map_err(|e| resolve_err(e, path, &c))?;
        // named as the path was given: the entries of `dir/.` are `./...`, as dockerd's
        let name = base_name(path);
        let stat = path_stat(root, &r, path, &name);
        let node = if r.node.md.file_type().is_symlink() && follow_link {
            resolve_followed(root, path).map_err(|e| resolve_err(e, path, &c))?
        } else {
            r.node
        };
        if path.ends_with('/') && !node.is_dir() {
            return Err(Error::Invalid(format!("{path}: not a directory")));
        }
        let mut b = tar::Builder::new(w);
        append_tree(&mut b, &node, as_name.unwrap_or(&name), Flavor::Plain)?;
        let w = b.into_inner().ctx(|| "finish archive".to_string())?;
        crate::events::container(self, &c, "archive-path", &[]);
        Ok((stat, w))
    }

    /// `PUT /containers/{id}/archive`: extract a tar (any compression) into the directory
    /// `path` of the container. Entries are created below that directory only (no `..`, no
    /// passing through symlinks); owners come from the tar with `copy_uid_gid`, else root.
    pub fn archive_put<R: Read>(
        &self,
        key: &str,
        path: &str,
        reader: R,
        copy_uid_gid: bool,
    ) -> Result<()> {
        let opts = PutOptions {
            copy_uid_gid,
            no_overwrite_dir_non_dir: false,
        };
        self.archive_put_with(key, path, reader, &opts)
    }

    /// `archive_put` with all of the API's options. The directory is resolved and opened in
    /// the container's root in one step and everything is created relative to that fd.
    pub fn archive_put_with<R: Read>(
        &self,
        key: &str,
        path: &str,
        reader: R,
        opts: &PutOptions,
    ) -> Result<()> {
        let c = self.find_reconciled(key)?;
        if c.host_config.readonly_rootfs {
            return Err(Error::Conflict(
                "container rootfs is marked read-only".into(),
            ));
        }
        let access = self.cp_root(&c)?;
        let root = &access.root;
        let node = resolve_followed(root, path).map_err(|e| resolve_err(e, path, &c))?;
        if !node.is_dir() {
            return Err(Error::Invalid(
                "extraction point is not a directory".to_string(),
            ));
        }
        let shown = root.path_of(node.as_fd());
        let dir = || -> Result<std::os::fd::OwnedFd> {
            Ok(node.open_dir().ctx(|| format!("open {path}"))?.into())
        };
        let apply = image::layer::ApplyOptions {
            whiteouts: image::layer::WhiteoutMode::Apply,
            allow_devices: image::layer::running_as_root(),
            chown: opts.copy_uid_gid,
        };
        if !opts.no_overwrite_dir_non_dir {
            image::layer::apply_layer_at(reader, dir()?, &apply)?;
            crate::events::container(self, &c, "extract-to-dir", &[]);
            return Ok(());
        }
        let refused = std::cell::RefCell::new(None);
        let guard = DirNonDirGuard::new(reader, &refused, |name, is_dir| {
            dir_non_dir_conflict(root, &shown, name, is_dir)
        });
        let applied = image::layer::apply_layer_at(guard, dir()?, &apply);
        if let Some(m) = refused.take() {
            return Err(Error::Invalid(m));
        }
        applied?;
        crate::events::container(self, &c, "extract-to-dir", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    #[test]
    fn resolve_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), "x").unwrap();
        symlink("/etc", dir.join("abs")).unwrap();
        symlink("../../../../etc", dir.join("rel")).unwrap();
        let root = Root::open(dir).unwrap();
        let r = resolve_path(&root, "/abs/passwd").unwrap();
        assert_eq!(r.shown, "/etc/passwd");
        assert!(r.node.md.is_file());
        assert_eq!(
            resolve_path(&root, "rel/passwd").unwrap().shown,
            "/etc/passwd"
        );
        let r = resolve_path(&root, "/../../etc/passwd").unwrap();
        assert_eq!(r.shown, "/etc/passwd");
        // the last component is not followed
        let r = resolve_path(&root, "/abs").unwrap();
        assert_eq!(r.shown, "/abs");
        assert!(r.node.md.file_type().is_symlink());
        let r = resolve_path(&root, "/abs/").unwrap();
        assert!(r.node.md.file_type().is_symlink());
        // ... unless asked for its content
        assert_eq!(resolve_path(&root, "/abs/.").unwrap().shown, "/etc");
        assert_eq!(resolve_path(&root, "/").unwrap().shown, "/");
        let e = resolve_path(&root, "/nosuch/x").unwrap_err();
        assert!(is_missing(&e), "{e}");
        let e = resolve_path(&root, "/etc/passwd/x").unwrap_err();
        assert!(is_missing(&e), "{e}");
    }

    #[test]
    fn go_modes() {
        let t = tempfile::tempdir().unwrap();
        let md = std::fs::metadata(t.path()).unwrap();
        assert_ne!(go_file_mode(&md) & (1 << 31), 0);
        symlink("x", t.path().join("l")).unwrap();
        let md = std::fs::symlink_metadata(t.path().join("l")).unwrap();
        assert_eq!(go_file_mode(&md) & (1 << 27), 1 << 27);
    }
}
