//! `save` / `load` in docker's archive format and as an OCI layout
//! (`oci-archive`), and `import` of a rootfs tarball.

use crate::digest::Digest;
use crate::error::{invalid, Error, IoContext, Result};
use crate::images::{familiar, Image, ImageStore};
use crate::index::now_rfc3339;
use crate::layer::{self, ApplyOptions, Compression, WhiteoutMode};
use crate::reference::Reference;
use crate::spec::{self, Platform};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// docker's `save` format: manifest.json + config + uncompressed layers
    /// (written together with an OCI layout, as docker 25+ does).
    Docker,
    /// An OCI image layout with the blobs as stored.
    Oci,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(store: &ImageStore, prefix: &str) -> Result<TempDir> {
    let p = store
        .content
        .tmp_dir()
        .join(format!("{prefix}-{}", crate::store::random_suffix()));
    std::fs::create_dir(&p).ctx(|| format!("create {}", p.display()))?;
    Ok(TempDir(p))
}

/// Archive members are untrusted: resolve their names inside the temp dir.
fn safe_join(base: &Path, name: &str, what: &str) -> Result<PathBuf> {
    let mut p = base.to_path_buf();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::UnsafePath {
                    path: name.to_string(),
                    reason: format!("'..' in {what}"),
                })
            }
            c => p.push(c),
        }
    }
    let md = std::fs::symlink_metadata(&p)
        .ctx(|| format!("{what}: {name} is missing from the archive"))?;
    if !md.is_file() {
        return Err(invalid(what, format!("{name} is not a regular file")));
    }
    Ok(p)
}

fn read_json(p: &Path, what: &str) -> Result<Value> {
    let b = std::fs::read(p).ctx(|| format!("read {what}"))?;
    serde_json::from_slice(&b).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })
}

/// Copy a file into the content store, checking its digest when known.
fn ingest(store: &ImageStore, p: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
    let mut f = File::open(p).ctx(|| format!("open {}", p.display()))?;
    store.content.put_reader(&mut f, expected)
}

fn layer_media_type(store: &ImageStore, d: &Digest) -> Result<&'static str> {
    let mut r = BufReader::new(store.content.open_blob(d)?);
    Ok(
        match layer::detect_compression(&mut r).ctx(|| format!("read blob {d}"))? {
            Compression::None => spec::OCI_LAYER,
            Compression::Gzip => spec::OCI_LAYER_GZIP,
            Compression::Zstd => spec::OCI_LAYER_ZSTD,
        },
    )
}

/// Load a docker-archive or OCI-layout tarball. Returns the images loaded and
/// the names they got.
pub fn load<R: Read>(
    store: &ImageStore,
    reader: R,
    platform: &Platform,
) -> Result<Vec<(Image, Vec<String>)>> {
    let tmp = temp_dir(store, "load")?;
    let opts = ApplyOptions {
        whiteouts: WhiteoutMode::Apply,
        allow_devices: false,
        chown: false,
    };
    layer::apply_layer(reader, &tmp.0, &opts)?;
    if tmp.0.join("manifest.json").is_file() {
        load_docker(store, &tmp.0)
    } else if tmp.0.join("index.json").is_file() {
        load_oci(store, &tmp.0, platform)
    } else {
        Err(invalid(
            "archive",
            "neither manifest.json (docker archive) nor index.json (OCI layout) found",
        ))
    }
}

