//! Starting a monitor, and the sync pipe it reports its start on.

use crate::error::{Error, IoContext, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What starting a monitor needs of the engine (implemented by `Engine`): the state root the
/// monitor opens, and the volatile dir it keeps its socket and lock in.
pub trait Host {
    fn root(&self) -> &Path;
    fn monitor_dir(&self, id: &str) -> PathBuf;
}

impl Host for crate::engine::Engine {
    fn root(&self) -> &Path {
        &self.root
    }

    fn monitor_dir(&self, id: &str) -> PathBuf {
        crate::engine::Engine::monitor_dir(self, id)
    }
}

/// How the monitor reported its start.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
pub(super) struct SyncMsg {
    /// the monitor's pid, sent first: the starter watches it, as the pipe's EOF never comes
    /// when a monitor dies while the container's init (a clone holding the pipe) waits
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) monitor: Option<i32>,
    #[serde(default)]
    pub(super) listening: bool,
    #[serde(default)]
    pub(super) pid: i64,
    #[serde(default)]
    pub(super) error: Option<String>,
}

pub(super) fn report(sync: &mut Option<std::fs::File>, msg: &SyncMsg) {
    if let Some(f) = sync {
        let mut line = serde_json::to_string(msg).unwrap_or_default();
        line.push('\n');
        let _ = f.write_all(line.as_bytes());
    }
}

/// Start a monitor for container `id` (double fork: it is nobody's child, so `berth` can exit
/// and a long-running `berth serve` never has to reap it). Returns once the container runs, or
/// with `attach` once the monitor listens for the client that will see it start.
pub fn spawn(engine: &impl Host, id: &str, attach: bool) -> Result<()> {
    spawn_with(engine, id, attach, None)
}

/// Start a monitor and connect its first client (`connect`, called once it listens) before
/// the process starts, so the client sees everything the container writes and its exit code;
/// returns once the process runs, or the start error.
pub fn spawn_connected(
    engine: &impl Host,
    id: &str,
    connect: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    spawn_with(engine, id, true, Some(connect))
}

fn spawn_with(
    engine: &impl Host,
    id: &str,
    attach: bool,
    mut connect: Option<&mut dyn FnMut() -> Result<()>>,
) -> Result<()> {
    let dir = engine.monitor_dir(id);
    std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let req = crate::helper::request::Request::Monitor {
        id: id.to_string(),
        attach,
    };
    crate::helper::spawn::spawn_detached(engine.root(), &req, Some(w), None)?;
    let mut sync = SyncReader {
        pipe: std::fs::File::from(r),
        buf: Vec::new(),
        monitor: None,
    };
    loop {
        let msg = sync.next()?;
        if let Some(e) = msg.error {
            return Err(Error::Other(e));
        }
        if msg.listening && attach {
            match connect.as_mut() {
                Some(f) => f()?,
                None => return Ok(()),
            }
            continue;
        }
        if msg.pid > 0 {
            return Ok(());
        }
    }
}

/// The starter's end of the monitor's sync pipe: one JSON message a line.
struct SyncReader {
    pipe: std::fs::File,
    buf: Vec<u8>,
    /// (pid, start time) of the monitor, once it said
    monitor: Option<(i32, u64)>,
}

impl SyncReader {
    /// The next message other than the monitor's pid; an error when the monitor died first.
    fn next(&mut self) -> Result<SyncMsg> {
        let died =
            || Error::Other("the container monitor exited before the container started".into());
        loop {
            if let Some(at) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=at).collect();
                let msg: SyncMsg = serde_json::from_slice(&line)?;
                match msg.monitor {
                    Some(pid) => {
                        let start = runtime::util::proc_stat(pid).ok_or_else(died)?.1;
                        self.monitor = Some((pid, start));
                    }
                    None => return Ok(msg),
                }
                continue;
            }
            let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Ok(0) => {
                    if self
                        .monitor
                        .is_some_and(|(pid, start)| !runtime::util::process_alive(pid, start))
                    {
                        return Err(died());
                    }
                    continue;
                }
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "reading from the monitor".into()),
                Ok(_) => {}
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .pipe
                .read(&mut chunk)
                .ctx(|| "reading from the monitor".into())?;
            if n == 0 {
                return Err(died());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
