//! The changes in an overlayfs upper dir against its lower layers (`docker diff`).

use super::tree_tar::{is_opaque_xattr, is_whiteout};
use crate::error::{IoContext, Result};
use crate::rootfd::{Node, Root};
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One entry of `docker diff` (the API's Kind: 0 modified, 1 added, 2 deleted).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

impl Change {
    pub fn letter(&self) -> char {
        match self.kind {
            0 => 'C',
            1 => 'A',
            _ => 'D',
        }
    }
}

fn is_opaque(n: &Node) -> bool {
    n.xattrs()
        .is_ok_and(|x| x.iter().any(|(k, v)| is_opaque_xattr(k, v)))
}

fn same_time(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.mtime() == b.mtime()
        && (a.mtime_nsec() == b.mtime_nsec() || a.mtime_nsec() == 0 || b.mtime_nsec() == 0)
}

/// The changes of an overlay upper dir against its lower layers (top first), as docker's
/// overlay driver reports them: a 0/0 device or a `.wh.` name is a deletion, an opaque
/// directory too; anything else is a modification when a lower layer has the path (a
/// directory only when its size, mode or mtime differ) and an addition when none does. The
/// parent of an addition or deletion is reported modified unless it was seen already.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    // walked by fds: a running container changing its upper dir meanwhile cannot make this
    // list or stat anything outside it
    let top = Root::open(upper)
        .and_then(|r| r.top())
        .ctx(|| format!("open {}", upper.display()))?;
    let lowers = lowers
        .iter()
        .map(|l| Root::open(l).ctx(|| format!("open {}", l.display())))
        .collect::<Result<Vec<Root>>>()?;
    let mut out = Vec::new();
    let mut changed_dirs: HashSet<String> = HashSet::new();
    walk_changes(&top, "", &lowers, &mut out, &mut changed_dirs)?;
    Ok(out)
}