/// What a load reports, as docker words it: `Loaded image: NAME` for each name an image got,
/// `Loaded image ID: ID` for an image without one.
pub fn loaded_messages(loaded: &[(Image, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (img, names) in loaded {
        if names.is_empty() {
            out.push(format!("Loaded image ID: {}", img.id()));
        }
        out.extend(names.iter().map(|n| format!("Loaded image: {n}")));
    }
    out
}

fn load_docker(store: &ImageStore, dir: &Path) -> Result<Vec<(Image, Vec<String>)>> {
    let m = read_json(&dir.join("manifest.json"), "manifest.json")?;
    let entries = m
        .as_array()
        .ok_or_else(|| invalid("manifest.json", "not a JSON array"))?;
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let what = format!("manifest.json entry {i}");
        let cfg_name = e
            .get("Config")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&what, "missing Config"))?;
        let cfg_path = safe_join(dir, cfg_name, &what)?;
        let (cfg_digest, cfg_size) = ingest(store, &cfg_path, None)?;
        let mut layers = Vec::new();
        for l in e
            .get("Layers")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(&what, "missing Layers"))?
        {
            let name = l
                .as_str()
                .ok_or_else(|| invalid(&what, "Layers entry is not a string"))?;
            let p = safe_join(dir, name, &what)?;
            let (d, size) = ingest(store, &p, None)?;
            layers.push(json!({"mediaType": layer_media_type(store, &d)?, "digest": d.to_string(), "size": size}));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": spec::OCI_MANIFEST,
            "config": {"mediaType": spec::OCI_CONFIG, "digest": cfg_digest.to_string(), "size": cfg_size},
            "layers": layers,
        });
        let mbytes = serde_json::to_vec(&manifest).expect("json");
        let mut tags = Vec::new();
        for t in e
            .get("RepoTags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let t = t
                .as_str()
                .ok_or_else(|| invalid(&what, "RepoTags entry is not a string"))?;
            tags.push(Reference::parse(t)?);
        }
        let img = store.add_image(&mbytes, &tags, None)?;
        out.push((img, tags.iter().map(|t| t.familiar()).collect()));
    }
    Ok(out)
}

fn load_oci(
    store: &ImageStore,
    dir: &Path,
    platform: &Platform,
) -> Result<Vec<(Image, Vec<String>)>> {
    let index = read_json(&dir.join("index.json"), "index.json")?;
    // every blob of the layout goes into the store, verified by its name
    let blobs = dir.join("blobs/sha256");
    if blobs.is_dir() {
        for e in std::fs::read_dir(&blobs).ctx(|| "read blobs/sha256".to_string())? {
            let e = e.ctx(|| "read blobs/sha256".to_string())?;
            let name = e.file_name().to_string_lossy().into_owned();
            let d = Digest::from_hex(&name).map_err(|_| {
                invalid(
                    "OCI layout",
                    format!("blob name {name:?} is not a sha256 digest"),
                )
            })?;
            if !store.content.has(&d) {
                ingest(store, &e.path(), Some(&d))?;
            }
        }
    }
    let mut out = Vec::new();
    let manifests = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("index.json", "missing manifests"))?;
    for m in manifests {
        let ann = m.get("annotations");
        let get = |k: &str| {
            ann.and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name = get("io.containerd.image.name").or_else(|| {
            get("org.opencontainers.image.ref.name").filter(|n| n.contains(':') || n.contains('/'))
        });
        let tags: Vec<Reference> = name
            .map(|n| Reference::parse(&n))
            .transpose()?
            .into_iter()
            .collect();
        let d = Digest::parse(m.get("digest").and_then(Value::as_str).unwrap_or(""))?;
        let bytes = store.content.read(&d)?;
        let (kind, _) = spec::kind_of(
            &bytes,
            m.get("mediaType").and_then(Value::as_str),
            "index.json entry",
        )?;
        let (mbytes, repo_digest) = if kind == spec::Parsed::Index {
            let entries = spec::parse_index(&bytes, &format!("index {d}"))?;
            let e = spec::select_platform(&entries, platform, &format!("index {d}"))?;
            (store.content.read(&e.descriptor.digest)?, Some(d.clone()))
        } else {
            (bytes, Some(d.clone()))
        };
        let rd = tags.first().map(|t| t.name());
        let img = store.add_image(&mbytes, &tags, rd.as_deref().zip(repo_digest.as_ref()))?;
        out.push((img, tags.iter().map(|t| t.familiar()).collect()));
    }
    Ok(out)
}

fn append_file<W: Write>(
    b: &mut tar::Builder<W>,
    name: &str,
    data: &mut dyn Read,
    size: u64,
) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    b.append_data(&mut h, name, data)
        .ctx(|| format!("write {name} to archive"))
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(0);
    b.append_data(&mut h, name, io::empty())
        .ctx(|| format!("write {name} to archive"))
}

