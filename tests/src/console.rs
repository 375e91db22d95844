//! `--console-socket`: receive the pty master over a unix socket.

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A listening console socket; a background thread accepts one connection
/// and receives the pty master fd.
pub struct ConsoleSocket {
    pub path: PathBuf,
    rx: mpsc::Receiver<Result<OwnedFd, String>>,
    _thread: JoinHandle<()>,
}

impl ConsoleSocket {
    /// Bind `<dir>/console.sock` and start accepting.
    pub fn bind(dir: &Path) -> ConsoleSocket {
        let path = dir.join("console.sock");
        let listener = UnixListener::bind(&path).expect("bind console socket");
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let res = accept_master(&listener);
            let _ = tx.send(res);
        });
        ConsoleSocket {
            path,
            rx,
            _thread: thread,
        }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Wait for the runtime to send the master fd.
    #[track_caller]
    pub fn master(&self, timeout: Duration) -> ConsoleMaster {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(fd)) => ConsoleMaster { fd },
            Ok(Err(e)) => panic!("console socket: {e}"),
            Err(_) => panic!("console socket: no pty master received within {timeout:?}"),
        }
    }
}

fn accept_master(listener: &UnixListener) -> Result<OwnedFd, String> {
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err("message carried no SCM_RIGHTS fd".into())
}

/// The pty master of a container's terminal.
pub struct ConsoleMaster {
    pub fd: OwnedFd,
}

impl ConsoleMaster {
    pub fn write_all(&self, data: &[u8]) {
        let mut off = 0;
        while off < data.len() {
            match nix::unistd::write(self.fd.as_fd(), &data[off..]) {
                Ok(n) => off += n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => panic!("write to pty master: {e}"),
            }
        }
    }

    /// Read until `needle` appears in what was read, EOF/EIO (slave closed),
    /// or the timeout.  Returns everything read.
    pub fn read_until(&self, needle: &str, timeout: Duration) -> String {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let start = Instant::now();
        let mut acc = Vec::new();
        loop {
            if !needle.is_empty() && String::from_utf8_lossy(&acc).contains(needle) {
                break;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            let ms = left.as_millis().min(u16::MAX as u128) as u16;
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(0) => break,
                Ok(n) => acc.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(_) => break, // EIO: the slave side is gone
            }
        }
        String::from_utf8_lossy(&acc).into_owned()
    }
}
