//! `linux.cgroupsPath` handling.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// A parsed `cgroupsPath`.
///
/// - `/a/b`: absolute, relative to the root of every hierarchy.
/// - `a/b`: relative to the runtime's own cgroup in each hierarchy (from /proc/self/cgroup).
/// - `slice:prefix:name` (systemd style, as given with runc `--systemd-cgroup`): mapped
///   to the plain absolute path `/<expanded slice>/<prefix>-<name>.scope`, where a slice
///   `a-b.slice` expands to `a.slice/a-b.slice` and an empty slice is `system.slice`.
///   **Simplification:** berth does not ask systemd (over D-Bus) to create a transient
///   scope; it creates the same directories itself, so systemd does not know the unit.
/// - empty: the default `/berth/<container id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPath {
    Absolute(PathBuf),
    Relative(PathBuf),
}

impl CgroupPath {
    pub fn parse(spec: &str, container_id: &str) -> Result<CgroupPath> {
        let bad = |reason: &str| Error::InvalidPath {
            path: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec.is_empty() {
            if container_id.is_empty() || container_id.contains('/') {
                return Err(bad("empty, and the container id cannot name a cgroup"));
            }
            return Ok(CgroupPath::Absolute(Path::new("/berth").join(container_id)));
        }
        let p = if spec.contains(':') {
            let parts: Vec<&str> = spec.split(':').collect();
            if parts.len() != 3 {
                return Err(bad("systemd style must be slice:prefix:name"));
            }
            let (slice, prefix, name) = (parts[0], parts[1], parts[2]);
            if name.is_empty() {
                return Err(bad("systemd style: empty name"));
            }
            if [slice, prefix, name].iter().any(|s| s.contains('/')) {
                return Err(bad("systemd style: a part contains '/'"));
            }
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            let mut p = expand_slice(slice).ok_or_else(|| bad("invalid systemd slice name"))?;
            if name.ends_with(".slice") {
                p = expand_slice(name).ok_or_else(|| bad("invalid systemd slice name"))?;
            } else if prefix.is_empty() {
                p.push(format!("{name}.scope"));
            } else {
                p.push(format!("{prefix}-{name}.scope"));
            }
            CgroupPath::Absolute(p)
        } else if spec.starts_with('/') {
            CgroupPath::Absolute(PathBuf::from(spec))
        } else {
            CgroupPath::Relative(PathBuf::from(spec))
        };
        let inner = match &p {
            CgroupPath::Absolute(p) | CgroupPath::Relative(p) => p,
        };
        for c in inner.components() {
            match c {
                Component::RootDir | Component::Normal(_) | Component::CurDir => {}
                _ => return Err(bad("'..' is not allowed")),
            }
        }
        if inner
            .components()
            .all(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(bad("names the hierarchy root"));
        }
        Ok(p)
    }

    /// The cgroup path relative to a hierarchy root, given the runtime's own cgroup there.
    pub fn resolve(&self, own: &Path) -> PathBuf {
        let rel = |p: &Path| -> PathBuf {
            p.components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect()
        };
        match self {
            CgroupPath::Absolute(p) => rel(p),
            CgroupPath::Relative(p) => rel(own).join(rel(p)),
        }
    }
}

/// `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`; `-.slice` → root.
fn expand_slice(slice: &str) -> Option<PathBuf> {
    let base = slice.strip_suffix(".slice")?;
    if base == "-" {
        return Some(PathBuf::new());
    }
    if base.is_empty() || base.starts_with('-') || base.ends_with('-') || base.contains("--") {
        return None;
    }
    let mut out = PathBuf::new();
    let mut acc = String::new();
    for part in base.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        out.push(format!("{acc}.slice"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_default() {
        let own = Path::new("/user.slice/me.scope");
        assert_eq!(
            CgroupPath::parse("/a/b", "x").unwrap().resolve(own),
            Path::new("a/b")
        );
        assert_eq!(
            CgroupPath::parse("a/b", "x").unwrap().resolve(own),
            Path::new("user.slice/me.scope/a/b")
        );
        assert_eq!(
            CgroupPath::parse("", "ctr1").unwrap().resolve(own),
            Path::new("berth/ctr1")
        );
    }

    #[test]
    fn systemd_style() {
        let own = Path::new("/");
        assert_eq!(
            CgroupPath::parse("system.slice:berth:abc", "x")
                .unwrap()
                .resolve(own),
            Path::new("system.slice/berth-abc.scope")
        );
        assert_eq!(
            CgroupPath::parse("machine-pod1.slice:crio:abc", "x")
                .unwrap()
                .resolve(own),
            Path::new("machine.slice/machine-pod1.slice/crio-abc.scope")
        );
        assert_eq!(
            CgroupPath::parse(":berth:abc", "x").unwrap().resolve(own),
            Path::new("system.slice/berth-abc.scope")
        );
    }

    #[test]
    fn invalid() {
        for p in [
            "/a/../b",
            "a:b",
            "x.slice:p:",
            "bad:p:n",
            "/",
            "a-.slice:p:n",
        ] {
            let e = CgroupPath::parse(p, "id").unwrap_err();
            assert!(e.to_string().contains("cgroupsPath"), "{p}: {e}");
        }
        assert!(CgroupPath::parse("", "").is_err());
    }
}
