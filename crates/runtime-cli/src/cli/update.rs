//! `update`: the resources to change, from a LinuxResources file or from runc's flags.

use super::args::UpdateArgs;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The LinuxResources `update` applies. With `--resources` the flags are ignored, as in runc.
pub fn resources(a: &UpdateArgs) -> Result<oci_spec::runtime::LinuxResources> {
    let r = match a.resources.as_deref() {
        Some(p) if p == Path::new("-") => {
            serde_json::from_reader(std::io::stdin()).context("reading resources from stdin")?
        }
        Some(p) => serde_json::from_slice(
            &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?,
        None => from_flags(a)?,
    };
    serde_json::from_value(r).context("invalid resources")
}

fn from_flags(a: &UpdateArgs) -> Result<Value> {
    let mut r = json!({});
    if let Some(w) = a.blkio_weight.filter(|w| *w != 0) {
        r["blockIO"]["weight"] = w.into();
    }
    let cpu: [(&str, Option<Value>); 7] = [
        ("period", a.cpu_period.map(Into::into)),
        ("quota", a.cpu_quota.map(Into::into)),
        ("shares", a.cpu_share.map(Into::into)),
        ("realtimePeriod", a.cpu_rt_period.map(Into::into)),
        ("realtimeRuntime", a.cpu_rt_runtime.map(Into::into)),
        ("cpus", a.cpuset_cpus.clone().map(Into::into)),
        ("mems", a.cpuset_mems.clone().map(Into::into)),
    ];
    for (k, v) in cpu {
        if let Some(v) = v {
            r["cpu"][k] = v;
        }
    }
    let memory = [
        ("limit", "memory", &a.memory),
        ("reservation", "memory-reservation", &a.memory_reservation),
        ("swap", "memory-swap", &a.memory_swap),
    ];
    for (k, flag, v) in memory {
        if let Some(v) = v {
            r["memory"][k] = ram_in_bytes(v)
                .ok_or_else(|| anyhow!("invalid value for --{flag}: {v:?}"))?
                .into();
        }
    }
    if a.kernel_memory.is_some() || a.kernel_memory_tcp.is_some() {
        runtime::log::warn("Kernel memory settings are ignored and will be removed");
    }
    if let Some(p) = a.pids_limit {
        r["pids"]["limit"] = p.into();
    }
    Ok(r)
}

/// A size in bytes: `-1` (unlimited), a number, or a number with a binary unit as docker and
/// runc take them (`50M`, `1.5g`, `512KiB`, `2 GB`).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    if s == "-1" {
        return Some(-1);
    }
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((num * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;

    #[test]
    fn sizes_with_units() {
        assert_eq!(ram_in_bytes("52428800"), Some(52428800));
        assert_eq!(ram_in_bytes("50M"), Some(50 << 20));
        assert_eq!(ram_in_bytes("50m"), Some(50 << 20));
        assert_eq!(ram_in_bytes("1GiB"), Some(1 << 30));
        assert_eq!(ram_in_bytes("1.5k"), Some(1536));
        assert_eq!(ram_in_bytes("-1"), Some(-1));
        assert_eq!(ram_in_bytes("12x"), None);
        assert_eq!(ram_in_bytes(""), None);
    }

    #[test]
    fn runc_update_flags() {
        let c = Cli::try_parse_from([
            "berth-runtime",
            "update",
            "--cpu-quota",
            "-1",
            "--memory-swap",
            "-1",
            "--memory",
            "30M",
            "--cpuset-cpus",
            "0",
            "--cpu-rt-period",
            "900001",
            "--cpu-rt-runtime",
            "600001",
            "--blkio-weight",
            "500",
            "--pids-limit",
            "-1",
            "c1",
        ])
        .unwrap();
        let Command::Update(a) = c.command else {
            panic!()
        };
        let r = serde_json::to_value(resources(&a).unwrap()).unwrap();
        assert_eq!(r["cpu"]["quota"], -1);
        assert_eq!(r["cpu"]["cpus"], "0");
        assert_eq!(r["cpu"]["realtimePeriod"], 900001);
        assert_eq!(r["cpu"]["realtimeRuntime"], 600001);
        assert_eq!(r["memory"]["limit"], 30 << 20);
        assert_eq!(r["memory"]["swap"], -1);
        assert_eq!(r["blockIO"]["weight"], 500);
        assert_eq!(r["pids"]["limit"], -1);
    }
}
