//! Networking: the tools and kernel parts bridges and published ports need.

use crate::{check, Check, Level};
use std::fs;
use std::path::{Path, PathBuf};
// ---------------------------------------------------------------------------------------
// networking

pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

pub(crate) fn network_check() -> Check {
    let fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let nft = find_in_path("nft");
    let ipt = find_in_path("iptables");
    let mut level = Level::Ok;
    let mut lines = Vec::new();
    match fwd.as_str() {
        "1" => lines.push(
            "IPv4 forwarding is on: containers on a bridge network can reach outside.".to_string(),
        ),
        "0" => {
            level = Level::Warn;
            lines.push("IPv4 forwarding is off: containers on a bridge network cannot reach outside and published ports do not work until `sysctl -w net.ipv4.ip_forward=1`.".into());
        }
        _ => {
            level = Level::Warn;
            lines.push("Cannot read /proc/sys/net/ipv4/ip_forward.".into());
        }
    }
    let tools: Vec<String> = [&nft, &ipt]
        .iter()
        .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
        .collect();
    if tools.is_empty() {
        level = Level::Warn;
        lines.push("Neither nft nor iptables is installed: bridge networking cannot set up NAT or published ports (--network host and none still work). Install nftables or iptables.".into());
    } else {
        lines.push(format!(
            "Firewall tools found: {} (bridge NAT and published ports need one).",
            tools.join(", ")
        ));
    }
    let summary = format!(
        "ip_forward {}, {}",
        if fwd.is_empty() { "unknown" } else { &fwd },
        match (&nft, &ipt) {
            (Some(_), Some(_)) => "nft and iptables present",
            (Some(_), None) => "nft present",
            (None, Some(_)) => "iptables present",
            (None, None) => "no nft or iptables",
        }
    );
    check("networking", level, summary, lines.join("\n"))
}