/// Write images as a docker archive or an OCI layout tarball. `names` are
/// what the user asked for (references or ids).
pub fn save<W: Write>(
    store: &ImageStore,
    names: &[String],
    format: ArchiveFormat,
    w: W,
) -> Result<W> {
    let mut s = Saver {
        store,
        b: tar::Builder::new(w),
        written: HashSet::new(),
        docker_manifest: Vec::new(),
        index_manifests: Vec::new(),
    };
    append_dir(&mut s.b, "blobs/")?;
    append_dir(&mut s.b, "blobs/sha256/")?;
    for n in names {
        for (img, tags) in save_targets(store, n)? {
            s.put_stored(&img.manifest.config.digest)?;
            match format {
                ArchiveFormat::Oci => s.oci_image(&img, &tags)?,
                ArchiveFormat::Docker => s.docker_image(&img, &tags)?,
            }
        }
    }
    s.finish(format)
}

/// What saving `n` writes, as docker's `save` (its `parseNames`): a tagged reference, its
/// image under that tag; a repository name without a tag, every image of that repository
/// under its tags there; an id or a digest reference, its image without a tag (so `load`
/// gives it back untagged, `Loaded image ID: ...`).
pub fn save_targets(store: &ImageStore, n: &str) -> Result<Vec<(Image, Vec<Reference>)>> {
    let last = n.rsplit('/').next().unwrap_or(n);
    let (name_only, tagged) = (!last.contains([':', '@']), !n.contains('@'));
    let r = match Reference::parse(n) {
        Ok(r) if tagged => r,
        _ => return Ok(vec![(store.get(n)?, Vec::new())]),
    };
    if !name_only {
        // `sha256:<id>` parses as a tagged name too: only a tag of the index is one
        let known = store.index.tag(&r.tagged().unwrap_or_default())?.is_some();
        return Ok(vec![(
            store.get(n)?,
            if known { vec![r] } else { Vec::new() },
        )]);
    }
    let mut by_manifest: Vec<(Digest, Vec<Reference>)> = Vec::new();
    for (tag, manifest) in store.index.all_tags()? {
        let Ok(t) = Reference::parse(&tag) else {
            continue;
        };
        if t.name() != r.name() {
            continue;
        }
        match by_manifest.iter_mut().find(|(m, _)| *m == manifest) {
            Some((_, tags)) => tags.push(t),
            None => by_manifest.push((manifest, vec![t])),
        }
    }
    if by_manifest.is_empty() {
        // not a repository here: an id (prefix)
        return Ok(vec![(store.get(n)?, Vec::new())]);
    }
    let mut out = Vec::new();
    for (manifest, tags) in by_manifest {
        let rec = store
            .index
            .image(&manifest)?
            .ok_or_else(|| invalid(format!("image {manifest}"), "tagged but not in the index"))?;
        out.push((store.load(&rec)?, tags));
    }
    Ok(out)
}

/// The annotations of an index entry that names `t`.
fn ref_annotations(t: &Reference) -> Value {
    json!({
        "io.containerd.image.name": t.to_string(),
        "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
    })
}

/// The archive [`save`] is writing, with what it has put in so far.
struct Saver<'a, W: Write> {
    store: &'a ImageStore,
    b: tar::Builder<W>,
    written: HashSet<Digest>,
    docker_manifest: Vec<Value>,
    index_manifests: Vec<Value>,
}

