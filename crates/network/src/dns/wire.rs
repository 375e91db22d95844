//! The wire format: parsing queries and building responses (pure functions).

use std::net::Ipv4Addr;

use super::*;

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

pub(super) fn class_in(q: &Query) -> bool {
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
pub(super) fn encode_name(name: &str) -> Option<Vec<u8>> {
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

/// A query stand-in for answering FORMERR to a message whose question did not parse.
pub(super) fn parse_header_only(msg: &[u8]) -> Option<Query> {
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

pub(super) fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[..2].copy_from_slice(&id.to_be_bytes());
    m
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
}
