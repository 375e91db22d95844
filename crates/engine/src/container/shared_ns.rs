//! Namespaces shared with another container (`--network`, `--pid`, `--ipc` `container:X`) and
//! the host-side /dev/shm that sharing IPC needs, found at start as dockerd finds them: the
//! other container must be running, and one whose IPC is joined must be `shareable` (or use
//! the host's), with dockerd's words when not.
//!
//! A shareable container's /dev/shm is a tmpfs mounted on the host (`<container dir>/shm`)
//! and bound into it, so a container joining its IPC binds the same one (a tmpfs mounted in
//! the container's own mount namespace could not be bound from another). It is unmounted when
//! the container stops ([`Engine::unmount_rootfs`]).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::{Config, Container, HostConfig, Status};
use std::path::PathBuf;

/// What a container joins of others, and its /dev/shm on the host.
#[derive(Default)]
pub struct Shared {
    pub net: Option<PathBuf>,
    /// the container whose network is joined (its /etc files are the joiner's)
    pub net_donor: Option<Container>,
    pub pid: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
    pub shm: Option<PathBuf>,
}

fn ns_path(o: &Container, ns: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{}/ns/{ns}", o.state.pid))
}

/// dockerd's checkContainer(containerIsRunning, containerIsNotRestarting).
fn check_running(o: &Container) -> Result<()> {
    match o.state.status {
        Status::Running | Status::Paused => Ok(()),
        Status::Restarting => Err(Error::Conflict(format!(
            "Container {} is restarting, wait until the container is running",
            o.id
        ))),
        _ => Err(Error::Conflict(format!(
            "container {} is not running",
            o.id
        ))),
    }
}

impl Engine {
    /// The host directory a shareable container's /dev/shm is mounted on.
    pub fn shm_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("shm")
    }

    /// The namespaces `c` joins and the /dev/shm it binds, for its start.
    pub fn shared_namespaces(&self, c: &Container) -> Result<Shared> {
        let hc = &c.host_config;
        let mut s = Shared::default();
        if let Some(other) = hc.network_mode.strip_prefix("container:") {
            let o = self.find_reconciled(other)?;
            if o.state.status != Status::Running {
                return Err(Error::Conflict(format!(
                    "cannot join network of a non running container: {}",
                    o.id
                )));
            }
            s.net = Some(ns_path(&o, "net"));
            s.net_donor = Some(o);
        }
        if let Some(other) = hc.pid_mode.strip_prefix("container:") {
            let o = self.find_reconciled(other)?;
            check_running(&o)?;
            s.pid = Some(ns_path(&o, "pid"));
        }
        match hc.ipc_mode.strip_prefix("container:") {
            Some(other) => {
                let o = self.find_reconciled(other)?;
                let cant = |m: String| format!("can't join IPC of container {}: {m}", o.id);
                check_running(&o).map_err(|e| Error::Conflict(cant(e.to_string())))?;
                s.shm = Some(match o.host_config.ipc_mode.as_str() {
                    "shareable" => self.shm_dir(&o.id),
                    "host" => PathBuf::from("/dev/shm"),
                    _ => return Err(Error::Invalid(cant(
                        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                            .into(),
                    ))),
                });
                s.ipc = Some(ns_path(&o, "ipc"));
            }
            None if hc.ipc_mode == "shareable" => s.shm = Some(self.mount_shm(c)?),
            None => {}
        }
        Ok(s)
    }

    /// Mount a shareable container's /dev/shm tmpfs on the host (if it is not already).
    fn mount_shm(&self, c: &Container) -> Result<PathBuf> {
        let dir = self.shm_dir(&c.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Other(format!("create {}: {e}", dir.display())))?;
        if image::snapshot::is_mountpoint(&dir) {
            return Ok(dir);
        }
        let size = match c.host_config.shm_size {
            0 => crate::spec::DEFAULT_SHM_SIZE,
            n => n,
        };
        use nix::mount::MsFlags;
        nix::mount::mount(
            Some("shm"),
            &dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(format!("mode=1777,size={size}").as_str()),
        )
        .map_err(|e| Error::Other(format!("mount the shm of {}: {e}", c.id)))?;
        Ok(dir)
    }
}

/// What dockerd refuses with `--network container:X` at create: the network and what goes
/// with it (hostname, DNS, /etc/hosts entries, ports) are the other container's.
pub fn check_container_network(cfg: &Config, hc: &HostConfig) -> Result<()> {
    let Some(other) = hc.network_mode.strip_prefix("container:") else {
        return Ok(());
    };
    let conflict = |what: &str| Err(Error::Invalid(format!("conflicting options: {what}")));
    if other.is_empty() {
        return Err(Error::Invalid(
            "Invalid network mode: invalid container format container:<name|id>".into(),
        ));
    }
    if !cfg.hostname.is_empty() {
        return conflict("hostname and the network mode");
    }
    if !hc.dns.is_empty() {
        return conflict("dns and the network mode");
    }
    if !hc.extra_hosts.is_empty() {
        return conflict("custom host-to-IP mapping and the network mode");
    }
    if !hc.port_bindings.is_empty() || hc.publish_all_ports {
        return conflict("port publishing and the container type network mode");
    }
    if cfg.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
        return conflict("port exposing and the container type network mode");
    }
    Ok(())
}
