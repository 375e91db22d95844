//! End-to-end suite of berth's networking, written against docker's
//! behaviour: published ports (`-p`, `-P`, `port`), the default bridge,
//! user networks (`network create/ls/inspect/rm/connect/disconnect/prune`,
//! `--subnet`, `--internal`, `--ip`, `--network-alias`), `--network
//! none|host`, `--dns`, `--add-host`, and teardown.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same suite
//! against a real docker daemon (the reference).  Needs root.  Every test
//! uses its own names and host ports, and removes the networks and
//! containers it made, also on panic ([`Nets`] and [`Engine`]'s drop).
//!
//! Traffic stays on this machine: the host side is `127.0.0.1` and the
//! address of the interface of the default route ([`host_addr`]).

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_e2e::cmd::Output;
use berth_e2e::engine::Engine;
use berth_e2e::net::{
    exec_sh, free_subnet, host_sh, in_subnet, ip_on, net_inspect, net_subnet, parse_cidr, run_sh,
    run_sleeper, Nets,
};
use berth_e2e::{berth_only, engine};
use serde_json::Value;

// ---------------------------------------------------------------------------
// helpers

/// A TCP port free on the host right now (bound and released).
fn free_port() -> u16 {
    bind_below_ephemeral().1
}

/// A listener on 0.0.0.0 at a port below the kernel's ephemeral range, where
/// engines pick the host ports they publish: a DNAT rule for a published port
/// (of a test running beside, or left by an earlier one) matches every local
/// address, and would take this listener's traffic if both had the same port.
fn bind_below_ephemeral() -> (TcpListener, u16) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let seed = u64::from(std::process::id()) ^ now.map_or(0, |d| d.subsec_nanos().into());
    (0..2000u64)
        .map(|i| 20000 + ((seed.wrapping_mul(7919) + i * 104_729) % 12000) as u16)
        .find_map(|p| TcpListener::bind(("0.0.0.0", p)).ok().map(|l| (l, p)))
        .expect("no free port in 20000-31999")
}

/// Interfaces created by container engines, never "the host's address".
fn is_engine_link(dev: &str) -> bool {
    dev == "docker0"
        || dev == "berth0"
        || dev.starts_with("br-")
        || dev.starts_with("veth")
        || dev == "lo"
}

/// The host's own non-loopback IPv4 address: the one on the interface of
/// the default route, else the first global address outside engine
/// bridges.
fn host_addr() -> String {
    let addrs = host_sh("ip", &["-4", "-o", "addr", "show", "scope", "global"]);
    // "4: eth0    inet 192.0.2.2/24 brd ... scope global eth0"
    let parse = |l: &str| -> Option<(String, String)> {
        let f: Vec<&str> = l.split_whitespace().collect();
        let dev = f.get(1)?.trim_end_matches(':').to_string();
        let i = f.iter().position(|x| *x == "inet")?;
        let ip = f.get(i + 1)?.split('/').next()?.to_string();
        Some((dev, ip))
    };
    let all: Vec<(String, String)> = addrs.lines().filter_map(parse).collect();
    let route = host_sh("ip", &["-4", "-o", "route", "show", "default"]);
    let default_dev = route
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .map(str::to_string);
    if let Some(dev) = default_dev {
        if let Some((_, ip)) = all.iter().find(|(d, _)| *d == dev) {
            return ip.clone();
        }
    }
    all.iter()
        .find(|(d, _)| !is_engine_link(d))
        .map(|(_, ip)| ip.clone())
        .unwrap_or_else(|| panic!("no non-loopback IPv4 address on this host:\n{addrs}"))
}

/// One HTTP/1.0 GET of `/`; the body.
fn http_get(addr: &str, port: u16) -> Result<String, String> {
    let sa: SocketAddr = format!("{addr}:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2))
        .map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| format!("write {sa}: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .map_err(|e| format!("read {sa}: {e}"))?;
    let text = String::from_utf8_lossy(&buf).to_string();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_string())
        }
        _ => Err(format!("{sa}: unexpected response {text:?}")),
    }
}

