//! `--cache-to` / `--cache-from type=local`: a build's step cache carried to another state
//! root (CI's usual use: a fresh machine with the cache of the last build). The directory
//! holds `berth-cache.json` (each step's key and the image it made) and `images.tar` (those
//! images, as `save` writes them); importing loads the images and adds the steps to the
//! importing root's cache, so the steps hit as if built there.

use super::cache::Cache;
use super::invalid;
use engine::engine::Engine;
use engine::Result;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `--cache-to`/`--cache-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    Local(PathBuf),
    /// an image in a registry carrying the cache (`type=registry,ref=REF`)
    Registry(String),
}

impl CacheLocation {
    /// `type=local,dest=DIR` (export) or `type=local,src=DIR` (import), `type=registry,ref=REF`.
    /// A bare reference is an image to use as a cache source (docker's classic `--cache-from
    /// IMAGE`): `None`.
    pub fn parse(spec: &str, export: bool) -> Result<Option<CacheLocation>> {
        if !spec.contains('=') {
            return Ok(None);
        }
        let bad = |m: &str| invalid(format!("invalid cache {spec:?}: {m}"));
        let mut kv = BTreeMap::new();
        for f in spec.split(',') {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| bad(&format!("field {f:?}")))?;
            kv.insert(k.trim(), v.trim());
        }
        let key = if export { "dest" } else { "src" };
        match kv.get("type").copied() {
            Some("local") => match kv.get(key) {
                Some(d) if !d.is_empty() => Ok(Some(CacheLocation::Local(PathBuf::from(d)))),
                _ => Err(bad(&format!("type=local needs {key}=DIR"))),
            },
            Some("registry") => match kv.get("ref") {
                Some(r) if image::reference::Reference::parse(r).is_ok() => {
                    Ok(Some(CacheLocation::Registry(r.to_string())))
                }
                _ => Err(bad("type=registry needs ref=IMAGE")),
            },
            Some(t) => Err(bad(&format!(
                "cache type {t:?} is not supported by berth (type=local, type=registry)"
            ))),
            None => Err(bad("missing type=")),
        }
    }
}

const INDEX: &str = "berth-cache.json";
const IMAGES: &str = "images.tar";

fn err(what: &str, p: &Path, e: impl std::fmt::Display) -> engine::Error {
    invalid(format!("{what} {}: {e}", p.display()))
}

