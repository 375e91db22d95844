//! Handing a seccomp listener to the agent named by `linux.seccomp.listenerPath`, as runc
//! does: the agent gets one message on a new connection, a ContainerProcessState JSON
//! (`{"ociVersion","fds":["seccompFd"],"pid","metadata","state"}`) with the listener fd
//! attached (SCM_RIGHTS).
//!
//! The runtime connects before the container process is started (the path is on the host,
//! the process will not see it); the process inherits the connection and, right after
//! loading its filter, sends the listener on it and closes both.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// The agent's connection and what to tell it about the process.
pub struct Agent {
    conn: OwnedFd,
    metadata: String,
}

/// Connect to the profile's agent when `filter` notifies (None otherwise).
pub fn connect(profile: &LinuxSeccomp, filter: Option<&seccomp::Filter>) -> Result<Option<Agent>> {
    if !filter.is_some_and(|f| f.notifies()) {
        return Ok(None);
    }
    let path = profile
        .listener_path()
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| {
            Error::Spec("linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY".into())
        })?;
    let conn = UnixStream::connect(path).map_err(|e| {
        Error::Other(format!(
            "failed to connect with seccomp agent specified in the seccomp profile ({}): {e}",
            path.display()
        ))
    })?;
    Ok(Some(Agent {
        conn: conn.into(),
        metadata: profile.listener_metadata().clone().unwrap_or_default(),
    }))
}

impl Agent {
    /// Send the listener with the container's state (OCI state JSON, status creating) and
    /// `pid`; consumes the connection.
    pub fn hand_over(self, listener: OwnedFd, state_json: &str, pid: i32) -> Result<()> {
        let state: serde_json::Value = serde_json::from_str(state_json).unwrap_or_default();
        let msg = serde_json::json!({
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": self.metadata,
            "state": state,
        });
        crate::channel::send_fds(
            self.conn.as_raw_fd(),
            &[listener.as_raw_fd()],
            &msg.to_string(),
        )
        .map_err(|e| Error::Other(format!("sending the seccomp listener to the agent: {e}")))
    }
}

/// What the process that loads a notifying filter needs to hand its listener over.
pub struct Handover {
    pub agent: Agent,
    /// The container's OCI state JSON.
    pub state: String,
    /// The container's pid on the host.
    pub pid: i32,
}

/// Load `filter`; a listener it returns goes to the agent at once (nothing it notifies can
/// complete before an agent holds the listener).
pub fn load(filter: seccomp::Filter, handover: &mut Option<Handover>) -> Result<()> {
    let listener = filter
        .load_listener()
        .map_err(|e| Error::Other(format!("loading linux.seccomp: {e}")))?;
    match (listener, handover.take()) {
        (None, _) => Ok(()),
        (Some(l), Some(h)) => h.agent.hand_over(l, &h.state, h.pid),
        (Some(_), None) => Err(Error::Other(
            "linux.seccomp: a notifying filter without a seccomp agent".into(),
        )),
    }
}
