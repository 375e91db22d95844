//! Networks as objects: create, remove, inspect, list, prune, with what berth keeps about a
//! network besides the network store's record.

use super::is_default;
use super::settings::endpoint_id;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::Type;
use crate::filters::{self, Filters};
use network::ipam::Subnet;
use network::NetworkConfig;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    /// `AuxiliaryAddresses`: names for addresses the network keeps out of allocation
    #[serde(
        rename = "AuxiliaryAddresses",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux: BTreeMap<String, String>,
}

pub(super) fn extras_path(engine: &Engine, id: &str) -> PathBuf {
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
    /// `AuxiliaryAddresses`: host name → address inside the subnet, never given to a container
    pub aux: BTreeMap<String, String>,
    /// `EnableIPv6` and the v6 IPAM config
    pub ipv6: network::Ipv6Request,
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
    super::rootless::ensure(engine).map_err(net_err)?;
    let m = engine.networks().map_err(net_err)?;
    let net = m.create_dual(
        &r.name,
        r.subnet.as_deref().filter(|s| !s.is_empty()),
        r.gateway.as_deref().filter(|s| !s.is_empty()),
        r.internal,
        r.labels.clone(),
        &r.ipv6,
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
    if let Err(e) = check_aux(&net, &r.aux) {
        return undo(e);
    }
    let extras = Extras {
        options: r.options.clone(),
        attachable: r.attachable,
        ip_range: range.map(|r| r.to_string()).unwrap_or_default(),
        aux: r.aux.clone(),
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

/// Auxiliary addresses are IPv4 addresses inside the network's subnet (dockerd's rule).
fn check_aux(net: &NetworkConfig, aux: &BTreeMap<String, String>) -> network::Result<()> {
    let subnet = Subnet::parse(&net.subnet).map_err(network::Error::InvalidSubnet)?;
    for (name, addr) in aux {
        let inside = addr
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| subnet.contains(ip));
        if !inside {
            return Err(network::Error::InvalidSubnet(format!(
                "auxiliary address: ({name}:{addr}) must belong to the master pool: {}",
                net.subnet
            )));
        }
    }
    Ok(())
}

pub(super) fn emit_network(
    engine: &Engine,
    action: &str,
    net: &NetworkConfig,
    container: Option<&str>,
) {
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
    super::rootless::ensure(engine).map_err(net_err)?;
    m.remove(&net.id)?;
    stop_dns(engine, &net)?;
    if crate::paths::rootless_uid().is_some() {
        // the user's namespace goes with the last network
        super::rootless::release_if_unused(engine, &m).map_err(net_err)?;
    }
    let _ = std::fs::remove_file(extras_path(engine, &net.id));
    emit_network(engine, "destroy", &net, None);
    Ok(net)
}

/// Stop the network's DNS server (the network is being removed) and wait until it is gone, so
/// that its address and port are free for a network made next on the same subnet.
fn stop_dns(engine: &Engine, net: &NetworkConfig) -> network::Result<()> {
    network::dns::stop(&engine.run_root, &net.id).map_err(|source| network::Error::Dns {
        network: net.name.clone(),
        source,
    })
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
    let driver = match name {
        "host" => "host",
        // a rootless engine's default network: user-mode networking (see `usermode`)
        "bridge" => "pasta",
        _ => "null",
    };
    json!({"Name": name, "Id": id, "Scope": "local", "Driver": driver,
        "EnableIPv4": true, "EnableIPv6": false, "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false, "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": {}, "Options": {}, "Labels": {}})
}

/// The containers each network is recorded on (their `NetworkSettings.Networks`), created
/// and stopped ones too: network id → [(container id, name)].
pub(super) fn recorded_users(engine: &Engine) -> Result<HashMap<String, Vec<(String, String)>>> {
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

pub(super) fn inspect_with(
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
                "IPv6Address": ep.ip6.map(|a| format!("{a}/{}", ep.prefix6)).unwrap_or_default(),
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
    if !x.aux.is_empty() {
        ipam["AuxiliaryAddresses"] = json!(x.aux);
    }
    let mut configs = vec![ipam];
    if !net.subnet6.is_empty() {
        // as dockerd shows it: the v6 pool as given (no gateway of its choosing when it was
        // not asked for and IPv6 is off)
        let mut v6 = json!({"Subnet": net.subnet6});
        if !net.ip_range6.is_empty() {
            v6["IPRange"] = json!(net.ip_range6);
        }
        if !net.gateway6.is_empty() {
            v6["Gateway"] = json!(net.gateway6);
        }
        configs.push(v6);
    }
    Ok(json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv4": true,
        "EnableIPv6": net.enable_ipv6,
        "IPAM": {"Driver": "default", "Options": null, "Config": configs},
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
    let rootless = crate::paths::rootless_uid().is_some();
    let m = engine.networks()?;
    let mut out = Vec::new();
    if rootless {
        // the default network is user-mode networking, no network of the manager's
        out.push(pseudo("bridge"));
    } else {
        m.default_network()?;
    }
    let users = recorded_users(engine)?;
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
    if crate::paths::rootless_uid().is_some() && is_default(name) {
        return Ok(pseudo("bridge"));
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
pub(super) fn net_err(e: Error) -> network::Error {
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
