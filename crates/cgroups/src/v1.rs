//! cgroup v1 driver (also used on hybrid hosts, where it additionally creates and joins
//! the cgroup in the unified hierarchy so the process is tracked there too).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};

use crate::common::{
    check_page_size, hugetlb_sizes, kill_pids, mkdir, need_file, wait_until, write_unified,
    DELETE_TIMEOUT, FREEZE_TIMEOUT,
};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::oom::OomWatcher;
use crate::path::CgroupPath;
use crate::stats::{self, Stats};
use crate::{fs, warn, CgroupManager, Entry, FreezerState, Mode};

#[derive(Debug, Clone)]
struct Hier {
    controllers: Vec<String>,
    mount_point: PathBuf,
    dir: PathBuf,
}

/// The v1 driver: one directory per mounted hierarchy.
#[derive(Debug)]
pub struct V1Manager {
    hiers: Vec<Hier>,
    /// The unified hierarchy's directory on hybrid hosts.
    unified: Option<PathBuf>,
    rel: PathBuf,
}

impl V1Manager {
    pub fn new(layout: &Layout, path: &CgroupPath) -> Result<V1Manager> {
        let mut hiers = Vec::new();
        let mut rel = PathBuf::new();
        for h in &layout.v1 {
            let r = path.resolve(&h.own);
            if rel.as_os_str().is_empty() || h.has("memory") {
                rel = r.clone();
            }
            hiers.push(Hier {
                controllers: h.controllers.clone(),
                mount_point: h.mount_point.clone(),
                dir: h.mount_point.join(r),
            });
        }
        let unified = layout
            .unified
            .as_ref()
            .filter(|_| layout.mode == Mode::Hybrid)
            .map(|u| u.mount_point.join(path.resolve(&u.own)));
        Ok(V1Manager {
            hiers,
            unified,
            rel,
        })
    }

