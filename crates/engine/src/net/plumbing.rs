//! Network plumbing of a container's namespace: interfaces, addresses, published ports, DNS
//! servers, `/etc/hosts`; set up as it starts, torn down as it stops, and `network
//! connect/disconnect` on a live one.

use super::objects::{emit_network, extras};
use super::settings::{
    endpoint_entry, fill_endpoint, joined, ports_json, requested_ports, settings_name, EndpointSpec,
};
use super::{is_default, is_special};
use crate::container::leftovers::Leftovers;
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Container;
use network::ipam::Subnet;
use network::{Endpoint, Manager, NetworkConfig};
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Between create and start: give the container's network namespace its interfaces, addresses,
/// routes and published ports, and record them in `NetworkSettings`.
pub fn setup(engine: &Engine, c: &Container, pid: i32) -> Result<()> {
    let mode = c.host_config.network_mode.as_str();
    if mode == "host" || mode.starts_with("container:") {
        return Ok(());
    }
    let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
    lo_up(&netns)?;
    fault::mark("net.lo-up");
    if mode == "none" {
        return Ok(());
    }
    let rootless = crate::paths::rootless_uid().is_some();
    if rootless && is_default(mode) {
        return super::usermode::setup(engine, c, pid);
    }
    super::rootless::ensure(engine)?;
    let mgr = engine.networks()?;
    // the user's networks are in the user's namespace (see `rootless`), reaching out by pasta
    let _lock = rootless
        .then(|| super::rootless::lock(engine))
        .transpose()?;
    if rootless {
        super::rootless::ensure_outside(engine)?;
    }
    let mut eps: Vec<(String, NetworkConfig, Endpoint)> = Vec::new();
    let mut published = Vec::new();
    for (i, (name, spec)) in joined(c).into_iter().enumerate() {
        if rootless && is_default(&name) {
            return Err(Error::Invalid(
                "a rootless container on the default (user-mode) network joins no other".into(),
            ));
        }
        let net = engine.network(&name)?;
        let ep = plug(engine, &mgr, &net, c, &spec, &netns, &format!("eth{i}"))?;
        if i == 0 && rootless {
            let ns = super::rootless::ns_file(engine);
            published = super::proxy::publish(engine, c, &ns, ep.ip)?;
        } else if i == 0 {
            let ports = requested_ports(c)?;
            if !ports.is_empty() {
                published = mgr.publish(&c.id, &ep, &ports)?;
            }
        }
        if !is_default(&name) {
            // names resolve on user networks only, as with docker
            ensure_dns(engine, &net)?;
        }
        eps.push((name, net, ep));
    }
    fault::mark("net.plugged");
    if let Some((_, _, ep)) = eps.first() {
        rewrite_hosts(c, ep)?;
    }
    let ports = ports_json(&published);
    let dns_names = json!([c.short_name(), c.short_id()]);
    engine.store.update(&c.id, |c| {
        let ns = &mut c.network_settings;
        ns["Ports"] = ports.clone();
        ns["SandboxKey"] = json!(format!("/proc/{pid}/ns/net"));
        for (name, net, ep) in &eps {
            let v = &mut ns["Networks"][name];
            fill_endpoint(v, &net.id, ep);
            v["DNSNames"] = dns_names.clone();
        }
        if let Some((name, _, ep)) = eps.first() {
            if is_default(name) {
                ns["Gateway"] = json!(ep.gateway.to_string());
                ns["IPAddress"] = json!(ep.ip.to_string());
                ns["IPPrefixLen"] = json!(ep.prefix_len);
                ns["MacAddress"] = json!(ep.mac);
                ns["Bridge"] = json!("");
            }
        }
    })?;
    Ok(())
}

/// Connect a container's namespace to a network: its aliases and short id as DNS names, the
/// requested address, else (on a network with an IP range) the lowest free one of the range.
/// Emits the network's `connect` event.
pub(super) fn plug(
    engine: &Engine,
    mgr: &Manager,
    net: &NetworkConfig,
    c: &Container,
    spec: &EndpointSpec,
    netns: &Path,
    ifname: &str,
) -> Result<Endpoint> {
    let mut req = spec.request()?;
    let requested = req.ip;
    let mut names = spec.aliases.clone();
    names.push(c.short_id().to_string());
    let x = extras(engine, &net.id);
    // with auxiliary addresses the allocation skips them, over the ip range or the subnet
    let pool = match (x.ip_range.is_empty(), x.aux.is_empty()) {
        (false, _) => x.ip_range.clone(),
        (true, false) => net.subnet.clone(),
        (true, true) => String::new(),
    };
    let reserved: Vec<Ipv4Addr> = x.aux.values().filter_map(|a| a.parse().ok()).collect();
    let range = Some(pool)
        .filter(|r| !r.is_empty() && requested.is_none())
        .and_then(|r| Subnet::parse(&r).ok());
    let mut tries = 0;
    let ep = loop {
        req.ip = match &range {
            Some(r) => Some(free_in_range(mgr, net, r, &reserved)?),
            None => requested,
        };
        match mgr.connect(net, &c.id, c.short_name(), &names, netns, ifname, &req) {
            // another container took it meanwhile
            Err(network::Error::AddressInUse { .. }) if range.is_some() && tries < 8 => tries += 1,
            r => break r?,
        }
    };
    emit_network(engine, "connect", net, Some(&c.id));
    Ok(ep)
}

