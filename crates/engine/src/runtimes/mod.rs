//! The OCI runtimes a container may run on (`--runtime NAME`, the API's `HostConfig.Runtime`):
//! berth's own (built in, the default), runc and crun when installed, and whatever
//! `<state root>/daemon.json` adds in dockerd's shape:
//!
//! ```json
//! { "runtimes": { "youki": { "path": "/usr/local/bin/youki", "runtimeArgs": [] } },
//!   "default-runtime": "berth" }
//! ```
//!
//! [`Runtimes`] is the one handle the engine drives containers through: a container created by
//! an external runtime keeps that runtime's state under `<run root>/oci/<name>/<id>` (its
//! `--root`), so every later verb finds which runtime owns an id from the disk alone.

mod oci;

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxResources, Process};
use runtime::state::ContainerState;
use runtime::{CreateOptions, ExecOptions, Started};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use oci::Oci;

/// The built-in runtime's name.
pub const BUILTIN: &str = "berth";
/// The external runtimes registered when their binary is on PATH.
const WELL_KNOWN: &[&str] = &["runc", "crun"];
/// The configuration file in the state root.
pub const CONFIG: &str = "daemon.json";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RuntimeEntry {
    #[serde(default)]
    pub path: String,
    #[serde(default, rename = "runtimeArgs")]
    pub runtime_args: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default)]
    runtimes: BTreeMap<String, RuntimeEntry>,
    #[serde(default, rename = "default-runtime")]
    default_runtime: Option<String>,
}

/// The registered runtimes: name -> entry (the built-in's path is "berth-runtime").
#[derive(Debug, Clone)]
pub struct Registry {
    pub runtimes: BTreeMap<String, RuntimeEntry>,
    pub default: String,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Registry {
    /// The built-in, runc/crun when found, then the state root's daemon.json (whose entries
    /// win); an unreadable or invalid daemon.json is an error naming it.
    pub fn load(root: &Path) -> Result<Registry> {
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            BUILTIN.to_string(),
            RuntimeEntry {
                path: "berth-runtime".into(),
                runtime_args: vec![],
            },
        );
        for name in WELL_KNOWN {
            if let Some(p) = on_path(name) {
                runtimes.insert(
                    name.to_string(),
                    RuntimeEntry {
                        path: p.to_string_lossy().into_owned(),
                        runtime_args: vec![],
                    },
                );
            }
        }
        let file = root.join(CONFIG);
        let mut default = BUILTIN.to_string();
        if let Ok(text) = std::fs::read_to_string(&file) {
            let cfg: Config = serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?;
            for (name, e) in cfg.runtimes {
                if name == BUILTIN {
                    return Err(Error::Invalid(format!(
                        "{}: runtime name '{BUILTIN}' is reserved",
                        file.display()
                    )));
                }
                if e.path.is_empty() {
                    return Err(Error::Invalid(format!(
                        "{}: runtime {name} has no path",
                        file.display()
                    )));
                }
                runtimes.insert(name, e);
            }
            if let Some(d) = cfg.default_runtime {
                default = d;
            }
        }
        if !runtimes.contains_key(&default) {
            return Err(Error::Invalid(format!(
                "{}: default-runtime {default} is not a registered runtime",
                file.display()
            )));
        }
        Ok(Registry { runtimes, default })
    }

    /// The runtime a create request names ("" is the default), as dockerd refuses an unknown one.
    pub fn resolve(&self, name: &str) -> Result<String> {
        let name = if name.is_empty() {
            self.default.as_str()
        } else {
            name
        };
        if self.runtimes.contains_key(name) {
            Ok(name.to_string())
        } else {
            Err(Error::Invalid(format!(
                "unknown or invalid runtime name: {name}"
            )))
        }
    }
}

/// The engine's handle on its runtimes: the built-in one for its own containers, the external
/// ones (runc's command line) for theirs.
pub struct Runtimes {
    /// the built-in runtime (its state under `<run root>/runtime`)
    pub builtin: runtime::Runtime,
    run_root: PathBuf,
    root: PathBuf,
}

impl Runtimes {
    pub fn new(root: &Path, run_root: &Path) -> Runtimes {
        Runtimes {
            builtin: runtime::Runtime::new(run_root.join("runtime")),
            run_root: run_root.to_path_buf(),
            root: root.to_path_buf(),
        }
    }

