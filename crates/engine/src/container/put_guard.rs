//! `archive_put`'s check of an incoming tar stream: an entry that would replace a directory
//! with a non-directory (or the reverse) is refused, as dockerd does, while the stream is read.

use crate::container::archive::resolve_path;
use image::rootfd::Root;
use std::io::{self, Read};

/// How `archive_put` extracts.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// owners from the tar (else root), `cp -a`
    pub copy_uid_gid: bool,
    /// refuse to replace a directory with a non-directory or the reverse (the docker CLI
    /// always asks for this)
    pub no_overwrite_dir_non_dir: bool,
}

/// The refusal `noOverwriteDirNonDir` makes for an entry `name` (directory or not) of a tar
/// extracted into the container directory `dir`, if any.
pub fn dir_non_dir_conflict(
    root: &Root,
    dir: &str,
    name: &str,
    is_dir: bool,
) -> std::result::Result<(), String> {
    let name = name.trim_start_matches("./").trim_matches('/');
    if name.is_empty() || name == "." {
        return Ok(());
    }
    let shown = format!("{}/{name}", dir.trim_end_matches('/'));
    let Ok(r) = resolve_path(root, &shown) else {
        return Ok(());
    };
    match r.node.md.is_dir() {
        true if !is_dir => Err(format!(
            "cannot overwrite directory {:?} with non-directory",
            r.shown
        )),
        false if is_dir => Err(format!(
            "cannot overwrite non-directory {:?} with directory",
            r.shown
        )),
        _ => Ok(()),
    }
}

/// A reader of an uncompressed tar that checks each entry's name with `check` as its header
/// goes by, before the consumer sees it; a refusal is kept in `refused` and ends the read. A
/// stream that is not a plain tar (compressed, say) is passed on unchecked.
pub struct DirNonDirGuard<'a, R, F> {
    inner: R,
    refused: &'a std::cell::RefCell<Option<String>>,
    check: F,
    header: Vec<u8>,
    /// bytes of the current entry's data (padding included) still to pass
    skip: u64,
    /// the data of a GNU long name (`L`) or pax (`x`) entry being read, and how much of it
    /// is still to come
    capture: Option<(u8, Vec<u8>, u64)>,
    long_name: Option<String>,
    done: bool,
}

impl<'a, R: Read, F: FnMut(&str, bool) -> std::result::Result<(), String>>
    DirNonDirGuard<'a, R, F>
{
    pub fn new(inner: R, refused: &'a std::cell::RefCell<Option<String>>, check: F) -> Self {
        DirNonDirGuard {
            inner,
            refused,
            check,
            header: Vec::with_capacity(512),
            skip: 0,
            capture: None,
            long_name: None,
            done: false,
        }
    }

    fn scan(&mut self, mut data: &[u8]) -> std::result::Result<(), String> {
        while !data.is_empty() && !self.done {
            if self.skip > 0 {
                let k = (self.skip.min(data.len() as u64)) as usize;
                if let Some((_, buf, left)) = &mut self.capture {
                    let c = (*left).min(k as u64) as usize;
                    buf.extend_from_slice(&data[..c]);
                    *left -= c as u64;
                }
                self.skip -= k as u64;
                data = &data[k..];
                if self.skip == 0 {
                    self.end_capture();
                }
                continue;
            }
            let k = (512 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..k]);
            data = &data[k..];
            if self.header.len() == 512 {
                let h = std::mem::take(&mut self.header);
                self.entry(&h)?;
                self.header = h;
                self.header.clear();
            }
        }
        Ok(())
    }

    fn end_capture(&mut self) {
        if let Some((kind, buf, _)) = self.capture.take() {
            let name = if kind == b'L' {
                let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
                Some(String::from_utf8_lossy(&buf[..end]).into_owned())
            } else {
                pax_path(&buf)
            };
            if name.is_some() {
                self.long_name = name;
            }
        }
    }

    fn entry(&mut self, h: &[u8]) -> std::result::Result<(), String> {
        if h.iter().all(|b| *b == 0) || !tar_checksum_ok(h) {
            // the end of the archive, or not a tar we read
            self.done = true;
            return Ok(());
        }
        let Some(size) = tar_size(&h[124..136]) else {
            self.done = true;
            return Ok(());
        };
        let kind = h[156];
        self.skip = size.div_ceil(512) * 512;
        match kind {
            b'L' | b'x' => {
                self.capture = Some((kind, Vec::new(), size.min(1 << 20)));
                if size == 0 {
                    self.end_capture();
                }
            }
            b'g' | b'K' => {}
            _ => {
                let name = match self.long_name.take() {
                    Some(n) => n,
                    None => {
                        let field = |r: std::ops::Range<usize>| {
                            let f = &h[r];
                            let end = f.iter().position(|b| *b == 0).unwrap_or(f.len());
                            String::from_utf8_lossy(&f[..end]).into_owned()
                        };
                        let (name, prefix) = (field(0..100), field(345..500));
                        if &h[257..262] == b"ustar" && !prefix.is_empty() && h[263] != b' ' {
                            format!("{prefix}/{name}")
                        } else {
                            name
                        }
                    }
                };
                (self.check)(&name, kind == b'5')?;
            }
        }
        Ok(())
    }
}

