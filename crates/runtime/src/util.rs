//! Small helpers: RFC 3339 time, atomic file writes, /proc/<pid>/stat, canonical paths.

use crate::error::{Context, Result};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// RFC 3339 UTC timestamp with nanoseconds for a unix time.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), as in Howard Hinnant's date algorithms.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `path` with every symlink, `.` and `..` resolved, as `std::fs::canonicalize` gives it, from
/// one open and one readlink of the fd: glibc's realpath reads every component as a link (a
/// dozen syscalls for the executable's path, each a path walk, on every container start).
/// The file must exist; one deleted since (a `" (deleted)"` name) is an error.
pub fn real_path(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
    if !real.is_absolute() || real.as_os_str().as_encoded_bytes().ends_with(b" (deleted)") {
        return Err(std::io::Error::other(format!(
            "{}: no path names it now ({})",
            path.display(),
            real.display()
        )));
    }
    Ok(real)
}

pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Write the runtime's state files ([`write_replace`], not synced). Runtime state describes
/// processes, which do not survive a crash of the machine either, and lives in a volatile
/// directory (/run); runc and crun do not sync it. A live system never sees a partial file (the
/// rename is atomic); what a crash can leave, an empty state file, `delete --force` removes.
/// The fsync of the file and of its directory were a few ms of every create and start on this
/// disk (bench/runtime-start.sh).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_replace(path, data, false)
}

/// Write a file so that readers see the old or the new content, never a mix: temp file in the
/// same directory, rename; with `sync`, the file is fsynced before and the directory after.
pub fn write_replace(path: &Path, data: &[u8], sync: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(data)
        .ctx(|| format!("write {}", tmp.display()))?;
    if sync {
        f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .ctx(|| format!("rename {} to {}", tmp.display(), path.display()))?;
    if sync {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// (state char, start time in clock ticks) of a process, from /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is still the process we started (same start time) and not a zombie.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

/// An I/O error as the kernel's lower-case errno text (`no such file or directory`), the
/// wording runc's messages use and scripts match.
pub fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let d = nix::errno::Errno::from_raw(n).desc();
            let mut c = d.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or_default()
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_path_resolves_as_canonicalize_does() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("a/b", d.path().join("link")).unwrap();
        std::os::unix::fs::symlink(dir.join("f"), d.path().join("abs")).unwrap();
        for p in ["link/f", "a/b/../b/./f", "abs", "link", "a/./b/.."] {
            let p = d.path().join(p);
            assert_eq!(real_path(&p).unwrap(), p.canonicalize().unwrap(), "{p:?}");
        }
        let missing = real_path(&d.path().join("link/none")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn errno_text_is_lower_case() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(errno_text(&e), "no such file or directory");
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_430_096, 0), "2026-11-23T10:34:56.000000000Z");
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        let (_, start) = proc_stat(pid).unwrap();
        assert!(process_alive(pid, start));
        assert!(!process_alive(pid, start + 1));
    }
}

/// The host uid that uid 0 of this process's user namespace maps to, when this is not the
/// initial user namespace (runc's `userns.RunningInUserNS`, but telling whose it is): the
/// engine run rootless inside its own namespace, or a runtime started by such an engine.
/// None in the initial namespace (its map is `0 0 4294967295`) or where uid 0 is unmapped.
pub fn userns_root_owner() -> Option<u32> {
    let map = std::fs::read_to_string("/proc/self/uid_map").ok()?;
    parse_uid_map_root(&map)
}

/// Whether this process is in a user namespace other than the initial one (whose uid map is
/// the identity over every id): mknod is refused there and mount flags are locked, whatever
/// the spec says, e.g. when a rootless engine runs the runtime in its own namespace.
pub fn running_in_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| !is_identity_map(&m))
        .unwrap_or(false)
}

fn map_lines(map: &str) -> Vec<Vec<u64>> {
    map.lines()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .collect()
}

fn is_identity_map(map: &str) -> bool {
    map_lines(map) == [vec![0, 0, 4_294_967_295]]
}

fn parse_uid_map_root(map: &str) -> Option<u32> {
    if is_identity_map(map) {
        return None;
    }
    map_lines(map)
        .iter()
        .find(|l| l.len() == 3 && l[0] == 0)
        .map(|l| l[1] as u32)
}

/// In a user namespace, the last id of the contiguous run of ids mapped from 0 in `map` (the
/// text of /proc/self/uid_map or gid_map); None in the initial namespace or without id 0.
pub fn last_id_mapped_from_zero(map: &str) -> Option<u32> {
    if is_identity_map(map) {
        return None;
    }
    let mut lines: Vec<Vec<u64>> = map_lines(map)
        .into_iter()
        .filter(|l| l.len() == 3)
        .collect();
    lines.sort();
    let mut end = 0u64;
    for l in lines {
        if l[0] != end {
            break;
        }
        end = l[0] + l[2];
    }
    end.checked_sub(1).map(|e| e as u32)
}

/// Running without root on the host: not uid 0, or uid 0 of a user namespace (rootless
/// mode: cgroups may not be ours to create, device nodes not ours to make).
pub fn rootless() -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid != 0 || running_in_userns()
}

#[cfg(test)]
mod userns_tests {
    use super::parse_uid_map_root;

    #[test]
    fn uid_maps() {
        assert_eq!(
            parse_uid_map_root("         0          0 4294967295\n"),
            None
        );
        assert_eq!(parse_uid_map_root("0 1000 1\n1 100000 65536\n"), Some(1000));
        assert_eq!(parse_uid_map_root("1 100000 65536\n"), None);
        use super::last_id_mapped_from_zero as last;
        assert_eq!(last("0 0 4294967295\n"), None);
        assert_eq!(last("0 1000 1\n"), Some(0));
        assert_eq!(
            last("0 1000 1\n1 100000 65536\n65537 400000 10\n"),
            Some(65546)
        );
        assert_eq!(last("0 1000 1\n5 100000 65536\n"), Some(0));
    }
}
