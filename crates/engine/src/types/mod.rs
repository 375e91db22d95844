//! The container model, in the Docker Engine API's own shapes (field names and types), so
//! `berth inspect` and `berth serve` serialize the record as it is.

mod status;

pub use status::Status;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `Config`: what the container runs (image config merged with the user's flags).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--mac-address`: the MAC of the endpoint on the container's first network
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
}

/// `Healthcheck`: durations in nanoseconds, as the API has them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub retries: i64,
    pub start_period: i64,
    pub start_interval: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// "", "no", "always", "unless-stopped", "on-failure"
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// "json-file" (the default) or "none"
    #[serde(rename = "Type")]
    pub kind: String,
    /// `max-size`, `max-file`
    pub config: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// `--mount`/`HostConfig.Mounts` entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountSpec {
    /// "bind", "volume" or "tmpfs"
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    pub mode: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// `HostConfig`: how the host runs it (limits, security, mounts, restart policy).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// the client terminal's `[rows, cols]` for a TTY container's first size
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<Vec<u16>>,
    /// `-v` entries: `name:/path[:ro]`, `/host:/path[:ro]`, or `/path` (anonymous)
    pub binds: Vec<String>,
    pub log_config: LogConfig,
    /// "none", "host", "default"/"bridge", a network name, `container:ID`
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Vec<String>,
    /// legacy links of the default bridge, as inspect shows them: "/target:/container/alias"
    pub links: Option<Vec<String>>,
    pub mounts: Vec<MountSpec>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub group_add: Vec<String>,
    pub ipc_mode: String,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Vec<String>,
    /// `--tmpfs /path[:options]`
    pub tmpfs: BTreeMap<String, String>,
    /// docker spells it `UTSMode` (`UtsMode` is how berth once stored it)
    #[serde(rename = "UTSMode", alias = "UtsMode")]
    pub uts_mode: String,
    /// "host" (docker's default on cgroup v1) or "private" (its own cgroup namespace)
    pub cgroupns_mode: String,
    /// extra device cgroup rules (`c 7:128 rwm`)
    pub device_cgroup_rules: Vec<String>,
    /// "" or "default": Linux containers have one isolation
    pub isolation: String,
    pub shm_size: i64,
    pub init: Option<bool>,
    /// the OCI runtime (`--runtime`): "" until created, then the registered name it runs on
    pub runtime: String,
    /// `--device`: host devices made in the container and allowed by its device cgroup
    pub devices: Vec<DeviceMapping>,
    /// `--blkio-weight` (10..=1000, 0: unset) and the per-device weights and throttles
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDevice>,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    /// `--cgroup-parent`: the cgroup the container's goes under ("" : berth's)
    pub cgroup_parent: String,
    /// `--cpu-rt-period`/`--cpu-rt-runtime` (microseconds)
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    /// `--annotation`: passed to the OCI runtime in config.json
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    // resources
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub memory_reservation: i64,
    /// -1: unlimited swap; 0: unset (docker: twice the memory limit)
    pub memory_swap: i64,
    pub oom_kill_disable: Option<bool>,
    /// 0..=100; unset (null) leaves the kernel's
    pub memory_swappiness: Option<i64>,
    pub pids_limit: Option<i64>,
    pub ulimits: Vec<Ulimit>,
    pub sysctls: BTreeMap<String, String>,
}

/// `--device HOST[:CONTAINER[:PERMISSIONS]]`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// `--blkio-weight-device DEVICE:WEIGHT`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-{read,write}-{bps,iops} DEVICE:RATE`
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// "starting", "healthy", "unhealthy"
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthLog>,
}

/// `State`, as `docker inspect` shows it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    pub status: Status,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The current time as docker writes it (RFC 3339, nanoseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl State {
    pub fn created() -> State {
        State {
            status: Status::Created,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        }
    }
}

/// An entry of `Mounts` in inspect.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// What berth keeps beside the API shape: never shown by inspect.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Internal {
    /// the container was stopped by `stop`/`kill`: restart policies other than `always` stay quiet
    pub manually_stopped: bool,
    /// pid of the monitor process (0: none)
    pub monitor_pid: i64,
    /// the image reference as the user typed it, for `ps`
    pub image_ref: String,
    /// the mounted rootfs (overlay or copy) and the bundle holding config.json
    pub rootfs: String,
    pub bundle: String,
    /// anonymous volumes created for this container (removed by `rm -v`)
    pub anonymous_volumes: Vec<String>,
    /// started with `--rm`/AutoRemove and now being removed
    pub removing: bool,
    /// network name → the MAC asked for by `network connect` (applied when plugged)
    pub endpoint_macs: BTreeMap<String, String>,
}

/// A container as stored and as `inspect` shows it (`internal` excepted).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Container {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    /// image id: `sha256:<config digest>`
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    /// "/name"
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<MountPoint>,
    pub config: Config,
    pub network_settings: serde_json::Value,
    #[serde(rename = "BerthInternal", skip_serializing_if = "is_internal_default")]
    pub internal: Internal,
}

fn is_internal_default(_: &Internal) -> bool {
    false
}

impl Container {
    /// The name without docker's leading slash.
    pub fn short_name(&self) -> &str {
        self.name.strip_prefix('/').unwrap_or(&self.name)
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// The inspect JSON: the record without berth's internal fields.
    pub fn inspect_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("BerthInternal");
        }
        v
    }
}

/// A named or anonymous volume.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// the volume was filled from an image's content at its first mount point (docker's rule)
    #[serde(rename = "BerthPopulated", skip_serializing_if = "std::ops::Not::not")]
    pub populated: bool,
    /// created for one container's `VOLUME`/`-v /path` (removed with `rm -v`)
    #[serde(rename = "BerthAnonymous", skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}
