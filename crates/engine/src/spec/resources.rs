//! rlimits, cgroup resources and device rules.

use crate::error::{Error, Result};
use crate::types::HostConfig;
use serde_json::{json, Map, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// docker's smallest memory limit and reservation.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const MIN_CPU_SHARES: i64 = 2;
const MAX_CPU_SHARES: i64 = 262_144;

// ---------------------------------------------------------------------------------------------
// rlimits
// ---------------------------------------------------------------------------------------------

/// The `--ulimit` names docker accepts (go-units' table), each `RLIMIT_<NAME>` upper-cased; the
/// CLI checks its flag against this same table. No `as`: docker refuses it ("invalid ulimit
/// type: as"), as its table leaves RLIMIT_AS out.
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

pub(super) fn rlimits(hc: &HostConfig) -> Result<Vec<Value>> {
    let mut by_name: Vec<(String, Value)> = Vec::new();
    for u in &hc.ulimits {
        let name = u.name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("rlimit_").unwrap_or(&name).to_string();
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            return Err(Error::Invalid(format!("invalid ulimit type: {}", u.name)));
        }
        // -1 is "unlimited" (RLIM_INFINITY), as docker's uint64 cast makes it.
        let (soft, hard) = (u.soft as u64, u.hard as u64);
        if soft > hard {
            return Err(Error::Invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            )));
        }
        let v = json!({"type": format!("RLIMIT_{}", name.to_ascii_uppercase()), "soft": soft, "hard": hard});
        by_name.retain(|(n, _)| *n != name);
        by_name.push((name, v));
    }
    Ok(by_name.into_iter().map(|(_, v)| v).collect())
}

// ---------------------------------------------------------------------------------------------
// resources
// ---------------------------------------------------------------------------------------------

pub(super) fn online_cpus() -> i64 {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as i64
    } else {
        1
    }
}

/// A cpuset list: `0-3,5`.
fn valid_cpuset(s: &str) -> bool {
    s.split(',').all(|part| {
        let num = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        match part.split_once('-') {
            Some((a, b)) => num(a) && num(b) && a.parse::<u64>().ok() <= b.parse::<u64>().ok(),
            None => num(part),
        }
    })
}

/// A `--device-cgroup-rule` (`c 7:128 rwm`, `a *:* m`) as an OCI allow entry.
pub(super) fn device_cgroup_rule(rule: &str) -> Result<Value> {
    let bad = || Error::Invalid(format!("invalid device cgroup rule: {rule:?}"));
    let f: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = f[..] else {
        return Err(bad());
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Value> {
        match n {
            "*" => Ok(Value::Null),
            n => n.parse::<i64>().map(|v| json!(v)).map_err(|_| bad()),
        }
    };
    let access_ok =
        !access.is_empty() && access.len() <= 3 && access.chars().all(|c| "rwm".contains(c));
    if !matches!(kind, "a" | "b" | "c") || !access_ok {
        return Err(bad());
    }
    let mut v = json!({"allow": true, "type": kind, "access": access});
    for (k, n) in [("major", major), ("minor", minor)] {
        let n = number(n)?;
        if !n.is_null() {
            v[k] = n;
        }
    }
    Ok(v)
}

/// docker's resource checks and their OCI form (`linux.resources` minus devices); `update`
/// applies the same to a running container.
pub(crate) fn resources(hc: &HostConfig, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let mut r = Map::new();
    let mem = memory(hc, warnings)?;
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }
    let cpu = cpu(hc, warnings)?;
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }

    // pids: 0 or negative is "unlimited", which is no limit at all in a new cgroup
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        r.insert("pids".into(), json!({ "limit": p }));
    }
    Ok(r)
}

