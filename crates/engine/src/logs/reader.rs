//! The reader behind `logs`: tail, since/until, stream filter, follow across rotation.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::format::{parse_entry, LogEntry};
use super::{numbered, Stream};
use crate::error::{IoContext, Result};

/// How often a follower looks for new entries.
const POLL: Duration = Duration::from_millis(50);
/// Read size of the reader (both directions).
const CHUNK: usize = 64 * 1024;

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

/// Passes the stream and since filters (until is handled by the callers).
pub(super) fn selected(opts: &ReadOptions, e: &LogEntry) -> bool {
    let stream_ok = match e.stream {
        Stream::Stdout => opts.stdout,
        Stream::Stderr => opts.stderr,
    };
    stream_ok && opts.since.is_none_or(|s| e.time >= s)
}

type FileId = (u64, u64);

pub(super) fn file_id(m: &fs::Metadata) -> FileId {
    (m.dev(), m.ino())
}

/// Reads a file forward from a position, handing out complete lines.
pub(super) struct Cursor {
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
pub(super) fn rotated_files(path: &Path) -> Vec<PathBuf> {
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
pub(super) fn catch_up(
    path: &Path,
    old: Option<FileId>,
) -> Result<Option<(Vec<(PathBuf, File)>, File)>> {
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

pub(super) fn open_existing(path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx(|| format!("open log file {}", path.display())),
    }
}

/// Reads lines of `file` in `[0, len)` backwards (last line first) until `f` says stop.
pub(super) fn lines_backwards(
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
    let mut snap = Snapshot::open(path)?;
    let mut cursor = match opts.tail {
        Some(n) => {
            if !emit_tail(path, &mut snap, n, opts, emit)? {
                return Ok(());
            }
            let len = snap.len;
            snap.current
                .take()
                .map(|f| Cursor::new(f, len, path))
                .transpose()?
        }
        None => {
            let mut handle = |raw: &[u8]| process(opts, &mut *emit, raw);
            match emit_history(path, snap, &mut handle)? {
                ControlFlow::Break(()) => return Ok(()),
                ControlFlow::Continue(c) => c,
            }
        }
    };
    let mut handle = |raw: &[u8]| process(opts, &mut *emit, raw);
    if !opts.follow {
        if let Some(c) = cursor.as_mut() {
            c.drain(path, &mut handle)?;
            c.finish(&mut handle);
        }
        return Ok(());
    }
    follow(path, cursor, opts, running, &mut handle)
}

/// The log as a read finds it: the live file (its history ends at `len`) and the rotated
/// files before it, oldest first.
struct Snapshot {
    current: Option<File>,
    len: u64,
    history: Vec<(PathBuf, File)>,
}

impl Snapshot {
    fn open(path: &Path) -> Result<Snapshot> {
        // Open the live file first: whatever is in it at this point is "history", anything
        // after is followed on the same descriptor, so nothing is lost or seen twice.
        let current = open_existing(path)?;
        let (cur_id, len) = match &current {
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
        Ok(Snapshot {
            current,
            len,
            history,
        })
    }
}

/// `tail`: the last `n` selected entries, found reading backwards from the live file's end
/// through the rotated files, emitted in order. False when `emit` asked to stop.
fn emit_tail(
    path: &Path,
    snap: &mut Snapshot,
    n: usize,
    opts: &ReadOptions,
    emit: &mut dyn FnMut(&LogEntry) -> bool,
) -> Result<bool> {
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
        if let Some(f) = snap.current.as_mut() {
            more = lines_backwards(f, snap.len, path, &mut collect)?;
        }
        for (p, f) in snap.history.iter_mut().rev() {
            if !more {
                break;
            }
            let len = f.metadata().ctx(|| format!("stat {}", p.display()))?.len();
            more = lines_backwards(f, len, p, &mut collect)?;
        }
    }
    Ok(picked.iter().rev().all(emit))
}

/// Without `tail`: every line of the rotated files, then of the live file, handed to
/// `handle`; continues with the cursor left on the live file, breaks when `handle` stopped.
fn emit_history(
    path: &Path,
    snap: Snapshot,
    handle: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<ControlFlow<(), Option<Cursor>>> {
    for (p, f) in snap.history {
        let mut c = Cursor::new(f, 0, &p)?;
        if !c.drain(&p, handle)? || !c.finish(handle) {
            return Ok(ControlFlow::Break(()));
        }
    }
    let Some(f) = snap.current else {
        return Ok(ControlFlow::Continue(None));
    };
    let mut c = Cursor::new(f, 0, path)?;
    if !c.drain(path, handle)? {
        return Ok(ControlFlow::Break(()));
    }
    Ok(ControlFlow::Continue(Some(c)))
}

/// `follow`: polls the live file for new lines and for rotation until the container stops
/// (`running()` false and everything drained), `until` passes or `handle` stops.
fn follow(
    path: &Path,
    mut cursor: Option<Cursor>,
    opts: &ReadOptions,
    running: &mut dyn FnMut() -> bool,
    handle: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<()> {
    loop {
        // Ask first, drain after: whatever was written before the container stopped is
        // then on disk and gets read below.
        let alive = running();
        if let Some(c) = cursor.as_mut() {
            if !c.drain(path, handle)? {
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
                    if !c.drain(path, handle)? || !c.finish(handle) {
                        return Ok(());
                    }
                }
                for (p, f) in newer {
                    let mut c = Cursor::new(f, 0, &p)?;
                    if !c.drain(&p, handle)? || !c.finish(handle) {
                        return Ok(());
                    }
                }
                cursor = Some(Cursor::new(cur, 0, path)?);
                continue;
            }
        }
        if !alive {
            if let Some(c) = cursor.as_mut() {
                c.finish(handle);
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
pub(super) fn process(
    opts: &ReadOptions,
    emit: &mut dyn FnMut(&LogEntry) -> bool,
    raw: &[u8],
) -> bool {
    let Some(e) = parse_entry(raw) else {
        return true;
    };
    if opts.until.is_some_and(|u| e.time > u) {
        return false;
    }
    !selected(opts, &e) || emit(&e)
}
