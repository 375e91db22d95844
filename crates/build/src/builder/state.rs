//! The state of the stage being built: its current image, config and ARGs.

use image::Image;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The state of one stage while it is built.
pub(super) struct State {
    /// the current image (None: FROM scratch and nothing built yet)
    pub(super) image: Option<Image>,
    /// the image's runtime config (`config` of the image config)
    pub(super) config: Map<String, Value>,
    /// ARGs declared in this stage and their values
    pub(super) args: BTreeMap<String, Option<String>>,
    /// the ARGs before the first FROM: a stage's `ARG NAME` without a default takes its value
    pub(super) global: BTreeMap<String, Option<String>>,
    /// its layers may be kept without blobs (no image the build exports is made of them)
    pub(super) keep_layers: bool,
}

impl State {
    /// A stage on `image` (None: scratch), with its runtime config.
    pub(super) fn on(image: Option<Image>, global: BTreeMap<String, Option<String>>) -> State {
        let config = image
            .as_ref()
            .and_then(|i| i.config.get("config"))
            .and_then(|c| c.as_object().cloned())
            .unwrap_or_default();
        State {
            image,
            config,
            args: BTreeMap::new(),
            global,
            keep_layers: false,
        }
    }

    pub(super) fn id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id().to_string())
            .unwrap_or_else(|| "scratch".into())
    }

    /// The strings of the config's array `key` (`Env`, `OnBuild`), none when unset.
    pub(super) fn strings(&self, key: &str) -> Vec<String> {
        self.config
            .get(key)
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn env(&self) -> Vec<String> {
        self.strings("Env")
    }

    fn env_get(&self, k: &str) -> Option<String> {
        self.env().iter().find_map(|e| {
            e.split_once('=')
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Variables for expansion: ENV wins over ARG, as docker's scoping does.
    pub(super) fn lookup(&self, name: &str) -> Option<String> {
        self.env_get(name)
            .or_else(|| self.args.get(name).cloned().flatten())
    }

    pub(super) fn shell(&self) -> Vec<String> {
        self.config
            .get("Shell")
            .and_then(|s| serde_json::from_value::<Vec<String>>(s.clone()).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    pub(super) fn workdir(&self) -> String {
        self.config
            .get("WorkingDir")
            .and_then(|w| w.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string()
    }

    /// The build args in effect, as they take part in every cache key (docker: for RUN).
    pub(super) fn args_in_effect(&self) -> String {
        self.args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}\n")))
            .collect()
    }

    /// An object of the config (`Labels`, `ExposedPorts`, `Volumes`), empty when unset.
    pub(super) fn object(&self, key: &str) -> Map<String, Value> {
        self.config
            .get(key)
            .and_then(|l| l.as_object().cloned())
            .unwrap_or_default()
    }
}
