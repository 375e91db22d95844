//! docker's `json-file` log driver: the writer the monitor feeds with a container's output,
//! and the reader behind `logs` (tail, since/until, stream filter, follow across rotation).
//!
//! One JSON object per line, exactly as docker writes it:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2026-11-23T12:00:00.123456789Z"}
//! ```
//!
//! `log` ends with `\n` when the line was complete; a piece of a line longer than 16 KiB, or
//! a last line flushed at exit without its newline, has none (docker's "partial" messages).
//! The time is Go's RFC3339Nano in UTC (fraction without trailing zeros).
//!
//! Rotation (`--log-opt max-size=10m --log-opt max-file=3`): when the next entry would make
//! the file bigger than max-size, `path.1` becomes `path.2` and so on (the oldest falls off),
//! `path` becomes `path.1` and a new `path` starts. A follower keeps its open descriptor on
//! the renamed file, drains it, then moves on to the new `path`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::error::{Error, IoContext, Result};

/// docker splits lines longer than this into pieces of this size.
const MAX_LINE: usize = 16 * 1024;
/// How often a follower looks for new entries.
const POLL: Duration = Duration::from_millis(50);
/// Read size of the reader (both directions).
const CHUNK: usize = 64 * 1024;

/// Which output stream an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name docker writes in the `stream` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// The validated `--log-opt` values of the json-file driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Config {
    max_size: Option<u64>,
    max_file: u32,
}

/// Checks docker's `--log-opt` map for the json-file driver, so a bad option fails at
/// `create` before anything runs.
pub fn validate_opts(opts: &BTreeMap<String, String>) -> Result<()> {
    parse_opts(opts).map(|_| ())
}

fn parse_opts(opts: &BTreeMap<String, String>) -> Result<Config> {
    for (k, v) in opts {
        match k.as_str() {
            "max-size" | "max-file" => {}
            "compress" => match v.as_str() {
                "" | "false" | "0" => {}
                "true" | "1" => {
                    return Err(Error::Invalid(
                        "log-opt compress=true is not supported by berth's json-file driver (rotated files are kept uncompressed)".into(),
                    ))
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid value for log-opt compress: {v:?} (expected true or false)"
                    )))
                }
            },
            // docker records these as per-entry "attrs"; berth accepts them and does not
            // add attrs yet.
            "labels" | "labels-regex" | "env" | "env-regex" | "tag" => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown log opt '{k}' for json-file log driver"
                )))
            }
        }
    }
    let max_size = match opts.get("max-size") {
        None => None,
        Some(v) => match parse_size(v) {
            Some(0) => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-size: {v:?}: max-size must be a positive number"
                )))
            }
            Some(n) => Some(n),
            None => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-size: {v:?} (expected a size such as 512k, 10m or 1g, or a number of bytes)"
                )))
            }
        },
    };
    let max_file = match opts.get("max-file") {
        None => 1,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n < 1 => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-file: {v:?}: max-file cannot be less than 1"
                )))
            }
            Ok(n) if n <= 1_000_000 => n as u32,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid value for log-opt max-file: {v:?} (expected a whole number of files)"
                )))
            }
        },
    };
    if max_file > 1 && max_size.is_none() {
        return Err(Error::Invalid(
            "log-opt max-file needs max-size: without a size limit the log is never rotated".into(),
        ));
    }
    Ok(Config { max_size, max_file })
}

/// docker's `units.RAMInBytes`: "10k", "10m", "1g", "1.5g", "10mb", "10MiB", "1024" (binary
/// multiples, case-insensitive).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let mut u = unit.as_str();
    let mut mult: f64 = 1.0;
    if let Some(c) = u.chars().next() {
        let p = match c {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            _ => 0,
        };
        if p > 0 {
            mult = 1024f64.powi(p);
            u = &u[1..];
        }
    }
    let u = u.strip_prefix('i').unwrap_or(u);
    let u = u.strip_prefix('b').unwrap_or(u);
    if !u.is_empty() {
        return None;
    }
    let v = n * mult;
    if !v.is_finite() || v >= u64::MAX as f64 {
        return None;
    }
    Some(v as u64)
}

