//! Unpacking a tar into a local directory (the host side of `cp`); the writer is
//! `image::diff::tree_tar`.

use crate::error::{Error, IoContext, Result};
use std::io::Read;
use std::path::Path;

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
