//! `berth doctor`: what this host can and cannot do for containers, in plain words.
//!
//! Every check is a probe that cannot fail the command: a probe that errors (or even
//! panics) becomes a Warn/Fail check carrying the reason. Probes that touch the system (a
//! test overlay mount under the state root, a forked child that creates a user
//! namespace, a file written to test the state root) clean up after themselves.

use std::fs;
use std::path::{Path, PathBuf};

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Works.
    Ok,
    /// Works with limits: some flags or features are unavailable.
    Warn,
    /// Containers cannot run (or run unsafely) until it is fixed.
    Fail,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Check {
    pub area: &'static str,
    pub level: Level,
    /// One line.
    pub summary: String,
    /// Plain words: what works, what does not, and what to do.
    pub detail: String,
}

fn check(
    area: &'static str,
    level: Level,
    summary: impl Into<String>,
    detail: impl Into<String>,
) -> Check {
    Check {
        area,
        level,
        summary: summary.into(),
        detail: detail.into(),
    }
}

/// Runs every check. `root` is berth's state root (e.g. /var/lib/berth).
pub fn checks(root: &Path) -> Vec<Check> {
    type Probe<'a> = (&'static str, Box<dyn Fn() -> Check + 'a>);
    let probes: Vec<Probe> = vec![
        ("kernel", Box::new(kernel_check)),
        ("cgroups", Box::new(cgroup_mode_check)),
        ("cgroup controllers", Box::new(controllers_check)),
        ("overlayfs", Box::new(|| overlay_check(root))),
        ("user namespaces", Box::new(userns_check)),
        ("seccomp", Box::new(seccomp_check)),
        ("capabilities", Box::new(capabilities_check)),
        ("rlimits", Box::new(rlimits_check)),
        ("init", Box::new(init_check)),
        ("state root", Box::new(|| state_root_check(root))),
        ("networking", Box::new(network_check)),
    ];
    probes
        .into_iter()
        .map(|(area, probe)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(probe)).unwrap_or_else(|p| {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown reason".into());
                check(
                    area,
                    Level::Warn,
                    "the check itself crashed",
                    format!("berth could not check this ({why}); please report it."),
                )
            })
        })
        .collect()
}

