//! A container's endpoints: the address from the network's pool, the veth pair into its
//! network namespace, and their rows.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use rusqlite::TransactionBehavior;

use crate::firewall::{self, Selector};
use crate::ipam::{self, Subnet};
use crate::manager::random_hex;
use crate::store::{self, EndpointsOf};
use crate::{
    netlink, Endpoint, EndpointRequest, Error, Manager, NetworkConfig, Result, DEFAULT_NETWORK,
};

fn to_endpoint(row: store::EndpointRow, net: Option<&NetworkConfig>) -> Endpoint {
    let (prefix_len, gateway) = net
        .map(|n| {
            (
                n.subnet_parsed().map(|s| s.prefix).unwrap_or(0),
                n.gateway_parsed().unwrap_or(Ipv4Addr::UNSPECIFIED),
            )
        })
        .unwrap_or((0, Ipv4Addr::UNSPECIFIED));
    let ip6: Option<Ipv6Addr> = row.ip6.parse().ok();
    let v6 = net.and_then(|n| n.v6_parsed().ok().flatten());
    Endpoint {
        ip6,
        prefix6: v6
            .filter(|_| ip6.is_some())
            .map(|(s, _)| s.prefix)
            .unwrap_or(0),
        gateway6: v6.filter(|_| ip6.is_some()).map(|(_, g)| g),
        links: serde_json::from_str(&row.links).unwrap_or_default(),
        aliases: serde_json::from_str(&row.aliases).unwrap_or_default(),
        ip: row.ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
        container_id: row.container_id,
        network_id: row.network_id,
        name: row.name,
        prefix_len,
        gateway,
        mac: row.mac,
        host_veth: row.host_veth,
    }
}

/// The endpoint's IPv6 address on `net`: the requested one, else the lowest free one of the v6
/// ip range (or subnet); none when the network has IPv6 off (a requested one is then kept in
/// the container's settings only, as dockerd does).
fn allocate_v6(
    conn: &rusqlite::Connection,
    net: &NetworkConfig,
    requested: Option<Ipv6Addr>,
) -> Result<Option<Ipv6Addr>> {
    let Some((subnet, gateway)) = net.v6_parsed()? else {
        return Ok(None);
    };
    let used: HashSet<Ipv6Addr> = store::endpoint_rows(conn, EndpointsOf::Network(&net.id))?
        .iter()
        .filter_map(|r| r.ip6.parse().ok())
        .collect();
    if let Some(ip) = requested {
        if !subnet.is_host(ip) || ip == gateway {
            return Err(Error::AddressNotInSubnet {
                ip: ip.into(),
                network: net.name.clone(),
                subnet: net.subnet6.clone(),
            });
        }
        if used.contains(&ip) {
            return Err(Error::AddressInUse {
                ip: ip.into(),
                network: net.name.clone(),
            });
        }
        return Ok(Some(ip));
    }
    let pool = ipam::Subnet6::parse(&net.ip_range6).unwrap_or(subnet);
    pool.lowest_free(&subnet, gateway, &used)
        .map(Some)
        .ok_or_else(|| Error::Exhausted(net.name.clone(), net.id.clone()))
}

impl Manager {
    pub fn endpoints(&self, network_id: &str) -> Result<Vec<Endpoint>> {
        let conn = self.conn();
        let net = store::network_by_id(&conn, network_id)?;
        Ok(
            store::endpoint_rows(&conn, EndpointsOf::Network(network_id))?
                .into_iter()
                .map(|r| to_endpoint(r, net.as_ref()))
                .collect(),
        )
    }

    pub fn endpoints_of_container(&self, container_id: &str) -> Result<Vec<Endpoint>> {
        let conn = self.conn();
        let nets: HashMap<String, NetworkConfig> = store::networks(&conn)?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        Ok(
            store::endpoint_rows(&conn, EndpointsOf::Container(container_id))?
                .into_iter()
                .map(|r| {
                    let n = nets.get(&r.network_id);
                    to_endpoint(r, n)
                })
                .collect(),
        )
    }

