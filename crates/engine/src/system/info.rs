//! `GET /info`.

use crate::container::archive::fs_magic;
use crate::container::stats::{host_memory, online_cpus};
use crate::engine::Engine;
use crate::error::Result;
use crate::system::version::{cgroup_version, kernel_version, os_name, os_version};
use crate::types::Status;
use serde_json::{json, Value};
use std::path::Path;

fn engine_id(e: &Engine) -> String {
    if let Ok(Some(id)) = e.store.get_kv("engine-id") {
        return id;
    }
    let raw = crate::names::random_id();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &raw[0..8],
        &raw[8..12],
        &raw[12..16],
        &raw[16..20],
        &raw[20..32]
    );
    let _ = e.store.set_kv("engine-id", &id);
    id
}

impl Engine {
    /// `GET /info`, in the Engine API's field names.
    pub fn info(&self) -> Result<Value> {
        let cs = self.list_reconciled()?;
        let running = cs
            .iter()
            .filter(|c| c.state.status == Status::Running)
            .count();
        let paused = cs
            .iter()
            .filter(|c| c.state.status == Status::Paused)
            .count();
        let images = self.images()?;
        let n_images = images.index.images()?.len();
        let kind = if images.snapshots.overlay_supported() {
            "overlay2"
        } else {
            "vfs"
        };
        let host = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cgv = cgroup_version();
        let mut sec = vec!["name=seccomp,profile=builtin".to_string()];
        if cgv == "2" {
            sec.push("name=cgroupns".into());
        }
        let mut v = json!({
            "ID": engine_id(self),
            "Containers": cs.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": cs.len() - running - paused,
            "Images": n_images,
            "Driver": kind,
            "DriverStatus": [["Backing Filesystem", backing_fs(&self.root)], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": null,
                        "Log": ["json-file", "none"]},
            "MemoryLimit": true,
            "SwapLimit": cgroups::swap_accounting(),
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() == "1").unwrap_or(false),
            "Debug": false,
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "OomKillDisable": cgv == "1",
            "NGoroutines": 1,
            "SystemTime": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
        });
        let (runtimes, default_runtime) = match self.runtime.registry() {
            Ok(r) => (
                r.runtimes
                    .iter()
                    .map(|(n, e)| {
                        let mut v = json!({"path": e.path});
                        if !e.runtime_args.is_empty() {
                            v["runtimeArgs"] = json!(e.runtime_args);
                        }
                        (n.clone(), v)
                    })
                    .collect::<serde_json::Map<_, _>>(),
                r.default,
            ),
            Err(_) => Default::default(),
        };
        let more = json!({
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgv,
            "NEventsListener": 0,
            "KernelVersion": kernel_version(),
            "OperatingSystem": os_name(),
            "OSVersion": os_version(),
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
            "NCPU": online_cpus(),
            "MemTotal": host_memory(),
            "GenericResources": null,
            "DockerRootDir": self.root.to_string_lossy(),
            "HttpProxy": std::env::var("HTTP_PROXY").or_else(|_| std::env::var("http_proxy")).unwrap_or_default(),
            "HttpsProxy": std::env::var("HTTPS_PROXY").or_else(|_| std::env::var("https_proxy")).unwrap_or_default(),
            "NoProxy": std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")).unwrap_or_default(),
            "Name": host,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": runtimes,
            "DefaultRuntime": default_runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "berth-init",
            "SecurityOptions": sec,
            "Warnings": null,
        });
        if let (Some(m), Value::Object(more)) = (v.as_object_mut(), more) {
            m.extend(more);
        }
        Ok(v)
    }
}

fn backing_fs(root: &Path) -> &'static str {
    match fs_magic(root) {
        Some(0xef53) => "extfs",
        Some(0x5846_5342) => "xfs",
        Some(0x9123_683e) => "btrfs",
        Some(0x0102_1994) => "tmpfs",
        Some(0x794c_7630) => "overlayfs",
        Some(0x2fc1_2fc1) => "zfs",
        _ => "<unknown>",
    }
}
