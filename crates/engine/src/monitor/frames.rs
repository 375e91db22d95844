//! The attach stream between a monitor and its clients: frames of `[kind u8][len u32 BE]
//! [payload]`, and the client's end ([`Attach`]).

use crate::engine::Engine;
use crate::error::{IoContext, Result};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN_EOF: u8 = 4;
pub const RESIZE: u8 = 5;
pub const ERROR: u8 = 6;

pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(5 + data.len());
    buf.push(kind);
    buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
    buf.extend_from_slice(data);
    w.write_all(&buf)
}

pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        r => r?,
    }
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((h[0], data)))
}

/// Unix socket paths are limited to 108 bytes; a deep state root goes beyond. Reach the socket
/// through /proc/self/fd/<dir fd>/<name> instead, which resolves to the same place.
pub(super) fn short_path<T>(
    path: &Path,
    f: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let d = std::fs::File::open(dir)?;
    let short = Path::new("/proc/self/fd")
        .join(d.as_raw_fd().to_string())
        .join(name);
    f(&short)
}

/// A connection to a container's monitor.
pub struct Attach {
    pub sock: UnixStream,
}

impl Attach {
    pub fn connect(engine: &Engine, id: &str) -> Result<Attach> {
        let p = engine.attach_socket(id);
        let sock = short_path(&p, |p| UnixStream::connect(p)).ctx(|| format!("attach to {id}"))?;
        Ok(Attach { sock })
    }

    pub fn send_stdin(&mut self, data: &[u8]) -> std::io::Result<()> {
        write_frame(&mut self.sock, STDIN, data)
    }

    pub fn close_stdin(&mut self) -> std::io::Result<()> {
        write_frame(&mut self.sock, STDIN_EOF, &[])
    }

    /// Read the stream until the container's exit, handing output to `out` (STDOUT or STDERR,
    /// bytes). Returns the exit code the monitor sent (None if the stream ended without one)
    /// and the start error it reported, if any.
    pub fn follow(&mut self, out: &mut dyn FnMut(u8, &[u8])) -> (Option<i32>, Option<String>) {
        let mut error = None;
        loop {
            match read_frame(&mut self.sock) {
                Ok(Some((k @ (STDOUT | STDERR), d))) => out(k, &d),
                Ok(Some((ERROR, d))) => error = Some(String::from_utf8_lossy(&d).into_owned()),
                Ok(Some((EXIT, d))) if d.len() == 4 => {
                    return (Some(i32::from_be_bytes([d[0], d[1], d[2], d[3]])), error)
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return (None, error),
            }
        }
    }

    pub fn resize(&mut self, rows: u16, cols: u16) -> std::io::Result<()> {
        let mut d = rows.to_be_bytes().to_vec();
        d.extend_from_slice(&cols.to_be_bytes());
        write_frame(&mut self.sock, RESIZE, &d)
    }
}
