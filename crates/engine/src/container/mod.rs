//! Containers: their status and lifecycle.

pub mod status;

pub use status::Status;
