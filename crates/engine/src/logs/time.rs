//! docker's `--since`/`--until` values.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::error::{Error, Result};

/// docker's `--since`/`--until` values: RFC3339 with or without fraction and zone (a time
/// without a zone is local time), date-only ("2026-11-23"), unix timestamps
/// ("1700000000", "1700000000.123456789"), or Go durations back from `now` ("10m",
/// "1h30m", "42s", "1.5h").
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let bad = || Error::Invalid(format!("failed to parse value as time or duration: {s:?}"));
    let v = s.trim();
    if v.is_empty() {
        return Err(bad());
    }
    if v != "0" {
        if let Some(ns) = parse_go_duration(v) {
            return now
                .checked_sub_signed(chrono::Duration::nanoseconds(ns))
                .ok_or_else(bad);
        }
    }
    if let Some(t) = parse_unix(v) {
        return Ok(t);
    }
    if v.contains('-') {
        return parse_rfc3339ish(v).ok_or_else(|| {
            Error::Invalid(format!(
                "invalid time {s:?}: expected RFC3339 such as 2026-11-23T12:00:00Z, a date, a unix timestamp or a duration such as 10m"
            ))
        });
    }
    Err(bad())
}

/// Go's `time.ParseDuration`, in nanoseconds (`300ms`, `1m30s`, `1.5h`, `-5m`, `0`). The one
/// parser of durations for flags, log times and Dockerfile HEALTHCHECKs.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (neg, mut rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int = &rest[..int_end];
        rest = &rest[int_end..];
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let fe = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac = &r[..fe];
            rest = &r[fe..];
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        let n: f64 = format!("{}.{}", if int.is_empty() { "0" } else { int }, frac)
            .trim_end_matches('.')
            .parse()
            .ok()?;
        total += n * mult;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

/// "1700000000" or "1700000000.5" (seconds since the epoch, fraction scaled to nanoseconds).
pub(super) fn parse_unix(s: &str) -> Option<DateTime<Utc>> {
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    if sec.is_empty() || !sec.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = sec.parse().ok()?;
    let nanos: u32 = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse().ok()?
        }
        Some(_) => return None,
    };
    DateTime::from_timestamp(secs, nanos)
}

/// "2026-11-23", "2026-11-23Z", "2026-11-23T12", "2026-11-23T12:30",
/// "2026-11-23T12:30:45[.123]", each optionally followed by "Z" or "+01:00"; without a
/// zone the time is local.
pub(super) fn parse_rfc3339ish(s: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    let mut rest = &s[10..];
    let mut time = NaiveTime::MIN;
    if let Some(r) = rest.strip_prefix(['T', 't']) {
        let two = |r: &str| -> Option<u32> {
            let d = r.get(..2)?;
            if d.bytes().all(|b| b.is_ascii_digit()) {
                d.parse().ok()
            } else {
                None
            }
        };
        let h = two(r)?;
        let mut r = &r[2..];
        let (mut m, mut sec, mut nano) = (0, 0, 0);
        if let Some(x) = r.strip_prefix(':') {
            m = two(x)?;
            r = &x[2..];
            if let Some(x) = r.strip_prefix(':') {
                sec = two(x)?;
                r = &x[2..];
                if let Some(x) = r.strip_prefix('.') {
                    let fe = x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len());
                    let f = &x[..fe];
                    if f.is_empty() || f.len() > 9 {
                        return None;
                    }
                    nano = format!("{f:0<9}").parse().ok()?;
                    r = &x[fe..];
                }
            }
        }
        time = NaiveTime::from_hms_nano_opt(h, m, sec, nano)?;
        rest = r;
    }
    let naive = date.and_time(time);
    match rest {
        "" => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        "Z" | "z" => Some(Utc.from_utc_datetime(&naive)),
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hh, mm) = z[1..].split_once(':')?;
            if hh.len() != 2 || mm.len() != 2 {
                return None;
            }
            let off = sign * (hh.parse::<i32>().ok()? * 3600 + mm.parse::<i32>().ok()? * 60);
            FixedOffset::east_opt(off)?
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}
