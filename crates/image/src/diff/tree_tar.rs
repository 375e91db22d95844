//! The one tar writer for file trees: `cp`/`export` archives of a container's rootfs (named as
//! dockerd names them), layer tars of an overlay upper dir (`commit`, `build`, `save`), and
//! host paths (`cp` into a container).
//!
//! Trees are walked by fds ([`crate::rootfd`]): nothing a running container renames or swaps
//! meanwhile can make the writer read a file outside the tree.

use crate::error::{Error, IoContext, Result};
use crate::rootfd::{Node, Root};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What a tree's tar holds besides its files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Files as they are (`cp`, `export`): no xattrs, no whiteout translation.
    #[default]
    Plain,
    /// An overlayfs upper dir as an OCI layer: a 0/0 character device (a whiteout) becomes a
    /// `.wh.<name>` file, an opaque directory gets a `.wh..wh..opq` entry, and xattrs are kept
    /// as PAX `SCHILY.xattr.*` records (overlayfs' own `trusted.overlay.*`/`user.overlay.*` excepted).
    OverlayLayer,
}

/// Write `src` (not followed when a symlink) and everything below it into `b` as `name`
/// (`""`: the directory's content without an entry for the directory itself).
pub fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    src: &Node,
    name: &str,
    flavor: Flavor,
) -> Result<()> {
    let mut t = TreeTar {
        b,
        flavor,
        links: HashMap::new(),
    };
    t.entry(src, name)
}

/// A whole tar of the host path `src` (named `name`, `""` for a directory's content) written
/// to `w`.
pub fn tar_path<W: Write>(src: &Path, name: &str, w: W) -> Result<W> {
    let node = Node::open_host(src).ctx(|| format!("open {}", src.display()))?;
    let mut b = tar::Builder::new(w);
    append_tree(&mut b, &node, name, Flavor::Plain)?;
    b.into_inner().ctx(|| "finish archive".to_string())
}

/// An overlayfs upper directory as a layer tar written to `w`.
pub fn tar_overlay_upper<W: Write>(upper: &Path, w: W) -> Result<W> {
    let top = Root::open(upper)
        .and_then(|r| r.top())
        .ctx(|| format!("open {}", upper.display()))?;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    append_tree(&mut b, &top, "", Flavor::OverlayLayer)?;
    b.into_inner().ctx(|| "finish layer tar".to_string())
}

/// A 0/0 character device: how overlayfs records a deletion in an upper dir.
pub fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// The overlayfs xattr marking a directory that hides everything below it in lower layers.
pub fn is_opaque_xattr(k: &str, v: &[u8]) -> bool {
    crate::overlay_xattr::is_opaque(k, v)
}

struct TreeTar<'b, W: Write> {
    b: &'b mut tar::Builder<W>,
    flavor: Flavor,
    /// (dev, ino) of files with several links: the name written first
    links: HashMap<(u64, u64), String>,
}

fn header_of(md: &std::fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}

fn child_name(name: &str, n: &str) -> String {
    if name.is_empty() || name.ends_with('/') {
        format!("{name}{n}")
    } else {
        format!("{name}/{n}")
    }
}

