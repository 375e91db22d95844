//! Helpers of the networking suites (`tests/network/`, `tests/network_security.rs`): networks
//! made by a test and removed at its end, containers on them, their addresses, free subnets.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::cmd::Output;
use crate::engine::Engine;

/// Networks made by one test; at drop every container attached to them is
/// removed, then the networks.  Declare it after the [`Engine`] so it drops
/// first.
pub struct Nets<'a> {
    e: &'a Engine,
    names: RefCell<Vec<String>>,
}

impl<'a> Nets<'a> {
    pub fn new(e: &'a Engine) -> Nets<'a> {
        Nets {
            e,
            names: RefCell::new(Vec::new()),
        }
    }

    /// `network create [EXTRA...] --label TEST NAME`; returns NAME.
    #[track_caller]
    pub fn create(&self, short: &str, extra: &[&str]) -> String {
        let name = self.e.name(short);
        self.names.borrow_mut().push(name.clone());
        let label = self.e.test_label();
        let mut args = vec!["network", "create"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--label", &label, &name]);
        let out = self.e.ok(&args);
        let id = out.trim();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "network create prints the 64-hex id, got {out:?}"
        );
        name
    }

    fn cleanup(&self) {
        for net in self.names.borrow().iter() {
            let o = self.e.cmd(&["network", "inspect", net]);
            if !o.success() {
                continue;
            }
            let ids: Vec<String> = serde_json::from_str::<Value>(&o.stdout)
                .ok()
                .and_then(|v| v[0]["Containers"].as_object().cloned())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.iter().map(String::as_str));
                self.e.cmd(&args);
            }
            if self.e.is_berth() {
                // The root is private to the test: everything in it is ours.
                let all = self.e.cmd(&["ps", "-aq"]);
                let ids: Vec<&str> = all.stdout.split_whitespace().collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "-f"];
                    args.extend(ids);
                    self.e.cmd(&args);
                }
            }
            // Endpoints may take a moment to go after their containers.
            for i in 0.. {
                let o = self.e.cmd(&["network", "rm", net]);
                if o.success() || !self.e.cmd(&["network", "inspect", net]).success() {
                    break;
                }
                if i == 20 {
                    eprintln!("cleanup: cannot remove network {net}: {o:?}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

impl Drop for Nets<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.cleanup()));
    }
}

/// Run a host command, stdout (empty on failure).
pub fn host_sh(prog: &str, args: &[&str]) -> String {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

/// `run -d --name NAME EXTRA... IMG sleep 100000`; returns NAME.
#[track_caller]
pub fn run_sleeper(e: &Engine, short: &str, extra: &[&str]) -> String {
    let n = e.name(short);
    let img = e.img().to_string();
    let mut args = vec!["run", "-d", "--name", &n];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&img, "sleep", "100000"]);
    e.ok(&args);
    n
}

/// `run --rm EXTRA... IMG sh -c SCRIPT`.
pub fn run_sh(e: &Engine, extra: &[&str], script: &str) -> Output {
    let img = e.img().to_string();
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&img, "sh", "-c", script]);
    e.cmd(&args)
}

/// `exec NAME sh -c SCRIPT`.
pub fn exec_sh(e: &Engine, name: &str, script: &str) -> Output {
    e.cmd(&["exec", name, "sh", "-c", script])
}

/// The container's address on network `net` (`inspect`).
#[track_caller]
pub fn ip_on(e: &Engine, name: &str, net: &str) -> String {
    let v = e.inspect(name);
    let ip = v["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ip.parse::<Ipv4Addr>().is_ok(),
        "{name}: no IPv4 address on {net}: {}",
        v["NetworkSettings"]
    );
    ip
}

/// `a.b.c.d/n` -> (network, prefix length).
pub fn parse_cidr(cidr: &str) -> (Ipv4Addr, u32) {
    let (a, n) = cidr
        .split_once('/')
        .unwrap_or_else(|| panic!("not a CIDR: {cidr:?}"));
    (a.parse().unwrap(), n.parse().unwrap())
}

pub fn in_subnet(ip: &str, cidr: &str) -> bool {
    let (net, len) = parse_cidr(cidr);
    let Ok(ip) = ip.parse::<Ipv4Addr>() else {
        return false;
    };
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// `network inspect NET`, the first element.
#[track_caller]
pub fn net_inspect(e: &Engine, net: &str) -> Value {
    let out = e.ok(&["network", "inspect", net]);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|err| panic!("network inspect {net}: not JSON ({err}): {out}"));
    v.as_array()
        .and_then(|a| a.first().cloned())
        .unwrap_or_else(|| panic!("network inspect {net}: expected a one-element array: {out}"))
}

/// The first IPAM subnet of a network.
#[track_caller]
pub fn net_subnet(e: &Engine, net: &str) -> String {
    let v = net_inspect(e, net);
    v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap_or_else(|| panic!("{net}: no IPAM.Config[0].Subnet: {v}"))
        .to_string()
}

/// A /24 under 10.123.0.0/16 that no host route covers; tests running at the same time pass
/// different `salt`s so that they do not pick the same one.
pub fn free_subnet(salt: u32) -> String {
    let routes = host_sh("ip", &["-4", "-o", "route", "show", "table", "all"]);
    let used: Vec<String> = routes
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|d| d.contains('/') && *d != "default")
        .map(str::to_string)
        .collect();
    for n in (0..=255u32).map(|i| (i * 37 + 101 + salt) % 256) {
        let cand = format!("10.123.{n}.0/24");
        let ip = format!("10.123.{n}.1");
        if !used.iter().any(|r| in_subnet(&ip, r)) {
            return cand;
        }
    }
    panic!("no free 10.123.x.0/24 among the host routes:\n{routes}");
}
