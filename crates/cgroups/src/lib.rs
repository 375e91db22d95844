//! cgroup management for the berth OCI runtime: one [`CgroupManager`] interface, a v1
//! driver (also used on hybrid hosts) and a v2 driver, picked by [`manager`] from the
//! host layout found in `/proc/self/mountinfo`.
//!
//! Typical use by the runtime:
//!
//! ```no_run
//! # fn f(resources: &oci_spec::runtime::LinuxResources, pid: i32) -> cgroups::Result<()> {
//! let cg = cgroups::manager("/berth/abc", "abc")?;
//! cg.create()?;
//! cg.set(resources)?;
//! cg.apply(pid)?;
//! // pause / resume
//! cg.freeze()?;
//! cg.thaw()?;
//! // events --stats
//! let stats = cg.stats()?;
//! # let _ = stats;
//! // delete
//! cg.kill_all(libc::SIGKILL)?;
//! cg.delete()?;
//! # Ok(()) }
//! ```

mod common;
pub mod delegation;
pub mod devices;
mod entry;
mod error;
mod fs;
pub mod layout;
mod oom;
mod path;
pub mod stats;
pub mod v1;
pub mod v2;

use std::path::PathBuf;
use std::sync::RwLock;

pub use entry::Entry;
pub use error::{Error, Result};
pub use layout::{pure_v2_host, swap_accounting, Layout, Mode};
pub use oom::{OomEvent, OomWatcher};
pub use path::CgroupPath;
pub use stats::Stats;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxWeightDeviceBuilder};

/// Freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Running normally.
    Thawed,
    /// Freezing in progress (v1 FREEZING, v2 cgroup.freeze=1 but not yet frozen).
    Freezing,
    /// All tasks are frozen.
    Frozen,
}

/// The cgroup driver interface the runtime uses. All methods are idempotent where that
/// makes sense (`create` on an existing cgroup, `delete` on a removed one).
pub trait CgroupManager: Send + Sync + std::fmt::Debug {
    /// v1 (also on hybrid hosts) or v2.
    fn mode(&self) -> Mode;

    /// The cgroup directory in each hierarchy, keyed by controller list (v1, e.g.
    /// `"cpu,cpuacct"`, `"name=systemd"`) or `""` for the unified hierarchy.
    fn paths(&self) -> Vec<(String, PathBuf)>;

    /// Creates the cgroup directories (and any missing parents). On v2 it also enables the
    /// available controllers in `cgroup.subtree_control` of every ancestor.
    fn create(&self) -> Result<()>;

    /// Moves process `pid` (all its threads) into the cgroup in every hierarchy.
    fn apply(&self, pid: i32) -> Result<()>;

    /// After [`create`](Self::create): the handles a new process uses to enter the cgroup
    /// without [`apply`](Self::apply)'s cost (see [`Entry`]); None where only `apply` works.
    fn entry(&self) -> Option<Entry>;

    /// Before [`create`](Self::create), for a process cloned before the rest of its cgroup
    /// is made (so the two overlap): makes only the v2 directory the process is cloned into
    /// (`clone3`'s `CLONE_INTO_CGROUP`, see [`Entry`]) and returns its entry. A v1 manager
    /// on a hybrid host makes the unified hierarchy's directory; None where there is no such
    /// directory or it cannot be made (pure v1, fake trees; `create` tries again). A v2 manager
    /// returns None: its whole cgroup is that directory, made and limited before the clone.
    fn create_clone_target(&self) -> Result<Option<Entry>> {
        Ok(None)
    }

    /// Applies the spec's resources. Used at create time and by `update`.
    fn set(&self, resources: &LinuxResources) -> Result<()>;

    /// Freezes every process of the cgroup and waits until the kernel reports it frozen.
    fn freeze(&self) -> Result<()>;

    /// Thaws the cgroup.
    fn thaw(&self) -> Result<()>;

    /// Current freezer state.
    fn state(&self) -> Result<FreezerState>;

    /// All pids in the cgroup and its descendants.
    fn pids(&self) -> Result<Vec<i32>>;

