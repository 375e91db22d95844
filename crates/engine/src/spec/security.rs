//! `--security-opt`, seccomp, capabilities and sysctls.

use crate::error::{Error, Result};
use crate::types::HostConfig;
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// security options
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
pub(super) struct SecurityOpts {
    pub(super) no_new_privileges: bool,
    /// "unconfined", "builtin", a file path or an inline JSON profile
    pub(super) seccomp: Option<String>,
    pub(super) apparmor: Option<String>,
    pub(super) labels: Vec<String>,
    pub(super) unmask_system_paths: bool,
    pub(super) writable_cgroups: bool,
}

/// Go's strconv.ParseBool.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut s = SecurityOpts::default();
    let invalid = |opt: &str| Error::Invalid(format!("invalid --security-opt: {opt:?}"));
    for opt in opts {
        if opt == "no-new-privileges" {
            s.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            s.labels.push("disable".into());
            continue;
        }
        // docker's separator is `=`; the older `:` is still accepted. The first one splits, so
        // `seccomp=/a:b` and `no-new-privileges:true` both work.
        let (k, v) = match opt.find(['=', ':']) {
            Some(i) => (&opt[..i], &opt[i + 1..]),
            None => return Err(invalid(opt)),
        };
        match k {
            "label" => s.labels.push(v.to_string()),
            "apparmor" => s.apparmor = Some(v.to_string()),
            "seccomp" => s.seccomp = Some(v.to_string()),
            "no-new-privileges" => {
                s.no_new_privileges = parse_bool(v).ok_or_else(|| invalid(opt))?;
            }
            "writable-cgroups" => {
                s.writable_cgroups = parse_bool(v).ok_or_else(|| invalid(opt))?;
            }
            "systempaths" if v == "unconfined" => s.unmask_system_paths = true,
            _ => return Err(invalid(opt)),
        }
    }
    Ok(s)
}

pub(super) fn seccomp_profile(
    value: Option<&str>,
    caps: &[String],
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    match value {
        Some("unconfined") => Ok(None),
        None | Some("") | Some("builtin") => Ok(Some(seccomp::default_profile(caps))),
        // the docker CLI sends the file's content inline
        Some(inline) if inline.trim_start().starts_with('{') => seccomp::parse_profile(inline)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("decoding seccomp profile failed: {e}"))),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Invalid(format!("opening seccomp profile ({path}) failed: {e}"))
            })?;
            seccomp::parse_profile(&text)
                .map(Some)
                .map_err(|e| Error::Invalid(format!("decoding seccomp profile {path} failed: {e}")))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------------------

fn normalize_caps(list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let u = c.trim().to_ascii_uppercase();
        if u == "ALL" {
            out.push(u);
            continue;
        }
        let full = if u.starts_with("CAP_") {
            u
        } else {
            format!("CAP_{u}")
        };
        if !runtime::spec::KNOWN_CAPS.contains(&full.as_str()) {
            return Err(Error::Invalid(format!("unknown capability: {full:?}")));
        }
        out.push(full);
    }
    Ok(out)
}

fn all_caps() -> Vec<String> {
    runtime::spec::KNOWN_CAPS
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// docker's capability list: the 14 defaults, minus `--cap-drop`, plus `--cap-add`; `ALL` in
/// cap-add means every capability (minus the dropped ones), in cap-drop only the added ones.
pub fn capabilities(hc: &HostConfig) -> Result<Vec<String>> {
    let adds = normalize_caps(&hc.cap_add)?;
    let drops = normalize_caps(&hc.cap_drop)?;
    if hc.privileged {
        return Ok(all_caps());
    }
    let defaults: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|c| c.to_string())
        .collect();
    let has_all = |l: &[String]| l.iter().any(|c| c == "ALL");
    let mut caps: Vec<String> = if has_all(&adds) {
        all_caps()
            .into_iter()
            .filter(|c| !drops.contains(c))
            .collect()
    } else if has_all(&drops) {
        adds
    } else {
        defaults
            .into_iter()
            .filter(|c| !drops.contains(c))
            .chain(adds)
            .collect()
    };
    let mut seen = BTreeSet::new();
    caps.retain(|c| c != "ALL" && seen.insert(c.clone()));
    Ok(caps)
}

// ---------------------------------------------------------------------------------------------
// sysctls
// ---------------------------------------------------------------------------------------------

const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

pub(super) fn check_sysctls(
    hc: &HostConfig,
    host_net: bool,
    host_ipc: bool,
    host_uts: bool,
) -> Result<()> {
    for k in hc.sysctls.keys() {
        let ns = if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            ("ipc", host_ipc)
        } else if k.starts_with("net.") {
            ("network", host_net)
        } else if k == "kernel.domainname" || k == "kernel.hostname" {
            ("uts", host_uts)
        } else {
            return Err(Error::Invalid(format!("sysctl '{k}' is not allowed")));
        };
        if ns.1 {
            return Err(Error::Invalid(format!(
                "sysctl {k:?} not allowed in host {} namespace",
                ns.0
            )));
        }
    }
    Ok(())
}
