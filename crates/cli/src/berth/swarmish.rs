//! The docker commands and flags that need swarm mode or an experimental daemon (cluster
//! volumes, checkpoints): present, so scripts meet docker's command line, and refused with the
//! reason, as docker refuses them without swarm or experimental features.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

/// `volume create`'s cluster volume flags.
#[derive(Args, Debug, Default)]
pub struct ClusterVolumeFlags {
    /// Cluster Volume availability (active, pause, drain)
    #[arg(long)]
    pub availability: Option<String>,
    /// Cluster Volume group (cluster volumes)
    #[arg(long)]
    pub group: Option<String>,
    /// Minimum size of the Cluster Volume in bytes
    #[arg(long = "limit-bytes")]
    pub limit_bytes: Option<String>,
    /// Maximum size of the Cluster Volume in bytes
    #[arg(long = "required-bytes")]
    pub required_bytes: Option<String>,
    /// Cluster Volume access scope (single, multi)
    #[arg(long)]
    pub scope: Option<String>,
    /// Cluster Volume secrets
    #[arg(long)]
    pub secret: Vec<String>,
    /// Cluster Volume access sharing (none, readonly, onewriter, all)
    #[arg(long)]
    pub sharing: Option<String>,
    /// A topology that the Cluster Volume would be preferred in
    #[arg(long = "topology-preferred")]
    pub topology_preferred: Vec<String>,
    /// A topology that the Cluster Volume must be accessible from
    #[arg(long = "topology-required")]
    pub topology_required: Vec<String>,
    /// Cluster Volume access type ("mount", "block")
    #[arg(long = "type")]
    pub kind: Option<String>,
}

const NO_SWARM: &str =
    "Error response from daemon: cluster volumes need swarm mode, which berth does not have";

impl ClusterVolumeFlags {
    pub fn refuse_if_set(&self) -> Result<()> {
        let any = self.availability.is_some()
            || self.group.is_some()
            || self.limit_bytes.is_some()
            || self.required_bytes.is_some()
            || self.scope.is_some()
            || !self.secret.is_empty()
            || self.sharing.is_some()
            || !self.topology_preferred.is_empty()
            || !self.topology_required.is_empty()
            || self.kind.is_some();
        if any {
            bail!("{NO_SWARM}");
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct VolumeUpdateArgs {
    /// Cluster Volume availability (active, pause, drain)
    #[arg(long)]
    pub availability: Option<String>,
    pub volume: String,
}

/// `volume update`: docker updates only cluster volumes; berth's are all local.
pub fn volume_update(engine: &engine::engine::Engine, a: VolumeUpdateArgs) -> Result<i32> {
    if engine.store.volume(&a.volume)?.is_none() {
        bail!(
            "Error response from daemon: get {}: no such volume",
            a.volume
        );
    }
    bail!("Can only update cluster volumes");
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum CheckpointCmd {
    /// Create a checkpoint from a running container
    Create(CheckpointCreateArgs),
    /// List checkpoints for a container
    #[command(alias = "list")]
    Ls(CheckpointDirArgs),
    /// Remove a checkpoint
    #[command(alias = "remove")]
    Rm(CheckpointRmArgs),
}

#[derive(Args, Debug)]
pub struct CheckpointCreateArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long = "checkpoint-dir")]
    pub checkpoint_dir: Option<String>,
    /// Leave the container running after checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    pub container: String,
    pub checkpoint: String,
}

#[derive(Args, Debug)]
pub struct CheckpointDirArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long = "checkpoint-dir")]
    pub checkpoint_dir: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CheckpointRmArgs {
    /// Use a custom checkpoint storage directory
    #[arg(long = "checkpoint-dir")]
    pub checkpoint_dir: Option<String>,
    pub container: String,
    pub checkpoint: String,
}

/// Checkpoints (CRIU) are experimental in docker and not in berth.
pub fn checkpoint(cmd: CheckpointCmd) -> Result<i32> {
    let what = match cmd {
        CheckpointCmd::Create(_) => "create",
        CheckpointCmd::Ls(_) => "ls",
        CheckpointCmd::Rm(_) => "rm",
    };
    bail!("berth checkpoint {what}: checkpoints are not supported (docker has them only on a daemon with experimental features enabled)");
}