    /// Connect network namespace `netns` to `net` as interface `ifname` (see the crate docs):
    /// allocates the address, plumbs the veth pair and records the endpoint. Idempotent per
    /// (container, network): an endpoint whose host veth still exists is returned as is, one
    /// whose veth is gone (the namespace died) is plumbed again with the same address.
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        &self,
        net: &NetworkConfig,
        container_id: &str,
        name: &str,
        aliases: &[String],
        netns: &Path,
        ifname: &str,
        req: &EndpointRequest,
    ) -> Result<Endpoint> {
        self.in_ns(|| self.connect_here(net, container_id, name, aliases, netns, ifname, req))
    }

    #[allow(clippy::too_many_arguments)]
    fn connect_here(
        &self,
        net: &NetworkConfig,
        container_id: &str,
        name: &str,
        aliases: &[String],
        netns: &Path,
        ifname: &str,
        req: &EndpointRequest,
    ) -> Result<Endpoint> {
        let requested_ip = req.ip;
        let (ep, existed, net) = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let net = match store::network_by_id(&tx, &net.id)? {
                Some(n) => n,
                // the default network may have been retired (or retired and made again) by
                // another process between the caller's default_network() and this connect
                None if net.name == DEFAULT_NETWORK => {
                    let nets = store::networks(&tx)?;
                    if let Some(n) = nets.iter().find(|n| n.name == DEFAULT_NETWORK) {
                        n.clone()
                    } else {
                        let s = net.subnet_parsed()?;
                        let clash = nets
                            .iter()
                            .filter_map(|n| Subnet::parse(&n.subnet).ok())
                            .any(|o| o.overlaps(&s));
                        if clash {
                            return Err(Error::NotFound(net.name.clone()));
                        }
                        store::insert_network(&tx, net)?;
                        net.clone()
                    }
                }
                None => return Err(Error::NotFound(net.name.clone())),
            };
            let existing = store::endpoint_rows(&tx, EndpointsOf::Container(container_id))?
                .into_iter()
                .find(|r| r.network_id == net.id);
            if let Some(row) = existing {
                (to_endpoint(row, Some(&net)), true, net)
            } else {
                let subnet = net.subnet_parsed()?;
                let gateway = net.gateway_parsed()?;
                let used: HashSet<Ipv4Addr> =
                    store::endpoint_rows(&tx, EndpointsOf::Network(&net.id))?
                        .iter()
                        .filter_map(|r| r.ip.parse().ok())
                        .collect();
                let ip = match requested_ip {
                    Some(ip) => {
                        if !subnet.is_host(ip) || ip == gateway {
                            return Err(Error::AddressNotInSubnet {
                                ip: ip.into(),
                                network: net.name.clone(),
                                subnet: net.subnet.clone(),
                            });
                        }
                        if used.contains(&ip) {
                            return Err(Error::AddressInUse {
                                ip: ip.into(),
                                network: net.name.clone(),
                            });
                        }
                        ip
                    }
                    None => ipam::lowest_free(&subnet, gateway, &used)
                        .ok_or_else(|| Error::Exhausted(net.name.clone(), net.id.clone()))?,
                };
                let ip6 = allocate_v6(&tx, &net, req.ip6)?;
                let v6 = net.v6_parsed()?.filter(|_| ip6.is_some());
                let ep = Endpoint {
                    container_id: container_id.to_string(),
                    network_id: net.id.clone(),
                    name: name.to_string(),
                    aliases: aliases.to_vec(),
                    ip,
                    prefix_len: subnet.prefix,
                    gateway,
                    mac: req.mac.clone().unwrap_or_else(|| ipam::mac_for(ip)),
                    host_veth: format!("veth{}", random_hex(4)),
                    ip6,
                    prefix6: v6.map(|(s, _)| s.prefix).unwrap_or(0),
                    gateway6: v6.map(|(_, g)| g),
                    links: req.links.clone(),
                };
                store::insert_endpoint(&tx, &ep)?;
                tx.commit()?;
                (ep, false, net)
            }
        };
        fault::mark("net.endpoint-recorded");
        if existed {
            let nl = netlink::Nl::new()?;
            if nl.link_index(&ep.host_veth)?.is_some() {
                return Ok(ep);
            }
        }
        match self.plumb(&net, &ep, netns, ifname, &req.link_local) {
            Ok(()) => Ok(ep),
            Err(e) => {
                if let Ok(nl) = netlink::Nl::new() {
                    let _ = nl.delete_link(&ep.host_veth);
                }
                let _ = store::delete_endpoint(&self.conn(), &ep.container_id, &ep.network_id);
                Err(e)
            }
        }
    }

    fn plumb(
        &self,
        net: &NetworkConfig,
        ep: &Endpoint,
        netns: &Path,
        ifname: &str,
        link_local: &[std::net::IpAddr],
    ) -> Result<()> {
        let ns = File::open(netns).map_err(|e| Error::Io {
            context: format!("opening network namespace {}", netns.display()),
            source: e,
        })?;
        let nl = netlink::Nl::new()?;
        let bridge = self.ensure_network_opts(&nl, net, false)?;
        fault::mark("net.bridge-checked");
        nl.create_veth(
            &ep.host_veth,
            ifname,
            &ns,
            (&net.bridge, bridge),
            ep.ip6.is_some(),
        )?;
        fault::mark("net.veth-created");
        let mac = ipam::parse_mac(&ep.mac)
            .ok_or_else(|| Error::Corrupt(net.name.clone(), format!("mac {}", ep.mac)))?;
        netlink::configure_inside(
            netns,
            ifname,
            netlink::Iface {
                mac,
                ip: ep.ip,
                prefix: ep.prefix_len,
                gateway: (!net.internal).then_some(ep.gateway),
                ip6: ep.ip6.map(|a| (a, ep.prefix6)),
                gateway6: ep.gateway6.filter(|_| !net.internal),
                link_local: link_local.to_vec(),
            },
        )
    }

    /// Undo [`Manager::connect`]: the container's ports on that network, the host veth, the
    /// address. Pieces already gone are not errors.
    pub fn disconnect(&self, network_id: &str, container_id: &str) -> Result<()> {
        self.in_ns(|| self.disconnect_here(network_id, container_id, false))
            .map(drop)
    }

    /// Delete host links left by [`Manager::release_stopped_container`]; gone ones are fine.
    /// Unregistering a network device waits for RCU grace periods (~20 ms here).
    pub fn delete_host_links(&self, links: &[String]) -> Result<()> {
        if links.is_empty() {
            return Ok(());
        }
        self.in_ns(|| {
            let nl = netlink::Nl::new()?;
            links.iter().try_for_each(|l| nl.delete_link(l))
        })
    }

    /// With `keep_link`, the host veth is returned instead of deleted.
    fn disconnect_here(
        &self,
        network_id: &str,
        container_id: &str,
        keep_link: bool,
    ) -> Result<Option<String>> {
        // a name or id prefix is accepted too
        let network_id = match self.get(network_id) {
            Ok(n) => n.id,
            Err(_) => network_id.to_string(),
        };
        let network_id = network_id.as_str();
        let (row, ports) = {
            let conn = self.conn();
            let row = store::endpoint_rows(&conn, EndpointsOf::Container(container_id))?
                .into_iter()
                .find(|r| r.network_id == network_id);
            let ports = store::count_ports(&conn, container_id, Some(network_id))?;
            (row, ports)
        };
        // rows go after the kernel state they describe, so rows exist while rules may
        if ports > 0 {
            self.fw()?.apply(
                false,
                &[Selector::Exact(firewall::port_tag(
                    container_id,
                    network_id,
                ))],
                &[],
                None,
            )?;
        }
        let veth = row.map(|r| r.host_veth);
        if !keep_link {
            if let Some(veth) = &veth {
                netlink::Nl::new()?.delete_link(veth)?;
            }
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        store::delete_ports(&tx, container_id, Some(network_id))?;
        store::delete_endpoint(&tx, container_id, network_id)?;
        tx.commit()?;
        Ok(veth.filter(|_| keep_link))
    }

    /// Everything of a container: its ports and all its endpoints.
    pub fn release_container(&self, container_id: &str) -> Result<()> {
        self.release_each(container_id, false).map(drop)
    }

    /// [`Manager::release_container`] for a container whose processes are all gone, except the
    /// host veths, which are returned for [`Manager::delete_host_links`] once nobody waits.
    /// Its network namespace is going away, and the kernel removes the pairs with it, so a
    /// process killed before it deletes them leaves nothing behind for long.
    pub fn release_stopped_container(&self, container_id: &str) -> Result<Vec<String>> {
        self.release_each(container_id, true)
    }

    fn release_each(&self, container_id: &str, keep_links: bool) -> Result<Vec<String>> {
        self.unpublish(container_id)?;
        let nets: Vec<String> =
            store::endpoint_rows(&self.conn(), EndpointsOf::Container(container_id))?
                .into_iter()
                .map(|r| r.network_id)
                .collect();
        let mut links = Vec::new();
        for n in nets {
            links.extend(self.in_ns(|| self.disconnect_here(&n, container_id, keep_links))?);
        }
        Ok(links)
    }
}
