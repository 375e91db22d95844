//! Image flags docker has on several commands: `--platform` (berth keeps one platform per
//! image: the flag selects it, and an image of another platform is refused with docker's
//! words), `--disable-content-trust` (berth verifies no signatures: accepted, as docker's
//! default of true), and `--all-tags` for pull/push.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use image::images::{Image, ImageStore};
use image::spec::Platform;

#[derive(Args, Debug, Default, Clone)]
pub struct PlatformFlag {
    /// Only the image of this platform (os/arch[/variant]); berth keeps one per image
    #[arg(long)]
    pub platform: Option<String>,
}

impl PlatformFlag {
    /// Refuses `name` when its platform is not the one asked for.
    pub fn check(&self, store: &ImageStore, name: &str) -> Result<()> {
        if self.platform.is_none() {
            return Ok(());
        }
        self.check_image(&store.get(name).map_err(|e| anyhow!("{e}"))?, name)
    }

    /// Refuses `img` (what `name` named) when its platform is not the one asked for.
    pub fn check_image(&self, img: &Image, name: &str) -> Result<()> {
        let Some(p) = &self.platform else {
            return Ok(());
        };
        let want = Platform::parse(p).map_err(|e| anyhow!("{e}"))?;
        let have = Platform {
            os: img.config["os"].as_str().unwrap_or("linux").to_string(),
            architecture: img.config["architecture"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            variant: img.config["variant"].as_str().map(str::to_string),
        };
        if !want.matches(&have) {
            bail!(
                "Error response from daemon: image with reference {name} was found but does not match the specified platform: wanted {want}, actual: {have}"
            );
        }
        Ok(())
    }

    /// `import --platform`: berth's import makes images of the host's platform.
    pub fn check_host(&self) -> Result<()> {
        if let Some(p) = &self.platform {
            let want = Platform::parse(p).map_err(|e| anyhow!("{e}"))?;
            let host = Platform::host();
            if !want.matches(&host) {
                bail!("Error response from daemon: berth imports images of the host's platform ({host}), not {want}");
            }
        }
        Ok(())
    }
}

#[derive(Args, Debug, Default, Clone)]
pub struct TrustFlag {
    /// Skip image verification (berth verifies no signatures: always skipped)
    #[arg(long = "disable-content-trust", default_missing_value = "true", num_args = 0..=1, require_equals = true)]
    pub disable_content_trust: Option<bool>,
}

/// The tags of `repository` in the local store (push --all-tags).
pub fn local_tags(store: &ImageStore, repository: &str) -> Result<Vec<String>> {
    no_tag(repository)?;
    let repo = image::reference::Reference::parse(repository).map_err(|e| anyhow!("{e}"))?;
    let mut out = Vec::new();
    for s in image::views::summaries(store)? {
        for t in &s.tags {
            if t.registry == repo.registry && t.repository == repo.repository {
                out.push(t.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!(
            "An image does not exist locally with the tag: {}",
            repo.familiar_name()
        );
    }
    Ok(out)
}

/// `--all-tags` takes a repository: a tag or digest in it is refused (docker's words).
pub fn no_tag(repository: &str) -> Result<()> {
    let last = repository.rsplit('/').next().unwrap_or(repository);
    if last.contains(':') || repository.contains('@') {
        bail!("tag can't be used with --all-tags/-a");
    }
    Ok(())
}
