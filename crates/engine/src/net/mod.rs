//! Container networking in the engine: which networks a container joins, connecting its
//! network namespace between the runtime's create and start (done by the monitor), published
//! ports, the per-network DNS server, and docker's `NetworkSettings` in inspect.

pub mod links;
mod objects;
mod plumbing;
pub(crate) mod proxy;
mod rootless;
mod settings;
mod usermode;

pub use objects::{
    create, extras, find_json, inspect_json, list_filtered, list_json, prune, pseudo, remove,
    Extras, NetworkRequest, LIST_FILTERS, PRUNE_FILTERS,
};
pub use plumbing::{
    connect_container, connect_endpoint, disconnect_container, lo_up, record_endpoint, setup,
    teardown, teardown_into,
};
pub use settings::{initial_settings, user_network_resolver, EndpointSpec};

use crate::engine::Engine;
use crate::error::{Error, Result};
use network::{Manager, NetworkConfig};
use std::path::{Path, PathBuf};

impl From<network::Error> for Error {
    fn from(e: network::Error) -> Self {
        Error::Other(e.to_string())
    }
}

/// The network modes that get no interface of berth's.
pub fn is_special(mode: &str) -> bool {
    matches!(mode, "host" | "none") || mode.starts_with("container:")
}

/// `bridge`/`default`/"" name docker's default network.
pub fn is_default(mode: &str) -> bool {
    matches!(mode, "" | "bridge" | "default")
}

/// The network store of a state root (the engine's manager and each network's DNS server open
/// it).
pub fn db_path(root: &Path) -> PathBuf {
    root.join("network.db")
}

impl Engine {
    pub fn networks(&self) -> Result<std::sync::Arc<Manager>> {
        let mut slot = self.nets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        if crate::paths::rootless_uid().is_some() {
            // the user's networks live in the user's own network namespace
            let m = std::sync::Arc::new(rootless::manager(self)?);
            *slot = Some(m.clone());
            return Ok(m);
        }
        // the default root owns berth0; any other root (tests, a second engine) gets a bridge
        // of its own, named after the root
        let bridge = if self.root == Path::new(crate::engine::DEFAULT_ROOT) {
            network::DEFAULT_BRIDGE.to_string()
        } else {
            let mut h: u32 = 0x811c9dc5;
            for b in self.root.as_os_str().as_encoded_bytes() {
                h = (h ^ *b as u32).wrapping_mul(0x01000193);
            }
            format!("berth{h:08x}")
        };
        let m = Manager::open(&db_path(&self.root))?.with_default_bridge(&bridge);
        let m = std::sync::Arc::new(m);
        *slot = Some(m.clone());
        Ok(m)
    }

    /// Let go of the network store (its sqlite connection and caches): the monitor does once
    /// the container runs, and opens it again when the container stops.
    pub fn close_networks(&self) {
        *self.nets.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Resolve a network name (or id) the way `--network` does.
    pub fn network(&self, name: &str) -> Result<NetworkConfig> {
        let m = self.networks()?;
        if is_default(name) {
            return Ok(m.default_network()?);
        }
        m.get(name)
            .map_err(|_| Error::Invalid(format!("network {name} not found")))
    }
}
