//! cgroups: the layout and the controllers that limits need.

use crate::kernel::kernel_at_least;
use crate::{check, Check, Level};
use std::fs;
// ---------------------------------------------------------------------------------------
// cgroups

pub(crate) fn cgroup_mode_check() -> Check {
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
pub(crate) const CONTROLLERS: &[(&str, &str)] = &[
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
pub(crate) fn parse_v2_controllers(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

pub(crate) fn controllers_check() -> Check {
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