impl<W: Write> TreeTar<'_, W> {
    fn entry(&mut self, node: &Node, name: &str) -> Result<()> {
        let md = &node.md;
        let ft = md.file_type();
        let mut h = header_of(md);
        let w = |e: io::Error| Error::Io {
            context: format!("write {name} to archive"),
            source: e,
        };
        let opaque = if self.flavor == Flavor::OverlayLayer && !name.is_empty() {
            self.xattrs(node, name)?
        } else {
            false
        };
        if ft.is_dir() {
            if !name.is_empty() {
                h.set_entry_type(tar::EntryType::Directory);
                let dir = child_name(name, "");
                append_named(self.b, &mut h, &dir, io::empty()).map_err(w)?;
                if opaque {
                    let mut oh = tar::Header::new_gnu();
                    oh.set_entry_type(tar::EntryType::Regular);
                    oh.set_mode(0o644);
                    oh.set_size(0);
                    oh.set_mtime(md.mtime().max(0) as u64);
                    let opq = format!("{dir}.wh..wh..opq");
                    append_named(self.b, &mut oh, &opq, io::empty()).map_err(w)?;
                }
            }
            if node.is_pseudo_fs() {
                return Ok(());
            }
            self.children(node, name)?;
        } else if ft.is_symlink() {
            let t = node.read_link().ctx(|| format!("readlink {name}"))?;
            h.set_entry_type(tar::EntryType::Symlink);
            append_link_named(self.b, &mut h, name, &t).map_err(w)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                if let Some(first) = self.links.get(&(md.dev(), md.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    append_link_named(self.b, &mut h, name, Path::new(first)).map_err(w)?;
                    return Ok(());
                }
                self.links.insert((md.dev(), md.ino()), name.to_string());
            }
            let f = node.open_file().ctx(|| format!("open {name}"))?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            append_named(self.b, &mut h, name, f.take(md.len())).map_err(w)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                return Ok(()); // sockets are not archived
            };
            h.set_entry_type(kind);
            let rdev = md.rdev();
            h.set_device_major(libc::major(rdev)).map_err(w)?;
            h.set_device_minor(libc::minor(rdev)).map_err(w)?;
            append_named(self.b, &mut h, name, io::empty()).map_err(w)?;
        }
        Ok(())
    }

    fn children(&mut self, node: &Node, name: &str) -> Result<()> {
        for n in node.names().ctx(|| format!("read {name}"))? {
            let child = match node.child(&n) {
                Ok(c) => c,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // gone meanwhile
                Err(e) => return Err(e).ctx(|| format!("open {name}")),
            };
            let n = String::from_utf8_lossy(&n);
            if self.flavor == Flavor::OverlayLayer && is_whiteout(&child.md) {
                let wh = child_name(name, &format!(".wh.{n}"));
                let mut h = header_of(&child.md);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                append_named(self.b, &mut h, &wh, io::empty()).ctx(|| format!("write {wh}"))?;
                continue;
            }
            self.entry(&child, &child_name(name, &n))?;
        }
        Ok(())
    }

    /// Write a layer entry's xattrs (a PAX record before it); whether it is an opaque dir.
    fn xattrs(&mut self, node: &Node, name: &str) -> Result<bool> {
        let xattrs = node.xattrs().ctx(|| format!("list xattrs of {name}"))?;
        let opaque = xattrs.iter().any(|(k, v)| is_opaque_xattr(k, v));
        let pax: Vec<(String, Vec<u8>)> = xattrs
            .into_iter()
            .filter(|(k, _)| !crate::overlay_xattr::is_overlay_own(k))
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v))
            .collect();
        if !pax.is_empty() {
            self.b
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .ctx(|| format!("write xattrs of {name}"))?;
        }
        Ok(opaque && node.md.is_dir())
    }
}

/// Names tar-rs would rewrite (it drops `./` and refuses `/`) but dockerd's archives of
/// `dir/.` and `/` have (`./x`, `/bin`), and the docker CLI rebases on them.
fn raw_name(name: &str) -> bool {
    name.starts_with("./") || name.starts_with('/')
}
/// Store `value` in a header field as it is, with a GNU long-name (`L`) or long-link (`K`)
/// entry before the header when it does not fit.
fn set_raw<W: Write>(
    b: &mut tar::Builder<W>,
    field: fn(&mut tar::Header) -> &mut [u8; 100],
    h: &mut tar::Header,
    kind: tar::EntryType,
    value: &[u8],
) -> io::Result<()> {
    if value.len() > 100 {
        let mut l = tar::Header::new_gnu();
        l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        l.set_mode(0o644);
        l.set_mtime(0);
        l.set_size(value.len() as u64 + 1);
        l.set_entry_type(kind);
        l.set_cksum();
        b.append(
            &l,
            value
                .iter()
                .copied()
                .chain([0])
                .collect::<Vec<u8>>()
                .as_slice(),
        )?;
    }
    let f = field(h);
    *f = [0; 100];
    let n = value.len().min(100);
    f[..n].copy_from_slice(&value[..n]);
    Ok(())
}

