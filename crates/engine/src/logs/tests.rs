use super::format::{encode_entry, format_time};
use super::options::{parse_opts, parse_size, Config};
use super::writer::{open_append, MAX_LINE};
use super::*;
use crate::error::Error;
use chrono::{DateTime, Local, TimeZone, Utc};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn all() -> ReadOptions {
    ReadOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    }
}

fn read_all(path: &Path, o: &ReadOptions) -> Vec<LogEntry> {
    let mut out = Vec::new();
    read(path, o, &mut || false, &mut |e| {
        out.push(e.clone());
        true
    })
    .unwrap();
    out
}

fn lines(v: &[LogEntry]) -> Vec<String> {
    v.iter()
        .map(|e| String::from_utf8(e.line.clone()).unwrap())
        .collect()
}

#[test]
fn writes_docker_json_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c-json.log");
    let mut w = LogWriter::open(&p, &BTreeMap::new()).unwrap();
    w.write(Stream::Stdout, b"hello \"x\" <b>&\t\x01\n")
        .unwrap();
    w.write(Stream::Stderr, b"bad \xff byte\n").unwrap();
    let text = fs::read_to_string(&p).unwrap();
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l.len(), 2);
    assert!(
        l[0].starts_with(
            r#"{"log":"hello \"x\" \u003cb\u003e\u0026\t\u0001\n","stream":"stdout","time":""#
        ),
        "{}",
        l[0]
    );
    assert!(l[0].ends_with("Z\"}"));
    assert!(l[1].starts_with(r#"{"log":"bad \ufffd byte\n","stream":"stderr","time":"#));
    // and it reads back
    let got = read_all(&p, &all());
    assert_eq!(got[0].line, b"hello \"x\" <b>&\t\x01\n");
    assert_eq!(got[1].stream, Stream::Stderr);
}

#[test]
fn time_format_is_rfc3339nano() {
    let t = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    assert_eq!(format_time(&t), "2026-11-23T12:00:00Z");
    let t2 = t + chrono::Duration::nanoseconds(123_456_789);
    assert_eq!(format_time(&t2), "2026-11-23T12:00:00.123456789Z");
    let t3 = t + chrono::Duration::milliseconds(120);
    assert_eq!(format_time(&t3), "2026-11-23T12:00:00.12Z");
}

#[test]
fn partial_lines_across_writes_and_flush() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let mut w = LogWriter::open(&p, &BTreeMap::new()).unwrap();
    w.write(Stream::Stdout, b"hel").unwrap();
    w.write(Stream::Stderr, b"err").unwrap();
    w.write(Stream::Stdout, b"lo\nwor").unwrap();
    w.write(Stream::Stderr, b"or\n").unwrap();
    w.write(Stream::Stdout, b"ld\nlast").unwrap();
    assert_eq!(
        lines(&read_all(&p, &all())),
        ["hello\n", "error\n", "world\n"]
    );
    w.flush().unwrap();
    assert_eq!(
        lines(&read_all(&p, &all())),
        ["hello\n", "error\n", "world\n", "last"]
    );
    // nothing left to flush
    w.flush().unwrap();
    assert_eq!(read_all(&p, &all()).len(), 4);
}

#[test]
fn long_lines_in_16k_pieces() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let mut w = LogWriter::open(&p, &BTreeMap::new()).unwrap();
    let mut big = vec![b'a'; 40_000];
    big.push(b'\n');
    // in odd-sized writes
    for c in big.chunks(7000) {
        w.write(Stream::Stdout, c).unwrap();
    }
    let got = read_all(&p, &all());
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].line.len(), MAX_LINE);
    assert_eq!(got[1].line.len(), MAX_LINE);
    assert_eq!(got[2].line.len(), 40_000 - 2 * MAX_LINE + 1);
    assert!(got[2].line.ends_with(b"\n"));
    let joined: Vec<u8> = got.iter().flat_map(|e| e.line.clone()).collect();
    assert_eq!(joined, big);
}

#[test]
fn options_are_validated() {
    assert!(validate_opts(&opts(&[("max-size", "10k"), ("max-file", "3")])).is_ok());
    assert_eq!(
        parse_opts(&opts(&[("max-size", "10m")])).unwrap(),
        Config {
            max_size: Some(10 << 20),
            max_file: 1
        }
    );
    assert_eq!(parse_size("1g"), Some(1 << 30));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size("10MiB"), Some(10 << 20));
    assert_eq!(parse_size("100"), Some(100));
    assert_eq!(parse_size("10x"), None);
    assert_eq!(parse_size("k"), None);
    for (kv, word) in [
        (vec![("max-size", "ten")], "max-size"),
        (vec![("max-size", "0")], "max-size"),
        (vec![("max-size", "1m"), ("max-file", "0")], "max-file"),
        (vec![("max-size", "1m"), ("max-file", "x")], "max-file"),
        (vec![("bogus", "1")], "bogus"),
        (vec![("compress", "true")], "compress"),
    ] {
        let e = validate_opts(&opts(&kv)).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
        assert!(e.to_string().contains(word), "{e}");
    }
    let d = tempfile::tempdir().unwrap();
    assert!(LogWriter::open(&d.path().join("l"), &opts(&[("max-size", "-1")])).is_err());
}

