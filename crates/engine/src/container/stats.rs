//! `docker stats`: samples of a container's cgroup and network counters in the Engine API's
//! shape, and the numbers the CLI derives from them.

use crate::engine::Engine;
use crate::error::Result;
use crate::types::Container;
use serde_json::{json, Map, Value};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// The host's total CPU time in nanoseconds (docker's system_cpu_usage): the `cpu` line of
/// /proc/stat (user..softirq) in clock ticks.
pub fn system_cpu_usage() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    s.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
                * (1_000_000_000 / ticks)
        })
        .unwrap_or(0)
}

pub fn online_cpus() -> u64 {
    (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as u64
}

/// MemTotal of /proc/meminfo in bytes.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn zero_cpu() -> Value {
    json!({
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    })
}

/// The Engine API's stats document from the runtime's cgroup statistics (`raw`, as
/// runtime::resources::stats returns them).
pub fn stats_doc(c: &Container, raw: Option<&Value>, system: u64, read: &str) -> Value {
    let g = |p: &str| -> u64 {
        raw.and_then(|r| r.pointer(p))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let Some(r) = raw else {
        return json!({
            "read": crate::types::ZERO_TIME, "preread": crate::types::ZERO_TIME,
            "id": c.id, "name": c.name,
            "pids_stats": {}, "blkio_stats": {
                "io_service_bytes_recursive": null, "io_serviced_recursive": null,
                "io_queue_recursive": null, "io_service_time_recursive": null,
                "io_wait_time_recursive": null, "io_merged_recursive": null,
                "io_time_recursive": null, "sectors_recursive": null},
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": zero_cpu(), "precpu_stats": zero_cpu(), "memory_stats": {},
        });
    };
    let percpu: Vec<u64> = r
        .pointer("/cpu/usage/percpu")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let mut cpu_usage = json!({
        "total_usage": g("/cpu/usage/total"),
        "usage_in_kernelmode": g("/cpu/usage/kernel"),
        "usage_in_usermode": g("/cpu/usage/user"),
    });
    if !percpu.is_empty() {
        cpu_usage["percpu_usage"] = json!(percpu);
    }
    let host_mem = host_memory();
    let mut limit = g("/memory/usage/limit");
    if host_mem > 0 && (limit == 0 || limit > host_mem) {
        limit = host_mem;
    }
    let entries = |p: &str| -> Value {
        let v: Vec<Value> = r
            .pointer(p)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                json!({"major": e["major"], "minor": e["minor"], "op": e["op"], "value": e["value"]})
            })
            .collect();
        json!(v)
    };
    let mut pids = json!({"current": g("/pids/current")});
    if g("/pids/limit") > 0 {
        pids["limit"] = json!(g("/pids/limit"));
    }
    json!({
        "read": read,
        "preread": crate::types::ZERO_TIME,
        "id": c.id,
        "name": c.name,
        "num_procs": 0,
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": entries("/blkio/ioServiceBytesRecursive"),
            "io_serviced_recursive": entries("/blkio/ioServicedRecursive"),
            "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null,
            "io_time_recursive": null, "sectors_recursive": null,
        },
        "storage_stats": {},
        "cpu_stats": {
            "cpu_usage": cpu_usage,
            "system_cpu_usage": system,
            "online_cpus": if percpu.is_empty() { online_cpus() } else { percpu.len() as u64 },
            "throttling_data": {
                "periods": g("/cpu/throttling/periods"),
                "throttled_periods": g("/cpu/throttling/throttledPeriods"),
                "throttled_time": g("/cpu/throttling/throttledTime"),
            },
        },
        "precpu_stats": zero_cpu(),
        "memory_stats": {
            "usage": g("/memory/usage/usage"),
            "max_usage": g("/memory/usage/max"),
            "failcnt": g("/memory/usage/failcnt"),
            "limit": limit,
            "stats": r.pointer("/memory/raw").cloned().unwrap_or(json!({})),
        },
    })
}