/// The lowest address of `range` no endpoint of `net` has (nor its gateway, nor `reserved`).
pub(super) fn free_in_range(
    mgr: &Manager,
    net: &NetworkConfig,
    range: &Subnet,
    reserved: &[Ipv4Addr],
) -> Result<Ipv4Addr> {
    let subnet = Subnet::parse(&net.subnet).map_err(Error::Other)?;
    let used: std::collections::HashSet<Ipv4Addr> =
        mgr.endpoints(&net.id)?.into_iter().map(|e| e.ip).collect();
    let start = u32::from(range.addr) & range.mask();
    let end = u32::from(range.broadcast());
    (start..=end)
        .map(Ipv4Addr::from)
        .find(|ip| {
            subnet.is_host(*ip)
                && ip.to_string() != net.gateway
                && !used.contains(ip)
                && !reserved.contains(ip)
        })
        .ok_or_else(|| {
            network::Error::Exhausted(net.name.clone(), format!("ip range {range}")).into()
        })
}

/// After the container stopped: its interfaces went with its namespace; release addresses,
/// ports and endpoints, and clear the runtime part of `NetworkSettings`.
pub fn teardown(engine: &Engine, c: &Container) {
    teardown_into(engine, c, &mut Leftovers::new(engine));
}

/// [`teardown`], the host veths left in `later` for the caller to delete when nobody waits.
pub fn teardown_into(engine: &Engine, c: &Container, later: &mut Leftovers) {
    if is_special(&c.host_config.network_mode) {
        // none, host, container:X: nothing was plugged or recorded (they join no network)
        return;
    }
    let id = c.id.as_str();
    let rootless = crate::paths::rootless_uid().is_some();
    if rootless {
        super::usermode::teardown(engine, id);
        super::proxy::stop(engine, id);
    }
    // a rootless engine without its namespace has no endpoints to release
    let networks = match rootless && !super::rootless::exists(engine) {
        true => None,
        false => engine.networks().ok(),
    };
    if let Some(m) = networks {
        let eps = m.endpoints_of_container(id).unwrap_or_default();
        if let Ok(links) = m.release_stopped_container(id) {
            later.add_links(links);
        }
        for ep in eps {
            if let Ok(net) = m.get(&ep.network_id) {
                emit_network(engine, "disconnect", &net, Some(id));
            }
        }
        if rootless {
            let _ = super::rootless::release_if_unused(engine, &m);
        }
    }
    let _ = engine.store.update(id, |c| {
        let ns = &mut c.network_settings;
        if ns.is_object() {
            ns["Ports"] = json!({});
            ns["SandboxKey"] = json!("");
            ns["IPAddress"] = json!("");
            ns["Gateway"] = json!("");
            ns["IPPrefixLen"] = json!(0);
            ns["MacAddress"] = json!("");
            if let Some(nets) = ns.get_mut("Networks").and_then(|n| n.as_object_mut()) {
                for v in nets.values_mut() {
                    for k in [
                        "IPAddress",
                        "Gateway",
                        "MacAddress",
                        "EndpointID",
                        "IPv6Gateway",
                        "GlobalIPv6Address",
                    ] {
                        v[k] = json!("");
                    }
                    v["IPPrefixLen"] = json!(0);
                    v["GlobalIPv6PrefixLen"] = json!(0);
                }
            }
        }
    });
}

/// `/etc/hosts` gets the container's addresses (v4, and v6 when it has one) for its hostname.
/// Rewritten in place: the container sees the file through a bind mount of this very inode.
pub(super) fn rewrite_hosts(c: &Container, ep: &Endpoint) -> Result<()> {
    let path = Path::new(&c.hosts_path);
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let host = &c.config.hostname;
    let mut out: String = old
        .lines()
        .filter(|l| !l.starts_with("127.0.1.1") && !l.ends_with(&format!("\t{host}")))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{}\t{host}\n", ep.ip));
    if let Some(ip6) = ep.ip6 {
        out.push_str(&format!("{ip6}\t{host}\n"));
    }
    std::fs::write(path, out).ctx(|| format!("write {}", path.display()))
}

