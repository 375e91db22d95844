//! More `run`/`create` flags: devices and their cgroup, blkio, the cgroup and runtime
//! settings, annotations, `--volumes-from`; and the ones docker itself refuses on Linux or that
//! need what berth does not have, refused with docker's words.

use super::flags::parse_bytes;
use anyhow::{anyhow, bail, Result};
use clap::Args;
use engine::types::{DeviceMapping, HostConfig, ThrottleDevice, WeightDevice};
use std::collections::BTreeMap;

#[derive(Args, Debug, Clone, Default)]
pub struct HostFlags {
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// Container isolation technology
    #[arg(long)]
    pub isolation: Option<String>,
    /// User namespace to use
    #[arg(long)]
    pub userns: Option<String>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt")]
    pub storage_opt: Vec<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
    /// Kernel memory limit (deprecated: ignored, as docker ignores it)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// CPU count (Windows only)
    #[arg(long = "cpu-count")]
    pub cpu_count: Option<i64>,
    /// CPU percent (Windows only)
    #[arg(long = "cpu-percent")]
    pub cpu_percent: Option<i64>,
    /// Maximum IO bandwidth limit for the system drive (Windows only)
    #[arg(long = "io-maxbandwidth")]
    pub io_maxbandwidth: Option<String>,
    /// Maximum IOps limit for the system drive (Windows only)
    #[arg(long = "io-maxiops")]
    pub io_maxiops: Option<u64>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long)]
    pub gpus: Option<String>,
    /// Skip image verification (content trust is not used: always skipped)
    #[arg(long = "disable-content-trust", default_missing_value = "true", num_args = 0..=1, require_equals = true)]
    pub disable_content_trust: Option<bool>,
    /// Mount the engine's API socket into the container
    #[arg(long = "use-api-socket")]
    pub use_api_socket: bool,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `--cidfile`: refused when the file exists (docker's words), written once created.
pub fn check_cidfile(f: &HostFlags) -> Result<()> {
    match &f.cidfile {
        Some(p) if std::path::Path::new(p).exists() => bail!(
            "container ID file found, make sure the other container isn't running or delete {p}"
        ),
        _ => Ok(()),
    }
}

pub fn write_cidfile(f: &HostFlags, id: &str) -> Result<()> {
    if let Some(p) = &f.cidfile {
        std::fs::write(p, id)
            .map_err(|e| anyhow!("failed to write the container ID to the file: {e}"))?;
    }
    Ok(())
}

/// `DEVICE:RATE` (RATE in bytes with a unit, or a count for iops).
fn throttle(s: &str, flag: &str, bytes: bool) -> Result<ThrottleDevice> {
    let (path, rate) = s
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("invalid argument \"{s}\" for \"{flag}\" flag: bad format: {s}"))?;
    if !path.starts_with("/dev/") {
        bail!("invalid argument \"{s}\" for \"{flag}\" flag: bad format for path: {path}");
    }
    let rate = if bytes {
        parse_bytes(rate).map(|r| r as u64)
    } else {
        rate.parse::<u64>().map_err(|_| anyhow!("invalid rate"))
    }
    .map_err(|_| {
        anyhow!("invalid argument \"{s}\" for \"{flag}\" flag: invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]")
    })?;
    Ok(ThrottleDevice {
        path: path.into(),
        rate,
    })
}

