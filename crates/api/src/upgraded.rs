//! A hijacked unix connection handed over only once the client has read the `101` head.
//!
//! docker-py reads the response head through a buffered reader and then the stream from the
//! socket under it: whatever came in the same read as the head is lost to it (an attach with
//! `logs=1` right after a container ended answered nothing, a third of the time). dockerd wins
//! that race by being slower; we do not send a byte of the stream until the head has left the
//! socket's queue, i.e. the client has read it (SIOCOUTQ of a unix socket counts the bytes
//! its peer has not read yet).

use crate::streams::Io;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long a client that never reads the head holds the stream back.
const HEAD_READ_LIMIT: Duration = Duration::from_secs(2);

/// The connection of `up`, returned once the client has read what was written on it.
pub(crate) async fn settled(up: Upgraded) -> Box<dyn Io> {
    let parts = match up.downcast::<TokioIo<tokio::net::UnixStream>>() {
        Ok(p) => p,
        // TLS over TCP: nothing to ask the socket
        Err(up) => return Box::new(TokioIo::new(up)),
    };
    let io = parts.io.into_inner();
    let deadline = Instant::now() + HEAD_READ_LIMIT;
    while unread(&io).is_some_and(|n| n > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Box::new(Prefixed {
        early: parts.read_buf.to_vec(),
        io,
    })
}

/// The bytes written on `s` that its peer has not read yet.
fn unread(s: &tokio::net::UnixStream) -> Option<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ on a socket) writes one int; the fd lives as long as `s`.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (r == 0).then_some(n)
}

/// The connection, with what the client sent before the upgrade (read by the HTTP server
/// already) read first.
struct Prefixed {
    early: Vec<u8>,
    io: tokio::net::UnixStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
