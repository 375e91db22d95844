//! Processes on the host: alive, found by command line, their parents and children, their
//! cgroup's CPU use.

/// Is a process alive (and not a zombie)?
pub fn pid_alive(pid: i32) -> bool {
    pid > 0
        && !matches!(
            parent_and_state(pid).map(|(_, state)| state),
            Some('Z') | Some('X') | None
        )
}

/// The parent of `pid` and its state letter (`R`, `S`, `Z`...), from /proc/PID/stat: the
/// fields after the `(comm)`, which may itself hold spaces and parentheses.
fn parent_and_state(pid: i32) -> Option<(i32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = s.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((rest.next()?.parse().ok()?, state))
}

/// The ancestors of `pid`, its parent first, up to pid 1.
pub fn ancestors(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut at = pid;
    while let Some((parent, _)) = parent_and_state(at) {
        if parent <= 0 || out.contains(&parent) {
            break;
        }
        out.push(parent);
        at = parent;
    }
    out
}

/// The children of `pid` that are zombies (exited, not reaped).
pub fn zombie_children(pid: i32) -> Vec<i32> {
    host_pids()
        .filter(|c| parent_and_state(*c) == Some((pid, 'Z')))
        .collect()
}

/// Every pid in /proc now (none if it cannot be read).
fn host_pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// Live (not zombie) host pids whose cgroup path, in any hierarchy, contains `needle` (a
/// container's id names its cgroup).
pub fn pids_in_cgroup_named(needle: &str) -> Vec<i32> {
    host_pids()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| c.contains(needle))
                && pid_alive(*pid)
        })
        .collect()
}

/// Host pids whose command line contains `needle`.
pub fn pids_with_cmdline(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    host_pids()
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .contains(needle)
            })
        })
        .collect()
}

/// Host cgroup CPU usage in nanoseconds of the cgroup `pid` is in: v1
/// `cpuacct.usage`, else v2 `cpu.stat` usage_usec.
pub fn cgroup_cpu_usage_ns(pid: i32) -> Option<u64> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in cg.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.split(',').any(|c| c == "cpuacct") {
            for mnt in ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"] {
                let f = format!("/sys/fs/cgroup/{mnt}{path}/cpuacct.usage");
                if let Ok(s) = std::fs::read_to_string(&f) {
                    return s.trim().parse().ok();
                }
            }
        }
    }
    for line in cg.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            for base in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
                if let Ok(s) = std::fs::read_to_string(format!("{base}{path}/cpu.stat")) {
                    for l in s.lines() {
                        if let Some(v) = l.strip_prefix("usage_usec ") {
                            return v.trim().parse::<u64>().ok().map(|u| u * 1000);
                        }
                    }
                }
            }
        }
    }
    None
}
