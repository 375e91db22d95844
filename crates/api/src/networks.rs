//! `/networks`: list, inspect, create, remove, connect, disconnect, prune (the engine's bridge
//! networks, as the CLI's `berth network` sees them).

use crate::http::{
    blocking, json_response, no_content, ok, parse_json, read_body, ApiError, ApiResult, Q,
};
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use engine::engine::Engine;
use engine::net;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn routes() -> Router {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
        // a legacy link by its name "container/alias" (with `link=1`, as docker-py sends it)
        .route(
            "/containers/{id}/{alias}",
            axum::routing::delete(remove_link),
        )
}

async fn remove_link(Path((id, alias)): Path<(String, String)>, q: Q) -> ApiResult<Response> {
    if !q.bool("link") {
        return Err(ApiError::not_found(format!(
            "page not found: DELETE /containers/{id}/{alias}"
        )));
    }
    blocking(move |e| Ok(net::links::remove(e, &format!("{id}/{alias}"))?)).await?;
    Ok(no_content())
}

async fn list(q: Q) -> ApiResult<Response> {
    let f = q.filters()?;
    let v = blocking(move |e| Ok(net::list_filtered(e, &f)?)).await?;
    Ok(ok(&v))
}

async fn inspect(Path(id): Path<String>) -> ApiResult<Response> {
    let v = blocking(move |e| Ok(net::find_json(e, &id)?)).await?;
    Ok(ok(&v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    subnet: Option<String>,
    #[serde(rename = "IPRange")]
    ip_range: Option<String>,
    gateway: Option<String>,
    auxiliary_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    driver: Option<String>,
    config: Option<Vec<IpamConfig>>,
}

/// The create body (docker's fields; nulls are absent values).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    driver: Option<String>,
    internal: Option<bool>,
    attachable: Option<bool>,
    ingress: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    config_only: Option<bool>,
}

fn request(b: CreateBody) -> ApiResult<net::NetworkRequest> {
    let unsupported = |what: &str| {
        Err(ApiError::bad_request(format!(
            "{what} is not supported by berth's bridge networks"
        )))
    };
    if b.ingress == Some(true) {
        return unsupported("an ingress network");
    }
    if b.config_only == Some(true) {
        return unsupported("a config-only network");
    }
    let ipam = b.ipam.unwrap_or_default();
    if !matches!(ipam.driver.as_deref(), None | Some("") | Some("default")) {
        return unsupported(&format!(
            "IPAM driver {:?}",
            ipam.driver.unwrap_or_default()
        ));
    }
    // one pool per address family
    let (v6, v4): (Vec<IpamConfig>, Vec<IpamConfig>) = ipam
        .config
        .unwrap_or_default()
        .into_iter()
        .partition(|c| c.subnet.as_deref().is_some_and(|s| s.contains(':')));
    if v4.len() > 1 || v6.len() > 1 {
        return unsupported("more than one IPAM config of an address family");
    }
    let c = v4.into_iter().next().unwrap_or_default();
    let c6 = v6.into_iter().next().unwrap_or_default();
    Ok(net::NetworkRequest {
        name: b.name,
        driver: b.driver.unwrap_or_default(),
        subnet: c.subnet,
        gateway: c.gateway,
        ip_range: c.ip_range,
        internal: b.internal.unwrap_or(false),
        attachable: b.attachable.unwrap_or(false),
        labels: b.labels.unwrap_or_default(),
        options: b.options.unwrap_or_default(),
        aux: c.auxiliary_addresses.unwrap_or_default(),
        ipv6: network::Ipv6Request {
            enable: b.enable_ipv6.unwrap_or(false),
            subnet: c6.subnet,
            gateway: c6.gateway,
            ip_range: c6.ip_range,
        },
    })
}

async fn create(body: Body) -> ApiResult<Response> {
    let b: CreateBody = parse_json(&read_body(body).await?)?;
    if b.name.is_empty() {
        return Err(ApiError::bad_request(
            "invalid name: a network needs a name",
        ));
    }
    let r = request(b)?;
    let (n, warnings) = blocking(move |e| Ok(net::create(e, &r)?)).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"Id": n.id, "Warning": warnings.join("\n")}),
    ))
}

async fn remove(Path(id): Path<String>) -> ApiResult<Response> {
    blocking(move |e| Ok(net::remove(e, &id)?)).await?;
    Ok(no_content())
}

/// The network a request names (404 in the network's words when there is none).
fn network_of(e: &Engine, id: &str) -> ApiResult<String> {
    let v = net::find_json(e, id)?;
    Ok(v["Name"].as_str().unwrap_or(id).to_string())
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamRequest {
    #[serde(rename = "IPv4Address")]
    ipv4_address: Option<String>,
    #[serde(rename = "IPv6Address")]
    ipv6_address: Option<String>,
    #[serde(rename = "LinkLocalIPs")]
    link_local_ips: Option<Vec<String>>,
}

/// An endpoint as connect and create (`NetworkingConfig.EndpointsConfig`) give it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfig {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamRequest>,
    driver_opts: Option<BTreeMap<String, String>>,
    mac_address: Option<String>,
    links: Option<Vec<String>>,
}

