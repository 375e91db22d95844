//! The engine behind `berth` and `berth serve`: containers, volumes, the metadata store, the
//! per-container monitor, logs and restart policies. It turns docker-shaped requests into OCI
//! bundles run by the `runtime` crate on rootfs snapshots from the `image` crate.

pub mod container;
pub mod engine;
pub mod entry;
pub mod error;
pub mod events;
pub mod filters;
pub mod health;
pub mod helper;
pub mod image_removal;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod net;
pub mod paths;
pub mod query;
pub mod rootless;
pub mod runtimes;
pub mod spec;
pub mod store;
pub mod system;
pub mod types;
pub mod update;
pub mod volumes;

pub use error::{Error, Result};