    /// The directory of the hierarchy carrying `controller`.
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        self.hiers
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.dir.as_path())
    }

    fn need(&self, controller: &str, field: &str) -> Result<&Path> {
        self.dir(controller).ok_or_else(|| {
            Error::unsupported(
                field,
                format!("the {controller} cgroup v1 controller is not mounted"),
            )
        })
    }

    fn all_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.hiers.iter().map(|h| h.dir.as_path()).collect();
        if let Some(u) = &self.unified {
            v.push(u);
        }
        v
    }

    fn set_memory(&self, m: &LinuxMemory) -> Result<()> {
        let dir = self.need("memory", "memory")?;
        let limit = m.limit().filter(|v| *v != 0);
        let mut swap = m.swap().filter(|v| *v != 0);
        for (name, v) in [("memory.limit", limit), ("memory.swap", swap)] {
            if let Some(v) = v {
                if v < -1 {
                    return Err(Error::invalid(name, format!("{v} is below -1")));
                }
            }
        }
        if let (Some(l), Some(s)) = (limit, swap) {
            if l > 0 && s > 0 && s < l {
                return Err(Error::invalid(
                    "memory.swap",
                    format!("memory+swap limit {s} is below the memory limit {l}"),
                ));
            }
        }
        let memsw = fs::exists(dir, "memory.memsw.limit_in_bytes");
        // An unlimited memory limit with no swap given lifts memory+swap too, or the kernel
        // rejects memory.limit > memsw.limit.
        if limit == Some(-1) && swap.is_none() && memsw {
            swap = Some(-1);
        }
        match swap {
            Some(s) if !memsw => {
                if s != -1 {
                    return Err(Error::unsupported(
                        "memory.swap",
                        "swap accounting is off (no memory.memsw.limit_in_bytes)",
                    ));
                }
                if let Some(l) = limit {
                    fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
                }
            }
            Some(s) => {
                // memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at every
                // step: raise memsw first when it grows, lower the limit first otherwise.
                let cur = fs::read_u64(dir, "memory.memsw.limit_in_bytes")?;
                let memsw_first = s == -1 || s as u64 > cur;
                if memsw_first {
                    fs::write(dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
                }
                if let Some(l) = limit {
                    fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
                }
                if !memsw_first {
                    fs::write(dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
                }
            }
            None => {
                if let Some(l) = limit {
                    fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
                }
            }
        }
        if let Some(r) = m.reservation().filter(|v| *v != 0) {
            fs::write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        if m.kernel().is_some() {
            warn("linux.resources.memory.kernel is deprecated and ignored");
        }
        if let Some(t) = m.kernel_tcp().filter(|v| *v != 0) {
            if fs::exists(dir, "memory.kmem.tcp.limit_in_bytes") {
                fs::write(dir, "memory.kmem.tcp.limit_in_bytes", &t.to_string())?;
            } else {
                warn("linux.resources.memory.kernelTCP ignored: no memory.kmem.tcp.limit_in_bytes");
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::invalid(
                    "memory.swappiness",
                    format!("{s} is above 100"),
                ));
            }
            fs::write(dir, "memory.swappiness", &s.to_string())?;
        }
        if let Some(d) = m.disable_oom_killer() {
            fs::write(dir, "memory.oom_control", if d { "1" } else { "0" })?;
        }
        Ok(())
    }

    fn set_cpu(&self, c: &LinuxCpu) -> Result<()> {
        let wants_cpu = c.shares().is_some_and(|v| v != 0)
            || c.quota().is_some_and(|v| v != 0)
            || c.period().is_some_and(|v| v != 0)
            || c.burst().is_some()
            || c.idle().is_some()
            || c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0);
        if wants_cpu {
            let dir = self.need("cpu", "cpu")?;
            if let Some(s) = c.shares().filter(|v| *v != 0) {
                fs::write(dir, "cpu.shares", &s.to_string())?;
            }
            let period = c.period().filter(|v| *v != 0);
            let quota = c.quota().filter(|v| *v != 0);
            if let Some(q) = quota {
                if q < -1 {
                    return Err(Error::invalid("cpu.quota", format!("{q} is below -1")));
                }
            }
            // A new period may be refused while the old quota is incompatible with it (and
            // the other way round): try period first, then quota first.
            match (period, quota) {
                (Some(p), Some(q)) => {
                    if fs::write(dir, "cpu.cfs_period_us", &p.to_string()).is_err() {
                        fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?;
                        fs::write(dir, "cpu.cfs_period_us", &p.to_string())?;
                    } else {
                        fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?;
                    }
                }
                (Some(p), None) => fs::write(dir, "cpu.cfs_period_us", &p.to_string())?,
                (None, Some(q)) => fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?,
                (None, None) => {}
            }
            if let Some(b) = c.burst() {
                need_file(dir, "cpu.cfs_burst_us", "cpu.burst")?;
                fs::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
            }
            if let Some(i) = c.idle() {
                need_file(dir, "cpu.idle", "cpu.idle")?;
                fs::write(dir, "cpu.idle", &i.to_string())?;
            }
            if let Some(p) = c.realtime_period().filter(|v| *v != 0) {
                need_file(dir, "cpu.rt_period_us", "cpu.realtimePeriod")?;
                fs::write(dir, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(r) = c.realtime_runtime().filter(|v| *v != 0) {
                need_file(dir, "cpu.rt_runtime_us", "cpu.realtimeRuntime")?;
                fs::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
            }
        }
        let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
        let mems = c.mems().as_deref().filter(|s| !s.is_empty());
        if cpus.is_some() || mems.is_some() {
            let dir = self.need("cpuset", "cpu.cpus")?;
            if let Some(v) = cpus {
                fs::write(dir, "cpuset.cpus", v)?;
            }
            if let Some(v) = mems {
                fs::write(dir, "cpuset.mems", v)?;
            }
        }
        Ok(())
    }

    fn set_blkio(&self, b: &LinuxBlockIo) -> Result<()> {
        let dir = self.need("blkio", "blockIO")?;
        // Kernels without CFQ (all current ones) offer the BFQ files instead.
        let pick = |a: &'static str, b: &'static str| -> Option<&'static str> {
            if fs::exists(dir, a) {
                Some(a)
            } else if fs::exists(dir, b) {
                Some(b)
            } else {
                None
            }
        };
        if let Some(w) = b.weight() {
            let f = pick("blkio.weight", "blkio.bfq.weight").ok_or_else(|| {
                Error::unsupported("blockIO.weight", "no blkio.weight or blkio.bfq.weight")
            })?;
            fs::write(dir, f, &w.to_string())?;
        }
        if let Some(w) = b.leaf_weight() {
            if fs::exists(dir, "blkio.leaf_weight") {
                fs::write(dir, "blkio.leaf_weight", &w.to_string())?;
            } else {
                warn("linux.resources.blockIO.leafWeight ignored: no blkio.leaf_weight");
            }
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let f =
                    pick("blkio.weight_device", "blkio.bfq.weight_device").ok_or_else(|| {
                        Error::unsupported(
                            "blockIO.weightDevice",
                            "no blkio.weight_device or blkio.bfq.weight_device",
                        )
                    })?;
                fs::write(dir, f, &format!("{}:{} {}", d.major(), d.minor(), w))?;
            }
            if let Some(w) = d.leaf_weight() {
                if fs::exists(dir, "blkio.leaf_weight_device") {
                    let v = format!("{}:{} {}", d.major(), d.minor(), w);
                    fs::write(dir, "blkio.leaf_weight_device", &v)?;
                } else {
                    warn("linux.resources.blockIO.weightDevice.leafWeight ignored: no blkio.leaf_weight_device");
                }
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ];
        for (list, file) in throttles {
            for d in list.iter().flatten() {
                fs::write(
                    dir,
                    file,
                    &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                )?;
            }
        }
        Ok(())
    }

    fn set_devices(&self, rules: &[LinuxDeviceCgroup]) -> Result<()> {
        let dir = self.need("devices", "devices")?;
        for (i, r) in rules.iter().enumerate() {
            let Some(line) = device_rule_v1(i, r)? else {
                continue;
            };
            let file = if r.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            fs::write(dir, file, &line)?;
        }
        Ok(())
    }

    fn freezer(&self) -> Result<&Path> {
        self.dir("freezer").ok_or_else(|| Error::Freezer {
            path: self.rel.clone(),
            reason: "no freezer cgroup v1 hierarchy is mounted".into(),
        })
    }
}

/// A device rule as written to v1 devices.allow / devices.deny: `c 1:3 rwm` (None: a rule
/// whose access has no known letter, which matches nothing).
pub(crate) fn device_rule_v1(i: usize, r: &LinuxDeviceCgroup) -> Result<Option<String>> {
    let field = format!("devices[{i}]");
    let t = match r.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(Error::invalid(
                format!("{field}.type"),
                "fifo (p) devices cannot be controlled by the device cgroup",
            ))
        }
    };
    let num = |v: Option<i64>, name: &str| -> Result<String> {
        match v {
            None | Some(-1) => Ok("*".to_string()),
            Some(n) if n >= 0 => Ok(n.to_string()),
            Some(n) => Err(Error::invalid(format!("{field}.{name}"), format!("{n}"))),
        }
    };
    let major = num(r.major(), "major")?;
    let minor = num(r.minor(), "minor")?;
    let access = crate::devices::access(&field, r.access().as_deref());
    if access.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{t} {major}:{minor} {access}")))
}

