//! The server: a snapshot cache of the db, answering, forwarding, and the socket loop.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::names::Snapshot;
use super::wire::*;
use super::*;

// ---------------------------------------------------------------------------------------------
// The server

/// What identifies a version of the db files: (mtime, size, inode) of the db and its WAL.
type FileSig = [Option<(SystemTime, u64, u64)>; 2];

fn file_sig(db: &Path) -> FileSig {
    let one = |p: &Path| {
        fs::metadata(p).ok().map(|m| {
            (
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                m.ino(),
            )
        })
    };
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [one(db), one(Path::new(&wal))]
}

struct Cache {
    sig: FileSig,
    loaded: Instant,
    snap: Arc<Snapshot>,
}

struct Server {
    db: PathBuf,
    network_id: String,
    upstreams: Vec<SocketAddr>,
    cache: Mutex<Option<Cache>>,
    inflight: AtomicUsize,
    tcp_conns: AtomicUsize,
    stop: AtomicBool,
    last_error: Mutex<String>,
}

enum Outcome {
    Reply(Query, Vec<u8>),
    Forward(Query),
    Drop,
}

impl Server {
    /// The db as of now: the cached snapshot while the db files look unchanged (and it is not
    /// older than [`CACHE_MAX_AGE`]), else a fresh one. `fresh` forces a reload unless the
    /// cached one was loaded within the last few milliseconds.
    fn snapshot(&self, fresh: bool) -> Result<Arc<Snapshot>, DnsError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let sig = file_sig(&self.db);
        if let Some(c) = cache.as_ref() {
            let age = c.loaded.elapsed();
            let reuse = if fresh {
                age < Duration::from_millis(5) && c.sig == sig
            } else {
                age < CACHE_MAX_AGE && c.sig == sig
            };
            if reuse {
                return Ok(c.snap.clone());
            }
        }
        let snap = if sig[0].is_none() && !self.db.exists() {
            // The db is gone (the root was wiped): the network is gone with it.
            Arc::new(Snapshot::default())
        } else {
            Arc::new(Snapshot::load(&self.db, &self.network_id)?)
        };
        *cache = Some(Cache {
            sig,
            loaded: Instant::now(),
            snap: snap.clone(),
        });
        Ok(snap)
    }

    /// Answers `msg` from the db if it can; otherwise says it must be forwarded.
    fn resolve(&self, msg: &[u8], peer: Option<IpAddr>) -> Outcome {
        let q = match parse_query(msg) {
            Ok(q) => q,
            Err(_) => {
                return match formerr_raw(msg) {
                    Some(r) => match parse_header_only(msg) {
                        Some(q) => Outcome::Reply(q, r),
                        None => Outcome::Drop,
                    },
                    None => Outcome::Drop,
                }
            }
        };
        if q.opcode != 0 {
            let r = notimp(&q);
            return Outcome::Reply(q, r);
        }
        if !class_in(&q) {
            return Outcome::Forward(q);
        }
        let mut snap = match self.snapshot(false) {
            Ok(s) => s,
            Err(e) => {
                self.log_once(&e);
                return Outcome::Forward(q);
            }
        };
        for attempt in 0..2 {
            if attempt == 1 {
                // Not found in the cached snapshot: a container may have just joined.
                match self.snapshot(true) {
                    Ok(s) => snap = s,
                    Err(_) => break,
                }
            }
            if q.qtype == TYPE_PTR {
                if let Some(ip) = parse_reverse(&q.name) {
                    let names = snap.names_of(ip);
                    if !names.is_empty() {
                        let r = answer_ptr(&q, &names, TTL);
                        return Outcome::Reply(q, r);
                    }
                    let ours = matches!(ip, IpAddr::V4(v4) if snap.in_subnet(v4));
                    if attempt == 1 && ours {
                        let r = nxdomain(&q);
                        return Outcome::Reply(q, r);
                    }
                    continue;
                }
            }
            let (addrs, addrs6) = snap.resolve_for(&q.name, peer);
            if !addrs.is_empty() || !addrs6.is_empty() {
                let r = answer_addrs(&q, &addrs, &addrs6, TTL);
                return Outcome::Reply(q, r);
            }
            if attempt == 1 && snap.in_zone(&q.name) {
                let r = nxdomain(&q);
                return Outcome::Reply(q, r);
            }
        }
        Outcome::Forward(q)
    }

    /// Asks the upstream resolvers in turn; the first reply is relayed with the client's id.
    /// Over TCP (`tcp`), a truncated UDP reply is retried over TCP. SERVFAIL when none answers.
    fn forward(&self, msg: &[u8], q: &Query, tcp: bool) -> Vec<u8> {
        for up in &self.upstreams {
            match forward_udp(*up, msg, q.id) {
                Ok(resp) => {
                    if tcp && resp.len() > 2 && resp[2] & 0x02 != 0 {
                        if let Ok(r) = forward_tcp(*up, msg, q.id) {
                            return r;
                        }
                    }
                    return resp;
                }
                Err(_) => continue,
            }
        }
        servfail(q)
    }

    /// Whether the network is gone, or has had no endpoints for `idle` (from the cached
    /// snapshot; a db that cannot be read keeps the server up).
    fn may_exit(&self, empty_since: &mut Option<Instant>, idle: Duration) -> bool {
        match self.snapshot(false) {
            Ok(s) if !s.exists => true,
            Ok(s) if !s.endpoints.is_empty() => {
                *empty_since = None;
                false
            }
            Ok(_) => empty_since.get_or_insert_with(Instant::now).elapsed() >= idle,
            Err(e) => {
                self.log_once(&e);
                false
            }
        }
    }

    /// [`Server::may_exit`] asked of the db itself (no cache), once `idle` has passed.
    fn may_exit_now(&self) -> bool {
        let gone = !self.db.exists();
        gone || Snapshot::load(&self.db, &self.network_id)
            .is_ok_and(|s| !s.exists || s.endpoints.is_empty())
    }

    /// Whether a query from `peer` is answered: only the network's own containers (its subnet)
    /// and the host itself over loopback (berth's firewall drops 127/8 sources coming in from
    /// a bridge) may ask; a container of another network must not learn this one's names.
    fn admits(&self, peer: IpAddr) -> bool {
        match peer {
            IpAddr::V4(ip) if ip.is_loopback() => true,
            IpAddr::V4(ip) => self.snapshot(false).is_ok_and(|s| s.in_subnet(ip)),
            IpAddr::V6(ip) => ip.is_loopback(),
        }
    }

    /// Prints `e` unless it is the same as the last error printed.
    fn log_once(&self, e: &DnsError) {
        let msg = e.to_string();
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        if *last != msg {
            eprintln!("berth dns {}: {msg}", self.network_id);
            *last = msg;
        }
    }
}