/// `linux.resources.memory`: limit, swap, reservation, OOM killer.
fn memory(hc: &HostConfig, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let inv = |m: &str| Err(Error::Invalid(m.to_string()));
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return inv("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return inv("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory == 0 && hc.memory_swap > 0 {
        return inv(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_swap < -1 {
        return inv("invalid memory swap limit: use -1 for unlimited swap");
    }
    if hc.memory_reservation != 0 && hc.memory_reservation < MIN_MEMORY {
        return inv("Minimum memory reservation allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return inv(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    let mut mem = Map::new();
    if hc.memory > 0 {
        mem.insert("limit".into(), json!(hc.memory));
        let swap = if hc.memory_swap == 0 {
            hc.memory * 2
        } else {
            hc.memory_swap
        };
        mem.insert("swap".into(), json!(swap));
    } else if hc.memory_swap == -1 {
        mem.insert("swap".into(), json!(-1));
    }
    if hc.memory_reservation > 0 {
        mem.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if let Some(d) = hc.oom_kill_disable {
        if d && hc.memory == 0 {
            warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
        }
        mem.insert("disableOOMKiller".into(), json!(d));
    }
    match hc.memory_swappiness {
        None | Some(-1) => {}
        Some(v @ 0..=100) => {
            mem.insert("swappiness".into(), json!(v));
        }
        Some(v) => {
            return Err(Error::Invalid(format!(
                "Invalid value: {v}, valid memory swappiness range is 0-100"
            )))
        }
    }
    Ok(mem)
}

/// `linux.resources.cpu`: shares, quota and period (or `--cpus`), cpusets.
fn cpu(hc: &HostConfig, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let inv = |m: &str| Err(Error::Invalid(m.to_string()));
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return inv("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return inv("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    let ncpu = online_cpus();
    if hc.nano_cpus < 0 || hc.nano_cpus > ncpu * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return inv(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return inv("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if hc.cpu_shares < 0 {
        return inv("shares: invalid argument");
    }
    if !hc.cpuset_cpus.is_empty() && !valid_cpuset(&hc.cpuset_cpus) {
        return Err(Error::Invalid(format!(
            "Invalid value {} for cpuset cpus",
            hc.cpuset_cpus
        )));
    }
    if !hc.cpuset_mems.is_empty() && !valid_cpuset(&hc.cpuset_mems) {
        return Err(Error::Invalid(format!(
            "Invalid value {} for cpuset mems",
            hc.cpuset_mems
        )));
    }
    let mut cpu = Map::new();
    if hc.cpu_shares > 0 {
        let mut shares = hc.cpu_shares;
        if shares < MIN_CPU_SHARES {
            warnings.push(format!(
                "Changing requested CPUShares of {shares} to minimum allowed of {MIN_CPU_SHARES}"
            ));
            shares = MIN_CPU_SHARES;
        } else if shares > MAX_CPU_SHARES {
            warnings.push(format!(
                "Changing requested CPUShares of {shares} to maximum allowed of {MAX_CPU_SHARES}"
            ));
            shares = MAX_CPU_SHARES;
        }
        cpu.insert("shares".into(), json!(shares));
    }
    if hc.nano_cpus > 0 {
        let period: i64 = 100_000;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(hc.nano_cpus * period / 1_000_000_000));
    } else {
        if hc.cpu_period != 0 {
            cpu.insert("period".into(), json!(hc.cpu_period));
        }
        if hc.cpu_quota != 0 {
            cpu.insert("quota".into(), json!(hc.cpu_quota));
        }
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if hc.cpu_realtime_period != 0 || hc.cpu_realtime_runtime != 0 {
        // dockerd's checks: the kernel's RT group scheduling, runtime within the period
        let rt = Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists()
            || Path::new("/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us").exists();
        if !rt {
            return Err(Error::Invalid(
                "Your kernel does not support cgroup cpu real-time period and runtime (no cpu.rt_runtime_us)".into(),
            ));
        }
        if hc.cpu_realtime_period != 0 && hc.cpu_realtime_runtime > hc.cpu_realtime_period {
            return Err(Error::Invalid(
                "cpu-rt-runtime cannot be higher than cpu-rt-period".into(),
            ));
        }
        if hc.cpu_realtime_period != 0 {
            cpu.insert("realtimePeriod".into(), json!(hc.cpu_realtime_period));
        }
        if hc.cpu_realtime_runtime != 0 {
            cpu.insert("realtimeRuntime".into(), json!(hc.cpu_realtime_runtime));
        }
    }
    Ok(cpu)
}

/// docker's device cgroup rules for an unprivileged container (the runtime appends the OCI
/// default devices, /dev/pts and mknod, as runc does).
pub(super) fn default_device_rules() -> Vec<Value> {
    let allow = |major: i64, minor: i64| json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"});
    vec![
        json!({"allow": false, "access": "rwm"}),
        allow(1, 5), // zero
        allow(1, 3), // null
        allow(1, 9), // urandom
        allow(1, 8), // random
        allow(5, 0), // tty
        allow(5, 1), // console
        json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}), // fuse
    ]
}

/// Every character and block device under `dev` (the host's /dev for `--privileged`), skipping
/// what the container gets its own of, as docker does.
pub(crate) fn host_devices(dev: &Path) -> Vec<Value> {
    const SKIP_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let mut out = Vec::new();
    let mut stack = vec![dev.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let ft = meta.file_type();
            let name = e.file_name();
            if ft.is_dir() {
                if !SKIP_DIRS.iter().any(|s| name == *s) {
                    stack.push(e.path());
                }
                continue;
            }
            let typ = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else {
                continue;
            };
            let path = e.path();
            let rel = path.strip_prefix(dev).unwrap_or(&path);
            if rel == Path::new("console") {
                continue;
            }
            let rdev = meta.rdev();
            out.push(json!({
                "type": typ,
                "path": Path::new("/dev").join(rel),
                "major": nix::sys::stat::major(rdev),
                "minor": nix::sys::stat::minor(rdev),
                "fileMode": meta.mode() & 0o777,
                "uid": meta.uid(),
                "gid": meta.gid(),
            }));
        }
    }
    out
}

/// Limits a rootless engine cannot apply are refused at create and update, naming why (never
/// dropped; podman 4.3 ignores them with a warning). A plain user may write no cgroup on
/// cgroup v1; on v2 the subtree delegated to the user takes them when it has their
/// controllers (`cgroups::delegation`, podman's rule).
pub(crate) fn refuse_rootless_limits(hc: &HostConfig) -> Result<()> {
    if crate::paths::rootless_uid().is_none() {
        return Ok(());
    }
    let r = resources(hc, &mut Vec::new())?;
    let r: oci_spec::runtime::LinuxResources = serde_json::from_value(Value::Object(r))
        .map_err(|e| Error::Other(format!("resources: {e}")))?;
    // the runtime's own rule of what is a limit (it refuses the same)
    let Some(what) = runtime::resources::first_limit(&r) else {
        return Ok(());
    };
    let why = match rootless_cgroup_parent(&r) {
        Ok(_) => return Ok(()),
        Err(why) => why,
    };
    Err(Error::Invalid(format!(
        "rootless container: cannot apply resource limits (linux.resources.{what}: --memory, \
         --cpus, --pids-limit and friends): {why}; run without them, or as root"
    )))
}

/// The cgroup under which a rootless container's cgroup goes: the user's delegated cgroup v2
/// subtree, when it has the controllers `r` needs; else why not.
pub(crate) fn rootless_cgroup_parent(
    r: &oci_spec::runtime::LinuxResources,
) -> std::result::Result<std::path::PathBuf, String> {
    let layout = cgroups::Layout::detect().map_err(|_| "no cgroup hierarchy was found")?;
    // SAFETY: geteuid has no preconditions (the user as seen in its user namespace, as the
    // cgroup files' owners are).
    let uid = unsafe { libc::geteuid() };
    cgroups::delegation::rootless_parent(&layout, uid, r)
}