impl<W: Write> Saver<'_, W> {
    /// A blob under `blobs/sha256/`, once.
    fn put(&mut self, d: &Digest, r: &mut dyn Read, size: u64) -> Result<()> {
        if self.written.insert(d.clone()) {
            append_file(&mut self.b, &format!("blobs/sha256/{}", d.hex()), r, size)?;
        }
        Ok(())
    }

    /// A blob of the content store, as stored.
    fn put_stored(&mut self, d: &Digest) -> Result<()> {
        let mut r = self.store.content.open_blob(d)?;
        let size = self.store.content.size(d)?;
        self.put(d, &mut r, size)
    }

    /// An image of an OCI layout: its blobs as stored, an index entry per tag (or one
    /// without a name).
    fn oci_image(&mut self, img: &Image, tags: &[Reference]) -> Result<()> {
        self.store.check_exportable(img)?;
        for l in &img.manifest.layers {
            self.put_stored(&l.digest)?;
        }
        let md = &img.record.manifest;
        self.put_stored(md)?;
        let msize = self.store.content.size(md)?;
        let entries: Vec<Option<&Reference>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.iter().map(Some).collect()
        };
        for t in entries {
            let mut d = json!({"mediaType": img.manifest.media_type, "digest": md.to_string(), "size": msize});
            if let Some(t) = t {
                d["annotations"] = ref_annotations(t);
            }
            self.index_manifests.push(d);
        }
        Ok(())
    }

    /// An image of docker's format: its layers uncompressed, a manifest written for them
    /// (indexed under the first tag), and its `manifest.json` entry.
    fn docker_image(&mut self, img: &Image, tags: &[Reference]) -> Result<()> {
        self.store.check_exportable(img)?;
        let cfg = &img.manifest.config;
        // docker load wants uncompressed layers named by their diff_id
        let mut layer_names = Vec::new();
        let mut descs = Vec::new();
        for (l, diff_id) in img.manifest.layers.iter().zip(&img.info.diff_ids) {
            let size = self.put_uncompressed(l, diff_id)?;
            descs.push(
                json!({"mediaType": spec::OCI_LAYER, "digest": diff_id.to_string(), "size": size}),
            );
            layer_names.push(format!("blobs/sha256/{}", diff_id.hex()));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": spec::OCI_MANIFEST,
            "config": {"mediaType": spec::OCI_CONFIG, "digest": cfg.digest.to_string(), "size": cfg.size},
            "layers": descs,
        });
        let mbytes = serde_json::to_vec(&manifest).expect("json");
        let md = Digest::of(&mbytes);
        self.put(&md, &mut &mbytes[..], mbytes.len() as u64)?;
        let mut d = json!({"mediaType": spec::OCI_MANIFEST, "digest": md.to_string(), "size": mbytes.len()});
        if let Some(t) = tags.first() {
            d["annotations"] = ref_annotations(t);
        }
        self.index_manifests.push(d);
        self.docker_manifest.push(json!({
            "Config": format!("blobs/sha256/{}", cfg.digest.hex()),
            "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
            "Layers": layer_names,
        }));
        Ok(())
    }

    /// Layer `l` uncompressed, checked against its `diff_id`, unless already written;
    /// returns the size of the uncompressed tar.
    fn put_uncompressed(&mut self, l: &spec::Descriptor, diff_id: &Digest) -> Result<u64> {
        if self.written.contains(diff_id) {
            return layer_tar_size(self.store, l, diff_id);
        }
        let mut f = tempfile_in(self.store)?;
        let mut hw = crate::digest::HashingWriter::new(&mut f.1);
        io::copy(
            &mut layer::decompress(self.store.content.open_blob(&l.digest)?)
                .ctx(|| format!("read layer {}", l.digest))?,
            &mut hw,
        )
        .ctx(|| format!("decompress layer {}", l.digest))?;
        let (_, got, size) = hw.finish();
        if got != *diff_id {
            return Err(Error::DigestMismatch {
                what: format!("uncompressed layer {}", l.digest),
                expected: diff_id.to_string(),
                actual: got.to_string(),
            });
        }
        f.1.rewind().ctx(|| "rewind temp layer".to_string())?;
        self.put(diff_id, &mut f.1, size)?;
        Ok(size)
    }

    /// The layout marker, the index and (docker format) `manifest.json`.
    fn finish(mut self, format: ArchiveFormat) -> Result<W> {
        let b = &mut self.b;
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        append_file(b, "oci-layout", &mut &layout[..], layout.len() as u64)?;
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": spec::OCI_INDEX,
            "manifests": self.index_manifests,
        }))
        .expect("json");
        append_file(b, "index.json", &mut &index[..], index.len() as u64)?;
        if format == ArchiveFormat::Docker {
            let m = serde_json::to_vec(&self.docker_manifest).expect("json");
            append_file(b, "manifest.json", &mut &m[..], m.len() as u64)?;
        }
        self.b.into_inner().ctx(|| "finish archive".to_string())
    }
}