/// Appends a container's output to its json-file log, rotating as the options ask.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    cfg: Config,
    /// The unfinished last line of each stream.
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (appending to) the log at `path`. `opts` is docker's `--log-opt` map:
    /// `max-size` ("10k", "10m", "1g", bytes) and `max-file` (default 1; only with max-size).
    pub fn open(path: &Path, opts: &BTreeMap<String, String>) -> Result<LogWriter> {
        let cfg = parse_opts(opts)?;
        let file = open_append(path)?;
        let size = file
            .metadata()
            .ctx(|| format!("stat log file {}", path.display()))?
            .len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            cfg,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Splits `data` into lines of `stream` and writes one entry per line. A partial last
    /// line is kept until its newline arrives; lines longer than 16 KiB are written in
    /// 16 KiB pieces as docker does.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let mut buf = std::mem::take(&mut self.partial[stream.index()]);
        buf.extend_from_slice(data);
        let mut start = 0;
        let now = Utc::now();
        let result = loop {
            let rest = &buf[start..];
            let window = &rest[..rest.len().min(MAX_LINE)];
            let piece = match window.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if rest.len() >= MAX_LINE => MAX_LINE,
                None => break Ok(()),
            };
            if let Err(e) = self.entry(stream, &rest[..piece], now) {
                break Err(e);
            }
            start += piece;
        };
        buf.drain(..start);
        self.partial[stream.index()] = buf;
        result
    }

    /// At exit: writes any partial lines as they are (without a newline).
    pub fn flush(&mut self) -> Result<()> {
        let now = Utc::now();
        for s in [Stream::Stdout, Stream::Stderr] {
            let buf = std::mem::take(&mut self.partial[s.index()]);
            if !buf.is_empty() {
                self.entry(s, &buf, now)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: Stream, log: &[u8], time: DateTime<Utc>) -> Result<()> {
        let line = encode_entry(log, stream, &time);
        if let Some(max) = self.cfg.max_size {
            if self.size > 0 && self.size + line.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file
            .write_all(&line)
            .ctx(|| format!("write log file {}", self.path.display()))?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let n = self.cfg.max_file;
        if n >= 2 {
            // path.(n-2) -> path.(n-1) overwrites (drops) the oldest one.
            for k in (1..n - 1).rev() {
                let from = numbered(&self.path, k);
                let to = numbered(&self.path, k + 1);
                match fs::rename(&from, &to) {
                    Err(e) if e.kind() != ErrorKind::NotFound => {
                        return Err(e)
                            .ctx(|| format!("rotate log {} to {}", from.display(), to.display()))
                    }
                    _ => {}
                }
            }
            let to = numbered(&self.path, 1);
            fs::rename(&self.path, &to)
                .ctx(|| format!("rotate log {} to {}", self.path.display(), to.display()))?;
        } else {
            // Removing (rather than truncating) lets a follower still holding the old file
            // drain it and notice the new one by its inode.
            match fs::remove_file(&self.path) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(e).ctx(|| format!("remove log file {}", self.path.display()))
                }
                _ => {}
            }
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(|| format!("open log file {}", path.display()))
}

fn numbered(path: &Path, k: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{k}"));
    PathBuf::from(s)
}

/// Go's RFC3339Nano in UTC: fraction without trailing zeros, none at all when zero.
fn format_time(t: &DateTime<Utc>) -> String {
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
fn encode_entry(log: &[u8], stream: Stream, time: &DateTime<Utc>) -> Vec<u8> {
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

fn encode_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
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

/// What `logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub follow: bool,
    /// Only the last N entries (of those passing the stream and time filters).
    pub tail: Option<usize>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries at or before this time; a follower stops once it is past.
    pub until: Option<DateTime<Utc>>,
    pub stdout: bool,
    pub stderr: bool,
}

#[derive(serde::Deserialize)]
struct RawEntry {
    log: String,
    stream: String,
    time: String,
}

fn parse_entry(line: &[u8]) -> Option<LogEntry> {
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

/// Passes the stream and since filters (until is handled by the callers).
fn selected(opts: &ReadOptions, e: &LogEntry) -> bool {
    let stream_ok = match e.stream {
        Stream::Stdout => opts.stdout,
        Stream::Stderr => opts.stderr,
    };
    stream_ok && opts.since.is_none_or(|s| e.time >= s)
}

type FileId = (u64, u64);

fn file_id(m: &fs::Metadata) -> FileId {
    (m.dev(), m.ino())
}

/// Reads a file forward from a position, handing out complete lines.
struct Cursor {
    file: File,
    id: FileId,
    pos: u64,
    buf: Vec<u8>,
}

impl Cursor {
    fn new(mut file: File, pos: u64, what: &Path) -> Result<Cursor> {
        let id = file_id(&file.metadata().ctx(|| format!("stat {}", what.display()))?);
        file.seek(SeekFrom::Start(pos))
            .ctx(|| format!("seek {}", what.display()))?;
        Ok(Cursor {
            file,
            id,
            pos,
            buf: Vec::new(),
        })
    }

    /// Hands every complete line available now to `f`; false when `f` asked to stop.
    fn drain(&mut self, what: &Path, f: &mut dyn FnMut(&[u8]) -> bool) -> Result<bool> {
        // Truncated under us (copytruncate-style rotation by some other tool): start over.
        if let Ok(m) = self.file.metadata() {
            if m.len() < self.pos {
                self.file
                    .seek(SeekFrom::Start(0))
                    .ctx(|| format!("seek {}", what.display()))?;
                self.pos = 0;
                self.buf.clear();
            }
        }
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = match self.file.read(&mut chunk) {
                Ok(0) => return Ok(true),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).ctx(|| format!("read log file {}", what.display())),
            };
            self.pos += n as u64;
            self.buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
                if !f(&self.buf[start..start + i]) {
                    return Ok(false);
                }
                start += i + 1;
            }
            self.buf.drain(..start);
        }
    }

    /// Hands out an unterminated last line (a reader that is done with the file).
    fn finish(&mut self, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let rest = std::mem::take(&mut self.buf);
        rest.is_empty() || f(&rest)
    }
}

/// The rotated files of `path`, oldest first (path.N .. path.1).
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for k in 1.. {
        let p = numbered(path, k);
        if !p.exists() {
            break;
        }
        v.push(p);
    }
    v.reverse();
    v
}

