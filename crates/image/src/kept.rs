//! Layers kept only as unpacked dirs, without a blob: the builder's layers of a stage no image
//! it exports is made of (a stage only copied or mounted from). Making the layer tar, hashing
//! it and writing the blob cost as much as the step itself for a big layer, for an image
//! nobody saves, pushes or exports.
//!
//! Such a layer is the adopted upper dir of the step's snapshot (see [`crate::adopt`]) under
//! a random id shaped like a digest, which stands for its diff_id and its blob in the image's
//! config and manifest (media type [`KEPT_LAYER`]). Images with one run as any other; saving
//! or pushing them is refused ([`ImageStore::check_exportable`]): the builder builds a stage
//! it exports with real layers.
//!
//! The index records each kept layer with the boot it was made in, before its dir is made.
//! A kill at any point leaves a record, a dir or both that no image names, which `gc` removes
//! like any unused layer. The dirs are never synced (the blob was what made a layer durable),
//! so a layer of an earlier boot is not trusted: its images cannot be used (the build cache
//! misses them, [`ImageStore::kept_usable`]) and `gc` removes it.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::{Image, ImageStore};
use crate::snapshot::SnapshotKind;
use std::sync::OnceLock;

/// The media type of a kept layer in a manifest: berth's own, never in a registry.
pub const KEPT_LAYER: &str = "application/vnd.berth.layer.kept.v1";

/// The current boot (the kernel's random boot id).
pub(crate) fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// A fresh kept layer id: 256 random bits, shaped like a digest (never a content's digest).
fn new_id() -> Digest {
    let bytes: [u8; 32] = rand::random();
    Digest::from_hex(&hex::encode(bytes)).expect("64 hex digits are a digest")
}

impl ImageStore {
    /// Keep the changes of overlay snapshot `id` (its container goes next) as a layer without
    /// a blob: `(layer id, size)`, or None where that cannot be done (no kernel overlayfs as
    /// root, a copied snapshot, the snapshot busy): the caller commits a blob instead.
    pub fn keep_snapshot_layer(&self, id: &str) -> Result<Option<(Digest, u64)>> {
        if !crate::adopt::supported() || self.snapshot_kind(id)?.1 != SnapshotKind::Overlay {
            return Ok(None);
        }
        let layer = new_id();
        self.index.add_kept_layer(&layer, boot_id())?;
        fault::point("image.kept-recorded");
        match self.snapshots.adopt_upper(id, &layer)? {
            Some(size) => {
                self.index.set_layer_size(&layer, size)?;
                Ok(Some((layer, size)))
            }
            None => {
                self.index.remove_layer(&layer)?;
                Ok(None)
            }
        }
    }

    /// Whether layer `diff_id` is a kept layer of this boot with its dir in place.
    fn kept_present(&self, diff_id: &Digest) -> Result<bool> {
        Ok(
            self.index.kept_layer_boot(diff_id)?.as_deref() == Some(boot_id())
                && self.snapshots.has_layer(diff_id),
        )
    }

    /// A kept layer checked before a snapshot stacks it (what `ensure_layer` is for a blob).
    pub(crate) fn ensure_kept(&self, diff_id: &Digest) -> Result<()> {
        if self.kept_present(diff_id)? {
            return Ok(());
        }
        Err(Error::Snapshot(
            diff_id.short().to_string(),
            "a build layer kept without a blob is gone (made before the last reboot, or \
             removed): build the image again"
                .into(),
        ))
    }

    /// Whether every kept layer of `img` can be used (the build cache takes only such images).
    pub fn kept_usable(&self, img: &Image) -> bool {
        img.manifest
            .layers
            .iter()
            .filter(|l| l.media_type == KEPT_LAYER)
            .all(|l| self.kept_present(&l.digest).unwrap_or(false))
    }

    /// Refuse to export (save, push) an image with a kept layer: it has no blob.
    pub fn check_exportable(&self, img: &Image) -> Result<()> {
        if has_kept(img) {
            return Err(crate::error::invalid(
                format!("image {}", img.id()),
                "it is an intermediate build stage whose layers berth kept without blobs; \
                 build it as the target (--target) to save or push it",
            ));
        }
        Ok(())
    }

    /// The kept layers `gc` must remove although images name them: those of an earlier boot
    /// (untrusted, see the module doc).
    pub(crate) fn stale_kept_layers(&self) -> Result<Vec<Digest>> {
        Ok(self
            .index
            .kept_layers()?
            .into_iter()
            .filter(|(_, boot)| boot != boot_id())
            .map(|(d, _)| d)
            .collect())
    }
}

/// Whether `img` has a kept layer.
pub fn has_kept(img: &Image) -> bool {
    img.manifest
        .layers
        .iter()
        .any(|l| l.media_type == KEPT_LAYER)
}