/// Copies cpuset.cpus / cpuset.mems from the parent into every level of `dir` below
/// `mount` that has them empty (a new v1 cpuset cgroup accepts no task until both are set).
fn ensure_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut parent = mount.to_path_buf();
    for comp in rel.components() {
        let child = parent.join(comp);
        mkdir(&child)?;
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Some(cur) = fs::read_opt(&child, f)? {
                if cur.trim().is_empty() {
                    if let Some(p) = fs::read_opt(&parent, f)? {
                        fs::write(&child, f, p.trim())?;
                    }
                }
            }
        }
        parent = child;
    }
    Ok(())
}

impl CgroupManager for V1Manager {
    fn mode(&self) -> Mode {
        Mode::V1
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        let mut v: Vec<(String, PathBuf)> = self
            .hiers
            .iter()
            .map(|h| (h.controllers.join(","), h.dir.clone()))
            .collect();
        if let Some(u) = &self.unified {
            v.push((String::new(), u.clone()));
        }
        v
    }

    fn create(&self) -> Result<()> {
        for h in &self.hiers {
            if h.controllers.iter().any(|c| c == "cpuset") {
                ensure_cpuset(&h.mount_point, &h.dir)?;
            } else {
                mkdir(&h.dir)?;
            }
        }
        if let Some(u) = &self.unified {
            if let Err(e) = mkdir(u) {
                warn(&format!("hybrid unified hierarchy: {e}"));
            }
        }
        Ok(())
    }

    fn apply(&self, pid: i32) -> Result<()> {
        for h in &self.hiers {
            fs::write(&h.dir, "cgroup.procs", &pid.to_string())?;
        }
        if let Some(u) = &self.unified {
            if u.exists() {
                if let Err(e) = fs::write(u, "cgroup.procs", &pid.to_string()) {
                    warn(&format!("hybrid unified hierarchy: {e}"));
                }
            }
        }
        Ok(())
    }

    fn entry(&self) -> Option<Entry> {
        let dirs: Vec<&Path> = self.hiers.iter().map(|h| h.dir.as_path()).collect();
        Entry::v1(&dirs, self.unified.as_deref().filter(|u| u.exists()))
    }

    fn create_clone_target(&self) -> Result<Option<Entry>> {
        let Some(u) = &self.unified else {
            return Ok(None);
        };
        // (a failure is `create`'s to report, which tries again)
        if mkdir(u).is_err() {
            return Ok(None);
        }
        Ok(Entry::unified(u))
    }

