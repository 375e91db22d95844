//! Embedded DNS server for user-defined networks.
//!
//! Containers on a user network resolve each other by container name, `--network-alias` and
//! short container id (also as `NAME.NETWORK`); every other name is forwarded to the host's
//! resolvers. berth has no daemon, so the server is a small process per network
//! (`berth __dns --root R NETWORK_ID`, see [`run`]) listening on the network's gateway
//! address, port 53, UDP and TCP, in the host's network namespace. It reads the names from the
//! engine's sqlite db (tables `networks` and `endpoints`) and exits on its own once the network
//! has had no endpoints for a while.
//!
//! The wire format is RFC 1035 (with the EDNS OPT record of RFC 6891 understood and echoed);
//! message parsing and building are pure functions.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// Record type A (IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type PTR (reverse lookup).
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA (IPv6 address).
pub const TYPE_AAAA: u16 = 28;
/// EDNS OPT pseudo-record.
pub const TYPE_OPT: u16 = 41;
/// Query type ANY.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Query class ANY.
pub const CLASS_ANY: u16 = 255;

/// Response codes (RFC 1035 4.1.1).
pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;

/// TTL of the answers for names on the network: short, containers come and go.
pub const TTL: u32 = 10;
/// How long one upstream resolver gets to answer a forwarded query.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`run`] keeps serving a network without endpoints before exiting.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

/// UDP payload size announced in our own OPT records.
const EDNS_PAYLOAD: u16 = 1232;
/// Forwarded queries in flight at once (a thread each); beyond that, SERVFAIL.
const MAX_INFLIGHT: usize = 256;
/// TCP connections served at once; beyond that, new ones are closed.
const MAX_TCP: usize = 64;
/// Idle timeout of a TCP connection between queries.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long binding is retried while the gateway address is not (or still) available.
const BIND_RETRY: Duration = Duration::from_secs(3);
/// A cached snapshot of the db is reused at most this long even when the files look unchanged.
const CACHE_MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("malformed DNS message: {0}")]
    Malformed(&'static str),
    #[error("database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("network {0} not found")]
    NoNetwork(String),
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DnsError {
    let context = context.into();
    move |source| DnsError::Io { context, source }
}

/// One parsed DNS query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// OPCODE of the header (0 is a standard query; others get NOTIMP).
    pub opcode: u8,
    /// The question name, lower case, without trailing dot ("" for the root). Bytes that are
    /// not printable ASCII, and `.` or `\` inside a label, are escaped as `\DDD` / `\.`.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Recursion desired.
    pub rd: bool,
    /// The UDP payload size the client accepts, from its EDNS OPT record (at least 512);
    /// `None` when it sent none.
    pub udp_size: Option<u16>,
    /// The question section to echo: the name uncompressed in its original case, type, class.
    pub question: Vec<u8>,
}

impl Query {
    /// Largest UDP response the client accepts.
    pub fn max_udp(&self) -> usize {
        usize::from(self.udp_size.unwrap_or(512).max(512))
    }
}

