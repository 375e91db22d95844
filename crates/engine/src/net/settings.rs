//! A container's `NetworkSettings` (docker's shape): what it asked for at create, and the
//! endpoints recorded once it is connected.

use super::{is_default, is_special};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use network::{Endpoint, NetworkConfig, PortMapping};
use serde_json::{json, Value};

/// The key of a network in `NetworkSettings.Networks`: docker's "bridge" for the default one.
pub(super) fn settings_name(requested: &str, net: &NetworkConfig) -> String {
    if is_default(requested) {
        "bridge".to_string()
    } else {
        net.name.clone()
    }
}

/// What a container asks of one of its endpoints (`NetworkingConfig.EndpointsConfig`, `network
/// connect`, `--network-alias`/`--ip`/`--ip6`/`--link-local-ip`): kept in its
/// `NetworkSettings.Networks` entry, applied whenever the endpoint is plugged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointSpec {
    pub aliases: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub link_local_ips: Vec<String>,
    /// "target:alias" (the endpoint's own links: `alias` resolves to `target` for it)
    pub links: Vec<String>,
    pub mac: Option<String>,
}

impl EndpointSpec {
    /// The addresses parsed, for the network manager.
    pub fn request(&self) -> Result<network::EndpointRequest> {
        fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T> {
            s.parse()
                .map_err(|_| Error::Invalid(format!("invalid {what} address: {s}")))
        }
        if let Some(mac) = self.mac.as_deref() {
            if network::ipam::parse_mac(mac).is_none() {
                return Err(Error::Invalid(format!("invalid MAC address: {mac}")));
            }
        }
        Ok(network::EndpointRequest {
            ip: self.ip.as_deref().map(|s| parse(s, "IPv4")).transpose()?,
            ip6: self.ip6.as_deref().map(|s| parse(s, "IPv6")).transpose()?,
            mac: self.mac.clone(),
            link_local: self
                .link_local_ips
                .iter()
                .map(|s| parse(s, "link-local IP"))
                .collect::<Result<_>>()?,
            links: self.links.clone(),
        })
    }

    /// Read back from a `NetworkSettings.Networks` entry.
    fn of_entry(v: &Value) -> EndpointSpec {
        let strings = |x: Option<&Value>| -> Vec<String> {
            x.and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        EndpointSpec {
            aliases: strings(v.get("Aliases")),
            ip: text("/IPAMConfig/IPv4Address"),
            ip6: text("/IPAMConfig/IPv6Address"),
            link_local_ips: strings(v.pointer("/IPAMConfig/LinkLocalIPs")),
            links: strings(v.get("Links")),
            mac: None,
        }
    }
}

/// A `NetworkSettings.Networks` entry before the container is connected (docker's shape).
pub(super) fn endpoint_entry(net_id: &str, spec: &EndpointSpec) -> Value {
    let mut ipam = serde_json::Map::new();
    if let Some(ip) = &spec.ip {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &spec.ip6 {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !spec.link_local_ips.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(spec.link_local_ips));
    }
    let list = |l: &[String]| if l.is_empty() { Value::Null } else { json!(l) };
    json!({
        "IPAMConfig": if ipam.is_empty() { Value::Null } else { Value::Object(ipam) },
        "Links": list(&spec.links),
        "Aliases": list(&spec.aliases),
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
pub(super) fn endpoint_id(container_id: &str, net_id: &str) -> String {
    format!(
        "{}{}",
        &container_id[..32.min(container_id.len())],
        &net_id[..32.min(net_id.len())]
    )
}

/// Record a live endpoint in its `NetworkSettings.Networks` entry.
pub(super) fn fill_endpoint(v: &mut Value, net_id: &str, ep: &Endpoint) {
    v["NetworkID"] = json!(net_id);
    v["EndpointID"] = json!(endpoint_id(&ep.container_id, net_id));
    v["Gateway"] = json!(ep.gateway.to_string());
    v["IPAddress"] = json!(ep.ip.to_string());
    v["IPPrefixLen"] = json!(ep.prefix_len);
    v["MacAddress"] = json!(ep.mac);
    let v6 = |a: Option<std::net::Ipv6Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    v["IPv6Gateway"] = json!(v6(ep.gateway6));
    v["GlobalIPv6Address"] = json!(v6(ep.ip6));
    v["GlobalIPv6PrefixLen"] = json!(ep.prefix6);
}

/// The create-time `NetworkSettings`: the networks the container will join, with the aliases
/// and address the user asked for (`--network-alias`, `--ip`).
pub fn initial_settings(engine: &Engine, mode: &str, spec: &EndpointSpec) -> Result<Value> {
    let mut networks = serde_json::Map::new();
    let aliases = &spec.aliases;
    if crate::paths::rootless_uid().is_some() && is_default(mode) {
        // user-mode networking (see `usermode`): no network object of berth's behind it
        networks.insert(
            "bridge".into(),
            endpoint_entry("pasta", &EndpointSpec::default()),
        );
    } else if !is_special(mode) {
        let net = engine.network(mode)?;
        spec.request()?;
        if (spec.ip.is_some() || spec.ip6.is_some()) && is_default(mode) {
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
        networks.insert(name.to_string(), endpoint_entry(&net.id, spec));
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

/// The networks (name, what the endpoint asks for) recorded for a container. A requested MAC
/// is the container's `MacAddress` on its first network, else one given to `network connect`.
pub(super) fn joined(c: &Container) -> Vec<(String, EndpointSpec)> {
    let mut out = Vec::new();
    // the network the container was created on comes first (eth0), as docker orders them
    let primary = if is_default(&c.host_config.network_mode) {
        "bridge".to_string()
    } else {
        c.host_config.network_mode.clone()
    };
    if let Some(m) = c
        .network_settings
        .get("Networks")
        .and_then(|n| n.as_object())
    {
        for (name, v) in m {
            if matches!(name.as_str(), "host" | "none") {
                continue;
            }
            let mut spec = EndpointSpec::of_entry(v);
            spec.mac = c.internal.endpoint_macs.get(name).cloned();
            if *name == primary && !c.config.mac_address.is_empty() {
                spec.mac = Some(c.config.mac_address.clone());
            }
            out.push((name.clone(), spec));
        }
    }
    out.sort_by_key(|(n, _)| *n != primary);
    out
}

/// Requested port mappings: `-p` bindings, and with `-P` every exposed port on a free port.
pub(super) fn requested_ports(c: &Container) -> Result<Vec<PortMapping>> {
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

pub(super) fn ports_json(published: &[PortMapping]) -> Value {
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