/// docker's CPU %: the container's share of the host's CPU time between two samples, times
/// the number of CPUs.
pub fn cpu_percent(v: &Value) -> f64 {
    let u = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0) as f64;
    let cpu_delta =
        u("/cpu_stats/cpu_usage/total_usage") - u("/precpu_stats/cpu_usage/total_usage");
    let sys_delta = u("/cpu_stats/system_cpu_usage") - u("/precpu_stats/system_cpu_usage");
    let mut cpus = u("/cpu_stats/online_cpus");
    if cpus == 0.0 {
        cpus = v
            .pointer("/cpu_stats/cpu_usage/percpu_usage")
            .and_then(Value::as_array)
            .map(|a| a.len() as f64)
            .unwrap_or(0.0);
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// docker's memory usage: usage minus the inactive page cache (v1 total_inactive_file, v2
/// inactive_file).
pub fn mem_usage(v: &Value) -> u64 {
    let m = &v["memory_stats"];
    let usage = m["usage"].as_u64().unwrap_or(0);
    let s = &m["stats"];
    for k in ["total_inactive_file", "inactive_file"] {
        if let Some(x) = s.get(k).and_then(Value::as_u64) {
            if x < usage {
                return usage - x;
            }
            break;
        }
    }
    usage
}

pub fn mem_limit(v: &Value) -> u64 {
    v["memory_stats"]["limit"].as_u64().unwrap_or(0)
}

pub fn mem_percent(v: &Value) -> f64 {
    let l = mem_limit(v);
    if l == 0 {
        0.0
    } else {
        mem_usage(v) as f64 / l as f64 * 100.0
    }
}

/// Bytes read and written (docker's BLOCK I/O).
pub fn blkio(v: &Value) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for e in v["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let val = e["value"].as_u64().unwrap_or(0);
        match e["op"].as_str().unwrap_or("").to_ascii_lowercase().as_str() {
            "read" => r += val,
            "write" => w += val,
            _ => {}
        }
    }
    (r, w)
}

pub fn pids_current(v: &Value) -> u64 {
    v["pids_stats"]["current"].as_u64().unwrap_or(0)
}

/// The interfaces of a /proc/PID/net/dev (the network namespace of PID) but the loopback, in
/// the stats document's `networks` shape.
pub fn parse_net_dev(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if name.is_empty() || name == "lo" || f.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            json!({
                "rx_bytes": f[0], "rx_packets": f[1], "rx_errors": f[2], "rx_dropped": f[3],
                "tx_bytes": f[8], "tx_packets": f[9], "tx_errors": f[10], "tx_dropped": f[11],
            }),
        );
    }
    out
}

/// The container's own interfaces (None in the host's network namespace, or with none but
/// the loopback, as dockerd leaves `networks` out then).
fn container_networks(c: &Container) -> Option<Value> {
    if c.state.pid <= 0 {
        return None;
    }
    let ns = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let own = ns(&format!("/proc/{}/ns/net", c.state.pid))?;
    if ns("/proc/self/ns/net") == Some(own) {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid)).ok()?;
    let m = parse_net_dev(&text);
    (!m.is_empty()).then_some(Value::Object(m))
}

/// The host's cgroup layout, for [`Engine::stats_sample_on`]: detected once per round of
/// samples rather than once per container (it reads the whole mountinfo of the host).
pub fn cgroup_layout() -> Option<cgroups::Layout> {
    cgroups::Layout::detect().ok()
}

/// Bytes received and sent on all the container's interfaces (docker's NET I/O).
pub fn net_io(v: &Value) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for n in v["networks"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        rx += n["rx_bytes"].as_u64().unwrap_or(0);
        tx += n["tx_bytes"].as_u64().unwrap_or(0);
    }
    (rx, tx)
}

