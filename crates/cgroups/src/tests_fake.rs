//! Unit tests of both drivers against fake cgroupfs trees (regular files in a temporary
//! directory, laid out like the kernel's), asserting the exact writes in order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};

use crate::fs::record;
use crate::*;

pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "berth-cgroups-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn put(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        std::fs::write(dir.join(f), v).unwrap();
    }
}

fn get(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

/// Interface files a v2 leaf cgroup has on a kernel with all controllers enabled.
pub(crate) fn v2_leaf(dir: &Path) {
    put(
        dir,
        &[
            ("cgroup.procs", ""),
            ("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc"),
            ("cgroup.subtree_control", ""),
            ("cgroup.freeze", "0"),
            ("cgroup.kill", ""),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cpu.max.burst", "0"),
            ("cpu.idle", "0"),
            ("cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 4\nthrottled_usec 9\n"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("memory.current", "4096"),
            ("memory.max", "max"),
            ("memory.low", "0"),
            ("memory.peak", "8192"),
            ("memory.swap.max", "max"),
            ("memory.swap.current", "0"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("memory.stat", "anon 100\nfile 200\n"),
            ("pids.max", "max"),
            ("pids.current", "2"),
            ("io.max", ""),
            ("io.weight", "default 100"),
            ("io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.current", "0"),
            ("hugetlb.1GB.max", "max"),
            ("hugetlb.1GB.current", "0"),
            ("rdma.max", ""),
        ],
    );
}

pub(crate) fn v2_fake() -> (TempDir, Layout) {
    let t = TempDir::new("v2");
    let root = t.0.join("sys/fs/cgroup");
    put(
        &root,
        &[
            (
                "cgroup.controllers",
                "cpuset cpu io memory hugetlb pids rdma misc",
            ),
            ("cgroup.subtree_control", "memory"),
            ("cgroup.procs", "1\n"),
        ],
    );
    let mi = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    let layout = Layout::parse(mi, "0::/\n", Some(&t.0)).unwrap();
    assert_eq!(layout.mode, Mode::V2);
    (t, layout)
}

pub(crate) fn rel(base: &Path, log: Vec<(PathBuf, String)>) -> Vec<(String, String)> {
    log.into_iter()
        .map(|(p, v)| {
            (
                p.strip_prefix(base).unwrap().to_string_lossy().into_owned(),
                v,
            )
        })
        .collect()
}

pub(crate) fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn full_resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(96 << 20)
                .reservation(32 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(1024u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0-1")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(500u16)
                .weight_device(vec![LinuxWeightDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .weight(200u16)
                    .build()
                    .unwrap()])
                .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .rate(1_048_576u64)
                    .build()
                    .unwrap()])
                .throttle_write_iops_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(16)
                    .rate(100u64)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4 << 20)
            .build()
            .unwrap()])
        .build()
        .unwrap()
}

#[test]
fn v2_create_enables_controllers_in_every_ancestor() {
    let (t, layout) = v2_fake();
    let root = t.0.join("sys/fs/cgroup");
    put(
        &root.join("berth"),
        &[
            ("cgroup.controllers", "cpu memory pids"),
            ("cgroup.subtree_control", ""),
        ],
    );
    let m = manager_with_layout(&layout, "/berth/c1", "c1").unwrap();
    assert_eq!(m.paths(), vec![(String::new(), root.join("berth/c1"))]);
    record::start();
    m.create().unwrap();
    assert_eq!(
        rel(&root, record::take()),
        pairs(&[
            // "memory" was already enabled at the root.
            (
                "cgroup.subtree_control",
                "+cpuset +cpu +io +hugetlb +pids +rdma +misc"
            ),
            ("berth/cgroup.subtree_control", "+cpu +memory +pids"),
        ])
    );
    assert!(root.join("berth/c1").is_dir());
    m.delete().unwrap();
    assert!(!root.join("berth/c1").exists());
    m.delete().unwrap();
}

