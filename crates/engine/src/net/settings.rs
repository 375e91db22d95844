//! A container's `NetworkSettings` (docker's shape): what it asked for at create, and the
//! endpoints recorded once it is connected.

use super::{is_default, is_special};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use network::{Endpoint, NetworkConfig, PortMapping};
use serde_json::{json, Value};
use std::net::Ipv4Addr;

/// The key of a network in `NetworkSettings.Networks`: docker's "bridge" for the default one.
pub(super) fn settings_name(requested: &str, net: &NetworkConfig) -> String {
    if is_default(requested) {
        "bridge".to_string()
    } else {
        net.name.clone()
    }
}

/// A `NetworkSettings.Networks` entry before the container is connected (docker's shape).
pub(super) fn endpoint_entry(net_id: &str, aliases: &[String], ip: Option<&str>) -> Value {
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
    if crate::paths::rootless_uid().is_some() && is_default(mode) {
        // user-mode networking (see `usermode`): no network object of berth's behind it
        networks.insert("bridge".into(), endpoint_entry("pasta", &[], None));
    } else if !is_special(mode) {
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
pub(super) fn joined(c: &Container) -> Vec<(String, Vec<String>, Option<Ipv4Addr>)> {
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
