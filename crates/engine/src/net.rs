//! Container networking in the engine: which networks a container joins, connecting its
//! network namespace between the runtime's create and start (done by the monitor), published
//! ports, the per-network DNS server, and docker's `NetworkSettings` in inspect.

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Container;
use network::{Endpoint, Manager, NetworkConfig, PortMapping};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

impl From<network::Error> for Error {
    fn from(e: network::Error) -> Self {
        Error::Other(e.to_string())
    }
}

/// The network modes that get no interface of berth's.
pub fn is_special(mode: &str) -> bool {
    matches!(mode, "host" | "none") || mode.starts_with("container:")
}

/// `bridge`/`default`/"" name docker's default network.
pub fn is_default(mode: &str) -> bool {
    matches!(mode, "" | "bridge" | "default")
}

impl Engine {
    pub fn networks(&self) -> Result<std::sync::Arc<Manager>> {
        let mut slot = self.nets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        // the default root owns berth0; any other root (tests, a second engine) gets a bridge
        // of its own, named after the root
        let bridge = if self.root == Path::new(crate::engine::DEFAULT_ROOT) {
            network::DEFAULT_BRIDGE.to_string()
        } else {
            let mut h: u32 = 0x811c9dc5;
            for b in self.root.as_os_str().as_encoded_bytes() {
                h = (h ^ *b as u32).wrapping_mul(0x01000193);
            }
            format!("berth{h:08x}")
        };
        let m = Manager::open(&self.root.join("network.db"))?.with_default_bridge(&bridge);
        let m = std::sync::Arc::new(m);
        *slot = Some(m.clone());
        Ok(m)
    }