/// Sends `msg` to `up` over UDP with a fresh random id and waits [`UPSTREAM_TIMEOUT`] for the
/// reply, which comes back with `client_id`.
fn forward_udp(up: SocketAddr, msg: &[u8], client_id: u16) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if up.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(up)?;
    let id: u16 = rand::random();
    sock.send(&with_id(msg, id))?;
    let deadline = Instant::now() + UPSTREAM_TIMEOUT;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        sock.set_read_timeout(Some(left))?;
        let n = sock.recv(&mut buf)?;
        let r = &buf[..n];
        if n >= 12 && u16::from_be_bytes([r[0], r[1]]) == id && r[2] & 0x80 != 0 {
            return Ok(with_id(r, client_id));
        }
    }
}

/// Like [`forward_udp`] over TCP, for replies too large for UDP.
fn forward_tcp(up: SocketAddr, msg: &[u8], client_id: u16) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&up, UPSTREAM_TIMEOUT)?;
    s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    s.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    let id: u16 = rand::random();
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&with_id(msg, id));
    s.write_all(&out)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut r)?;
    if r.len() < 12 || u16::from_be_bytes([r[0], r[1]]) != id {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "reply id mismatch",
        ));
    }
    Ok(with_id(&r, client_id))
}

/// The server's bound sockets: UDP and TCP on the same address and port.
pub struct Sockets {
    udp: UdpSocket,
    tcp: TcpListener,
}