fn be16(msg: &[u8], pos: usize) -> Option<u16> {
    let b = msg.get(pos..pos + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Reads a (possibly compressed) name at `start`. Returns the presentation form (lower case),
/// the uncompressed wire form in original case, and the offset just after the name in `msg`.
fn read_name(msg: &[u8], start: usize) -> Result<(String, Vec<u8>, usize), DnsError> {
    let truncated = || DnsError::Malformed("truncated name");
    let mut pos = start;
    let mut end = None;
    let mut hops = 0;
    let mut wire = Vec::new();
    let mut text = String::new();
    loop {
        let len = usize::from(*msg.get(pos).ok_or_else(truncated)?);
        match len & 0xc0 {
            0x00 if len == 0 => {
                wire.push(0);
                return Ok((text, wire, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(DnsError::Malformed("truncated label"))?;
                if wire.len() + 1 + len + 1 > 255 {
                    return Err(DnsError::Malformed("name longer than 255 bytes"));
                }
                wire.push(len as u8);
                wire.extend_from_slice(label);
                if wire.len() > 1 + len {
                    // not the first label
                    text.push('.');
                }
                for &b in label {
                    let b = b.to_ascii_lowercase();
                    match b {
                        b'.' | b'\\' => {
                            text.push('\\');
                            text.push(char::from(b));
                        }
                        0x21..=0x7e => text.push(char::from(b)),
                        _ => text.push_str(&format!("\\{b:03}")),
                    }
                }
                pos += 1 + len;
            }
            0xc0 => {
                let low = usize::from(*msg.get(pos + 1).ok_or_else(truncated)?);
                let target = ((len & 0x3f) << 8) | low;
                end.get_or_insert(pos + 2);
                hops += 1;
                // Pointers must point backwards; together with the hop limit and the length
                // limit above, no message can make this loop forever.
                if target >= pos || hops > 32 {
                    return Err(DnsError::Malformed("bad compression pointer"));
                }
                pos = target;
            }
            _ => return Err(DnsError::Malformed("unsupported label type")),
        }
    }
}

/// Offset just after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = usize::from(*msg.get(pos)?);
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + len,
            0xc0 => return (pos + 2 <= msg.len()).then_some(pos + 2),
            _ => return None,
        }
    }
}

/// The UDP payload size of the OPT record in the additional section, if any. `pos` is the
/// offset after the question section.
fn find_opt(msg: &[u8], mut pos: usize) -> Option<u16> {
    let an = be16(msg, 6)?;
    let ns = be16(msg, 8)?;
    let ar = be16(msg, 10)?;
    for i in 0..(u32::from(an) + u32::from(ns) + u32::from(ar)) {
        pos = skip_name(msg, pos)?;
        let rtype = be16(msg, pos)?;
        let class = be16(msg, pos + 2)?;
        let rdlen = usize::from(be16(msg, pos + 8)?);
        if i >= u32::from(an) + u32::from(ns) && rtype == TYPE_OPT {
            return Some(class.max(512));
        }
        pos += 10 + rdlen;
        if pos > msg.len() {
            return None;
        }
    }
    None
}

/// Parses a DNS query message: header, exactly one question, and the EDNS OPT record if the
/// additional section has one (other records are ignored). Responses (QR set), missing or
/// several questions and truncated or malformed names are errors.
pub fn parse_query(msg: &[u8]) -> Result<Query, DnsError> {
    if msg.len() < 12 {
        return Err(DnsError::Malformed("shorter than a header"));
    }
    let id = be16(msg, 0).unwrap_or_default();
    let flags = be16(msg, 2).unwrap_or_default();
    if flags & 0x8000 != 0 {
        return Err(DnsError::Malformed("not a query"));
    }
    if be16(msg, 4) != Some(1) {
        return Err(DnsError::Malformed("not exactly one question"));
    }
    let (name, mut question, pos) = read_name(msg, 12)?;
    let qtype = be16(msg, pos).ok_or(DnsError::Malformed("truncated question"))?;
    let qclass = be16(msg, pos + 2).ok_or(DnsError::Malformed("truncated question"))?;
    question.extend_from_slice(&msg[pos..pos + 4]);
    Ok(Query {
        id,
        opcode: ((flags >> 11) & 0xf) as u8,
        name,
        qtype,
        qclass,
        rd: flags & 0x0100 != 0,
        udp_size: find_opt(msg, pos + 4),
        question,
    })
}

/// A response to `q`: header, the echoed question, `answers` (complete resource records) and,
/// when the query had one, an OPT record.
fn build(q: &Query, rcode: u8, aa: bool, answers: &[Vec<u8>]) -> Vec<u8> {
    let mut flags: u16 = 0x8000 | (u16::from(q.opcode & 0xf) << 11) | 0x0080;
    if aa {
        flags |= 0x0400;
    }
    if q.rd {
        flags |= 0x0100;
    }
    flags |= u16::from(rcode & 0xf);
    let mut out = Vec::with_capacity(12 + q.question.len() + 16 * answers.len() + 11);
    out.extend_from_slice(&q.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&u16::from(q.udp_size.is_some()).to_be_bytes());
    out.extend_from_slice(&q.question);
    for rr in answers {
        out.extend_from_slice(rr);
    }
    if q.udp_size.is_some() {
        push_opt(&mut out);
    }
    out
}

fn push_opt(out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
}

/// A resource record whose owner is the question name (pointer 0xc00c).
fn record(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut rr = Vec::with_capacity(12 + rdata.len());
    rr.extend_from_slice(&[0xc0, 0x0c]);
    rr.extend_from_slice(&rtype.to_be_bytes());
    rr.extend_from_slice(&CLASS_IN.to_be_bytes());
    rr.extend_from_slice(&ttl.to_be_bytes());
    rr.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    rr.extend_from_slice(rdata);
    rr
}

fn class_in(q: &Query) -> bool {
    q.qclass == CLASS_IN || q.qclass == CLASS_ANY
}

/// The authoritative answer for a name that exists: A records for `addrs` when the query asks
/// for A (or ANY); for any other type (AAAA, MX, ...) NOERROR without answers (NODATA), as
/// docker answers.
pub fn answer_a(q: &Query, addrs: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    let answers: Vec<Vec<u8>> = if (q.qtype == TYPE_A || q.qtype == TYPE_ANY) && class_in(q) {
        addrs
            .iter()
            .map(|a| record(TYPE_A, ttl, &a.octets()))
            .collect()
    } else {
        Vec::new()
    };
    build(q, RCODE_NOERROR, true, &answers)
}

/// The authoritative answer to a PTR query: one PTR record per name (names that cannot be
/// encoded are left out).
pub fn answer_ptr(q: &Query, names: &[String], ttl: u32) -> Vec<u8> {
    let answers: Vec<Vec<u8>> = if (q.qtype == TYPE_PTR || q.qtype == TYPE_ANY) && class_in(q) {
        names
            .iter()
            .filter_map(|n| encode_name(n))
            .map(|wire| record(TYPE_PTR, ttl, &wire))
            .collect()
    } else {
        Vec::new()
    };
    build(q, RCODE_NOERROR, true, &answers)
}

/// Authoritative "no such name".
pub fn nxdomain(q: &Query) -> Vec<u8> {
    build(q, RCODE_NXDOMAIN, true, &[])
}

/// "Server failure": no upstream answered.
pub fn servfail(q: &Query) -> Vec<u8> {
    build(q, RCODE_SERVFAIL, false, &[])
}

/// "Refused".
pub fn refused(q: &Query) -> Vec<u8> {
    build(q, RCODE_REFUSED, false, &[])
}

/// "Not implemented", for opcodes other than QUERY.
pub fn notimp(q: &Query) -> Vec<u8> {
    build(q, RCODE_NOTIMP, false, &[])
}

/// "Format error" for a query whose question parsed.
pub fn formerr(q: &Query) -> Vec<u8> {
    build(q, RCODE_FORMERR, false, &[])
}

/// "Format error" for a message [`parse_query`] rejected: the header only, with the client's
/// id, opcode and RD. `None` (send nothing) when the message is too short or is itself a
/// response, so that two servers never bounce errors at each other.
pub fn formerr_raw(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0u8; 12];
    out[0] = msg[0];
    out[1] = msg[1];
    out[2] = 0x80 | (msg[2] & 0x79); // QR, opcode, RD
    out[3] = 0x80 | RCODE_FORMERR;
    Some(out)
}

