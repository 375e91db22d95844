//! `berth doctor`: what this host can and cannot do for containers, in plain words.
//!
//! Every check is a probe that cannot fail the command: a probe that errors (or even
//! panics) becomes a Warn/Fail check carrying the reason. Probes that touch the system (a
//! test overlay mount under the state root, a forked child that creates a user
//! namespace, a file written to test the state root) clean up after themselves.

mod cgroups;
mod kernel;
mod network;
mod process;
mod rootless;
mod security;
mod storage;

use crate::cgroups::{cgroup_mode_check, controllers_check};
use kernel::kernel_check;
use network::network_check;
use process::{capabilities_check, init_check, rlimits_check};
use security::{seccomp_check, userns_check};
use std::path::Path;
use storage::{overlay_check, state_root_check};

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

pub(crate) fn check(
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
    // SAFETY: geteuid has no preconditions.
    let rootless = unsafe { libc::geteuid() } != 0;
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
        ("rootless", Box::new(rootless::ids_check)),
        (
            "rootless overlay",
            Box::new(|| rootless::overlay_check(root)),
        ),
        ("rootless network", Box::new(rootless::network_check)),
    ];
    probes
        .into_iter()
        // a plain user's berth mounts and creates namespaces in its own user namespace: the
        // rootless checks stand for root's overlay and capability checks
        .filter(|(area, _)| !(rootless && matches!(*area, "overlayfs" | "capabilities")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::parse_v2_controllers;
    use kernel::parse_kernel_version;
    use process::{cap_name, missing_caps};
    use security::status_field;
    use std::fs;
    use storage::{filesystems_has, fs_type_name};

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
        let text = mountinfo::read_self().unwrap();
        mountinfo::mounts(&text)
            .filter(|m| m.mount_point.starts_with(p))
            .map(|m| m.mount_point.display().to_string())
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
                "networking",
                "rootless",
                "rootless overlay",
                "rootless network"
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
        assert_eq!(cs.len(), 14);
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