    /// Let go of the network store (its sqlite connection and caches): the monitor does once
    /// the container runs, and opens it again when the container stops.
    pub fn close_networks(&self) {
        *self.nets.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Resolve a network name (or id) the way `--network` does.
    pub fn network(&self, name: &str) -> Result<NetworkConfig> {
        let m = self.networks()?;
        if is_default(name) {
            return Ok(m.default_network()?);
        }
        m.get(name)
            .map_err(|_| Error::Invalid(format!("network {name} not found")))
    }
}

/// The key of a network in `NetworkSettings.Networks`: docker's "bridge" for the default one.
fn settings_name(requested: &str, net: &NetworkConfig) -> String {
    if is_default(requested) {
        "bridge".to_string()
    } else {
        net.name.clone()
    }
}

/// A `NetworkSettings.Networks` entry before the container is connected (docker's shape).
fn endpoint_entry(net_id: &str, aliases: &[String], ip: Option<&str>) -> Value {
    json!({
        "IPAMConfig": ip.map(|i| json!({"IPv4Address": i})),
        "Links": null,
        "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
        "NetworkID": net_id,
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "DriverOpts": null,
    })
}

/// docker shows a 64-hex endpoint id; ours is made of the container's and network's ids.
fn endpoint_id(container_id: &str, net_id: &str) -> String {
    format!(
        "{}{}",
        &container_id[..32.min(container_id.len())],
        &net_id[..32.min(net_id.len())]
    )
}

/// Record a live endpoint in its `NetworkSettings.Networks` entry.
fn fill_endpoint(v: &mut Value, net_id: &str, ep: &Endpoint) {
    v["NetworkID"] = json!(net_id);
    v["EndpointID"] = json!(endpoint_id(&ep.container_id, net_id));
    v["Gateway"] = json!(ep.gateway.to_string());
    v["IPAddress"] = json!(ep.ip.to_string());
    v["IPPrefixLen"] = json!(ep.prefix_len);
    v["MacAddress"] = json!(ep.mac);
}

/// The create-time `NetworkSettings`: the networks the container will join, with the aliases
/// and address the user asked for (`--network-alias`, `--ip`).
pub fn initial_settings(
    engine: &Engine,
    mode: &str,
    aliases: &[String],
    ip: Option<&str>,
) -> Result<Value> {
    let mut networks = serde_json::Map::new();
    if !is_special(mode) {
        let net = engine.network(mode)?;
        if ip.is_some() && is_default(mode) {
            return Err(Error::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        if !aliases.is_empty() && is_default(mode) {
            return Err(Error::Invalid(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            ));
        }
        let name = if is_default(mode) { "bridge" } else { mode };
        networks.insert(name.to_string(), endpoint_entry(&net.id, aliases, ip));
    } else if mode == "host" || mode == "none" {
        networks.insert(
            mode.to_string(),
            json!({"NetworkID": mode, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}),
        );
    }
    Ok(json!({
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "Ports": {},
        "SandboxKey": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "MacAddress": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPv6Gateway": "",
        "Networks": networks,
    }))
}

/// The user networks (name, aliases, requested ip) recorded for a container.
fn joined(c: &Container) -> Vec<(String, Vec<String>, Option<Ipv4Addr>)> {
    let mut out = Vec::new();
    if let Some(m) = c
        .network_settings
        .get("Networks")
        .and_then(|n| n.as_object())
    {
        for (name, v) in m {
            if matches!(name.as_str(), "host" | "none") {
                continue;
            }
            let aliases = v
                .get("Aliases")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let ip = v
                .pointer("/IPAMConfig/IPv4Address")
                .and_then(|x| x.as_str())
                .and_then(|s| s.parse().ok());
            out.push((name.clone(), aliases, ip));
        }
    }
    // the network the container was created on comes first (eth0), as docker orders them
    let primary = if is_default(&c.host_config.network_mode) {
        "bridge".to_string()
    } else {
        c.host_config.network_mode.clone()
    };
    out.sort_by_key(|(n, _, _)| *n != primary);
    out
}

/// Requested port mappings: `-p` bindings, and with `-P` every exposed port on a free port.
fn requested_ports(c: &Container) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    let parse = |key: &str| -> Result<(u16, String)> {
        let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let port = p
            .parse()
            .map_err(|_| Error::Invalid(format!("invalid port {key}")))?;
        Ok((port, proto.to_string()))
    };
    for (key, bindings) in &c.host_config.port_bindings {
        let (container_port, proto) = parse(key)?;
        for b in bindings {
            let host_port = if b.host_port.is_empty() {
                0
            } else {
                b.host_port
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid host port {}", b.host_port)))?
            };
            out.push(PortMapping {
                host_ip: b.host_ip.clone(),
                host_port,
                container_port,
                proto: proto.clone(),
            });
        }
    }
    if c.host_config.publish_all_ports {
        for key in c.config.exposed_ports.iter().flat_map(|m| m.keys()) {
            let (container_port, proto) = parse(key)?;
            if !out
                .iter()
                .any(|m| m.container_port == container_port && m.proto == proto)
            {
                out.push(PortMapping {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port,
                    proto,
                });
            }
        }
    }
    Ok(out)
}

/// Between create and start: give the container's network namespace its interfaces, addresses,
/// routes and published ports, and record them in `NetworkSettings`.
pub fn setup(engine: &Engine, c: &Container, pid: i32) -> Result<()> {
    let mode = c.host_config.network_mode.as_str();
    if mode == "host" || mode.starts_with("container:") {
        return Ok(());
    }
    let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
    lo_up(&netns)?;
    if mode == "none" {
        return Ok(());
    }
    let mgr = engine.networks()?;
    let mut eps: Vec<(String, NetworkConfig, Endpoint)> = Vec::new();
    let mut published = Vec::new();
    for (i, (name, aliases, ip)) in joined(c).into_iter().enumerate() {
        let net = engine.network(&name)?;
        let mut names = aliases.clone();
        names.push(c.short_id().to_string());
        let ep = mgr.connect(
            &net,
            &c.id,
            c.short_name(),
            &names,
            &netns,
            &format!("eth{i}"),
            ip,
        )?;
        if i == 0 {
            let ports = requested_ports(c)?;
            if !ports.is_empty() {
                published = mgr.publish(&c.id, &ep, &ports)?;
            }
        }
        if !is_default(&name) {
            // names resolve on user networks only, as with docker
            ensure_dns(engine, &net);
        }
        eps.push((name, net, ep));
    }
    if let Some((_, _, ep)) = eps.first() {
        rewrite_hosts(c, &ep.ip.to_string())?;
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

fn ports_json(published: &[PortMapping]) -> Value {
    let mut m = serde_json::Map::new();
    for p in published {
        let key = format!("{}/{}", p.container_port, p.proto);
        let entry = m.entry(key).or_insert_with(|| json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({
                "HostIp": if p.host_ip.is_empty() { "0.0.0.0".to_string() } else { p.host_ip.clone() },
                "HostPort": p.host_port.to_string(),
            }));
        }
    }
    Value::Object(m)
}

/// After the container stopped: its interfaces went with its namespace; release addresses,
/// ports and endpoints, and clear the runtime part of `NetworkSettings`.
pub fn teardown(engine: &Engine, id: &str) {
    if let Ok(m) = engine.networks() {
        let _ = m.release_container(id);
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
                    for k in ["IPAddress", "Gateway", "MacAddress", "EndpointID"] {
                        v[k] = json!("");
                    }
                    v["IPPrefixLen"] = json!(0);
                }
            }
        }
    });
}

