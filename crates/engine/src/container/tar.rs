//! Writing container paths into tar streams the way dockerd names them, and unpacking one
//! into a local directory.

use crate::error::{Error, IoContext, Result};
use image::rootfd::Node;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Write `src` (not followed when a symlink) and everything below it into a tar as `name`.
/// The tree is walked by fds: nothing a running container renames or swaps meanwhile can make
/// it read a file outside `src` (see [`image::rootfd`]).
pub fn tar_tree<W: Write>(b: &mut tar::Builder<W>, src: &Node, name: &str) -> Result<()> {
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    append_entry(b, src, name, &mut links)
}

/// A whole tar of the host path `src` (named `name`, `""` for a directory's content) written
/// to `w`.
pub fn tar_path<W: Write>(src: &Path, name: &str, w: W) -> Result<W> {
    let node = Node::open_host(src).ctx(|| format!("open {}", src.display()))?;
    let mut b = tar::Builder::new(w);
    tar_tree(&mut b, &node, name)?;
    b.into_inner().ctx(|| "finish archive".to_string())
}

fn append_entry<W: Write>(
    b: &mut tar::Builder<W>,
    node: &Node,
    name: &str,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    let md = &node.md;
    let ft = md.file_type();
    let mut h = tar::Header::new_gnu();
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    let w = |e: io::Error| Error::Io {
        context: format!("write {name} to archive"),
        source: e,
    };
    if ft.is_dir() {
        if !name.is_empty() {
            h.set_entry_type(tar::EntryType::Directory);
            let dir = if name.ends_with('/') {
                name.to_string()
            } else {
                format!("{name}/")
            };
            append_named(b, &mut h, &dir, io::empty()).map_err(w)?;
        }
        if node.is_pseudo_fs() {
            return Ok(());
        }
        for n in node.names().ctx(|| format!("read {name}"))? {
            let child_node = match node.child(&n) {
                Ok(c) => c,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // gone meanwhile
                Err(e) => return Err(e).ctx(|| format!("open {name}")),
            };
            let n = String::from_utf8_lossy(&n);
            let child = if name.is_empty() || name.ends_with('/') {
                format!("{name}{n}")
            } else {
                format!("{name}/{n}")
            };
            append_entry(b, &child_node, &child, links)?;
        }
    } else if ft.is_symlink() {
        let t = node.read_link().ctx(|| format!("readlink {name}"))?;
        h.set_entry_type(tar::EntryType::Symlink);
        append_link_named(b, &mut h, name, &t).map_err(w)?;
    } else if ft.is_file() {
        if md.nlink() > 1 {
            if let Some(first) = links.get(&(md.dev(), md.ino())) {
                h.set_entry_type(tar::EntryType::Link);
                append_link_named(b, &mut h, name, Path::new(first)).map_err(w)?;
                return Ok(());
            }
            links.insert((md.dev(), md.ino()), name.to_string());
        }
        let f = node.open_file().ctx(|| format!("open {name}"))?;
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(md.len());
        append_named(b, &mut h, name, f.take(md.len())).map_err(w)?;
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
        append_named(b, &mut h, name, io::empty()).map_err(w)?;
    }
    Ok(())
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

/// Extract a tar on the host side of `cp` into `dir` (never outside it: no `..`, no writing
/// through symlinks the archive made); owners are not restored, as docker's CLI does.
pub fn untar_local<R: Read>(reader: R, dir: &Path) -> Result<()> {
    let mut a = tar::Archive::new(reader);
    a.set_preserve_ownerships(false);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_overwrite(true);
    a.set_unpack_xattrs(false);
    for e in a.entries().ctx(|| "read archive".to_string())? {
        let mut e = e.ctx(|| "read archive".to_string())?;
        let name = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&name).into_owned();
        if name.split(|b| *b == b'/').any(|c| c == b"..") {
            return Err(Error::Invalid(format!(
                "archive entry {shown:?} would leave the destination"
            )));
        }
        // a directory entry over an existing non-directory (or the reverse) replaces it
        let target = dir.join(shown.trim_start_matches('/'));
        if let Ok(md) = std::fs::symlink_metadata(&target) {
            let is_dir = e.header().entry_type().is_dir();
            if md.is_dir() != is_dir && target != dir {
                if md.is_dir() {
                    std::fs::remove_dir_all(&target)
                } else {
                    std::fs::remove_file(&target)
                }
                .ctx(|| format!("replace {}", target.display()))?;
            }
        }
        e.unpack_in(dir)
            .ctx(|| format!("extract {shown} into {}", dir.display()))?;
    }
    Ok(())
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
}
