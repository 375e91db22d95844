//! Helpers both drivers (v1 and v2) use: cgroup directories, files the kernel may not offer,
//! hugetlb page sizes, `unified` keys, waiting and killing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs;

/// How long `delete` retries removing a busy directory.
pub(crate) const DELETE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `freeze` waits for the kernel to report the cgroup frozen.
pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn mkdir(dir: &Path) -> Result<()> {
    match std::fs::create_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Mkdir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn need_file(dir: &Path, file: &str, field: &str) -> Result<()> {
    if fs::exists(dir, file) {
        Ok(())
    } else {
        Err(Error::unsupported(
            field,
            format!("the kernel offers no {}", dir.join(file).display()),
        ))
    }
}

/// Validates a hugepage size such as "2MB" / "1GB" (the kernel's file name form).
pub(crate) fn check_page_size(i: usize, s: &str) -> Result<()> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_ascii_digit())
        || !matches!(unit, "KB" | "MB" | "GB")
    {
        return Err(Error::invalid(
            format!("hugepageLimits[{i}].pageSize"),
            format!("{s:?} is not like \"2MB\" or \"1GB\""),
        ));
    }
    Ok(())
}

/// Page sizes offered in a hugetlb directory, from files `hugetlb.<size><suffix>`.
pub(crate) fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(size) = name
                .strip_prefix("hugetlb.")
                .and_then(|r| r.strip_suffix(suffix))
            {
                if !size.contains('.') {
                    out.push(size.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

/// Writes `linux.resources.unified` keys as files of `dir`.
pub(crate) fn write_unified(
    dir: &Path,
    map: &std::collections::HashMap<String, String>,
) -> Result<()> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        if k.is_empty() || k.contains('/') || k == "." || k == ".." {
            return Err(Error::invalid(
                format!("unified[{k:?}]"),
                "not a cgroup file name",
            ));
        }
        if matches!(
            k.as_str(),
            "cgroup.procs" | "cgroup.threads" | "cgroup.subtree_control" | "cgroup.kill"
        ) {
            return Err(Error::invalid(
                format!("unified[{k:?}]"),
                "the runtime manages this file itself",
            ));
        }
        if !fs::exists(dir, k) {
            return Err(Error::unsupported(
                format!("unified[{k:?}]"),
                format!("the kernel offers no {}", dir.join(k).display()),
            ));
        }
        fs::write(dir, k, &map[k])?;
    }
    Ok(())
}

/// Waits for `check` to return true, `timeout` at most.
pub(crate) fn wait_until(
    timeout: Duration,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        if check()? {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

pub(crate) fn kill_pids(pids: &[i32], signal: i32) -> Result<()> {
    for &p in pids {
        // SAFETY: plain syscall.
        if unsafe { libc::kill(p, signal) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(Error::Sys {
                    op: format!("kill {p} with signal {signal}"),
                    source: e,
                });
            }
        }
    }
    Ok(())
}