/// `/etc/hosts` gets the container's address for its hostname. Rewritten in place: the
/// container sees the file through a bind mount of this very inode.
fn rewrite_hosts(c: &Container, ip: &str) -> Result<()> {
    let path = Path::new(&c.hosts_path);
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let host = &c.config.hostname;
    let mut out: String = old
        .lines()
        .filter(|l| !l.starts_with("127.0.1.1") && !l.ends_with(&format!("\t{host}")))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{ip}\t{host}\n"));
    std::fs::write(path, out).ctx(|| format!("write {}", path.display()))
}

/// The resolv.conf of a container on a user network: the network's DNS server.
pub fn user_network_resolver(engine: &Engine, c: &Container) -> Option<String> {
    let mode = &c.host_config.network_mode;
    if is_special(mode) || is_default(mode) || !c.host_config.dns.is_empty() {
        return None;
    }
    let net = engine.network(mode).ok()?;
    Some(net.gateway)
}

/// Start the network's DNS server unless it runs.
fn ensure_dns(engine: &Engine, net: &NetworkConfig) {
    let pidfile = engine.run_root.join(format!("dns-{}.pid", net.id));
    if let Some(pid) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&net.id) {
            return;
        }
    }
    let _ = crate::monitor::spawn_detached(
        engine,
        &["__dns".to_string(), net.id.clone()],
        &engine.run_root.join(format!("dns-{}.log", net.id)),
    );
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

/// docker's `network inspect` document.
pub fn inspect_json(engine: &Engine, net: &NetworkConfig) -> Result<Value> {
    let mut containers = serde_json::Map::new();
    for ep in engine.networks()?.endpoints(&net.id)? {
        containers.insert(
            ep.container_id.clone(),
            json!({
                "Name": ep.name,
                "EndpointID": endpoint_id(&ep.container_id, &net.id),
                "MacAddress": ep.mac,
                "IPv4Address": format!("{}/{}", ep.ip, ep.prefix_len),
                "IPv6Address": "",
            }),
        );
    }
    let default = net.name == "bridge";
    Ok(json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": [{"Subnet": net.subnet, "Gateway": net.gateway}]},
        "Internal": net.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": if default {
            json!({"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": net.bridge})
        } else {
            json!({"com.docker.network.bridge.name": net.bridge})
        },
        "Labels": net.labels,
    }))
}

/// `network connect`: record the network on the container, and if it runs, connect it now.
pub fn connect_container(
    engine: &Engine,
    key: &str,
    network: &str,
    aliases: &[String],
    ip: Option<&str>,
) -> Result<()> {
    let c = engine.find(key)?;
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
    let requested: Option<Ipv4Addr> = match ip {
        Some(s) => Some(
            s.parse()
                .map_err(|_| Error::Invalid(format!("invalid IPv4 address: {s}")))?,
        ),
        None => None,
    };
    let mut entry = endpoint_entry(&net.id, aliases, ip);
    if c.state.status == "running" || c.state.status == "paused" {
        let netns = PathBuf::from(format!("/proc/{}/ns/net", c.state.pid));
        let n = c
            .network_settings
            .get("Networks")
            .and_then(|n| n.as_object())
            .map(|m| m.len())
            .unwrap_or(0);
        let mut names = aliases.to_vec();
        names.push(c.short_id().to_string());
        let ep = engine.networks()?.connect(
            &net,
            &c.id,
            c.short_name(),
            &names,
            &netns,
            &format!("eth{n}"),
            requested,
        )?;
        if !is_default(&name) {
            ensure_dns(engine, &net);
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
    Ok(())
}

/// `network disconnect`.
pub fn disconnect_container(engine: &Engine, key: &str, network: &str) -> Result<()> {
    let c = engine.find(key)?;
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
    engine.networks()?.disconnect(&net.id, &c.id)?;
    engine.store.update(&c.id, |c| {
        if let Some(m) = c
            .network_settings
            .get_mut("Networks")
            .and_then(|n| n.as_object_mut())
        {
            m.remove(&name);
        }
    })?;
    Ok(())
}