impl<R: Read, F: FnMut(&str, bool) -> std::result::Result<(), String>> Read
    for DirNonDirGuard<'_, R, F>
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(m) = self.scan(&buf[..n]) {
            *self.refused.borrow_mut() = Some(m.clone());
            self.done = true;
            return Err(io::Error::new(io::ErrorKind::InvalidData, m));
        }
        Ok(n)
    }
}

/// A tar header's checksum: the sum of its bytes with the checksum field as spaces.
fn tar_checksum_ok(h: &[u8]) -> bool {
    let want = tar_size(&h[148..156]);
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    want == Some(sum)
}

/// A tar number field: octal (NUL/space padded), or base-256 when the high bit is set.
fn tar_size(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for b in &f[1..] {
            v = v.checked_mul(256)? + u64::from(*b);
        }
        return Some(v);
    }
    let s: String = f
        .iter()
        .map(|b| *b as char)
        .filter(|c| !matches!(c, '\0' | ' '))
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(&s, 8).ok()
}

/// The `path` record of a pax extended header.
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|rec| {
        let (_, kv) = rec.split_once(' ')?;
        kv.strip_prefix("path=").map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_non_dir_guard() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("dst/dir")).unwrap();
        std::fs::write(root.join("dst/file"), "f").unwrap();
        let tar_of = |entries: &[(&str, bool)]| -> Vec<u8> {
            let mut b = tar::Builder::new(Vec::new());
            for (name, dir) in entries {
                let mut h = tar::Header::new_gnu();
                h.set_mode(0o755);
                h.set_size(0);
                h.set_entry_type(if *dir {
                    tar::EntryType::Directory
                } else {
                    tar::EntryType::Regular
                });
                b.append_data(&mut h, name, io::empty()).unwrap();
            }
            b.into_inner().unwrap()
        };
        let run = |data: Vec<u8>| -> Option<String> {
            let refused = std::cell::RefCell::new(None);
            let r = Root::open(root).unwrap();
            let mut g = DirNonDirGuard::new(&data[..], &refused, |n, d| {
                dir_non_dir_conflict(&r, "/dst", n, d)
            });
            let mut sink = Vec::new();
            let r = io::copy(&mut g, &mut sink);
            assert_eq!(r.is_err(), refused.borrow().is_some());
            refused.take()
        };
        assert_eq!(
            run(tar_of(&[("dir/", true), ("new", false), ("file", false)])),
            None
        );
        let e = run(tar_of(&[("new", false), ("dir", false)])).unwrap();
        assert_eq!(
            e,
            "cannot overwrite directory \"/dst/dir\" with non-directory"
        );
        let e = run(tar_of(&[("file/", true)])).unwrap();
        assert!(
            e.contains("non-directory \"/dst/file\" with directory"),
            "{e}"
        );
        // a long name (GNU L entry) is checked by its full name
        let long = format!("{}/{}", "a".repeat(120), "b");
        assert_eq!(run(tar_of(&[(&long, false)])), None);
        std::fs::create_dir_all(root.join("dst").join(&long)).unwrap();
        assert!(run(tar_of(&[(&long, false)])).is_some());
        // not a tar (compressed, say): passed on unchecked
        assert_eq!(run(vec![0x1f, 0x8b, 8, 0, 1, 2, 3]), None);
    }
}
