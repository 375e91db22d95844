//! Host facts the API suites need: executables, free ports and subnets, groups.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::env::poll;

/// An executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Quote `s` for `sh -c`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Poll `f` every 100 ms until it returns true; false after `timeout`.
pub fn wait_until(timeout: Duration, f: impl FnMut() -> bool) -> bool {
    poll(timeout, Duration::from_millis(100), f)
}

/// A cheap random number (no rand crate): time, pid and a counter hashed.
pub(super) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.write_u64(N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.finish()
}

/// IPv4 networks of the host's routes (`ip -4 route`), as (addr, prefix).
fn host_routes() -> Vec<(u32, u8)> {
    let out = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut v = Vec::new();
    for line in out.lines() {
        let mut first = line.split_whitespace().next().unwrap_or("");
        if matches!(first, "local" | "broadcast" | "unreachable" | "blackhole") {
            first = line.split_whitespace().nth(1).unwrap_or("");
        }
        if first == "default" {
            continue;
        }
        let (a, p) = first.split_once('/').unwrap_or((first, "32"));
        if let (Ok(ip), Ok(p)) = (a.parse::<std::net::Ipv4Addr>(), p.parse::<u8>()) {
            v.push((u32::from(ip), p));
        }
    }
    v
}

fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    let p = a.1.min(b.1);
    let mask = if p == 0 {
        0
    } else {
        u32::MAX << (32 - p as u32)
    };
    a.0 & mask == b.0 & mask
}

/// A free 10.153.N.0/24 for a private dockerd's default bridge.
pub(super) fn free_bridge_subnet() -> (u32, u8) {
    let routes = host_routes();
    let start = random_u64();
    for i in 0..256u64 {
        let n = ((start + i) % 254 + 1) as u32;
        let net = (
            u32::from(std::net::Ipv4Addr::new(10, 153, 0, 0)) | (n << 8),
            24,
        );
        if !routes.iter().any(|r| overlaps(*r, net)) {
            return net;
        }
    }
    panic!("no free /24 in 10.153.0.0/16 for a test bridge");
}

/// Make sure the unix group `name` exists (`groupadd`); its gid.
pub fn ensure_group(name: &str) -> u32 {
    if let Some(gid) = group_gid(name) {
        return gid;
    }
    let st = Command::new("groupadd")
        .arg(name)
        .status()
        .expect("run groupadd");
    // A parallel test may have made it meanwhile.
    group_gid(name).unwrap_or_else(|| panic!("groupadd {name} failed: {st}"))
}

/// The gid of group `name` (from /etc/group).
pub fn group_gid(name: &str) -> Option<u32> {
    let g = std::fs::read_to_string("/etc/group").ok()?;
    g.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

/// The name of group `gid` (from /etc/group).
pub fn group_name(gid: u32) -> Option<String> {
    let g = std::fs::read_to_string("/etc/group").ok()?;
    g.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[2] == gid.to_string()).then(|| f[0].to_string())
    })
}
