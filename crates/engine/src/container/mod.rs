//! Containers: their lifecycle, one file per verb (their status is `types::Status`). Each file
//! adds its verb's methods to `Engine` (`impl Engine` blocks), so callers keep calling
//! `engine.start(..)`.

pub mod archive;
pub mod archive_mounts;
pub mod commit;
pub mod create;
pub mod diff;
pub mod export;
pub mod leftovers;
pub mod lookup;
pub mod prune;
pub mod put_guard;
pub mod remove;
pub mod shared_ns;
pub mod signal;
pub mod start;
pub mod stats;
pub mod tar;
pub mod top;