#[test]
fn v2_set_writes_exact_values() {
    let (t, layout) = v2_fake();
    let m = manager_with_layout(&layout, "/c2", "c2").unwrap();
    m.create().unwrap();
    let dir = t.0.join("sys/fs/cgroup/c2");
    v2_leaf(&dir);
    record::start();
    m.set(&full_resources()).unwrap();
    assert_eq!(
        rel(&dir, record::take()),
        pairs(&[
            ("cpu.weight", "39"),
            ("cpu.max", "50000 100000"),
            ("cpuset.cpus", "0-1"),
            ("cpuset.mems", "0"),
            ("memory.max", "67108864"),
            ("memory.swap.max", "33554432"),
            ("memory.low", "33554432"),
            ("pids.max", "20"),
            ("io.weight", "default 4950"),
            ("io.weight", "8:0 1920"),
            ("io.max", "8:0 rbps=1048576"),
            ("io.max", "8:16 wiops=100"),
            ("hugetlb.2MB.max", "4194304"),
        ])
    );
    assert_eq!(get(&dir, "memory.max"), "67108864");

    // Unlimited values, and a period change that keeps the quota.
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(-1)
                .swap(-1)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .period(200_000u64)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .unified(HashMap::from([(
            "memory.high".to_string(),
            "1G".to_string(),
        )]))
        .build()
        .unwrap();
    put(&dir, &[("memory.high", "max")]);
    record::start();
    m.set(&r).unwrap();
    assert_eq!(
        rel(&dir, record::take()),
        pairs(&[
            ("cpu.max", "50000 200000"),
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("pids.max", "max"),
            ("memory.high", "1G"),
        ])
    );
    m.delete().unwrap();
}

#[test]
fn v2_bfq_weight_and_errors() {
    let (t, layout) = v2_fake();
    let m = manager_with_layout(&layout, "/c3", "c3").unwrap();
    m.create().unwrap();
    let dir = t.0.join("sys/fs/cgroup/c3");
    v2_leaf(&dir);
    put(&dir, &[("io.bfq.weight", "default 100")]);
    let r = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(300u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    record::start();
    m.set(&r).unwrap();
    assert_eq!(
        rel(&dir, record::take()),
        pairs(&[("io.bfq.weight", "300")])
    );

    // swap below limit
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(100)
                .swap(50)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = m.set(&r).unwrap_err().to_string();
    assert!(e.contains("memory.swap"), "{e}");
    // swap without a memory limit
    let r = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().swap(50).build().unwrap())
        .build()
        .unwrap();
    assert!(m.set(&r).unwrap_err().to_string().contains("memory.swap"));
    // realtime
    let r = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .realtime_runtime(1000)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = m.set(&r).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    // a device deny list needs BPF
    let r = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()])
        .build()
        .unwrap();
    // (The fake directory is no cgroup: attaching the eBPF program fails, naming it.)
    let e = m.set(&r).unwrap_err();
    assert!(e.to_string().contains("linux.resources.devices"), "{e}");
    // unified key for a file the kernel does not have, and a forbidden key
    let r = LinuxResourcesBuilder::default()
        .unified(HashMap::from([(
            "memory.nosuch".to_string(),
            "1".to_string(),
        )]))
        .build()
        .unwrap();
    assert!(m.set(&r).unwrap_err().to_string().contains("memory.nosuch"));
    let r = LinuxResourcesBuilder::default()
        .unified(HashMap::from([("../x".to_string(), "1".to_string())]))
        .build()
        .unwrap();
    assert!(m.set(&r).unwrap_err().to_string().contains("unified"));
    // a missing controller file names it
    std::fs::remove_file(dir.join("pids.max")).unwrap();
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .build()
        .unwrap();
    let e = m.set(&r).unwrap_err().to_string();
    assert!(e.contains("pids.max") && e.contains("pids.limit"), "{e}");
    m.delete().unwrap();
}