    /// Sends `signal` to every process in the cgroup. The cgroup is frozen while the
    /// pids are collected and signalled, so forks cannot escape (v2 with `SIGKILL` uses
    /// `cgroup.kill` where the kernel has it).
    fn kill_all(&self, signal: i32) -> Result<()>;

    /// Resource usage statistics.
    fn stats(&self) -> Result<Stats>;

    /// Starts watching for OOM events of the cgroup (see [`OomWatcher`]).
    fn oom_events(&self) -> Result<OomWatcher>;

    /// Removes the cgroup directories (and descendants) in every hierarchy, retrying
    /// while they drain. Removing an absent cgroup is not an error.
    fn delete(&self) -> Result<()>;
}

/// Returns the manager for `cgroups_path` (the spec's `linux.cgroupsPath`, empty for the
/// default `/berth/<container_id>`) on the calling host.
pub fn manager(cgroups_path: &str, container_id: &str) -> Result<Box<dyn CgroupManager>> {
    let layout = Layout::detect()?;
    manager_with_layout(&layout, cgroups_path, container_id)
}

/// Like [`manager`], on an explicit layout (tests, or a cached detection).
pub fn manager_with_layout(
    layout: &Layout,
    cgroups_path: &str,
    container_id: &str,
) -> Result<Box<dyn CgroupManager>> {
    let path = CgroupPath::parse(cgroups_path, container_id)?;
    Ok(match layout.mode {
        Mode::V1 | Mode::Hybrid => Box::new(v1::V1Manager::new(layout, &path)?),
        Mode::V2 => Box::new(v2::V2Manager::new(layout, &path)?),
    })
}

type WarnFn = fn(&str);
static WARN: RwLock<Option<WarnFn>> = RwLock::new(None);

/// Sets where warnings go (resources the host cannot apply and that the runtime chose to
/// tolerate, like runc does: e.g. network classID on a host without net_cls). Default:
/// stderr, prefixed with "berth-cgroups: warning: ".
pub fn set_warning_handler(f: fn(&str)) {
    if let Ok(mut w) = WARN.write() {
        *w = Some(f);
    }
}

pub(crate) fn warn(msg: &str) {
    let f = WARN.read().ok().and_then(|w| *w);
    match f {
        Some(f) => f(msg),
        None => eprintln!("berth-cgroups: warning: {msg}"),
    }
}

/// `linux.resources.blockIO` without its weights of 0, or None when nothing is left to
/// apply. A weight of 0 means "not set": dockerd sends `weight: 0` for every container
/// without `--blkio-weight`, runc skips it, and the kernel refuses it (ERANGE).
pub(crate) fn block_io_to_apply(b: &LinuxBlockIo) -> Option<LinuxBlockIo> {
    let set = |w: Option<u16>| w.filter(|&w| w != 0);
    let mut b = b.clone();
    b.set_weight(set(b.weight()));
    b.set_leaf_weight(set(b.leaf_weight()));
    let devices: Vec<_> = b
        .weight_device()
        .iter()
        .flatten()
        .filter_map(|d| {
            let mut w = LinuxWeightDeviceBuilder::default()
                .major(d.major())
                .minor(d.minor());
            if let Some(v) = set(d.weight()) {
                w = w.weight(v);
            }
            if let Some(v) = set(d.leaf_weight()) {
                w = w.leaf_weight(v);
            }
            let d = w.build().ok()?;
            (d.weight().is_some() || d.leaf_weight().is_some()).then_some(d)
        })
        .collect();
    b.set_weight_device((!devices.is_empty()).then_some(devices));
    let throttles = [
        b.throttle_read_bps_device(),
        b.throttle_write_bps_device(),
        b.throttle_read_iops_device(),
        b.throttle_write_iops_device(),
    ];
    let any_throttle = throttles
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| !t.is_empty()));
    let any = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().is_some()
        || any_throttle;
    any.then_some(b)
}

#[cfg(test)]
mod tests_delegation;
#[cfg(test)]
mod tests_fake;
#[cfg(test)]
mod tests_unset;
