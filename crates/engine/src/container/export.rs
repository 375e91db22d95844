//! `docker export`: a container's whole rootfs as a tar.

use crate::engine::Engine;
use crate::error::{IoContext, Result};
use image::diff::tree_tar::{append_tree, Flavor};
use std::io::Write;

impl Engine {
    /// `GET /containers/{id}/export`: the container's whole rootfs as a tar.
    pub fn export<W: Write>(&self, key: &str, w: W) -> Result<W> {
        let c = self.find_reconciled(key)?;
        let access = self.rootfs_access(&c)?;
        let top = access.root.top().ctx(|| "open rootfs".to_string())?;
        let mut b = tar::Builder::new(w);
        append_tree(&mut b, &top, "", Flavor::Plain)?;
        let w = b.into_inner().ctx(|| "finish archive".to_string())?;
        crate::events::container(self, &c, "export", &[]);
        Ok(w)
    }
}
