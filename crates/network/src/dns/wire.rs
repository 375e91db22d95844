//! The wire format, on hickory-proto: parsing a container's query and building the answers
//! (pure functions). hickory decodes the header, the question (names with compression
//! pointers, length limits) and the EDNS OPT record, and encodes our responses; what is ours
//! here is which answer a query gets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Label, Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

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
    /// The question as hickory holds it (`None` for the stand-in of a message whose question
    /// did not parse).
    parsed: Option<hickory_proto::op::Query>,
}

impl Query {
    /// Largest UDP response the client accepts.
    pub fn max_udp(&self) -> usize {
        usize::from(self.udp_size.unwrap_or(512).max(512))
    }
}

/// The presentation form of `name` as [`Query::name`] holds it: lower case, no trailing dot,
/// odd bytes escaped.
fn presentation(name: &Name) -> String {
    let mut text = String::new();
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
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
    }
    text
}

/// The UDP payload size of the OPT record in the additional section, if any: the sections after
/// the question are read as far as they parse (their other records are ignored).
fn find_opt(decoder: &mut BinDecoder<'_>, header: &Header) -> Option<u16> {
    let op = header.metadata.op_code;
    let counts = &header.counts;
    Message::read_records(decoder, usize::from(counts.answers), false, op).ok()?;
    Message::read_records(decoder, usize::from(counts.authorities), false, op).ok()?;
    let (_, edns, _) =
        Message::read_records(decoder, usize::from(counts.additionals), true, op).ok()?;
    edns.map(|e| e.max_payload().max(512))
}

/// Parses a DNS query message: header, exactly one question, and the EDNS OPT record if the
/// additional section has one (other records are ignored). Responses (QR set), missing or
/// several questions and truncated or malformed names are errors.
pub fn parse_query(msg: &[u8]) -> Result<Query, DnsError> {
    if msg.len() < 12 {
        return Err(DnsError::Malformed("shorter than a header"));
    }
    let mut decoder = BinDecoder::new(msg);
    let header = Header::read(&mut decoder).map_err(|_| DnsError::Malformed("bad header"))?;
    if header.metadata.message_type != MessageType::Query {
        return Err(DnsError::Malformed("not a query"));
    }
    if header.counts.queries != 1 {
        return Err(DnsError::Malformed("not exactly one question"));
    }
    let parsed = hickory_proto::op::Query::read(&mut decoder)
        .map_err(|_| DnsError::Malformed("bad question"))?;
    let question = parsed
        .to_bytes()
        .map_err(|_| DnsError::Malformed("bad question"))?;
    Ok(Query {
        id: header.metadata.id,
        opcode: u8::from(header.metadata.op_code),
        name: presentation(parsed.name()),
        qtype: u16::from(parsed.query_type()),
        qclass: u16::from(parsed.query_class()),
        rd: header.metadata.recursion_desired,
        udp_size: find_opt(&mut decoder, &header),
        question,
        parsed: Some(parsed),
    })
}

/// A response to `q`: header (RA always set: we forward), the echoed question, `answers` and,
/// when the query had one, an OPT record. Empty (nothing to send) if it cannot be encoded.
fn build(q: &Query, rcode: ResponseCode, aa: bool, answers: Vec<Record>) -> Vec<u8> {
    let mut m = Message::response(q.id, OpCode::from_u8(q.opcode));
    m.metadata.authoritative = aa;
    m.metadata.recursion_desired = q.rd;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_queries(q.parsed.clone());
    m.add_answers(answers);
    if q.udp_size.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        m.set_edns(edns);
    }
    m.to_vec().unwrap_or_default()
}

pub(super) fn class_in(q: &Query) -> bool {
    q.qclass == CLASS_IN || q.qclass == CLASS_ANY
}

/// Records of type `rtype` for the question name, one per `rdata`, when the query asks for that
/// type (or ANY) in class IN (or ANY); none otherwise.
fn records(q: &Query, rtype: u16, ttl: u32, rdata: impl Iterator<Item = RData>) -> Vec<Record> {
    let wanted = (q.qtype == rtype || q.qtype == TYPE_ANY) && class_in(q);
    match &q.parsed {
        // class IN
        Some(parsed) if wanted => rdata
            .map(|d| Record::from_rdata(parsed.name().clone(), ttl, d))
            .collect(),
        _ => Vec::new(),
    }
}

/// The authoritative answer for a name that exists: A records for `addrs` when the query asks
/// for A (or ANY); for any other type (AAAA, MX, ...) NOERROR without answers (NODATA), as
/// docker answers.
pub fn answer_a(q: &Query, addrs: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    answer_addrs(q, addrs, &[], ttl)
}

