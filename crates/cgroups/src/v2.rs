//! cgroup v2 (unified hierarchy) driver.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources};

use crate::common::{
    check_page_size, hugetlb_sizes, kill_pids, mkdir, need_file, wait_until, write_unified,
    DELETE_TIMEOUT, FREEZE_TIMEOUT,
};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::oom::{self, OomWatcher};
use crate::path::CgroupPath;
use crate::stats::{self, Stats};
use crate::{fs, warn, CgroupManager, Entry, FreezerState, Mode};

/// The v2 driver: one directory in the unified hierarchy.
#[derive(Debug)]
pub struct V2Manager {
    root: PathBuf,
    dir: PathBuf,
}

/// cpu.shares (v1, 2..=262144) → cpu.weight (v2, 1..=10000), the linear mapping used by
/// runc, crun and Kubernetes: 2 → 1, 1024 → 39, 262144 → 10000.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio weight (v1, 10..=1000) → io.weight (v2, 1..=10000): 10 → 1, 500 → 4950,
/// 1000 → 10000.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    let w = (w as u64).clamp(10, 1000);
    1 + ((w - 10) * 9999) / 990
}

/// The OCI memory.swap (memory+swap) → memory.swap.max (swap only). `None`: leave unset.
pub fn swap_to_v2(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>> {
    let Some(swap) = swap.filter(|v| *v != 0) else {
        return Ok(None);
    };
    if swap == -1 {
        return Ok(Some("max".into()));
    }
    if swap < -1 {
        return Err(Error::invalid("memory.swap", format!("{swap} is below -1")));
    }
    match limit {
        Some(l) if l > 0 => {
            if swap < l {
                return Err(Error::invalid(
                    "memory.swap",
                    format!("memory+swap limit {swap} is below the memory limit {l}"),
                ));
            }
            Ok(Some((swap - l).to_string()))
        }
        _ => Err(Error::invalid(
            "memory.swap",
            "a memory+swap limit needs a memory limit on cgroup v2",
        )),
    }
}

/// True when the device list restricts anything (a list of allow rules only leaves the
/// cgroup's default, everything allowed, and needs no eBPF program).
pub fn devices_need_bpf(rules: &[LinuxDeviceCgroup]) -> bool {
    rules.iter().any(|r| !r.allow())
}

impl V2Manager {
    pub fn new(layout: &Layout, path: &CgroupPath) -> Result<V2Manager> {
        let u = layout
            .unified
            .as_ref()
            .ok_or_else(|| Error::Mountinfo("no cgroup2 filesystem is mounted".into()))?;
        Ok(V2Manager {
            root: u.mount_point.clone(),
            dir: u.mount_point.join(path.resolve(&u.own)),
        })
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Enables every controller `dir` offers in its cgroup.subtree_control.
    fn enable_controllers(dir: &Path) -> Result<()> {
        let Some(avail) = fs::read_opt(dir, "cgroup.controllers")? else {
            return Ok(());
        };
        let enabled = fs::read_opt(dir, "cgroup.subtree_control")?.unwrap_or_default();
        let enabled: Vec<&str> = enabled
            .split_whitespace()
            .map(|c| c.trim_start_matches('+'))
            .collect();
        let missing: Vec<&str> = avail
            .split_whitespace()
            .filter(|c| !enabled.contains(c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        if fs::write(dir, "cgroup.subtree_control", &all.join(" ")).is_ok() {
            return Ok(());
        }
        // One at a time, so one refused controller does not block the others.
        for c in all {
            if let Err(e) = fs::write(dir, "cgroup.subtree_control", &c) {
                warn(&format!("cannot enable controller: {e}"));
            }
        }
        Ok(())
    }

    fn set_memory(&self, m: &LinuxMemory) -> Result<()> {
        let d = &self.dir;
        let limit = m.limit().filter(|v| *v != 0);
        if let Some(l) = limit {
            if l < -1 {
                return Err(Error::invalid("memory.limit", format!("{l} is below -1")));
            }
            need_file(d, "memory.max", "memory.limit")?;
            let v = if l == -1 { "max".into() } else { l.to_string() };
            fs::write(d, "memory.max", &v)?;
        }
        if let Some(v) = swap_to_v2(limit, m.swap())? {
            if fs::exists(d, "memory.swap.max") {
                fs::write(d, "memory.swap.max", &v)?;
            } else if v != "max" {
                return Err(Error::unsupported(
                    "memory.swap",
                    format!(
                        "the kernel offers no {}",
                        d.join("memory.swap.max").display()
                    ),
                ));
            }
        }
        if let Some(r) = m.reservation().filter(|v| *v != 0) {
            let v = if r == -1 { "max".into() } else { r.to_string() };
            need_file(d, "memory.low", "memory.reservation")?;
            fs::write(d, "memory.low", &v)?;
        }
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            warn("linux.resources.memory.kernel/kernelTCP are deprecated and ignored");
        }
        if m.swappiness().is_some() {
            warn(
                "linux.resources.memory.swappiness ignored: cgroup v2 has no per-cgroup swappiness",
            );
        }
        if m.disable_oom_killer() == Some(true) {
            warn("linux.resources.memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer");
        }
        Ok(())
    }

    fn set_cpu(&self, c: &LinuxCpu) -> Result<()> {
        let d = &self.dir;
        if let Some(s) = c.shares().filter(|v| *v != 0) {
            need_file(d, "cpu.weight", "cpu.shares")?;
            fs::write(d, "cpu.weight", &shares_to_weight(s).to_string())?;
        }
        let quota = c.quota().filter(|v| *v != 0);
        let period = c.period().filter(|v| *v != 0);
        if quota.is_some() || period.is_some() {
            need_file(d, "cpu.max", "cpu.quota")?;
            let q = match quota {
                Some(q) if q > 0 => q.to_string(),
                Some(-1) => "max".to_string(),
                Some(q) => return Err(Error::invalid("cpu.quota", format!("{q} is below -1"))),
                // Keep the current quota when only the period changes.
                None => fs::read(d, "cpu.max")?
                    .split_whitespace()
                    .next()
                    .unwrap_or("max")
                    .to_string(),
            };
            let v = match period {
                Some(p) => format!("{q} {p}"),
                None => q,
            };
            fs::write(d, "cpu.max", &v)?;
        }
        if let Some(b) = c.burst() {
            need_file(d, "cpu.max.burst", "cpu.burst")?;
            fs::write(d, "cpu.max.burst", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            need_file(d, "cpu.idle", "cpu.idle")?;
            fs::write(d, "cpu.idle", &i.to_string())?;
        }
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(Error::unsupported(
                "cpu.realtimeRuntime",
                "cgroup v2 has no realtime group scheduling files",
            ));
        }
        if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            need_file(d, "cpuset.cpus", "cpu.cpus")?;
            fs::write(d, "cpuset.cpus", v)?;
        }
        if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            need_file(d, "cpuset.mems", "cpu.mems")?;
            fs::write(d, "cpuset.mems", v)?;
        }
        Ok(())
    }

    fn set_io(&self, b: &LinuxBlockIo) -> Result<()> {
        let d = &self.dir;
        let bfq = fs::exists(d, "io.bfq.weight");
        if let Some(w) = b.weight() {
            if bfq {
                fs::write(d, "io.bfq.weight", &w.to_string())?;
            } else {
                need_file(d, "io.weight", "blockIO.weight")?;
                let v = format!("default {}", blkio_weight_to_io_weight(w));
                fs::write(d, "io.weight", &v)?;
            }
        }
        if b.leaf_weight().is_some() {
            warn("linux.resources.blockIO.leafWeight ignored: cgroup v2 has no leaf weight");
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                if bfq {
                    let v = format!("{}:{} {}", wd.major(), wd.minor(), w);
                    fs::write(d, "io.bfq.weight", &v)?;
                } else {
                    need_file(d, "io.weight", "blockIO.weightDevice")?;
                    let v = format!(
                        "{}:{} {}",
                        wd.major(),
                        wd.minor(),
                        blkio_weight_to_io_weight(w)
                    );
                    fs::write(d, "io.weight", &v)?;
                }
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, key, field) in throttles {
            for t in list.iter().flatten() {
                need_file(d, "io.max", field)?;
                let v = format!("{}:{} {}={}", t.major(), t.minor(), key, t.rate());
                fs::write(d, "io.max", &v)?;
            }
        }
        Ok(())
    }

    fn events_frozen(&self) -> Result<Option<bool>> {
        let ev = fs::read_keyed(&self.dir, "cgroup.events")?;
        if ev.is_empty() {
            return Ok(None);
        }
        Ok(Some(fs::keyed(&ev, "frozen") == 1))
    }

    fn set_freeze(&self, on: bool) -> Result<()> {
        need_freeze(&self.dir)?;
        fs::write(&self.dir, "cgroup.freeze", if on { "1" } else { "0" })?;
        let ok = wait_until(FREEZE_TIMEOUT, || {
            Ok(self.events_frozen()?.map(|f| f == on).unwrap_or(true))
        })?;
        if !ok {
            if on {
                let _ = fs::write(&self.dir, "cgroup.freeze", "0");
            }
            return Err(Error::Freezer {
                path: self.dir.join("cgroup.events"),
                reason: format!(
                    "not {} after {FREEZE_TIMEOUT:?}",
                    if on { "frozen" } else { "thawed" }
                ),
            });
        }
        Ok(())
    }
}

fn need_freeze(dir: &Path) -> Result<()> {
    if fs::exists(dir, "cgroup.freeze") {
        Ok(())
    } else {
        Err(Error::Freezer {
            path: dir.join("cgroup.freeze"),
            reason: "missing (the kernel needs 5.2 or later)".into(),
        })
    }
}

impl CgroupManager for V2Manager {
    fn mode(&self) -> Mode {
        Mode::V2
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        vec![(String::new(), self.dir.clone())]
    }

    fn create(&self) -> Result<()> {
        let rel = self.dir.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let mut cur = self.root.clone();
        for comp in rel.components() {
            Self::enable_controllers(&cur)?;
            cur.push(comp);
            mkdir(&cur)?;
        }
        Ok(())
    }

    fn apply(&self, pid: i32) -> Result<()> {
        fs::write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn entry(&self) -> Option<Entry> {
        Entry::v2(&self.dir)
    }

    fn set(&self, r: &LinuxResources) -> Result<()> {
        let d = &self.dir;
        if let Some(rules) = r.devices() {
            if devices_need_bpf(rules) {
                crate::devices::apply(d, rules)?;
            }
        }
        if let Some(c) = r.cpu() {
            self.set_cpu(c)?;
        }
        if let Some(m) = r.memory() {
            self.set_memory(m)?;
        }
        if let Some(p) = r.pids() {
            need_file(d, "pids.max", "pids.limit")?;
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".to_string()
            };
            fs::write(d, "pids.max", &v)?;
        }
        if let Some(b) = r.block_io().as_ref().and_then(crate::block_io_to_apply) {
            self.set_io(&b)?;
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            check_page_size(i, h.page_size())?;
            let f = format!("hugetlb.{}.max", h.page_size());
            need_file(d, &f, &format!("hugepageLimits[{i}]"))?;
            let v = if h.limit() < 0 {
                "max".into()
            } else {
                h.limit().to_string()
            };
            fs::write(d, &f, &v)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                warn("linux.resources.network ignored: cgroup v2 has no net_cls/net_prio");
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
                if v.len() > dev.len() {
                    need_file(d, "rdma.max", &format!("rdma[{dev:?}]"))?;
                    fs::write(d, "rdma.max", &v)?;
                }
            }
        }
        if let Some(u) = r.unified() {
            write_unified(d, u)?;
        }
        Ok(())
    }

    fn freeze(&self) -> Result<()> {
        self.set_freeze(true)
    }

    fn thaw(&self) -> Result<()> {
        self.set_freeze(false)
    }

    fn state(&self) -> Result<FreezerState> {
        need_freeze(&self.dir)?;
        let want = fs::read(&self.dir, "cgroup.freeze")?.trim() == "1";
        let is = self.events_frozen()?.unwrap_or(want);
        Ok(match (want, is) {
            (_, true) => FreezerState::Frozen,
            (true, false) => FreezerState::Freezing,
            (false, false) => FreezerState::Thawed,
        })
    }

    fn pids(&self) -> Result<Vec<i32>> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut v = fs::read_procs_recursive(&self.dir)?;
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    fn kill_all(&self, signal: i32) -> Result<()> {
        if signal == libc::SIGKILL && fs::exists(&self.dir, "cgroup.kill") {
            return fs::write(&self.dir, "cgroup.kill", "1");
        }
        // Freeze so no new process escapes while we signal. A cgroup that was already
        // frozen (a paused container) stays frozen, except for SIGKILL: frozen tasks
        // only die once thawed.
        let was_frozen = fs::exists(&self.dir, "cgroup.freeze")
            && self.state().ok() == Some(FreezerState::Frozen);
        let frozen =
            was_frozen || (fs::exists(&self.dir, "cgroup.freeze") && self.freeze().is_ok());
        let res = self.pids().and_then(|p| kill_pids(&p, signal));
        if frozen && (!was_frozen || signal == libc::SIGKILL) {
            self.thaw()?;
        }
        res
    }

    fn stats(&self) -> Result<Stats> {
        let d = &self.dir;
        let mut s = Stats::default();
        let cpu = fs::read_keyed(d, "cpu.stat")?;
        s.cpu.usage.total = fs::keyed(&cpu, "usage_usec") * 1000;
        s.cpu.usage.user = fs::keyed(&cpu, "user_usec") * 1000;
        s.cpu.usage.kernel = fs::keyed(&cpu, "system_usec") * 1000;
        s.cpu.throttling.periods = fs::keyed(&cpu, "nr_periods");
        s.cpu.throttling.throttled_periods = fs::keyed(&cpu, "nr_throttled");
        s.cpu.throttling.throttled_time = fs::keyed(&cpu, "throttled_usec") * 1000;

        let m = &mut s.memory;
        m.usage.usage = fs::read_u64(d, "memory.current")?;
        m.usage.limit = fs::read_u64(d, "memory.max")?;
        m.usage.max = fs::read_u64(d, "memory.peak")?;
        m.usage.failcnt = fs::keyed(&fs::read_keyed(d, "memory.events")?, "max");
        m.swap.usage = fs::read_u64(d, "memory.swap.current")?;
        m.swap.limit = fs::read_u64(d, "memory.swap.max")?;
        m.swap.max = fs::read_u64(d, "memory.swap.peak")?;
        m.swap.failcnt = fs::keyed(&fs::read_keyed(d, "memory.swap.events")?, "max");
        m.oom_kill = oom::oom_count_v2(d)?;
        m.raw = fs::read_keyed(d, "memory.stat")?.into_iter().collect();
        m.cache = m.raw.get("file").copied().unwrap_or(0);

        s.pids.current = fs::read_u64(d, "pids.current")?;
        let l = fs::read_u64(d, "pids.max")?;
        s.pids.limit = if l == u64::MAX { 0 } else { l };

        if let Some(t) = fs::read_opt(d, "io.stat")? {
            let (b, i) = stats::parse_io_stat_v2(&t);
            s.blkio.io_service_bytes_recursive = b;
            s.blkio.io_serviced_recursive = i;
        }
        for size in hugetlb_sizes(d, ".max") {
            let ev = fs::read_keyed(d, &format!("hugetlb.{size}.events"))?;
            let h = stats::Hugetlb {
                usage: fs::read_u64(d, &format!("hugetlb.{size}.current"))?,
                max: 0,
                failcnt: fs::keyed(&ev, "max"),
            };
            s.hugetlb.insert(size, h);
        }
        Ok(s)
    }

    fn oom_events(&self) -> Result<OomWatcher> {
        if !fs::exists(&self.dir, "memory.events") {
            return Err(Error::unsupported(
                "memory",
                format!(
                    "{} is missing (memory controller not enabled)",
                    self.dir.join("memory.events").display()
                ),
            ));
        }
        OomWatcher::v2(&self.dir)
    }

    fn delete(&self) -> Result<()> {
        fs::remove_cgroup_dir(&self.dir, DELETE_TIMEOUT)
    }
}