/// Write the steps a build used (`(key, image)`) to `dir`.
pub(super) fn export(engine: &Engine, steps: &[(String, String)], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| err("create", dir, e))?;
    let images = engine.images()?;
    let mut ids: Vec<String> = Vec::new();
    let mut index = Vec::new();
    for (key, image) in steps {
        // steps whose image is gone (pruned) are not worth carrying
        if images.get(image).is_err() {
            continue;
        }
        if !ids.contains(image) {
            ids.push(image.clone());
        }
        index.push(json!({ "key": key, "image": image }));
    }
    let tmp = dir.join(format!(".{IMAGES}.tmp"));
    let f = std::fs::File::create(&tmp).map_err(|e| err("create", &tmp, e))?;
    let w = image::archive::save(
        images,
        &ids,
        image::archive::ArchiveFormat::Docker,
        std::io::BufWriter::new(f),
    )?;
    drop(w);
    std::fs::rename(&tmp, dir.join(IMAGES)).map_err(|e| err("write", dir, e))?;
    let text = serde_json::to_vec_pretty(&json!({ "steps": index }))
        .map_err(|e| invalid(e.to_string()))?;
    let tmp = dir.join(format!(".{INDEX}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| err("write", &tmp, e))?;
    std::fs::rename(&tmp, dir.join(INDEX)).map_err(|e| err("write", dir, e))
}

/// Load a cache `dir` into this root: its images, then its steps. A missing directory is no
/// cache yet (the first CI run), as BuildKit treats it.
pub(super) fn import(engine: &Engine, cache: &mut Cache, dir: &Path) -> Result<usize> {
    let index = dir.join(INDEX);
    let Ok(text) = std::fs::read(&index) else {
        return Ok(0);
    };
    let v: Value = serde_json::from_slice(&text).map_err(|e| err("read", &index, e))?;
    let tar = dir.join(IMAGES);
    let f = std::fs::File::open(&tar).map_err(|e| err("open", &tar, e))?;
    let images = engine.images()?;
    image::archive::load(
        images,
        std::io::BufReader::new(f),
        &image::spec::Platform::host(),
    )?;
    let mut n = 0;
    for s in v["steps"].as_array().into_iter().flatten() {
        let (Some(key), Some(img)) = (s["key"].as_str(), s["image"].as_str()) else {
            continue;
        };
        // only steps whose image the archive really held
        if images.get(img).is_ok() {
            cache.import(key, img);
            n += 1;
        }
    }
    Ok(n)
}

/// The label that marks an image as a berth build cache.
const LABEL: &str = "dev.berth.build-cache";

/// A temporary directory under the state root, removed on drop.
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp_dir(engine: &Engine) -> Result<TmpDir> {
    let d = engine
        .root
        .join("tmp")
        .join(format!("build-cache-{}", engine::names::random_id()));
    std::fs::create_dir_all(&d).map_err(|e| err("create", &d, e))?;
    Ok(TmpDir(d))
}

/// Export the steps to a registry: the cache directory's files as the one layer of an
/// image `reference` (labelled as a build cache), pushed there.
pub(super) fn export_registry(
    engine: &Engine,
    steps: &[(String, String)],
    reference: &str,
) -> Result<()> {
    let tmp = tmp_dir(engine)?;
    let dir = tmp.0.join("cache");
    export(engine, steps, &dir)?;
    let layer = tmp.0.join("layer.tar");
    let f = std::fs::File::create(&layer).map_err(|e| err("create", &layer, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    for name in [INDEX, IMAGES] {
        b.append_path_with_name(dir.join(name), name)
            .map_err(|e| err("write", &layer, e))?;
    }
    b.into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| err("write", &layer, e))?;
    let r = image::reference::Reference::parse(reference)?;
    let mut config = serde_json::Map::new();
    config.insert("Labels".into(), json!({ LABEL: "1" }));
    let f = std::fs::File::open(&layer).map_err(|e| err("open", &layer, e))?;
    let images = engine.images()?;
    image::archive::derive(
        images,
        None,
        Some(std::io::BufReader::new(f)),
        image::archive::Step {
            config,
            comment: "berth build cache",
            author: "",
            created_by: "berth build --cache-to",
        },
        Some(&r),
    )?;
    image::registry::push(
        images,
        reference,
        &r,
        image::registry::Progress::Quiet,
        &image::registry::Credentials::from_docker_config(),
    )?;
    Ok(())
}

/// Pull `reference` for the build's caches (no progress shown), with the user's credentials.
pub(super) fn pull_quietly(
    images: &image::ImageStore,
    reference: &str,
) -> image::Result<image::Image> {
    let r = image::reference::Reference::parse(reference)?;
    let opts = image::registry::PullOptions {
        platform: image::spec::Platform::host(),
        progress: image::registry::Progress::Quiet,
        credentials: image::registry::Credentials::from_docker_config(),
    };
    image::registry::pull(images, &r, &opts)
}

/// Import a registry cache: pull image `reference`, unpack its layer and import that. A
/// cache that cannot be pulled is a warning (the build goes on without it), as BuildKit's.
pub(super) fn import_registry(
    engine: &Engine,
    cache: &mut Cache,
    reference: &str,
) -> Result<std::result::Result<usize, String>> {
    let images = engine.images()?;
    let img = match pull_quietly(images, reference) {
        Ok(i) => i,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let labelled = img.config["config"]["Labels"][LABEL].as_str() == Some("1");
    let Some(layer) = img.manifest.layers.first().filter(|_| labelled) else {
        return Ok(Err(format!("{reference} is not a berth build cache")));
    };
    let tmp = tmp_dir(engine)?;
    let blob = images.content.open_blob(&layer.digest)?;
    let rd = image::layer::decompress(std::io::BufReader::new(blob))
        .map_err(|e| invalid(format!("read cache {reference}: {e}")))?;
    engine::container::tar::untar_local(rd, &tmp.0)?;
    import(engine, cache, &tmp.0).map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_specs() {
        assert_eq!(
            CacheLocation::parse("type=local,dest=/c", true).unwrap(),
            Some(CacheLocation::Local("/c".into()))
        );
        assert_eq!(
            CacheLocation::parse("type=local,src=/c", false).unwrap(),
            Some(CacheLocation::Local("/c".into()))
        );
        assert_eq!(CacheLocation::parse("myimage:latest", false).unwrap(), None);
        assert_eq!(
            CacheLocation::parse("type=registry,ref=localhost:5000/app:cache", true).unwrap(),
            Some(CacheLocation::Registry("localhost:5000/app:cache".into()))
        );
        for bad in [
            "type=local",
            "type=gha,url=x",
            "type=local,src=/c,oops",
            "type=registry",
            "type=registry,ref=UPPER/Case",
        ] {
            assert!(CacheLocation::parse(bad, true).is_err(), "{bad}");
        }
    }
}