/// After a rotation: the new live file, and the rotated files newer than the one the
/// follower was reading (`old`), oldest first. None while `path` does not exist (between a
/// removal and the new file).
#[allow(clippy::type_complexity)]
fn catch_up(path: &Path, old: Option<FileId>) -> Result<Option<(Vec<(PathBuf, File)>, File)>> {
    let Some(cur) = open_existing(path)? else {
        return Ok(None);
    };
    let cur_id = cur.metadata().ok().map(|m| file_id(&m));
    // path.1, path.2, ...: newest first
    let mut rotated = Vec::new();
    for k in 1.. {
        let p = numbered(path, k);
        match open_existing(&p)? {
            Some(f) => {
                let id = f.metadata().ok().map(|m| file_id(&m));
                rotated.push((p, f, id));
            }
            None => break,
        }
    }
    let newer = match old {
        // the log appeared: nothing was being read before it
        None => 0,
        Some(old) => rotated
            .iter()
            .position(|r| r.2 == Some(old))
            // not found: it fell off the end already, everything there is newer
            .unwrap_or(rotated.len()),
    };
    rotated.truncate(newer);
    let files = rotated
        .into_iter()
        .rev()
        .filter(|r| r.2.is_none() || r.2 != cur_id)
        .map(|r| (r.0, r.1))
        .collect();
    Ok(Some((files, cur)))
}

fn open_existing(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx(|| format!("open log file {}", path.display())),
    }
}

/// Reads lines of `file` in `[0, len)` backwards (last line first) until `f` says stop.
fn lines_backwards(
    file: &mut File,
    len: u64,
    what: &Path,
    f: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<bool> {
    let mut end = len;
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        let mut data = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .ctx(|| format!("seek {}", what.display()))?;
        file.read_exact(&mut data)
            .ctx(|| format!("read log file {}", what.display()))?;
        data.extend_from_slice(&carry);
        let mut pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        // The first piece may continue in the chunk before this one.
        let first = if start > 0 {
            Some(pieces.remove(0))
        } else {
            None
        };
        for p in pieces.iter().rev() {
            if !p.is_empty() && !f(p) {
                return Ok(false);
            }
        }
        carry = first.map(<[u8]>::to_vec).unwrap_or_default();
        end = start;
    }
    Ok(true)
}