fn walk_changes(
    dir: &Node,
    rel: &str,
    lowers: &[Root],
    out: &mut Vec<Change>,
    changed_dirs: &mut HashSet<String>,
) -> Result<()> {
    for n in dir.names().ctx(|| format!("read {rel}/"))? {
        let Ok(node) = dir.child(&n) else {
            continue;
        };
        let n = String::from_utf8_lossy(&n).into_owned();
        let path = format!("{rel}/{n}");
        let md = &node.md;
        let (path, kind) = if let Some(gone) = n.strip_prefix(".wh.") {
            if gone.starts_with(".wh.") {
                continue; // .wh..wh..opq and friends
            }
            (format!("{rel}/{gone}"), 2)
        } else if is_whiteout(md) || (md.is_dir() && is_opaque(&node)) {
            (path, 2)
        } else {
            let mut kind = 1;
            let mut same_dir = false;
            for l in lowers {
                if let Ok(lower) = l.open_beneath(&path) {
                    let lm = &lower.md;
                    if is_whiteout(lm) {
                        break; // deleted below: this is an addition
                    }
                    if lm.is_dir()
                        && md.is_dir()
                        && lm.len() == md.len()
                        && lm.mode() == md.mode()
                        && same_time(lm, md)
                    {
                        same_dir = true;
                    }
                    kind = 0;
                    break;
                }
            }
            if same_dir {
                // unchanged itself, and not yet counted as changed: an addition or deletion
                // below still lists it (as docker's overlay diff does; within the second of
                // the layer's time a deletion can leave its mtime looking unchanged)
                walk_changes(&node, &path, lowers, out, changed_dirs)?;
                continue;
            }
            (path, kind)
        };
        if md.is_dir() {
            changed_dirs.insert(path.clone());
        }
        if kind != 0 {
            let parent = match path.rsplit_once('/') {
                Some(("", _)) | None => "/".to_string(),
                Some((p, _)) => p.to_string(),
            };
            if parent != "/" && changed_dirs.insert(parent.clone()) {
                out.push(Change {
                    path: parent,
                    kind: 0,
                });
            }
        }
        out.push(Change {
            path: path.clone(),
            kind,
        });
        if md.is_dir() && !is_whiteout(md) {
            walk_changes(&node, &path, lowers, out, changed_dirs)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn mknod_whiteout(p: &Path) -> bool {
        nix::sys::stat::mknod(
            p,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .is_ok()
    }

    #[test]
    fn diff_classification() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        for d in ["etc", "usr/lib", "var"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/group"), "g").unwrap();
        std::fs::write(lower.join("etc/passwd"), "p").unwrap();
        std::fs::write(lower.join("usr/lib/x"), "x").unwrap();
        // image layers have old mtimes (timestamps are coarse: dirs made now could tie)
        let old = nix::sys::time::TimeSpec::new(1_600_000_000, 0);
        for d in ["etc", "usr", "usr/lib", "var"] {
            let f = File::open(lower.join(d)).unwrap();
            nix::sys::stat::futimens(&f, &old, &old).unwrap();
        }
        // upper: /newfile added, /etc/passwd modified, /etc/group deleted (.wh. form here;
        // the 0/0 device form needs root), /usr/lib/new added below an unchanged /usr
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("usr/lib")).unwrap();
        std::fs::write(upper.join("newfile"), "n").unwrap();
        std::fs::write(upper.join("etc/passwd"), "p2").unwrap();
        std::fs::write(upper.join("etc/.wh.group"), "").unwrap();
        std::fs::write(upper.join("usr/lib/new"), "").unwrap();
        // make /usr identical to the lower one so it is not reported by itself
        let lm = std::fs::metadata(lower.join("usr")).unwrap();
        let um = std::fs::metadata(upper.join("usr")).unwrap();
        let same_size = lm.len() == um.len();
        let ts = nix::sys::time::TimeSpec::new(lm.mtime(), lm.mtime_nsec());
        let f = File::open(upper.join("usr")).unwrap();
        nix::sys::stat::futimens(&f, &ts, &ts).unwrap();
        // a dir added with content
        std::fs::create_dir_all(upper.join("opt/app")).unwrap();
        std::fs::write(upper.join("opt/app/bin"), "").unwrap();
        let root_dev = mknod_whiteout(&upper.join("var.gone"));
        let ch = changes(&upper, std::slice::from_ref(&lower)).unwrap();
        let got: Vec<String> = ch
            .iter()
            .map(|c| format!("{} {}", c.letter(), c.path))
            .collect();
        let mut want = vec![
            "C /etc",
            "D /etc/group",
            "C /etc/passwd",
            "A /newfile",
            "A /opt",
            "A /opt/app",
            "A /opt/app/bin",
        ];
        if same_size {
            want.push("C /usr/lib");
            want.push("A /usr/lib/new");
        } else {
            want.insert(7, "C /usr");
            want.push("C /usr/lib");
            want.push("A /usr/lib/new");
        }
        if root_dev {
            want.push("D /var.gone");
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_deletion_below_an_unchanged_dir_lists_the_dir() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/group"), "g").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/.wh.group"), "").unwrap();
        // the upper /etc looks like the lower one (same second, a layer time without nsec)
        let lm = std::fs::metadata(lower.join("etc")).unwrap();
        let ts = nix::sys::time::TimeSpec::new(lm.mtime(), 0);
        for d in [lower.join("etc"), upper.join("etc")] {
            let f = File::open(d).unwrap();
            nix::sys::stat::futimens(&f, &ts, &ts).unwrap();
        }
        if std::fs::metadata(lower.join("etc")).unwrap().len()
            != std::fs::metadata(upper.join("etc")).unwrap().len()
        {
            return; // this file system gives the two dirs different sizes: not the case here
        }
        let got: Vec<String> = changes(&upper, std::slice::from_ref(&lower))
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.letter(), c.path))
            .collect();
        assert_eq!(got, vec!["C /etc", "D /etc/group"]);
    }
}
