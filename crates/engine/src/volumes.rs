//! Volumes: named and anonymous directories under `<root>/volumes/<name>/_data`, and the
//! resolution of a container's `-v`, `--mount` and image `VOLUME`s into mount points.

use crate::error::{Error, IoContext, Result};
use crate::store::Store;
use crate::types::{MountPoint, Volume};
use std::collections::BTreeMap;
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
    let dir = volumes_dir(root).join(&name);
    let v = Volume {
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        driver: "local".into(),
        labels,
        mountpoint: dir.join("_data").to_string_lossy().into_owned(),
        name: name.clone(),
        options: BTreeMap::new(),
        scope: "local".into(),
        populated: false,
        anonymous,
    };
    std::fs::create_dir_all(dir.join("_data")).ctx(|| format!("create volume dir {name}"))?;
    store.insert_volume(&v)
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
    let dir = volumes_dir(root).join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).ctx(|| format!("remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Remove volumes no container uses (anonymous ones only unless `all`). Returns names and bytes.
pub fn prune(store: &Store, root: &Path, all: bool) -> Result<(Vec<String>, u64)> {
    let used: std::collections::HashSet<String> = store
        .all()?
        .into_iter()
        .flat_map(|c| c.mounts.into_iter())
        .filter(|m| m.kind == "volume")
        .map(|m| m.name)
        .collect();
    let mut gone = Vec::new();
    let mut bytes = 0;
    for v in store.volumes()? {
        if used.contains(&v.name) || !(all || v.anonymous) {
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
        source: v.mountpoint.clone(),
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
    let dst = Path::new(&v.mountpoint);
    let empty = std::fs::read_dir(dst)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        // resolve inside the rootfs: an image symlink cannot point the copy at the host
        if let Ok(src) = runtime::rootfs::resolve_in_root(rootfs, Path::new(target)) {
            if src.is_dir() {
                copy_tree(&src, dst)?;
            }
        }
    }
    store.update_volume(&v.name, |v| v.populated = true)?;
    Ok(())
}

/// Copy a directory's content preserving owner, mode, times and symlinks (no following).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let md = std::fs::symlink_metadata(src).ctx(|| format!("stat {}", src.display()))?;
    let _ = std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()));
    let _ = std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777));
    for e in std::fs::read_dir(src).ctx(|| format!("read {}", src.display()))? {
        let e = e.ctx(|| format!("read {}", src.display()))?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let md = std::fs::symlink_metadata(&from).ctx(|| format!("stat {}", from.display()))?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&to).ctx(|| format!("mkdir {}", to.display()))?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            let l = std::fs::read_link(&from).ctx(|| format!("readlink {}", from.display()))?;
            std::os::unix::fs::symlink(l, &to).ctx(|| format!("symlink {}", to.display()))?;
            let _ = std::os::unix::fs::lchown(&to, Some(md.uid()), Some(md.gid()));
        } else if ft.is_file() {
            std::fs::copy(&from, &to).ctx(|| format!("copy {}", from.display()))?;
            let _ = std::os::unix::fs::lchown(&to, Some(md.uid()), Some(md.gid()));
            let _ =
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(md.mode() & 0o7777));
        }
        // sockets, fifos and device nodes are not copied
    }
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
