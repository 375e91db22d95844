//! The embedded DNS server end to end on loopback addresses (no bridge needed): names and
//! aliases from the db, PTR, NXDOMAIN in the network's zone, forwarding to a fake upstream,
//! SERVFAIL without upstreams, TCP, a real client (busybox nslookup), clients of other networks
//! refused, the ready pipe of `berth __dns`, the idle exit and the exit with the network.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use network::dns;
use rusqlite::Connection;

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;

fn make_db(dir: &Path, gateway: Ipv4Addr) -> PathBuf {
    let path = dir.join("berth.db");
    let c = Connection::open(&path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute_batch(
        "CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
         CREATE TABLE endpoints (container_id TEXT, network_id TEXT, name TEXT, aliases TEXT,
                                 ip TEXT, mac TEXT, host_veth TEXT);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO networks VALUES ('net1', 'testnet', ?1)",
        [format!(
            r#"{{"gateway":"{gateway}","subnet":"10.89.1.0/24"}}"#
        )],
    )
    .unwrap();
    c.execute_batch(
        r#"INSERT INTO endpoints VALUES ('aaaaaaaaaaaa0000000000000000000000000000000000000000000000000000',
               'net1', 'web', '["www"]', '10.89.1.2', '02:00:0a:59:01:02', 'veth-a');
           INSERT INTO endpoints VALUES ('bbbbbbbbbbbb0000000000000000000000000000000000000000000000000000',
               'net1', 'api', '[]', '10.89.1.3', '02:00:0a:59:01:03', 'veth-b');"#,
    )
    .unwrap();
    path
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&RD.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

#[derive(Debug)]
struct Reply {
    id: u16,
    flags: u16,
    rcode: u16,
    /// (type, rdata) of the answers.
    answers: Vec<(u16, Vec<u8>)>,
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn skip_name(b: &[u8], mut i: usize) -> usize {
    loop {
        match b[i] {
            0 => return i + 1,
            l if l & 0xc0 == 0xc0 => return i + 2,
            l => i += 1 + usize::from(l),
        }
    }
}

fn parse_reply(b: &[u8]) -> Reply {
    assert!(b.len() >= 12, "short reply {b:?}");
    let mut i = 12;
    for _ in 0..be16(b, 4) {
        i = skip_name(b, i) + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..be16(b, 6) {
        i = skip_name(b, i);
        let t = be16(b, i);
        let len = usize::from(be16(b, i + 8));
        answers.push((t, b[i + 10..i + 10 + len].to_vec()));
        i += 10 + len;
    }
    Reply {
        id: be16(b, 0),
        flags: be16(b, 2) & !0xf,
        rcode: be16(b, 2) & 0xf,
        answers,
    }
}

fn ask_udp(server: SocketAddr, id: u16, name: &str, qtype: u16) -> Reply {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&query(id, name, qtype), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    assert_eq!(from, server);
    parse_reply(&buf[..n])
}

fn ask_tcp(server: SocketAddr, id: u16, name: &str, qtype: u16) -> Reply {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query(id, name, qtype);
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    s.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut r).unwrap();
    parse_reply(&r)
}

fn a(ip: &str) -> (u16, Vec<u8>) {
    (1, ip.parse::<Ipv4Addr>().unwrap().octets().to_vec())
}

/// A fake upstream resolver: answers every A query with 192.0.2.7 and reports the ids it saw.
fn fake_upstream(addr: &str) -> (SocketAddr, mpsc::Receiver<u16>) {
    let sock = UdpSocket::bind(addr).unwrap();
    let local = sock.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            let qend = skip_name(q, 12) + 4;
            let mut r = q[..qend].to_vec();
            r[2] = 0x81; // QR, RD
            r[3] = 0x80; // RA
            r[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            let _ = tx.send(be16(q, 0));
            let _ = sock.send_to(&r, peer);
        }
    });
    (local, rx)
}

