//! `docker commit`: a container's changes become a new image layer.

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Status;
use serde_json::{Map, Value};
use std::fs::File;
use std::io;
use std::time::Duration;

#[derive(Default, Clone, Debug)]
pub struct CommitOptions {
    /// REPO[:TAG]
    pub reference: Option<String>,
    pub comment: String,
    pub author: String,
    /// Dockerfile instructions (`--change`)
    pub changes: Vec<String>,
    /// pause a running container while its changes are read
    pub pause: bool,
    /// the API's Config body: image-level fields given override the container's
    /// (`Env`, `Labels` and `ExposedPorts` are merged, as dockerd merges them)
    pub config: Option<Map<String, Value>>,
}

/// dockerd's commit merge: the fields `user` sets win over the container's `cfg`; `Env`
/// entries, `Labels` and `ExposedPorts` the user left out are kept from the container.
pub fn merge_commit_config(cfg: &mut Map<String, Value>, user: &Map<String, Value>) {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    for (k, v) in user {
        if empty(v) {
            continue;
        }
        let merged = match (k.as_str(), cfg.get(k), v) {
            ("Env", Some(Value::Array(old)), Value::Array(new)) => {
                let key = |e: &Value| {
                    e.as_str()
                        .map(|s| s.split('=').next().unwrap_or(s).to_string())
                };
                let mut all = new.clone();
                for e in old {
                    if !new.iter().any(|n| key(n) == key(e)) {
                        all.push(e.clone());
                    }
                }
                Value::Array(all)
            }
            ("Labels" | "ExposedPorts", Some(Value::Object(old)), Value::Object(new)) => {
                let mut all = old.clone();
                all.extend(new.iter().map(|(a, b)| (a.clone(), b.clone())));
                Value::Object(all)
            }
            _ => v.clone(),
        };
        cfg.insert(k.clone(), merged);
    }
}

/// The image config a committed container gets: its Config's image-level fields.
pub fn commit_config(c: &crate::types::Config) -> Map<String, Value> {
    let v = serde_json::to_value(c).unwrap_or_default();
    let mut m = Map::new();
    for k in [
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Healthcheck",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "Labels",
        "StopSignal",
    ] {
        if let Some(x) = v.get(k) {
            if !x.is_null() {
                m.insert(k.to_string(), x.clone());
            }
        }
    }
    m.insert("OnBuild".into(), Value::Null);
    m
}

/// Guard that unpauses what commit paused.
struct Unpause<'a>(&'a Engine, Option<String>);

impl Drop for Unpause<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.1.take() {
            let _ = self.0.unpause(&id);
        }
    }
}

impl Engine {
    /// `POST /commit`: the container's changes become a new layer on top of its image.
    pub fn commit(&self, key: &str, o: &CommitOptions) -> Result<image::Image> {
        let c = self.find_reconciled(key)?;
        let images = self.images()?;
        let reference = o
            .reference
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(image::Reference::parse)
            .transpose()?;
        let base = images.get(&c.image).map_err(|e| match e {
            image::Error::ImageNotFound(_) => Error::NoSuchImage(c.image.clone()),
            e => e.into(),
        })?;
        let mut cfg = commit_config(&c.config);
        if let Some(user) = &o.config {
            merge_commit_config(&mut cfg, user);
        }
        for ch in &o.changes {
            image::change::apply_change(&mut cfg, ch)?;
        }
        // rootless containers cannot be frozen (no cgroup): committed running, as podman's
        // default (--pause=false)
        let paused = o.pause
            && crate::paths::rootless_uid().is_none()
            && c.state.status == Status::Running
            && match self.pause(&c.id) {
                Ok(()) => true,
                // it exited just now (its record lags the process a moment): nothing to freeze
                Err(_) if self.wait_not_live(&c.id, Duration::from_secs(5)).is_ok() => false,
                Err(e) => return Err(e),
            };
        let unpause = Unpause(self, paused.then(|| c.id.clone()));
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        let p = tmp.join(format!("commit-{}", crate::names::random_id()));
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
            .ctx(|| format!("create {}", p.display()))?;
        let _ = std::fs::remove_file(&p);
        let mut f = images.diff_snapshot(&c.id, f)?;
        drop(unpause);
        io::Seek::rewind(&mut f).ctx(|| "rewind layer".to_string())?;
        let mut created_by = vec![c.path.clone()];
        created_by.extend(c.args.iter().cloned());
        let img = image::archive::commit(
            images,
            &base,
            f,
            cfg,
            reference.as_ref(),
            &o.comment,
            &o.author,
            &created_by.join(" "),
        )?;
        crate::events::container(self, &c, "commit", &[("imageID", img.id().to_string())]);
        Ok(img)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commit_config_fields() {
        let c = crate::types::Config {
            cmd: Some(vec!["sh".into()]),
            env: vec!["A=1".into()],
            working_dir: "/w".into(),
            ..Default::default()
        };
        let m = commit_config(&c);
        assert_eq!(m["Cmd"], json!(["sh"]));
        assert_eq!(m["WorkingDir"], "/w");
        assert!(!m.contains_key("StopSignal"));
    }
}