impl Sockets {
    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Binds UDP and TCP on `listen:port` (port 0: any free port, the same for both). No retry:
/// the engine starts a server only once the bridge has its address and the network's previous
/// server is gone (see [`super::helper`]), so an address in use is somebody else's socket and
/// an error to report.
pub fn bind(listen: Ipv4Addr, port: u16) -> Result<Sockets, DnsError> {
    let udp =
        UdpSocket::bind((listen, port)).map_err(io_err(format!("bind udp {listen}:{port}")))?;
    let port = udp
        .local_addr()
        .map_err(io_err("udp local address"))?
        .port();
    let tcp =
        TcpListener::bind((listen, port)).map_err(io_err(format!("bind tcp {listen}:{port}")))?;
    for nb in [udp.set_nonblocking(true), tcp.set_nonblocking(true)] {
        nb.map_err(io_err("nonblocking socket"))?;
    }
    Ok(Sockets { udp, tcp })
}

/// Serves network `network_id` on `listen:53`, UDP and TCP, until the network has had no
/// endpoints for `idle`, or is gone (then `Ok`). Names on the network are answered from `db`,
/// PTR queries for its addresses too; everything else goes to `upstreams` (UDP,
/// [`UPSTREAM_TIMEOUT`] each, in turn; SERVFAIL when none answers). Only clients on the
/// network's subnet (and the host itself, over loopback) are answered; others get REFUSED.
pub fn serve(
    db: &Path,
    network_id: &str,
    listen: Ipv4Addr,
    upstreams: &[SocketAddr],
    idle: Duration,
) -> Result<(), DnsError> {
    serve_on(db, network_id, listen, 53, upstreams, idle)
}

/// [`serve`] on another port.
pub fn serve_on(
    db: &Path,
    network_id: &str,
    listen: Ipv4Addr,
    port: u16,
    upstreams: &[SocketAddr],
    idle: Duration,
) -> Result<(), DnsError> {
    let sockets = bind(listen, port)?;
    serve_sockets(sockets, db, network_id, upstreams, idle)
}

/// [`serve`] on sockets already bound with [`bind`].
pub fn serve_sockets(
    sockets: Sockets,
    db: &Path,
    network_id: &str,
    upstreams: &[SocketAddr],
    idle: Duration,
) -> Result<(), DnsError> {
    serve_inner(sockets, db, network_id, upstreams, idle, &|| Some(())).map(|_| ())
}

/// A forwarded answer on its way back to the main loop, which alone owns the UDP socket (so
/// that the port is free the moment the loop returns).
type Reply = (Vec<u8>, SocketAddr);

/// The socket loop. Every `check_every` it looks whether the network is gone or has had no
/// endpoints for `idle`; if so it asks `gate` for leave to exit (the `__dns` process takes its
/// network's lock there, see [`super::helper`]; `None`: not now), looks once more at the db
/// itself, and returns the gate's token once both sockets are closed.
pub(super) fn serve_inner<G>(
    sockets: Sockets,
    db: &Path,
    network_id: &str,
    upstreams: &[SocketAddr],
    idle: Duration,
    gate: &dyn Fn() -> Option<G>,
) -> Result<G, DnsError> {
    let local = sockets.local_addr().map_err(io_err("local address"))?;
    let server = Arc::new(Server {
        db: db.to_path_buf(),
        network_id: network_id.to_string(),
        // Never forward to ourselves.
        upstreams: upstreams.iter().copied().filter(|u| *u != local).collect(),
        cache: Mutex::new(None),
        inflight: AtomicUsize::new(0),
        tcp_conns: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        last_error: Mutex::new(String::new()),
    });
    let Sockets { udp, tcp } = sockets;
    let (wake_r, wake_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
        .map_err(|e| io_err("pipe")(e.into()))?;
    let wake_w = Arc::new(File::from(wake_w));
    let mut wake_r = File::from(wake_r);
    let (tx, rx) = mpsc::channel::<Reply>();
    let notify = move |r: Reply| {
        if tx.send(r).is_ok() {
            let _ = (&*wake_w).write(&[0]);
        }
    };

    let mut buf = vec![0u8; 65535];
    let mut empty_since = None;
    let check_every = Duration::from_millis(500)
        .min(idle / 2)
        .max(Duration::from_millis(10));
    let mut next_check = Instant::now();
    loop {
        if Instant::now() >= next_check {
            next_check = Instant::now() + check_every;
            if server.may_exit(&mut empty_since, idle) {
                if let Some(token) = gate() {
                    // A container may have joined meanwhile: ask the db itself once more.
                    if server.may_exit_now() {
                        server.stop.store(true, Ordering::SeqCst);
                        drop((udp, tcp));
                        return Ok(token);
                    }
                }
            }
        }
        let wait = next_check.saturating_duration_since(Instant::now());
        let ready = wait_readable(&[udp.as_fd(), tcp.as_fd(), wake_r.as_fd()], wait)
            .map_err(io_err("poll"))?;
        if ready[0] {
            // A bounded batch, so a flood on UDP cannot starve TCP or the checks.
            for _ in 0..64 {
                match udp.recv_from(&mut buf) {
                    Ok((n, peer)) => handle_udp(&server, &udp, &buf[..n], peer, &notify),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // e.g. ECONNREFUSED reported for an earlier reply: nothing to do
                    Err(_) => break,
                }
            }
        }
        if ready[1] {
            accept_all(&server, &tcp);
        }
        if ready[2] {
            let mut sink = [0u8; 256];
            while matches!(wake_r.read(&mut sink), Ok(n) if n > 0) {}
            while let Ok((reply, peer)) = rx.try_recv() {
                let _ = udp.send_to(&reply, peer);
            }
        }
    }
}

/// Which of `fds` are readable, after waiting up to `timeout` for one to be.
fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<PollFd> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    // round up, so the loop never spins just short of its next check
    let ms = timeout.as_micros().div_ceil(1000).min(60_000) as u16;
    match poll(&mut pfds, PollTimeout::from(ms)) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(vec![false; fds.len()]),
        Err(e) => return Err(e.into()),
    }
    Ok(pfds
        .iter()
        .map(|p| {
            p.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP)
            })
        })
        .collect())
}

