//! Container networking in the engine: which networks a container joins, connecting its
//! network namespace between the runtime's create and start (done by the monitor), published
//! ports, the per-network DNS server, and docker's `NetworkSettings` in inspect.

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::events::Type;
use crate::filters::{self, Filters};
use crate::types::Container;
use network::ipam::Subnet;
use network::{Endpoint, Manager, NetworkConfig, PortMapping};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
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

/// The network store of a state root (the engine's manager and each network's DNS server open
/// it).
pub fn db_path(root: &Path) -> PathBuf {
    root.join("network.db")
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
        let m = Manager::open(&db_path(&self.root))?.with_default_bridge(&bridge);
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

/// Connect a container's namespace to a network: its aliases and short id as DNS names, the
/// requested address, else (on a network with an IP range) the lowest free one of the range.
/// Emits the network's `connect` event.
#[allow(clippy::too_many_arguments)]
fn plug(
    engine: &Engine,
    mgr: &Manager,
    net: &NetworkConfig,
    c: &Container,
    aliases: &[String],
    netns: &Path,
    ifname: &str,
    requested: Option<Ipv4Addr>,
) -> Result<Endpoint> {
    let mut names = aliases.to_vec();
    names.push(c.short_id().to_string());
    let range = Some(extras(engine, &net.id).ip_range)
        .filter(|r| !r.is_empty() && requested.is_none())
        .and_then(|r| Subnet::parse(&r).ok());
    let mut tries = 0;
    let ep = loop {
        let ip = match &range {
            Some(r) => Some(free_in_range(mgr, net, r)?),
            None => requested,
        };
        match mgr.connect(net, &c.id, c.short_name(), &names, netns, ifname, ip) {
            // another container took it meanwhile
            Err(network::Error::AddressInUse { .. }) if range.is_some() && tries < 8 => tries += 1,
            r => break r?,
        }
    };
    emit_network(engine, "connect", net, Some(&c.id));
    Ok(ep)
}

/// The lowest address of `range` no endpoint of `net` has (nor its gateway).
fn free_in_range(mgr: &Manager, net: &NetworkConfig, range: &Subnet) -> Result<Ipv4Addr> {
    let subnet = Subnet::parse(&net.subnet).map_err(Error::Other)?;
    let used: std::collections::HashSet<Ipv4Addr> =
        mgr.endpoints(&net.id)?.into_iter().map(|e| e.ip).collect();
    let start = u32::from(range.addr) & range.mask();
    let end = u32::from(range.broadcast());
    (start..=end)
        .map(Ipv4Addr::from)
        .find(|ip| subnet.is_host(*ip) && ip.to_string() != net.gateway && !used.contains(ip))
        .ok_or_else(|| {
            network::Error::Exhausted(net.name.clone(), format!("ip range {range}")).into()
        })
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
        let ep = plug(
            engine,
            &mgr,
            &net,
            c,
            &aliases,
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
            ensure_dns(engine, &net)?;
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
        let eps = m.endpoints_of_container(id).unwrap_or_default();
        let _ = m.release_container(id);
        for ep in eps {
            if let Ok(net) = m.get(&ep.network_id) {
                emit_network(engine, "disconnect", &net, Some(id));
            }
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

/// The resolv.conf of a container on a user network: the network's DNS server. A container
/// of the default bridge that was connected to a user network uses that network's (as with
/// docker, whose containers switch to the embedded DNS once on a user network).
pub fn user_network_resolver(engine: &Engine, c: &Container) -> Option<String> {
    let mode = &c.host_config.network_mode;
    if is_special(mode) || !c.host_config.dns.is_empty() {
        return None;
    }
    let name = if is_default(mode) {
        c.network_settings
            .get("Networks")
            .and_then(|n| n.as_object())?
            .keys()
            .find(|k| !is_default(k) && !is_special(k))?
            .clone()
    } else {
        mode.clone()
    };
    let net = engine.network(&name).ok()?;
    Some(net.gateway)
}

/// Start the network's DNS server unless it runs, and wait until it serves: a server that
/// cannot (its port taken) is an error for the container joining, never a silent broken
/// resolver. The network's DNS lock keeps a server that is exiting for idleness and this start
/// apart (see `network::dns`'s helper docs).
fn ensure_dns(engine: &Engine, net: &NetworkConfig) -> Result<()> {
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
    let req = crate::helper::Request::Dns {
        network: net.id.clone(),
    };
    crate::helper::spawn_detached(&engine.root, &req, Some(w), Some(&log))?;
    dns::wait_ready(std::fs::File::from(r), &log)
        .map_err(|e| dns_err(dns::DnsError::Config(format!("cannot start: {e}"))).into())
}

/// Stop the network's DNS server (the network is being removed) and wait until it is gone, so
/// that its address and port are free for a network made next on the same subnet.
fn stop_dns(engine: &Engine, net: &NetworkConfig) -> network::Result<()> {
    network::dns::stop(&engine.run_root, &net.id).map_err(|source| network::Error::Dns {
        network: net.name.clone(),
        source,
    })
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

// ------------------------------------------------------------------ networks as objects

/// What berth keeps about a network besides the network store's record: the create request's
/// driver options, attachable flag and IP range (a small JSON file per network).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extras {
    #[serde(rename = "Options", default)]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "Attachable", default)]
    pub attachable: bool,
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

fn extras_path(engine: &Engine, id: &str) -> PathBuf {
    engine.root.join("networks").join(format!("{id}.json"))
}

pub fn extras(engine: &Engine, id: &str) -> Extras {
    std::fs::read(extras_path(engine, id))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

/// `network create` / `POST /networks/create`.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    pub name: String,
    /// "" or "bridge"
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    /// addresses are given out from this part of the subnet only
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    /// kept and shown by inspect; berth's bridges do not apply them (a warning says so)
    pub options: BTreeMap<String, String>,
}

/// Create a network; its config and the warnings for the client.
pub fn create(
    engine: &Engine,
    r: &NetworkRequest,
) -> network::Result<(NetworkConfig, Vec<String>)> {
    if !matches!(r.driver.as_str(), "" | "bridge") {
        return Err(network::Error::NotFound(format!("plugin {:?}", r.driver)));
    }
    let range = r
        .ip_range
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Subnet::parse(s).map_err(network::Error::InvalidSubnet))
        .transpose()?;
    let m = engine.networks().map_err(net_err)?;
    let net = m.create(
        &r.name,
        r.subnet.as_deref().filter(|s| !s.is_empty()),
        r.gateway.as_deref().filter(|s| !s.is_empty()),
        r.internal,
        r.labels.clone(),
    )?;
    let undo = |e: network::Error| {
        let _ = m.remove(&net.id);
        Err(e)
    };
    if let Some(range) = range {
        let inside = Subnet::parse(&net.subnet)
            .map(|s| s.contains(range.addr) && range.prefix >= s.prefix)
            .unwrap_or(false);
        if !inside {
            return undo(network::Error::InvalidSubnet(format!(
                "invalid ip-range {range}: not within the subnet {}",
                net.subnet
            )));
        }
    }
    let extras = Extras {
        options: r.options.clone(),
        attachable: r.attachable,
        ip_range: range.map(|r| r.to_string()).unwrap_or_default(),
    };
    if extras != Extras::default() {
        let path = extras_path(engine, &net.id);
        let written = std::fs::create_dir_all(engine.root.join("networks"))
            .and_then(|_| std::fs::write(&path, serde_json::to_vec(&extras).unwrap_or_default()));
        if let Err(source) = written {
            return undo(network::Error::Io {
                context: format!("write {}", path.display()),
                source,
            });
        }
    }
    let mut warnings = Vec::new();
    if !r.options.is_empty() {
        warnings.push(format!(
            "berth does not apply bridge driver options; ignored: {}",
            r.options.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    emit_network(engine, "create", &net, None);
    Ok((net, warnings))
}

fn emit_network(engine: &Engine, action: &str, net: &NetworkConfig, container: Option<&str>) {
    let mut a = crate::events::attrs(&[("name", &net.name), ("type", &net.driver)]);
    if let Some(c) = container {
        a.insert("container".into(), c.to_string());
    }
    crate::events::emit(engine, Type::Network, action, &net.id, a);
}

/// Remove a network (not `bridge`, `host` or `none`, nor one with running containers).
pub fn remove(engine: &Engine, name: &str) -> network::Result<NetworkConfig> {
    if matches!(name, "bridge" | "host" | "none") {
        return Err(network::Error::Predefined(name.to_string()));
    }
    let m = engine.networks().map_err(net_err)?;
    let net = m.get(name)?;
    m.remove(&net.id)?;
    stop_dns(engine, &net)?;
    let _ = std::fs::remove_file(extras_path(engine, &net.id));
    emit_network(engine, "destroy", &net, None);
    Ok(net)
}

/// docker lists its `host` and `none` pseudo networks too.
pub fn pseudo(name: &str) -> Value {
    let id = {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}").repeat(4)
    };
    json!({"Name": name, "Id": id, "Scope": "local", "Driver": if name == "host" { "host" } else { "null" },
        "EnableIPv4": true, "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false, "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": {}, "Options": {}, "Labels": {}})
}

/// The containers each network is recorded on (their `NetworkSettings.Networks`), created
/// and stopped ones too: network id → [(container id, name)].
fn recorded_users(engine: &Engine) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for c in engine.store.all()? {
        if let Some(m) = c
            .network_settings
            .get("Networks")
            .and_then(|n| n.as_object())
        {
            for v in m.values() {
                if let Some(id) = v.get("NetworkID").and_then(|x| x.as_str()) {
                    out.entry(id.to_string())
                        .or_default()
                        .push((c.id.clone(), c.short_name().to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// docker's `network inspect` document.
pub fn inspect_json(engine: &Engine, net: &NetworkConfig) -> Result<Value> {
    inspect_with(engine, net, &recorded_users(engine)?)
}

fn inspect_with(
    engine: &Engine,
    net: &NetworkConfig,
    users: &HashMap<String, Vec<(String, String)>>,
) -> Result<Value> {
    let mut containers = serde_json::Map::new();
    // containers connected but not running have no endpoint yet: shown without addresses
    for (id, name) in users.get(&net.id).into_iter().flatten() {
        containers.insert(
            id.clone(),
            json!({"Name": name, "EndpointID": "", "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}),
        );
    }
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
    let x = extras(engine, &net.id);
    let mut ipam = json!({"Subnet": net.subnet});
    if !x.ip_range.is_empty() {
        ipam["IPRange"] = json!(x.ip_range);
    }
    ipam["Gateway"] = json!(net.gateway);
    Ok(json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": [ipam]},
        "Internal": net.internal,
        "Attachable": x.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": if default {
            json!({"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": net.bridge})
        } else {
            json!(x.options)
        },
        "Labels": net.labels,
    }))
}

/// Every network (the pseudo `host` and `none` too) in inspect's shape, by name.
pub fn list_json(engine: &Engine) -> Result<Vec<Value>> {
    let m = engine.networks()?;
    m.default_network()?;
    let users = recorded_users(engine)?;
    let mut out = Vec::new();
    for n in m.list()? {
        out.push(inspect_with(engine, &n, &users)?);
    }
    out.push(pseudo("host"));
    out.push(pseudo("none"));
    out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    Ok(out)
}

/// One network by name, id or id prefix, in inspect's shape.
pub fn find_json(engine: &Engine, name: &str) -> network::Result<Value> {
    if name == "host" || name == "none" {
        return Ok(pseudo(name));
    }
    let m = engine.networks().map_err(net_err)?;
    let n = if is_default(name) {
        m.default_network()?
    } else {
        match m.get(name) {
            // the pseudo networks by (a prefix of) the ids `network ls` shows for them
            Err(network::Error::NotFound(_)) if !name.is_empty() => {
                return ["host", "none"]
                    .iter()
                    .map(|n| pseudo(n))
                    .find(|p| p["Id"].as_str().is_some_and(|id| id.starts_with(name)))
                    .ok_or_else(|| network::Error::NotFound(name.to_string()));
            }
            r => r?,
        }
    };
    inspect_json(engine, &n).map_err(net_err)
}

/// An engine error where a network error is expected (the store could not be read).
fn net_err(e: Error) -> network::Error {
    network::Error::Io {
        context: "network".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The filters of `network ls` / `GET /networks`.
pub const LIST_FILTERS: &[&str] = &["driver", "id", "label", "name", "scope", "type", "dangling"];

/// `network ls`: the networks (inspect documents) `f` selects.
pub fn list_filtered(engine: &Engine, f: &Filters) -> Result<Vec<Value>> {
    filters::validate(f, LIST_FILTERS)?;
    if let Some(t) = f
        .get("type")
        .into_iter()
        .flatten()
        .find(|t| *t != "custom" && *t != "builtin")
    {
        return Err(Error::Invalid(format!("invalid filter: 'type'='{t}'")));
    }
    let dangling = filters::boolean(f, "dangling")?;
    let s = |n: &Value, k: &str| n[k].as_str().unwrap_or("").to_string();
    Ok(list_json(engine)?
        .into_iter()
        .filter(|n| {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(n["Labels"].clone()).unwrap_or_default();
            let builtin = matches!(n["Name"].as_str(), Some("bridge" | "host" | "none"));
            let empty = n["Containers"].as_object().is_none_or(|m| m.is_empty());
            filters::contains(f, "name", &s(n, "Name"))
                && filters::contains(f, "id", &s(n, "Id"))
                && filters::exact(f, "driver", &s(n, "Driver"))
                && filters::exact(f, "scope", &s(n, "Scope"))
                && filters::exact(f, "type", if builtin { "builtin" } else { "custom" })
                && filters::labels(f, "label", &labels)
                && dangling.is_none_or(|d| d == (empty && !builtin))
        })
        .collect())
}

/// The filters of `network prune` / `POST /networks/prune`.
pub const PRUNE_FILTERS: &[&str] = &["until", "label", "label!"];

/// Remove the user networks no container (running or not) is recorded on, among those `f`
/// selects; their names.
pub fn prune(engine: &Engine, f: &Filters) -> Result<Vec<String>> {
    filters::validate(f, PRUNE_FILTERS)?;
    let until = match f.get("until").and_then(|v| v.last()) {
        Some(u) => Some(crate::logs::parse_time(u, chrono::Utc::now())?),
        None => None,
    };
    let users = recorded_users(engine)?;
    let m = engine.networks()?;
    let mut gone = Vec::new();
    for n in m.list()? {
        let young = until
            .is_some_and(|u| chrono::DateTime::parse_from_rfc3339(&n.created).is_ok_and(|c| c > u));
        if n.name == "bridge"
            || users.contains_key(&n.id)
            || young
            || !filters::labels(f, "label", &n.labels)
            || !filters::no_labels(f, "label!", &n.labels)
        {
            continue;
        }
        if remove(engine, &n.id).is_ok() {
            gone.push(n.name);
        }
    }
    // a second state root's default bridge goes too once nothing runs on it (berth0 of the
    // main root stays, as docker0 does)
    m.retire_private_default()?;
    Ok(gone)
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
    if c.state.status.has_process() {
        let netns = PathBuf::from(format!("/proc/{}/ns/net", c.state.pid));
        let n = c
            .network_settings
            .get("Networks")
            .and_then(|n| n.as_object())
            .map(|m| m.len())
            .unwrap_or(0);
        let mgr = engine.networks()?;
        let ep = plug(
            engine,
            &mgr,
            &net,
            &c,
            aliases,
            &netns,
            &format!("eth{n}"),
            requested,
        )?;
        fault::point("connect.plugged");
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
        let c = engine.find(&c.id)?;
        engine.refresh_resolv_conf(&c)?;
    }
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
    emit_network(engine, "disconnect", &net, Some(&c.id));
    Ok(())
}
