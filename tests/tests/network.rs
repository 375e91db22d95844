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

/// A TCP port free on the host right now (bound to port 0 and released).
fn free_port() -> u16 {
    let l = TcpListener::bind("0.0.0.0:0").expect("bind port 0");
    l.local_addr().unwrap().port()
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
        "get() {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port} > /tmp/.resp 2>/dev/null \
         && grep -q '^HTTP/1.[01] 200' /tmp/.resp && tr -d '\\r' < /tmp/.resp | sed '1,/^$/d'; }}; \
         i=0; while [ $i -lt {tries} ]; do get && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
    )
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
/// every request, until dropped.
struct HostHttp {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostHttp {
    fn start(body: &'static str) -> HostHttp {
        let l = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
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

// ---------------------------------------------------------------------------
// 1. published ports

/// The seeds' example: two busybox httpd, both on port 80 inside,
/// published as A and B; the host gets a different page from each, on
/// 127.0.0.1 and on its own address; other containers reach them through
/// the host's address (hairpin); `port` prints docker's lines; `-P`
/// publishes the image's EXPOSE to a high port.
#[test]
fn two_httpd_on_port_80_published_fetch_different_pages() {
    let e = engine!();
    let img = e.img().to_string();
    let (a, b) = (free_port(), free_port());
    let pa = format!("{a}:80");
    let pb = format!("{b}:80");
    let one = run_httpd(&e, &img, "web1", "page-one", &["-p", &pa]);
    let two = run_httpd(&e, &img, "web2", "page-two", &["-p", &pb]);

    let host = host_addr();
    for addr in ["127.0.0.1", host.as_str()] {
        assert_eq!(wait_http(addr, a), "page-one\n", "via {addr}:{a}");
        assert_eq!(wait_http(addr, b), "page-two\n", "via {addr}:{b}");
    }

    // `port NAME`: `80/tcp -> 0.0.0.0:A` (docker adds `80/tcp -> [::]:A`).
    let out = e.ok(&["port", &one]);
    check_port_line(&out, "80/tcp", "0.0.0.0", Some(a));
    let out = e.ok(&["port", &two]);
    check_port_line(&out, "80/tcp", "0.0.0.0", Some(b));
    // `port NAME 80`: just `0.0.0.0:A` (and maybe `[::]:A`).
    let out = e.ok(&["port", &one, "80"]);
    assert!(
        out.lines().any(|l| l == format!("0.0.0.0:{a}")),
        "`port NAME 80` must print `0.0.0.0:{a}`: {out:?}"
    );
    assert!(
        out.lines()
            .all(|l| l == format!("0.0.0.0:{a}") || l == format!("[::]:{a}")),
        "{out:?}"
    );
    let o = e.fails(&["port", &one, "81"]);
    assert!(o.stderr.contains("81"), "{o:?}");

    // inspect: NetworkSettings.Ports {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "A"}, ...]}
    let v = e.inspect(&one);
    let binds = v["NetworkSettings"]["Ports"]["80/tcp"]
        .as_array()
        .unwrap_or_else(|| panic!("NetworkSettings.Ports: {}", v["NetworkSettings"]["Ports"]));
    assert!(
        binds
            .iter()
            .any(|x| x["HostIp"] == "0.0.0.0" && x["HostPort"] == a.to_string().as_str()),
        "{binds:?}"
    );
    let hb = &v["HostConfig"]["PortBindings"]["80/tcp"][0];
    assert_eq!(hb["HostPort"], a.to_string().as_str(), "{hb}");

    // Hairpin: a container on the default bridge through the host address.
    let o = run_sh(&e, &[], &http_sh(&host, a, 25));
    assert!(o.success(), "container -> host:{a}: {o:?}");
    assert_eq!(o.stdout, "page-one\n", "{o:?}");

    // -P publishes the image's EXPOSE 80 to some high port.
    let exposed = e.image_name("expose");
    e.import(&exposed, &["CMD [\"sh\"]", "EXPOSE 80"]);
    let three = run_httpd(&e, &exposed, "web3", "page-three", &["-P"]);
    let out = e.ok(&["port", &three]);
    let p = check_port_line(&out, "80/tcp", "0.0.0.0", None);
    assert!(p >= 1024, "-P picked a privileged port: {out:?}");
    assert!(p != a && p != b, "{out:?}");
    assert_eq!(wait_http("127.0.0.1", p), "page-three\n");
    assert_eq!(wait_http(&host, p), "page-three\n");
}

/// `-p IP:HOST:CONTAINER` binds only that address; `/udp` is listed as
/// such; several `-p` on one container.
#[test]
fn publish_on_loopback_only_and_udp() {
    let e = engine!();
    let img = e.img().to_string();
    let (c, u) = (free_port(), free_port());
    let pc = format!("127.0.0.1:{c}:80");
    let pu = format!("{u}:5353/udp");
    let n = run_httpd(&e, &img, "lo", "loop", &["-p", &pc, "-p", &pu]);
    assert_eq!(wait_http("127.0.0.1", c), "loop\n");
    let host = host_addr();
    let r = http_get(&host, c);
    assert!(
        r.is_err(),
        "published on 127.0.0.1 only, yet {host}:{c} answered: {r:?}"
    );

    let out = e.ok(&["port", &n]);
    check_port_line(&out, "80/tcp", "127.0.0.1", Some(c));
    assert!(
        !out.contains(&format!("0.0.0.0:{c}")),
        "`port` shows a wildcard binding for 127.0.0.1: {out:?}"
    );
    check_port_line(&out, "5353/udp", "0.0.0.0", Some(u));
    let out = e.ok(&["port", &n, "5353/udp"]);
    assert!(
        out.lines().any(|l| l == format!("0.0.0.0:{u}")),
        "`port NAME 5353/udp`: {out:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. port already taken

/// A host port held by a host listener: `run -d -p PORT:80` fails with a
/// message naming the port, and the container does not run.
#[test]
fn published_port_taken_by_host_listener_fails() {
    let e = engine!();
    let img = e.img().to_string();
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let n = e.name("taken");
    let p = format!("{port}:80");
    let o = e.fails(&["run", "-d", "--name", &n, "-p", &p, &img, "sleep", "1000"]);
    assert!(
        o.stderr.contains(&port.to_string()),
        "the error must name port {port}: {o:?}"
    );
    // docker leaves it Created; it must not be running.
    if let Some(st) = e.status(&n) {
        assert_ne!(st, "running", "{n} runs despite the failed publish");
    }
    let ps = e.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(!ps.lines().any(|x| x.trim() == n), "{ps}");
    // The listener is untouched.
    assert_eq!(l.local_addr().unwrap().port(), port);
    drop(l);
}

// ---------------------------------------------------------------------------
// 3. user network: names, aliases, DNS

#[test]
fn user_network_reach_by_name_and_alias() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net = nets.create("net", &[]);
    let alias = e.name("alias");
    let web = run_httpd(
        &e,
        &img,
        "web",
        "by-name",
        &["--network", &net, "--network-alias", &alias],
    );
    let web_ip = ip_on(&e, &web, &net);
    let subnet = net_subnet(&e, &net);
    assert!(in_subnet(&web_ip, &subnet), "{web_ip} not in {subnet}");
    let client = run_sleeper(&e, "client", &["--network", &net]);

    // httpd may still be starting: retry for a while inside.
    let fetch = |host: &str| -> Output { exec_sh(&e, &client, &http_sh(host, 80, 50)) };
    let o = fetch(&web);
    assert!(o.success(), "GET by container name: {o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");
    let o = fetch(&alias);
    assert!(o.success(), "GET by --network-alias: {o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");

    for name in [web.as_str(), alias.as_str()] {
        let o = exec_sh(&e, &client, &format!("nslookup {name}"));
        assert!(o.success(), "nslookup {name}: {o:?}");
        assert!(
            o.stdout.contains(&web_ip),
            "nslookup {name} -> {web_ip}: {o:?}"
        );
    }
    // A one-shot `run --rm` on the network resolves too.
    let o = run_sh(&e, &["--network", &net], &http_sh(&web, 80, 25));
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");
    // Unknown names do not resolve.
    let o = exec_sh(&e, &client, &format!("nslookup {}", e.name("nosuch")));
    assert!(!o.success(), "unknown name resolved: {o:?}");
}

// ---------------------------------------------------------------------------
// 4. isolation between user networks

#[test]
fn separate_user_networks_cannot_reach_each_other() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net1 = nets.create("net1", &[]);
    let net2 = nets.create("net2", &[]);
    let s1 = net_subnet(&e, &net1);
    let s2 = net_subnet(&e, &net2);
    assert_ne!(s1, s2, "two networks got the same subnet");
    let web = run_httpd(&e, &img, "web", "net1-page", &["--network", &net1]);
    let ip = ip_on(&e, &web, &net1);

    // Control: from net1 it answers (by IP).
    let o = run_sh(
        &e,
        &["--network", &net1],
        &format!(
            "ping -c1 -W2 {ip} >/dev/null || exit 1; {}",
            http_sh(&ip, 80, 25)
        ),
    );
    assert!(o.success(), "same network, by IP: {o:?}");
    assert_eq!(o.stdout, "net1-page\n", "{o:?}");

    // From net2: no ping, no HTTP.
    let o = run_sh(
        &e,
        &["--network", &net2],
        &format!(
            "ping -c1 -W1 {ip} >/dev/null 2>&1 && echo PING-OK; ({}) && echo HTTP-OK; true",
            http_sh(&ip, 80, 1)
        ),
    );
    assert!(o.success(), "{o:?}");
    assert!(
        !o.stdout.contains("PING-OK") && !o.stdout.contains("HTTP-OK"),
        "a container on {net2} reached {ip} on {net1}: {o:?}"
    );
    // Nor by name (names are per network).
    let o = run_sh(&e, &["--network", &net2], &http_sh(&web, 80, 1));
    assert!(!o.success(), "{o:?}");
}

// ---------------------------------------------------------------------------
// 5. --network none / host

#[test]
fn network_none_has_only_lo_and_host_sees_host_links() {
    let e = engine!();
    let o = run_sh(&e, &["--network", "none"], "ls /sys/class/net");
    assert!(o.success(), "{o:?}");
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{o:?}"
    );
    let o = run_sh(
        &e,
        &["--network", "none"],
        "ip -o link | wc -l; ip -o -4 addr",
    );
    assert!(o.success(), "{o:?}");
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next().map(str::trim), Some("1"), "{o:?}");
    assert!(
        lines.all(|l| l.contains(" lo ") && l.contains("127.0.0.1")),
        "{o:?}"
    );
    let n = run_sleeper(&e, "none", &["--network", "none"]);
    assert_eq!(
        e.inspect_f(&n, "{{.NetworkSettings.IPAddress}}"),
        "",
        "--network none has no address"
    );
    assert_eq!(e.inspect_f(&n, "{{.HostConfig.NetworkMode}}"), "none");