    pub fn registry(&self) -> Result<Registry> {
        Registry::load(&self.root)
    }

    fn oci_root(&self, name: &str) -> PathBuf {
        self.run_root.join("oci").join(name)
    }

    /// The external runtime holding state for `id`, if one does.
    fn external(&self, id: &str) -> Option<Oci> {
        let dir = self.run_root.join("oci");
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            if e.path().join(id).exists() {
                let name = e.file_name().to_string_lossy().into_owned();
                let entry = self.registry().ok()?.runtimes.get(&name)?.clone();
                return Some(Oci::new(&name, entry, e.path()));
            }
        }
        None
    }

    /// The containers some runtime holds state for.
    pub fn state_ids(&self) -> Vec<String> {
        let names = |dir: &std::path::Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        // (caches such as .seccomp-cache)
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut ids = names(&self.builtin.root);
        for rt in names(&self.run_root.join("oci")) {
            ids.extend(names(&self.oci_root(&rt)));
        }
        ids
    }

    /// Some runtime holds state for `id` (its container was created and not deleted).
    pub fn has_state(&self, id: &str) -> bool {
        self.builtin.root.join(id).exists() || self.external(id).is_some()
    }

    /// Creates the container on runtime `name` (resolved by [`Registry::resolve`]).
    pub fn create(&self, name: &str, o: &CreateOptions) -> runtime::Result<Started> {
        if name.is_empty() || name == BUILTIN {
            return self.builtin.create(o);
        }
        let reg = self
            .registry()
            .map_err(|e| runtime::Error::Other(e.to_string()))?;
        let entry = reg.runtimes.get(name).ok_or_else(|| {
            runtime::Error::Other(format!("unknown or invalid runtime name: {name}"))
        })?;
        Oci::new(name, entry.clone(), self.oci_root(name)).create(o)
    }

    /// Starts a container this process created with `start_here`: through its gate on the
    /// built-in runtime, with the runtime's `start` on an external one (which gives no gate).
    pub fn start_created(&self, id: &str, gate: Option<runtime::StartGate>) -> runtime::Result<()> {
        match gate {
            Some(g) => self.builtin.start_created(id, g),
            None => self.start(id),
        }
    }

    pub fn start(&self, id: &str) -> runtime::Result<()> {
        match self.external(id) {
            Some(o) => o.start(id),
            None => self.builtin.start(id),
        }
    }

    pub fn kill(&self, id: &str, sig: nix::sys::signal::Signal, all: bool) -> runtime::Result<()> {
        match self.external(id) {
            Some(o) => o.kill(id, sig, all),
            None => self.builtin.kill(id, sig, all),
        }
    }

    pub fn delete(&self, id: &str, force: bool) -> runtime::Result<()> {
        match self.external(id) {
            Some(o) => o.delete(id, force),
            None => self.builtin.delete(id, force),
        }
    }

    pub fn pause(&self, id: &str) -> runtime::Result<()> {
        match self.external(id) {
            Some(o) => o.verb("pause", id),
            None => self.builtin.pause(id),
        }
    }

    pub fn resume(&self, id: &str) -> runtime::Result<()> {
        match self.external(id) {
            Some(o) => o.verb("resume", id),
            None => self.builtin.resume(id),
        }
    }

    /// The container's state as the built-in runtime records it (for an external runtime: made
    /// from its `state` and the bundle's config.json).
    pub fn load(&self, id: &str) -> runtime::Result<ContainerState> {
        match self.external(id) {
            Some(o) => o.load(id),
            None => self.builtin.load(id),
        }
    }

    pub fn pids(&self, id: &str) -> runtime::Result<Vec<i32>> {
        match self.external(id) {
            Some(o) => o.pids(id),
            None => self.builtin.pids(id),
        }
    }

    pub fn exec(&self, id: &str, p: &Process, o: &ExecOptions) -> runtime::Result<Started> {
        match self.external(id) {
            Some(r) => r.exec(id, p, o),
            None => self.builtin.exec(id, p, o),
        }
    }

    pub fn update(&self, id: &str, res: &LinuxResources) -> runtime::Result<()> {
        let st = self.load(id)?;
        runtime::resources::update(&st, res)
    }
}
