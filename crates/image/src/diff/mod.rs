//! A container's writable layer as a layer: the one tar writer for file trees (`tree_tar`,
//! used by cp, export, commit, build and save) and the one overlay upper-dir walker that
//! reports changes (`changes`, behind `docker diff`).

pub mod changes;
pub mod tree_tar;