/// [`answer_a`] with AAAA records for `addrs6` when the query asks for AAAA (or ANY).
pub fn answer_addrs(q: &Query, addrs: &[Ipv4Addr], addrs6: &[Ipv6Addr], ttl: u32) -> Vec<u8> {
    let mut answers = records(q, TYPE_A, ttl, addrs.iter().map(|a| RData::A(A(*a))));
    answers.extend(records(
        q,
        TYPE_AAAA,
        ttl,
        addrs6.iter().map(|a| RData::AAAA(AAAA(*a))),
    ));
    build(q, ResponseCode::NoError, true, answers)
}

/// The authoritative answer to a PTR query: one PTR record per name (names that cannot be
/// encoded are left out).
pub fn answer_ptr(q: &Query, names: &[String], ttl: u32) -> Vec<u8> {
    let names = names.iter().filter_map(|n| encode_name(n));
    let answers = records(q, TYPE_PTR, ttl, names.map(|n| RData::PTR(PTR(n))));
    build(q, ResponseCode::NoError, true, answers)
}

/// Authoritative "no such name".
pub fn nxdomain(q: &Query) -> Vec<u8> {
    build(q, ResponseCode::NXDomain, true, Vec::new())
}

/// "Server failure": no upstream answered.
pub fn servfail(q: &Query) -> Vec<u8> {
    build(q, ResponseCode::ServFail, false, Vec::new())
}

/// "Refused".
pub fn refused(q: &Query) -> Vec<u8> {
    build(q, ResponseCode::Refused, false, Vec::new())
}

/// "Not implemented", for opcodes other than QUERY.
pub fn notimp(q: &Query) -> Vec<u8> {
    build(q, ResponseCode::NotImp, false, Vec::new())
}

/// "Format error" for a query whose question parsed.
pub fn formerr(q: &Query) -> Vec<u8> {
    build(q, ResponseCode::FormErr, false, Vec::new())
}

/// "Format error" for a message [`parse_query`] rejected: the header only, with the client's
/// id, opcode and RD. `None` (send nothing) when the message is too short or is itself a
/// response, so that two servers never bounce errors at each other.
pub fn formerr_raw(msg: &[u8]) -> Option<Vec<u8>> {
    let q = parse_header_only(msg)?;
    Some(formerr(&q))
}

/// Cuts a response we built for `q` down to header, question (and OPT) with the TC bit set when
/// it is larger than `max` bytes, so the client retries over TCP.
pub fn fit_udp(q: &Query, resp: Vec<u8>, max: usize) -> Vec<u8> {
    if resp.len() <= max || resp.len() < 12 + q.question.len() {
        return resp;
    }
    match Message::from_vec(&resp).map(|m| m.truncate().to_vec()) {
        Ok(Ok(cut)) => cut,
        _ => resp,
    }
}

/// The name of a presentation name without escapes, as a fully qualified [`Name`]; `None` when
/// a label is longer than 63 bytes or the name longer than 255.
fn encode_name(name: &str) -> Option<Name> {
    let labels = name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| Label::from_raw_bytes(l.as_bytes()).ok());
    let name = Name::from_labels(labels.collect::<Option<Vec<Label>>>()?).ok()?;
    // the wire form: a length byte per label, the labels, the root's zero byte
    let wire = name.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    (wire <= 255).then_some(name)
}

