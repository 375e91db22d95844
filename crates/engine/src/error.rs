//! Engine errors, worded as docker words them (the CLI prints them after "Error response from
//! daemon: " as the docker CLI does, and the API maps each kind to its status code).

use thiserror::Error;

#[derive(Error, Debug)]
pub enum Error {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// the request conflicts with the container's state (409 in the API)
    #[error("{0}")]
    Conflict(String),
    /// a bad flag or value (400 in the API)
    #[error("{0}")]
    Invalid(String),
    /// something the request names does not exist, a volume driver say (404 in the API)
    #[error("{0}")]
    NotFound(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("metadata record: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Image(#[from] image::Error),
    #[error(transparent)]
    Runtime(#[from] runtime::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attach a description of what we were doing to an I/O error.
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