#[test]
fn dns_serves_names_forwards_and_exits_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 1);
    let db = make_db(dir.path(), listen);
    let (upstream, seen) = fake_upstream("127.66.0.2:0");
    // A silent upstream first: the server must move on to the next one.
    let silent = UdpSocket::bind("127.66.0.4:0").unwrap();

    let sockets = dns::bind(listen, 0).unwrap();
    let server = sockets.local_addr().unwrap();
    let (done_tx, done) = mpsc::channel();
    {
        let db = db.clone();
        let ups = vec![silent.local_addr().unwrap(), upstream];
        thread::spawn(move || {
            let res = dns::serve_sockets(sockets, &db, "net1", &ups, Duration::from_secs(1));
            done_tx.send(res.map_err(|e| e.to_string())).unwrap();
        });
    }

    // Container name, alias, short id, NAME.NETWORK, any case.
    for (i, name) in ["web", "WWW", "aaaaaaaaaaaa", "web.testnet", "Www.TestNet."]
        .iter()
        .enumerate()
    {
        let r = ask_udp(server, 100 + i as u16, name, 1);
        assert_eq!(r.id, 100 + i as u16, "{name}");
        assert_eq!((r.flags, r.rcode), (QR | AA | RD | RA, 0), "{name}");
        assert_eq!(r.answers, vec![a("10.89.1.2")], "{name}");
    }
    let r = ask_udp(server, 7, "api", 1);
    assert_eq!(r.answers, vec![a("10.89.1.3")]);
    // AAAA of a known name: NODATA.
    let r = ask_udp(server, 8, "web", 28);
    assert_eq!((r.rcode, r.answers.len()), (0, 0));
    // PTR of a container's address.
    let r = ask_udp(server, 9, "3.1.89.10.in-addr.arpa", 12);
    assert_eq!(r.rcode, 0);
    assert_eq!(r.answers, vec![(12, encode_name("api.testnet"))]);
    // An unknown name in the network's own zone is not forwarded.
    let r = ask_udp(server, 10, "nope.testnet", 1);
    assert_eq!((r.id, r.rcode), (10, 3));
    assert!(seen.try_recv().is_err(), "nothing forwarded yet");

    // Other names go upstream (after the silent one times out) and come back with our id.
    let t = Instant::now();
    let r = ask_udp(server, 0xabcd, "example.com", 1);
    assert_eq!(r.id, 0xabcd);
    assert_eq!(r.rcode, 0);
    assert_eq!(r.answers, vec![a("192.0.2.7")]);
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    seen.recv_timeout(Duration::from_secs(1)).unwrap();

    // While a forward is pending (2 s on the silent upstream), local names still answer at once.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(&query(0x5555, "example.org", 1), server)
        .unwrap();
    let t = Instant::now();
    let r = ask_udp(server, 11, "web", 1);
    assert_eq!(r.answers, vec![a("10.89.1.2")]);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(parse_reply(&buf[..n]).id, 0x5555);

    // TCP, for a local name and a forwarded one.
    let r = ask_tcp(server, 12, "www", 1);
    assert_eq!((r.id, r.answers.clone()), (12, vec![a("10.89.1.2")]));
    let r = ask_tcp(server, 13, "example.net", 1);
    assert_eq!((r.id, r.answers.clone()), (13, vec![a("192.0.2.7")]));

    // A container that joins is answered right away.
    let w = Connection::open(&db).unwrap();
    w.execute(
        "INSERT INTO endpoints VALUES ('cccccccccccc', 'net1', 'late', NULL, '10.89.1.9', NULL, NULL)",
        [],
    )
    .unwrap();
    assert_eq!(ask_udp(server, 14, "late", 1).answers, vec![a("10.89.1.9")]);

    // Garbage gets FORMERR or nothing, and the server goes on.
    let g = UdpSocket::bind("127.0.0.1:0").unwrap();
    g.send_to(&[1, 2, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0xc0], server)
        .unwrap();
    g.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = g.recv(&mut buf).unwrap();
    assert_eq!(&buf[..4], &[1, 2, 0x80, 0x81]);
    assert_eq!(n, 12);
    assert_eq!(ask_udp(server, 15, "web", 1).answers, vec![a("10.89.1.2")]);

    // The last endpoint leaves: the server exits after `idle`.
    assert!(done.try_recv().is_err());
    w.execute("DELETE FROM endpoints WHERE network_id = 'net1'", [])
        .unwrap();
    let t = Instant::now();
    done.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    // Both sockets are closed.
    assert!(TcpStream::connect_timeout(&server, Duration::from_secs(1)).is_err());
}