/// Human text: one block per check and a final verdict line.
pub fn report(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let tag = match c.level {
            Level::Ok => "[ OK ]",
            Level::Warn => "[WARN]",
            Level::Fail => "[FAIL]",
        };
        out.push_str(&format!("{tag} {}: {}\n", c.area, c.summary));
        for line in wrap(&c.detail, 86) {
            out.push_str("       ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    let fails = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warns = checks.iter().filter(|c| c.level == Level::Warn).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let verdict = if fails > 0 {
        format!(
            "verdict: {} and {}: berth cannot run containers properly here until the failures above are fixed.",
            plural(fails, "failure"),
            plural(warns, "warning")
        )
    } else if warns > 0 {
        format!(
            "verdict: {}: berth works here, without what the warnings above describe.",
            plural(warns, "warning")
        )
    } else {
        format!(
            "verdict: all {} checks passed: berth has everything it needs here.",
            checks.len()
        )
    };
    out.push_str(&verdict);
    out.push('\n');
    out
}

/// Word-wraps each paragraph (lines of `s`) to `width` columns.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in s.lines() {
        let indent: String = para.chars().take_while(|c| *c == ' ').collect();
        let mut line = String::new();
        for w in para.split_whitespace() {
            if !line.is_empty()
                && indent.len() + line.chars().count() + 1 + w.chars().count() > width
            {
                out.push(format!("{indent}{}", std::mem::take(&mut line)));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(w);
        }
        if !line.is_empty() {
            out.push(format!("{indent}{line}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// kernel

/// "6.18.44-fc-v657" -> (6, 18).
fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

fn kernel_check() -> Check {
    let release = match nix::sys::utsname::uname() {
        Ok(u) => u.release().to_string_lossy().into_owned(),
        Err(e) => {
            return check(
                "kernel",
                Level::Warn,
                "unknown kernel version",
                format!("uname failed ({e}); berth cannot tell which kernel features to expect."),
            )
        }
    };
    match parse_kernel_version(&release) {
        None => check(
            "kernel",
            Level::Warn,
            format!("Linux {release} (version not understood)"),
            "berth could not read the version number; the checks below still say what works.",
        ),
        Some(v) if v < (3, 18) => check(
            "kernel",
            Level::Fail,
            format!("Linux {release} is too old"),
            "Kernels before 3.18 have no overlayfs and lack namespace features containers need. Upgrade the kernel.",
        ),
        Some(v) if v < (5, 3) => check(
            "kernel",
            Level::Warn,
            format!("Linux {release} (older than 5.3)"),
            "Containers run, but this kernel predates pidfds and clone3 (5.3) and the cgroup v2 freezer (5.2); berth falls back to slower or racier ways where it can. A 5.10 or newer kernel is recommended.",
        ),
        Some(_) => check(
            "kernel",
            Level::Ok,
            format!("Linux {release}"),
            "Recent enough for everything berth uses (namespaces, overlayfs, pidfds, seccomp).",
        ),
    }
}

// ---------------------------------------------------------------------------------------
// cgroups

fn cgroup_mode_check() -> Check {
    match cgroups::Layout::detect() {
        Err(e) => check(
            "cgroups",
            Level::Fail,
            "no usable cgroup filesystem",
            format!("berth could not find the cgroup layout ({e}). Without cgroups no resource limit (--memory, --cpus, --pids-limit) can be applied and pause does not work. Mount cgroup2 at /sys/fs/cgroup or the v1 controllers under it."),
        ),
        Ok(l) => {
            let (summary, detail) = match l.mode {
                cgroups::Mode::V2 => (
                    "cgroup v2 (unified)".to_string(),
                    "Only the unified hierarchy is mounted: the modern layout, fully supported.".to_string(),
                ),
                cgroups::Mode::V1 => (
                    "cgroup v1".to_string(),
                    "Only v1 controller hierarchies are mounted. berth uses its v1 driver; limits work as with docker on v1 hosts.".to_string(),
                ),
                cgroups::Mode::Hybrid => (
                    "hybrid (v1 controllers, plus a cgroup2 mount)".to_string(),
                    format!(
                        "Resource controllers are on v1 hierarchies and a cgroup2 filesystem is also mounted at {}. berth uses its v1 driver for limits, as docker does on such hosts.",
                        l.unified
                            .as_ref()
                            .map(|u| u.mount_point.display().to_string())
                            .unwrap_or_default()
                    ),
                ),
            };
            check("cgroups", Level::Ok, summary, detail)
        }
    }
}

/// What a missing controller costs.
const CONTROLLERS: &[(&str, &str)] = &[
    (
        "memory",
        "--memory, --memory-reservation and OOM-kill reporting",
    ),
    ("cpu", "--cpus, --cpu-shares, --cpu-quota and --cpu-period"),
    ("cpuset", "--cpuset-cpus and --cpuset-mems"),
    ("pids", "--pids-limit"),
    ("freezer", "pause and unpause"),
    (
        "devices",
        "confining containers to their allowed devices (the default device list and --device)",
    ),
    ("hugetlb", "--hugetlb limits (rarely used)"),
];

/// The controllers listed in a cgroup v2 `cgroup.controllers` file.
fn parse_v2_controllers(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn controllers_check() -> Check {
    let layout = match cgroups::Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            return check(
                "cgroup controllers",
                Level::Fail,
                "none usable",
                format!("No cgroup layout ({e}): no resource limits can be applied and pause does not work."),
            )
        }
    };
    let mut usable: Vec<(&str, bool, String)> = Vec::new();
    let swap = layout.swap_accounting();
    if layout.mode == cgroups::Mode::V2 {
        let u = layout.unified.as_ref();
        let mp = u.map(|u| u.mount_point.clone()).unwrap_or_default();
        let own = u
            .map(|u| {
                mp.join(
                    u.own
                        .strip_prefix(&u.mount_root)
                        .unwrap_or(&u.own)
                        .strip_prefix("/")
                        .unwrap_or(&u.own),
                )
            })
            .unwrap_or_else(|| mp.clone());
        let listed = fs::read_to_string(mp.join("cgroup.controllers"))
            .map(|t| parse_v2_controllers(&t))
            .unwrap_or_default();
        for (c, _) in CONTROLLERS {
            let ok = match *c {
                // v2 has no freezer or devices controller: freezing is cgroup.freeze
                // (5.2+), device rules are eBPF programs.
                "freezer" => own.join("cgroup.freeze").exists() || kernel_at_least(5, 2),
                "devices" => true,
                c => listed.iter().any(|x| x == c),
            };
            let how = if ok {
                "enabled in the unified hierarchy".to_string()
            } else {
                format!("not enabled in {}", mp.join("cgroup.controllers").display())
            };
            usable.push((c, ok, how));
        }
    } else {
        for (c, _) in CONTROLLERS {
            let h = layout.v1_hierarchy(c);
            let ok = h.is_some_and(|h| h.mount_point.join("cgroup.procs").exists());
            let how = match h {
                Some(h) if ok => format!("v1 hierarchy at {}", h.mount_point.display()),
                Some(h) => format!(
                    "v1 hierarchy at {} is not readable",
                    h.mount_point.display()
                ),
                None => "no v1 hierarchy carries it".to_string(),
            };
            usable.push((c, ok, how));
        }
        if let Some(h) = layout.v1_hierarchy("cpu") {
            if !h.mount_point.join("cpu.cfs_quota_us").exists() {
                if let Some(e) = usable.iter_mut().find(|e| e.0 == "cpu") {
                    e.1 = false;
                    e.2 = format!(
                        "{} has no cpu.cfs_quota_us (kernel without CFS bandwidth control)",
                        h.mount_point.display()
                    );
                }
            }
        }
    }
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for (c, ok, how) in &usable {
        let meaning = CONTROLLERS
            .iter()
            .find(|x| x.0 == *c)
            .map(|x| x.1)
            .unwrap_or("");
        if *ok {
            lines.push(format!("  {c}: usable ({how})."));
        } else {
            missing.push(*c);
            lines.push(format!("  {c}: MISSING ({how}): {meaning} cannot be applied; berth refuses or ignores such flags with a warning."));
        }
    }
    match swap {
        Some(true) => lines.push("  swap accounting: usable (--memory-swap works).".into()),
        Some(false) => {
            missing.push("swap accounting");
            lines.push("  swap accounting: MISSING: --memory-swap cannot be applied (containers may use swap beyond --memory). Boot with swapaccount=1 (v1) or use a kernel with CONFIG_MEMCG_SWAP.".into());
        }
        None => {}
    }
    let level = if missing.is_empty() {
        Level::Ok
    } else {
        Level::Warn
    };
    let summary = if missing.is_empty() {
        "all usable: memory (with swap), cpu, cpuset, pids, freezer, devices, hugetlb".to_string()
    } else {
        format!("missing: {}", missing.join(", "))
    };
    check("cgroup controllers", level, summary, lines.join("\n"))
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel_version(&u.release().to_string_lossy()))
        .is_some_and(|v| v >= (major, minor))
}

// ---------------------------------------------------------------------------------------
// overlayfs

/// True when /proc/filesystems lists `fs`.
fn filesystems_has(text: &str, fs: &str) -> bool {
    text.lines()
        .any(|l| l.split_whitespace().last() == Some(fs))
}

/// The directory to probe in: `root`, or its nearest existing ancestor.
fn existing_base(root: &Path) -> PathBuf {
    let mut p = root.to_path_buf();
    loop {
        if p.is_dir() {
            return p;
        }
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
}

fn probe_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(".berth-doctor-{what}-{}-{nanos}", std::process::id())
}

/// Removes the probe directory (unmounting first) whatever happened.
struct ProbeDir {
    dir: PathBuf,
    mounted: Option<PathBuf>,
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            if nix::mount::umount(&m).is_err() {
                let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn overlay_mount_probe(base: &Path) -> Result<(), String> {
    let dir = base.join(probe_name("overlay"));
    fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut guard = ProbeDir {
        dir: dir.clone(),
        mounted: None,
    };
    let (lower, upper, work, merged) = (
        dir.join("lower"),
        dir.join("upper"),
        dir.join("work"),
        dir.join("merged"),
    );
    for d in [&lower, &upper, &work, &merged] {
        fs::create_dir(d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    fs::write(lower.join("hello"), b"lower").map_err(|e| format!("write lower file: {e}"))?;
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if dir.to_string_lossy().contains([',', ':']) {
        return Err(format!(
            "the path {} contains ',' or ':', which overlay mount options cannot express",
            dir.display()
        ));
    }
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOSUID,
        Some(opts.as_str()),
    )
    .map_err(|e| format!("mount overlay on {}: {e}", base.display()))?;
    guard.mounted = Some(merged.clone());
    let seen =
        fs::read(merged.join("hello")).map_err(|e| format!("read through the overlay: {e}"))?;
    if seen != b"lower" {
        return Err("the overlay does not show the lower layer's file".into());
    }
    fs::write(merged.join("new"), b"upper")
        .map_err(|e| format!("write through the overlay: {e}"))?;
    if !upper.join("new").exists() {
        return Err("a file written through the overlay did not land in the upper dir".into());
    }
    Ok(())
}

fn overlay_check(root: &Path) -> Check {
    const FALLBACK: &str = "containers fall back to copying snapshots, slower and bigger";
    let listed = fs::read_to_string("/proc/filesystems")
        .map(|t| filesystems_has(&t, "overlay"))
        .unwrap_or(false);
    if !listed {
        // the module may simply not be loaded yet; a mount would load it
        let module = Path::new("/sys/module/overlay").exists();
        if !module {
            return check(
                "overlayfs",
                Level::Warn,
                "not available",
                format!("/proc/filesystems does not list overlay: {FALLBACK}. Load it with `modprobe overlay`."),
            );
        }
    }
    let base = existing_base(root);
    match overlay_mount_probe(&base) {
        Ok(()) => check(
            "overlayfs",
            Level::Ok,
            "works",
            format!("A test overlay mount under {} worked (and was removed): container filesystems are copy-on-write layers.", base.display()),
        ),
        Err(why) => check(
            "overlayfs",
            Level::Warn,
            "listed by the kernel but a test mount failed",
            format!("{why}. So {FALLBACK}. Overlay needs an upper dir on ext4, xfs (ftype=1), btrfs or tmpfs -- not on overlay, NFS or FUSE."),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// user namespaces

/// Forks a child that tries unshare(CLONE_NEWUSER); Ok or the errno it got.
fn userns_probe() -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe functions (unshare, _exit) before
    // exiting, so forking a multithreaded process is fine.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        unsafe {
            let r = libc::unshare(libc::CLONE_NEWUSER);
            let code = if r == 0 {
                0
            } else {
                (*libc::__errno_location()).clamp(1, 255)
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid: {e}"));
        }
    }
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => Ok(()),
            errno => Err(format!(
                "unshare(CLONE_NEWUSER): {}",
                std::io::Error::from_raw_os_error(errno)
            )),
        }
    } else {
        Err("the probe child was killed".into())
    }
}

fn userns_check() -> Check {
    let max = fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if max == Some(0) {
        return check(
            "user namespaces",
            Level::Warn,
            "disabled (max_user_namespaces is 0)",
            "Containers run, but --userns-remap style uid mapping and rootless use are impossible. Enable with `sysctl user.max_user_namespaces=15000`.",
        );
    }
    match userns_probe() {
        Ok(()) => check(
            "user namespaces",
            Level::Ok,
            format!(
                "work (max_user_namespaces {})",
                max.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into())
            ),
            "A test child created a user namespace: uid/gid mapping for containers is available.",
        ),
        Err(why) => check(
            "user namespaces",
            Level::Warn,
            "cannot be created",
            format!("{why}. Containers run without uid mapping (container root is host root). Check user.max_user_namespaces and kernel.unprivileged_userns_clone, or a security module blocking them."),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// seccomp

/// A field of /proc/<pid>/status, e.g. "CapBnd" -> "000001fffeffffff".
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim())
    })
}

fn seccomp_check() -> Check {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kernel = status_field(&status, "Seccomp").is_some();
    let actions = fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !kernel {
        return check(
            "seccomp",
            Level::Warn,
            "the kernel has no seccomp",
            "/proc/self/status has no Seccomp field (kernel built without CONFIG_SECCOMP): containers run without the default syscall filter, as with --security-opt seccomp=unconfined.",
        );
    }
    let caps: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    match seccomp::compile(&seccomp::default_profile(&caps)) {
        Ok(_) => check(
            "seccomp",
            Level::Ok,
            "kernel support and libseccomp work",
            format!(
                "docker's default profile compiles with libseccomp and the kernel supports filters{}.",
                if actions.is_empty() {
                    String::new()
                } else {
                    format!(" (actions: {actions})")
                }
            ),
        ),
        Err(e) => check(
            "seccomp",
            Level::Warn,
            "libseccomp cannot build the default profile",
            format!("{e}. Containers would have to run without the default syscall filter (--security-opt seccomp=unconfined). Install libseccomp 2.5 or newer."),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// capabilities

/// Capability names by number: the runtime's table.
const CAP_NAMES: &[&str] = runtime::spec::KNOWN_CAPS;

fn cap_name(n: u32) -> String {
    CAP_NAMES
        .get(n as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("CAP_{n}"))
}

/// Capabilities 0..=last_cap missing from a hex capability mask.
fn missing_caps(mask_hex: &str, last_cap: u32) -> Option<Vec<u32>> {
    let mask = u64::from_str_radix(mask_hex.trim(), 16).ok()?;
    Some(
        (0..=last_cap.min(63))
            .filter(|b| mask & (1u64 << b) == 0)
            .collect(),
    )
}

fn capabilities_check() -> Check {
    let status = match fs::read_to_string("/proc/self/status") {
        Ok(s) => s,
        Err(e) => {
            return check(
                "capabilities",
                Level::Warn,
                "unknown",
                format!("Cannot read /proc/self/status ({e})."),
            )
        }
    };
    let last = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let eff = status_field(&status, "CapEff").and_then(|m| missing_caps(m, last));
    if let Some(eff) = &eff {
        if eff.contains(&21) {
            return check(
                "capabilities",
                Level::Fail,
                "berth is not running with CAP_SYS_ADMIN",
                "Creating namespaces, mounting the container filesystem and setting up cgroups need root (CAP_SYS_ADMIN). Run berth as root.",
            );
        }
    }
    let Some(missing) = status_field(&status, "CapBnd").and_then(|m| missing_caps(m, last)) else {
        return check(
            "capabilities",
            Level::Warn,
            "unknown",
            "/proc/self/status has no readable CapBnd line.",
        );
    };
    if missing.is_empty() {
        return check(
            "capabilities",
            Level::Ok,
            "full bounding set",
            "Every capability can be granted to containers (--cap-add, --privileged).",
        );
    }
    let mut lines = vec![format!(
        "This process's bounding set lacks {}: no process started from here can ever hold {}.",
        missing
            .iter()
            .map(|c| cap_name(*c))
            .collect::<Vec<_>>()
            .join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    )];
    for c in &missing {
        let name = cap_name(*c);
        let default = seccomp::DOCKER_DEFAULT_CAPS.contains(&name.as_str());
        let what = match name.as_str() {
            "CAP_SYS_RESOURCE" => "--ulimit above the hard limit and --privileged's full set cannot be granted; berth drops them with a warning".to_string(),
            _ if default => format!("it is in docker's default set, so containers run without it; images that rely on it (e.g. {}) may fail", example_for(&name)),
            _ => format!("--cap-add {} and --privileged's full set cannot be granted; berth drops them with a warning", name.trim_start_matches("CAP_")),
        };
        lines.push(format!("  {name}: {what}."));
    }
    lines.push("This usually means berth runs inside a container or a restricted service; run it with the full capability set to lift it.".into());
    check(
        "capabilities",
        Level::Warn,
        format!(
            "missing from the bounding set: {}",
            missing
                .iter()
                .map(|c| cap_name(*c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        lines.join("\n"),
    )
}

fn example_for(cap: &str) -> &'static str {
    match cap {
        "CAP_CHOWN" | "CAP_FOWNER" | "CAP_DAC_OVERRIDE" => "package installs that chown files",
        "CAP_SETUID" | "CAP_SETGID" => "su, sudo or servers dropping privileges",
        "CAP_NET_BIND_SERVICE" => "servers listening on ports below 1024 as non-root",
        "CAP_NET_RAW" => "ping",
        "CAP_MKNOD" => "creating device nodes",
        "CAP_SYS_CHROOT" => "chroot",
        "CAP_KILL" => "sending signals to other users' processes",
        _ => "programs that need it",
    }
}

// ---------------------------------------------------------------------------------------
// rlimits

fn fmt_limit(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

fn rlimits_check() -> Check {
    use nix::sys::resource::{getrlimit, Resource};
    let nofile = getrlimit(Resource::RLIMIT_NOFILE);
    let nproc = getrlimit(Resource::RLIMIT_NPROC);
    let (Ok((nf_soft, nf_hard)), Ok((np_soft, np_hard))) = (nofile, nproc) else {
        return check(
            "rlimits",
            Level::Warn,
            "unknown",
            "getrlimit failed; containers inherit whatever limits berth has.",
        );
    };
    let mut level = Level::Ok;
    let mut lines = vec![format!(
        "Open files (RLIMIT_NOFILE): soft {}, hard {}. Processes (RLIMIT_NPROC): soft {}, hard {}.",
        fmt_limit(nf_soft),
        fmt_limit(nf_hard),
        fmt_limit(np_soft),
        fmt_limit(np_hard)
    )];
    lines.push("Containers inherit these unless --ulimit is given; raising a limit above the hard one needs CAP_SYS_RESOURCE.".into());
    if nf_hard != libc::RLIM_INFINITY && nf_hard < 65536 {
        level = Level::Warn;
        lines.push(format!("The open-file hard limit {nf_hard} is low for databases and servers; raise it (e.g. LimitNOFILE=1048576 in the service, or `ulimit -Hn` in the shell)."));
    }
    if np_soft != libc::RLIM_INFINITY && np_soft < 4096 {
        level = Level::Warn;
        lines.push(format!("The process limit {np_soft} counts every process of the same user on the host, containers included; fork-heavy containers may fail with EAGAIN."));
    }
    check(
        "rlimits",
        level,
        format!(
            "nofile {}/{}, nproc {}/{}",
            fmt_limit(nf_soft),
            fmt_limit(nf_hard),
            fmt_limit(np_soft),
            fmt_limit(np_hard)
        ),
        lines.join("\n"),
    )
}

// ---------------------------------------------------------------------------------------
// init

const INIT_PATHS: &[&str] = &[
    "/usr/bin/tini-static",
    "/usr/bin/docker-init",
    "/usr/libexec/docker/docker-init",
    "/usr/local/bin/tini-static",
];

fn init_check() -> Check {
    match INIT_PATHS.iter().find(|p| Path::new(p).is_file()) {
        Some(p) => check(
            "init",
            Level::Ok,
            format!("{p} found"),
            "--init works: a tiny init reaps zombies and forwards signals to the container's command.",
        ),
        None => check(
            "init",
            Level::Warn,
            "no static tini found",
            format!("None of {} exists, so `--init` cannot be used. Install it with `apt-get install tini` (which ships tini-static).", INIT_PATHS.join(", ")),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// state root

/// Name of a filesystem by its statfs magic.
fn fs_type_name(magic: i64) -> &'static str {
    match magic {
        0xEF53 => "ext2/3/4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlay",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x5346_544E => "ntfs",
        0x4d44 => "vfat",
        0x0102_1997 => "9p",
        0x6E73_6673 => "nsfs",
        0x7371_7368 => "squashfs",
        0xF2F5_2010 => "f2fs",
        _ => "unknown",
    }
}

fn state_root_check(root: &Path) -> Check {
    let exists = root.is_dir();
    let base = existing_base(root);
    let where_ = if exists {
        format!("{}", root.display())
    } else {
        format!(
            "{} (does not exist yet; berth creates it; checked {})",
            root.display(),
            base.display()
        )
    };
    // writable: create and remove a file
    let probe = base.join(probe_name("write"));
    let writable = fs::write(&probe, b"x").and_then(|_| fs::remove_file(&probe));
    if let Err(e) = writable {
        let _ = fs::remove_file(&probe);
        return check(
            "state root",
            Level::Fail,
            format!("{} is not writable", base.display()),
            format!("Writing a test file in {where_} failed ({e}). berth keeps images, containers and logs there: run as root or pick another --root."),
        );
    }
    // the field types of statfs differ between targets
    #[allow(clippy::unnecessary_cast)]
    let (fs_name, free) = match nix::sys::statfs::statfs(&base) {
        Ok(s) => (
            fs_type_name(s.filesystem_type().0 as i64),
            Some(s.blocks_available() as u64 * s.block_size() as u64),
        ),
        Err(_) => ("unknown", None),
    };
    let mut level = Level::Ok;
    let mut lines = vec![format!(
        "{where_} is writable, on {fs_name}{}.",
        free.map(|f| format!(" with {} free", human(f)))
            .unwrap_or_default()
    )];
    if matches!(fs_name, "overlay" | "nfs" | "fuse" | "9p") {
        level = Level::Warn;
        lines.push(format!("overlayfs cannot put its upper layers on {fs_name}: containers fall back to copying snapshots, slower and bigger. Put --root on ext4, xfs or btrfs."));
    }
    if free.is_some_and(|f| f < 1 << 30) {
        level = Level::Warn;
        lines.push("Less than 1 GiB is free: pulls and container writes will soon fail with 'no space left on device'.".into());
    }
    check(
        "state root",
        level,
        format!("{} ({fs_name})", root.display()),
        lines.join("\n"),
    )
}

fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

// ---------------------------------------------------------------------------------------
// networking

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

fn network_check() -> Check {
    let fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let nft = find_in_path("nft");
    let ipt = find_in_path("iptables");
    let mut level = Level::Ok;
    let mut lines = Vec::new();
    match fwd.as_str() {
        "1" => lines.push(
            "IPv4 forwarding is on: containers on a bridge network can reach outside.".to_string(),
        ),
        "0" => {
            level = Level::Warn;
            lines.push("IPv4 forwarding is off: containers on a bridge network cannot reach outside and published ports do not work until `sysctl -w net.ipv4.ip_forward=1`.".into());
        }
        _ => {
            level = Level::Warn;
            lines.push("Cannot read /proc/sys/net/ipv4/ip_forward.".into());
        }
    }
    let tools: Vec<String> = [&nft, &ipt]
        .iter()
        .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
        .collect();
    if tools.is_empty() {
        level = Level::Warn;
        lines.push("Neither nft nor iptables is installed: bridge networking cannot set up NAT or published ports (--network host and none still work). Install nftables or iptables.".into());
    } else {
        lines.push(format!(
            "Firewall tools found: {} (bridge NAT and published ports need one).",
            tools.join(", ")
        ));
    }
    let summary = format!(
        "ip_forward {}, {}",
        if fwd.is_empty() { "unknown" } else { &fwd },
        match (&nft, &ipt) {
            (Some(_), Some(_)) => "nft and iptables present",
            (Some(_), None) => "nft present",
            (None, Some(_)) => "iptables present",
            (None, None) => "no nft or iptables",
        }
    );
    check("networking", level, summary, lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v657"), Some((6, 18)));
        assert_eq!(parse_kernel_version("5.10.0-28-amd64"), Some((5, 10)));
        assert_eq!(parse_kernel_version("4.19"), Some((4, 19)));
        assert_eq!(parse_kernel_version("garbage"), None);
        assert_eq!(parse_kernel_version("6"), None);
    }

    const STATUS: &str = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\n\
        CapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n\
        CapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\n\
        Seccomp:\t0\nSeccomp_filters:\t0\n";

    #[test]
    fn status_fields_and_caps() {
        assert_eq!(status_field(STATUS, "CapBnd"), Some("000001fffeffffff"));
        assert_eq!(status_field(STATUS, "Seccomp"), Some("0"));
        assert_eq!(status_field(STATUS, "Nope"), None);
        // bit 24 is CAP_SYS_RESOURCE
        assert_eq!(missing_caps("000001fffeffffff", 40), Some(vec![24]));
        assert_eq!(cap_name(24), "CAP_SYS_RESOURCE");
        assert_eq!(missing_caps("000001ffffffffff", 40), Some(vec![]));
        assert_eq!(missing_caps("0000000000000000", 2), Some(vec![0, 1, 2]));
        assert_eq!(missing_caps("zz", 40), None);
        assert_eq!(cap_name(63), "CAP_63");
    }

    #[test]
    fn proc_filesystems() {
        let t = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n";
        assert!(filesystems_has(t, "overlay"));
        assert!(filesystems_has(t, "ext4"));
        assert!(!filesystems_has(t, "btrfs"));
        assert!(!filesystems_has("nodev\toverlayx\n", "overlay"));
        assert_eq!(
            parse_v2_controllers("cpuset cpu io memory pids\n"),
            ["cpuset", "cpu", "io", "memory", "pids"]
        );
        assert_eq!(fs_type_name(0xEF53), "ext2/3/4");
        assert_eq!(fs_type_name(0x794C7630), "overlay");
        assert_eq!(fs_type_name(1), "unknown");
    }

    #[test]
    fn report_blocks_and_verdicts() {
        let ok = check("kernel", Level::Ok, "Linux 6.1", "Recent enough.");
        let warn = check(
            "init",
            Level::Warn,
            "no static tini found",
            "Install tini.\n  second line indented",
        );
        let fail = check(
            "state root",
            Level::Fail,
            "/x is not writable",
            "Run as root.",
        );
        let r = report(std::slice::from_ref(&ok));
        assert_eq!(
            r,
            "[ OK ] kernel: Linux 6.1\n       Recent enough.\n\nverdict: all 1 checks passed: berth has everything it needs here.\n"
        );
        let r = report(&[ok.clone(), warn.clone()]);
        assert!(r.contains("[WARN] init: no static tini found\n       Install tini.\n         second line indented\n"), "{r}");
        assert!(r.ends_with(
            "verdict: 1 warning: berth works here, without what the warnings above describe.\n"
        ));
        let r = report(&[ok, warn, fail]);
        assert!(r.contains("[FAIL] state root: /x is not writable"));
        assert!(r.ends_with("verdict: 1 failure and 1 warning: berth cannot run containers properly here until the failures above are fixed.\n"));
        // long details wrap
        let long = check("x", Level::Ok, "s", "word ".repeat(60));
        for l in report(&[long]).lines() {
            assert!(l.len() <= 7 + 86, "{l}");
        }
    }

    fn mounts_under(p: &Path) -> Vec<String> {
        let p = p.to_string_lossy().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&p)))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn checks_on_a_temp_root_leave_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("berth");
        fs::create_dir(&root).unwrap();
        let cs = checks(&root);
        let areas: Vec<&str> = cs.iter().map(|c| c.area).collect();
        assert_eq!(
            areas,
            [
                "kernel",
                "cgroups",
                "cgroup controllers",
                "overlayfs",
                "user namespaces",
                "seccomp",
                "capabilities",
                "rlimits",
                "init",
                "state root",
                "networking"
            ]
        );
        for c in &cs {
            assert!(!c.summary.is_empty() && !c.detail.is_empty(), "{c:?}");
        }
        assert!(mounts_under(d.path()).is_empty());
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            0,
            "probe files left in the root"
        );
        // a root that does not exist yet is probed through its parent, and not created
        let missing = d.path().join("not/yet");
        let cs = checks(&missing);
        assert_eq!(cs.len(), 11);
        assert!(!missing.exists() && !d.path().join("not").exists());
        assert!(mounts_under(d.path()).is_empty());
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from("berth")]);
        let text = report(&cs);
        assert!(text.contains("verdict: "));
    }
}
