//! The rootfs of an image for one COPY/ADD step, without a container: a snapshot of the image
//! store (an overlay mount, or a copy where overlayfs cannot work), removed when dropped.
//! A container would cost its record, spec and network setup (~20 ms each) for a rootfs that
//! is only read (the source of `COPY --from`) or written by the builder itself (the step's
//! destination, whose upper dir becomes the layer).

use engine::engine::Engine;
use engine::Result;
use std::path::{Path, PathBuf};

pub(super) struct Snap<'e> {
    engine: &'e Engine,
    id: String,
    root: PathBuf,
}

impl<'e> Snap<'e> {
    /// A fresh snapshot of image `image` (an id or reference). It is `volatile` (no syncs):
    /// it is thrown away, or its upper dir is adopted as a committed layer.
    pub(super) fn of(engine: &'e Engine, image: &str) -> Result<Snap<'e>> {
        let id = format!("build-{}", engine::names::random_id());
        let (root, _) = engine.images()?.create_snapshot_opts(&id, image, true)?;
        Ok(Snap { engine, id, root })
    }

    /// The snapshot's id in the image store (what `commit_snapshot_layer` takes).
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Where its rootfs is (a trusted host path; everything below it is resolved with
    /// `image::rootfd`).
    pub(super) fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Snap<'_> {
    fn drop(&mut self) {
        if let Ok(images) = self.engine.images() {
            let _ = images.remove_snapshot(&self.id);
        }
    }
}
