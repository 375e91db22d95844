//! Docker-style image references: `busybox` is `docker.io/library/busybox:latest`,
//! `host:5000/ns/name:tag@sha256:...` keeps every part.

use crate::digest::Digest;
use crate::error::{Error, Result};
use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

fn bad(reference: &str, reason: impl Into<String>) -> Error {
    Error::InvalidReference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or runs of '-'
    if c.is_empty() {
        return false;
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|x| x.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl Reference {
    /// Parse and normalise a reference the way docker does.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(bad(s, "empty reference"));
        }
        if s.len() > 255 + 128 + 72 {
            return Err(bad(s, "reference too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(Digest::parse(d).map_err(|_| bad(s, format!("invalid digest {d:?}")))?),
            ),
            None => (s, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(s, format!("invalid tag {t:?}")));
            }
        }
        if name.is_empty() {
            return Err(bad(s, "missing repository name"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_registry(first) => {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        if !valid_domain(&registry) {
            return Err(bad(s, format!("invalid registry host {registry:?}")));
        }
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(s, "repository name must be lowercase"));
        }
        for c in path.split('/') {
            if !valid_component(c) {
                return Err(bad(s, format!("invalid repository path component {c:?}")));
            }
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if registry.len() + 1 + repository.len() > 255 {
            return Err(bad(s, "repository name longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The short name docker prints: `busybox` for `docker.io/library/busybox`. Only a
    /// one-component name loses `library/` (`docker.io/library/a/b` stays `library/a/b`:
    /// `a/b` is another image), as docker's FamiliarName.
    pub fn familiar_name(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or_default();
        // docker.io/a.b/c keeps its registry: `a.b/c` would name registry a.b's image c
        if self.registry == DEFAULT_REGISTRY
            && !(self.repository.contains('/') && looks_like_registry(first))
        {
            self.repository
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        }
    }

    /// `name:tag` when a tag is present (what the image index stores).
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{}", self.name(), t))
    }

    /// The reference to ask a registry for: the digest when known, else the tag.
    pub fn registry_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

/// The first component of a name is a registry host when it has a dot or a port, or is
/// `localhost` (docker's rule).
fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse("ns/app:1.0").unwrap();
        assert_eq!(r.to_string(), "docker.io/ns/app:1.0");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("host:5000/ns/name:tag@{d}")).unwrap();
        assert_eq!(r.registry, "host:5000");
        assert_eq!(r.repository, "ns/name");
        assert_eq!(r.tag.as_deref(), Some("tag"));
        assert_eq!(r.digest.as_ref().unwrap().as_str(), d);
        let r = Reference::parse(&format!("localhost/x@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.registry, "localhost");
        let r = Reference::parse("127.0.0.1:5000/a/b").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:latest");
        assert_eq!(r.familiar(), "127.0.0.1:5000/a/b:latest");
        let r = Reference::parse("index.docker.io/library/alpine:3").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine:3");
    }

    /// Found by fuzz/fuzz_targets/reference.rs: `library/y/alpine` was shown as `y/alpine`,
    /// which names another image.
    #[test]
    fn familiar_keeps_the_registry_of_a_repository_named_like_a_host() {
        // found by the reference fuzz target: `cker.ili/alpine:3` names another registry
        let r = Reference::parse("index.docker.io/cker.ili/alpine:3").unwrap();
        assert_eq!(r.familiar(), "docker.io/cker.ili/alpine:3");
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
        let r = Reference::parse("docker.io/localhost/x").unwrap();
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(Reference::parse("a/b").unwrap().familiar(), "a/b:latest");
    }

    #[test]
    fn familiar_keeps_library_of_a_nested_name() {
        let r = Reference::parse("library/y/alpine:3.18").unwrap();
        assert_eq!(r.familiar(), "library/y/alpine:3.18");
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
        assert_eq!(
            Reference::parse("alpine").unwrap().familiar_name(),
            "alpine"
        );
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-bad",
            "a//b",
            "host:5000/",
            "name@sha256:abc",
            "name@md5:0000",
            "-abc",
            "abc-",
            "a..b",
            "host:abc/x",
            ":tag",
        ] {
            let e = Reference::parse(s);
            assert!(e.is_err(), "{s:?} parsed as {e:?}");
            let msg = e.unwrap_err().to_string();
            assert!(msg.starts_with("invalid reference"), "{msg}");
        }
    }
}
