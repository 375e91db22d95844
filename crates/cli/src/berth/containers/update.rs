//! `berth update`: new resource limits and restart policy for one or more containers, applied
//! to a running container's cgroup at once (the engine's `update`, as `POST /update`).

use super::daemon;
use crate::berth::flags::{parse_bytes, parse_restart};
use anyhow::{anyhow, Result};
use clap::Args;
use engine::engine::Engine;
use engine::update::UpdateRequest;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn bytes(v: &Option<String>, flag: &str) -> Result<i64> {
    match v.as_deref() {
        None => Ok(0),
        Some("-1") => Ok(-1),
        Some(s) => parse_bytes(s).map_err(|_| {
            anyhow!("invalid argument \"{s}\" for \"{flag}\" flag: invalid size: '{s}'")
        }),
    }
}

fn request(a: &UpdateArgs) -> Result<UpdateRequest> {
    let nano_cpus = match a.cpus.as_deref() {
        Some(c) => {
            let v: f64 = c.parse().map_err(|_| {
                anyhow!("invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number")
            })?;
            (v * 1e9) as i64
        }
        None => 0,
    };
    Ok(UpdateRequest {
        cpu_shares: a.cpu_shares.unwrap_or(0),
        memory: bytes(&a.memory, "-m, --memory")?,
        memory_swap: bytes(&a.memory_swap, "--memory-swap")?,
        memory_reservation: bytes(&a.memory_reservation, "--memory-reservation")?,
        nano_cpus,
        cpu_period: a.cpu_period.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: a.pids_limit,
        restart_policy: a.restart.as_deref().map(parse_restart).transpose()?,
        blkio_weight: a.blkio_weight.unwrap_or(0) as i64,
        kernel_memory: 0,
        cpu_realtime_period: a.cpu_rt_period.unwrap_or(0),
        cpu_realtime_runtime: a.cpu_rt_runtime.unwrap_or(0),
    })
}

/// docker's: the names as given, one a line; the first failure's message at the end.
pub fn update(engine: &Engine, a: UpdateArgs) -> Result<i32> {
    let req = request(&a)?;
    let mut failed = None;
    for name in &a.containers {
        match engine.update(name, &req) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("WARNING: {w}");
                }
                println!("{name}");
            }
            Err(e) => {
                eprintln!("{}", daemon(&e));
                failed = Some(());
            }
        }
    }
    Ok(if failed.is_some() { 1 } else { 0 })
}