#[test]
fn v2_freeze_state_stats_pids_oom() {
    let (t, layout) = v2_fake();
    let m = manager_with_layout(&layout, "/c4", "c4").unwrap();
    m.create().unwrap();
    let dir = t.0.join("sys/fs/cgroup/c4");
    v2_leaf(&dir);
    put(&dir, &[("cgroup.procs", "10\n11\n")]);
    put(&dir.join("sub"), &[("cgroup.procs", "12\n")]);
    assert_eq!(m.pids().unwrap(), vec![10, 11, 12]);

    // With cgroup.events reporting the kernel's view.
    put(&dir, &[("cgroup.events", "populated 1\nfrozen 1\n")]);
    m.freeze().unwrap();
    assert_eq!(get(&dir, "cgroup.freeze"), "1");
    assert_eq!(m.state().unwrap(), FreezerState::Frozen);
    put(&dir, &[("cgroup.events", "populated 1\nfrozen 0\n")]);
    assert_eq!(m.state().unwrap(), FreezerState::Freezing);
    m.thaw().unwrap();
    assert_eq!(get(&dir, "cgroup.freeze"), "0");
    assert_eq!(m.state().unwrap(), FreezerState::Thawed);

    let s = m.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 5000);
    assert_eq!(s.cpu.usage.user, 3000);
    assert_eq!(s.cpu.throttling.throttled_periods, 4);
    assert_eq!(s.cpu.throttling.throttled_time, 9000);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.memory.usage.limit, u64::MAX);
    assert_eq!(s.memory.usage.max, 8192);
    assert_eq!(s.memory.usage.failcnt, 3);
    assert_eq!(s.memory.oom_kill, 1);
    assert_eq!(s.memory.cache, 200);
    assert_eq!(s.pids.current, 2);
    assert_eq!(s.pids.limit, 0);
    assert_eq!(s.blkio.io_service_bytes_recursive.len(), 3);
    assert_eq!(s.hugetlb.len(), 2);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["memory"]["oomKill"], 1);

    let mut w = m.oom_events().unwrap();
    assert_eq!(
        w.wait(Some(std::time::Duration::from_millis(50))).unwrap(),
        OomEvent::Timeout
    );
    let d2 = dir.clone();
    let th = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::write(d2.join("memory.events"), "max 4\noom 3\noom_kill 3\n").unwrap();
    });
    let ev = w.wait(Some(std::time::Duration::from_secs(5))).unwrap();
    th.join().unwrap();
    assert_eq!(ev, OomEvent::Oom(2));

    record::start();
    m.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(rel(&dir, record::take()), pairs(&[("cgroup.kill", "1")]));

    m.delete().unwrap();
    assert_eq!(
        w.wait(Some(std::time::Duration::from_millis(10))).unwrap(),
        OomEvent::Gone
    );
    assert!(!dir.exists());
}

/// A fake v1 host: every controller in its own hierarchy under `root`.
pub(crate) fn v1_fake() -> (TempDir, Layout) {
    let t = TempDir::new("v1");
    let ctrls = [
        "cpu,cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "blkio",
        "pids",
        "hugetlb",
        "net_cls,net_prio",
        "name=systemd",
    ];
    let mut mi = String::new();
    for (i, c) in ctrls.iter().enumerate() {
        let dir = c.trim_start_matches("name=");
        mi.push_str(&format!(
            "{} 31 0:{} / /sys/fs/cgroup/{dir} rw,relatime - cgroup cgroup rw,{c}\n",
            40 + i,
            40 + i
        ));
        put(
            &t.0.join("sys/fs/cgroup").join(dir),
            &[("cgroup.procs", "")],
        );
    }
    put(
        &t.0.join("sys/fs/cgroup/cpuset"),
        &[("cpuset.cpus", "0-3"), ("cpuset.mems", "0")],
    );
    let layout = Layout::parse(&mi, "", Some(&t.0)).unwrap();
    assert_eq!(layout.mode, Mode::V1);
    (t, layout)
}

