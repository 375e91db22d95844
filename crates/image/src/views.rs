//! What the CLI and the API show of images: the list's summaries, docker's `reference` pattern
//! match, `image inspect`'s document and `history`'s entries. One implementation for
//! `berth images/inspect/history` and `GET /images/json`, `/images/{name}/json`, `/history`.

use crate::digest::Digest;
use crate::error::Result;
use crate::glob::path_match;
use crate::images::{familiar, Image, ImageStore};
use crate::index::ImageRecord;
use crate::reference::Reference;
use serde_json::{json, Map, Value};

/// One image of the list, with its names.
#[derive(Clone, Debug)]
pub struct Summary {
    pub record: ImageRecord,
    /// its tags (what the index stores: `registry/repository:tag`), parsed
    pub tags: Vec<Reference>,
    /// its repository digests: (stored repository name, manifest digest)
    pub digests: Vec<(String, Digest)>,
    /// `config.Labels` of the image config
    pub labels: Map<String, Value>,
    /// another image is built on this one (a build step's image): docker lists such an
    /// image only with `all` when it has no name
    pub has_children: bool,
}

impl Summary {
    /// `RepoTags`: the familiar `name:tag`s.
    pub fn repo_tags(&self) -> Vec<String> {
        self.tags.iter().map(Reference::familiar).collect()
    }

    /// `RepoDigests`: familiar `name@digest`s.
    pub fn repo_digests(&self) -> Vec<String> {
        self.digests
            .iter()
            .map(|(n, d)| format!("{}@{d}", familiar(n)))
            .collect()
    }

    /// The repository digest recorded for a familiar repository name.
    pub fn digest_of(&self, familiar_name: &str) -> Option<&Digest> {
        self.digests
            .iter()
            .find(|(n, _)| familiar(n) == familiar_name)
            .map(|(_, d)| d)
    }

    /// An untagged image some other image is built on: hidden from lists without `all`.
    pub fn intermediate(&self) -> bool {
        self.has_children && self.tags.is_empty() && self.digests.is_empty()
    }

    /// Keep only the tags some pattern matches (docker's `reference` filter); false when none
    /// is left, or the image has no tag at all.
    pub fn retain_references(&mut self, patterns: &[String]) -> bool {
        self.tags
            .retain(|t| patterns.iter().any(|p| reference_matches(p, t)));
        !self.tags.is_empty()
    }
}

/// Every image with its tags, repository digests and labels, newest added first.
pub fn summaries(store: &ImageStore) -> Result<Vec<Summary>> {
    let mut out = Vec::new();
    // each image's history and layers, to find the images others are built on
    let mut lineage: Vec<(Vec<Value>, Vec<Digest>)> = Vec::new();
    for record in store.index.images()? {
        let tags = store
            .index
            .tags_of(&record.manifest)?
            .iter()
            .filter_map(|t| Reference::parse(t).ok())
            .collect();
        let digests = store.index.repo_digests_of(&record.manifest)?;
        let img = store.load(&record).ok();
        let labels = img
            .as_ref()
            .and_then(|i| i.config.pointer("/config/Labels").cloned())
            .and_then(|l| l.as_object().cloned())
            .unwrap_or_default();
        lineage.push(match &img {
            Some(i) => (
                i.config
                    .get("history")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                i.info.diff_ids.clone(),
            ),
            None => Default::default(),
        });
        out.push(Summary {
            record,
            tags,
            digests,
            labels,
            has_children: false,
        });
    }
    for (i, s) in out.iter_mut().enumerate() {
        let (hist, layers) = &lineage[i];
        s.has_children = !hist.is_empty()
            && lineage
                .iter()
                .any(|(h, l)| h.len() > hist.len() && h.starts_with(hist) && l.starts_with(layers));
    }
    Ok(out)
}

/// `image prune`: [`ImageStore::prune_matching`] that, as dockerd, leaves the untagged images
/// of build steps alone unless `all` (they are the build cache, and their children need them
/// in docker's own store).
pub fn prune(
    store: &ImageStore,
    all: bool,
    select: &dyn Fn(&ImageRecord) -> bool,
) -> Result<crate::images::Removed> {
    let steps: std::collections::HashSet<Digest> = if all {
        Default::default()
    } else {
        summaries(store)?
            .into_iter()
            .filter(Summary::intermediate)
            .map(|s| s.record.manifest)
            .collect()
    };
    store.prune_matching(all, &|r| !steps.contains(&r.manifest) && select(r))
}

/// docker's `reference` filter (and `docker images REPO[:TAG]`): the pattern, a shell glob
/// as Go's `path.Match` reads it, matches the familiar `name:tag` or the familiar name.
pub fn reference_matches(pattern: &str, r: &Reference) -> bool {
    path_match(pattern, &r.familiar()) || path_match(pattern, &r.familiar_name())
}