/// The address of a reverse name: `d.c.b.a.in-addr.arpa`, or the 32 nibbles of an IPv6
/// address, lowest first, then `ip6.arpa` (case-insensitive).
pub fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
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
        return Some(Ipv4Addr::from(octets).into());
    }
    let rest = name
        .get(name.len().checked_sub(9)?..)
        .filter(|s| s.eq_ignore_ascii_case(".ip6.arpa"))
        .map(|_| &name[..name.len() - 9])?;
    let nibbles: Vec<&str> = rest.split('.').collect();
    if nibbles.len() != 32 {
        return None;
    }
    let mut v: u128 = 0;
    for n in nibbles.iter().rev() {
        let mut c = n.chars();
        let d = match (c.next(), c.next()) {
            (Some(ch), None) => ch.to_digit(16)?,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(Ipv6Addr::from(v).into())
}

/// A query stand-in for answering FORMERR to a message whose question did not parse: the
/// header's id, opcode and RD, no question. `None` when the message is shorter than a header
/// or is a response.
pub(super) fn parse_header_only(msg: &[u8]) -> Option<Query> {
    let header = Header::read(&mut BinDecoder::new(msg)).ok()?;
    (header.metadata.message_type == MessageType::Query).then(|| Query {
        id: header.metadata.id,
        opcode: u8::from(header.metadata.op_code),
        name: String::new(),
        qtype: 0,
        qclass: 0,
        rd: header.metadata.recursion_desired,
        udp_size: None,
        question: Vec::new(),
        parsed: None,
    })
}

/// `msg` (a message we relay) with another id.
pub(super) fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[..2].copy_from_slice(&id.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire form of a name (presentation form, no escapes).
    fn wire_name(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            out.push(l.len() as u8);
            out.extend_from_slice(l.as_bytes());
        }
        out.push(0);
        out
    }

    /// A query message for `name` (presentation form, no escapes).
    fn query(id: u16, name: &str, qtype: u16, rd: bool, edns: Option<u16>) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&(if rd { 0x0100u16 } else { 0 }).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
        m.extend_from_slice(&wire_name(name));
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

    fn be16(b: &[u8], i: usize) -> u16 {
        u16::from_be_bytes([b[i], b[i + 1]])
    }

    struct Decoded {
        id: u16,
        flags: u16,
        counts: [u16; 4],
        question: Vec<u8>,
        /// (type, class, ttl, rdata) of the answer section; every owner is the question name.
        answers: Vec<(u16, u16, u32, Vec<u8>)>,
        /// Type of the additional records.
        additional: Vec<u16>,
    }

    /// A response decoded by hickory (the header's bits and counts read as sent).
    fn decode(r: &[u8]) -> Decoded {
        let m = Message::from_vec(r).expect("our response decodes");
        let counts = [be16(r, 4), be16(r, 6), be16(r, 8), be16(r, 10)];
        let question = match m.queries.first() {
            Some(q) => q.to_bytes().unwrap(),
            None => Vec::new(),
        };
        assert_eq!(&r[12..12 + question.len()], &question[..]);
        let answers = m
            .answers
            .iter()
            .map(|a| {
                assert_eq!(
                    a.name.to_bytes().unwrap()[..],
                    question[..question.len() - 4]
                );
                let t = u16::from(a.record_type());
                (t, u16::from(a.dns_class), a.ttl, a.data.to_bytes().unwrap())
            })
            .collect();
        let mut additional: Vec<u16> = m
            .additionals
            .iter()
            .map(|a| u16::from(a.record_type()))
            .collect();
        if m.edns.is_some() {
            additional.push(TYPE_OPT);
        }
        Decoded {
            id: be16(r, 0),
            flags: be16(r, 2),
            counts,
            question,
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
        // the owner of an answer is a pointer to the question
        let r = answer_a(&q, &addrs, 600);
        let at = 12 + q.question.len();
        assert_eq!(&r[at..at + 2], &[0xc0, 0x0c]);
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
        // an endpoint with a v6 address: one AAAA record, no A
        let v6: Ipv6Addr = "fd00::2".parse().unwrap();
        let d = decode(&answer_addrs(
            &q,
            &[Ipv4Addr::new(10, 89, 1, 2)],
            &[v6],
            600,
        ));
        assert_eq!(d.counts, [1, 1, 0, 0]);
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
            Some(Ipv4Addr::new(10, 89, 1, 2).into())
        );
        // IPv6: 32 nibbles, lowest first, any case
        let v6: Ipv6Addr = "fd00:89::4:2a".parse().unwrap();
        let rev = "a.2.0.0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa";
        assert_eq!(parse_reverse(rev), Some(v6.into()));
        assert_eq!(parse_reverse(&rev.to_ascii_uppercase()), Some(v6.into()));
        assert_eq!(parse_reverse(&rev[2..]), None); // 31 nibbles
        assert_eq!(parse_reverse(&rev.replace("a.2.", "a2.")), None);
        assert_eq!(parse_reverse(&rev.replace("a.2.", "g.2.")), None);
        assert_eq!(parse_reverse("ip6.arpa"), None);
        assert_eq!(parse_reverse("1.89.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("256.1.89.10.in-addr.arpa"), None);
        assert_eq!(parse_reverse("x.1.89.10.in-addr.arpa"), None);
        let q = parse_query(&query(4, "2.1.89.10.in-addr.arpa", TYPE_PTR, true, None)).unwrap();
        let d = decode(&answer_ptr(&q, &["web.mynet".to_string()], 10));
        assert_eq!(d.counts, [1, 1, 0, 0]);
        assert_eq!(d.answers[0].0, TYPE_PTR);
        assert_eq!(d.answers[0].3, b"\x03web\x05mynet\x00".to_vec());
        // names that cannot be encoded are left out
        let long = ["x".repeat(64), "a.".repeat(130)];
        let d = decode(&answer_ptr(&q, &long, 10));
        assert_eq!(d.counts, [1, 0, 0, 0]);
    }
}