impl EndpointConfig {
    /// The network aliases (`--network-alias`).
    pub fn aliases(&self) -> Vec<String> {
        self.aliases.clone().unwrap_or_default()
    }

    /// The requested IPv4 address (`--ip`), if any.
    pub fn ip(&self) -> Option<String> {
        self.ipam_config
            .as_ref()
            .and_then(|i| i.ipv4_address.clone())
            .filter(|s| !s.is_empty())
    }

    /// Everything the endpoint asks for (its MAC unchecked: see [`EndpointConfig::mac`]).
    pub fn spec(&self) -> net::EndpointSpec {
        let ipam = self.ipam_config.clone().unwrap_or_default();
        let some = |s: Option<String>| s.filter(|s| !s.is_empty());
        net::EndpointSpec {
            aliases: self.aliases(),
            ip: self.ip(),
            ip6: some(ipam.ipv6_address),
            link_local_ips: ipam.link_local_ips.unwrap_or_default(),
            links: self.links.clone().unwrap_or_default(),
            mac: some(self.mac_address.clone()),
        }
    }

    /// The requested MAC address, checked.
    pub fn mac(&self) -> engine::Result<Option<&str>> {
        match self.mac_address.as_deref().filter(|m| !m.is_empty()) {
            Some(m) if network::ipam::parse_mac(m).is_none() => {
                Err(engine::Error::Invalid(format!("invalid MAC address: {m}")))
            }
            m => Ok(m),
        }
    }

    /// Record what the endpoint keeps as given (driver options, a requested MAC).
    pub fn record(&self, e: &Engine, container: &str, network: &str) -> engine::Result<()> {
        let opts = self.driver_opts.clone().unwrap_or_default();
        net::record_endpoint(e, container, network, &opts, self.mac()?)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointConfig>,
}

async fn connect(Path(id): Path<String>, body: Body) -> ApiResult<Response> {
    let b: ConnectBody = parse_json(&read_body(body).await?)?;
    blocking(move |e| {
        let name = network_of(e, &id)?;
        let ep = b.endpoint_config.unwrap_or_default();
        ep.mac()?;
        net::connect_endpoint(e, &b.container, &name, &ep.spec())?;
        Ok(ep.record(e, &b.container, &name)?)
    })
    .await?;
    Ok(ok_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisconnectBody {
    container: String,
    force: Option<bool>,
}

async fn disconnect(Path(id): Path<String>, body: Body) -> ApiResult<Response> {
    let b: DisconnectBody = parse_json(&read_body(body).await?)?;
    blocking(move |e| {
        let name = network_of(e, &id)?;
        match net::disconnect_container(e, &b.container, &name) {
            // with force, an endpoint left by a container that is gone goes too
            Err(engine::Error::NoSuchContainer(_)) if b.force == Some(true) => {
                let n = e.networks()?.get(&name)?;
                Ok(e.networks()?.disconnect(&n.id, &b.container)?)
            }
            r => Ok(r?),
        }
    })
    .await?;
    Ok(ok_empty())
}

/// Before API 1.45 the container's short id is one of the `Aliases` of each of its endpoints
/// on a user-defined network (docker 25+ shows it from the create on; from 1.45 Aliases are
/// exactly what was asked for, the short id being in `DNSNames`).
pub fn short_id_aliases(v: &mut Value, version: Option<crate::server::ApiVersion>) {
    if version.is_none_or(|v| v >= crate::server::ApiVersion(1, 45)) {
        return;
    }
    let short: String = v["Id"].as_str().unwrap_or("").chars().take(12).collect();
    let Some(nets) = v
        .pointer_mut("/NetworkSettings/Networks")
        .and_then(|n| n.as_object_mut())
    else {
        return;
    };
    for (name, ep) in nets.iter_mut() {
        if net::is_default(name) || net::is_special(name) || short.is_empty() {
            continue;
        }
        let mut aliases: Vec<Value> = ep["Aliases"].as_array().cloned().unwrap_or_default();
        if !aliases.iter().any(|a| a == short.as_str()) {
            aliases.push(json!(short));
        }
        ep["Aliases"] = json!(aliases);
    }
}

/// 200 with an empty body, as dockerd answers connect and disconnect.
fn ok_empty() -> Response {
    Response::new(Body::empty())
}

async fn prune(q: Q) -> ApiResult<Response> {
    let f = q.filters()?;
    let gone = blocking(move |e| Ok(net::prune(e, &f)?)).await?;
    let v: Value = json!({ "NetworksDeleted": gone });
    Ok(ok(&v))
}
