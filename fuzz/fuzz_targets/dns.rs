//! The embedded DNS server's wire handling: a query from a container (`parse_query`, which
//! decodes with hickory-proto) and every answer built for it with hickory-proto (A, PTR,
//! NXDOMAIN, SERVFAIL, REFUSED, NOTIMP, FORMERR, the UDP truncation), as `berth __dns`
//! answers.
//!
//! Invariants: no panic; every answer is a response (QR set) with the query's id and the
//! question echoed, that parses back (QR cleared) to the same question; a message that does
//! not parse gets a header-only FORMERR or nothing (never to a response); a truncated
//! answer fits the client's UDP size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use network::dns::{
    answer_a, answer_ptr, fit_udp, formerr, formerr_raw, notimp, nxdomain, parse_query,
    parse_reverse, refused, servfail, Query,
};
use std::net::Ipv4Addr;

fn check_answer(q: &Query, resp: &[u8]) {
    assert!(resp.len() >= 12 + q.question.len());
    assert_eq!(&resp[..2], &q.id.to_be_bytes());
    assert!(resp[2] & 0x80 != 0, "not a response");
    assert_eq!(&resp[12..12 + q.question.len()], &q.question[..]);
    let mut back = resp.to_vec();
    back[2] &= 0x7f;
    let again = parse_query(&back).expect("our answer parses back");
    assert_eq!(
        (&again.name, again.qtype, again.qclass, again.id, again.rd),
        (&q.name, q.qtype, q.qclass, q.id, q.rd)
    );
    assert_eq!(again.udp_size.is_some(), q.udp_size.is_some());
}

fuzz_target!(|msg: &[u8]| {
    let q = match parse_query(msg) {
        Ok(q) => q,
        Err(_) => {
            if let Some(r) = formerr_raw(msg) {
                assert_eq!(r.len(), 12);
                assert_eq!(&r[..2], &msg[..2]);
                assert!(msg[2] & 0x80 == 0, "FORMERR sent to a response");
            }
            return;
        }
    };
    assert!(q.question.len() <= 255 + 4);
    let names = vec![
        "web".to_string(),
        "web.net".to_string(),
        "x".repeat(70),
        format!("{}.", "a.".repeat(200)),
    ];
    let addrs: Vec<Ipv4Addr> = (0..200u8).map(|i| Ipv4Addr::new(172, 18, 0, i)).collect();
    let answers = [
        answer_a(&q, &addrs[..1], 600),
        answer_a(&q, &addrs, 600),
        answer_ptr(&q, &names, 600),
        nxdomain(&q),
        servfail(&q),
        refused(&q),
        notimp(&q),
        formerr(&q),
    ];
    for a in &answers {
        check_answer(&q, a);
        let fitted = fit_udp(&q, a.clone(), q.max_udp());
        check_answer(&q, &fitted);
        assert!(
            fitted.len() <= q.max_udp() || fitted.len() <= 12 + q.question.len() + 11,
            "{} bytes for a client that takes {}",
            fitted.len(),
            q.max_udp()
        );
    }
    if let Some(ip) = parse_reverse(&q.name) {
        // the address written back in its canonical reverse form reads the same
        let canonical = match ip {
            std::net::IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
            std::net::IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let nibbles: Vec<String> = (0..32)
                    .map(|i| format!("{:x}", (bits >> (4 * i)) & 0xf))
                    .collect();
                format!("{}.ip6.arpa", nibbles.join("."))
            }
        };
        assert_eq!(parse_reverse(&canonical), Some(ip));
    }
});
