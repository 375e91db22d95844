//! `BUILDKIT_INLINE_CACHE=1`: the image carries the cache of its own making, so a root that
//! pulls it can build on it with `--cache-from IMAGE` (CI's usual use, with a registry only).
//! The final image's config gets a `berth.buildcache.v0` list: for each step whose image is a
//! layer prefix of the final image, the step's key, that image's config (its exact bytes, so
//! the image rebuilt from it has the same id) and how many of the final image's layers it has.
//! Importing rebuilds those images from the pulled image's layers and knows their steps.

use super::cache::Cache;
use super::progress::Report;
use engine::engine::Engine;
use engine::Result;
use image::images::{Image, ImageStore};
use serde_json::{json, Value};

/// The config field holding the inline cache.
const FIELD: &str = "berth.buildcache.v0";

/// The build arg that asks for it, as BuildKit's.
pub(super) const ARG: &str = "BUILDKIT_INLINE_CACHE";

fn is_prefix(of: &Image, img: &Image) -> bool {
    let (a, b) = (&img.manifest.layers, &of.manifest.layers);
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x.digest == y.digest)
}

/// A copy of `last` whose config holds the steps in `used` that made its layer prefixes.
pub(super) fn embed(store: &ImageStore, last: &Image, used: &[(String, String)]) -> Result<Image> {
    let mut entries = Vec::new();
    for (key, id) in used {
        let Ok(img) = store.get(id) else { continue };
        if !is_prefix(last, &img) {
            continue;
        }
        let raw = store.content.read(&img.manifest.config.digest)?;
        entries.push(json!({
            "key": key,
            "config": String::from_utf8_lossy(&raw),
            "layers": img.manifest.layers.len(),
        }));
    }
    let mut config = last.config.clone();
    config[FIELD] = json!(entries);
    let cbytes = serde_json::to_vec(&config).map_err(|e| super::invalid(e.to_string()))?;
    let cd = store.content.put(&cbytes, None)?;
    let mut manifest: Value = serde_json::from_slice(&store.content.read(&last.record.manifest)?)
        .map_err(|e| super::invalid(e.to_string()))?;
    manifest["config"]["digest"] = json!(cd.to_string());
    manifest["config"]["size"] = json!(cbytes.len());
    let mbytes = serde_json::to_vec(&manifest).map_err(|e| super::invalid(e.to_string()))?;
    Ok(store.add_image(&mbytes, &[], None)?)
}

/// `--cache-from IMAGE` of an image that is not here: pulled first, as BuildKit fetches it
/// itself; one that cannot be pulled is a warning and the build goes on without it.
pub(super) fn pull_missing(engine: &Engine, sources: &[String], report: &mut Report) {
    let Ok(store) = engine.images() else {
        return;
    };
    for name in sources {
        if store.get(name).is_ok() {
            continue;
        }
        if let Err(e) = super::cache_io::pull_quietly(store, name) {
            report.warn(&format!("WARNING: failed to import cache {name}: {e}"));
        }
    }
}

/// For each of `sources` that carries an inline cache: rebuild its step images from its
/// layers and add their steps to `cache`. The ids of the images rebuilt (cache sources too).
pub(super) fn import(engine: &Engine, cache: &mut Cache, sources: &[String]) -> Vec<String> {
    let Ok(store) = engine.images() else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for name in sources {
        let Ok(img) = store.get(name) else { continue };
        for e in img.config[FIELD].as_array().into_iter().flatten() {
            if let Some(id) = rebuild(store, &img, e) {
                if let Some(key) = e["key"].as_str() {
                    cache.import(key, &id);
                }
                ids.push(id);
            }
        }
    }
    ids
}

/// One step's image: its config as recorded, on the first `layers` layers of `from`.
fn rebuild(store: &ImageStore, from: &Image, e: &Value) -> Option<String> {
    let config = e["config"].as_str()?.as_bytes();
    let n = usize::try_from(e["layers"].as_u64()?).ok()?;
    let layers = from.manifest.layers.get(..n)?;
    let cd = store.content.put(config, None).ok()?;
    let mut manifest: Value =
        serde_json::from_slice(&store.content.read(&from.record.manifest).ok()?).ok()?;
    manifest["config"]["digest"] = json!(cd.to_string());
    manifest["config"]["size"] = json!(config.len());
    manifest["layers"] = Value::Array(manifest["layers"].as_array()?[..layers.len()].to_vec());
    let mbytes = serde_json::to_vec(&manifest).ok()?;
    // the config must be an image's whose layers these are (add_image checks the diff ids)
    let img = store.add_image(&mbytes, &[], None).ok()?;
    Some(img.id().to_string())
}