#[test]
fn rotation_keeps_max_file_files_in_order() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let mut w = LogWriter::open(&p, &opts(&[("max-size", "1k"), ("max-file", "3")])).unwrap();
    for i in 0..100 {
        w.write(Stream::Stdout, format!("line {i:03}\n").as_bytes())
            .unwrap();
    }
    assert!(p.exists() && numbered(&p, 1).exists() && numbered(&p, 2).exists());
    assert!(!numbered(&p, 3).exists());
    for f in [p.clone(), numbered(&p, 1), numbered(&p, 2)] {
        assert!(fs::metadata(&f).unwrap().len() <= 1024);
    }
    let got = lines(&read_all(&p, &all()));
    assert!(got.len() < 100 && got.len() > 20, "{}", got.len());
    // the newest ones, contiguous and in order
    let first = 100 - got.len();
    for (k, l) in got.iter().enumerate() {
        assert_eq!(l, &format!("line {:03}\n", first + k));
    }
    // tail across the rotated files
    let t = lines(&read_all(
        &p,
        &ReadOptions {
            tail: Some(got.len() - 2),
            ..all()
        },
    ));
    assert_eq!(t, got[2..]);
    let t = lines(&read_all(
        &p,
        &ReadOptions {
            tail: Some(3),
            ..all()
        },
    ));
    assert_eq!(t, ["line 097\n", "line 098\n", "line 099\n"]);
    let t = read_all(
        &p,
        &ReadOptions {
            tail: Some(0),
            ..all()
        },
    );
    assert!(t.is_empty());
    let t = read_all(
        &p,
        &ReadOptions {
            tail: Some(10_000),
            ..all()
        },
    );
    assert_eq!(lines(&t), got);
}

#[test]
fn max_file_one_starts_over() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let mut w = LogWriter::open(&p, &opts(&[("max-size", "300")])).unwrap();
    for i in 0..20 {
        w.write(Stream::Stdout, format!("{i}\n").as_bytes())
            .unwrap();
    }
    assert!(!numbered(&p, 1).exists());
    let got = lines(&read_all(&p, &all()));
    assert_eq!(got.last().unwrap(), "19\n");
    assert!(got.len() < 20);
}

/// Writes entries with chosen times, straight in the file.
fn write_at(p: &Path, entries: &[(Stream, &str, DateTime<Utc>)]) {
    let mut f = open_append(p).unwrap();
    for (s, l, t) in entries {
        f.write_all(&encode_entry(l.as_bytes(), *s, t)).unwrap();
    }
}

#[test]
fn since_until_and_stream_filters() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    write_at(
        &p,
        &[
            (Stream::Stdout, "a\n", at(0)),
            (Stream::Stderr, "b\n", at(10)),
            (Stream::Stdout, "c\n", at(20)),
            (Stream::Stderr, "d\n", at(30)),
            (Stream::Stdout, "e\n", at(40)),
        ],
    );
    let r = |o: ReadOptions| lines(&read_all(&p, &o)).concat();
    assert_eq!(r(all()), "a\nb\nc\nd\ne\n");
    assert_eq!(
        r(ReadOptions {
            since: Some(at(10)),
            ..all()
        }),
        "b\nc\nd\ne\n"
    );
    assert_eq!(
        r(ReadOptions {
            until: Some(at(20)),
            ..all()
        }),
        "a\nb\nc\n"
    );
    assert_eq!(
        r(ReadOptions {
            since: Some(at(5)),
            until: Some(at(35)),
            ..all()
        }),
        "b\nc\nd\n"
    );
    assert_eq!(
        r(ReadOptions {
            stderr: false,
            ..all()
        }),
        "a\nc\ne\n"
    );
    assert_eq!(
        r(ReadOptions {
            stdout: false,
            ..all()
        }),
        "b\nd\n"
    );
    assert_eq!(
        r(ReadOptions {
            stdout: false,
            tail: Some(1),
            ..all()
        }),
        "d\n"
    );
    assert_eq!(
        r(ReadOptions {
            until: Some(at(25)),
            tail: Some(2),
            ..all()
        }),
        "b\nc\n"
    );
    // a missing log is empty, not an error
    assert!(read_all(&d.path().join("none"), &all()).is_empty());
}

