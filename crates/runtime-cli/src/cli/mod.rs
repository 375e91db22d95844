//! The runc command line over the `runtime` crate.

pub mod args;
pub mod commands;
pub mod out;
pub mod seal;
pub mod specgen;
pub mod update;