#[test]
fn v1_create_copies_cpuset_and_set_writes_exact_values() {
    let (t, layout) = v1_fake();
    let base = t.0.join("sys/fs/cgroup");
    // Directories as the kernel would create them (with their interface files).
    put(
        &base.join("cpuset/b"),
        &[("cpuset.cpus", ""), ("cpuset.mems", "")],
    );
    put(
        &base.join("cpuset/b/c"),
        &[("cpuset.cpus", ""), ("cpuset.mems", "")],
    );
    let m = manager_with_layout(&layout, "/b/c", "c").unwrap();
    record::start();
    m.create().unwrap();
    assert_eq!(
        rel(&base, record::take()),
        pairs(&[
            ("cpuset/b/cpuset.cpus", "0-3"),
            ("cpuset/b/cpuset.mems", "0"),
            ("cpuset/b/c/cpuset.cpus", "0-3"),
            ("cpuset/b/c/cpuset.mems", "0"),
        ])
    );
    for c in [
        "cpu,cpuacct",
        "memory",
        "devices",
        "freezer",
        "systemd",
        "net_cls,net_prio",
    ] {
        assert!(base.join(c).join("b/c").is_dir(), "{c}");
    }
    put(
        &base.join("memory/b/c"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", ""),
            ("memory.swappiness", "60"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
        ],
    );
    put(
        &base.join("cpu,cpuacct/b/c"),
        &[
            ("cpu.shares", ""),
            ("cpu.cfs_quota_us", ""),
            ("cpu.cfs_period_us", ""),
        ],
    );
    put(&base.join("pids/b/c"), &[("pids.max", "max")]);
    put(
        &base.join("blkio/b/c"),
        &[
            ("blkio.bfq.weight", ""),
            ("blkio.bfq.weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ],
    );
    put(
        &base.join("hugetlb/b/c"),
        &[("hugetlb.2MB.limit_in_bytes", "")],
    );
    put(
        &base.join("devices/b/c"),
        &[("devices.allow", ""), ("devices.deny", "")],
    );
    put(
        &base.join("net_cls,net_prio/b/c"),
        &[("net_cls.classid", ""), ("net_prio.ifpriomap", "")],
    );

    let mut r = full_resources();
    if let Some(mem) = r.memory_mut() {
        mem.set_swappiness(Some(10));
        mem.set_disable_oom_killer(Some(true));
    }
    r.set_devices(Some(vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap(),
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rwm")
            .build()
            .unwrap(),
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(136)
            .access("rw")
            .build()
            .unwrap(),
    ]));
    r.set_network(Some(
        oci_spec::runtime::LinuxNetworkBuilder::default()
            .class_id(0x100001u32)
            .priorities(vec![
                oci_spec::runtime::LinuxInterfacePriorityBuilder::default()
                    .name("eth0")
                    .priority(5u32)
                    .build()
                    .unwrap(),
            ])
            .build()
            .unwrap(),
    ));
    record::start();
    m.set(&r).unwrap();
    assert_eq!(
        rel(&base, record::take()),
        pairs(&[
            ("cpu,cpuacct/b/c/cpu.shares", "1024"),
            ("cpu,cpuacct/b/c/cpu.cfs_period_us", "100000"),
            ("cpu,cpuacct/b/c/cpu.cfs_quota_us", "50000"),
            ("cpuset/b/c/cpuset.cpus", "0-1"),
            ("cpuset/b/c/cpuset.mems", "0"),
            // Lowering from unlimited: memory limit first, then memory+swap.
            ("memory/b/c/memory.limit_in_bytes", "67108864"),
            ("memory/b/c/memory.memsw.limit_in_bytes", "100663296"),
            ("memory/b/c/memory.soft_limit_in_bytes", "33554432"),
            ("memory/b/c/memory.swappiness", "10"),
            ("memory/b/c/memory.oom_control", "1"),
            ("pids/b/c/pids.max", "20"),
            ("blkio/b/c/blkio.bfq.weight", "500"),
            ("blkio/b/c/blkio.bfq.weight_device", "8:0 200"),
            ("blkio/b/c/blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio/b/c/blkio.throttle.write_iops_device", "8:16 100"),
            ("hugetlb/b/c/hugetlb.2MB.limit_in_bytes", "4194304"),
            ("devices/b/c/devices.deny", "a *:* rwm"),
            ("devices/b/c/devices.allow", "c 1:3 rwm"),
            ("devices/b/c/devices.allow", "c 136:* rw"),
            ("net_cls,net_prio/b/c/net_cls.classid", "1048577"),
            ("net_cls,net_prio/b/c/net_prio.ifpriomap", "eth0 5"),
        ])
    );

    // Raising: memory+swap first, then the memory limit.
    put(
        &base.join("memory/b/c"),
        &[("memory.memsw.limit_in_bytes", "100663296")],
    );
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(128 << 20)
                .swap(256 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    record::start();
    m.set(&r).unwrap();
    assert_eq!(
        rel(&base, record::take()),
        pairs(&[
            ("memory/b/c/memory.memsw.limit_in_bytes", "268435456"),
            ("memory/b/c/memory.limit_in_bytes", "134217728"),
        ])
    );
    // Unlimited memory lifts memory+swap first.
    let r = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    record::start();
    m.set(&r).unwrap();
    assert_eq!(
        rel(&base, record::take()),
        pairs(&[
            ("memory/b/c/memory.memsw.limit_in_bytes", "-1"),
            ("memory/b/c/memory.limit_in_bytes", "-1"),
        ])
    );
    m.delete().unwrap();
    for c in ["cpu,cpuacct", "cpuset", "memory", "systemd", "hugetlb"] {
        assert!(!base.join(c).join("b/c").exists(), "{c}");
        assert!(base.join(c).join("b").exists(), "{c}");
    }
}

#[test]
fn v1_errors_name_the_field() {
    let (t, layout) = v1_fake();
    let m = manager_with_layout(&layout, "/e", "e").unwrap();
    m.create().unwrap();
    let base = t.0.join("sys/fs/cgroup");
    put(&base.join("memory/e"), &[("memory.limit_in_bytes", "")]);
    put(&base.join("devices/e"), &[("devices.allow", "")]);
    let cases: Vec<(LinuxResources, &str)> = vec![
        (
            LinuxResourcesBuilder::default()
                .memory(
                    LinuxMemoryBuilder::default()
                        .limit(100)
                        .swap(200)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            "memory.swap",
        ),
        (
            LinuxResourcesBuilder::default()
                .memory(
                    LinuxMemoryBuilder::default()
                        .swappiness(101u64)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            "memory.swappiness",
        ),
        (
            LinuxResourcesBuilder::default()
                .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                    .page_size("2M")
                    .limit(1)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
            "hugepageLimits[0].pageSize",
        ),
        (
            LinuxResourcesBuilder::default()
                .devices(vec![LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(oci_spec::runtime::LinuxDeviceType::P)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
            "devices[0].type",
        ),
        (
            LinuxResourcesBuilder::default()
                .cpu(LinuxCpuBuilder::default().burst(5u64).build().unwrap())
                .build()
                .unwrap(),
            "cpu.burst",
        ),
        (
            LinuxResourcesBuilder::default()
                .unified(HashMap::from([("memory.high".into(), "1".into())]))
                .build()
                .unwrap(),
            "unified",
        ),
    ];
    for (r, field) in cases {
        let e = m.set(&r).unwrap_err().to_string();
        assert!(e.contains(field), "expected {field} in {e}");
    }
    m.delete().unwrap();
}

#[test]
fn conversions() {
    use crate::v2::*;
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(1), 1);
    assert_eq!(blkio_weight_to_io_weight(10), 1);
    assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    assert_eq!(
        swap_to_v2(Some(100), Some(300)).unwrap().as_deref(),
        Some("200")
    );
    assert_eq!(
        swap_to_v2(Some(100), Some(100)).unwrap().as_deref(),
        Some("0")
    );
    assert_eq!(
        swap_to_v2(Some(100), Some(-1)).unwrap().as_deref(),
        Some("max")
    );
    assert_eq!(swap_to_v2(Some(100), None).unwrap(), None);
    assert!(swap_to_v2(None, Some(100)).is_err());
}