/// `HOST[:CONTAINER][:PERMISSIONS]`, as docker's parseDevice reads it.
pub fn parse_device(s: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = s.split(':').collect();
    let is_perm = |p: &str| !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let (host, inside, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perm(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perm(p) => (*h, *c, *p),
        [_, _, p] => bail!("bad mode specified: {p}"),
        _ => bail!("invalid device specification: {s}"),
    };
    if !inside.starts_with('/') {
        bail!("invalid device specification: {s}");
    }
    Ok(DeviceMapping {
        path_on_host: host.into(),
        path_in_container: inside.into(),
        cgroup_permissions: perms.into(),
    })
}

/// Puts the flags in the HostConfig, refusing what docker refuses on Linux.
pub fn apply(f: &HostFlags, hc: &mut HostConfig) -> Result<()> {
    refuse_unsupported(f)?;
    hc.devices = f
        .device
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<_>>()?;
    hc.device_cgroup_rules = f.device_cgroup_rule.clone();
    let list = |v: &[String], flag: &str, bytes: bool| -> Result<Vec<ThrottleDevice>> {
        v.iter().map(|s| throttle(s, flag, bytes)).collect()
    };
    hc.blkio_device_read_bps = list(&f.device_read_bps, "--device-read-bps", true)?;
    hc.blkio_device_write_bps = list(&f.device_write_bps, "--device-write-bps", true)?;
    hc.blkio_device_read_iops = list(&f.device_read_iops, "--device-read-iops", false)?;
    hc.blkio_device_write_iops = list(&f.device_write_iops, "--device-write-iops", false)?;
    hc.blkio_weight = f.blkio_weight.unwrap_or(0);
    hc.blkio_weight_device = f
        .blkio_weight_device
        .iter()
        .map(|s| {
            let bad = || {
                anyhow!(
                    "invalid argument \"{s}\" for \"--blkio-weight-device\" flag: bad format: {s}"
                )
            };
            let (p, w) = s.rsplit_once(':').ok_or_else(bad)?;
            Ok(WeightDevice {
                path: p.into(),
                weight: w.parse().map_err(|_| bad())?,
            })
        })
        .collect::<Result<_>>()?;
    hc.cgroup_parent = f.cgroup_parent.clone().unwrap_or_default();
    hc.cgroupns_mode = f.cgroupns.clone().unwrap_or_default();
    if !f.annotation.is_empty() {
        let mut a = BTreeMap::new();
        for kv in &f.annotation {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                anyhow!("invalid argument \"{kv}\" for \"--annotation\" flag: bad format")
            })?;
            a.insert(k.to_string(), v.to_string());
        }
        hc.annotations = Some(a);
    }
    hc.volumes_from = f.volumes_from.clone();
    if let Some(s) = f.memory_swappiness {
        if !(-1..=100).contains(&s) {
            bail!("invalid value: {s}. Valid memory swappiness range is 0-100");
        }
        hc.memory_swappiness = (s >= 0).then_some(s);
    }
    hc.cpu_realtime_period = f.cpu_rt_period.unwrap_or(0);
    hc.cpu_realtime_runtime = f.cpu_rt_runtime.unwrap_or(0);
    hc.isolation = f.isolation.clone().unwrap_or_default();
    hc.volume_driver = f.volume_driver.clone().unwrap_or_default();
    if f.kernel_memory.is_some() {
        eprintln!("WARNING: Specifying a kernel memory limit is deprecated and will be removed in a future release.");
    }
    Ok(())
}

/// What berth (like dockerd on this host) cannot apply: refused, never dropped.
fn refuse_unsupported(f: &HostFlags) -> Result<()> {
    if f.gpus.is_some() {
        bail!("Error response from daemon: could not select device driver \"\" with capabilities: [[gpu]]");
    }
    if f.cpu_count.is_some_and(|c| c != 0) || f.cpu_percent.is_some_and(|c| c != 0) {
        bail!("Error response from daemon: invalid option: Platform does not support CPU count or CPU percent (Windows only)");
    }
    if f.io_maxbandwidth.is_some() || f.io_maxiops.is_some_and(|c| c != 0) {
        bail!("Error response from daemon: invalid option: Platform does not support IO maximum bandwidth or IOps (Windows only)");
    }
    if let Some(u) = f
        .userns
        .as_deref()
        .filter(|u| !u.is_empty() && *u != "host")
    {
        bail!("Error response from daemon: invalid USER mode: {u}: user namespace remapping is not enabled (only 'host')");
    }
    if !f.storage_opt.is_empty() {
        bail!("Error response from daemon: --storage-opt is supported only for overlay over xfs with 'pquota' mount option");
    }
    if f.use_api_socket {
        bail!("--use-api-socket: berth has no daemon socket by default (start `berth serve` and bind-mount its socket with -v)");
    }
    Ok(())
}
