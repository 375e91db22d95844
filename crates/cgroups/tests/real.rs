//! Integration tests on the host's real cgroup hierarchies. They need root and skip
//! otherwise. The v1 tests run where v1 controllers are mounted (v1 or hybrid hosts); the
//! v2 test runs on the unified hierarchy (the cgroup2 mount of a hybrid host, or a pure v2
//! host), using only what that hierarchy offers (freezer, cgroup.kill, procs).
//!
//! Every cgroup is named `/berth-test-<pid>-<n>` and removed by a Drop guard, also when a
//! test panics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use cgroups::{CgroupManager, FreezerState, Layout, Mode, OomEvent};
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
};

fn is_root() -> bool {
    // SAFETY: plain libc call.
    unsafe { libc::geteuid() == 0 }
}

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/berth-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Kills the children and deletes the cgroup whatever happens in the test.
struct Guard {
    cg: Box<dyn CgroupManager>,
    children: Vec<i32>,
    paths: Vec<PathBuf>,
}

impl Guard {
    fn new(cg: Box<dyn CgroupManager>) -> Guard {
        let paths = cg.paths().into_iter().map(|(_, p)| p).collect();
        Guard {
            cg,
            children: Vec::new(),
            paths,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &c in &self.children {
            // SAFETY: plain syscalls on our own children.
            unsafe {
                libc::kill(c, libc::SIGKILL);
            }
        }
        let _ = self.cg.thaw();
        for &c in &self.children {
            // SAFETY: reaping our own child.
            unsafe {
                libc::waitpid(c, std::ptr::null_mut(), 0);
            }
        }
        let _ = self.cg.delete();
        for p in &self.paths {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// A child blocked on a pipe until `go`; then runs `body` (async-signal-safe code only:
/// the test binary is multi-threaded) and exits.
struct Child {
    pid: i32,
    go_fd: i32,
}

fn fork_child(body: fn(*mut AtomicU64), shared: *mut AtomicU64) -> Child {
    let mut fds = [0i32; 2];
    // SAFETY: plain syscalls; the child only calls async-signal-safe functions.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            let mut b = 0u8;
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1);
            body(shared);
            libc::_exit(0);
        }
        libc::close(fds[0]);
        Child { pid, go_fd: fds[1] }
    }
}

impl Child {
    fn go(&self) {
        // SAFETY: writing one byte to our pipe.
        unsafe {
            assert_eq!(libc::write(self.go_fd, b"x".as_ptr().cast(), 1), 1);
            libc::close(self.go_fd);
        }
    }

    /// Waits for exit; returns the terminating signal, or 0 on a normal exit.
    fn wait_signal(&self) -> i32 {
        let mut st = 0;
        // SAFETY: reaping our own child.
        let r = unsafe { libc::waitpid(self.pid, &mut st, 0) };
        assert_eq!(r, self.pid);
        if libc::WIFSIGNALED(st) {
            libc::WTERMSIG(st)
        } else {
            0
        }
    }
}

fn shared_counter() -> *mut AtomicU64 {
    // SAFETY: anonymous shared mapping of one page, never unmapped (tests are short-lived).
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        p.cast()
    }
}

fn spin(counter: *mut AtomicU64) {
    // SAFETY: the mapping outlives the child.
    let c = unsafe { &*counter };
    loop {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

fn allocate_100mib(_: *mut AtomicU64) {
    const SIZE: usize = 100 << 20;
    // SAFETY: anonymous private mapping, touched page by page.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            libc::_exit(2);
        }
        let b = p.cast::<u8>();
        let mut i = 0;
        while i < SIZE {
            std::ptr::write_volatile(b.add(i), 1);
            i += 4096;
        }
    }
}

fn v1_host() -> Option<Layout> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    let l = Layout::detect().ok()?;
    if l.mode == Mode::V2 {
        eprintln!("skipped: no cgroup v1 hierarchies");
        return None;
    }
    Some(l)
}

fn read(p: &Path, f: &str) -> String {
    std::fs::read_to_string(p.join(f))
        .unwrap_or_else(|e| panic!("{}: {e}", p.join(f).display()))
        .trim()
        .to_string()
}

fn dir_of(cg: &dyn CgroupManager, controller: &str) -> PathBuf {
    cg.paths()
        .into_iter()
        .find(|(k, _)| k.split(',').any(|c| c == controller))
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no {controller} hierarchy"))
}

