//! The typed requests of berth's helpers, and the fds they travel on. A leaf: whoever starts
//! a helper needs it, the helpers' code is not.

use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;

/// The pipe a detached helper reports on.
pub const SYNC_FD: RawFd = 3;
/// The helper's request (JSON).
pub const REQUEST_FD: RawFd = 4;

/// What a helper process is asked to do.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "helper", rename_all = "lowercase")]
pub enum Request {
    /// Run container `id` and stay its parent; `attach`: wait for a first client first.
    Monitor { id: String, attach: bool },
    /// Serve DNS on a user network.
    Dns { network: String },
    /// Run a process in a running container with our stdio.
    Exec(ExecRequest),
    /// Relay a rootless container's published ports into the user's network namespace.
    Ports(PortsRequest),
}

/// What `__ports` serves (see `net::proxy`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PortsRequest {
    pub container: String,
    /// the network namespace the container's address is in
    pub netns: std::path::PathBuf,
    pub target: std::net::Ipv4Addr,
    pub ports: Vec<network::PortMapping>,
    pub pid_file: std::path::PathBuf,
}

impl Request {
    /// The command line after `--root ROOT`: the helper's name, then what names it in `ps`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Request::Monitor { id, attach } => {
                let mut v = vec!["__monitor".to_string(), id.clone()];
                if *attach {
                    v.push("--attach".into());
                }
                v
            }
            Request::Dns { network } => vec!["__dns".into(), network.clone()],
            Request::Exec(x) => vec!["__exec".into(), x.container.clone()],
            Request::Ports(x) => vec!["__ports".into(), x.container.clone()],
        }
    }
}

/// What to run, and how (docker's exec options).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct ExecRequest {
    /// The container's name or id.
    pub container: String,
    pub cmd: Vec<String>,
    /// KEY=VALUE entries replacing or extending the container's environment.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub privileged: bool,
    pub tty: bool,
    /// Keep stdin open (`-i`); without it the process reads /dev/null.
    pub interactive: bool,
    /// Return once the process runs, its stdio on /dev/null.
    pub detach: bool,
    /// The sequence that detaches from the process's terminal (`--detach-keys`), watched for
    /// when our stdin is a terminal; `None`: not watched (the API server watches its clients).
    pub detach_keys: Option<Vec<u8>>,
}