/// GET `/` until it answers (httpd may still be starting), up to 10 s;
/// the body.
#[track_caller]
fn wait_http(addr: &str, port: u16) -> String {
    let start = Instant::now();
    loop {
        match http_get(addr, port) {
            Ok(b) => return b,
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                panic!("http://{addr}:{port}/ did not answer within 10 s: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A shell script for busybox `sh` that GETs `http://host:port/` with
/// `nc` (Debian's static busybox `wget` segfaults without glibc's NSS
/// libraries in the image), up to `tries` times 0.2 s apart, printing the
/// body of a 200 answer; exit 1 if none came.
fn http_sh(host: &str, port: u16, tries: u32) -> String {
    format!(
        "get() {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} > /tmp/.resp \
         && grep -q '^HTTP/1.[01] 200' /tmp/.resp && tr -d '\\r' < /tmp/.resp | sed '1,/^$/d'; }}; \
         i=0; while [ $i -lt {tries} ]; do get && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
    )
}

/// What the host's network looked like, for a failure message: routes,
/// firewall, bridge netfilter switches, TCP sockets, neighbours, bridge
/// forwarding entries, reverse-path filters, drop counters.
fn host_net_diag() -> String {
    let mut out = String::new();
    for cmd in [
        "ip -4 -o addr",
        "ip -4 route show table all",
        "iptables -S",
        "iptables -t nat -S",
        "sysctl net.bridge.bridge-nf-call-iptables net.ipv4.conf.all.rp_filter",
        "nft list ruleset 2>/dev/null | grep -iE 'berth|dnat|drop|reject'",
        "ss -tan",
        "ip neigh",
        "bridge fdb show 2>/dev/null | grep -v permanent",
        "grep -H . /proc/sys/net/ipv4/conf/*/rp_filter",
        "nstat -az 2>/dev/null | grep -iE 'ListenDrops|ListenOverflows|ReqQFullDrop|InNoRoutes|InAddrErrors|InHdrErrors|TCPAbortOnSyn|PAWS|SyncookiesFailed'",
    ] {
        let o = Command::new("sh").args(["-c", cmd]).output();
        let text = match o {
            Ok(o) => {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            }
            Err(e) => e.to_string(),
        };
        out.push_str(&format!("$ {cmd}\n{text}"));
    }
    out
}

/// busybox httpd on port 80 serving `page` as index.html.
const HTTPD: &str = "mkdir -p /www; echo \"$PAGE\" > /www/index.html; exec httpd -f -p 80 -h /www";

/// `run -d --name NAME -e PAGE=page EXTRA... IMG sh -c HTTPD`; returns NAME.
#[track_caller]
fn run_httpd(e: &Engine, img: &str, short: &str, page: &str, extra: &[&str]) -> String {
    let n = e.name(short);
    let env = format!("PAGE={page}");
    let mut args = vec!["run", "-d", "--name", &n, "-e", &env];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[img, "sh", "-c", HTTPD]);
    e.ok(&args);
    n
}

/// Check `port NAME` output: every line is `CPORT/PROTO -> HOSTIP:PORT`
/// (docker also prints a `[::]:PORT` line per IPv6 binding), and the line
/// `CPORT/PROTO -> HOSTIP:PORT` for the given IPv4 `host_ip` is present.
/// Returns the host port of that line.
#[track_caller]
fn check_port_line(out: &str, cport: &str, host_ip: &str, want_port: Option<u16>) -> u16 {
    let prefix = format!("{cport} -> {host_ip}:");
    let mut found = None;
    for l in out.lines().filter(|l| l.starts_with(cport)) {
        let (lhs, rhs) = l
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("`port` line not `C -> H:P`: {l:?} in {out:?}"));
        assert_eq!(lhs, cport, "{out:?}");
        let (_, p) = rhs
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no host port in {l:?}"));
        let p: u16 = p
            .parse()
            .unwrap_or_else(|_| panic!("host port not a number in {l:?}"));
        if let Some(w) = want_port {
            assert_eq!(p, w, "`port` line {l:?}: wrong host port in {out:?}");
        }
        if l.starts_with(&prefix) {
            found = Some(p);
        }
    }
    found.unwrap_or_else(|| panic!("`port` output lacks a line `{prefix}PORT`: {out:?}"))
}

/// Names of the host's network interfaces (`/sys/class/net`).
fn host_links() -> BTreeSet<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().to_string())
        .collect()
}

/// A tiny HTTP server on the host (0.0.0.0:port) answering `body` to
/// every request, until dropped (on a port of `bind_below_ephemeral`).
struct HostHttp {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostHttp {
    fn start(body: &'static str) -> HostHttp {
        let (l, port) = bind_below_ephemeral();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf);
                        let _ = s.write_all(
                            format!(
                                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HostHttp {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HostHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

mod ipam_teardown;
mod manage;
mod modes;
mod ports;
mod user_networks;
