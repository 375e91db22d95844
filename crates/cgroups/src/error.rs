use std::io;
use std::path::PathBuf;

/// Errors of the cgroups crate. Every message names the file, path or spec field involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },

    #[error("write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },

    #[error("create cgroup directory {path}: {source}")]
    Mkdir { path: PathBuf, source: io::Error },

    #[error("remove cgroup directory {path}: {source}")]
    Rmdir { path: PathBuf, source: io::Error },

    #[error("parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },

    #[error("mountinfo: {0}")]
    Mountinfo(String),

    #[error("invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    #[error("invalid linux.resources.{field}: {reason}")]
    InvalidResource { field: String, reason: String },

    #[error("linux.resources.{field} is not supported: {reason}")]
    Unsupported { field: String, reason: String },

    #[error("freezer {path}: {reason}")]
    Freezer { path: PathBuf, reason: String },

    #[error("{op}: {source}")]
    Sys { op: String, source: io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidResource {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn sys(op: impl Into<String>) -> Self {
        Error::Sys {
            op: op.into(),
            source: io::Error::last_os_error(),
        }
    }

    /// True when the error is an `ENOENT` on a cgroup file (a controller or file the kernel
    /// does not offer).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Read { source, .. }
            | Error::Write { source, .. }
            | Error::Mkdir { source, .. }
            | Error::Rmdir { source, .. }
            | Error::Sys { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
