//! The image service: ties the content store, the index and the snapshotter
//! together. Everything `berth` does with images goes through `ImageStore`.

use crate::digest::Digest;
use crate::error::{invalid, Error, IoContext, Result};
use crate::index::{now_rfc3339, ImageRecord, Index, SnapshotRecord};
use crate::reference::Reference;
use crate::snapshot::{SnapshotKind, Snapshotter};
use crate::spec::{self, ConfigInfo, Manifest};
use crate::store::ContentStore;
use crate::trash::Trash;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub struct ImageStore {
    pub root: PathBuf,
    pub content: ContentStore,
    pub index: Index,
    pub snapshots: Snapshotter,
    overlay: OnceLock<bool>,
}

/// A resolved image with its parsed manifest and config.
#[derive(Clone, Debug)]
pub struct Image {
    pub record: ImageRecord,
    pub manifest: Manifest,
    pub config: Value,
    pub info: ConfigInfo,
}

impl Image {
    /// docker's image id: the config digest.
    pub fn id(&self) -> &Digest {
        &self.record.config
    }
}

/// What `rmi` / `prune` did, in docker's words.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<Digest>,
    pub reclaimed: u64,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ImageStore {
    /// Open (creating) a state root (the default is the engine's paths::default_root).
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).ctx(|| format!("create {}", root.display()))?;
        Ok(ImageStore {
            root: root.to_path_buf(),
            content: ContentStore::open(root)?,
            index: Index::open(&root.join("index.db"))?,
            snapshots: Snapshotter::open(root)?,
            overlay: OnceLock::new(),
        })
    }

    /// Find an image by reference, `name@digest`, full or short id.
    pub fn resolve(&self, s: &str) -> Result<ImageRecord> {
        let not_found = || Error::ImageNotFound(s.to_string());
        let full = s.strip_prefix("sha256:");
        if let Some(hex) = full {
            if let Ok(d) = Digest::from_hex(hex) {
                if let Some(r) = self.index.image(&d)? {
                    return Ok(r);
                }
            }
        }
        if full.is_none() {
            if let Ok(r) = Reference::parse(s) {
                if let Some(d) = &r.digest {
                    if let Some(m) = self.index.by_repo_digest(&r.name(), d)? {
                        return self.index.image(&m)?.ok_or_else(not_found);
                    }
                    if let Some(img) = self.index.image(d)? {
                        return Ok(img);
                    }
                } else if let Some(t) = r.tagged() {
                    if let Some(m) = self.index.tag(&t)? {
                        return self.index.image(&m)?.ok_or_else(not_found);
                    }
                }
            }
        }
        let hex = full.unwrap_or(s);
        if is_hex(hex) && hex.len() >= 3 {
            let imgs = self.index.images()?;
            let found: Vec<_> = imgs
                .iter()
                .filter(|i| i.config.hex().starts_with(hex))
                .collect();
            let ids: HashSet<_> = found.iter().map(|i| &i.config).collect();
            match ids.len() {
                0 => {}
                1 => {
                    // several manifests may share a config: prefer a tagged one
                    for f in &found {
                        if !self.index.tags_of(&f.manifest)?.is_empty() {
                            return Ok((*f).clone());
                        }
                    }
                    return Ok(found[0].clone());
                }
                _ => {
                    return Err(invalid(
                        format!("image id {s:?}"),
                        "ambiguous prefix: matches several images",
                    ))
                }
            }
        }
        Err(not_found())
    }

    pub fn load(&self, rec: &ImageRecord) -> Result<Image> {
        let mbytes = self.content.read(&rec.manifest)?;
        let manifest = spec::parse_manifest(&mbytes, &format!("manifest {}", rec.manifest))?;
        let cbytes = self.content.read(&manifest.config.digest)?;
        let (config, info) =
            spec::parse_config(&cbytes, &format!("config {}", manifest.config.digest))?;
        Ok(Image {
            record: rec.clone(),
            manifest,
            config,
            info,
        })
    }

    pub fn get(&self, s: &str) -> Result<Image> {
        let r = self.resolve(s)?;
        self.load(&r)
    }

    /// Register an image whose manifest, config and layer blobs are all in the
    /// content store: verify the layers, unpack them and tag it.
    pub fn add_image(
        &self,
        manifest_bytes: &[u8],
        tags: &[Reference],
        repo_digest: Option<(&str, &Digest)>,
    ) -> Result<Image> {
        // the manifest's name, and those of the blobs written before it unsynced (a built
        // step's layer and config), durable before the index names them
        let mdigest = self.content.put_deferred(manifest_bytes)?;
        self.content.sync_names()?;
        let manifest = spec::parse_manifest(manifest_bytes, &format!("manifest {mdigest}"))?;
        let cbytes = self.content.read(&manifest.config.digest)?;
        let (config, info) =
            spec::parse_config(&cbytes, &format!("config {}", manifest.config.digest))?;
        if info.diff_ids.len() != manifest.layers.len() {
            return Err(invalid(
                format!("image {mdigest}"),
                format!(
                    "manifest has {} layers but config rootfs.diff_ids has {}",
                    manifest.layers.len(),
                    info.diff_ids.len()
                ),
            ));
        }
        let size = self.unpack_layers(&manifest, &info)?;
        let rec = ImageRecord {
            manifest: mdigest,
            config: manifest.config.digest.clone(),
            media_type: manifest.media_type.clone(),
            created: info.created.clone(),
            size,
            added: now_rfc3339(),
        };
        let names: Vec<String> = tags.iter().filter_map(|t| t.tagged()).collect();
        self.index.add_image(&rec, &names, repo_digest)?;
        let rec = self.index.image(&rec.manifest)?.unwrap_or(rec);
        Ok(Image {
            record: rec,
            manifest,
            config,
            info,
        })
    }

    /// Unpack every layer not unpacked yet (in parallel); returns the image size.
    pub fn unpack_layers(&self, manifest: &Manifest, info: &ConfigInfo) -> Result<u64> {
        // (every container's create passes here: no thread for layers already unpacked; a
        // kept layer has no blob to unpack, it is only checked)
        let mut pairs = Vec::new();
        let mut size = 0;
        for (l, diff_id) in manifest.layers.iter().zip(&info.diff_ids) {
            if l.media_type == crate::kept::KEPT_LAYER {
                self.ensure_kept(diff_id)?;
                size += self.index.layer_size(diff_id)?.unwrap_or(0);
            } else if let Some(n) = self.unpacked_size(diff_id)? {
                size += n;
            } else {
                pairs.push((&l.digest, diff_id));
            }
        }
        let threads = match pairs.len() {
            0 | 1 => pairs.len(),
            n => std::thread::available_parallelism()
                .map_or(2, |p| p.get())
                .min(4)
                .min(n),
        };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let Some((blob, diff_id)) = pairs.get(i) else {
                                return Ok(());
                            };
                            self.ensure_layer(blob, diff_id)?;
                        }
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("unpack thread panicked"))
                .collect()
        });
        for r in results {
            r?;
        }
        for (_, diff_id) in &pairs {
            size += self.index.layer_size(diff_id)?.unwrap_or(0);
        }
        Ok(size)
    }

    /// The size of layer `diff_id` if it is unpacked (its dir there and its size recorded).
    fn unpacked_size(&self, diff_id: &Digest) -> Result<Option<u64>> {
        if !self.snapshots.has_layer(diff_id) {
            return Ok(None);
        }
        self.index.layer_size(diff_id)
    }

    /// Unpack one layer blob into its snapshot dir unless present.
    pub fn ensure_layer(&self, blob: &Digest, diff_id: &Digest) -> Result<()> {
        if self.unpacked_size(diff_id)?.is_some() {
            return Ok(());
        }
        let f = self.content.open_blob(blob)?;
        if let Some(size) = self.snapshots.unpack_layer(f, diff_id)? {
            self.index.set_layer_size(diff_id, size)?;
        } else if self.index.layer_size(diff_id)?.is_none() {
            // unpacked by a concurrent process: measure what is there
            let (_, size) = crate::layer::diff_id_of(self.content.open_blob(blob)?)?;
            self.index.set_layer_size(diff_id, size)?;
        }
        Ok(())
    }

    pub fn tag(&self, source: &str, target: &str) -> Result<Reference> {
        let rec = self.resolve(source)?;
        let r = Reference::parse(target)?;
        let t = r.tagged().ok_or_else(|| Error::InvalidReference {
            reference: target.into(),
            reason: "a tag target cannot carry a digest".into(),
        })?;
        if r.digest.is_some() {
            return Err(Error::InvalidReference {
                reference: target.into(),
                reason: "a tag target cannot carry a digest".into(),
            });
        }
        self.index.set_tag(&t, &rec.manifest)?;
        Ok(r)
    }

    /// Snapshots (containers) using an image.
    pub fn users_of(&self, rec: &ImageRecord) -> Result<Vec<String>> {
        Ok(self
            .index
            .snapshots()?
            .into_iter()
            .filter(|s| s.image == rec.manifest)
            .map(|s| s.id)
            .collect())
    }

    /// `docker rmi`: untag, and delete the image when no tag is left.
    pub fn remove(&self, s: &str, force: bool) -> Result<Removed> {
        let rec = self.resolve(s)?;
        let tags = self.index.tags_of(&rec.manifest)?;
        let mut out = Removed::default();
        let by_tag = Reference::parse(s)
            .ok()
            .and_then(|r| if r.digest.is_none() { r.tagged() } else { None })
            .filter(|t| tags.contains(t));
        if let Some(t) = &by_tag {
            if tags.len() > 1 {
                self.index.remove_tag(t)?;
                out.untagged.push(familiar(t));
                return Ok(out);
            }
        } else if tags.len() > 1 && !force {
            return Err(Error::InUse {
                image: s.to_string(),
                users: format!(
                    "{} tags ({})",
                    tags.len(),
                    tags.iter()
                        .map(|t| familiar(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let users = self.users_of(&rec)?;
        if !users.is_empty() && !force {
            return Err(Error::InUse {
                image: s.to_string(),
                users: format!("container snapshot(s) {}", users.join(", ")),
            });
        }
        for t in &tags {
            out.untagged.push(familiar(t));
        }
        for u in users {
            self.remove_snapshot(&u)?;
        }
        self.index.remove_image(&rec.manifest)?;
        out.deleted.push(rec.config.clone());
        out.reclaimed += self.gc()?;
        Ok(out)
    }

    /// `image prune`: remove untagged images (all unused ones with `all`) and
    /// then every blob and layer directory nothing references.
    pub fn prune(&self, all: bool) -> Result<Removed> {
        self.prune_matching(all, &|_| true)
    }

    /// [`ImageStore::prune`] of only the images `select` picks (the API's `label` and `until`
    /// filters).
    pub fn prune_matching(
        &self,
        all: bool,
        select: &dyn Fn(&ImageRecord) -> bool,
    ) -> Result<Removed> {
        let mut out = Removed::default();
        let used: HashSet<Digest> = self
            .index
            .snapshots()?
            .into_iter()
            .map(|s| s.image)
            .collect();
        for img in self.index.images()? {
            if used.contains(&img.manifest) || !select(&img) {
                continue;
            }
            let tags = self.index.tags_of(&img.manifest)?;
            if tags.is_empty() || all {
                for t in &tags {
                    out.untagged.push(familiar(t));
                }
                self.index.remove_image(&img.manifest)?;
                out.deleted.push(img.config.clone());
            }
        }
        out.reclaimed = self.gc()?;
        Ok(out)
    }

    /// Delete blobs and unpacked layers no image references. Returns bytes freed.
    pub fn gc(&self) -> Result<u64> {
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut layers: HashSet<Digest> = HashSet::new();
        for img in self.index.images()? {
            blobs.insert(img.manifest.clone());
            for (_, d) in self.index.repo_digests_of(&img.manifest)? {
                blobs.insert(d);
            }
            match self.load(&img) {
                Ok(i) => {
                    blobs.insert(i.manifest.config.digest.clone());
                    blobs.extend(i.manifest.layers.iter().map(|l| l.digest.clone()));
                    layers.extend(i.info.diff_ids.iter().cloned());
                }
                // an image with missing blobs keeps nothing else alive
                Err(Error::BlobNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // kept layers of an earlier boot go although images name them (see `crate::kept`)
        for stale in self.stale_kept_layers()? {
            layers.remove(&stale);
        }
        let mut freed = 0;
        for b in self.content.list()? {
            if !blobs.contains(&b) {
                freed += self.content.size(&b).unwrap_or(0);
                self.content.delete(&b)?;
            }
        }
        for l in self.snapshots.layer_dirs()? {
            if !layers.contains(&l) {
                freed += self.index.layer_size(&l)?.unwrap_or(0);
                self.snapshots.remove_layer(&l)?;
                self.index.remove_layer(&l)?;
            }
        }
        // the record of a kept layer whose dir was never made (a build killed in between)
        for (id, _) in self.index.kept_layers()? {
            if !layers.contains(&id) && !self.snapshots.has_layer(&id) {
                self.index.remove_layer(&id)?;
            }
        }
        Ok(freed)
    }

    /// Choose the snapshotter explicitly (false: the copying fallback) instead
    /// of probing overlayfs; only effective before the first snapshot.
    pub fn use_overlay(&self, enabled: bool) {
        let _ = self.overlay.set(enabled);
    }

    fn overlay_ok(&self) -> bool {
        *self.overlay.get_or_init(|| {
            // The probe mounts a tiny overlay; its answer is remembered per state root (the
            // filesystem under it does not change), so a container start does not pay for it.
            if std::env::var("BERTH_SNAPSHOTTER").as_deref() == Ok("copy") {
                return false;
            }
            let marker = self.root.join("snapshots").join(".overlay-supported");
            match std::fs::read_to_string(&marker).as_deref() {
                Ok("1") => true,
                Ok("0") => false,
                _ => {
                    let ok = self.snapshots.overlay_supported();
                    let _ = std::fs::write(&marker, if ok { "1" } else { "0" });
                    ok
                }
            }
        })
    }

    /// Create a container rootfs for `id` from an image: an overlay mount (or a
    /// copy where overlayfs is unavailable). Returns the rootfs path.
    pub fn create_snapshot(&self, id: &str, image: &str) -> Result<(PathBuf, SnapshotKind)> {
        self.create_snapshot_opts(id, image, false)
    }

    /// [`ImageStore::create_snapshot`]; `volatile` for a container that is removed when it
    /// exits (see `Snapshotter::prepare_overlay_opts`).
    pub fn create_snapshot_opts(
        &self,
        id: &str,
        image: &str,
        volatile: bool,
    ) -> Result<(PathBuf, SnapshotKind)> {
        if self.index.snapshot(id)?.is_some() {
            return Err(Error::Snapshot(id.into(), "already exists".into()));
        }
        let img = self.get(image)?;
        self.unpack_layers(&img.manifest, &img.info)?;
        let (path, kind) = if self.overlay_ok() {
            (
                self.snapshots
                    .prepare_overlay_opts(id, &img.info.diff_ids, volatile)?,
                SnapshotKind::Overlay,
            )
        } else {
            let blobs = img
                .manifest
                .layers
                .iter()
                .map(|l| Ok(Box::new(self.content.open_blob(&l.digest)?) as Box<dyn std::io::Read>))
                .collect::<Result<Vec<_>>>()?;
            (self.snapshots.prepare_copy(id, blobs)?, SnapshotKind::Copy)
        };
        let rec = SnapshotRecord {
            id: id.to_string(),
            image: img.record.manifest.clone(),
            kind: kind.as_str().into(),
            created: now_rfc3339(),
        };
        if let Err(e) = self.index.add_snapshot(&rec) {
            let _ = self.snapshots.remove(id, &self.trash());
            return Err(e);
        }
        Ok((path, kind))
    }

    pub fn snapshot_kind(&self, id: &str) -> Result<(SnapshotRecord, SnapshotKind)> {
        let rec = self
            .index
            .snapshot(id)?
            .ok_or_else(|| Error::Snapshot(id.into(), "no such snapshot".into()))?;
        let kind = if rec.kind == "copy" {
            SnapshotKind::Copy
        } else {
            SnapshotKind::Overlay
        };
        Ok((rec, kind))
    }

    /// Mount an existing snapshot again (after a reboot) and return its rootfs.
    pub fn mount_snapshot(&self, id: &str) -> Result<PathBuf> {
        let (rec, kind) = self.snapshot_kind(id)?;
        if kind == SnapshotKind::Overlay {
            let img = self.load(
                &self
                    .index
                    .image(&rec.image)?
                    .ok_or_else(|| Error::ImageNotFound(rec.image.to_string()))?,
            )?;
            self.snapshots.mount_overlay(id, &img.info.diff_ids)?;
        }
        Ok(self.snapshots.rootfs(id, kind))
    }

    pub fn remove_snapshot(&self, id: &str) -> Result<()> {
        self.remove_snapshot_into(id, &self.trash())
    }

    /// [`ImageStore::remove_snapshot`], its directories left in `trash` for the caller to
    /// empty when nobody waits (see [`Trash`]).
    pub fn remove_snapshot_into(&self, id: &str, trash: &Trash) -> Result<()> {
        self.snapshots.remove(id, trash)?;
        self.index.remove_snapshot(id)
    }

    /// The state root's trash (see [`Trash`]).
    pub fn trash(&self) -> Trash {
        Trash::of_root(&self.root)
    }

    /// Write a snapshot's changes (its upper dir) as a layer tar.
    pub fn diff_snapshot<W: std::io::Write>(&self, id: &str, w: W) -> Result<W> {
        let (_, kind) = self.snapshot_kind(id)?;
        self.snapshots.diff(id, kind, w)
    }

    /// A snapshot's changes as a layer blob of the content store, written once and hashed as
    /// it is written (kept uncompressed, its digest is its diff_id; compressed only if a push
    /// asks). With `adopt` (its container goes next) the upper dir becomes the layer's
    /// unpacked dir where it can (see `Snapshotter::adopt_upper`), so the blob is not
    /// unpacked again. Returns the diff_id and the blob's size.
    /// The blob's name is durable once an image names it ([`add_image`](Self::add_image)
    /// syncs the blob directory first).
    pub fn commit_snapshot_layer(&self, id: &str, adopt: bool) -> Result<(Digest, u64)> {
        let w = self.diff_snapshot(id, self.content.writer(None, None)?)?;
        let size = w.written();
        let diff_id = w.commit_deferred()?;
        if adopt {
            if let Some(n) = self.snapshots.adopt_upper(id, &diff_id)? {
                self.index.set_layer_size(&diff_id, n)?;
            }
        }
        Ok((diff_id, size))
    }
}

/// `docker.io/library/busybox:latest` → `busybox:latest`
pub fn familiar(name: &str) -> String {
    Reference::parse(name)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| name.to_string())
}
