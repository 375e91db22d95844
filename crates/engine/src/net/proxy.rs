//! Published ports of a rootless container on a user network: the container's address is in
//! the user's network namespace (see `rootless`), out of the host's reach, so a small helper
//! (`berth __ports ID`, podman's rootlessport) listens on the host ports in the host's
//! namespace, then joins the user's namespace and relays each TCP connection and UDP flow to
//! the container's address. It binds everything before it says `ok` (a port taken is the
//! run's error) and is killed when the container stops.

use crate::helper::request::PortsRequest;
use network::PortMapping;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// How long a UDP flow lives without a datagram either way.
const UDP_IDLE: Duration = Duration::from_secs(60);

enum Listener {
    Tcp(TcpListener, u16),
    Udp(UdpSocket, u16),
}

fn bind(p: &PortMapping) -> std::io::Result<Listener> {
    let ip: Ipv4Addr = if p.host_ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        p.host_ip.parse().map_err(std::io::Error::other)?
    };
    Ok(if p.proto == "udp" {
        Listener::Udp(UdpSocket::bind((ip, p.host_port))?, p.container_port)
    } else {
        Listener::Tcp(TcpListener::bind((ip, p.host_port))?, p.container_port)
    })
}

/// Entry point of `berth __ports`: the exit status.
pub fn main(req: &PortsRequest, ready: Option<std::fs::File>) -> i32 {
    let say = |ready: &mut Option<std::fs::File>, msg: &str| {
        if let Some(f) = ready.as_mut() {
            let _ = writeln!(f, "{msg}");
        }
    };
    let mut ready = ready;
    let mut listeners = Vec::new();
    for p in &req.ports {
        match bind(p) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                let host = if p.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.host_ip
                };
                let msg = format!("bind {host}:{}/{}: {e}", p.host_port, p.proto);
                eprintln!("berth __ports: {msg}");
                say(&mut ready, &format!("error: {msg}"));
                return 1;
            }
        }
    }
    // from here on new sockets (the connections to the container) are in the user's network
    // namespace; the listeners stay in the host's
    let joined = std::fs::File::open(&req.netns).and_then(|f| {
        use std::os::fd::AsRawFd;
        // SAFETY: setns on our only thread, before any other exists.
        match unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    });
    if let Err(e) = joined {
        say(
            &mut ready,
            &format!("error: join {}: {e}", req.netns.display()),
        );
        return 1;
    }
    let _ = std::fs::write(&req.pid_file, std::process::id().to_string());
    say(&mut ready, "ok");
    drop(ready);
    let target = req.target;
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            std::thread::spawn(move || match l {
                Listener::Tcp(l, port) => serve_tcp(l, SocketAddr::from((target, port))),
                Listener::Udp(s, port) => serve_udp(s, SocketAddr::from((target, port))),
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    0
}

fn serve_tcp(l: TcpListener, to: SocketAddr) {
    for conn in l.incoming() {
        let Ok(client) = conn else { continue };
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect_timeout(&to, Duration::from_secs(5)) else {
                return;
            };
            relay(client, server);
        });
    }
}

/// Copy both ways until each side is done, passing on half-closes.
fn relay(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = std::thread::spawn(move || copy_half(a2, b2));
    copy_half(b, a);
    let _ = one.join();
}

fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Each client address gets a socket of its own towards the container; its replies go back
/// from the published port.
fn serve_udp(s: UdpSocket, to: SocketAddr) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let flows: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = s.recv_from(&mut buf) else {
            continue;
        };
        let mut map = flows.lock().unwrap_or_else(|p| p.into_inner());
        let up = match map.entry(client) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let Some((up, reader, down)) = udp_flow(&s, to) else {
                    continue;
                };
                let flows = flows.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = reader.recv(&mut buf) {
                        let _ = down.send_to(&buf[..n], client);
                    }
                    flows
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&client);
                });
                e.insert(up)
            }
        };
        let _ = up.send(&buf[..n]);
    }
}

/// A new flow towards `to`: its socket, a clone to read replies from (timing out when idle)
/// and the published socket to send them back on.
fn udp_flow(s: &UdpSocket, to: SocketAddr) -> Option<(UdpSocket, UdpSocket, UdpSocket)> {
    let up = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    up.connect(to).ok()?;
    let reader = up.try_clone().ok()?;
    reader.set_read_timeout(Some(UDP_IDLE)).ok()?;
    Some((up, reader, s.try_clone().ok()?))
}

fn pid_file(engine: &crate::engine::Engine, id: &str) -> std::path::PathBuf {
    engine.monitor_dir(id).join("ports.pid")
}

/// Publish the container's ports (host port 0: a free one) through a `__ports` helper relaying
/// into `netns` to the container's address `target`; the mappings as published.
pub(super) fn publish(
    engine: &crate::engine::Engine,
    c: &crate::types::Container,
    netns: &std::path::Path,
    target: Ipv4Addr,
) -> crate::error::Result<Vec<PortMapping>> {
    use crate::error::{Error, IoContext};
    let (_, ports) = super::usermode::port_args(c)?;
    if ports.is_empty() {
        return Ok(ports);
    }
    let req = crate::helper::Request::Ports(PortsRequest {
        container: c.id.clone(),
        netns: netns.to_path_buf(),
        target,
        ports: ports.clone(),
        pid_file: pid_file(engine, &c.id),
    });
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe for __ports".into())?;
    let log = engine.monitor_dir(&c.id).join("ports.log");
    crate::helper::spawn_detached(&engine.root, &req, Some(w), Some(&log))?;
    network::dns::wait_ready(std::fs::File::from(r), &log)
        .map_err(|e| Error::Other(format!("publish the ports of {}: {e}", c.short_name())))?;
    Ok(ports)
}

/// Stop the container's `__ports` helper, if it has one.
pub(super) fn stop(engine: &crate::engine::Engine, id: &str) {
    let pf = pid_file(engine, id);
    let Some(pid) = std::fs::read_to_string(&pf)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    // the pid is the helper's still (its command line names the container)
    let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        let mut args = c.split(|b| *b == 0);
        args.any(|a| a == b"__ports") && args.any(|a| a == id.as_bytes())
    });
    if ours {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = std::fs::remove_file(&pf);
}
