//! The json-file driver's `--log-opt` values (`max-size`, `max-file`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The validated `--log-opt` values of the json-file driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Config {
    pub(super) max_size: Option<u64>,
    pub(super) max_file: u32,
}

/// Checks docker's `--log-opt` map for the json-file driver, so a bad option fails at
/// `create` before anything runs.
pub fn validate_opts(opts: &BTreeMap<String, String>) -> Result<()> {
    parse_opts(opts).map(|_| ())
}

pub(super) fn parse_opts(opts: &BTreeMap<String, String>) -> Result<Config> {
    for (k, v) in opts {
        match k.as_str() {
            "max-size" | "max-file" => {}
            "compress" => match v.as_str() {
                "" | "false" | "0" => {}
                "true" | "1" => {
                    return Err(Error::Invalid(
                        "log-opt compress=true is not supported by berth's json-file driver (rotated files are kept uncompressed)".into(),
                    ))
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid value for log-opt compress: {v:?} (expected true or false)"
                    )))
                }
            },
            // docker records these as per-entry "attrs"; berth accepts them and does not
            // add attrs yet.
            "labels" | "labels-regex" | "env" | "env-regex" | "tag" => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown log opt '{k}' for json-file log driver"
                )))
            }
        }
    }
    let max_size = match opts.get("max-size") {
        None => None,
        Some(v) => match parse_size(v) {
            Some(0) => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-size: {v:?}: max-size must be a positive number"
                )))
            }
            Some(n) => Some(n),
            None => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-size: {v:?} (expected a size such as 512k, 10m or 1g, or a number of bytes)"
                )))
            }
        },
    };
    let max_file = match opts.get("max-file") {
        None => 1,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n < 1 => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-file: {v:?}: max-file cannot be less than 1"
                )))
            }
            Ok(n) if n <= 1_000_000 => n as u32,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-file: {v:?} (expected a whole number of files)"
                )))
            }
        },
    };
    // max-file alone is accepted, as dockerd does: without a size the log never rotates
    Ok(Config { max_size, max_file })
}

/// docker's `units.RAMInBytes`: "10k", "10m", "1g", "1.5g", "10mb", "10MiB", "1024" (binary
/// multiples, case-insensitive).
pub(super) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let mut u = unit.as_str();
    let mut mult: f64 = 1.0;
    if let Some(c) = u.chars().next() {
        let p = match c {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            _ => 0,
        };
        if p > 0 {
            mult = 1024f64.powi(p);
            u = &u[1..];
        }
    }
    let u = u.strip_prefix('i').unwrap_or(u);
    let u = u.strip_prefix('b').unwrap_or(u);
    if !u.is_empty() {
        return None;
    }
    let v = n * mult;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return None;
    }
    Some(v as u64)
}
