//! berth's image layer: content store, image index, formats, layers,
//! overlayfs snapshots, archives and the registry client.

pub mod adopt;
pub mod archive;
pub mod change;
pub mod diff;
pub mod digest;
pub mod error;
pub mod glob;
pub mod images;
pub mod index;
pub mod kept;
pub mod layer;
pub mod overlay_xattr;
pub mod reference;
pub mod registry;
pub mod rootfd;
pub mod snapshot;
pub mod spec;
pub mod store;
pub mod trash;
pub mod views;

pub use digest::Digest;
pub use error::{Error, Result};
pub use images::{Image, ImageStore};
pub use reference::Reference;
