//! `docker rmi`: untagging and removing images with dockerd's rules.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use std::collections::HashSet;

/// One line of an image removal, as `rmi` prints them and `DELETE /images/{name}` lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageDelete {
    Untagged(String),
    Deleted(String),
}

/// The name docker's "No such image" gives: `busybox` as `busybox:latest`.
pub fn image_not_found(name: &str) -> Error {
    let shown = image::Reference::parse(name)
        .ok()
        .filter(|r| r.digest.is_none() && !name.starts_with("sha256:"))
        .map(|r| r.familiar())
        .unwrap_or_else(|| name.to_string());
    Error::NoSuchImage(shown)
}

fn short12(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

impl Engine {
    /// `docker rmi` with dockerd's rules. A tag is untagged, and the image goes with its last
    /// tag; an id removes the image with all its names when they are of one repository (of
    /// several only with `force`). An image a container uses stays: without `force` that is a
    /// conflict; with it only its names go (a running container's image cannot be forced
    /// away by id, as with dockerd; a stopped one's, which dockerd would delete, is kept
    /// because berth's container snapshots stand on the image's layers).
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<ImageDelete>> {
        let images = self.images()?;
        let rec = images.resolve(name).map_err(|e| match e {
            image::Error::ImageNotFound(_) => image_not_found(name),
            e => e.into(),
        })?;
        let id = rec.config.to_string();
        let tags = images.index.tags_of(&rec.manifest)?;
        let users: Vec<Container> = self
            .list_reconciled()?
            .into_iter()
            .filter(|c| c.image == id)
            .collect();
        let untag = |t: &str| -> Result<ImageDelete> {
            images.index.remove_tag(t)?;
            let name = image::images::familiar(t);
            crate::events::image(images, "untag", &id, &name);
            Ok(ImageDelete::Untagged(name))
        };
        let by_tag = image::Reference::parse(name)
            .ok()
            .filter(|r| r.digest.is_none())
            .and_then(|r| r.tagged())
            .filter(|t| tags.contains(t));
        let repos: HashSet<String> = tags
            .iter()
            .filter_map(|t| image::Reference::parse(t).ok())
            .map(|r| r.name())
            .collect();
        let conflict = |how: &str, why: String| {
            Error::Conflict(format!(
                "conflict: unable to delete {} ({how}) - {why}",
                short12(&id)
            ))
        };
        if let Some(t) = &by_tag {
            if let Some(c) = users.first() {
                if tags.len() == 1 && !force {
                    return Err(Error::Conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                        short12(&c.id),
                        short12(&id)
                    )));
                }
                return Ok(vec![untag(t)?]);
            }
        } else {
            if let Some(c) = users.iter().find(|c| c.state.status.is_live()) {
                return Err(conflict(
                    "cannot be forced",
                    format!(
                        "image is being used by running container {}",
                        short12(&c.id)
                    ),
                ));
            }
            if repos.len() > 1 && !force {
                return Err(conflict(
                    "must be forced",
                    "image is referenced in multiple repositories".into(),
                ));
            }
            if let Some(c) = users.first() {
                if !force {
                    return Err(conflict(
                        "must be forced",
                        format!(
                            "image is being used by stopped container {}",
                            short12(&c.id)
                        ),
                    ));
                }
                return tags.iter().map(|t| untag(t)).collect();
            }
        }
        // nothing uses it: the store's own removal (several tags of one repository go with
        // the id, as dockerd's single-reference rule has it)
        let r = images.remove(name, force || repos.len() <= 1)?;
        let mut out = Vec::new();
        for u in r.untagged {
            crate::events::image(images, "untag", &id, &u);
            out.push(ImageDelete::Untagged(u));
        }
        for d in r.deleted {
            crate::events::image(images, "delete", d.as_str(), "");
            out.push(ImageDelete::Deleted(d.to_string()));
        }
        Ok(out)
    }
}
