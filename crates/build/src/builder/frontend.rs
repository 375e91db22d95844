//! What a build is for: the Dockerfile frontend its `# syntax=` line asks for (only the
//! built-in one: berth builds offline) and the platform args BuildKit predefines.

use super::invalid;
use engine::Result;

/// `# syntax=REF`: the Dockerfile frontends built in (docker/dockerfile 1.x and labs, by tag
/// or digest); berth builds offline and fetches no other frontend image.
pub(super) fn frontend(r: &str) -> Result<()> {
    let name = r.split('@').next().unwrap_or_default();
    let name = name
        .strip_prefix("docker.io/")
        .unwrap_or(name)
        .strip_prefix("docker/dockerfile")
        .unwrap_or("?");
    let tag = match name.split_once(':') {
        Some(("", t)) => t,
        None if name.is_empty() => "latest",
        _ => "?",
    };
    let version = tag.strip_suffix("-labs").unwrap_or(tag);
    let ok = version == "latest"
        || version == "labs"
        || version == "1"
        || version
            .strip_prefix("1.")
            .is_some_and(|v| v.split('.').all(|n| n.parse::<u32>().is_ok()));
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "failed to resolve source metadata for {r}: berth builds offline and has only the built-in Dockerfile frontend (docker/dockerfile:1); remove the syntax line or use docker/dockerfile:1"
    )))
}

/// The platform a build runs on, as OCI names it (`linux/amd64`, `linux/arm64/v8`).
fn host_platform() -> (String, String, String) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "arm" => "arm",
        a => a,
    };
    let variant = match arch {
        "arm64" => "v8",
        "arm" => "v7",
        _ => "",
    };
    ("linux".into(), arch.into(), variant.into())
}

/// BUILDPLATFORM/BUILDOS/BUILDARCH/BUILDVARIANT and their TARGET* twins (the target platform
/// is the host's: berth does not emulate others, and refuses them by name).
pub(super) fn platform_args(target: Option<&str>) -> Result<Vec<(String, String)>> {
    let (os, arch, variant) = host_platform();
    let full = |v: &str| {
        if v.is_empty() {
            format!("{os}/{arch}")
        } else {
            format!("{os}/{arch}/{v}")
        }
    };
    if let Some(t) = target.filter(|t| !t.is_empty()) {
        let same = t == full(&variant) || t == format!("{os}/{arch}") || t == arch;
        if !same {
            return Err(invalid(format!(
                "platform {t} is not supported: berth builds for this host's platform ({}) only",
                full(&variant)
            )));
        }
    }
    let mut out = Vec::new();
    for p in ["BUILD", "TARGET"] {
        out.push((format!("{p}PLATFORM"), full(&variant)));
        out.push((format!("{p}OS"), os.clone()));
        out.push((format!("{p}ARCH"), arch.clone()));
        out.push((format!("{p}VARIANT"), variant.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_frontends_only() {
        for ok in [
            "docker/dockerfile:1",
            "docker/dockerfile:1.7",
            "docker/dockerfile:1.4.3",
            "docker.io/docker/dockerfile:1",
            "docker/dockerfile:1-labs",
            "docker/dockerfile:1.7-labs",
            "docker/dockerfile",
            "docker/dockerfile:labs",
            "docker/dockerfile:1@sha256:abc",
        ] {
            assert!(frontend(ok).is_ok(), "{ok}");
        }
        for bad in [
            "tonistiigi/dockerfile:x",
            "docker/dockerfile:0.9",
            "example.com/front:1",
        ] {
            let e = frontend(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("offline"), "{e}");
        }
    }

    #[test]
    fn platform_args_are_the_hosts() {
        let args = platform_args(None).unwrap();
        let get = |k: &str| args.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("TARGETOS"), "linux");
        assert_eq!(get("BUILDPLATFORM"), get("TARGETPLATFORM"));
        assert!(get("TARGETPLATFORM").starts_with(&format!("linux/{}", get("TARGETARCH"))));
        let host = get("TARGETPLATFORM");
        assert!(platform_args(Some(&host)).is_ok());
        let e = platform_args(Some("linux/s390x")).unwrap_err().to_string();
        assert!(e.contains("linux/s390x"), "{e}");
    }
}
