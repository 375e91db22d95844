//! What the engine says about itself and the host: `version`, `info`, `system df`.

pub mod boot;
pub mod df;
pub mod info;
pub mod version;