/// What /proc tells of the processes in the pid namespace of `init` (a container without a
/// cgroup of its own, rootless on cgroup v1), in the runtime's stats shape: their number,
/// the sum of their resident memory, and their CPU time with that of the children the init
/// reaped. No limits: there is no cgroup to hold any.
pub fn proc_stats(init: i32) -> Option<Value> {
    use std::os::unix::fs::MetadataExt;
    let ns = |pid: &str| {
        std::fs::metadata(format!("/proc/{pid}/ns/pid"))
            .ok()
            .map(|m| m.ino())
    };
    let own = ns(&init.to_string())?;
    // SAFETY: sysconf has no preconditions.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as u64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    let (mut n, mut rss, mut user, mut kernel) = (0u64, 0u64, 0u64, 0u64);
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || ns(&pid) != Some(own) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // after "(comm) ": state is field 3; utime 14, stime 15, cutime 16, cstime 17
        let f: Vec<u64> = stat
            .rsplit_once(") ")
            .map(|(_, r)| {
                r.split(' ')
                    .skip(1)
                    .map(|x| x.parse().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let at = |i: usize| f.get(i - 4).copied().unwrap_or(0);
        n += 1;
        user += at(14) + if pid == init.to_string() { at(16) } else { 0 };
        kernel += at(15) + if pid == init.to_string() { at(17) } else { 0 };
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
        rss += statm
            .split(' ')
            .nth(1)
            .and_then(|x| x.parse::<u64>().ok())
            .unwrap_or(0)
            * page;
    }
    let ns_of = |t: u64| t * 1_000_000_000 / tick;
    Some(json!({
        "cpu": {"usage": {"total": ns_of(user + kernel), "user": ns_of(user), "kernel": ns_of(kernel)}},
        "memory": {"usage": {"usage": rss}},
        "pids": {"current": n},
    }))
}

impl Engine {
    /// One stats sample of a container (zeros when it is not running). `prev`: an earlier
    /// sample, whose cpu_stats become precpu_stats (the CPU % needs two).
    pub fn stats_sample(&self, c: &Container, prev: Option<&Value>) -> Value {
        self.stats_sample_on(None, c, prev)
    }

    /// [`Engine::stats_sample`] on the host's cgroup layout detected once for a round of
    /// samples of many containers ([`cgroup_layout`]; `None`: detect it for this one).
    pub fn stats_sample_on(
        &self,
        layout: Option<&cgroups::Layout>,
        c: &Container,
        prev: Option<&Value>,
    ) -> Value {
        let raw = if c.state.status.is_live() {
            self.runtime
                .load(&c.id)
                .ok()
                .and_then(|st| runtime::resources::stats_on(layout, &st).ok())
        } else {
            None
        };
        // a rootless container on cgroup v1 has no cgroup (no process counted in one, as a
        // live container's would have): what /proc shows
        let no_cgroup = raw.as_ref().is_none_or(|r| {
            r.pointer("/pids/current")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                == 0
        });
        let raw =
            match c.state.status.is_live() && no_cgroup && crate::paths::rootless_uid().is_some() {
                true => i32::try_from(c.state.pid).ok().and_then(proc_stats).or(raw),
                false => raw,
            };
        let mut v = stats_doc(c, raw.as_ref(), system_cpu_usage(), &crate::types::now());
        if let (Some(p), true) = (prev, raw.is_some()) {
            v["precpu_stats"] = p["cpu_stats"].clone();
            v["preread"] = p["read"].clone();
        }
        if raw.is_some() {
            if let Some(n) = container_networks(c) {
                v["networks"] = n;
            }
        }
        v
    }

    /// `GET /containers/{id}/stats?stream=false`: two samples `interval` apart.
    pub fn stats(&self, key: &str, interval: Duration) -> Result<Value> {
        let c = self.find_reconciled(key)?;
        let first = self.stats_sample(&c, None);
        if !c.state.status.is_live() {
            return Ok(first);
        }
        std::thread::sleep(interval);
        Ok(self.stats_sample(&c, Some(&first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_math() {
        let v = json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000u64}, "system_cpu_usage": 10_000_000_000u64},
            "memory_stats": {"usage": 10_000_000u64, "limit": 64u64 << 20, "stats": {"total_inactive_file": 2_000_000u64}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 4096},
                {"major": 8, "minor": 0, "op": "Write", "value": 8192},
                {"major": 8, "minor": 0, "op": "Total", "value": 12288}]},
            "pids_stats": {"current": 3}
        });
        assert!((cpu_percent(&v) - 40.0).abs() < 1e-9);
        assert_eq!(mem_usage(&v), 8_000_000);
        assert!((mem_percent(&v) - 8_000_000.0 / (64u64 << 20) as f64 * 100.0).abs() < 1e-9);
        assert_eq!(blkio(&v), (4096, 8192));
        assert_eq!(pids_current(&v), 3);
        let z = json!({"cpu_stats": {}, "precpu_stats": {}, "memory_stats": {}});
        assert_eq!(cpu_percent(&z), 0.0);
        assert_eq!(mem_percent(&z), 0.0);
    }

    #[test]
    fn stats_doc_limits() {
        let c = Container {
            id: "abc".into(),
            name: "/x".into(),
            ..Default::default()
        };
        let raw = json!({"cpu": {"usage": {"total": 5, "percpu": [2, 3]}},
                         "memory": {"usage": {"usage": 100, "limit": u64::MAX}, "raw": {"total_inactive_file": 10}},
                         "pids": {"current": 2, "limit": 0}});
        let v = stats_doc(&c, Some(&raw), 1000, "now");
        assert_eq!(v["cpu_stats"]["online_cpus"], 2);
        assert_eq!(mem_limit(&v), host_memory());
        assert_eq!(mem_usage(&v), 90);
        let raw = json!({"memory": {"usage": {"usage": 100, "limit": 64u64 << 20}}});
        assert_eq!(mem_limit(&stats_doc(&c, Some(&raw), 0, "now")), 64 << 20);
        let z = stats_doc(&c, None, 0, "now");
        assert_eq!(z["read"], crate::types::ZERO_TIME);
    }
}