/// Calls `emit` for each entry in order across the rotated files (path.N .. path.1, path).
/// With `tail`, only the last N entries; with `follow`, keeps waiting (polling every 50 ms)
/// for new entries and for rotation after the end, and returns once `running()` is false
/// and everything written is drained. `emit` returning false stops early.
///
/// A missing log is not an error: there is simply nothing (yet) to show.
pub fn read(
    path: &Path,
    opts: &ReadOptions,
    running: &mut dyn FnMut() -> bool,
    emit: &mut dyn FnMut(&LogEntry) -> bool,
) -> Result<()> {
    // Open the live file first: whatever is in it at this point is "history", anything
    // after is followed on the same descriptor, so nothing is lost or seen twice.
    let mut current = open_existing(path)?;
    let (cur_id, cur_len) = match &current {
        Some(f) => {
            let m = f
                .metadata()
                .ctx(|| format!("stat log file {}", path.display()))?;
            (Some(file_id(&m)), m.len())
        }
        None => (None, 0),
    };
    // A rotation between opening `path` and listing may have made it `path.1`: skip it.
    let mut history: Vec<(PathBuf, File)> = Vec::new();
    for p in rotated_files(path) {
        if let Some(f) = open_existing(&p)? {
            let id = f.metadata().ok().map(|m| file_id(&m));
            if id.is_some() && id == cur_id {
                continue;
            }
            history.push((p, f));
        }
    }

    let mut cursor: Option<Cursor> = None;
    if let Some(n) = opts.tail {
        let mut picked: Vec<LogEntry> = Vec::new();
        if n > 0 {
            let mut collect = |raw: &[u8]| -> bool {
                if let Some(e) = parse_entry(raw) {
                    if selected(opts, &e) && opts.until.is_none_or(|u| e.time <= u) {
                        picked.push(e);
                    }
                }
                picked.len() < n
            };
            let mut more = true;
            if let Some(f) = current.as_mut() {
                more = lines_backwards(f, cur_len, path, &mut collect)?;
            }
            for (p, f) in history.iter_mut().rev() {
                if !more {
                    break;
                }
                let len = f.metadata().ctx(|| format!("stat {}", p.display()))?.len();
                more = lines_backwards(f, len, p, &mut collect)?;
            }
        }
        for e in picked.iter().rev() {
            if !emit(e) {
                return Ok(());
            }
        }
        if let Some(f) = current.take() {
            cursor = Some(Cursor::new(f, cur_len, path)?);
        }
    }

    let mut handle = |raw: &[u8]| process(opts, &mut *emit, raw);
    if opts.tail.is_none() {
        for (p, f) in history {
            let mut c = Cursor::new(f, 0, &p)?;
            if !c.drain(&p, &mut handle)? || !c.finish(&mut handle) {
                return Ok(());
            }
        }
        if let Some(f) = current.take() {
            let mut c = Cursor::new(f, 0, path)?;
            if !c.drain(path, &mut handle)? {
                return Ok(());
            }
            cursor = Some(c);
        }
    }

    if !opts.follow {
        if let Some(c) = cursor.as_mut() {
            c.drain(path, &mut handle)?;
            c.finish(&mut handle);
        }
        return Ok(());
    }

    loop {
        // Ask first, drain after: whatever was written before the container stopped is
        // then on disk and gets read below.
        let alive = running();
        if let Some(c) = cursor.as_mut() {
            if !c.drain(path, &mut handle)? {
                return Ok(());
            }
        }
        // Rotated (or created): drain the old file to its end, then any files rotated
        // since (several rotations can happen between two polls), then switch.
        let now_id = fs::metadata(path).ok().map(|m| file_id(&m));
        let old_id = cursor.as_ref().map(|c| c.id);
        if now_id.is_some() && now_id != old_id {
            if let Some((newer, cur)) = catch_up(path, old_id)? {
                if let Some(c) = cursor.as_mut() {
                    if !c.drain(path, &mut handle)? || !c.finish(&mut handle) {
                        return Ok(());
                    }
                }
                for (p, f) in newer {
                    let mut c = Cursor::new(f, 0, &p)?;
                    if !c.drain(&p, &mut handle)? || !c.finish(&mut handle) {
                        return Ok(());
                    }
                }
                cursor = Some(Cursor::new(cur, 0, path)?);
                continue;
            }
        }
        if !alive {
            if let Some(c) = cursor.as_mut() {
                c.finish(&mut handle);
            }
            return Ok(());
        }
        if opts.until.is_some_and(|u| Utc::now() > u) {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// One raw line of the follow phase: false to stop (client gone, or past `until`).
fn process(opts: &ReadOptions, emit: &mut dyn FnMut(&LogEntry) -> bool, raw: &[u8]) -> bool {
    let Some(e) = parse_entry(raw) else {
        return true;
    };
    if opts.until.is_some_and(|u| e.time > u) {
        return false;
    }
    !selected(opts, &e) || emit(&e)
}

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
fn parse_unix(s: &str) -> Option<DateTime<Utc>> {
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
fn parse_rfc3339ish(s: &str) -> Option<DateTime<Utc>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

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
            (vec![("max-file", "3")], "max-file"),
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
}
