//! berth's container networking: bridge networks with a persistent IPAM, veth plumbing into a
//! container's network namespace, outbound NAT, isolation between networks and published ports.
//!
//! State is one sqlite file (WAL, every change in an IMMEDIATE transaction, so concurrent
//! `berth run`s serialise their allocations and never share an address), read and written only
//! through [`store`], by the manager and by the embedded DNS server ([`dns`]) alike. The
//! kernel side is driven through rtnetlink ([`netlink`]) and the firewall tool found at run
//! time ([`firewall`]).

pub mod dns;
mod endpoints;
pub mod firewall;
pub mod ipam;
mod manager;
mod netlink;
pub mod netns;
mod ports;
mod store;

pub use manager::Manager;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use ipam::Subnet;

/// Name of docker's default network.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Interface of the default network's bridge.
pub const DEFAULT_BRIDGE: &str = "berth0";

/// docker's range for ephemeral published ports.
pub const EPHEMERAL_PORTS: (u16, u16) = (32768, 60999);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network with name {0} already exists")]
    NameExists(String),
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} is ambiguous ({1} matches found based on ID prefix)")]
    Ambiguous(String, usize),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints { name: String, id: String },
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error("operation is not permitted on predefined {0} network ")]
    Reserved(String),
    #[error(
        "invalid network name {0:?}: a name must not be blank nor hold '/' or control characters"
    )]
    InvalidName(String),
    #[error("{0}")]
    InvalidSubnet(String),
    #[error("invalid pool request: Pool overlaps with other one on this address space")]
    Overlap,
    #[error("no matching subnet for gateway {0}")]
    InvalidGateway(String),
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoPool,
    /// dockerd 20.10 has no default IPv6 pool: EnableIPv6 needs a v6 subnet (a 404 there)
    #[error("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")]
    NoPool6,
    #[error("no available IPv4 addresses on this network's address pools: {0} ({1})")]
    Exhausted(String, String),
    #[error("invalid address {ip}: no configured subnet contains the IP address on network {network} ({subnet})")]
    AddressNotInSubnet {
        ip: IpAddr,
        network: String,
        subnet: String,
    },
    #[error("address {ip} already in use on network {network}")]
    AddressInUse { ip: IpAddr, network: String },
    #[error("Unable to enable IPv6 addresses on bridge {bridge}: {detail}")]
    NoIpv6 { bridge: String, detail: String },
    #[error("invalid port mapping {0}")]
    InvalidPort(String),
    #[error("Bind for {0}:{1} failed: port is already allocated")]
    PortAllocated(String, u16),
    #[error("failed to bind host port {0}:{1}/{2}: {3}")]
    PortInUse(String, u16, String, std::io::Error),
    #[error("no free host port in 32768-60999 for {0}")]
    NoFreePort(String),
    #[error("netlink: {op}: {detail}")]
    Netlink { op: String, detail: String },
    #[error("firewall: {0}")]
    Firewall(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("network store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("network {network}: DNS server: {source}")]
    Dns {
        network: String,
        source: dns::DnsError,
    },
    #[error("network store: corrupt record for network {0}: {1}")]
    Corrupt(String, String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A network as stored (JSON in `networks.data`), with docker's inspect names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver", default)]
    pub driver: String,
    /// the bridge interface: berth0 for the default network, br-<id[..12]> otherwise
    #[serde(rename = "Bridge", default)]
    pub bridge: String,
    #[serde(rename = "Subnet")]
    pub subnet: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "Internal", default)]
    pub internal: bool,
    #[serde(rename = "Labels", default)]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "Created", default)]
    pub created: String,
    /// `EnableIPv6`: containers get an address of `subnet6` and a default route through
    /// `gateway6`; without it a v6 pool is kept and shown only, as dockerd does
    #[serde(rename = "EnableIPv6", default)]
    pub enable_ipv6: bool,
    #[serde(rename = "Subnet6", default, skip_serializing_if = "String::is_empty")]
    pub subnet6: String,
    #[serde(rename = "Gateway6", default, skip_serializing_if = "String::is_empty")]
    pub gateway6: String,
    #[serde(rename = "IPRange6", default, skip_serializing_if = "String::is_empty")]
    pub ip_range6: String,
}

/// The IPv6 side of a network create (`EnableIPv6` and an IPAM config with a v6 subnet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ipv6Request {
    pub enable: bool,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
}

/// What a container asks of its endpoint besides its names: addresses (`--ip`, `--ip6`,
/// `--link-local-ip`), a MAC (`--mac-address`) and links scoped to the endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointRequest {
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub mac: Option<String>,
    /// extra addresses of the interface (prefix /16 for v4, /64 for v6, as docker adds them)
    pub link_local: Vec<IpAddr>,
    /// "target:alias": `alias` resolves to `target` for this endpoint only
    pub links: Vec<String>,
}

impl NetworkConfig {
    pub(crate) fn subnet_parsed(&self) -> Result<Subnet> {
        Subnet::parse(&self.subnet).map_err(|e| Error::Corrupt(self.name.clone(), e))
    }

    /// The v6 subnet and gateway containers are given, when IPv6 is enabled.
    pub(crate) fn v6_parsed(&self) -> Result<Option<(ipam::Subnet6, Ipv6Addr)>> {
        if !self.enable_ipv6 || self.subnet6.is_empty() {
            return Ok(None);
        }
        let corrupt = |e: String| Error::Corrupt(self.name.clone(), e);
        let s = ipam::Subnet6::parse(&self.subnet6).map_err(corrupt)?;
        let gw = self
            .gateway6
            .parse()
            .map_err(|_| corrupt(format!("gateway {}", self.gateway6)))?;
        Ok(Some((s, gw)))
    }

    pub(crate) fn gateway_parsed(&self) -> Result<Ipv4Addr> {
        self.gateway
            .parse()
            .map_err(|_| Error::Corrupt(self.name.clone(), format!("gateway {}", self.gateway)))
    }
}

/// A container's attachment to a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Aliases", default)]
    pub aliases: Vec<String>,
    #[serde(rename = "IPAddress")]
    pub ip: Ipv4Addr,
    #[serde(rename = "IPPrefixLen")]
    pub prefix_len: u8,
    #[serde(rename = "Gateway")]
    pub gateway: Ipv4Addr,
    #[serde(rename = "MacAddress")]
    pub mac: String,
    #[serde(rename = "HostVeth", default)]
    pub host_veth: String,
    #[serde(rename = "GlobalIPv6Address", default)]
    pub ip6: Option<Ipv6Addr>,
    #[serde(rename = "GlobalIPv6PrefixLen", default)]
    pub prefix6: u8,
    #[serde(rename = "IPv6Gateway", default)]
    pub gateway6: Option<Ipv6Addr>,
    #[serde(rename = "Links", default)]
    pub links: Vec<String>,
}

/// A published port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// "" = all host addresses
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    /// 0 = pick a free one
    #[serde(rename = "HostPort")]
    pub host_port: u16,
    #[serde(rename = "ContainerPort")]
    pub container_port: u16,
    /// "tcp" or "udp"
    #[serde(rename = "Proto")]
    pub proto: String,
}