    let before = host_links();
    let o = run_sh(&e, &["--network", "host"], "ls /sys/class/net");
    let after = host_links();
    assert!(o.success(), "{o:?}");
    let inside: BTreeSet<String> = o.stdout.split_whitespace().map(str::to_string).collect();
    // Links that existed all along (other tests add and remove veths).
    let stable: BTreeSet<String> = before.intersection(&after).cloned().collect();
    let missing: Vec<&String> = stable.difference(&inside).collect();
    assert!(
        missing.is_empty(),
        "--network host misses host links {missing:?}; inside: {inside:?}"
    );
    assert!(inside.len() > 1, "{inside:?}");
    // The host's address is configured inside.
    let host = host_addr();
    let o = run_sh(&e, &["--network", "host"], "ip -o -4 addr");
    assert!(o.stdout.contains(&format!("inet {host}/")), "{o:?}");
    let h = run_sleeper(&e, "host", &["--network", "host"]);
    assert_eq!(e.inspect_f(&h, "{{.HostConfig.NetworkMode}}"), "host");
}

// ---------------------------------------------------------------------------
// 6. default bridge

#[test]
fn default_bridge_address_gateway_hosts_and_dns() {
    let e = engine!();
    let n = run_sleeper(&e, "br", &["--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9"]);
    let ip = e.inspect_f(&n, "{{.NetworkSettings.IPAddress}}");
    assert!(ip.parse::<Ipv4Addr>().is_ok(), "IPAddress {ip:?}");
    assert_eq!(ip_on(&e, &n, "bridge"), ip);
    let gw = e.inspect_f(&n, "{{.NetworkSettings.Gateway}}");
    assert!(gw.parse::<Ipv4Addr>().is_ok(), "Gateway {gw:?}");
    let subnet = net_subnet(&e, "bridge");
    assert!(in_subnet(&ip, &subnet), "{ip} not in {subnet}");
    assert!(in_subnet(&gw, &subnet), "{gw} not in {subnet}");
    let v = net_inspect(&e, "bridge");
    assert_eq!(v["Driver"], "bridge", "{v}");

    // The address is configured on eth0, with a default route to the gateway.
    let o = exec_sh(&e, &n, "ip -o -4 addr show eth0; ip route");
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&format!("inet {ip}/")), "{o:?}");
    assert!(
        o.stdout.contains(&format!("default via {gw}")),
        "no default route via {gw}: {o:?}"
    );
    let o = exec_sh(&e, &n, &format!("ping -c1 -W2 {gw}"));
    assert!(o.success(), "ping the bridge gateway: {o:?}");

    // Outbound to the host's own address (the default route's interface).
    let srv = HostHttp::start("host-says-hi");
    let host = host_addr();
    let o = exec_sh(&e, &n, &http_sh(&host, srv.port, 5));
    assert!(o.success(), "bridge container -> host {host}: {o:?}");
    assert_eq!(o.stdout.trim(), "host-says-hi", "{o:?}");

    // /etc/hosts: localhost, the container's hostname with its IP, --add-host.
    let hostname = exec_sh(&e, &n, "hostname").stdout.trim().to_string();
    assert!(!hostname.is_empty());
    let hosts = exec_sh(&e, &n, "cat /etc/hosts").stdout;
    let has = |a: &str, name: &str| {
        hosts.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&a) && f[1..].contains(&name)
        })
    };
    assert!(has("127.0.0.1", "localhost"), "{hosts}");
    assert!(
        has(&ip, &hostname),
        "/etc/hosts lacks `{ip} {hostname}`:\n{hosts}"
    );
    assert!(
        has("1.2.3.4", "foo"),
        "/etc/hosts lacks --add-host:\n{hosts}"
    );
    let o = exec_sh(&e, &n, "cat /etc/hostname");
    assert_eq!(o.stdout.trim(), hostname, "{o:?}");
    let resolv = exec_sh(&e, &n, "cat /etc/resolv.conf").stdout;
    assert!(
        resolv.lines().any(|l| l.trim() == "nameserver 9.9.9.9"),
        "--dns: {resolv}"
    );
    let dns = e.inspect_f(&n, "{{json .HostConfig.Dns}}");
    assert_eq!(dns, "[\"9.9.9.9\"]");
    let eh = e.inspect_f(&n, "{{json .HostConfig.ExtraHosts}}");
    assert_eq!(eh, "[\"foo:1.2.3.4\"]");

    // Two containers on the default bridge get different addresses and reach
    // each other by IP (not by name: docker's default bridge has no DNS).
    let m = run_sleeper(&e, "br2", &[]);
    let ip2 = e.inspect_f(&m, "{{.NetworkSettings.IPAddress}}");
    assert_ne!(ip, ip2);
    let o = exec_sh(&e, &m, &format!("ping -c1 -W2 {ip}"));
    assert!(o.success(), "{o:?}");
}