/// Start the network's DNS server unless it runs, and wait until it serves: a server that
/// cannot (its port taken) is an error for the container joining, never a silent broken
/// resolver. The network's DNS lock keeps a server that is exiting for idleness and this start
/// apart (see `network::dns`'s helper docs).
pub(super) fn ensure_dns(engine: &Engine, net: &NetworkConfig) -> Result<()> {
    use network::dns;
    let run = &engine.run_root;
    let dns_err = |source| network::Error::Dns {
        network: net.name.clone(),
        source,
    };
    let _lock = dns::Lock::take(run, &net.id).map_err(dns_err)?;
    if dns::running(run, &net.id) {
        return Ok(());
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .ctx(|| "pipe for the DNS server".into())?;
    let log = dns::log_file(run, &net.id);
    let req = crate::helper::request::Request::Dns {
        network: net.id.clone(),
    };
    let root = &engine.root;
    let spawn = || crate::helper::spawn::spawn_detached(root, &req, Some(w), Some(&log));
    if crate::paths::rootless_uid().is_some() {
        // the server binds the gateway of a bridge in the user's namespace: it starts there
        let ns = super::rootless::ns_file(engine);
        network::netns::run_in(&ns, spawn).ctx(|| "rootless network namespace".into())??;
    } else {
        spawn()?;
    }
    dns::wait_ready(std::fs::File::from(r), &log)
        .map_err(|e| dns_err(dns::DnsError::Config(format!("cannot start: {e}"))).into())
}

/// Bring `lo` up in a network namespace (docker's `none` has a working loopback).
pub fn lo_up(netns: &Path) -> Result<()> {
    let ns = std::fs::File::open(netns).ctx(|| format!("open {}", netns.display()))?;
    let r = std::thread::scope(|s| {
        s.spawn(|| -> std::io::Result<()> {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on this thread only (a scoped thread that ends right after).
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: a plain datagram socket for the interface ioctls.
            let sock =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if sock < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: ifreq is plain old data; zeroed is a valid value.
            let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
                *d = *s as libc::c_char;
            }
            // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS with a valid ifreq for "lo".
            let rc = unsafe {
                if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) == 0 {
                    req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                    libc::ioctl(sock, libc::SIOCSIFFLAGS, &req)
                } else {
                    -1
                }
            };
            let err = std::io::Error::last_os_error();
            // SAFETY: closing the socket we opened.
            unsafe { libc::close(sock) };
            if rc != 0 {
                return Err(err);
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("lo_up thread panicked")))
    });
    r.ctx(|| "bring up lo in the container's network namespace".into())
}

/// `network connect` with aliases and an IPv4 address only (see [`connect_endpoint`]).
pub fn connect_container(
    engine: &Engine,
    key: &str,
    network: &str,
    aliases: &[String],
    ip: Option<&str>,
) -> Result<()> {
    let spec = EndpointSpec {
        aliases: aliases.to_vec(),
        ip: ip.map(str::to_string),
        ..Default::default()
    };
    connect_endpoint(engine, key, network, &spec)
}

/// `network connect`: record the network on the container, and if it runs, connect it now.
pub fn connect_endpoint(
    engine: &Engine,
    key: &str,
    network: &str,
    spec: &EndpointSpec,
) -> Result<()> {
    let c = engine.find_reconciled(key)?;
    if is_special(&c.host_config.network_mode) {
        return Err(Error::Conflict(format!(
            "container sharing network namespace with another container or host cannot be connected to any other network (network mode {})",
            c.host_config.network_mode
        )));
    }
    let net = engine.network(network)?;
    let name = settings_name(network, &net);
    if c.network_settings
        .get("Networks")
        .and_then(|n| n.get(&name))
        .is_some()
    {
        return Err(Error::Conflict(format!(
            "endpoint with name {} already exists in network {}",
            c.short_name(),
            net.name
        )));
    }
    spec.request()?;
    let mut entry = endpoint_entry(&net.id, spec);
    if c.state.status.has_process() {
        let netns = PathBuf::from(format!("/proc/{}/ns/net", c.state.pid));
        let n = c
            .network_settings
            .get("Networks")
            .and_then(|n| n.as_object())
            .map(|m| m.len())
            .unwrap_or(0);
        let rootless = crate::paths::rootless_uid().is_some();
        if rootless && is_default(&c.host_config.network_mode) {
            return Err(Error::Conflict(
                "a rootless container on the default (user-mode) network joins no other".into(),
            ));
        }
        super::rootless::ensure(engine)?;
        let mgr = engine.networks()?;
        // as at start (see `setup`): the user's namespace reaches out by pasta, which may have
        // stopped while this container had no network
        let lock = rootless
            .then(|| super::rootless::lock(engine))
            .transpose()?;
        if rootless {
            super::rootless::ensure_outside(engine)?;
        }
        let ep = plug(engine, &mgr, &net, &c, spec, &netns, &format!("eth{n}"))?;
        fault::point("connect.plugged");
        if n == 0 {
            // its first network: the published ports lead to this endpoint now
            repoint_ports(engine, &c, &mgr)?;
        }
        drop(lock);
        if !is_default(&name) {
            if let Err(e) = ensure_dns(engine, &net) {
                let _ = mgr.disconnect(&net.id, &c.id);
                return Err(e);
            }
        }
        fill_endpoint(&mut entry, &net.id, &ep);
    }
    engine.store.update(&c.id, |c| {
        if !c.network_settings.is_object() {
            c.network_settings = json!({});
        }
        if !c.network_settings["Networks"].is_object() {
            c.network_settings["Networks"] = json!({});
        }
        c.network_settings["Networks"][&name] = entry.clone();
    })?;
    if c.state.status.has_process() && !is_default(&name) {
        // names on the new network resolve from now on
        let c = engine.find_reconciled(&c.id)?;
        engine.refresh_resolv_conf(&c)?;
    }
    Ok(())
}