/// Seconds since the epoch of an RFC 3339 time (0 when empty or invalid), as the API's
/// `Created` fields carry it.
pub fn unix_time(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// An image config's `config` (or `container_config`) in docker's shape: every field present,
/// absent ones null or empty.
fn docker_config(cc: Option<&Value>) -> Value {
    let cc = cc.cloned().unwrap_or(json!({}));
    let g = |k: &str, d: Value| cc.get(k).cloned().filter(|v| !v.is_null()).unwrap_or(d);
    let config = json!({
        "Hostname": g("Hostname", json!("")),
        "Domainname": g("Domainname", json!("")),
        "User": g("User", json!("")),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": g("ExposedPorts", Value::Null),
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": g("Env", Value::Null),
        "Cmd": g("Cmd", Value::Null),
        "Image": "",
        "Volumes": g("Volumes", Value::Null),
        "WorkingDir": g("WorkingDir", json!("")),
        "Entrypoint": g("Entrypoint", Value::Null),
        "OnBuild": g("OnBuild", Value::Null),
        "Labels": g("Labels", Value::Null),
        "StopSignal": g("StopSignal", Value::Null),
        "Healthcheck": g("Healthcheck", Value::Null),
        "Shell": g("Shell", Value::Null),
    });
    let mut config = config;
    if let Some(o) = config.as_object_mut() {
        o.retain(|k, v| {
            !(v.is_null()
                && matches!(
                    k.as_str(),
                    "ExposedPorts" | "Volumes" | "StopSignal" | "Healthcheck" | "Shell"
                ))
        });
    }
    config
}

/// `docker image inspect` / `GET /images/{name}/json`.
pub fn inspect_json(store: &ImageStore, img: &Image) -> Result<Value> {
    let tags = crate::archive::familiar_tags(store, img)?;
    let digests: Vec<String> = store
        .index
        .repo_digests_of(&img.record.manifest)?
        .into_iter()
        .map(|(n, d)| format!("{}@{d}", familiar(&n)))
        .collect();
    let c = &img.config;
    let s = |k: &str| c.get(k).cloned().unwrap_or(json!(""));
    let config = docker_config(c.get("config"));
    // dockerd shows the committing container's config even for imported images (empty then);
    // docker-compose 1.29 reads it on every recreate
    let container_config = docker_config(c.get("container_config"));
    let last_comment = c
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.last())
        .and_then(|h| h.get("comment"))
        .cloned()
        .unwrap_or(json!(""));
    let lowers: Vec<String> = img
        .info
        .diff_ids
        .iter()
        .rev()
        .map(|d| store.snapshots.layer_dir(d).display().to_string())
        .collect();
    let mut v = json!({
        "Id": img.id().to_string(),
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": s("parent"),
        "Comment": last_comment,
        "Created": s("created"),
        "DockerVersion": s("docker_version"),
        "Author": s("author"),
        "Container": s("container"),
        "ContainerConfig": container_config,
        "Config": config,
        "Architecture": s("architecture"),
        "Os": s("os"),
        "Size": img.record.size,
        "GraphDriver": {"Data": {"LowerDir": lowers.join(":")}, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": img.info.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "Metadata": {"LastTagTime": last_tag_time(store, img)?},
        "Descriptor": {"mediaType": img.record.media_type, "digest": img.record.manifest.to_string(),
                       "size": store.content.size(&img.record.manifest)?},
    });
    if let Some(var) = c.get("variant") {
        v["Variant"] = var.clone();
    }
    Ok(v)
}

fn last_tag_time(store: &ImageStore, img: &Image) -> Result<String> {
    let mut best = String::from("0001-01-01T00:00:00Z");
    for t in store.index.tags_of(&img.record.manifest)? {
        if let Some(tt) = store.index.tag_time(&t)? {
            if tt > best || best.starts_with("0001") {
                best = tt;
            }
        }
    }
    Ok(best)
}

/// One step of an image's history, as `docker history` and `GET /images/{name}/history` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// the image's id on the newest entry, None (docker's `<missing>`) below it
    pub id: Option<Digest>,
    /// RFC 3339
    pub created: String,
    pub created_by: String,
    /// the size of the step's layer (0 for a metadata-only step)
    pub size: u64,
    pub comment: String,
    /// the image's familiar tags, on the newest entry only
    pub tags: Vec<String>,
}

/// The history of `img`, newest step first, each with the size of its layer.
pub fn history(store: &ImageStore, img: &Image) -> Result<Vec<HistoryEntry>> {
    let hist = img
        .config
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut layer_sizes = img
        .info
        .diff_ids
        .iter()
        .map(|d| store.index.layer_size(d).map(|s| s.unwrap_or(0)))
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    let str_of = |h: &Value, k: &str| {
        h.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut out: Vec<HistoryEntry> = hist
        .iter()
        .map(|h| {
            let empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            HistoryEntry {
                id: None,
                created: str_of(h, "created"),
                created_by: str_of(h, "created_by"),
                size: if empty {
                    0
                } else {
                    layer_sizes.next().unwrap_or(0)
                },
                comment: str_of(h, "comment"),
                tags: Vec::new(),
            }
        })
        .collect();
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = Some(img.id().clone());
        top.tags = crate::archive::familiar_tags(store, img)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn reference_patterns() {
        let bb = r("busybox:latest");
        assert!(reference_matches("busybox", &bb));
        assert!(reference_matches("busybox:latest", &bb));
        assert!(reference_matches("busy*", &bb));
        assert!(reference_matches("busybox:l?test", &bb));
        assert!(reference_matches("b[a-v]sybox", &bb));
        assert!(!reference_matches("b[!u]sybox", &bb));
        assert!(!reference_matches("busybox:1", &bb));
        assert!(!reference_matches("busy", &bb));
        let deep = r("127.0.0.1:5000/team/app:v1");
        assert!(reference_matches("127.0.0.1:5000/team/app", &deep));
        assert!(reference_matches("127.0.0.1:5000/team/*", &deep));
        assert!(reference_matches("*/*/app:v1", &deep));
        // `*` stops at a slash, as in Go's path.Match
        assert!(!reference_matches("127.0.0.1:5000/*", &deep));
        assert!(!reference_matches("*", &deep));
        assert!(reference_matches("*", &bb));
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix_time("1970-01-01T00:01:40Z"), 100);
        assert_eq!(unix_time("2024-01-02T03:04:05.123456789+01:00"), 1704161045);
        assert_eq!(unix_time(""), 0);
    }
}