#[test]
fn dns_servfail_quickly_without_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 5);
    let db = make_db(dir.path(), listen);
    let sockets = dns::bind(listen, 0).unwrap();
    let server = sockets.local_addr().unwrap();
    let handle = {
        let db = db.clone();
        thread::spawn(move || dns::serve_sockets(sockets, &db, "net1", &[], Duration::from_secs(1)))
    };
    let t = Instant::now();
    let r = ask_udp(server, 42, "unknown.example", 1);
    assert_eq!((r.id, r.rcode, r.answers.len()), (42, 2, 0));
    let r = ask_tcp(server, 43, "unknown", 1);
    assert_eq!((r.id, r.rcode), (43, 2));
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(ask_udp(server, 44, "web", 1).answers, vec![a("10.89.1.2")]);

    // The db disappears (the root was wiped): the server exits after `idle`.
    drop(dir);
    let t = Instant::now();
    while !handle.is_finished() {
        assert!(t.elapsed() < Duration::from_secs(5), "still serving");
        thread::sleep(Duration::from_millis(50));
    }
    handle.join().unwrap().unwrap();
}

/// A real resolver client against port 53 (root, busybox-static; skipped without them).
#[test]
fn dns_busybox_nslookup() {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipped: no /bin/busybox");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 6);
    let db = make_db(dir.path(), listen);
    let sockets = match dns::bind(listen, 53) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    thread::spawn(move || dns::serve_sockets(sockets, &db, "net1", &[], Duration::from_secs(2)));
    let out = std::process::Command::new("/bin/busybox")
        .args(["nslookup", "www", "127.66.0.6"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("10.89.1.2"), "{text}");
    let out = std::process::Command::new("/bin/busybox")
        .args(["nslookup", "10.89.1.3", "127.66.0.6"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("api.testnet"), "{text}");
}

/// `berth __dns`: serves on the gateway's port 53 with a pid file, removed on the idle exit.
#[test]
fn dns_run_writes_pid_file_and_exits_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 8);
    let db = make_db(dir.path(), listen);
    let run_dir = dir.path().join("run");
    let pid = run_dir.join("dns-net1.pid");
    let (done_tx, done) = mpsc::channel();
    {
        let (db, run_dir) = (db.clone(), run_dir.clone());
        thread::spawn(move || {
            let code = dns::run_with_idle(&db, &run_dir, "net1", Duration::from_secs(1), None);
            done_tx.send(code).unwrap();
        });
    }
    let t = Instant::now();
    while !pid.exists() {
        if let Ok(code) = done.try_recv() {
            // Port 53 not available to this test (not root, or taken on all addresses).
            eprintln!("skipped: run exited with {code}");
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no pid file");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap().trim(),
        std::process::id().to_string()
    );
    let server: SocketAddr = (listen, 53).into();
    assert_eq!(ask_udp(server, 1, "web", 1).answers, vec![a("10.89.1.2")]);
    assert_eq!(ask_tcp(server, 2, "api", 1).answers, vec![a("10.89.1.3")]);

    // A second server for the same network cannot take the port: it fails without touching
    // the pid file.
    let code = dns::run_with_idle(&db, &run_dir, "net1", Duration::from_secs(1), None);
    assert_eq!(code, 1);
    assert!(pid.exists());
    // Unknown network.
    assert_eq!(dns::run(&db, &run_dir, "nonet", None), 1);

    let w = Connection::open(&db).unwrap();
    w.execute("DELETE FROM endpoints", []).unwrap();
    assert_eq!(done.recv_timeout(Duration::from_secs(10)).unwrap(), 0);
    assert!(!pid.exists());
}

/// A local IPv4 address that is not loopback (the source of the default route), as a client
/// outside every test subnet; `None` without a default route.
fn outside_addr() -> Option<Ipv4Addr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// A TCP connection to `server` from `from` (std cannot bind before connecting).
fn tcp_from(from: Ipv4Addr, server: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let sin = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let SocketAddr::V4(to) = server else {
        panic!("{server}")
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, owned by the TcpStream right away; bind and connect get valid
    // sockaddr_in structs of the given length.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let a = sin(from, 0);
        let rc = libc::bind(fd, &a as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let b = sin(*to.ip(), to.port());
        let rc = libc::connect(fd, &b as *const _ as *const libc::sockaddr, len);
        assert_eq!(
            rc,
            0,
            "connect {server}: {}",
            std::io::Error::last_os_error()
        );
        stream
    }
}

/// A container of another network must not learn this one's names: a client whose address is
/// outside the network's subnet gets REFUSED over UDP, and its TCP connection is closed
/// unanswered. (Clients on the subnet, and the host over loopback, are answered: every other
/// test here.)
#[test]
fn dns_refuses_clients_outside_the_subnet() {
    let Some(outside) = outside_addr() else {
        eprintln!("skipped: no non-loopback IPv4 address");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 10);
    let db = make_db(dir.path(), listen);
    let sockets = dns::bind(listen, 0).unwrap();
    let server = sockets.local_addr().unwrap();
    thread::spawn(move || dns::serve_sockets(sockets, &db, "net1", &[], Duration::from_secs(30)));
    assert_eq!(ask_udp(server, 1, "web", 1).answers, vec![a("10.89.1.2")]);

    let s = UdpSocket::bind((outside, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&query(2, "web", 1), server).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = s.recv_from(&mut buf).unwrap();
    let r = parse_reply(&buf[..n]);
    assert_eq!((r.id, r.rcode, r.answers.len()), (2, 5, 0), "{r:?}");

    let mut t = tcp_from(outside, server);
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query(3, "web", 1);
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    let _ = t.write_all(&out);
    let mut got = Vec::new();
    match t.read_to_end(&mut got) {
        Ok(_) => assert!(got.is_empty(), "answered over TCP: {got:?}"),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
}

/// `berth __dns` says `ok` on its ready pipe once it serves; a second server for the network
/// reports its bind error there (the engine shows it to the user); and when the network goes
/// from the db, the server exits at once (not after the idle time), its port free again.
#[test]
fn dns_run_reports_ready_and_exits_with_its_network() {
    let dir = tempfile::tempdir().unwrap();
    let listen = Ipv4Addr::new(127, 66, 0, 11);
    let db = make_db(dir.path(), listen);
    let run_dir = dir.path().join("run");
    let log = dns::log_file(&run_dir, "net1");
    let pipe = || {
        let (r, w) = nix::unistd::pipe().unwrap();
        (std::fs::File::from(r), std::fs::File::from(w))
    };
    let (r, w) = pipe();
    let (done_tx, done) = mpsc::channel();
    {
        let (db, run_dir) = (db.clone(), run_dir.clone());
        thread::spawn(move || {
            let idle = Duration::from_secs(3600);
            done_tx.send(dns::run_with_idle(&db, &run_dir, "net1", idle, Some(w)))
        });
    }
    if let Err(e) = dns::wait_ready(r, &log) {
        // Port 53 not available to this test (not root, or taken on all addresses).
        eprintln!("skipped: {e}");
        return;
    }
    assert!(dns::pid_file(&run_dir, "net1").exists());
    let server: SocketAddr = (listen, 53).into();
    assert_eq!(ask_udp(server, 1, "web", 1).answers, vec![a("10.89.1.2")]);

    let (r2, w2) = pipe();
    let code = dns::run_with_idle(&db, &run_dir, "net1", Duration::from_secs(1), Some(w2));
    assert_eq!(code, 1);
    let err = dns::wait_ready(r2, &log).unwrap_err();
    assert!(
        err.contains("127.66.0.11:53") && err.contains("in use"),
        "{err}"
    );

    let w = Connection::open(&db).unwrap();
    w.execute("DELETE FROM networks WHERE id = 'net1'", [])
        .unwrap();
    // bounded only so that a hang fails instead of blocking the suite
    let code = done.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(code, 0);
    assert!(!dns::pid_file(&run_dir, "net1").exists());
    UdpSocket::bind(server).expect("udp port 53 free again");
    std::net::TcpListener::bind(server).expect("tcp port 53 free again");
}
