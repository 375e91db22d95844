//! `GET /system/df`: images, containers and volumes with their sizes.

use crate::engine::Engine;
use crate::error::Result;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

impl Engine {
    /// `GET /system/df`: images, containers and volumes with their sizes.
    pub fn df(&self) -> Result<Value> {
        let images = self.images()?;
        let cs = self.list_reconciled()?;
        let mut used_images: HashMap<String, usize> = HashMap::new();
        for c in &cs {
            *used_images.entry(c.image.clone()).or_default() += 1;
        }
        let loaded: Vec<image::Image> = images
            .index
            .images()?
            .iter()
            .filter_map(|r| images.load(r).ok())
            .collect();
        let mut layer_users: HashMap<image::Digest, usize> = HashMap::new();
        for img in &loaded {
            for d in img.info.diff_ids.iter().collect::<HashSet<_>>() {
                *layer_users.entry(d.clone()).or_default() += 1;
            }
        }
        let mut layers_size = 0u64;
        for d in layer_users.keys() {
            layers_size += images.index.layer_size(d)?.unwrap_or(0);
        }
        let mut imgs = Vec::new();
        for img in &loaded {
            let rec = &img.record;
            let mut shared = 0u64;
            for d in img.info.diff_ids.iter().collect::<HashSet<_>>() {
                if layer_users.get(d).copied().unwrap_or(0) > 1 {
                    shared += images.index.layer_size(d)?.unwrap_or(0);
                }
            }
            let id = rec.config.to_string();
            let tags = images.index.tags_of(&rec.manifest)?;
            imgs.push(json!({
                "Id": id,
                "ParentId": "",
                "RepoTags": tags.iter().map(|t| image::images::familiar(t)).collect::<Vec<_>>(),
                "RepoDigests": [],
                "Created": chrono::DateTime::parse_from_rfc3339(&rec.created).map(|t| t.timestamp()).unwrap_or(0),
                "Size": rec.size,
                "SharedSize": shared,
                "VirtualSize": rec.size,
                "Labels": img.config.pointer("/config/Labels").cloned().unwrap_or(json!({})),
                "Containers": used_images.get(&id).copied().unwrap_or(0),
            }));
        }
        let mut containers = Vec::new();
        for c in &cs {
            let rw = crate::volumes::du(&images.snapshots.upper_dir(&c.id));
            containers.push(json!({
                "Id": c.id,
                "Names": [c.name],
                "Image": c.internal.image_ref,
                "ImageID": c.image,
                "Command": std::iter::once(c.path.clone()).chain(c.args.iter().cloned()).collect::<Vec<_>>().join(" "),
                "Created": chrono::DateTime::parse_from_rfc3339(&c.created).map(|t| t.timestamp()).unwrap_or(0),
                "State": c.state.status,
                "SizeRw": rw,
                "SizeRootFs": rw + images.get(&c.image).map(|i| i.record.size).unwrap_or(0),
                "Mounts": c.mounts,
            }));
        }
        let mut used_volumes: HashMap<String, usize> = HashMap::new();
        for c in &cs {
            for m in &c.mounts {
                if m.kind == "volume" {
                    *used_volumes.entry(m.name.clone()).or_default() += 1;
                }
            }
        }
        let mut vols = Vec::new();
        for v in self.store.volumes()? {
            let size = crate::volumes::du(Path::new(&v.mountpoint));
            let mut j = serde_json::to_value(&v)?;
            j["UsageData"] =
                json!({"Size": size, "RefCount": used_volumes.get(&v.name).copied().unwrap_or(0)});
            vols.push(j);
        }
        Ok(json!({
            "LayersSize": layers_size,
            "Images": imgs,
            "Containers": containers,
            "Volumes": vols,
            "BuildCache": [],
        }))
    }
}