/// Endpoint settings kept as given and shown by inspect, as dockerd's bridge driver keeps
/// them: `DriverOpts`, and a requested `MacAddress` (shown while the container has no
/// endpoint yet, given to the endpoint when it is plugged).
pub fn record_endpoint(
    engine: &Engine,
    key: &str,
    network: &str,
    driver_opts: &std::collections::BTreeMap<String, String>,
    mac: Option<&str>,
) -> Result<()> {
    if driver_opts.is_empty() && mac.is_none() {
        return Ok(());
    }
    let c = engine.find(key)?;
    let net = engine.network(network)?;
    let name = settings_name(network, &net);
    let running = c.state.status.has_process();
    engine.store.update(&c.id, |c| {
        let Some(v) = c
            .network_settings
            .get_mut("Networks")
            .and_then(|n| n.get_mut(&name))
        else {
            return;
        };
        if !driver_opts.is_empty() {
            v["DriverOpts"] = json!(driver_opts);
        }
        if let (Some(mac), false) = (mac, running) {
            v["MacAddress"] = json!(mac);
        }
        if let Some(mac) = mac {
            c.internal
                .endpoint_macs
                .insert(name.clone(), mac.to_string());
        }
    })?;
    Ok(())
}

/// `network disconnect`.
pub fn disconnect_container(engine: &Engine, key: &str, network: &str) -> Result<()> {
    let c = engine.find_reconciled(key)?;
    let net = engine.network(network)?;
    let name = settings_name(network, &net);
    if c.network_settings
        .get("Networks")
        .and_then(|n| n.get(&name))
        .is_none()
    {
        return Err(Error::Conflict(format!(
            "container {} is not connected to network {}",
            c.id, net.name
        )));
    }
    let mgr = engine.networks()?;
    mgr.disconnect(&net.id, &c.id)?;
    engine.store.update(&c.id, |c| {
        if let Some(m) = c
            .network_settings
            .get_mut("Networks")
            .and_then(|n| n.as_object_mut())
        {
            m.remove(&name);
        }
    })?;
    emit_network(engine, "disconnect", &net, Some(&c.id));
    if c.state.status.has_process() {
        // its ports may have led to the endpoint just released
        let c = engine.find(&c.id)?;
        repoint_ports(engine, &c, &mgr)?;
    }
    if crate::paths::rootless_uid().is_some() && !is_default(&name) {
        super::rootless::release_if_unused(engine, &mgr)?;
    }
    Ok(())
}

/// After `network connect` or `disconnect` changed a running container's endpoints: its
/// published ports lead to its first endpoint now (as dockerd moves them to the new gateway
/// endpoint), or nowhere when it has none; recorded as its `Ports`. A rootless container's
/// ports are relayed by its `__ports` helper, started again for the new address.
fn repoint_ports(engine: &Engine, c: &Container, mgr: &Manager) -> Result<()> {
    let rootless = crate::paths::rootless_uid().is_some();
    if rootless {
        super::proxy::stop(engine, &c.id);
    }
    let published = match mgr.endpoints_of_container(&c.id)?.first() {
        None => Vec::new(),
        Some(ep) if rootless => {
            super::proxy::publish(engine, c, &super::rootless::ns_file(engine), ep.ip)?
        }
        Some(ep) => {
            let ports = requested_ports(c)?;
            match ports.is_empty() {
                true => ports,
                false => mgr.publish(&c.id, ep, &ports)?,
            }
        }
    };
    let ports = ports_json(&published);
    engine
        .store
        .update(&c.id, |c| c.network_settings["Ports"] = ports.clone())?;
    Ok(())
}
