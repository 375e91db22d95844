//! The json-file log reader behind `logs` (and the writer whose files it reads).
//!
//! Input: byte 0 picks the mode. Even: the rest is a log file as found on disk (a container
//! can not write it directly, but a crash mid-write, a full disk or an edited file can leave
//! anything), read whole, with `--tail`, `--since`/`--until` and a stream filter. Odd: the
//! rest is a container's output, written through `LogWriter` (rotating every few hundred
//! bytes when bit 1 is set) and read back.
//!
//! Invariants: no panic; `--tail N` returns exactly the last N entries of the whole read;
//! the stream filter and `--since`/`--until` keep only what they say; output written as
//! valid UTF-8 reads back byte for byte, in order, across rotations.
#![no_main]

use chrono::{DateTime, Utc};
use engine::logs::{read, LogEntry, LogWriter, ReadOptions, Stream};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;

fn read_all(path: &Path, opts: &ReadOptions) -> Vec<LogEntry> {
    let mut out = Vec::new();
    read(path, opts, &mut || false, &mut |e| {
        out.push(e.clone());
        true
    })
    .expect("reading a log file");
    out
}

fn all() -> ReadOptions {
    ReadOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    }
}

fn read_file(path: &Path, tail: usize, cut: Option<DateTime<Utc>>) {
    let everything = read_all(path, &all());
    let last = read_all(
        path,
        &ReadOptions {
            tail: Some(tail),
            ..all()
        },
    );
    let from = everything.len().saturating_sub(tail);
    assert_eq!(last, everything[from..], "--tail {tail}");
    let errs = read_all(
        path,
        &ReadOptions {
            stdout: false,
            ..all()
        },
    );
    let want: Vec<_> = everything
        .iter()
        .filter(|e| e.stream == Stream::Stderr)
        .cloned()
        .collect();
    assert_eq!(errs, want, "stderr only");
    if let Some(t) = cut {
        let since = read_all(
            path,
            &ReadOptions {
                since: Some(t),
                ..all()
            },
        );
        let want: Vec<_> = everything.iter().filter(|e| e.time >= t).cloned().collect();
        assert_eq!(since, want, "--since");
        let until = read_all(
            path,
            &ReadOptions {
                until: Some(t),
                ..all()
            },
        );
        // until stops at the first entry past it
        let want: Vec<_> = everything
            .iter()
            .take_while(|e| e.time <= t)
            .cloned()
            .collect();
        assert_eq!(until, want, "--until");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("berth-fuzz-log.")
        .tempdir()
        .unwrap();
    let path = dir.path().join("c-json.log");
    if mode & 1 == 0 {
        std::fs::write(&path, rest).unwrap();
        let cut = DateTime::parse_from_rfc3339("2026-11-23T12:00:00.5Z")
            .ok()
            .map(|t| t.with_timezone(&Utc));
        read_file(&path, usize::from(mode >> 1) % 8, cut);
        return;
    }
    let mut opts = BTreeMap::new();
    if mode & 2 != 0 {
        opts.insert("max-size".to_string(), "300".to_string());
        opts.insert("max-file".to_string(), "1000".to_string());
    }
    let mut w = LogWriter::open(&path, &opts).unwrap();
    // each `\0` switches stream; pieces are separate writes
    let mut stream = Stream::Stdout;
    let mut written: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for piece in rest.split(|&b| b == 0) {
        w.write(stream, piece).unwrap();
        written[(stream == Stream::Stderr) as usize].extend_from_slice(piece);
        stream = if stream == Stream::Stdout {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
    }
    w.flush().unwrap();
    drop(w);
    let got = read_all(&path, &all());
    for (i, s) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
        // lines longer than 16 KiB are cut in pieces by bytes (as docker does), which may
        // split a character; below that, valid UTF-8 must come back exactly
        let long = written[i]
            .split(|&b| b == b'\n')
            .any(|l| l.len() >= 16 * 1024);
        if long || std::str::from_utf8(&written[i]).is_err() {
            continue;
        }
        let back: Vec<u8> = got
            .iter()
            .filter(|e| e.stream == s)
            .flat_map(|e| e.line.clone())
            .collect();
        assert_eq!(back, written[i], "{s:?} read back");
    }
    read_file(
        &path,
        usize::from(mode >> 2) % 8,
        got.get(got.len() / 2).map(|e| e.time),
    );
});
