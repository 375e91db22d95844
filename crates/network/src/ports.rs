//! Published ports: host ports checked free (in the store and on the host) and allocated,
//! their DNAT rules, and their rows.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use rusqlite::TransactionBehavior;

use crate::firewall::{self, Selector};
use crate::{store, Endpoint, Error, Manager, PortMapping, Result, EPHEMERAL_PORTS};

/// Try binding `host_ip:port` the way a listener would: a host process already listening there
/// makes this fail.
fn probe_port(host_ip: &str, port: u16, proto: &str) -> std::io::Result<()> {
    let ip: Ipv4Addr = if host_ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        host_ip
            .parse()
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?
    };
    let addr = SocketAddrV4::new(ip, port);
    if proto == "udp" {
        UdpSocket::bind(addr).map(drop)
    } else {
        TcpListener::bind(addr).map(drop)
    }
}

fn host_ips_overlap(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

fn normalize_host_ip(ip: &str) -> String {
    if ip == "0.0.0.0" {
        String::new()
    } else {
        ip.to_string()
    }
}

/// A request docker would refuse: a protocol other than tcp/udp, container port 0, a host
/// address that is no IPv4 address.
fn check_request(p: &PortMapping) -> Result<()> {
    if p.proto != "tcp" && p.proto != "udp" {
        return Err(Error::InvalidPort(format!(
            "{}/{}: protocol must be tcp or udp",
            p.container_port, p.proto
        )));
    }
    if p.container_port == 0 {
        return Err(Error::InvalidPort(format!(
            "{}:0/{}: container port must not be 0",
            p.host_port, p.proto
        )));
    }
    let hip = normalize_host_ip(&p.host_ip);
    if !hip.is_empty() && hip.parse::<Ipv4Addr>().is_err() {
        return Err(Error::InvalidPort(format!(
            "{}:{}:{}: invalid host address",
            p.host_ip, p.host_port, p.container_port
        )));
    }
    Ok(())
}

/// The host port for request `p` (host address `hip`, normalised) of the container's endpoint
/// `ep`, given the ports `taken` in the store: the requested one if free in the store and
/// bindable on the host, else a free ephemeral one. `None` when this very mapping is published
/// already.
fn host_port_for(
    taken: &[store::PortRow],
    container_id: &str,
    ep: &Endpoint,
    p: &PortMapping,
    hip: &str,
) -> Result<Option<u16>> {
    let conflict = |port: u16| {
        taken.iter().find(|t| {
            t.proto == p.proto && t.host_port == port && host_ips_overlap(&t.host_ip, hip)
        })
    };
    let shown = if hip.is_empty() { "0.0.0.0" } else { hip };
    if p.host_port != 0 {
        if let Some(t) = conflict(p.host_port) {
            let same = t.container_id == container_id
                && t.network_id == ep.network_id
                && t.host_ip == hip
                && t.container_port == p.container_port;
            if same {
                return Ok(None);
            }
            return Err(Error::PortAllocated(shown.to_string(), p.host_port));
        }
        probe_port(hip, p.host_port, &p.proto)
            .map_err(|e| Error::PortInUse(shown.to_string(), p.host_port, p.proto.clone(), e))?;
        return Ok(Some(p.host_port));
    }
    let (lo, hi) = EPHEMERAL_PORTS;
    let span = u32::from(hi - lo) + 1;
    let start = rand::random::<u32>() % span;
    (0..span)
        .map(|i| lo + ((start + i) % span) as u16)
        .find(|&port| conflict(port).is_none() && probe_port(hip, port, &p.proto).is_ok())
        .map(Some)
        .ok_or_else(|| Error::NoFreePort(p.proto.clone()))
}

impl Manager {
    /// Publish ports of a connected container. Everything is checked (port free in the store
    /// and bindable on the host) before anything changes; returns the mappings with the host
    /// ports actually used.
    pub fn publish(
        &self,
        container_id: &str,
        ep: &Endpoint,
        ports: &[PortMapping],
    ) -> Result<Vec<PortMapping>> {
        for p in ports {
            check_request(p)?;
        }
        let (out, fresh) = self.allocate_ports(container_id, ep, ports)?;
        if fresh.is_empty() {
            return Ok(out);
        }
        let rules: Vec<firewall::Rule> = fresh
            .iter()
            .map(|m| {
                firewall::port_rule(
                    container_id,
                    &ep.network_id,
                    &m.host_ip,
                    m.host_port,
                    &m.proto,
                    &ep.ip.to_string(),
                    m.container_port,
                )
            })
            .collect();
        let applied = self.in_ns(|| self.fw()?.apply(true, &[], &rules, None));
        if let Err(e) = applied {
            let conn = self.conn();
            for m in &fresh {
                let _ = store::delete_port(&conn, container_id, &ep.network_id, m);
            }
            return Err(e);
        }
        Ok(out)
    }

    /// The host ports of `ports`, recorded in one transaction: (all mappings, those new).
    fn allocate_ports(
        &self,
        container_id: &str,
        ep: &Endpoint,
        ports: &[PortMapping],
    ) -> Result<(Vec<PortMapping>, Vec<PortMapping>)> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut taken = store::all_ports(&tx)?;
        let mut out = Vec::new();
        let mut fresh = Vec::new();
        for p in ports {
            let hip = normalize_host_ip(&p.host_ip);
            let Some(port) = host_port_for(&taken, container_id, ep, p, &hip)? else {
                out.push(PortMapping {
                    host_ip: hip,
                    ..p.clone()
                });
                continue; // already published, by this very container
            };
            taken.push(store::PortRow {
                container_id: container_id.to_string(),
                network_id: ep.network_id.clone(),
                host_ip: hip.clone(),
                host_port: port,
                container_port: p.container_port,
                proto: p.proto.clone(),
            });
            let m = PortMapping {
                host_ip: hip,
                host_port: port,
                container_port: p.container_port,
                proto: p.proto.clone(),
            };
            out.push(m.clone());
            fresh.push(m);
        }
        for m in &fresh {
            store::insert_port(&tx, container_id, &ep.network_id, ep.ip, m)?;
        }
        tx.commit()?;
        Ok((out, fresh))
    }

    pub fn ports_of(&self, container_id: &str) -> Result<Vec<PortMapping>> {
        store::ports_of(&self.conn(), container_id)
    }

    /// Remove every published port of the container (rules and rows).
    pub fn unpublish(&self, container_id: &str) -> Result<()> {
        if store::count_ports(&self.conn(), container_id, None)? == 0 {
            return Ok(());
        }
        self.in_ns(|| {
            self.fw()?.apply(
                false,
                &[Selector::Prefix(firewall::port_tag_prefix(container_id))],
                &[],
                None,
            )
        })?;
        store::delete_ports(&self.conn(), container_id, None)?;
        Ok(())
    }
}