// ---------------------------------------------------------------------------
// 7. network create/inspect/ls/connect/disconnect/rm/prune, --ip, --internal

#[test]
fn user_network_subnet_ip_inspect_and_ls() {
    let e = engine!();
    let nets = Nets::new(&e);
    let subnet = free_subnet(0);
    let (base, _) = parse_cidr(&subnet);
    let o = base.octets();
    let want_ip = format!("{}.{}.{}.50", o[0], o[1], o[2]);
    let net = nets.create("sub", &["--subnet", &subnet]);
    let c = run_sleeper(&e, "fixed", &["--network", &net, "--ip", &want_ip]);
    assert_eq!(ip_on(&e, &c, &net), want_ip);
    let out = exec_sh(&e, &c, "ip -o -4 addr show eth0").stdout;
    assert!(
        out.contains(&format!("inet {want_ip}/24")),
        "--ip not configured: {out:?}"
    );
    assert_eq!(
        e.inspect_f(&c, "{{.HostConfig.NetworkMode}}"),
        net,
        "NetworkMode"
    );

    let v = net_inspect(&e, &net);
    assert_eq!(v["Name"], net.as_str(), "{v}");
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "Id {id:?}"
    );
    assert_eq!(v["Driver"], "bridge", "{v}");
    assert_eq!(v["Scope"], "local", "{v}");
    assert_eq!(v["Internal"], false, "{v}");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.as_str(), "{v}");
    let label = e.test_label();
    let (lk, lv) = label.split_once('=').unwrap();
    assert_eq!(v["Labels"][lk], lv, "{v}");
    let cid = e.inspect_f(&c, "{{.Id}}");
    let ent = &v["Containers"][&cid];
    assert_eq!(ent["Name"], c.as_str(), "Containers: {}", v["Containers"]);
    assert_eq!(
        ent["IPv4Address"],
        format!("{want_ip}/24").as_str(),
        "{ent}"
    );
    // Same by name, by full id and by short id; -f works on networks.
    assert_eq!(
        e.ok(&["network", "inspect", "-f", "{{.Name}}", &id]).trim(),
        net
    );
    assert_eq!(
        e.ok(&["network", "inspect", "-f", "{{.Id}}", &id[..12]])
            .trim(),
        id
    );

    // network ls: docker's header and a row for the network.
    let ls = e.ok(&["network", "ls"]);
    let mut lines = ls.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(header, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], "{ls}");
    let row: Vec<&str> = ls
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(net.as_str()))
        .unwrap_or_else(|| panic!("{net} not in `network ls`:\n{ls}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, [&id[..12], net.as_str(), "bridge", "local"], "{ls}");
    for builtin in ["bridge", "host", "none"] {
        assert!(
            ls.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(builtin)),
            "`network ls` lacks {builtin}:\n{ls}"
        );
    }
    let q = e.ok(&["network", "ls", "-q", "--filter", &format!("name={net}")]);
    assert_eq!(q.trim(), &id[..12], "{q:?}");

    // A taken --ip and an --ip outside the subnet fail.
    let img = e.img().to_string();
    let d = e.name("dup");
    let o = e.fails(&[
        "run",
        "-d",
        "--name",
        &d,
        "--network",
        &net,
        "--ip",
        &want_ip,
        &img,
        "sleep",
        "100",
    ]);
    // docker 20.10 says only "Address already in use".
    assert!(
        o.stderr.contains(&want_ip) || o.stderr.contains("already in use"),
        "{o:?}"
    );
    if let Some(st) = e.status(&d) {
        assert_ne!(st, "running");
    }
    // Creating the same name twice fails.
    let label_arg = e.test_label();
    let o = e.fails(&["network", "create", "--label", &label_arg, &net]);
    assert!(o.stderr.contains(&net), "{o:?}");
}

