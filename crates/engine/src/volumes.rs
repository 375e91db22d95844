//! Volumes: named and anonymous directories under `<root>/volumes/<name>/_data`, and the
//! resolution of a container's `-v`, `--mount` and image `VOLUME`s into mount points.

use crate::error::{Error, IoContext, Result};
use crate::events::Type;
use crate::filters::{self, Filters};
use crate::store::Store;
use crate::types::{MountPoint, Volume};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub fn volumes_dir(root: &Path) -> PathBuf {
    root.join("volumes")
}

pub fn valid_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Create a volume (or return the existing one of that name).
pub fn create(
    store: &Store,
    root: &Path,
    name: Option<&str>,
    labels: BTreeMap<String, String>,
    anonymous: bool,
) -> Result<(Volume, bool)> {
    create_with(
        store,
        root,
        name,
        "local",
        labels,
        BTreeMap::new(),
        anonymous,
    )
}

/// `create` with a driver (only "local") and the local driver's options (`-o`, the API's DriverOpts): only binds of a host
/// directory (`type=none`, `o=bind`, `device=/path`), which docker's local driver mounts
/// at the volume's place.
pub fn create_with(
    store: &Store,
    root: &Path,
    name: Option<&str>,
    driver: &str,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    anonymous: bool,
) -> Result<(Volume, bool)> {
    let name = match name {
        Some(n) if !n.is_empty() => {
            if !valid_name(n) {
                return Err(Error::Invalid(format!(
                    "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                )));
            }
            n.to_string()
        }
        _ => crate::names::random_id(),
    };
    if !matches!(driver, "" | "local") {
        return Err(Error::NotFound(format!(
            "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    validate_options(&name, &options)?;
    let dir = volumes_dir(root).join(&name);
    let v = Volume {
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        driver: "local".into(),
        labels,
        mountpoint: dir.join("_data").to_string_lossy().into_owned(),
        name: name.clone(),
        options,
        scope: "local".into(),
        populated: false,
        anonymous,
    };
    std::fs::create_dir_all(dir.join("_data")).ctx(|| format!("create volume dir {name}"))?;
    let (v, new) = store.insert_volume(&v)?;
    if new {
        crate::events::emit_root(root, Type::Volume, "create", &v.name, driver_attr());
    }
    Ok((v, new))
}

fn driver_attr() -> BTreeMap<String, String> {
    crate::events::attrs(&[("driver", "local")])
}

/// The local driver's options berth honours: a bind of an existing host directory.
fn validate_options(name: &str, o: &BTreeMap<String, String>) -> Result<()> {
    if o.is_empty() {
        return Ok(());
    }
    let bad = |why: &str| {
        Err(Error::Invalid(format!(
            "create {name}: {why}: berth's local volumes take only bind options (type=none, o=bind, device=/absolute/path)"
        )))
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "o" | "device"))
    {
        return bad(&format!("invalid option: {k:?}"));
    }
    let binds = o
        .get("o")
        .is_some_and(|v| v.split(',').any(|x| x == "bind" || x == "rbind"));
    let device = o.get("device").map(String::as_str).unwrap_or("");
    if o.get("type").map(String::as_str) != Some("none") || !binds {
        return bad("unsupported mount type");
    }
    if !device.starts_with('/') {
        return bad(&format!("invalid device {device:?}"));
    }
    Ok(())
}

/// Where a volume's content lives: its `_data` dir, or the host directory it binds.
pub fn data_dir(v: &Volume) -> &str {
    match v.options.get("device") {
        Some(d) if v.options.get("type").map(String::as_str) == Some("none") => d,
        _ => &v.mountpoint,
    }
}

/// A volume in docker's inspect shape (`volume inspect`, `GET /volumes/{name}`).
pub fn inspect_json(v: &Volume) -> serde_json::Value {
    let map_or_null = |m: &BTreeMap<String, String>| {
        if m.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(m)
        }
    };
    serde_json::json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": map_or_null(&v.labels),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": map_or_null(&v.options),
        "Scope": v.scope,
    })
}

/// The names of the volumes some container (running or not) mounts.
pub fn used(store: &Store) -> Result<HashSet<String>> {
    Ok(store
        .all()?
        .into_iter()
        .flat_map(|c| c.mounts.into_iter())
        .filter(|m| m.kind == "volume")
        .map(|m| m.name)
        .collect())
}

/// The filters of `volume ls` / `GET /volumes`.
pub const LIST_FILTERS: &[&str] = &["name", "driver", "label", "label!", "dangling"];

/// `volume ls`: the volumes `f` selects, by name.
pub fn list(store: &Store, f: &Filters) -> Result<Vec<Volume>> {
    filters::validate(f, LIST_FILTERS)?;
    let dangling = filters::boolean(f, "dangling")?;
    let used = match dangling {
        Some(_) => used(store)?,
        None => HashSet::new(),
    };
    let mut out: Vec<Volume> = store
        .volumes()?
        .into_iter()
        .filter(|v| {
            filters::contains(f, "name", &v.name)
                && filters::exact(f, "driver", &v.driver)
                && filters::labels(f, "label", &v.labels)
                && filters::no_labels(f, "label!", &v.labels)
                && dangling.is_none_or(|d| d != used.contains(&v.name))
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Containers (ids) that mount a volume.
pub fn users(store: &Store, name: &str) -> Result<Vec<String>> {
    Ok(store
        .all()?
        .into_iter()
        .filter(|c| {
            c.mounts
                .iter()
                .any(|m| m.kind == "volume" && m.name == name)
        })
        .map(|c| c.id)
        .collect())
}

pub fn remove(store: &Store, root: &Path, name: &str, force: bool) -> Result<()> {
    if store.volume(name)?.is_none() {
        if force {
            return Ok(());
        }
        return Err(Error::NoSuchVolume(name.to_string()));
    }
    let users = users(store, name)?;
    if !users.is_empty() {
        return Err(Error::Conflict(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    store.remove_volume(name)?;
    crate::events::emit_root(root, Type::Volume, "destroy", name, driver_attr());
    let dir = volumes_dir(root).join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).ctx(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The label moby 23+ gives an anonymous volume (its prune's default selects on it).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The filters of `volume prune` / `POST /volumes/prune`.
pub const PRUNE_FILTERS: &[&str] = &["label", "label!", "all"];

/// Remove volumes no container uses that `f` selects: anonymous ones (or labelled so, as
/// moby's) only unless `all=true` (docker's rule since API 1.42), and with `label`/`label!`. Returns names and bytes.
pub fn prune(store: &Store, root: &Path, f: &Filters) -> Result<(Vec<String>, u64)> {
    filters::validate(f, PRUNE_FILTERS)?;
    let all = filters::boolean(f, "all")?.unwrap_or(false);
    let used = used(store)?;
    let mut gone = Vec::new();
    let mut bytes = 0;
    for v in store.volumes()? {
        if used.contains(&v.name)
            || !(all || v.anonymous || v.labels.contains_key(ANONYMOUS_LABEL))
            || !filters::labels(f, "label", &v.labels)
            || !filters::no_labels(f, "label!", &v.labels)
        {
            continue;
        }
        bytes += du(Path::new(&v.mountpoint));
        remove(store, root, &v.name, false)?;
        gone.push(v.name);
    }
    Ok((gone, bytes))
}

/// Disk usage of a tree (st_blocks), without following symlinks.
pub fn du(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = md.blocks() * 512;
    if md.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                n += du(&e.path());
            }
        }
    }
    n
}

/// One parsed `-v` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    /// empty for an anonymous volume
    pub source: String,
    pub target: String,
    pub readonly: bool,
    pub options: Vec<String>,
}

/// Parse `-v SRC:DST[:opts]` / `-v DST` as docker does.
pub fn parse_bind(s: &str) -> Result<Bind> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || Error::Invalid(format!("invalid volume specification: '{s}'"));
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => return Err(bad()),
    };
    if !target.starts_with('/') || target.is_empty() {
        return Err(Error::Invalid(format!(
            "invalid volume specification: '{s}': invalid mount config for type \"{}\": invalid mount path: '{target}' mount path must be absolute",
            if source.starts_with('/') { "bind" } else { "volume" }
        )));
    }
    let mut readonly = false;
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                options.push(o.to_string())
            }
            _ => return Err(bad()),
        }
    }
    if source.is_empty() && opts.contains("ro") && parts.len() == 1 {
        return Err(bad());
    }
    Ok(Bind {
        source: source.to_string(),
        target: clean(target),
        readonly,
        options,
    })
}

/// Lexically clean an absolute container path.
pub fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// A mount point in inspect's shape for a volume.
pub fn volume_mount(v: &Volume, target: &str, readonly: bool) -> MountPoint {
    MountPoint {
        kind: "volume".into(),
        name: v.name.clone(),
        source: data_dir(v).to_string(),
        destination: target.to_string(),
        driver: "local".into(),
        mode: if readonly { "ro".into() } else { "z".into() },
        rw: !readonly,
        propagation: String::new(),
    }
}

pub fn bind_mount(source: &str, target: &str, readonly: bool, options: &[String]) -> MountPoint {
    MountPoint {
        kind: "bind".into(),
        source: source.to_string(),
        destination: target.to_string(),
        mode: if readonly { "ro".into() } else { String::new() },
        rw: !readonly,
        propagation: options
            .iter()
            .find(|o| o.contains("shared") || o.contains("slave") || o.contains("private"))
            .cloned()
            .unwrap_or_else(|| "rprivate".into()),
        ..Default::default()
    }
}

/// docker's rule: a volume that is empty when first mounted gets a copy of what the image has
/// at the mount point (owners, modes, symlinks kept). Done once per volume.
pub fn populate(store: &Store, v: &Volume, rootfs: &Path, target: &str) -> Result<()> {
    if v.populated {
        return Ok(());
    }
    let dst = Path::new(data_dir(v));
    let empty = std::fs::read_dir(dst)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        // resolved and opened inside the rootfs: an image symlink cannot point the copy at the
        // host
        let root =
            image::rootfd::Root::open(rootfs).ctx(|| format!("open {}", rootfs.display()))?;
        if let Ok(src) = root.node(target, true) {
            if src.is_dir() {
                copy_tree(&src, dst)?;
            }
        }
    }
    store.update_volume(&v.name, |v| v.populated = true)?;
    Ok(())
}

/// Copy a directory's content (owners, modes, times and symlinks kept, nothing followed) into
/// `dst`: the archive code's fd walk into the layer extraction's fd-relative writes, through a
/// pipe, so neither side goes by a path another process could swap.
pub fn copy_tree(src: &image::rootfd::Node, dst: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let out = std::fs::File::open(dst).ctx(|| format!("open {}", dst.display()))?;
    let (r, w) = std::io::pipe().ctx(|| "pipe".to_string())?;
    let apply = image::layer::ApplyOptions {
        whiteouts: image::layer::WhiteoutMode::Apply,
        allow_devices: image::layer::running_as_root(),
        chown: image::layer::running_as_root(),
    };
    let dir = out.try_clone().ctx(|| format!("open {}", dst.display()))?;
    let writer = std::thread::spawn(move || {
        let mut r = r;
        let applied = image::layer::apply_layer_at(&mut r, dir.into(), &apply);
        // drain what is left, so the writer never writes into a closed pipe
        let _ = std::io::copy(&mut r, &mut std::io::sink());
        applied
    });
    let written = image::diff::tree_tar::append_tree(
        &mut tar::Builder::new(w),
        src,
        ".",
        image::diff::tree_tar::Flavor::Plain,
    );
    let applied = writer
        .join()
        .map_err(|_| Error::Other("volume copy panicked".into()))?;
    written?;
    applied?;
    let md = &src.md;
    let _ = std::os::unix::fs::fchown(&out, Some(md.uid()), Some(md.gid()));
    let _ = out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
        md.mode() & 0o7777,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_like_docker() {
        assert_eq!(
            parse_bind("data:/data:ro").unwrap(),
            Bind {
                source: "data".into(),
                target: "/data".into(),
                readonly: true,
                options: vec![]
            }
        );
        assert_eq!(parse_bind("/anon").unwrap().source, "");
        assert_eq!(parse_bind("/h:/x/../y").unwrap().target, "/y");
        assert!(parse_bind("data:rel").is_err());
        assert!(parse_bind("a:/b:bogus").is_err());
        assert!(parse_bind("a:/b:ro:x").is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("data"));
        assert!(valid_name("my_vol.1-x"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
    }
}
