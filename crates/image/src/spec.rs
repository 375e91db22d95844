//! Image formats: OCI image index/manifest/config and docker schema2
//! manifest/list, parsed with oci-spec; platform selection.

use crate::digest::Digest;
use crate::error::{invalid, Error, Result};
use oci_spec::image::{ImageIndex, ImageManifest};
use serde_json::Value;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// What a registry `Accept` header lists.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A single-platform manifest reduced to what berth uses.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Clone, Debug)]
pub struct IndexEntry {
    pub descriptor: Descriptor,
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Manifest,
    Index,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || invalid(format!("platform {s:?}"), "expected os/arch[/variant]");
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(bad()),
        }
    }

    /// linux/amd64, or the host's architecture when it is something else.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: None,
        }
    }

    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn conv(d: &oci_spec::image::Descriptor, what: &str) -> Result<Descriptor> {
    Ok(Descriptor {
        media_type: d.media_type().to_string(),
        digest: Digest::parse(d.digest().as_ref()).map_err(|_| {
            invalid(
                what,
                format!("digest {:?} is not sha256", d.digest().to_string()),
            )
        })?,
        size: d.size(),
    })
}

/// Find what a manifest-ish document is, from its mediaType or its shape.
pub fn kind_of(bytes: &[u8], header_type: Option<&str>, what: &str) -> Result<(Parsed, String)> {
    let v: Value = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })?;
    let mt = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .or_else(|| header_type.map(|h| h.split(';').next().unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    match mt.as_str() {
        OCI_INDEX | DOCKER_LIST => Ok((Parsed::Index, mt)),
        OCI_MANIFEST | DOCKER_MANIFEST => Ok((Parsed::Manifest, mt)),
        "" if v.get("manifests").is_some() => Ok((Parsed::Index, OCI_INDEX.into())),
        "" if v.get("layers").is_some() => Ok((Parsed::Manifest, OCI_MANIFEST.into())),
        "application/vnd.docker.distribution.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v1+prettyjws" => {
            Err(Error::UnsupportedMediaType {
                what: what.into(),
                media_type: format!("{mt} (docker schema 1 is deprecated)"),
            })
        }
        other => Err(Error::UnsupportedMediaType {
            what: what.into(),
            media_type: other.to_string(),
        }),
    }
}

pub fn parse_manifest(bytes: &[u8], what: &str) -> Result<Manifest> {
    let (k, mt) = kind_of(bytes, None, what)?;
    if k != Parsed::Manifest {
        return Err(invalid(what, "expected an image manifest, found an index"));
    }
    let m: ImageManifest = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })?;
    let config = conv(m.config(), what)?;
    let layers = m
        .layers()
        .iter()
        .map(|l| conv(l, what))
        .collect::<Result<Vec<_>>>()?;
    for l in &layers {
        if !is_layer_type(&l.media_type) {
            return Err(Error::UnsupportedMediaType {
                what: format!("layer {} of {what}", l.digest),
                media_type: l.media_type.clone(),
            });
        }
    }
    Ok(Manifest {
        media_type: mt,
        config,
        layers,
    })
}

pub fn is_layer_type(mt: &str) -> bool {
    matches!(
        mt,
        OCI_LAYER
            | OCI_LAYER_GZIP
            | OCI_LAYER_ZSTD
            | DOCKER_LAYER
            | DOCKER_LAYER_GZIP
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            | crate::kept::KEPT_LAYER
    )
}

pub fn parse_index(bytes: &[u8], what: &str) -> Result<Vec<IndexEntry>> {
    let i: ImageIndex = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })?;
    i.manifests()
        .iter()
        .map(|d| {
            Ok(IndexEntry {
                descriptor: conv(d, what)?,
                platform: d.platform().as_ref().map(|p| Platform {
                    os: p.os().to_string(),
                    architecture: p.architecture().to_string(),
                    variant: p.variant().clone(),
                }),
            })
        })
        .collect()
}

