//! The build context: a directory (or a tar read from stdin, unpacked into a temporary
//! directory) filtered by `.dockerignore`; COPY/ADD sources are resolved and content-hashed
//! here for the cache.

use crate::ignore::{self, Ignore};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct Context {
    pub root: PathBuf,
    pub ignore: Ignore,
    /// a temporary directory we own (context from a tar): removed on drop
    owned: bool,
}

impl Drop for Context {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn err(msg: impl Into<String>) -> engine::Error {
    engine::Error::Invalid(msg.into())
}

impl Context {
    pub fn from_dir(dir: &Path) -> engine::Result<Context> {
        let root = std::fs::canonicalize(dir).map_err(|e| {
            err(format!(
                "unable to prepare context: path {:?} not found: {e}",
                dir.display().to_string()
            ))
        })?;
        if !root.is_dir() {
            return Err(err(format!(
                "unable to prepare context: context must be a directory: {}",
                root.display()
            )));
        }
        let ignore =
            ignore::parse(&std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default());
        Ok(Context {
            root,
            ignore,
            owned: false,
        })
    }

    /// `berth build -`: a tar of the context on stdin (any compression).
    pub fn from_tar<R: Read>(reader: R, tmp_parent: &Path) -> engine::Result<Context> {
        let root = tmp_parent.join(format!("build-context-{}", engine::names::random_id()));
        std::fs::create_dir_all(&root)
            .map_err(|e| err(format!("create {}: {e}", root.display())))?;
        let mut ctx = Context {
            root: root.clone(),
            ignore: Ignore::default(),
            owned: true,
        };
        let r = image::layer::decompress(reader).map_err(|e| err(format!("read context: {e}")))?;
        engine::container::tar::untar_local(r, &root)?;
        ctx.ignore =
            ignore::parse(&std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default());
        Ok(ctx)
    }

    /// Size of what would be sent to docker's daemon ("Sending build context").
    pub fn size(&self) -> u64 {
        let mut n = 0;
        self.walk(&self.root, "", &mut |_, p| {
            if let Ok(md) = std::fs::symlink_metadata(p) {
                if md.is_file() {
                    n += md.len();
                }
            }
        });
        n
    }

    /// Visit every non-excluded entry below `dir` (relative name, host path).
    pub fn walk(&self, dir: &Path, rel: &str, f: &mut dyn FnMut(&str, &Path)) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let p = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let excluded = self.ignore.excluded(&r);
            if !excluded {
                f(&r, &p);
            }
            if is_dir && (!excluded || self.ignore.may_include_below(&r)) {
                self.walk(&p, &r, f);
            }
        }
    }

    /// COPY/ADD sources: a path or wildcard pattern relative to the context root (never
    /// outside it). Excluded paths do not exist for the build, as with docker.
    pub fn resolve(&self, src: &str) -> engine::Result<Vec<(String, PathBuf)>> {
        let clean = engine::volumes::clean(src);
        let rel = clean.trim_start_matches('/').to_string();
        let not_found = || {
            err(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat {rel}: file does not exist"
            ))
        };
        if rel.is_empty() {
            return Ok(vec![(String::new(), self.root.clone())]);
        }
        if !rel.contains(['*', '?', '[']) {
            let p = self.root.join(&rel);
            if std::fs::symlink_metadata(&p).is_err() || self.ignore.excluded(&rel) {
                return Err(not_found());
            }
            // a symlink in the context must not lead the build outside the context
            let canon = std::fs::canonicalize(&p).map_err(|_| not_found())?;
            if !canon.starts_with(&self.root) {
                return Err(err(format!(
                    "COPY failed: forbidden path outside the build context: {src}"
                )));
            }
            return Ok(vec![(rel, p)]);
        }
        let mut out = Vec::new();
        self.walk(&self.root.clone(), "", &mut |r, p| {
            if glob_match(&rel, r) {
                out.push((r.to_string(), p.to_path_buf()));
            }
        });
        if out.is_empty() {
            return Err(not_found());
        }
        Ok(out)
    }

    /// A content hash of sources (names, modes, contents; directories recursively, minus
    /// excluded entries): the part of a COPY/ADD cache key that changes with the files.
    pub fn hash(&self, srcs: &[(String, PathBuf)]) -> String {
        let mut h = Sha256::new();
        for (rel, p) in srcs {
            hash_entry(&mut h, rel, p);
            if p.is_dir() {
                self.walk(p, rel, &mut |r, q| hash_entry(&mut h, r, q));
            }
        }
        format!("{:x}", h.finalize())
    }
}

fn hash_entry(h: &mut Sha256, rel: &str, p: &Path) {
    use std::os::unix::fs::MetadataExt;
    h.update(rel.as_bytes());
    h.update([0]);
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return;
    };
    h.update(md.mode().to_le_bytes());
    if md.is_file() {
        if let Ok(mut f) = std::fs::File::open(p) {
            let _ = std::io::copy(&mut f, h);
        }
    } else if md.file_type().is_symlink() {
        if let Ok(t) = std::fs::read_link(p) {
            h.update(t.as_os_str().as_encoded_bytes());
        }
    }
    h.update([1]);
}

/// Go's filepath.Match for one path (`*` and `?` do not cross `/`; `[...]` classes).
pub use image::glob::path_match as glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_resolves_and_hashes_sources() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.txt"), "1").unwrap();
        std::fs::write(d.path().join("b.txt"), "2").unwrap();
        std::fs::write(d.path().join("secret"), "x").unwrap();
        std::fs::write(d.path().join(".dockerignore"), "secret\n").unwrap();
        let c = Context::from_dir(d.path()).unwrap();
        assert_eq!(c.resolve("*.txt").unwrap().len(), 2);
        assert!(c.resolve("secret").is_err());
        assert!(c.resolve("nope").is_err());
        assert!(c.resolve("../etc/passwd").is_err());
        let h1 = c.hash(&c.resolve("a.txt").unwrap());
        std::fs::write(d.path().join("a.txt"), "changed").unwrap();
        assert_ne!(h1, c.hash(&c.resolve("a.txt").unwrap()));
    }
}
