//! The embedded DNS server end to end on loopback addresses (no bridge needed): names and
//! aliases from the db, PTR, NXDOMAIN in the network's zone, forwarding to a fake upstream,
//! SERVFAIL without upstreams, TCP, a real client (busybox nslookup) and the idle exit.

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
            let code = dns::run_with_idle(&db, &run_dir, "net1", Duration::from_secs(1));
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
    let code = dns::run_with_idle(&db, &run_dir, "net1", Duration::from_secs(1));
    assert_eq!(code, 1);
    assert!(pid.exists());
    // Unknown network.
    assert_eq!(dns::run(&db, &run_dir, "nonet"), 1);

    let w = Connection::open(&db).unwrap();
    w.execute("DELETE FROM endpoints", []).unwrap();
    assert_eq!(done.recv_timeout(Duration::from_secs(10)).unwrap(), 0);
    assert!(!pid.exists());
}
