//! Helpers of the root integration tests: namespaces, listeners, per-test fixtures.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use network::{Endpoint, EndpointRequest, Manager, NetworkConfig};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

pub fn rand_hex(n: usize) -> String {
    let mut s = String::new();
    let mut f = std::fs::File::open("/dev/urandom").unwrap();
    let mut b = vec![0u8; n];
    f.read_exact(&mut b).unwrap();
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// A network namespace held open by `unshare -n sleep 1000`; killed on drop.
pub struct Ns {
    pub child: Child,
}

impl Ns {
    pub fn new() -> Ns {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "1000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare -n sleep");
        let ns = Ns { child };
        // unshare execs sleep in the same process: wait until the namespace is the new one
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(l) = std::fs::read_link(ns.path()) {
                if l != host
                    && std::fs::read_to_string(ns.proc("comm"))
                        .unwrap_or_default()
                        .trim()
                        == "sleep"
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "namespace never appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        ns
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn proc(&self, f: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{f}", self.pid()))
    }

    pub fn path(&self) -> PathBuf {
        self.proc("ns/net")
    }

    /// Run busybox inside the namespace.
    pub fn busybox(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.path().display()))
            .arg("busybox")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter busybox")
    }

    /// `busybox nc` inside the namespace: send `input`, return what came back.
    pub fn nc(&self, host: &str, port: u16, input: &str) -> String {
        let mut child = Command::new("nsenter")
            .arg(format!("--net={}", self.path().display()))
            .args(["busybox", "nc", "-w", "3", host, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter busybox nc");
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn spawn_busybox(&self, args: &[&str]) -> Child {
        Command::new("nsenter")
            .arg(format!("--net={}", self.path().display()))
            .arg("busybox")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter busybox")
    }

    /// Reachable: up to three 1-second pings (the first may be lost to a fresh link's ARP).
    pub fn ping(&self, ip: Ipv4Addr) -> bool {
        (0..3).any(|_| self.ping_once(ip))
    }

    /// For "must not reach": one ping.
    pub fn ping_once(&self, ip: Ipv4Addr) -> bool {
        let out = self.busybox(&["ping", "-c1", "-W1", &ip.to_string()]);
        out.status.success()
    }

    /// The namespace's routing table, read through /proc/PID/net/route.
    pub fn has_default_route(&self) -> bool {
        let text = std::fs::read_to_string(self.proc("net/route")).unwrap();
        text.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A killable child process (listeners inside namespaces).
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One test's store and what it created; on drop (also when a test panics) everything of the
/// test is released and removed.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub mgr: Manager,
    pub tag: String,
    pub nets: Vec<NetworkConfig>,
    pub containers: Vec<String>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mgr = Manager::open(&dir.path().join("network.db")).unwrap();
        Fixture {
            _dir: dir,
            mgr,
            tag: rand_hex(3),
            nets: Vec::new(),
            containers: Vec::new(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self._dir.path().join("network.db")
    }

    pub fn net(&mut self, base: &str, subnet: &str, internal: bool) -> NetworkConfig {
        let name = format!("t-{base}-{}", self.tag);
        let n = self
            .mgr
            .create(&name, Some(subnet), None, internal, BTreeMap::new())
            .unwrap();
        self.nets.push(n.clone());
        n
    }

    pub fn container(&mut self) -> String {
        let id = rand_hex(32);
        self.containers.push(id.clone());
        id
    }

    pub fn connect(&mut self, net: &NetworkConfig, ns: &Ns, name: &str) -> (String, Endpoint) {
        let id = self.container();
        let ep = self
            .mgr
            .connect(
                net,
                &id,
                name,
                &[format!("{name}-alias")],
                &ns.path(),
                "eth0",
                &EndpointRequest::default(),
            )
            .unwrap();
        (id, ep)
    }

    /// Nothing of this test left: no link, no rule, no row.
    pub fn assert_clean(&self) {
        let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
        let links = String::from_utf8_lossy(&links.stdout).to_string();
        let rules = ruleset();
        for n in &self.nets {
            assert!(
                !links.contains(&format!("{}:", n.bridge))
                    && !links.contains(&format!("{}@", n.bridge)),
                "bridge {} left:\n{links}",
                n.bridge
            );
            assert!(!rules.contains(&n.id), "rules of {} left:\n{rules}", n.name);
        }
        for c in &self.containers {
            assert!(!rules.contains(c.as_str()), "rules of container {c} left");
            assert!(self.mgr.endpoints_of_container(c).unwrap().is_empty());
            assert!(self.mgr.ports_of(c).unwrap().is_empty());
        }
        assert!(
            self.mgr.list().unwrap().is_empty(),
            "networks left in the store"
        );
        let conn = rusqlite_count(&self.db());
        assert_eq!(conn, 0, "rows left in the store");
    }

    pub fn teardown(&mut self) {
        let _ = self.mgr.reconcile(&HashSet::new());
        for n in self.nets.clone() {
            let _ = self.mgr.remove(&n.id);
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Networks in the store, seen through a second connection (so only committed rows count).
pub fn rusqlite_count(db: &std::path::Path) -> i64 {
    let m = Manager::open(db).unwrap();
    m.list().unwrap().len() as i64
}

/// The host's address on its default route (eth0's).
pub fn host_ip() -> Ipv4Addr {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9")
        .or_else(|_| s.connect("8.8.8.8:53"))
        .unwrap();
    match s.local_addr().unwrap().ip() {
        std::net::IpAddr::V4(ip) => ip,
        other => panic!("host address {other} is not IPv4"),
    }
}

pub fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

pub fn retry<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..50 {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Every firewall rule of the host: iptables-save's, ip6tables-save's and nft's views.
pub fn ruleset() -> String {
    let mut out = String::new();
    for (prog, args) in [
        ("iptables-save", &[][..]),
        ("ip6tables-save", &[][..]),
        ("nft", &["list", "ruleset"][..]),
    ] {
        if let Ok(o) = Command::new(prog).args(args).output() {
            out.push_str(&String::from_utf8_lossy(&o.stdout));
        }
    }
    out
}