fn layer_tar_size(store: &ImageStore, l: &spec::Descriptor, _diff_id: &Digest) -> Result<u64> {
    let (_, n) = layer::diff_id_of(store.content.open_blob(&l.digest)?)?;
    Ok(n)
}

fn tempfile_in(store: &ImageStore) -> Result<(PathBuf, File)> {
    let p = store
        .content
        .tmp_dir()
        .join(format!("save-{}", crate::store::random_suffix()));
    let f = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .ctx(|| format!("create {}", p.display()))?;
    // unlinked right away: the open file lives until it is dropped
    let _ = std::fs::remove_file(&p);
    Ok((p, f))
}

/// `berth import`: a rootfs tarball (any compression) becomes a one-layer image.
pub fn import<R: Read>(
    store: &ImageStore,
    reader: R,
    reference: Option<&Reference>,
    changes: &[String],
    message: &str,
    source: &str,
) -> Result<Image> {
    let mut cfg = Map::new();
    for c in changes {
        crate::change::apply_change(&mut cfg, c)?;
    }
    let mut dec = layer::decompress(reader).ctx(|| format!("read {source}"))?;
    let (diff_id, size) = store.content.put_reader(&mut dec, None)?;
    let now = now_rfc3339();
    let platform = Platform::host();
    let comment = if message.is_empty() {
        format!("Imported from {source}")
    } else {
        message.to_string()
    };
    let config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": now,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": now, "created_by": "", "comment": comment}],
    });
    let cbytes = serde_json::to_vec(&config).expect("json");
    let cd = store.content.put(&cbytes, None)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": spec::OCI_MANIFEST,
        "config": {"mediaType": spec::OCI_CONFIG, "digest": cd.to_string(), "size": cbytes.len()},
        "layers": [{"mediaType": spec::OCI_LAYER, "digest": diff_id.to_string(), "size": size}],
    });
    let mbytes = serde_json::to_vec(&manifest).expect("json");
    let tags: Vec<Reference> = reference.cloned().into_iter().collect();
    store.add_image(&mbytes, &tags, None)
}

/// Familiar names of an image's tags.
pub fn familiar_tags(store: &ImageStore, img: &Image) -> Result<Vec<String>> {
    Ok(store
        .index
        .tags_of(&img.record.manifest)?
        .iter()
        .map(|t| familiar(t))
        .collect())
}

/// `berth commit`: a container's changes (`layer`, an uncompressed layer tar) become a new
/// image on top of `base`, with `config` as its runtime config (`config` of the image config),
/// a history entry appended and `reference` tagged.
#[allow(clippy::too_many_arguments)]
pub fn commit<R: Read>(
    store: &ImageStore,
    base: &Image,
    layer: R,
    config: Map<String, Value>,
    reference: Option<&Reference>,
    comment: &str,
    author: &str,
    created_by: &str,
) -> Result<Image> {
    let step = Step {
        config,
        comment,
        author,
        created_by,
    };
    derive(store, Some(base), Some(layer), step, reference)
}

/// What a new image layer (or metadata-only step) records.
pub struct Step<'a> {
    /// the runtime config (`config` of the image config)
    pub config: Map<String, Value>,
    pub comment: &'a str,
    pub author: &'a str,
    /// the history line (`/bin/sh -c #(nop)  ENV A=1` for metadata steps, as docker writes)
    pub created_by: &'a str,
}

/// A new image from `base` (None: `FROM scratch`) plus an optional layer: with `layer` it
/// adds the layer (commit, RUN, COPY); without, only the config and an `empty_layer` history
/// entry change (ENV, LABEL, CMD...). The builder's primitive; `commit` uses it too.
pub fn derive<R: Read>(
    store: &ImageStore,
    base: Option<&Image>,
    layer: Option<R>,
    step: Step<'_>,
    reference: Option<&Reference>,
) -> Result<Image> {
    let new_layer = match layer {
        Some(mut l) => Some(NewLayer::stored(store.content.put_reader(&mut l, None)?)),
        None => None,
    };
    derive_stored(store, base, new_layer, step, reference)
}