/// Cuts a response we built for `q` down to header, question (and OPT) with the TC bit set when
/// it is larger than `max` bytes, so the client retries over TCP.
pub fn fit_udp(q: &Query, resp: Vec<u8>, max: usize) -> Vec<u8> {
    if resp.len() <= max || resp.len() < 12 + q.question.len() {
        return resp;
    }
    let mut out = resp[..12 + q.question.len()].to_vec();
    out[2] |= 0x02;
    out[6..12].fill(0);
    if q.udp_size.is_some() {
        out[11] = 1;
        push_opt(&mut out);
    }
    out
}

/// The wire form of a presentation name (no escapes; `None` when a label is longer than 63
/// bytes or the name longer than 255).
fn encode_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        if label.len() > 63 {
            return None;
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}

/// The address of a reverse name `d.c.b.a.in-addr.arpa`.
pub fn parse_reverse(name: &str) -> Option<Ipv4Addr> {
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let parts: Vec<&str> = rest.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().rev().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

// ---------------------------------------------------------------------------------------------
// The db

#[derive(Debug, Clone, Default)]
struct Endpoint {
    /// Lower case.
    container_id: String,
    /// Lower case, without docker's leading `/`.
    name: String,
    /// Lower case.
    aliases: Vec<String>,
    ip: Option<Ipv4Addr>,
}

impl Endpoint {
    fn answers_to(&self, name: &str) -> bool {
        !name.is_empty()
            && (self.name == name
                || self.aliases.iter().any(|a| a == name)
                || (name.len() == 12
                    && name.bytes().all(|b| b.is_ascii_hexdigit())
                    && self.container_id.starts_with(name))
                || (name.len() == 64 && self.container_id == name))
    }
}

/// What the server knows about its network at one point in time.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    /// The network's row exists.
    exists: bool,
    /// Lower case.
    network_name: String,
    gateway: Option<Ipv4Addr>,
    subnet: Option<(Ipv4Addr, u8)>,
    endpoints: Vec<Endpoint>,
}

fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.split('/').next()?.trim().parse().ok()
}

fn parse_subnet(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = s.trim().split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((addr.parse().ok()?, len))
}