fn name_field(h: &mut tar::Header) -> &mut [u8; 100] {
    &mut h.as_old_mut().name
}

fn link_field(h: &mut tar::Header) -> &mut [u8; 100] {
    &mut h.as_old_mut().linkname
}

fn append_named<W: Write, R: Read>(
    b: &mut tar::Builder<W>,
    h: &mut tar::Header,
    name: &str,
    data: R,
) -> io::Result<()> {
    if !raw_name(name) {
        return b.append_data(h, name, data);
    }
    set_raw(
        b,
        name_field,
        h,
        tar::EntryType::GNULongName,
        name.as_bytes(),
    )?;
    h.set_cksum();
    b.append(h, data)
}

fn append_link_named<W: Write>(
    b: &mut tar::Builder<W>,
    h: &mut tar::Header,
    name: &str,
    target: &Path,
) -> io::Result<()> {
    if !raw_name(name) {
        return b.append_link(h, name, target);
    }
    use std::os::unix::ffi::OsStrExt;
    set_raw(
        b,
        link_field,
        h,
        tar::EntryType::GNULongLink,
        target.as_os_str().as_bytes(),
    )?;
    append_named(b, h, name, io::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn archive_names_as_dockerd() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("d/sub")).unwrap();
        std::fs::write(t.path().join("d/sub/x"), "x").unwrap();
        symlink("sub/x", t.path().join("d/l")).unwrap();
        let names = |name: &str| -> Vec<String> {
            let tar = tar_path(&t.path().join("d"), name, Vec::new()).unwrap();
            let mut a = tar::Archive::new(&tar[..]);
            a.entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    String::from_utf8_lossy(&e.path_bytes()).into_owned()
                })
                .collect()
        };
        // `dir/.` archives as `./...`, `/` as `/...`, a name as `name/...`
        assert_eq!(names("."), ["./", "./l", "./sub/", "./sub/x"]);
        assert_eq!(names("/"), ["/", "/l", "/sub/", "/sub/x"]);
        assert_eq!(names("d"), ["d/", "d/l", "d/sub/", "d/sub/x"]);
        assert_eq!(names(""), ["l", "sub/", "sub/x"]);
        let long = format!("./{}", "n".repeat(150));
        let tar = tar_path(&t.path().join("d/sub/x"), &long, Vec::new()).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&e.path_bytes()), long);
    }

    #[test]
    fn overlay_layer_writes_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/f"), "f").unwrap();
        if nix::sys::stat::mknod(
            &t.path().join("d/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .is_err()
        {
            eprintln!("skipped: mknod needs CAP_MKNOD");
            return;
        }
        let tar = tar_overlay_upper(t.path(), Vec::new()).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let mut names: Vec<(String, tar::EntryType)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let n = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (n, e.header().entry_type())
            })
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            [
                ("d/".to_string(), tar::EntryType::Directory),
                ("d/.wh.gone".to_string(), tar::EntryType::Regular),
                ("d/f".to_string(), tar::EntryType::Regular),
            ]
        );
        // a plain tar of the same tree keeps the device as it is
        let plain = tar_path(t.path(), "", Vec::new()).unwrap();
        let mut a = tar::Archive::new(&plain[..]);
        assert!(a.entries().unwrap().any(|e| {
            let e = e.unwrap();
            e.path_bytes().as_ref() == b"d/gone" && e.header().entry_type() == tar::EntryType::Char
        }));
    }
}
