//! The default network of a rootless container: user-mode networking by pasta (Debian's
//! `passt`), since a plain user can make no bridge or veth on the host. pasta runs in the
//! user's namespace, in the host's network: it gives the container's namespace a tap device
//! configured like the host's, and carries its traffic through ordinary sockets of the user's;
//! published ports (`-p`) are sockets pasta listens on in the host's network. It needs
//! /dev/net/tun openable by the user (Debian's default mode 0666).
//!
//! pasta is handed the network namespace as a file (a bind mount of /proc/PID/ns/net in the
//! container's run dir): opening /proc/PID/ns/* of the container's init would need ptrace rights
//! pasta drops. Teardown kills it and drops the file.

use super::settings::{ports_json, requested_ports};
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Container;
use serde_json::json;
use std::path::{Path, PathBuf};

const PASTA: &str = "pasta";

fn netns_file(engine: &Engine, id: &str) -> PathBuf {
    engine.monitor_dir(id).join("netns")
}

fn pid_file(engine: &Engine, id: &str) -> PathBuf {
    engine.monitor_dir(id).join("pasta.pid")
}

/// pasta from PATH or the usual places.
pub(super) fn pasta_bin() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/bin", "/usr/local/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(PASTA))
        .find(|p| p.is_file());
    found
}

/// Why user-mode networking cannot work here, if it cannot.
pub(super) fn unavailable() -> Option<String> {
    if pasta_bin().is_none() {
        return Some(
            "pasta is not installed (Debian: apt install passt); use --network none or host".into(),
        );
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata("/dev/net/tun")
            .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
            .unwrap_or_else(|_| "missing".into());
        return Some(format!(
            "/dev/net/tun (mode {mode}) cannot be opened by this user ({e}): pasta needs it; \
             `chmod 0666 /dev/net/tun` as root (Debian's default), or use --network none or host"
        ));
    }
    None
}

/// pasta's forwarding options for the container's published ports; host port 0 gets a free
/// port of the host's.
pub(super) fn port_args(c: &Container) -> Result<(Vec<String>, Vec<network::PortMapping>)> {
    let mut args = Vec::new();
    let mut published = Vec::new();
    for mut p in requested_ports(c)? {
        if p.host_port == 0 {
            let l =
                std::net::TcpListener::bind(("127.0.0.1", 0)).ctx(|| "pick a free port".into())?;
            p.host_port = l.local_addr().ctx(|| "pick a free port".into())?.port();
        }
        let flag = if p.proto == "udp" { "-u" } else { "-t" };
        let addr = if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" {
            String::new()
        } else {
            format!("{}/", p.host_ip)
        };
        args.push(flag.to_string());
        args.push(format!("{addr}{}:{}", p.host_port, p.container_port));
        published.push(p);
    }
    for (flag, dir) in [("-t", "tcp"), ("-u", "udp")] {
        if !published
            .iter()
            .any(|p| (p.proto == "udp") == (dir == "udp"))
        {
            args.extend([flag.to_string(), "none".to_string()]);
        }
    }
    // nothing of the host's loopback is forwarded into the container
    args.extend(["-T", "none", "-U", "none"].map(String::from));
    Ok((args, published))
}

/// Connect a rootless container's network namespace (of its init `pid`) through pasta.
pub(super) fn setup(engine: &Engine, c: &Container, pid: i32) -> Result<()> {
    if let Some(why) = unavailable() {
        return Err(Error::Invalid(format!(
            "rootless container {}: no user-mode network: {why}",
            c.short_name()
        )));
    }
    let (ports, published) = port_args(c)?;
    let ns = netns_file(engine, &c.id);
    std::fs::write(&ns, b"").ctx(|| format!("create {}", ns.display()))?;
    nix::mount::mount(
        Some(Path::new(&format!("/proc/{pid}/ns/net"))),
        &ns,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        Error::Other(format!(
            "bind the network namespace to {}: {e}",
            ns.display()
        ))
    })?;
    let out = std::process::Command::new(pasta_bin().unwrap_or_else(|| PASTA.into()))
        .args(["--config-net", "--quiet", "--netns"])
        .arg(&ns)
        .arg("--pid")
        .arg(pid_file(engine, &c.id))
        .args(&ports)
        .stdin(std::process::Stdio::null())
        .output()
        .ctx(|| "run pasta".into())?;
    if !out.status.success() {
        teardown(engine, &c.id);
        return Err(Error::Other(format!(
            "rootless network (pasta): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let ports = ports_json(&published);
    engine.store.update(&c.id, |c| {
        let ns = &mut c.network_settings;
        ns["Ports"] = ports.clone();
        ns["SandboxKey"] = json!(format!("/proc/{pid}/ns/net"));
    })?;
    Ok(())
}

/// The pasta processes serving the namespace file `ns`: the one in the pid file, and any
/// whose command line names the file (pasta writes its pid file after it daemonized, so a
/// container that exits at once can be torn down before the file is there).
fn pasta_pids(pf: &Path, ns: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(pf)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .into_iter()
        .collect();
    let needle = ns.as_os_str().as_encoded_bytes();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let is_pasta = cmd
            .split(|b| *b == 0)
            .next()
            .is_some_and(|a0| a0.ends_with(PASTA.as_bytes()));
        if is_pasta && cmd.split(|b| *b == 0).any(|a| a == needle) && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Stop pasta and let go of the namespace file. SIGKILL: pasta blocks every other signal,
/// and it does not notice the file going away.
pub(super) fn teardown(engine: &Engine, id: &str) {
    let ns = netns_file(engine, id);
    stop_pasta(&pid_file(engine, id), &ns);
    let _ = nix::mount::umount2(&ns, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(&ns);
}

/// Kill the pasta serving the namespace file `ns` (pid file `pf`) and drop its pid file.
pub(super) fn stop_pasta(pf: &Path, ns: &Path) {
    for pid in pasta_pids(pf, ns) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = std::fs::remove_file(pf);
}