fn handle_udp(
    server: &Arc<Server>,
    udp: &UdpSocket,
    msg: &[u8],
    peer: SocketAddr,
    notify: &(impl Fn(Reply) + Clone + Send + 'static),
) {
    if !server.admits(peer.ip()) {
        if let Ok(q) = parse_query(msg) {
            let _ = udp.send_to(&refused(&q), peer);
        }
        return;
    }
    match server.resolve(msg, Some(peer.ip())) {
        Outcome::Reply(q, r) => {
            let _ = udp.send_to(&fit_udp(&q, r, q.max_udp()), peer);
        }
        Outcome::Drop => {}
        Outcome::Forward(q) => {
            if server.upstreams.is_empty()
                || server.inflight.fetch_add(1, Ordering::SeqCst) >= MAX_INFLIGHT
            {
                if !server.upstreams.is_empty() {
                    server.inflight.fetch_sub(1, Ordering::SeqCst);
                }
                let _ = udp.send_to(&servfail(&q), peer);
                return;
            }
            let fail = servfail(&q);
            let (server2, msg, notify) = (server.clone(), msg.to_vec(), notify.clone());
            let spawned = thread::Builder::new()
                .name("dns-forward".into())
                .spawn(move || {
                    let r = server2.forward(&msg, &q, false);
                    server2.inflight.fetch_sub(1, Ordering::SeqCst);
                    notify((r, peer));
                });
            if spawned.is_err() {
                server.inflight.fetch_sub(1, Ordering::SeqCst);
                let _ = udp.send_to(&fail, peer);
            }
        }
    }
}

/// Accepts the pending TCP connections, each served on a thread of its own.
fn accept_all(server: &Arc<Server>, listener: &TcpListener) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, peer)) if server.admits(peer.ip()) => stream,
            Ok(_) => continue, // not from the network: closed unanswered
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // WouldBlock: all taken; other errors (EMFILE, ECONNABORTED): try again next time
            Err(_) => return,
        };
        if server.tcp_conns.fetch_add(1, Ordering::SeqCst) >= MAX_TCP
            || stream.set_nonblocking(false).is_err()
        {
            server.tcp_conns.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let s2 = server.clone();
        let spawned = thread::Builder::new()
            .name("dns-tcp-conn".into())
            .spawn(move || {
                let _ = serve_tcp(&s2, stream);
                s2.tcp_conns.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            server.tcp_conns.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One TCP connection: length-prefixed queries answered in order until EOF, an idle timeout or
/// the server stopping.
fn serve_tcp(server: &Server, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(TCP_TIMEOUT))?;
    stream.set_write_timeout(Some(TCP_TIMEOUT))?;
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut msg)?;
        if server.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let peer = stream.peer_addr().ok().map(|a| a.ip());
        let reply = match server.resolve(&msg, peer) {
            Outcome::Reply(_, r) => r,
            Outcome::Forward(q) => {
                if server.upstreams.is_empty() {
                    servfail(&q)
                } else {
                    server.forward(&msg, &q, true)
                }
            }
            Outcome::Drop => return Ok(()),
        };
        let mut out = (reply.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&reply);
        stream.write_all(&out)?;
    }
}