#[test]
fn network_connect_disconnect_rm_and_prune() {
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("cd", &[]);
    let subnet = net_subnet(&e, &net);
    let c = run_sleeper(&e, "c", &[]);
    let links = |c: &str| -> Vec<String> {
        let o = exec_sh(&e, c, "ls /sys/class/net");
        assert!(o.success(), "{o:?}");
        o.stdout.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(links(&c), ["eth0", "lo"]);

    assert_eq!(e.ok(&["network", "connect", &net, &c]).trim(), "");
    assert_eq!(links(&c), ["eth0", "eth1", "lo"]);
    let ip = ip_on(&e, &c, &net);
    assert!(in_subnet(&ip, &subnet), "{ip} not in {subnet}");
    let o = exec_sh(&e, &c, "ip -o -4 addr show eth1");
    assert!(o.stdout.contains(&format!("inet {ip}/")), "{o:?}");
    let v = net_inspect(&e, &net);
    let cid = e.inspect_f(&c, "{{.Id}}");
    assert_eq!(v["Containers"][&cid]["Name"], c.as_str(), "{v}");
    // Connecting twice fails.
    e.fails(&["network", "connect", &net, &c]);

    // rm of a network with a running container fails.
    let o = e.fails(&["network", "rm", &net]);
    assert!(
        o.stderr.contains(&net) && o.stderr.contains("active endpoints"),
        "docker: `error while removing network: network NAME id ID has active endpoints`: {o:?}"
    );

    assert_eq!(e.ok(&["network", "disconnect", &net, &c]).trim(), "");
    assert_eq!(links(&c), ["eth0", "lo"]);
    let v = net_inspect(&e, &net);
    assert!(
        v["Containers"].as_object().is_none_or(|m| m.is_empty()),
        "{v}"
    );
    let net_id = v["Id"].as_str().unwrap_or_default().to_string();
    assert_eq!(e.ok(&["network", "rm", &net]).trim(), net);
    if e.is_berth() {
        // nothing of the network stays in /run (berth marks the rules it wrote for a bridge)
        let marker = std::path::Path::new("/run/berth-network/rules").join(&net_id);
        assert!(!marker.exists(), "{} left", marker.display());
    }
    let o = e.fails(&["network", "inspect", &net]);
    assert!(o.stderr.contains(&net), "{o:?}");
    let ls = e.ok(&["network", "ls"]);
    assert!(!ls.contains(&net), "{ls}");

    // rm with a container attached (stopped or running) after the container
    // goes: succeeds.
    let net2 = nets.create("busy", &[]);
    let d = run_sleeper(&e, "d", &["--network", &net2]);
    e.fails(&["network", "rm", &net2]);
    e.ok(&["rm", "-f", &d]);
    assert_eq!(e.ok(&["network", "rm", &net2]).trim(), net2);

    // prune -f removes unused networks (filtered on this test's label so
    // other tests' networks on a shared daemon are left alone) and keeps the
    // ones in use.
    let unused = nets.create("unused", &[]);
    let used = nets.create("used", &[]);
    let u = run_sleeper(&e, "u", &["--network", &used]);
    let filter = format!("label={}", e.test_label());
    let out = e.ok(&["network", "prune", "-f", "--filter", &filter]);
    assert!(
        out.starts_with("Deleted Networks:\n"),
        "docker prints `Deleted Networks:` then the names: {out:?}"
    );
    assert!(out.lines().any(|l| l == unused), "{out:?}");
    assert!(!out.lines().any(|l| l == used), "{out:?}");
    e.fails(&["network", "inspect", &unused]);
    net_inspect(&e, &used);
    e.ok(&["rm", "-f", &u]);

    // Built-in networks cannot be removed.
    let o = e.fails(&["network", "rm", "bridge"]);
    assert!(o.stderr.contains("bridge"), "{o:?}");
}

/// The gateway of the host's default route, when the host itself can
/// ping it (something outside this host that answers).
fn outside_addr() -> Option<String> {
    let route = host_sh("ip", &["-4", "-o", "route", "show", "default"]);
    let gw = route
        .split_whitespace()
        .skip_while(|w| *w != "via")
        .nth(1)?
        .to_string();
    let ok = Command::new("busybox")
        .args(["ping", "-c1", "-W2", &gw])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(gw)
}

/// `--internal`: nothing outside the host is reachable (docker drops the
/// forwarded traffic); containers on it still reach each other by name.
/// The host's own non-bridge address: unreachable for berth, as with
/// docker >= 25 (no default route on internal networks); docker 20.10
/// still gave them a default route and answered from the host's INPUT, so
/// that part is berth-only.
#[test]
fn internal_network_cannot_reach_outside() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let internal = nets.create("int", &["--internal"]);
    let normal = nets.create("ext", &[]);
    assert_eq!(net_inspect(&e, &internal)["Internal"], true);
    assert_eq!(net_inspect(&e, &normal)["Internal"], false);

    match outside_addr() {
        Some(gw) => {
            let ping = format!("ping -c1 -W2 {gw} >/dev/null 2>&1 && echo REACHED; true");
            // Control: a normal user network reaches it (NAT).
            let o = run_sh(&e, &["--network", &normal], &ping);
            assert!(
                o.stdout.contains("REACHED"),
                "normal network -> {gw}: {o:?}"
            );
            let o = run_sh(&e, &["--network", &internal], &ping);
            assert!(
                !o.stdout.contains("REACHED"),
                "a container on an --internal network reached {gw} outside the host: {o:?}"
            );
        }
        None => eprintln!("SKIP (part): the host cannot ping its default gateway"),
    }

    let srv = HostHttp::start("host-ok");
    let host = host_addr();
    // Control: a normal user network reaches the host's address.
    let o = run_sh(&e, &["--network", &normal], &http_sh(&host, srv.port, 5));
    assert!(o.success(), "normal network -> host: {o:?}");
    assert_eq!(o.stdout.trim(), "host-ok", "{o:?}");
    let o = run_sh(
        &e,
        &["--network", &internal],
        &format!("({}) && echo REACHED; true", http_sh(&host, srv.port, 1)),
    );
    if e.is_berth() {
        assert!(
            !o.stdout.contains("REACHED"),
            "a container on an --internal network reached the host's {host}: {o:?}"
        );
    } else if o.stdout.contains("REACHED") {
        eprintln!("NOTE: this docker lets --internal containers reach the host's {host}");
    }

    // But containers on the internal network reach each other by name.
    let web = run_httpd(&e, &img, "web", "inside", &["--network", &internal]);
    let o = run_sh(&e, &["--network", &internal], &http_sh(&web, 80, 25));
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "inside\n", "{o:?}");
}