fn open_ro(db: &Path) -> Result<Connection, DnsError> {
    let dberr = |source| DnsError::Db {
        path: db.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(dberr)?;
    conn.busy_timeout(Duration::from_secs(2)).map_err(dberr)?;
    Ok(conn)
}

impl Snapshot {
    fn load(db: &Path, network_id: &str) -> Result<Snapshot, DnsError> {
        let dberr = |source| DnsError::Db {
            path: db.to_path_buf(),
            source,
        };
        let conn = open_ro(db)?;
        let mut snap = Snapshot::default();
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT name, data FROM networks WHERE id = ?1",
                [network_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(dberr)?;
        if let Some((name, data)) = row {
            snap.exists = true;
            snap.network_name = name.to_ascii_lowercase();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) {
                // the store writes NetworkConfig in docker's field case ("Gateway")
                snap.gateway = v
                    .get("Gateway")
                    .or_else(|| v.get("gateway"))
                    .and_then(|g| g.as_str())
                    .and_then(parse_ipv4);
                snap.subnet = v
                    .get("Subnet")
                    .or_else(|| v.get("subnet"))
                    .and_then(|s| s.as_str())
                    .and_then(parse_subnet);
            }
        }
        let mut stmt = conn
            .prepare("SELECT container_id, name, aliases, ip FROM endpoints WHERE network_id = ?1")
            .map_err(dberr)?;
        let rows = stmt
            .query_map([network_id], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(dberr)?;
        for row in rows {
            let (id, name, aliases, ip) = row.map_err(dberr)?;
            let aliases: Vec<String> = aliases
                .and_then(|a| serde_json::from_str::<Vec<String>>(&a).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            snap.endpoints.push(Endpoint {
                container_id: id.unwrap_or_default().to_ascii_lowercase(),
                name: name
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_ascii_lowercase(),
                aliases,
                ip: ip.as_deref().and_then(parse_ipv4),
            });
        }
        Ok(snap)
    }

    /// The addresses of `name` (lower case, no trailing dot) on this network.
    fn resolve(&self, name: &str) -> Vec<Ipv4Addr> {
        let mut names = vec![name];
        if !self.network_name.is_empty() {
            if let Some(short) = name
                .strip_suffix(self.network_name.as_str())
                .and_then(|n| n.strip_suffix('.'))
            {
                names.push(short);
            }
        }
        let mut out = Vec::new();
        for ep in &self.endpoints {
            if let Some(ip) = ep.ip {
                if names.iter().any(|n| ep.answers_to(n)) && !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
        out
    }

    /// Whether `name` belongs to the network's own zone (`*.NETWORK`): unknown names there are
    /// answered NXDOMAIN instead of being forwarded.
    fn in_zone(&self, name: &str) -> bool {
        !self.network_name.is_empty()
            && (name == self.network_name
                || name
                    .strip_suffix(self.network_name.as_str())
                    .is_some_and(|n| n.ends_with('.')))
    }

    /// The names (`NAME.NETWORK`, as docker answers) of the endpoints with address `ip`.
    fn names_of(&self, ip: Ipv4Addr) -> Vec<String> {
        let mut out = Vec::new();
        for ep in &self.endpoints {
            if ep.ip == Some(ip) && !ep.name.is_empty() {
                let name = if self.network_name.is_empty() {
                    ep.name.clone()
                } else {
                    format!("{}.{}", ep.name, self.network_name)
                };
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    fn in_subnet(&self, ip: Ipv4Addr) -> bool {
        match self.subnet {
            Some((net, len)) => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                u32::from(ip) & mask == u32::from(net) & mask
            }
            None => false,
        }
    }
}

/// The addresses of `name` on network `network_id` in the db: container names, aliases, short
/// (12 hex) and full container ids, each also as `NAME.NETWORK_NAME`; case-insensitive, a
/// trailing dot ignored. Empty when the name is unknown.
pub fn lookup(db: &Path, network_id: &str, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
    let snap = Snapshot::load(db, network_id)?;
    Ok(snap.resolve(&name.trim_end_matches('.').to_ascii_lowercase()))
}

/// The host's resolvers from the text of a resolv.conf: every `nameserver` line, port 53,
/// duplicates dropped. Loopback resolvers (systemd-resolved's 127.0.0.53, a local dnsmasq) are
/// kept: the server runs in the host's network namespace. IPv6 zone ids (`fe80::1%eth0`) are
/// honoured.
pub fn upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in resolv_conf.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let sa = match addr.split_once('%') {
            Some((a, zone)) => match a.parse::<Ipv6Addr>() {
                Ok(a) => {
                    let scope = zone.parse::<u32>().ok().or_else(|| if_index(zone));
                    match scope {
                        Some(scope) => SocketAddr::V6(SocketAddrV6::new(a, 53, 0, scope)),
                        None => continue,
                    }
                }
                Err(_) => continue,
            },
            None => match addr.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 53),
                Err(_) => continue,
            },
        };
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    out
}

fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

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
    fn resolve(&self, msg: &[u8]) -> Outcome {
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
                    if attempt == 1 && snap.in_subnet(ip) {
                        let r = nxdomain(&q);
                        return Outcome::Reply(q, r);
                    }
                    continue;
                }
            }
            let addrs = snap.resolve(&q.name);
            if !addrs.is_empty() {
                let r = answer_a(&q, &addrs, TTL);
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

    /// `None` once the network has had no endpoints (or no longer exists) for `idle`.
    fn idle_check(&self, empty_since: &mut Option<Instant>, idle: Duration, fresh: bool) -> bool {
        match self.snapshot(fresh) {
            Ok(s) if s.exists && !s.endpoints.is_empty() => {
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

/// A query stand-in for answering FORMERR to a message whose question did not parse.
fn parse_header_only(msg: &[u8]) -> Option<Query> {
    (msg.len() >= 12).then(|| Query {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        opcode: (msg[2] >> 3) & 0xf,
        name: String::new(),
        qtype: 0,
        qclass: 0,
        rd: msg[2] & 1 != 0,
        udp_size: None,
        question: Vec::new(),
    })
}

fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[..2].copy_from_slice(&id.to_be_bytes());
    m
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

/// Binds UDP and TCP on `listen:port` (port 0: any free port, the same for both). While the
/// address is not available yet (the bridge is getting its gateway address) or still in use
/// (a previous server for the network is exiting), retries for a few seconds.
pub fn bind(listen: Ipv4Addr, port: u16) -> Result<Sockets, DnsError> {
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        let res = UdpSocket::bind((listen, port)).and_then(|udp| {
            let port = udp.local_addr()?.port();
            let tcp = TcpListener::bind((listen, port))?;
            Ok(Sockets { udp, tcp })
        });
        match res {
            Ok(s) => return Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse
                ) && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(io_err(format!("bind {listen}:{port}"))(e)),
        }
    }
}

/// Serves network `network_id` on `listen:53`, UDP and TCP, until the network has had no
/// endpoints for `idle` (then `Ok`). Names on the network are answered from `db`, PTR queries
/// for its addresses too; everything else goes to `upstreams` (UDP, [`UPSTREAM_TIMEOUT`] each,
/// in turn; SERVFAIL when none answers).
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
    serve_inner(sockets, db, network_id, upstreams, idle, None)
}

/// Called when the server is about to exit for idleness (`true`) and when it goes on after all
/// because an endpoint appeared meanwhile (`false`).
type IdleHook<'a> = &'a dyn Fn(bool);

fn serve_inner(
    sockets: Sockets,
    db: &Path,
    network_id: &str,
    upstreams: &[SocketAddr],
    idle: Duration,
    hook: Option<IdleHook>,
) -> Result<(), DnsError> {
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
    let udp = Arc::new(sockets.udp);
    udp.set_read_timeout(Some(Duration::from_millis(250)))
        .map_err(io_err("udp socket"))?;
    let tcp = sockets.tcp;
    let acceptor = {
        let server = server.clone();
        thread::Builder::new()
            .name("dns-tcp".into())
            .spawn(move || accept_loop(server, tcp))
            .map_err(io_err("spawn tcp thread"))?
    };

    let mut buf = vec![0u8; 65535];
    let mut empty_since = None;
    let mut last_check = Instant::now() - Duration::from_secs(10);
    let check_every = Duration::from_millis(500)
        .min(idle / 2)
        .max(Duration::from_millis(10));
    loop {
        if last_check.elapsed() >= check_every {
            last_check = Instant::now();
            if server.idle_check(&mut empty_since, idle, false) {
                if let Some(hook) = hook {
                    hook(true);
                }
                // A container may have joined between the check and the hook: look again.
                if server.idle_check(&mut empty_since, Duration::ZERO, true) {
                    break;
                }
                if let Some(hook) = hook {
                    hook(false);
                }
            }
        }
        match udp.recv_from(&mut buf) {
            Ok((n, peer)) => handle_udp(&server, &udp, &buf[..n], peer),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                eprintln!("berth dns: udp receive: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    server.stop.store(true, Ordering::SeqCst);
    // Wake the acceptor up so it sees `stop` and closes the listener.
    let _ = TcpStream::connect_timeout(&local, Duration::from_millis(500));
    let _ = acceptor.join();
    Ok(())
}

fn handle_udp(server: &Arc<Server>, udp: &Arc<UdpSocket>, msg: &[u8], peer: SocketAddr) {
    match server.resolve(msg) {
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
            let (server2, udp2, msg) = (server.clone(), udp.clone(), msg.to_vec());
            let spawned = thread::Builder::new()
                .name("dns-forward".into())
                .spawn(move || {
                    let r = server2.forward(&msg, &q, false);
                    let _ = udp2.send_to(&r, peer);
                    server2.inflight.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                server.inflight.fetch_sub(1, Ordering::SeqCst);
                let _ = udp.send_to(&fail, peer);
            }
        }
    }
}

fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    for conn in listener.incoming() {
        if server.stop.load(Ordering::SeqCst) {
            break;
        }
        match conn {
            Ok(stream) => {
                if server.tcp_conns.fetch_add(1, Ordering::SeqCst) >= MAX_TCP {
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
            Err(e) => {
                eprintln!("berth dns: tcp accept: {e}");
                thread::sleep(Duration::from_millis(50));
            }
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
        let reply = match server.resolve(&msg) {
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

// ---------------------------------------------------------------------------------------------
// `berth __dns`

/// The pid file of the server of `network_id`.
pub fn pid_file(run_dir: &Path, network_id: &str) -> PathBuf {
    run_dir.join(format!("dns-{network_id}.pid"))
}

fn write_pid(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension(format!("pid.{}", std::process::id()));
    fs::write(&tmp, format!("{}\n", std::process::id()))?;
    fs::rename(&tmp, path)
}

/// Removes the pid file if it is still ours.
fn remove_pid(path: &Path) {
    if let Ok(s) = fs::read_to_string(path) {
        if s.trim() == std::process::id().to_string() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Entry point of `berth __dns`: looks up the network's gateway in `db`, binds port 53 on it,
/// writes `<run_dir>/dns-<network_id>.pid`, serves with the host's resolvers from
/// /etc/resolv.conf as upstreams until the network has had no endpoints for [`IDLE_EXIT`],
/// removes the pid file. Returns the exit status (errors are printed on stderr).
///
/// Before exiting for idleness the pid file is removed first and the endpoints are checked once
/// more, so an engine that adds an endpoint and then finds no pid file can start a new server
/// (whose bind waits for this one to let go of the port).
pub fn run(db: &Path, run_dir: &Path, network_id: &str) -> i32 {
    run_with_idle(db, run_dir, network_id, IDLE_EXIT)
}

/// [`run`] with another idle time (tests).
pub fn run_with_idle(db: &Path, run_dir: &Path, network_id: &str, idle: Duration) -> i32 {
    match run_inner(db, run_dir, network_id, idle) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth dns {network_id}: {e}");
            1
        }
    }
}

fn run_inner(db: &Path, run_dir: &Path, network_id: &str, idle: Duration) -> Result<(), DnsError> {
    let snap = Snapshot::load(db, network_id)?;
    if !snap.exists {
        return Err(DnsError::NoNetwork(network_id.to_string()));
    }
    let gateway = snap
        .gateway
        .ok_or_else(|| DnsError::Config(format!("network {network_id} has no IPv4 gateway")))?;
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let ups = upstreams(&resolv);
    let sockets = bind(gateway, 53)?;
    fs::create_dir_all(run_dir).map_err(io_err(format!("create {}", run_dir.display())))?;
    let pid = pid_file(run_dir, network_id);
    write_pid(&pid).map_err(io_err(format!("write {}", pid.display())))?;
    let hook = |exiting: bool| {
        if exiting {
            remove_pid(&pid);
        } else if let Err(e) = write_pid(&pid) {
            eprintln!("berth dns {network_id}: write {}: {e}", pid.display());
        }
    };
    let res = serve_inner(sockets, db, network_id, &ups, idle, Some(&hook));
    remove_pid(&pid);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query message for `name` (presentation form, no escapes).
    fn query(id: u16, name: &str, qtype: u16, rd: bool, edns: Option<u16>) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&(if rd { 0x0100u16 } else { 0 }).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
        m.extend_from_slice(&encode_name(name).unwrap());
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        if let Some(size) = edns {
            m.push(0);
            m.extend_from_slice(&TYPE_OPT.to_be_bytes());
            m.extend_from_slice(&size.to_be_bytes());
            m.extend_from_slice(&[0, 0, 0x80, 0]); // DO bit
            m.extend_from_slice(&[0, 4, 0, 10, 0, 0]); // rdlen 4: an empty COOKIE option
        }
        m
    }

    struct Decoded {
        id: u16,
        flags: u16,
        counts: [u16; 4],
        question: Vec<u8>,
        /// (type, class, ttl, rdata) of the answer section; every owner must be 0xc00c.
        answers: Vec<(u16, u16, u32, Vec<u8>)>,
        /// Type of the additional records.
        additional: Vec<u16>,
    }

    fn decode(r: &[u8]) -> Decoded {
        let counts = [be16(r, 4), be16(r, 6), be16(r, 8), be16(r, 10)].map(|c| c.unwrap());
        let qend = skip_name(r, 12).unwrap() + 4;
        let mut pos = qend;
        let mut answers = Vec::new();
        for _ in 0..counts[1] {
            assert_eq!(
                &r[pos..pos + 2],
                &[0xc0, 0x0c],
                "answer owner is a pointer to the question"
            );
            let t = be16(r, pos + 2).unwrap();
            let c = be16(r, pos + 4).unwrap();
            let ttl = u32::from_be_bytes(r[pos + 6..pos + 10].try_into().unwrap());
            let len = usize::from(be16(r, pos + 10).unwrap());
            answers.push((t, c, ttl, r[pos + 12..pos + 12 + len].to_vec()));
            pos += 12 + len;
        }
        let mut additional = Vec::new();
        for _ in 0..counts[3] {
            pos = skip_name(r, pos).unwrap();
            additional.push(be16(r, pos).unwrap());
            pos += 10 + usize::from(be16(r, pos + 8).unwrap());
        }
        assert_eq!(pos, r.len(), "no trailing bytes");
        Decoded {
            id: be16(r, 0).unwrap(),
            flags: be16(r, 2).unwrap(),
            counts,
            question: r[12..qend].to_vec(),
            answers,
            additional,
        }
    }

    const QR: u16 = 0x8000;
    const AA: u16 = 0x0400;
    const TC: u16 = 0x0200;
    const RD: u16 = 0x0100;
    const RA: u16 = 0x0080;

    #[test]
    fn parses_a_query() {
        let m = query(0x1234, "Web.MyNet", TYPE_A, true, None);
        let q = parse_query(&m).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.opcode, 0);
        assert_eq!(q.name, "web.mynet");
        assert_eq!(q.qtype, TYPE_A);
        assert_eq!(q.qclass, CLASS_IN);
        assert!(q.rd);
        assert_eq!(q.udp_size, None);
        assert_eq!(q.max_udp(), 512);
        // The question is echoed as sent, case included.
        assert_eq!(q.question, m[12..].to_vec());
        assert_eq!(&q.question[..4], b"\x03Web");
    }

    #[test]
    fn parses_aaaa_query_with_edns() {
        let m = query(7, "example.com.", TYPE_AAAA, false, Some(4096));
        let q = parse_query(&m).unwrap();
        assert_eq!(q.name, "example.com");
        assert_eq!(q.qtype, TYPE_AAAA);
        assert!(!q.rd);
        assert_eq!(q.udp_size, Some(4096));
        assert_eq!(q.max_udp(), 4096);
        assert_eq!(q.question.len(), 13 + 4);
        // A tiny advertised size still means 512.
        let q = parse_query(&query(7, "a", TYPE_A, false, Some(100))).unwrap();
        assert_eq!(q.udp_size, Some(512));
    }

    #[test]
    fn parses_root_and_escapes_odd_bytes() {
        let q = parse_query(&query(1, "", TYPE_A, true, None)).unwrap();
        assert_eq!(q.name, "");
        let mut m = query(1, "x", TYPE_A, true, None);
        // Replace the label "x" by "a.B\x01" (a dot and a control byte inside one label).
        m.splice(12..14, b"\x04a.B\x01".iter().copied());
        let q = parse_query(&m).unwrap();
        assert_eq!(q.name, "a\\.b\\001");
    }

    #[test]
    fn rejects_bad_messages() {
        let good = query(9, "web.mynet", TYPE_A, true, None);
        for n in 0..good.len() {
            assert!(parse_query(&good[..n]).is_err(), "prefix of {n} bytes");
        }
        // A response.
        let mut m = good.clone();
        m[2] |= 0x80;
        assert!(parse_query(&m).is_err());
        // No question, two questions.
        for qd in [0u8, 2] {
            let mut m = good.clone();
            m[5] = qd;
            assert!(parse_query(&m).is_err());
        }
        // Reserved label types 0x40 and 0x80.
        for t in [0x41u8, 0x81] {
            let mut m = good.clone();
            m[12] = t;
            assert!(parse_query(&m).is_err());
        }
        // A label running past the end.
        let mut m = good.clone();
        m[12] = 60;
        assert!(parse_query(&m).is_err());
        // A name longer than 255 bytes.
        let long = vec!["a".repeat(63); 5].join(".");
        let mut m = good[..12].to_vec();
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(parse_query(&m).is_err(), "{}", long.len());
    }

    #[test]
    fn compression_pointers_do_not_crash() {
        let head = &query(9, "", TYPE_A, true, None)[..12];
        let with_name = |name: &[u8]| {
            let mut m = head.to_vec();
            m.extend_from_slice(name);
            m.extend_from_slice(&[0, 1, 0, 1]);
            m
        };
        // Pointer to itself, forwards, and past the end.
        assert!(parse_query(&with_name(&[0xc0, 12])).is_err());
        assert!(parse_query(&with_name(&[0xc0, 14])).is_err());
        assert!(parse_query(&with_name(&[0xff, 0xff])).is_err());
        // A label, then a pointer back to it: an endless name, cut off by the length limit.
        assert!(parse_query(&with_name(&[1, b'a', 0xc0, 12])).is_err());
        // A pointer into the header at a zero byte (ancount's high byte): the root name, and
        // the echoed question is uncompressed.
        let q = parse_query(&with_name(&[1, b'A', 0xc0, 6])).unwrap();
        assert_eq!(q.name, "a");
        assert_eq!(q.question, vec![1, b'A', 0, 0, 1, 0, 1]);
        assert_eq!(q.qtype, 1);
    }

    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let good = query(9, "web.mynet", TYPE_A, true, Some(1232));
        for _ in 0..20_000 {
            let r = next();
            let mut m = if r % 2 == 0 {
                good.clone()
            } else {
                (0..(r >> 8) % 64).map(|_| next() as u8).collect()
            };
            if !m.is_empty() {
                for _ in 0..(r >> 16) % 4 {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
            }
            if let Ok(q) = parse_query(&m) {
                decode(&answer_a(&q, &[Ipv4Addr::new(1, 2, 3, 4)], 5));
            }
            let _ = formerr_raw(&m);
        }
    }

    #[test]
    fn builds_a_answers() {
        let q = parse_query(&query(0xbeef, "Web", TYPE_A, true, None)).unwrap();
        let addrs = [Ipv4Addr::new(10, 89, 1, 2), Ipv4Addr::new(10, 89, 1, 3)];
        let d = decode(&answer_a(&q, &addrs, 600));
        assert_eq!(d.id, 0xbeef);
        assert_eq!(d.flags, QR | AA | RD | RA);
        assert_eq!(d.counts, [1, 2, 0, 0]);
        assert_eq!(d.question, q.question);
        assert_eq!(
            d.answers,
            vec![
                (TYPE_A, CLASS_IN, 600, vec![10, 89, 1, 2]),
                (TYPE_A, CLASS_IN, 600, vec![10, 89, 1, 3]),
            ]
        );
        // RD is copied: clear without it.
        let q = parse_query(&query(1, "web", TYPE_A, false, None)).unwrap();
        assert_eq!(decode(&answer_a(&q, &addrs, 1)).flags, QR | AA | RA);
    }

    #[test]
    fn aaaa_of_a_known_name_is_nodata() {
        let q = parse_query(&query(5, "web", TYPE_AAAA, true, None)).unwrap();
        let d = decode(&answer_a(&q, &[Ipv4Addr::new(10, 89, 1, 2)], 600));
        assert_eq!(d.flags, QR | AA | RD | RA);
        assert_eq!(d.counts, [1, 0, 0, 0]);
    }

    #[test]
    fn edns_queries_get_an_opt_record() {
        let q = parse_query(&query(5, "web", TYPE_A, true, Some(4096))).unwrap();
        let d = decode(&answer_a(&q, &[Ipv4Addr::new(10, 89, 1, 2)], 600));
        assert_eq!(d.counts, [1, 1, 0, 1]);
        assert_eq!(d.additional, vec![TYPE_OPT]);
        let d = decode(&nxdomain(&q));
        assert_eq!(d.counts, [1, 0, 0, 1]);
    }

    #[test]
    fn error_responses() {
        let q = parse_query(&query(77, "nope", TYPE_A, true, None)).unwrap();
        let d = decode(&nxdomain(&q));
        assert_eq!(
            (d.id, d.flags, d.counts),
            (77, QR | AA | RD | RA | 3, [1, 0, 0, 0])
        );
        assert_eq!(d.question, q.question);
        assert_eq!(decode(&servfail(&q)).flags, QR | RD | RA | 2);
        assert_eq!(decode(&refused(&q)).flags, QR | RD | RA | 5);
        assert_eq!(decode(&formerr(&q)).flags, QR | RD | RA | 1);
        assert_eq!(decode(&notimp(&q)).flags, QR | RD | RA | 4);
        // Opcode is echoed.
        let mut m = query(78, "x", TYPE_A, false, None);
        m[2] |= 2 << 3; // STATUS
        let q = parse_query(&m).unwrap();
        assert_eq!(q.opcode, 2);
        assert_eq!(decode(&notimp(&q)).flags, QR | (2 << 11) | RA | 4);
        // FORMERR for what did not parse: header only.
        let mut m = query(79, "x", TYPE_A, true, None);
        m[5] = 3;
        let r = formerr_raw(&m).unwrap();
        assert_eq!(r.len(), 12);
        assert_eq!(
            r,
            [
                &79u16.to_be_bytes()[..],
                &(QR | RD | RA | 1).to_be_bytes(),
                &[0; 8]
            ]
            .concat()
        );
        assert_eq!(formerr_raw(&m[..11]), None);
        m[2] |= 0x80;
        assert_eq!(formerr_raw(&m), None, "never answer a response");
    }

    #[test]
    fn large_answers_are_truncated_for_udp() {
        let q = parse_query(&query(3, "many", TYPE_A, true, None)).unwrap();
        let addrs: Vec<Ipv4Addr> = (0..40).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        let full = answer_a(&q, &addrs, 5);
        assert!(full.len() > 512);
        let cut = fit_udp(&q, full.clone(), q.max_udp());
        let d = decode(&cut);
        assert_eq!(d.flags, QR | AA | TC | RD | RA);
        assert_eq!(d.counts, [1, 0, 0, 0]);
        assert_eq!(fit_udp(&q, full.clone(), 4096), full);
        let q = parse_query(&query(3, "many", TYPE_A, true, Some(600))).unwrap();
        let d = decode(&fit_udp(&q, answer_a(&q, &addrs, 5), q.max_udp()));
        assert_eq!(d.counts, [1, 0, 0, 1]);
        assert_eq!(d.flags & TC, TC);
    }

    #[test]
    fn ptr_answers() {
        assert_eq!(
            parse_reverse("2.1.89.10.in-addr.arpa"),
            Some(Ipv4Addr::new(10, 89, 1, 2))
        );
        assert_eq!(parse_reverse("1.89.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("256.1.89.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("x.1.89.10.in-addr.arpa"), None);
        let q = parse_query(&query(4, "2.1.89.10.in-addr.arpa", TYPE_PTR, true, None)).unwrap();
        let d = decode(&answer_ptr(&q, &["web.mynet".to_string()], 10));
        assert_eq!(d.counts, [1, 1, 0, 0]);
        assert_eq!(d.answers[0].0, TYPE_PTR);
        assert_eq!(d.answers[0].3, b"\x03web\x05mynet\x00".to_vec());
    }

    fn test_db(dir: &Path) -> PathBuf {
        let path = dir.join("berth.db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch(
            r#"
            CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
            CREATE TABLE endpoints (container_id TEXT, network_id TEXT, name TEXT, aliases TEXT,
                                    ip TEXT, mac TEXT, host_veth TEXT);
            INSERT INTO networks VALUES ('n1', 'MyNet', '{"gateway":"10.89.1.1","subnet":"10.89.1.0/24"}');
            INSERT INTO networks VALUES ('n2', 'other', '{"gateway":"10.90.0.1","subnet":"10.90.0.0/24"}');
            INSERT INTO endpoints VALUES ('AbCdEf0123456789abcdef0123456789abcdef0123456789abcdef0123456789',
                'n1', 'Web', '["db-alias","Shared"]', '10.89.1.2', '02:00:00:00:00:02', 'veth1');
            INSERT INTO endpoints VALUES ('fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210',
                'n1', '/api', NULL, '10.89.1.3/24', '02:00:00:00:00:03', 'veth2');
            INSERT INTO endpoints VALUES ('1111111111111111111111111111111111111111111111111111111111111111',
                'n1', 'worker', '["shared"]', '10.89.1.4', NULL, NULL);
            INSERT INTO endpoints VALUES ('2222222222222222222222222222222222222222222222222222222222222222',
                'n2', 'elsewhere', '["db-alias"]', '10.90.0.2', NULL, NULL);
            "#,
        )
        .unwrap();
        path
    }

    #[test]
    fn lookup_names_on_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let db = test_db(dir.path());
        let none: Vec<Ipv4Addr> = Vec::new();
        let ip = |s: &str| vec![s.parse::<Ipv4Addr>().unwrap()];
        let l = |name: &str| lookup(&db, "n1", name).unwrap();
        assert_eq!(l("web"), ip("10.89.1.2"));
        assert_eq!(l("WEB"), ip("10.89.1.2"));
        assert_eq!(l("web."), ip("10.89.1.2"));
        assert_eq!(l("db-alias"), ip("10.89.1.2"));
        assert_eq!(
            l("api"),
            ip("10.89.1.3"),
            "leading / dropped, prefix length dropped"
        );
        assert_eq!(l("abcdef012345"), ip("10.89.1.2"), "short id");
        assert_eq!(l("ABCDEF012345"), ip("10.89.1.2"));
        assert_eq!(l("abcdef01234"), none, "11 hex is no id");
        assert_eq!(
            l("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"),
            ip("10.89.1.2")
        );
        assert_eq!(l("web.mynet"), ip("10.89.1.2"));
        assert_eq!(l("Web.MyNet."), ip("10.89.1.2"));
        assert_eq!(l("db-alias.mynet"), ip("10.89.1.2"));
        assert_eq!(l("web.other"), none);
        assert_eq!(l("elsewhere"), none, "other network");
        assert_eq!(l("unknown"), none);
        assert_eq!(l(""), none);
        assert_eq!(
            l("shared"),
            vec![
                "10.89.1.2".parse::<Ipv4Addr>().unwrap(),
                "10.89.1.4".parse().unwrap()
            ]
        );
        assert_eq!(lookup(&db, "n2", "db-alias").unwrap(), ip("10.90.0.2"));
        assert_eq!(lookup(&db, "nope", "web").unwrap(), none);
        assert!(lookup(&dir.path().join("missing.db"), "n1", "web").is_err());

        let snap = Snapshot::load(&db, "n1").unwrap();
        assert!(snap.exists);
        assert_eq!(snap.gateway, Some(Ipv4Addr::new(10, 89, 1, 1)));
        assert_eq!(
            snap.names_of(Ipv4Addr::new(10, 89, 1, 3)),
            vec!["api.mynet"]
        );
        assert!(snap.names_of(Ipv4Addr::new(10, 89, 1, 9)).is_empty());
        assert!(snap.in_subnet(Ipv4Addr::new(10, 89, 1, 200)));
        assert!(!snap.in_subnet(Ipv4Addr::new(10, 89, 2, 1)));
        assert!(snap.in_zone("foo.mynet") && snap.in_zone("mynet"));
        assert!(!snap.in_zone("foomynet") && !snap.in_zone("example.com"));
    }

    #[test]
    fn parses_upstreams() {
        let conf = "# comment\n\
                    nameserver 127.0.0.53\n\
                    search example.com\n\
                    nameserver 10.255.255.53 # trailing comment\n\
                    ; nameserver 9.9.9.9\n\
                    nameserver   ::1\n\
                    nameserver fe80::1%1\n\
                    nameserver fe80::2%no-such-if0\n\
                    nameserver not-an-address\n\
                    nameserver\n\
                    options ndots:2\n\
                    nameserver 127.0.0.53\n";
        assert_eq!(
            upstreams(conf),
            vec![
                "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "10.255.255.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 1)),
            ]
        );
        assert!(upstreams("").is_empty());
    }
}
