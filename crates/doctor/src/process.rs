//! What a container process gets: capabilities, rlimits and an init.

use crate::security::status_field;
use crate::{check, Check, Level};
use std::fs;
use std::path::Path;
// ---------------------------------------------------------------------------------------
// capabilities

/// Capability names by number: the runtime's table.
pub(crate) const CAP_NAMES: &[&str] = runtime::spec::KNOWN_CAPS;

pub(crate) fn cap_name(n: u32) -> String {
    CAP_NAMES
        .get(n as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("CAP_{n}"))
}

/// Capabilities 0..=last_cap missing from a hex capability mask.
pub(crate) fn missing_caps(mask_hex: &str, last_cap: u32) -> Option<Vec<u32>> {
    let mask = u64::from_str_radix(mask_hex.trim(), 16).ok()?;
    Some(
        (0..=last_cap.min(63))
            .filter(|b| mask & (1u64 << b) == 0)
            .collect(),
    )
}

pub(crate) fn capabilities_check() -> Check {
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

pub(crate) fn example_for(cap: &str) -> &'static str {
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

pub(crate) fn fmt_limit(v: u64) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

pub(crate) fn rlimits_check() -> Check {
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

pub(crate) const INIT_PATHS: &[&str] = &[
    "/usr/bin/tini-static",
    "/usr/bin/docker-init",
    "/usr/libexec/docker/docker-init",
    "/usr/local/bin/tini-static",
];

pub(crate) fn init_check() -> Check {
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