/// Pick the manifest for `want` from an index.
pub fn select_platform<'a>(
    entries: &'a [IndexEntry],
    want: &Platform,
    reference: &str,
) -> Result<&'a IndexEntry> {
    let manifests = entries.iter().filter(|e| {
        matches!(
            e.descriptor.media_type.as_str(),
            OCI_MANIFEST | DOCKER_MANIFEST
        )
    });
    let mut best: Option<&IndexEntry> = None;
    for e in manifests {
        if let Some(p) = &e.platform {
            if want.matches(p) {
                // prefer an exact variant match, then the first one listed
                if best.is_none() || p.variant == want.variant {
                    best = Some(e);
                    if p.variant == want.variant {
                        break;
                    }
                }
            }
        }
    }
    best.ok_or_else(|| Error::PlatformNotFound {
        platform: want.to_string(),
        reference: reference.to_string(),
        available: entries
            .iter()
            .filter_map(|e| e.platform.as_ref().map(|p| p.to_string()))
            .filter(|p| p != "unknown/unknown")
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The parts of an image config berth reads.
#[derive(Clone, Debug, Default)]
pub struct ConfigInfo {
    pub created: String,
    pub diff_ids: Vec<Digest>,
    pub os: String,
    pub architecture: String,
}

pub fn parse_config(bytes: &[u8], what: &str) -> Result<(Value, ConfigInfo)> {
    let v: Value = serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })?;
    let diff_ids = v
        .pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .ok_or_else(|| invalid(what, "missing rootfs.diff_ids"))?
        .iter()
        .map(|d| {
            d.as_str()
                .ok_or_else(|| invalid(what, "rootfs.diff_ids entry is not a string"))
                .and_then(Digest::parse)
        })
        .collect::<Result<Vec<_>>>()?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let info = ConfigInfo {
        created: s("created"),
        diff_ids,
        os: s("os"),
        architecture: s("architecture"),
    };
    Ok((v, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn selects_platform_from_docker_list() {
        let list = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "digest": d('a'), "size": 1,
                 "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
                {"mediaType": DOCKER_MANIFEST, "digest": d('b'), "size": 1,
                 "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": DOCKER_MANIFEST, "digest": d('c'), "size": 1,
                 "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
            ]
        });
        let bytes = serde_json::to_vec(&list).unwrap();
        assert_eq!(kind_of(&bytes, None, "x").unwrap().0, Parsed::Index);
        let e = parse_index(&bytes, "x").unwrap();
        let amd = select_platform(&e, &Platform::parse("linux/amd64").unwrap(), "r").unwrap();
        assert_eq!(amd.descriptor.digest.as_str(), d('b'));
        let arm = select_platform(&e, &Platform::parse("linux/arm64").unwrap(), "r").unwrap();
        assert_eq!(arm.descriptor.digest.as_str(), d('c'));
        let err = select_platform(&e, &Platform::parse("linux/s390x").unwrap(), "r").unwrap_err();
        assert!(
            err.to_string()
                .contains("linux/arm/v7, linux/amd64, linux/arm64/v8"),
            "{err}"
        );
        assert!(Platform::parse("linux").is_err());
    }

    #[test]
    fn parses_docker_and_oci_manifests() {
        for (mt, cfg, layer) in [
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP),
            (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_ZSTD),
        ] {
            let m = serde_json::json!({
                "schemaVersion": 2, "mediaType": mt,
                "config": {"mediaType": cfg, "digest": d('1'), "size": 10},
                "layers": [{"mediaType": layer, "digest": d('2'), "size": 20}]
            });
            let m = parse_manifest(&serde_json::to_vec(&m).unwrap(), "m").unwrap();
            assert_eq!(m.media_type, mt);
            assert_eq!(m.config.media_type, cfg);
            assert_eq!(m.layers[0].size, 20);
        }
        let bad = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(parse_manifest(bad, "m")
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
    }
}
