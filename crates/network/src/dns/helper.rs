//! `berth __dns`: the per-network server process, its pid file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::names::{upstreams, Snapshot};
use super::server::{bind, serve_inner};
use super::*;

// ---------------------------------------------------------------------------------------------
// `berth __dns`

/// The pid file of the server of `network_id`.
pub fn pid_file(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("dns-{network_id}.pid"))
}

fn write_pid(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension(format!("pid.{}", std::process::id()));
    fs::write(&tmp, format!("{}\n", std::process::id()))?;
    fs::rename(&tmp, path)
}

/// Removes the pid file if it is still ours.
fn remove_pid(path: &Path) {
    if let Ok(s) = fs::read_to_string(path) {
        if s.trim() == std::process::id().to_string() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Entry point of `berth __dns`: looks up the network's gateway in `db`, binds port 53 on it,
/// writes `<run_dir>/dns-<network_id>.pid`, serves with the host's resolvers from
/// /etc/resolv.conf as upstreams until the network has had no endpoints for [`IDLE_EXIT`],
/// removes the pid file. Returns the exit status (errors are printed on stderr).
///
/// Before exiting for idleness the pid file is removed first and the endpoints are checked once
/// more, so an engine that adds an endpoint and then finds no pid file can start a new server
/// (whose bind waits for this one to let go of the port).
pub fn run(db: &Path, run_dir: &Path, network_id: &str) -> i32 {
    run_with_idle(db, run_dir, network_id, IDLE_EXIT)
}

/// [`run`] with another idle time (tests).
pub fn run_with_idle(db: &Path, run_dir: &Path, network_id: &str, idle: Duration) -> i32 {
    match run_inner(db, run_dir, network_id, idle) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth dns {network_id}: {e}");
            1
        }
    }
}

fn run_inner(db: &Path, run_dir: &Path, network_id: &str, idle: Duration) -> Result<(), DnsError> {
    let snap = Snapshot::load(db, network_id)?;
    if !snap.exists {
        return Err(DnsError::NoNetwork(network_id.to_string()));
    }
    let gateway = snap
        .gateway
        .ok_or_else(|| DnsError::Config(format!("network {network_id} has no IPv4 gateway")))?;
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let ups = upstreams(&resolv);
    let sockets = bind(gateway, 53)?;
    fs::create_dir_all(run_dir).map_err(io_err(format!("create {}", run_dir.display())))?;
    let pid = pid_file(run_dir, network_id);
    write_pid(&pid).map_err(io_err(format!("write {}", pid.display())))?;
    let hook = |exiting: bool| {
        if exiting {
            remove_pid(&pid);
        } else if let Err(e) = write_pid(&pid) {
            eprintln!("berth dns {network_id}: write {}: {e}", pid.display());
        }
    };
    let res = serve_inner(sockets, db, network_id, &ups, idle, Some(&hook));
    remove_pid(&pid);
    res
}
