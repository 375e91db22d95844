//! The runtime's error type: lower-case messages with the context a user needs (file, field, id).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error(
        "invalid container id \"{0}\": use letters, digits, '_', '-', '.' (not starting with '.')"
    )]
    InvalidId(String),
    #[error("cannot {op} container \"{id}\" in state {status}")]
    BadState {
        op: &'static str,
        id: String,
        status: String,
    },
    /// The container has stopped. The wording ends in runc's "container not running",
    /// which containerd's shim matches to tell an exited process from a failure.
    #[error("cannot {op} container \"{id}\": container not running")]
    NotRunning { op: &'static str, id: String },
    #[error("reading {path}: {source}")]
    ReadSpec {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {path}: {msg}")]
    InvalidSpec { path: PathBuf, msg: String },
    #[error("{0}")]
    Spec(String),
    #[error("{context}: {source}")]
    Sys { context: String, source: nix::Error },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attach a human context to nix and io errors: `mkdir("/x").ctx(|| "creating /x")`.
pub trait Context<T> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| Error::Sys {
            context: f().into(),
            source,
        })
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: f().into(),
            source,
        })
    }
}

impl Error {
    /// The kernel's errno behind the error, if it is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. } => Some(*source as i32),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the error is the kernel's EPERM/EACCES (used to explain host restrictions).
    pub fn is_permission(&self) -> bool {
        match self {
            Error::Sys { source, .. } => matches!(source, nix::Error::EPERM | nix::Error::EACCES),
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
            _ => false,
        }
    }
}
