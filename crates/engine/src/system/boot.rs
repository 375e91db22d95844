//! `berth system boot`: what dockerd does for its containers when it starts, for a daemonless
//! engine after the host (re)boots. Every container whose monitor is gone is recorded as
//! exited (`reconcile`), then the ones whose restart policy says so are started again:
//! `always`, and `unless-stopped` unless the user stopped it. Run once at boot by
//! contrib/systemd/berth-boot.service (as podman-restart.service does for podman).

use crate::engine::Engine;
use crate::error::Result;
use crate::types::Container;

/// What a boot did to one container.
#[derive(Debug, Clone, PartialEq)]
pub enum Booted {
    Started(String),
    Failed(String, String),
}

/// Whether the restart policy of `c` starts it at boot.
pub fn starts_at_boot(c: &Container) -> bool {
    match c.host_config.restart_policy.name.as_str() {
        "always" => true,
        "unless-stopped" => !c.internal.manually_stopped,
        _ => false,
    }
}

impl Engine {
    /// Reconciles every container, then starts those [`starts_at_boot`] picks that are not
    /// running; each container's outcome, in creation order.
    pub fn boot(&self) -> Result<Vec<Booted>> {
        let mut out = Vec::new();
        let mut all = self.list_reconciled()?;
        all.sort_by(|a, b| a.created.cmp(&b.created));
        for c in all {
            if c.state.status.has_process() || !starts_at_boot(&c) {
                continue;
            }
            let name = c.name.trim_start_matches('/').to_string();
            match self.start(&c.id, false) {
                Ok(_) => out.push(Booted::Started(name)),
                Err(e) => out.push(Booted::Failed(name, e.to_string())),
            }
        }
        Ok(out)
    }
}
