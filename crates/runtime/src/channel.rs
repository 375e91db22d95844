//! One socketpair (SOCK_SEQPACKET: message boundaries kept) between the runtime and the
//! processes it starts. Messages are small JSON documents; fds travel as SCM_RIGHTS.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Parent -> child: id mappings and cgroups are in place, go on. With the names of the
    /// v1 cgroup hierarchies' `tasks` files the message carries as fds (see
    /// [`Channel::send_with_fds`]), for the child to enter them itself.
    Go(Vec<std::path::PathBuf>),
    /// Intermediate -> parent: pid of the process it cloned.
    Pid(i32),
    /// Child -> parent: namespaces are set up, run the createRuntime/prestart hooks now.
    RunHooks,
    /// Parent -> child: hooks done; the state JSON for the createContainer hooks.
    HooksDone(String),
    /// Child -> parent: about to wait for `start` (or to exec, for exec'd processes).
    Ready,
    /// Parent -> child: start now (a container its creator starts itself: see
    /// `container::StartGate`).
    Start,
    Error(String),
}

pub struct Channel(OwnedFd);

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "socketpair")?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Other(e.to_string()))?;
        socket::send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .ctx(|| "sending to the runtime channel")?;
        Ok(())
    }

    /// [`send`](Self::send) with write(2): for the container's processes once their seccomp
    /// filter is loaded, which may deny the socket calls (a profile without networking) but
    /// leaves them write(2). Without MSG_NOSIGNAL: a runtime that is gone ends the writer with
    /// SIGPIPE, as its error would have.
    pub fn write_msg(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Other(e.to_string()))?;
        loop {
            match nix::unistd::write(&self.0, &data) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map(|_| ()).ctx(|| "writing to the runtime channel"),
            }
        }
    }

    pub fn recv(&self) -> Result<Msg> {
        // The message's length first (a SOCK_SEQPACKET peek with MSG_TRUNC returns it whole),
        // then a buffer of that size: a fixed 64 KiB one was zeroed, and made resident, for
        // every few-byte message.
        let mut buf = vec![0u8; self.next_len()?];
        let n = self.recv_into(&mut buf, MsgFlags::empty())?;
        decode(
            &buf[..n],
            "the container process exited before it was ready",
        )
    }

    /// [`send`](Self::send) with fds (SCM_RIGHTS) in the same message.
    pub fn send_with_fds(&self, msg: &Msg, fds: &[RawFd]) -> Result<()> {
        let data = serde_json::to_string(msg).map_err(|e| Error::Other(e.to_string()))?;
        send_fds(self.0.as_raw_fd(), fds, &data)
    }

    /// [`recv`](Self::recv) of a message that may carry fds, up to `max` of them.
    pub fn recv_with_fds(&self, max: usize) -> Result<(Msg, Vec<OwnedFd>)> {
        let (fds, text) = recv_fds_into(self.0.as_raw_fd(), &mut vec![0u8; self.next_len()?], max)?;
        let msg = decode(
            text.as_bytes(),
            "the runtime exited before the container was ready",
        )?;
        Ok((msg, fds))
    }

    /// The next message's length, without taking it (a SOCK_SEQPACKET peek with MSG_TRUNC
    /// returns it whole); 0 once the peer is gone.
    fn next_len(&self) -> Result<usize> {
        self.recv_into(&mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC)
    }

    fn recv_into(&self, buf: &mut [u8], flags: MsgFlags) -> Result<usize> {
        let mut reset_taken = false;
        loop {
            match socket::recv(self.0.as_raw_fd(), buf, flags) {
                Err(nix::Error::EINTR) => continue,
                // A peer that closed with a message of ours unread (an init that failed before
                // taking its go-ahead) leaves ECONNRESET pending, which a SOCK_SEQPACKET
                // receive reports before the messages the peer sent first (its error): taken
                // once, the next receive reads them, then the end.
                Err(nix::Error::ECONNRESET) if !reset_taken => reset_taken = true,
                r => return r.ctx(|| "reading the runtime channel"),
            }
        }
    }

    /// [`recv`](Self::recv) of a message of a few bytes with read(2) alone: for the init once
    /// its seccomp filter is loaded, which may deny the socket calls (a profile without
    /// networking) but leaves the process read(2). A longer message is cut, and refused.
    pub fn read_short(&self) -> Result<Msg> {
        let mut buf = [0u8; 64];
        let n = loop {
            match nix::unistd::read(&self.0, &mut buf) {
                Err(nix::Error::EINTR) => continue,
                // (the peer gone with a message unread, as in `recv_into`)
                Err(nix::Error::ECONNRESET) => break 0,
                r => break r.ctx(|| "reading the runtime channel")?,
            }
        };
        decode(
            &buf[..n],
            "the runtime exited before it started the container",
        )
    }

    /// Whether a message (or the peer's close) is waiting, without blocking.
    pub fn readable(&self) -> bool {
        use std::os::fd::AsFd;
        let mut fds = [nix::poll::PollFd::new(
            self.0.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok_and(|n| n > 0)
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A message read from the channel; empty: the peer is gone (`gone` says who).
fn decode(data: &[u8], gone: &str) -> Result<Msg> {
    if data.is_empty() {
        return Err(Error::Other(gone.into()));
    }
    serde_json::from_slice(data)
        .map_err(|e| Error::Other(format!("bad message on the runtime channel: {e}")))
}

/// Send `fd` over a unix socket with `name` as the payload (runc's console-socket protocol).
pub fn send_fd(sock: RawFd, fd: RawFd, name: &str) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    socket::sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .ctx(|| "sending the terminal over the console socket")?;
    Ok(())
}

/// Receive one fd sent by [`send_fd`].
pub fn recv_fd(sock: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = socket::recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx(|| "receiving a terminal")?;
    for c in msg.cmsgs().ctx(|| "receiving a terminal")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(Error::Other("no file descriptor received".into()))
}

/// Send several fds and a short text over a unix socket in one message (bind sources for a
/// container in a user namespace).
pub fn send_fds(sock: RawFd, fds: &[RawFd], text: &str) -> Result<()> {
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    // a SEQPACKET message needs a payload to be seen at all
    let text = if text.is_empty() { " " } else { text };
    let iov = [IoSlice::new(text.as_bytes())];
    socket::sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .ctx(|| "sending file descriptors")?;
    Ok(())
}

/// Receive what [`send_fds`] sent: the fds (close-on-exec) and the text.
pub fn recv_fds(sock: RawFd, max: usize) -> Result<(Vec<OwnedFd>, String)> {
    recv_fds_into(sock, &mut vec![0u8; 64 * 1024], max)
}

/// [`recv_fds`] with the text read into `buf` (a longer text is cut).
fn recv_fds_into(sock: RawFd, buf: &mut [u8], max: usize) -> Result<(Vec<OwnedFd>, String)> {
    // SAFETY: CMSG_SPACE is a pure size computation.
    let len = unsafe { libc::CMSG_SPACE((max.max(1) * std::mem::size_of::<RawFd>()) as u32) };
    let mut space = vec![0u8; len as usize];
    let mut out = Vec::new();
    let n = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = loop {
            match socket::recvmsg::<()>(
                sock,
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::Error::EINTR) => continue,
                r => break r.ctx(|| "receiving file descriptors")?,
            }
        };
        for c in msg.cmsgs().ctx(|| "receiving file descriptors")? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel just installed these fds in our table for us.
                out.extend(fds.iter().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
        msg.bytes
    };
    Ok((out, String::from_utf8_lossy(&buf[..n]).trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_of_any_size_arrives_whole_and_a_closed_peer_is_an_error() {
        let (a, b) = Channel::pair().unwrap();
        // a state JSON with large annotations (Kubernetes' last-applied-configuration can be
        // over 64 KiB): the old fixed 64 KiB buffer truncated it
        let big = "x".repeat(100_000);
        a.send(&Msg::HooksDone(big.clone())).unwrap();
        match b.recv().unwrap() {
            Msg::HooksDone(s) => assert_eq!(s, big),
            other => panic!("got {other:?}"),
        }
        a.send(&Msg::Go(Vec::new())).unwrap();
        assert!(matches!(b.recv().unwrap(), Msg::Go(_)));
        drop(a);
        let e = b.recv().unwrap_err().to_string();
        assert!(e.contains("exited before it was ready"), "{e}");
    }

    /// A peer that sent its error and closed with our message unread (an init failing before
    /// its go-ahead): its error is read, not the ECONNRESET its close left pending.
    #[test]
    fn the_error_of_a_peer_gone_with_our_message_unread_is_read() {
        let (runtime, init) = Channel::pair().unwrap();
        runtime.send(&Msg::Go(Vec::new())).unwrap();
        init.send(&Msg::Error("mounting sysfs: not a directory".into()))
            .unwrap();
        drop(init);
        match runtime.recv().unwrap() {
            Msg::Error(e) => assert_eq!(e, "mounting sysfs: not a directory"),
            other => panic!("got {other:?}"),
        }
        let e = runtime.recv().unwrap_err().to_string();
        assert!(e.contains("exited before it was ready"), "{e}");
    }

    /// The go-ahead carries the cgroup `tasks` files as fds, beside their names.
    #[test]
    fn a_message_with_fds_arrives_with_them() {
        use std::io::{Read, Write};
        let (a, b) = Channel::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let names = vec![std::path::PathBuf::from("/sys/fs/cgroup/pids/x/tasks")];
        a.send_with_fds(&Msg::Go(names.clone()), &[w.as_raw_fd()])
            .unwrap();
        drop(w);
        let (msg, fds) = b.recv_with_fds(64).unwrap();
        assert!(matches!(msg, Msg::Go(n) if n == names));
        assert_eq!(fds.len(), 1);
        std::fs::File::from(fds.into_iter().next().unwrap())
            .write_all(b"0")
            .unwrap();
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        assert_eq!(got, "0");
        drop(a);
        let e = b.recv_with_fds(64).unwrap_err().to_string();
        assert!(e.contains("runtime exited"), "{e}");
    }
}