#[test]
fn v1_limits_freeze_stats_kill_delete() {
    let Some(layout) = v1_host() else { return };
    let name = unique();
    let mut g = Guard::new(cgroups::manager_with_layout(&layout, &name, "x").unwrap());
    g.cg.create().unwrap();
    for p in &g.paths {
        assert!(p.is_dir(), "{}", p.display());
    }
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(64 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    g.cg.set(&r).unwrap();
    let mem = dir_of(g.cg.as_ref(), "memory");
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "67108864");
    assert_eq!(read(&dir_of(g.cg.as_ref(), "pids"), "pids.max"), "20");
    let cpu = dir_of(g.cg.as_ref(), "cpu");
    assert_eq!(read(&cpu, "cpu.shares"), "512");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&dir_of(g.cg.as_ref(), "cpuset"), "cpuset.cpus"), "0");

    // Update to other values (what `berth-runtime update` does), raising memory.
    let r2 = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(128 << 20)
                .swap(256 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    g.cg.set(&r2).unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "134217728");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "268435456");

    let counter = shared_counter();
    let child = fork_child(spin, counter);
    g.children.push(child.pid);
    g.cg.apply(child.pid).unwrap();
    assert_eq!(g.cg.pids().unwrap(), vec![child.pid]);
    for (k, p) in g.cg.paths() {
        assert!(
            read(&p, "cgroup.procs").contains(&child.pid.to_string()),
            "{k}"
        );
    }
    child.go();
    // SAFETY: the mapping lives for the whole test.
    let c = unsafe { &*counter };
    std::thread::sleep(Duration::from_millis(200));
    assert!(c.load(Ordering::Relaxed) > 0, "child does not run");

    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
    g.cg.freeze().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Frozen);
    let a = c.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    let b = c.load(Ordering::Relaxed);
    assert_eq!(a, b, "counter moved while frozen");
    g.cg.thaw().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
    std::thread::sleep(Duration::from_millis(200));
    assert!(c.load(Ordering::Relaxed) > b, "counter stuck after thaw");

    // Half a core of quota: usage over ~1s is about 0.5s.
    let s0 = g.cg.stats().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let s = g.cg.stats().unwrap();
    let used = (s.cpu.usage.total - s0.cpu.usage.total) as f64 / 1e9;
    // Upper bound only: a busy host may give the child less than its quota.
    assert!(used > 0.05 && used < 0.65, "cpu used {used}s in 1s");
    assert!(s.cpu.throttling.periods > 0);
    // Throttled unless a busy host gave the child less than its quota anyway.
    assert!(
        s.cpu.throttling.throttled_periods > 0 || used < 0.45,
        "{:?}",
        s.cpu
    );
    assert!(s.cpu.usage.percpu.iter().sum::<u64>() > 0);
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 20);
    assert_eq!(s.memory.usage.limit, 128 << 20);
    assert!(s.memory.usage.usage > 0);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"throttledPeriods\""));

    g.cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(child.wait_signal(), libc::SIGKILL);
    g.children.clear();
    assert!(g.cg.pids().unwrap().is_empty());

    g.cg.delete().unwrap();
    for p in &g.paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn v1_oom_kill_is_reported() {
    let Some(layout) = v1_host() else { return };
    let name = unique();
    let mut g = Guard::new(cgroups::manager_with_layout(&layout, &name, "x").unwrap());
    g.cg.create().unwrap();
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(32 << 20)
                .swap(32 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    g.cg.set(&r).unwrap();
    let mut w = g.cg.oom_events().unwrap();
    assert_eq!(
        w.wait(Some(Duration::from_millis(10))).unwrap(),
        OomEvent::Timeout
    );
    let child = fork_child(allocate_100mib, std::ptr::null_mut());
    g.children.push(child.pid);
    g.cg.apply(child.pid).unwrap();
    child.go();
    assert_eq!(child.wait_signal(), libc::SIGKILL, "not OOM-killed");
    g.children.clear();
    match w.wait(Some(Duration::from_secs(5))).unwrap() {
        OomEvent::Oom(n) => assert!(n >= 1),
        other => panic!("expected an OOM event, got {other:?}"),
    }
    let s = g.cg.stats().unwrap();
    assert!(s.memory.oom_kill >= 1, "{:?}", s.memory);
    assert!(s.memory.usage.max >= 31 << 20);

    g.cg.delete().unwrap();
    for p in &g.paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
    assert_eq!(
        w.wait(Some(Duration::from_secs(2))).unwrap(),
        OomEvent::Gone
    );
}

#[test]
fn v1_pids_limit_stops_fork_bomb() {
    let Some(layout) = v1_host() else { return };
    let name = unique();
    let mut g = Guard::new(cgroups::manager_with_layout(&layout, &name, "x").unwrap());
    g.cg.create().unwrap();
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .build()
        .unwrap();
    g.cg.set(&r).unwrap();
    fn forker(_: *mut AtomicU64) {
        // SAFETY: async-signal-safe calls only. Forks until refused, counts the refusals
        // in the exit code, then the leaves sleep and the parent exits.
        unsafe {
            let mut failed = 0;
            for _ in 0..10 {
                let p = libc::fork();
                if p == 0 {
                    libc::sleep(30);
                    libc::_exit(0);
                }
                if p < 0 {
                    failed += 1;
                }
            }
            libc::_exit(failed);
        }
    }
    let child = fork_child(forker, std::ptr::null_mut());
    g.children.push(child.pid);
    g.cg.apply(child.pid).unwrap();
    child.go();
    let mut st = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child.pid, &mut st, 0) };
    g.children.clear();
    assert!(libc::WIFEXITED(st));
    // 5 pids: the forker and 4 sleepers; 6 forks refused.
    assert_eq!(libc::WEXITSTATUS(st), 6);
    assert_eq!(g.cg.pids().unwrap().len(), 4);
    g.cg.kill_all(libc::SIGKILL).unwrap();
    // The sleepers were reparented away from us; wait for the cgroup to empty.
    for _ in 0..200 {
        if g.cg.pids().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    g.cg.delete().unwrap();
    for p in &g.paths {
        assert!(!p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn v1_relative_path_and_nested_delete() {
    let Some(layout) = v1_host() else { return };
    let name = unique();
    let rel = name.trim_start_matches('/').to_string() + "/inner";
    let g = Guard::new(cgroups::manager_with_layout(&layout, &rel, "x").unwrap());
    let own = &layout.v1_hierarchy("memory").unwrap().own;
    let mem = dir_of(g.cg.as_ref(), "memory");
    assert!(mem.ends_with(own.strip_prefix("/").unwrap().join(&rel)));
    g.cg.create().unwrap();
    // A sub-cgroup the container made itself.
    std::fs::create_dir(mem.join("sub")).unwrap();
    g.cg.delete().unwrap();
    assert!(!mem.exists());
    // Remove the parent "<name>" directories too (the guard only knows the leaves).
    let top = cgroups::manager_with_layout(&layout, name.trim_start_matches('/'), "x").unwrap();
    top.delete().unwrap();
}

#[test]
fn v2_real_unified_freeze_kill_delete() {
    if !is_root() {
        return;
    }
    let Ok(l) = Layout::detect() else { return };
    let Some(u) = l.unified.clone() else { return };
    // On a pure v2 host use the detected layout; on a hybrid host the cgroup2 mount on
    // its own.
    let layout = if l.mode == Mode::V2 {
        l
    } else {
        Layout::v2_at(&u.mount_point)
    };
    let name = unique();
    let mut g = Guard::new(cgroups::manager_with_layout(&layout, &name, "x").unwrap());
    g.cg.create().unwrap();
    let dir = g.paths[0].clone();
    if !dir.join("cgroup.freeze").exists() {
        return;
    }
    let counter = shared_counter();
    let child = fork_child(spin, counter);
    g.children.push(child.pid);
    g.cg.apply(child.pid).unwrap();
    child.go();
    assert_eq!(g.cg.pids().unwrap(), vec![child.pid]);
    // SAFETY: the mapping lives for the whole test.
    let c = unsafe { &*counter };
    std::thread::sleep(Duration::from_millis(100));
    g.cg.freeze().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Frozen);
    let a = c.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a, c.load(Ordering::Relaxed), "counter moved while frozen");
    g.cg.thaw().unwrap();
    assert_eq!(g.cg.state().unwrap(), FreezerState::Thawed);
    std::thread::sleep(Duration::from_millis(100));
    assert!(c.load(Ordering::Relaxed) > a);
    let s = g.cg.stats().unwrap();
    assert!(s.cpu.usage.total > 0);
    g.cg.kill_all(libc::SIGKILL).unwrap();
    assert_eq!(child.wait_signal(), libc::SIGKILL);
    g.children.clear();
    g.cg.delete().unwrap();
    assert!(!dir.exists());
}

fn open_devices(_: *mut AtomicU64) {
    // SAFETY: async-signal-safe calls with static NUL-terminated paths.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY);
        let zero_errno = *libc::__errno_location();
        let code = match (null >= 0, zero >= 0, zero_errno == libc::EPERM) {
            (true, false, true) => 0,
            (false, _, _) => 3,
            (true, true, _) => 4,
            _ => 5,
        };
        libc::_exit(code);
    }
}

