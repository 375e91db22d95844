//! The rootfs of an image for one COPY/ADD step, without a container: a snapshot of the image
//! store (an overlay mount, or a copy where overlayfs cannot work), removed when dropped.
//! A container would cost its record, spec and network setup (~20 ms each) for a rootfs that
//! is only read (the source of `COPY --from`) or written by the builder itself (the step's
//! destination, whose upper dir becomes the layer).
//!
//! Dropped, it goes behind the build (the reaper's: see `reaper`), which removes it before the
//! build answers. A build killed meanwhile leaves its snapshot (an index record, an overlay mount): its id
//! names the building process (`build-<pid>-<random>`), and [`sweep`] removes the snapshots
//! of builders no longer alive, at every build and `builder prune`.

use super::reaper::{Reaper, Remover};
use engine::engine::Engine;
use engine::Result;
use std::path::{Path, PathBuf};

pub(super) struct Snap<'e> {
    engine: &'e Engine,
    id: String,
    root: PathBuf,
    remover: Remover,
}

impl<'e> Snap<'e> {
    /// A fresh snapshot of image `image` (an id or reference), removed by `reaper` once
    /// dropped. It is `volatile` (no syncs): it is thrown away, or its upper dir is adopted as
    /// a committed layer.
    pub(super) fn of(engine: &'e Engine, image: &str, reaper: &mut Reaper) -> Result<Snap<'e>> {
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            engine::names::random_id()
        );
        let (root, _) = engine.images()?.create_snapshot_opts(&id, image, true)?;
        fault::point("build.snapshot-made");
        Ok(Snap {
            engine,
            id,
            root,
            remover: reaper.remover(engine),
        })
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
        if self.remover.snapshot(&self.id) {
            return;
        }
        if let Ok(images) = self.engine.images() {
            let _ = images.remove_snapshot(&self.id);
        }
    }
}

const PREFIX: &str = "build-";

/// Remove the snapshots of builders that died before dropping them (see the module doc).
pub(crate) fn sweep(engine: &Engine) -> Result<usize> {
    let images = engine.images()?;
    let mut removed = 0;
    for s in images.index.snapshots()? {
        let Some(pid) = builder_pid(&s.id) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            images.remove_snapshot(&s.id)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The pid in a builder snapshot's id, `build-<pid>-<random>`.
fn builder_pid(id: &str) -> Option<u32> {
    let (pid, rest) = id.strip_prefix(PREFIX)?.split_once('-')?;
    (!rest.is_empty()).then_some(())?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builder_pid_is_read_from_the_id_only() {
        assert_eq!(super::builder_pid("build-4242-abcdef"), Some(4242));
        assert_eq!(super::builder_pid("build-abcdef"), None);
        assert_eq!(super::builder_pid("build-4242-"), None);
        assert_eq!(super::builder_pid("0123abcd"), None);
    }
}