// ---------------------------------------------------------------------------
// 8. concurrent IPAM

#[test]
fn fifty_concurrent_runs_get_distinct_addresses() {
    const N: usize = 50;
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("many", &[]);
    let subnet = net_subnet(&e, &net);
    let img = e.img().to_string();
    let names: Vec<String> = (0..N).map(|i| e.name(&format!("m{i}"))).collect();
    let out_dir = e.path().join("many");
    std::fs::create_dir_all(&out_dir).unwrap();

    let results: Vec<(String, Option<i32>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let (bin, root) = (e.bin.clone(), e.root.clone());
                let (img, net, dir) = (img.clone(), net.clone(), out_dir.clone());
                s.spawn(move || {
                    let mut cmd = Command::new(&bin);
                    if let Some(r) = &root {
                        cmd.arg("--root").arg(r);
                    }
                    cmd.args(["run", "-d", "--name", n, "--network", &net, &img])
                        .args(["sleep", "1000"]);
                    // Files, not pipes: a container may inherit them.
                    let so = dir.join(format!("{i}.out"));
                    let se = dir.join(format!("{i}.err"));
                    cmd.stdin(Stdio::null())
                        .stdout(std::fs::File::create(&so).unwrap())
                        .stderr(std::fs::File::create(&se).unwrap());
                    let mut child = cmd.spawn().expect("spawn engine");
                    let start = Instant::now();
                    let code = loop {
                        if let Some(st) = child.try_wait().unwrap() {
                            break st.code();
                        }
                        if start.elapsed() > Duration::from_secs(240) {
                            let _ = child.kill();
                            let _ = child.wait();
                            break None;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    };
                    let err = std::fs::read_to_string(&se).unwrap_or_default();
                    (n.clone(), code, err)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<_> = results.iter().filter(|r| r.1 != Some(0)).collect();
    assert!(failed.is_empty(), "concurrent runs failed: {failed:#?}");

    let mut args = vec!["inspect"];
    args.extend(names.iter().map(String::as_str));
    let out = e.ok(&args);
    let v: Value = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), N);
    let mut ips = HashSet::new();
    for c in arr {
        assert_eq!(c["State"]["Status"], "running", "{}", c["Name"]);
        let ip = c["NetworkSettings"]["Networks"][&net]["IPAddress"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            in_subnet(&ip, &subnet),
            "{}: {ip:?} not in {subnet}",
            c["Name"]
        );
        assert!(ips.insert(ip.clone()), "duplicate address {ip}");
    }
    assert_eq!(ips.len(), N);
    let v = net_inspect(&e, &net);
    assert_eq!(v["Containers"].as_object().map(|m| m.len()), Some(N), "{v}");

    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    e.cmd_with(&args, berth_e2e::cmd::Stdin::Null, Duration::from_secs(240))
        .ok();
    let v = net_inspect(&e, &net);
    assert!(
        v["Containers"].as_object().is_none_or(|m| m.is_empty()),
        "{v}"
    );
}

// ---------------------------------------------------------------------------
// 9. teardown (berth only)

/// Lines of the firewall rulesets (iptables-save, ip6tables-save, nft) mentioning `needle`.
fn firewall_lines(needle: &str) -> Vec<String> {
    let mut text = host_sh("iptables-save", &[]);
    text.push_str(&host_sh("ip6tables-save", &[]));
    text.push_str(&host_sh("nft", &["list", "ruleset"]));
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// `ip -o link` lines mentioning `needle`.
fn link_lines(needle: &str) -> Vec<String> {
    host_sh("ip", &["-o", "link"])
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn teardown_leaves_no_bridge_veth_or_firewall_rule() {
    let e = engine!();
    berth_only!(e, "docker's own names and chains differ");
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net = nets.create("td", &[]);
    let id = net_inspect(&e, &net)["Id"].as_str().unwrap().to_string();
    let br = format!("br-{}", &id[..12]);
    let port = free_port();
    let p = format!("{port}:80");
    let web = run_httpd(&e, &img, "web", "td", &["--network", &net, "-p", &p]);
    let other = run_sleeper(&e, "def", &["-p", &format!("{}:80", free_port())]);
    assert_eq!(wait_http("127.0.0.1", port), "td\n");
    let ip = ip_on(&e, &web, &net);
    let ip_def = e.inspect_f(&other, "{{.NetworkSettings.IPAddress}}");

    assert!(
        !link_lines(&br).is_empty(),
        "berth names a user network's bridge br-<id[..12]>; no {br} in `ip -o link`"
    );
    let veths: Vec<String> = host_sh("ip", &["-o", "link", "show", "master", &br])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .collect();
    assert_eq!(veths.len(), 1, "one veth on {br}: {veths:?}");
    assert!(!firewall_lines(&ip).is_empty() || !firewall_lines(&br).is_empty());

    e.ok(&["rm", "-f", &web, &other]);
    assert_eq!(e.ok(&["network", "rm", &net]).trim(), net);

    for needle in [br.as_str(), &veths[0]] {
        let l = link_lines(needle);
        assert!(l.is_empty(), "left after rm: {l:?}");
    }
    for needle in [
        id[..12].to_string(),
        br.clone(),
        format!("{ip}/"),
        format!("{ip}:"),
        format!("{ip_def}/"),
        format!("{ip_def}:"),
        format!("dport {port} "),
    ] {
        let l = firewall_lines(&needle);
        assert!(l.is_empty(), "firewall rules left with {needle:?}: {l:#?}");
    }
    let ls = e.ok(&["network", "ls"]);
    assert!(!ls.contains(&net), "{ls}");
}