#[test]
fn v2_real_device_ebpf_program() {
    if !is_root() {
        return;
    }
    let Ok(l) = Layout::detect() else { return };
    let Some(u) = l.unified.clone() else { return };
    let layout = if l.mode == Mode::V2 {
        l
    } else {
        Layout::v2_at(&u.mount_point)
    };
    let name = unique();
    let mut g = Guard::new(cgroups::manager_with_layout(&layout, &name, "x").unwrap());
    g.cg.create().unwrap();
    let rules = vec![
        oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap(),
        oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(oci_spec::runtime::LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .access("rwm")
            .build()
            .unwrap(),
    ];
    let r = LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .unwrap();
    g.cg.set(&r).unwrap();
    // Setting again (an update) replaces the program rather than stacking a second one.
    g.cg.set(&r).unwrap();
    let child = fork_child(open_devices, std::ptr::null_mut());
    g.children.push(child.pid);
    g.cg.apply(child.pid).unwrap();
    child.go();
    let mut st = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child.pid, &mut st, 0) };
    g.children.clear();
    assert!(libc::WIFEXITED(st));
    assert_eq!(
        libc::WEXITSTATUS(st),
        0,
        "3: /dev/null refused, 4: /dev/zero allowed, 5: wrong errno"
    );
    g.cg.delete().unwrap();
}