#[test]
fn emit_false_stops() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let mut w = LogWriter::open(&p, &BTreeMap::new()).unwrap();
    w.write(Stream::Stdout, b"1\n2\n3\n").unwrap();
    let mut n = 0;
    read(
        &p,
        &ReadOptions {
            follow: true,
            ..all()
        },
        &mut || true,
        &mut |_| {
            n += 1;
            n < 2
        },
    )
    .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn follow_sees_everything_across_rotation() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let o = opts(&[("max-size", "2k"), ("max-file", "5")]);
    let mut w = LogWriter::open(&p, &o).unwrap();
    w.write(Stream::Stdout, b"line 0000\n").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 1..400 {
                w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes())
                    .unwrap();
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            w.write(Stream::Stderr, b"no newline").unwrap();
            w.flush().unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut got = Vec::new();
    read(
        &p,
        &ReadOptions {
            follow: true,
            ..all()
        },
        &mut || !done.load(Ordering::SeqCst),
        &mut |e| {
            got.push(String::from_utf8(e.line.clone()).unwrap());
            true
        },
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), 401, "{:?}", &got[got.len().saturating_sub(3)..]);
    for (i, l) in got[..400].iter().enumerate() {
        assert_eq!(l, &format!("line {i:04}\n"));
    }
    assert_eq!(got[400], "no newline");
}

#[test]
fn follow_with_tail_and_late_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("log");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, p) = (done.clone(), p.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(120));
            let mut w = LogWriter::open(&p, &BTreeMap::new()).unwrap();
            for i in 0..5 {
                w.write(Stream::Stdout, format!("{i}\n").as_bytes())
                    .unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut got = String::new();
    read(
        &p,
        &ReadOptions {
            follow: true,
            tail: Some(0),
            ..all()
        },
        &mut || !done.load(Ordering::SeqCst),
        &mut |e| {
            got.push_str(std::str::from_utf8(&e.line).unwrap());
            true
        },
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(got, "0\n1\n2\n3\n4\n");
}

#[test]
fn parse_time_forms() {
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let p = |s: &str| parse_time(s, now).unwrap();
    assert_eq!(p("10m"), now - chrono::Duration::minutes(10));
    assert_eq!(p("1h30m"), now - chrono::Duration::minutes(90));
    assert_eq!(p("42s"), now - chrono::Duration::seconds(42));
    assert_eq!(p("1.5h"), now - chrono::Duration::minutes(90));
    assert_eq!(p("250ms"), now - chrono::Duration::milliseconds(250));
    assert_eq!(p("-5m"), now + chrono::Duration::minutes(5));
    assert_eq!(
        p("1700000000"),
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    );
    assert_eq!(
        p("1700000000.123"),
        DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap()
    );
    assert_eq!(p("0"), DateTime::from_timestamp(0, 0).unwrap());
    let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 5).unwrap();
    assert_eq!(p("2026-11-23T10:30:05Z"), t);
    assert_eq!(p("2026-11-23T11:30:05+01:00"), t);
    assert_eq!(p("2026-11-23T08:30:05-02:00"), t);
    assert_eq!(
        p("2026-11-23T10:30:05.5Z"),
        t + chrono::Duration::milliseconds(500)
    );
    assert_eq!(
        p("2026-11-23T10:30:05.123456789Z"),
        t + chrono::Duration::nanoseconds(123_456_789)
    );
    assert_eq!(
        p("2026-11-23T10:30Z"),
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 0).unwrap()
    );
    assert_eq!(
        p("2026-11-23T10Z"),
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    );
    assert_eq!(
        p("2026-11-23Z"),
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
    );
    // zone-less forms are local time
    let local = |y, mo, d, h, mi, s| {
        Local
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(p("2026-11-23"), local(2026, 11, 23, 0, 0, 0));
    assert_eq!(p("2026-11-23T10:30:05"), local(2026, 11, 23, 10, 30, 5));
    assert_eq!(p("2026-11-23T10:30"), local(2026, 11, 23, 10, 30, 0));
    for bad in [
        "",
        "yesterday",
        "10x",
        "2026-13-01",
        "2026-11-23T25:00:00Z",
        "2026-11-23T10:30:05+0100",
        "1700000000.",
        "12:00",
        "1h-",
    ] {
        let e = parse_time(bad, now).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{bad}: {e}");
        if !bad.is_empty() {
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
