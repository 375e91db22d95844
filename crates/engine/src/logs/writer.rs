//! The writer the monitor feeds with a container's output: one entry per line, 16 KiB
//! pieces, rotation.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::format::encode_entry;
use super::options::{parse_opts, Config};
use super::{numbered, Stream};
use crate::error::{IoContext, Result};

/// docker splits lines longer than this into pieces of this size.
pub(super) const MAX_LINE: usize = 16 * 1024;

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

pub(super) fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(|| format!("open log file {}", path.display()))
}
