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

use std::path::{Path, PathBuf};

mod format;
mod options;
mod reader;
#[cfg(test)]
mod tests;
mod time;
mod writer;

pub use format::LogEntry;
pub use options::validate_opts;
pub use reader::{read, ReadOptions};
pub use time::{parse_go_duration, parse_time};
pub use writer::LogWriter;

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
fn numbered(path: &Path, k: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{k}"));
    PathBuf::from(s)
}
