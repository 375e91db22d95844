//! One json-file line, both ways: docker's jsonlog encoding and its parse.

use chrono::{DateTime, Utc};

use super::Stream;

/// Go's RFC3339Nano in UTC: fraction without trailing zeros, none at all when zero.
pub(super) fn format_time(t: &DateTime<Utc>) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ns = t.timestamp_subsec_nanos().min(999_999_999);
    if ns > 0 {
        s.push('.');
        s.push_str(format!("{ns:09}").trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// One log line as docker's jsonlog encoder writes it (HTML characters escaped, invalid
/// UTF-8 replaced by U+FFFD), with its newline.
pub(super) fn encode_entry(log: &[u8], stream: Stream, time: &DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len() + 80);
    out.extend_from_slice(b"{\"log\":");
    encode_json_string(&mut out, log);
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(format_time(time).as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

pub(super) fn encode_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                    let b = c as u8;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
                c => {
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
        // Go replaces each invalid byte with the replacement character.
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

/// One entry read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub stream: Stream,
    pub time: DateTime<Utc>,
    /// The `log` field: the line with its `\n`, or without it for a partial piece.
    pub line: Vec<u8>,
}

#[derive(serde::Deserialize)]
pub(super) struct RawEntry {
    log: String,
    stream: String,
    time: String,
}

pub(super) fn parse_entry(line: &[u8]) -> Option<LogEntry> {
    let raw: RawEntry = serde_json::from_slice(line).ok()?;
    let stream = match raw.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let time = DateTime::parse_from_rfc3339(&raw.time)
        .ok()?
        .with_timezone(&Utc);
    Some(LogEntry {
        stream,
        time,
        line: raw.log.into_bytes(),
    })
}
