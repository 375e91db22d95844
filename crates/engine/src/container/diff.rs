//! `docker diff`: the changes in a container's writable layer.

use crate::engine::Engine;
use crate::error::{Error, Result};
use image::diff::changes::{changes, Change};
use std::path::PathBuf;

/// What docker keeps in a container's init layer (mount points for the files and file
/// systems it mounts): not changes of the container's own.
const INIT_PATHS: &[&str] = &[
    "/.dockerenv",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/mtab",
    "/dev",
    "/dev/console",
    "/dev/pts",
    "/dev/shm",
    "/proc",
    "/sys",
];

/// Drop the init layer's additions and changes (docker diffs against the init layer, and its
/// files are bind mounts over it: an image's own `/etc/hosts` replaced by the container's is
/// no change of the container's), and directories reported modified only because they hold
/// one of those (nothing else changed below them). A deletion is the container's own.
pub fn without_init_paths(all: Vec<Change>) -> Vec<Change> {
    let is_init = |c: &Change| c.kind != 2 && INIT_PATHS.contains(&c.path.as_str());
    let dropped: Vec<String> = all
        .iter()
        .filter(|c| is_init(c))
        .map(|c| c.path.clone())
        .collect();
    let kept: Vec<Change> = all.into_iter().filter(|c| !is_init(c)).collect();
    let under = |dir: &str, p: &str| {
        p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/'
    };
    kept.iter()
        .filter(|c| {
            if c.kind != 0 || !dropped.iter().any(|d| under(&c.path, d)) {
                return true;
            }
            kept.iter().any(|o| under(&c.path, &o.path))
        })
        .cloned()
        .collect()
}

impl Engine {
    /// `GET /containers/{id}/changes`.
    pub fn diff(&self, key: &str) -> Result<Vec<Change>> {
        let c = self.find_reconciled(key)?;
        let images = self.images()?;
        let (rec, kind) = images.snapshot_kind(&c.id)?;
        if kind != image::snapshot::SnapshotKind::Overlay {
            return Err(Error::Other(
                "diff of a copied (non-overlay) snapshot is not supported".into(),
            ));
        }
        let img = images.load(
            &images
                .index
                .image(&rec.image)?
                .ok_or_else(|| Error::NoSuchImage(rec.image.to_string()))?,
        )?;
        let lowers: Vec<PathBuf> = img
            .info
            .diff_ids
            .iter()
            .rev()
            .map(|d| images.snapshots.layer_dir(d))
            .collect();
        let all = changes(&images.snapshots.upper_dir(&c.id), &lowers)?;
        Ok(without_init_paths(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_paths_hidden() {
        let ch = |k: u8, p: &str| Change {
            path: p.into(),
            kind: k,
        };
        let got = without_init_paths(vec![
            ch(0, "/etc"),
            ch(1, "/etc/hostname"),
            ch(1, "/etc/hosts"),
            ch(1, "/newfile"),
        ]);
        assert_eq!(got, vec![ch(1, "/newfile")]);
        let got = without_init_paths(vec![
            ch(0, "/etc"),
            ch(2, "/etc/group"),
            ch(1, "/etc/hostname"),
        ]);
        assert_eq!(got, vec![ch(0, "/etc"), ch(2, "/etc/group")]);
        // an image that ships them: modified, not added (docker-py's test_diff)
        let got = without_init_paths(vec![
            ch(0, "/etc"),
            ch(0, "/etc/hostname"),
            ch(0, "/etc/hosts"),
            ch(0, "/etc/resolv.conf"),
            ch(1, "/test"),
        ]);
        assert_eq!(got, vec![ch(1, "/test")]);
    }
}
