//! `docker update`: new resource limits and restart policy for a container, with dockerd's
//! rules (a field left at zero keeps its value), applied to the cgroup of a running container
//! and kept in its HostConfig (a later start generates its spec from there).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Status;
use crate::types::{HostConfig, RestartPolicy};
use serde::Deserialize;
use serde_json::{json, Value};

/// The API's UpdateConfig (its Resources and RestartPolicy) as the docker CLI sends it: every
/// field, zero where the user gave none.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateRequest {
    pub cpu_shares: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
    // what berth cannot change: refused when given
    pub blkio_weight: i64,
    pub kernel_memory: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
}

/// dockerd's conflictingUpdateOptions (409).
fn conflict(m: &str) -> Error {
    Error::Conflict(m.to_string())
}

/// dockerd's UpdateContainer: check the request against the current HostConfig and merge it.
pub fn merge(hc: &mut HostConfig, r: &UpdateRequest) -> Result<()> {
    if r.kernel_memory != 0 {
        return Err(Error::Invalid(
            "updating KernelMemory is not supported".into(),
        ));
    }
    if r.blkio_weight != 0 {
        hc.blkio_weight = u16::try_from(r.blkio_weight)
            .map_err(|_| Error::Invalid("Range of blkio weight is from 10 to 1000".into()))?;
    }
    if r.cpu_realtime_period != 0 {
        hc.cpu_realtime_period = r.cpu_realtime_period;
    }
    if r.cpu_realtime_runtime != 0 {
        hc.cpu_realtime_runtime = r.cpu_realtime_runtime;
    }
    // NanoCpus and CpuPeriod/CpuQuota set the same limits: one of them at a time
    for (conflicting, what) in [
        (
            r.nano_cpus > 0 && hc.cpu_period > 0,
            "Nano CPUs cannot be updated as CPU Period",
        ),
        (
            r.nano_cpus > 0 && hc.cpu_quota > 0,
            "Nano CPUs cannot be updated as CPU Quota",
        ),
        (
            r.cpu_period > 0 && hc.nano_cpus > 0,
            "CPU Period cannot be updated as NanoCPUs",
        ),
        (
            r.cpu_quota > 0 && hc.nano_cpus > 0,
            "CPU Quota cannot be updated as NanoCPUs",
        ),
    ] {
        if conflicting {
            return Err(conflict(&format!(
                "Conflicting options: {what} has already been set"
            )));
        }
    }
    if r.cpu_shares != 0 {
        hc.cpu_shares = r.cpu_shares;
    }
    if r.nano_cpus != 0 {
        hc.nano_cpus = r.nano_cpus;
    }
    if r.cpu_period != 0 {
        hc.cpu_period = r.cpu_period;
    }
    if r.cpu_quota != 0 {
        hc.cpu_quota = r.cpu_quota;
    }
    if !r.cpuset_cpus.is_empty() {
        hc.cpuset_cpus = r.cpuset_cpus.clone();
    }
    if !r.cpuset_mems.is_empty() {
        hc.cpuset_mems = r.cpuset_mems.clone();
    }
    if r.memory != 0 {
        if hc.memory_swap > 0 && r.memory > hc.memory_swap && r.memory_swap == 0 {
            return Err(conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
        }
        hc.memory = r.memory;
    }
    if r.memory_swap != 0 {
        hc.memory_swap = r.memory_swap;
    }
    if r.memory_reservation != 0 {
        hc.memory_reservation = r.memory_reservation;
    }
    if let Some(p) = r.pids_limit {
        hc.pids_limit = (p > 0).then_some(p);
    }
    if let Some(rp) = r.restart_policy.as_ref().filter(|rp| !rp.name.is_empty()) {
        if hc.auto_remove && rp.name != "no" {
            return Err(conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        match rp.name.as_str() {
            "no" | "always" | "unless-stopped" if rp.maximum_retry_count != 0 => {
                return Err(Error::Invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'".into()));
            }
            "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(Error::Invalid(format!("invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")));
            }
        }
        if rp.maximum_retry_count < 0 {
            return Err(Error::Invalid(
                "invalid restart policy: maximum retry count cannot be negative".into(),
            ));
        }
        hc.restart_policy = rp.clone();
    }
    Ok(())
}

/// The cgroup settings of `hc` for a live container, as the runtime takes them: the spec's
/// resources, plus an explicit "no limit" for a pids limit the request lifted.
pub fn live_resources(
    hc: &HostConfig,
    r: &UpdateRequest,
    warnings: &mut Vec<String>,
) -> Result<oci_spec::runtime::LinuxResources> {
    let mut res = crate::spec::resources(hc, warnings)?;
    if let Some(b) = crate::spec::block_io(hc)? {
        res.insert("blockIO".into(), b);
    }
    if r.pids_limit.is_some_and(|p| p <= 0) {
        res.insert("pids".into(), json!({ "limit": -1 }));
    }
    serde_json::from_value(Value::Object(res)).map_err(|e| Error::Other(format!("resources: {e}")))
}

impl Engine {
    /// `POST /containers/{id}/update`: merge, check, apply to a running (or paused) container's
    /// cgroup, then keep in its HostConfig. Returns dockerd's warnings.
    pub fn update(&self, key: &str, r: &UpdateRequest) -> Result<Vec<String>> {
        let c = self.find_reconciled(key)?;
        let wrap = |e: Error| match e {
            Error::Invalid(m) => Error::Invalid(format!("Cannot update container {}: {m}", c.id)),
            Error::Conflict(m) => Error::Conflict(format!("Cannot update container {}: {m}", c.id)),
            e => Error::Other(format!("Cannot update container {}: {e}", c.id)),
        };
        if c.internal.removing || c.state.status == Status::Removing {
            return Err(wrap(Error::Conflict(
                "container is marked for removal and cannot be \"update\"".into(),
            )));
        }
        let mut hc = c.host_config.clone();
        merge(&mut hc, r).map_err(wrap)?;
        crate::spec::refuse_rootless_limits(&hc).map_err(wrap)?;
        let mut warnings = Vec::new();
        let res = live_resources(&hc, r, &mut warnings).map_err(wrap)?;
        if c.state.status.has_process() {
            let st = self.runtime.load(&c.id).map_err(|e| wrap(e.into()))?;
            runtime::resources::update(&st, &res).map_err(|e| wrap(e.into()))?;
        }
        let mut failed = None;
        self.store.update(&c.id, |c| {
            if let Err(e) = merge(&mut c.host_config, r) {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(wrap(e));
        }
        crate::events::container(self, &c, "update", &[]);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: i64 = 1 << 20;

    #[test]
    fn zero_fields_keep_values() {
        let mut hc = HostConfig {
            cpu_shares: 512,
            pids_limit: Some(10),
            ..Default::default()
        };
        merge(
            &mut hc,
            &UpdateRequest {
                memory: 64 * MIB,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(hc.memory, 64 * MIB);
        assert_eq!(hc.cpu_shares, 512);
        assert_eq!(hc.pids_limit, Some(10));
        merge(
            &mut hc,
            &UpdateRequest {
                pids_limit: Some(-1),
                cpu_quota: 50_000,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(hc.pids_limit, None);
        assert_eq!(hc.cpu_quota, 50_000);
        assert_eq!(hc.memory, 64 * MIB);
    }

    #[test]
    fn dockerd_conflicts() {
        let mut hc = HostConfig {
            memory: 64 * MIB,
            memory_swap: 128 * MIB,
            nano_cpus: 1_000_000_000,
            ..Default::default()
        };
        let e = merge(
            &mut hc.clone(),
            &UpdateRequest {
                memory: 256 * MIB,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("memoryswap"), "{e}");
        assert!(merge(
            &mut hc,
            &UpdateRequest {
                memory: 256 * MIB,
                memory_swap: 512 * MIB,
                ..Default::default()
            }
        )
        .is_ok());
        assert!(merge(
            &mut hc.clone(),
            &UpdateRequest {
                cpu_quota: 50_000,
                ..Default::default()
            }
        )
        .is_err());
        hc.auto_remove = true;
        let always = UpdateRequest {
            restart_policy: Some(RestartPolicy {
                name: "always".into(),
                maximum_retry_count: 0,
            }),
            ..Default::default()
        };
        assert!(merge(&mut hc.clone(), &always).is_err());
        hc.auto_remove = false;
        merge(&mut hc, &always).unwrap();
        assert_eq!(hc.restart_policy.name, "always");
        let bad = UpdateRequest {
            restart_policy: Some(RestartPolicy {
                name: "sometimes".into(),
                maximum_retry_count: 0,
            }),
            ..Default::default()
        };
        assert!(merge(&mut hc, &bad).is_err());
        // what a live update cannot change is refused; the blkio weight and the realtime
        // limits are kept (and applied to a running container's cgroup)
        assert!(merge(
            &mut hc,
            &UpdateRequest {
                kernel_memory: 1 << 20,
                ..Default::default()
            }
        )
        .is_err());
        merge(
            &mut hc,
            &UpdateRequest {
                blkio_weight: 300,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(hc.blkio_weight, 300);
    }

    #[test]
    fn request_from_cli_json() {
        let r: UpdateRequest = serde_json::from_str(
            r#"{"BlkioWeight":0,"CpuShares":0,"Memory":67108864,"NanoCpus":0,"CpuPeriod":0,"CpuQuota":0,
               "CpusetCpus":"","CpusetMems":"","Devices":null,"MemoryReservation":0,"MemorySwap":0,
               "PidsLimit":null,"Ulimits":null,"RestartPolicy":{"Name":"","MaximumRetryCount":0}}"#,
        )
        .unwrap();
        assert_eq!(r.memory, 64 * MIB);
        assert_eq!(r.pids_limit, None);
        let mut w = Vec::new();
        let hc = HostConfig {
            memory: r.memory,
            ..Default::default()
        };
        let res = live_resources(&hc, &r, &mut w).unwrap();
        assert_eq!(res.memory().as_ref().unwrap().limit(), Some(64 * MIB));
        let lifted = UpdateRequest {
            pids_limit: Some(0),
            ..Default::default()
        };
        let res = live_resources(&HostConfig::default(), &lifted, &mut w).unwrap();
        assert_eq!(res.pids().as_ref().unwrap().limit(), -1);
    }
}
