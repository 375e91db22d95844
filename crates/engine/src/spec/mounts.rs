//! The mounts of the spec: docker's defaults, tmpfs and bind mounts, option merging.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Component, Path};

/// Options docker gives every tmpfs it mounts for `--tmpfs` / `--mount type=tmpfs`.
const TMPFS_DEFAULTS: &[&str] = &["noexec", "nosuid", "nodev", "rprivate"];

// ---------------------------------------------------------------------------------------------
// mounts
// ---------------------------------------------------------------------------------------------

pub(super) fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": typ, "source": source, "options": options})
}

/// `/a/b/../c/` -> `/a/c`.
pub(super) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// The mount-flag "slot" an option sets, so a later option of the same slot replaces it.
fn flag_slot(opt: &str) -> Option<&'static str> {
    Some(match opt {
        "ro" | "rw" => "ro",
        "nosuid" | "suid" => "suid",
        "nodev" | "dev" => "dev",
        "noexec" | "exec" => "exec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "mand" | "nomand" => "mand",
        "noatime" | "atime" => "atime",
        "nodiratime" | "diratime" => "diratime",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
        | "runbindable" => "propagation",
        _ => return None,
    })
}

fn valid_tmpfs_data(key: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match key {
        "size" | "nr_blocks" | "nr_inodes" => {
            let n = value
                .strip_suffix(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P', 'e', 'E'])
                .or_else(|| {
                    if key == "size" {
                        value.strip_suffix('%')
                    } else {
                        None
                    }
                })
                .unwrap_or(value);
            digits(n)
        }
        "mode" => !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" => digits(value),
        "mpol" => !value.is_empty(),
        _ => false,
    }
}

/// docker's MergeTmpfsOptions: later flags replace earlier ones of the same kind (`exec` undoes
/// the default `noexec`), later `key=value` options replace earlier ones; only tmpfs's own data
/// options are accepted.
pub fn merge_tmpfs_options(options: &[String]) -> Result<Vec<String>> {
    let mut seen_flags = BTreeSet::new();
    let mut seen_data = BTreeSet::new();
    let mut out = Vec::new();
    for opt in options.iter().rev() {
        let opt = opt.trim();
        if opt.is_empty() || opt == "defaults" {
            continue;
        }
        if let Some(slot) = flag_slot(opt) {
            if seen_flags.insert(slot) {
                out.push(opt.to_string());
            }
            continue;
        }
        match opt.split_once('=') {
            Some((k, v)) if valid_tmpfs_data(k, v) => {
                if seen_data.insert(k.to_string()) {
                    out.push(opt.to_string());
                }
            }
            _ => return Err(Error::Invalid(format!("invalid tmpfs option {opt:?}"))),
        }
    }
    out.reverse();
    Ok(out)
}

pub(super) fn validate_mount_destination(dest: &str, kind: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    if clean_path(dest) == "/" {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
        )));
    }
    Ok(())
}

pub(super) fn tmpfs_mount(
    dest: &str,
    options: &[String],
    readonly: bool,
    extra: &[String],
) -> Result<Value> {
    let mut all: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    all.extend(
        options
            .iter()
            .flat_map(|o| o.split(','))
            .map(str::to_string),
    );
    if readonly {
        all.push("ro".into());
    }
    all.extend(extra.iter().cloned());
    let merged = merge_tmpfs_options(&all)?;
    Ok(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": merged}))
}

pub(super) fn bind_mount(dest: &str, source: &Path, readonly: bool, extra: &[String]) -> Value {
    let recursive = !extra.iter().any(|o| o == "bind");
    let mut opts = vec![if recursive { "rbind" } else { "bind" }.to_string()];
    if readonly {
        opts.push("ro".into());
    }
    for o in extra {
        if o != "bind" && o != "rbind" && !opts.contains(o) {
            opts.push(o.clone());
        }
    }
    if !opts.iter().any(|o| flag_slot(o) == Some("propagation")) {
        opts.push("rprivate".into());
    }
    json!({"destination": dest, "type": "bind", "source": source, "options": opts})
}
