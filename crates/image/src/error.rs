//! One error type for the whole crate. Messages are lower-case and name the
//! file, field or reference they are about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("invalid digest {0:?}: expected sha256:<64 lower-case hex>")]
    InvalidDigest(String),
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("blob {0} not found in the content store")]
    BlobNotFound(String),
    #[error("no such image: {0}")]
    ImageNotFound(String),
    #[error("invalid {what}: {reason}")]
    InvalidFormat { what: String, reason: String },
    #[error("unsupported media type {media_type:?} in {what}")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error("no manifest for platform {platform} in {reference}; available: {available}")]
    PlatformNotFound {
        platform: String,
        reference: String,
        available: String,
    },
    #[error("unsafe layer entry {path:?}: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error("layer entry {path:?}: {source}")]
    LayerEntry {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("image index database {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("json in {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("unauthorized at registry {registry}: {message}")]
    Unauthorized { registry: String, message: String },
    #[error("image {image} is in use by {users}; use force to remove it anyway")]
    InUse { image: String, users: String },
    #[error("snapshot {0}: {1}")]
    Snapshot(String, String),
    #[error("credentials file {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error("invalid --change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach context to io errors: `.ctx(|| format!("open {}", p.display()))`.
pub trait IoContext<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: f(),
            source,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::Io {
            context: f(),
            source: std::io::Error::from(e),
        })
    }
}

pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidFormat {
        what: what.into(),
        reason: reason.into(),
    }
}
