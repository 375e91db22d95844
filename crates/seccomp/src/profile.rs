//! The built-in default profile and JSON profile parsing.

use std::collections::HashSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use serde_json::{json, Value};

use crate::{invalid, Result};

/// The built-in profile: Docker's default semantics (deny with EPERM, allow-list,
/// capability- and architecture-conditional entries under `includes` / `excludes`).
pub const DEFAULT_PROFILE_JSON: &str = include_str!("../profiles/default.json");

/// The capabilities Docker (and berth) give a container by default.
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn normalize_cap(c: &str) -> String {
    let u = c.trim().to_ascii_uppercase();
    if u.starts_with("CAP_") {
        u
    } else {
        format!("CAP_{u}")
    }
}

/// The libseccomp name of the architecture this binary runs on.
fn native_arch() -> Option<&'static str> {
    let le = cfg!(target_endian = "little");
    Some(match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "powerpc64" if le => "SCMP_ARCH_PPC64LE",
        "powerpc64" => "SCMP_ARCH_PPC64",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "loongarch64" => "SCMP_ARCH_LOONGARCH64",
        "mips64" if le => "SCMP_ARCH_MIPSEL64",
        "mips64" => "SCMP_ARCH_MIPS64",
        _ => return None,
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves the built-in profile for a container with `capabilities` (names with or
/// without the `CAP_` prefix; pass the bounding set), as Docker does when it generates
/// the OCI spec: entries whose `includes.caps` are all held and whose `excludes.caps`
/// are none of them are kept, `includes/excludes.arches` are matched against the native
/// architecture, and `architectures` become the native one plus its compat ones.
pub fn default_profile(capabilities: &[String]) -> LinuxSeccomp {
    let caps: HashSet<String> = capabilities.iter().map(|c| normalize_cap(c)).collect();
    let native = native_arch();
    let p: Value = serde_json::from_str(DEFAULT_PROFILE_JSON).expect("built-in profile is json");

    let mut arches = Vec::new();
    if let Some(n) = native {
        for m in p["archMap"].as_array().into_iter().flatten() {
            if m["architecture"] == n {
                arches.push(n.to_string());
                arches.extend(strings(m.get("subArchitectures")));
            }
        }
    }

    let mut syscalls = Vec::new();
    let mut unconditional: HashSet<(String, String)> = HashSet::new();
    for s in p["syscalls"].as_array().into_iter().flatten() {
        let inc_caps = strings(s.pointer("/includes/caps"));
        let inc_arches = strings(s.pointer("/includes/arches"));
        let exc_caps = strings(s.pointer("/excludes/caps"));
        let exc_arches = strings(s.pointer("/excludes/arches"));
        if !inc_caps.iter().all(|c| caps.contains(c)) || exc_caps.iter().any(|c| caps.contains(c)) {
            continue;
        }
        let on_native = |list: &[String]| native.is_some_and(|n| list.iter().any(|a| a == n));
        if (!inc_arches.is_empty() && !on_native(&inc_arches)) || on_native(&exc_arches) {
            continue;
        }
        let action = s["action"].as_str().unwrap_or_default().to_string();
        let has_args = s
            .get("args")
            .is_some_and(|a| a.as_array().is_some_and(|a| !a.is_empty()));
        let mut names = strings(s.get("names"));
        if !has_args {
            // The same name may be granted by two capabilities: keep one rule.
            names.retain(|n| unconditional.insert((n.clone(), action.clone())));
            if names.is_empty() {
                continue;
            }
        }
        let mut e = json!({ "names": names, "action": action });
        for k in ["args", "errnoRet"] {
            if let Some(v) = s.get(k) {
                e[k] = v.clone();
            }
        }
        syscalls.push(e);
    }
    let mut out = json!({
        "defaultAction": p["defaultAction"],
        "syscalls": syscalls,
    });
    if let Some(e) = p.get("defaultErrnoRet") {
        out["defaultErrnoRet"] = e.clone();
    }
    if !arches.is_empty() {
        out["architectures"] = json!(arches);
    }
    serde_json::from_value(out).expect("built-in profile resolves to a valid LinuxSeccomp")
}

fn check_enum<T: serde::de::DeserializeOwned>(v: &Value, field: &str, what: &str) -> Result<()> {
    match v {
        Value::String(s) => serde_json::from_value::<T>(v.clone())
            .map(|_| ())
            .map_err(|_| invalid(field, format!("unknown {what} {s:?}"))),
        other => Err(invalid(
            field,
            format!("expected a {what} name, got {other}"),
        )),
    }
}

/// Parses a seccomp profile in OCI `linux.seccomp` JSON form, with errors naming the
/// field: `syscalls[2].action: unknown action "SCMP_ACT_FOO"`. Extra keys (such as the
/// built-in profile's `includes`) are ignored.
pub fn parse_profile(json: &str) -> Result<LinuxSeccomp> {
    let v: Value = serde_json::from_str(json)?;
    if !v.is_object() {
        return Err(invalid("profile", "not a json object"));
    }
    match v.get("defaultAction") {
        Some(a) => check_enum::<LinuxSeccompAction>(a, "defaultAction", "action")?,
        None => return Err(invalid("defaultAction", "missing")),
    }
    for (i, a) in v["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_enum::<Arch>(a, &format!("architectures[{i}]"), "architecture")?;
    }
    for (i, f) in v["flags"].as_array().into_iter().flatten().enumerate() {
        check_enum::<LinuxSeccompFilterFlag>(f, &format!("flags[{i}]"), "flag")?;
    }
    for (i, s) in v["syscalls"].as_array().into_iter().flatten().enumerate() {
        let field = format!("syscalls[{i}]");
        match s.get("names") {
            Some(Value::Array(n)) if n.iter().all(Value::is_string) => {}
            _ => {
                return Err(invalid(
                    format!("{field}.names"),
                    "expected a list of syscall names",
                ))
            }
        }
        match s.get("action") {
            Some(a) => check_enum::<LinuxSeccompAction>(a, &format!("{field}.action"), "action")?,
            None => return Err(invalid(format!("{field}.action"), "missing")),
        }
        for (j, a) in s["args"].as_array().into_iter().flatten().enumerate() {
            let af = format!("{field}.args[{j}]");
            match a.get("op") {
                Some(op) => {
                    check_enum::<LinuxSeccompOperator>(op, &format!("{af}.op"), "operator")?
                }
                None => return Err(invalid(format!("{af}.op"), "missing")),
            }
            for k in ["index", "value"] {
                if !a.get(k).is_some_and(Value::is_u64) {
                    return Err(invalid(format!("{af}.{k}"), "expected an unsigned integer"));
                }
            }
            if a.get("valueTwo").is_some_and(|x| !x.is_u64()) {
                return Err(invalid(
                    format!("{af}.valueTwo"),
                    "expected an unsigned integer",
                ));
            }
        }
    }
    Ok(serde_json::from_value(v)?)
}