    fn set(&self, r: &LinuxResources) -> Result<()> {
        if let Some(c) = r.cpu() {
            self.set_cpu(c)?;
        }
        if let Some(m) = r.memory() {
            self.set_memory(m)?;
        }
        if let Some(p) = r.pids() {
            let dir = self.need("pids", "pids")?;
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            fs::write(dir, "pids.max", &v)?;
        }
        if let Some(b) = r.block_io().as_ref().and_then(crate::block_io_to_apply) {
            self.set_blkio(&b)?;
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            check_page_size(i, h.page_size())?;
            let dir = self.need("hugetlb", "hugepageLimits")?;
            let f = format!("hugetlb.{}.limit_in_bytes", h.page_size());
            need_file(dir, &f, &format!("hugepageLimits[{i}]"))?;
            fs::write(dir, &f, &h.limit().to_string())?;
        }
        if let Some(d) = r.devices() {
            self.set_devices(d)?;
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                match self.dir("net_cls") {
                    Some(dir) => fs::write(dir, "net_cls.classid", &id.to_string())?,
                    None => warn("linux.resources.network.classID ignored: net_cls is not mounted"),
                }
            }
            for p in n.priorities().iter().flatten() {
                match self.dir("net_prio") {
                    Some(dir) => fs::write(
                        dir,
                        "net_prio.ifpriomap",
                        &format!("{} {}", p.name(), p.priority()),
                    )?,
                    None => {
                        warn("linux.resources.network.priorities ignored: net_prio is not mounted");
                        break;
                    }
                }
            }
        }
        if let Some(rdma) = r.rdma() {
            let mut devs: Vec<&String> = rdma.keys().collect();
            devs.sort();
            for dev in devs {
                let l = &rdma[dev];
                let mut v = dev.clone();
                if let Some(h) = l.hca_handles() {
                    v.push_str(&format!(" hca_handle={h}"));
                }
                if let Some(o) = l.hca_objects() {
                    v.push_str(&format!(" hca_object={o}"));
                }
                if v.len() == dev.len() {
                    continue;
                }
                match self.dir("rdma") {
                    Some(dir) => fs::write(dir, "rdma.max", &v)?,
                    None => warn("linux.resources.rdma ignored: rdma is not mounted"),
                }
            }
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            match &self.unified {
                Some(dir) => write_unified(dir, u)?,
                None => {
                    return Err(Error::unsupported(
                        "unified",
                        "the host has no cgroup v2 hierarchy",
                    ))
                }
            }
        }
        Ok(())
    }

    fn freeze(&self) -> Result<()> {
        let dir = self.freezer()?;
        let frozen = wait_until(FREEZE_TIMEOUT, || {
            // Writing again helps a freeze that raced with a fork.
            fs::write(dir, "freezer.state", "FROZEN")?;
            Ok(fs::read(dir, "freezer.state")?.trim() == "FROZEN")
        })?;
        if !frozen {
            let _ = fs::write(dir, "freezer.state", "THAWED");
            return Err(Error::Freezer {
                path: dir.join("freezer.state"),
                reason: format!("not FROZEN after {FREEZE_TIMEOUT:?}"),
            });
        }
        Ok(())
    }

    fn thaw(&self) -> Result<()> {
        let dir = self.freezer()?;
        let ok = wait_until(FREEZE_TIMEOUT, || {
            fs::write(dir, "freezer.state", "THAWED")?;
            Ok(fs::read(dir, "freezer.state")?.trim() == "THAWED")
        })?;
        if !ok {
            return Err(Error::Freezer {
                path: dir.join("freezer.state"),
                reason: format!("not THAWED after {FREEZE_TIMEOUT:?}"),
            });
        }
        Ok(())
    }

    fn state(&self) -> Result<FreezerState> {
        let dir = self.freezer()?;
        let s = fs::read(dir, "freezer.state")?;
        match s.trim() {
            "THAWED" => Ok(FreezerState::Thawed),
            "FREEZING" => Ok(FreezerState::Freezing),
            "FROZEN" => Ok(FreezerState::Frozen),
            other => Err(Error::Parse {
                path: dir.join("freezer.state"),
                reason: format!("unknown state {other:?}"),
            }),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let dir = ["freezer", "pids", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dir(c))
            .or_else(|| self.hiers.first().map(|h| h.dir.as_path()));
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut v = fs::read_procs_recursive(dir)?;
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    fn kill_all(&self, signal: i32) -> Result<()> {
        // Freeze so no new process escapes while we signal. A cgroup that was already
        // frozen (a paused container) stays frozen, except for SIGKILL: frozen tasks
        // only die once thawed.
        let was_frozen =
            self.dir("freezer").is_some() && self.state().ok() == Some(FreezerState::Frozen);
        let frozen = was_frozen || (self.dir("freezer").is_some() && self.freeze().is_ok());
        let res = self.pids().and_then(|p| kill_pids(&p, signal));
        if frozen && (!was_frozen || signal == libc::SIGKILL) {
            self.thaw()?;
        }
        res
    }

    fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Some(d) = self.dir("cpuacct") {
            s.cpu.usage.total = fs::read_u64(d, "cpuacct.usage")?;
            if let Some(t) = fs::read_opt(d, "cpuacct.usage_percpu")? {
                s.cpu.usage.percpu = t
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
            }
            // cpuacct.stat is in USER_HZ ticks.
            let st = fs::read_keyed(d, "cpuacct.stat")?;
            // SAFETY: plain libc call.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            s.cpu.usage.user = fs::keyed(&st, "user") * 1_000_000_000 / hz;
            s.cpu.usage.kernel = fs::keyed(&st, "system") * 1_000_000_000 / hz;
        }
        if let Some(d) = self.dir("cpu") {
            let st = fs::read_keyed(d, "cpu.stat")?;
            s.cpu.throttling.periods = fs::keyed(&st, "nr_periods");
            s.cpu.throttling.throttled_periods = fs::keyed(&st, "nr_throttled");
            s.cpu.throttling.throttled_time = fs::keyed(&st, "throttled_time");
        }
        if let Some(d) = self.dir("memory") {
            let m = &mut s.memory;
            m.usage.usage = fs::read_u64(d, "memory.usage_in_bytes")?;
            m.usage.limit = fs::read_u64(d, "memory.limit_in_bytes")?;
            m.usage.max = fs::read_u64(d, "memory.max_usage_in_bytes")?;
            m.usage.failcnt = fs::read_u64(d, "memory.failcnt")?;
            m.swap.usage = fs::read_u64(d, "memory.memsw.usage_in_bytes")?;
            m.swap.limit = fs::read_u64(d, "memory.memsw.limit_in_bytes")?;
            m.swap.max = fs::read_u64(d, "memory.memsw.max_usage_in_bytes")?;
            m.swap.failcnt = fs::read_u64(d, "memory.memsw.failcnt")?;
            m.oom_kill = fs::keyed(&fs::read_keyed(d, "memory.oom_control")?, "oom_kill");
            m.raw = fs::read_keyed(d, "memory.stat")?.into_iter().collect();
            m.cache = m
                .raw
                .get("total_cache")
                .or(m.raw.get("cache"))
                .copied()
                .unwrap_or(0);
        }
        if let Some(d) = self.dir("pids") {
            s.pids.current = fs::read_u64(d, "pids.current")?;
            let l = fs::read_u64(d, "pids.max")?;
            s.pids.limit = if l == u64::MAX { 0 } else { l };
        }
        if let Some(d) = self.dir("blkio") {
            let pick = |a: &str, b: &str| -> Result<Vec<stats::BlkioEntry>> {
                let t = match fs::read_opt(d, a)? {
                    Some(t) if !stats::parse_blkio_v1(&t).is_empty() => Some(t),
                    _ => fs::read_opt(d, b)?,
                };
                Ok(t.map(|t| stats::parse_blkio_v1(&t)).unwrap_or_default())
            };
            s.blkio.io_service_bytes_recursive = pick(
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
            )?;
            s.blkio.io_serviced_recursive = pick(
                "blkio.throttle.io_serviced_recursive",
                "blkio.bfq.io_serviced_recursive",
            )?;
        }
        if let Some(d) = self.dir("hugetlb") {
            for size in hugetlb_sizes(d, ".limit_in_bytes") {
                let h = stats::Hugetlb {
                    usage: fs::read_u64(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
                    max: fs::read_u64(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                    failcnt: fs::read_u64(d, &format!("hugetlb.{size}.failcnt"))?,
                };
                s.hugetlb.insert(size, h);
            }
        }
        Ok(s)
    }

    fn oom_events(&self) -> Result<OomWatcher> {
        let dir = self.need("memory", "memory")?;
        OomWatcher::v1(dir)
    }

    fn delete(&self) -> Result<()> {
        let mut first = None;
        for d in self.all_dirs() {
            // once a hierarchy kept live processes (a cgroup shared with another container),
            // the others have them too: one try each, no wait
            let timeout = match first {
                Some(_) => std::time::Duration::ZERO,
                None => DELETE_TIMEOUT,
            };
            if let Err(e) = fs::remove_cgroup_dir(d, timeout) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}
