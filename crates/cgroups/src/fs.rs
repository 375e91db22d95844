//! Small helpers to read and write cgroupfs interface files.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Writes `value` to `dir/file` in one `write(2)`, without creating the file: cgroupfs
/// interface files exist or the kernel does not offer the knob. On a fake tree (regular
/// files, in tests) the previous content is replaced.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    let err = |source: io::Error, path: PathBuf| Error::Write {
        path,
        value: value.to_string(),
        source,
    };
    let mut f = match OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) => return Err(err(e, path)),
    };
    if matches!(f.metadata(), Ok(m) if m.len() > 0) && is_fake(dir) {
        let _ = f.set_len(0);
    }
    #[cfg(test)]
    record::push(&path, value);
    let n = f
        .write(value.as_bytes())
        .map_err(|e| err(e, path.clone()))?;
    if n != value.len() {
        return Err(err(
            io::Error::new(io::ErrorKind::WriteZero, "short write"),
            path,
        ));
    }
    Ok(())
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })
}

/// Reads `dir/file`, `None` when it does not exist.
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match read(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// Parses a single number; "max" reads as `u64::MAX`.
pub(crate) fn parse_u64(path: &Path, s: &str) -> Result<u64> {
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse::<u64>().map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        reason: format!("{t:?}: {e}"),
    })
}

/// Reads a single-number file; a missing file reads as 0.
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    match read_opt(dir, file)? {
        Some(s) if !s.trim().is_empty() => parse_u64(&dir.join(file), &s),
        _ => Ok(0),
    }
}

/// Reads a flat keyed file ("key value" per line); a missing file reads as empty.
pub(crate) fn read_keyed(dir: &Path, file: &str) -> Result<Vec<(String, u64)>> {
    let path = dir.join(file);
    let Some(text) = read_opt(dir, file)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        out.push((k.to_string(), parse_u64(&path, v)?));
    }
    Ok(out)
}

pub(crate) fn keyed(v: &[(String, u64)], key: &str) -> u64 {
    v.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .unwrap_or(0)
}

/// Reads the pids listed in `dir/cgroup.procs`.
pub(crate) fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = read(dir, "cgroup.procs")?;
    text.split_whitespace()
        .map(|p| {
            p.parse::<i32>().map_err(|e| Error::Parse {
                path: path.clone(),
                reason: format!("{p:?}: {e}"),
            })
        })
        .collect()
}

/// Pids of `dir` and all its descendant cgroups.
pub(crate) fn read_procs_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut out = read_procs(dir)?;
    for sub in subdirs(dir)? {
        out.extend(read_procs_recursive(&sub)?);
    }
    Ok(out)
}

pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for ent in rd.flatten() {
        if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(ent.path());
        }
    }
    Ok(out)
}

/// Removes the cgroup directory `dir` and its descendants, deepest first, retrying while
/// the kernel still reports it busy (processes exiting, memory draining). Processes still
/// listed in it are waited for only briefly ([`LIVE_WAIT`]): past that they are not exiting
/// (another container sharing the cgroup) and the removal fails at once instead of waiting
/// `timeout` in every hierarchy. A missing directory is success. On a fake tree (regular
/// directories) the interface files are removed too.
pub(crate) fn remove_cgroup_dir(dir: &Path, timeout: Duration) -> Result<()> {
    // The usual case, a leaf with no process left, takes one rmdir (no stat, no listing).
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    for sub in subdirs(dir)? {
        remove_cgroup_dir(&sub, timeout)?;
    }
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && is_fake(dir) => {
                // Regular directory of a fake tree: remove the files the test created.
                std::fs::remove_dir_all(dir).map_err(|source| Error::Rmdir {
                    path: dir.to_path_buf(),
                    source,
                })?;
                return Ok(());
            }
            Err(e) => {
                let retry = matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EAGAIN));
                let live = start.elapsed() >= LIVE_WAIT.min(timeout) && has_processes(dir);
                if !retry || live || start.elapsed() >= timeout {
                    return Err(Error::Rmdir {
                        path: dir.to_path_buf(),
                        source: e,
                    });
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// How long [`remove_cgroup_dir`] waits for processes listed in a cgroup to go (killed ones
/// leave within it).
const LIVE_WAIT: Duration = Duration::from_millis(500);

fn has_processes(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|s| !s.trim().is_empty())
}

/// True when `dir` is not on a cgroup filesystem (a fake tree used by tests).
pub(crate) fn is_fake(dir: &Path) -> bool {
    const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    match nix::sys::statfs::statfs(dir) {
        Ok(st) => {
            #[allow(clippy::unnecessary_cast)] // the field type differs between targets
            let t = st.filesystem_type().0 as i64;
            t != CGROUP_SUPER_MAGIC && t != CGROUP2_SUPER_MAGIC
        }
        Err(_) => false,
    }
}

/// Test support: records every write of the current thread, in order.
#[cfg(test)]
pub(crate) mod record {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static LOG: RefCell<Option<Vec<(PathBuf, String)>>> = const { RefCell::new(None) };
    }

    pub(crate) fn start() {
        LOG.with(|l| *l.borrow_mut() = Some(Vec::new()));
    }

    pub(crate) fn take() -> Vec<(PathBuf, String)> {
        LOG.with(|l| l.borrow_mut().take().unwrap_or_default())
    }

    pub(crate) fn push(path: &Path, value: &str) {
        LOG.with(|l| {
            if let Some(v) = l.borrow_mut().as_mut() {
                v.push((path.to_path_buf(), value.to_string()));
            }
        });
    }
}