/// The new layer of [`derive_stored`]: a blob of the content store, uncompressed (its digest
/// is its diff_id), or a layer kept without a blob (see [`crate::kept`]).
pub struct NewLayer {
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: &'static str,
}

impl NewLayer {
    /// An uncompressed layer blob `(diff_id, size)` of the content store.
    pub fn stored((diff_id, size): (Digest, u64)) -> NewLayer {
        NewLayer {
            diff_id,
            size,
            media_type: spec::OCI_LAYER,
        }
    }

    /// A layer kept without a blob `(id, size)`.
    pub fn kept((diff_id, size): (Digest, u64)) -> NewLayer {
        NewLayer {
            diff_id,
            size,
            media_type: crate::kept::KEPT_LAYER,
        }
    }
}

/// [`derive`] with the new layer (if any) already in place.
pub fn derive_stored(
    store: &ImageStore,
    base: Option<&Image>,
    new_layer: Option<NewLayer>,
    step: Step<'_>,
    reference: Option<&Reference>,
) -> Result<Image> {
    let now = now_rfc3339();
    let platform = Platform::host();
    let mut cfg = match base.map(|b| &b.config) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    cfg.entry("architecture")
        .or_insert_with(|| json!(platform.architecture));
    cfg.entry("os").or_insert_with(|| json!(platform.os));
    // docker's local images name the image they were made from (`Parent` in inspect); what
    // the base says of its own making is not the new image's
    for k in ["parent", "container", "container_config"] {
        cfg.remove(k);
    }
    if let Some(b) = base {
        cfg.insert("parent".into(), json!(b.id().to_string()));
    }
    cfg.insert("created".into(), json!(now));
    cfg.insert("config".into(), Value::Object(step.config));
    if step.author.is_empty() {
        cfg.remove("author");
    } else {
        cfg.insert("author".into(), json!(step.author));
    }
    let mut diff_ids: Vec<Value> = base
        .map(|b| {
            b.info
                .diff_ids
                .iter()
                .map(|d| json!(d.to_string()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(l) = &new_layer {
        diff_ids.push(json!(l.diff_id.to_string()));
    }
    cfg.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    let mut history: Vec<Value> = cfg
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut h = json!({"created": now, "created_by": step.created_by});
    if !step.author.is_empty() {
        h["author"] = json!(step.author);
    }
    if !step.comment.is_empty() {
        h["comment"] = json!(step.comment);
    }
    if new_layer.is_none() {
        h["empty_layer"] = json!(true);
    }
    history.push(h);
    cfg.insert("history".into(), json!(history));
    let cbytes = serde_json::to_vec(&Value::Object(cfg)).expect("json");
    // named durably with the manifest (add_image)
    let cd = store.content.put_deferred(&cbytes)?;
    let mut layers: Vec<Value> = base
        .map(|b| {
            b.manifest
                .layers
                .iter()
                .map(|l| {
                    // an OCI manifest names its layers with OCI media types
                    let mt = match l.media_type.as_str() {
                        spec::DOCKER_LAYER_GZIP => spec::OCI_LAYER_GZIP,
                        spec::DOCKER_LAYER => spec::OCI_LAYER,
                        other => other,
                    };
                    json!({"mediaType": mt, "digest": l.digest.to_string(), "size": l.size})
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(l) = &new_layer {
        layers.push(
            json!({"mediaType": l.media_type, "digest": l.diff_id.to_string(), "size": l.size}),
        );
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": spec::OCI_MANIFEST,
        "config": {"mediaType": spec::OCI_CONFIG, "digest": cd.to_string(), "size": cbytes.len()},
        "layers": layers,
    });
    let mbytes = serde_json::to_vec(&manifest).expect("json");
    let tags: Vec<Reference> = reference.cloned().into_iter().collect();
    store.add_image(&mbytes, &tags, None)
}
