//! From a container record to the OCI runtime spec the runtime runs, with dockerd's semantics:
//! the create-time merge of the image config, the default spec (capabilities, mounts, masked
//! paths, device rules, seccomp) and what each `docker run` flag changes in it.
//!
//! The spec is assembled as JSON in the runtime-spec's own field names and then parsed into
//! [`oci_spec::runtime::Spec`], so what we write reads like a config.json and the parse checks it.

mod devices;
mod generate;
mod image;
mod mounts;
mod propagation;
mod resources;
mod security;
mod user;

pub(crate) use devices::block_io;
pub use generate::generate;
pub use image::{adapt_host_config, merge_image_config, path_and_args, replace_or_append_env};
pub use mounts::merge_tmpfs_options;
pub use propagation::check_bind_sources;
pub use resources::ULIMIT_NAMES;
pub(crate) use resources::{refuse_rootless_limits, resources, rootless_cgroup_parent};
pub use security::capabilities;
pub use user::resolve_user;

use std::path::PathBuf;

/// The PATH every container gets unless its environment sets one (docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// docker's default `--shm-size`.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;
/// Where `--init` puts the init binary inside the container.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Paths docker hides from unprivileged containers.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only in unprivileged containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

// ---------------------------------------------------------------------------------------------
// mounts handed in by the caller
// ---------------------------------------------------------------------------------------------

/// Where a resolved mount's content comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MountSource {
    /// a host path (volume mountpoint, bind source, generated /etc/hosts, ...)
    Bind(PathBuf),
    /// a fresh tmpfs with these options (`size=`, `mode=`, ...)
    Tmpfs { options: Vec<String> },
}

/// A mount whose source is known on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedMount {
    pub destination: String,
    pub source: MountSource,
    pub readonly: bool,
    /// extra options, e.g. a propagation mode (`rshared`) or `bind` for a non-recursive bind
    pub options: Vec<String>,
}

/// What the caller knows about the container's host side.
#[derive(Clone, Debug, Default)]
pub struct SpecContext {
    /// absolute host path of the mounted rootfs (user lookup reads its /etc/passwd, /etc/group)
    pub rootfs: PathBuf,
    /// volumes, binds and generated /etc/hosts,/etc/hostname,/etc/resolv.conf already resolved
    /// to host paths; `HostConfig.Tmpfs` entries are added by [`generate`]
    pub mounts: Vec<ResolvedMount>,
    /// e.g. "/berth/<id>"
    pub cgroups_path: String,
    /// host path of a static init (tini-static) for `--init`
    pub init_binary: Option<PathBuf>,
    /// `--network container:X` -> /proc/<pid>/ns/net
    pub join_netns: Option<PathBuf>,
    /// `--pid container:X` -> /proc/<pid>/ns/pid
    pub join_pidns: Option<PathBuf>,
    /// `--ipc container:X` -> /proc/<pid>/ns/ipc
    pub join_ipcns: Option<PathBuf>,
    /// the host tmpfs bound at /dev/shm: a shareable container's own, or the one of the
    /// container whose IPC it joins (else /dev/shm is a tmpfs of the container's own)
    pub shm: Option<PathBuf>,
}

#[cfg(test)]
mod tests;
