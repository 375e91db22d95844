//! What the server knows: the network's names from the engine's db, and the host's resolvers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::Path;

use super::DnsError;
use crate::store;

// ---------------------------------------------------------------------------------------------
// The db

#[derive(Debug, Clone, Default)]
pub(super) struct Endpoint {
    /// Lower case.
    container_id: String,
    /// Lower case, without docker's leading `/`.
    name: String,
    /// Lower case.
    aliases: Vec<String>,
    ip: Option<Ipv4Addr>,
    ip6: Option<Ipv6Addr>,
    /// Lower case (target, alias): `alias` resolves to `target` for this endpoint only
    /// (the endpoint's `Links`).
    links: Vec<(String, String)>,
}

impl Endpoint {
    fn answers_to(&self, name: &str) -> bool {
        !name.is_empty()
            && (self.name == name
                || self.aliases.iter().any(|a| a == name)
                || (name.len() == 12
                    && name.bytes().all(|b| b.is_ascii_hexdigit())
                    && self.container_id.starts_with(name))
                || (name.len() == 64 && self.container_id == name))
    }
}

/// What the server knows about its network at one point in time.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    /// The network's row exists.
    pub(super) exists: bool,
    /// Lower case.
    pub(super) network_name: String,
    pub(super) gateway: Option<Ipv4Addr>,
    pub(super) subnet: Option<(Ipv4Addr, u8)>,
    pub(super) endpoints: Vec<Endpoint>,
}

fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.split('/').next()?.trim().parse().ok()
}

fn parse_subnet(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = s.trim().split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((addr.parse().ok()?, len))
}

impl Snapshot {
    pub(super) fn load(db: &Path, network_id: &str) -> Result<Snapshot, DnsError> {
        let dberr = |source| DnsError::Db {
            path: db.to_path_buf(),
            source,
        };
        let conn = store::open_read_only(db).map_err(dberr)?;
        let mut snap = Snapshot::default();
        if let Some((name, data)) = store::network_row(&conn, network_id).map_err(dberr)? {
            snap.exists = true;
            snap.network_name = name.to_ascii_lowercase();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&data) {
                // the store writes NetworkConfig in docker's field case ("Gateway")
                snap.gateway = v
                    .get("Gateway")
                    .or_else(|| v.get("gateway"))
                    .and_then(|g| g.as_str())
                    .and_then(parse_ipv4);
                snap.subnet = v
                    .get("Subnet")
                    .or_else(|| v.get("subnet"))
                    .and_then(|s| s.as_str())
                    .and_then(parse_subnet);
            }
        }
        let rows =
            store::endpoint_rows(&conn, store::EndpointsOf::Network(network_id)).map_err(dberr)?;
        for row in rows {
            let aliases: Vec<String> = serde_json::from_str::<Vec<String>>(&row.aliases)
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            let links = serde_json::from_str::<Vec<String>>(&row.links)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| {
                    let (target, alias) = l.split_once(':').unwrap_or((l, l));
                    let target = target.trim_start_matches('/').to_ascii_lowercase();
                    Some((target, alias.to_ascii_lowercase()))
                        .filter(|(t, a)| !t.is_empty() && !a.is_empty())
                })
                .collect();
            snap.endpoints.push(Endpoint {
                container_id: row.container_id.to_ascii_lowercase(),
                name: row.name.trim_start_matches('/').to_ascii_lowercase(),
                aliases,
                ip: parse_ipv4(&row.ip),
                ip6: row.ip6.parse().ok(),
                links,
            });
        }
        Ok(snap)
    }

    /// The addresses (v4, v6) of `name` as the endpoint at `peer` sees it: one of its links'
    /// aliases names the link's target, any other name resolves as for everyone.
    pub(super) fn resolve_for(
        &self,
        name: &str,
        peer: Option<IpAddr>,
    ) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
        let linked = match peer {
            Some(IpAddr::V4(p)) => self
                .endpoints
                .iter()
                .filter(|e| e.ip == Some(p))
                .flat_map(|e| &e.links)
                .find(|(_, alias)| alias == name),
            _ => None,
        };
        let name = linked.map(|(target, _)| target.as_str()).unwrap_or(name);
        let eps = self.named(name);
        let mut v4: Vec<Ipv4Addr> = Vec::new();
        let mut v6: Vec<Ipv6Addr> = Vec::new();
        for ep in eps {
            if let Some(ip) = ep.ip.filter(|ip| !v4.contains(ip)) {
                v4.push(ip);
            }
            if let Some(ip) = ep.ip6.filter(|ip| !v6.contains(ip)) {
                v6.push(ip);
            }
        }
        (v4, v6)
    }

    /// The IPv4 addresses of `name` (lower case, no trailing dot) on this network.
    pub(super) fn resolve(&self, name: &str) -> Vec<Ipv4Addr> {
        self.resolve_for(name, None).0
    }

    /// The endpoints answering to `name` or `name.NETWORK`.
    fn named(&self, name: &str) -> Vec<&Endpoint> {
        let mut names = vec![name];
        if !self.network_name.is_empty() {
            if let Some(short) = name
                .strip_suffix(self.network_name.as_str())
                .and_then(|n| n.strip_suffix('.'))
            {
                names.push(short);
            }
        }
        self.endpoints
            .iter()
            .filter(|ep| names.iter().any(|n| ep.answers_to(n)))
            .collect()
    }

    /// Whether `name` belongs to the network's own zone (`*.NETWORK`): unknown names there are
    /// answered NXDOMAIN instead of being forwarded.
    pub(super) fn in_zone(&self, name: &str) -> bool {
        !self.network_name.is_empty()
            && (name == self.network_name
                || name
                    .strip_suffix(self.network_name.as_str())
                    .is_some_and(|n| n.ends_with('.')))
    }

    /// The names (`NAME.NETWORK`, as docker answers) of the endpoints with address `ip` (IPv4
    /// or IPv6).
    pub(super) fn names_of(&self, ip: IpAddr) -> Vec<String> {
        let mut out = Vec::new();
        for ep in &self.endpoints {
            let has = match ip {
                IpAddr::V4(ip) => ep.ip == Some(ip),
                IpAddr::V6(ip) => ep.ip6 == Some(ip),
            };
            if has && !ep.name.is_empty() {
                let name = if self.network_name.is_empty() {
                    ep.name.clone()
                } else {
                    format!("{}.{}", ep.name, self.network_name)
                };
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    pub(super) fn in_subnet(&self, ip: Ipv4Addr) -> bool {
        match self.subnet {
            Some((net, len)) => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                u32::from(ip) & mask == u32::from(net) & mask
            }
            None => false,
        }
    }
}

/// The addresses of `name` on network `network_id` in the db: container names, aliases, short
/// (12 hex) and full container ids, each also as `NAME.NETWORK_NAME`; case-insensitive, a
/// trailing dot ignored. Empty when the name is unknown.
pub fn lookup(db: &Path, network_id: &str, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
    let snap = Snapshot::load(db, network_id)?;
    Ok(snap.resolve(&name.trim_end_matches('.').to_ascii_lowercase()))
}

/// The host's resolvers from the text of a resolv.conf: every `nameserver` line, port 53,
/// duplicates dropped. Loopback resolvers (systemd-resolved's 127.0.0.53, a local dnsmasq) are
/// kept: the server runs in the host's network namespace. IPv6 zone ids (`fe80::1%eth0`) are
/// honoured.
pub fn upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in resolv_conf.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let sa = match addr.split_once('%') {
            Some((a, zone)) => match a.parse::<Ipv6Addr>() {
                Ok(a) => {
                    let scope = zone.parse::<u32>().ok().or_else(|| if_index(zone));
                    match scope {
                        Some(scope) => SocketAddr::V6(SocketAddrV6::new(a, 53, 0, scope)),
                        None => continue,
                    }
                }
                Err(_) => continue,
            },
            None => match addr.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 53),
                Err(_) => continue,
            },
        };
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    out
}

fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::PathBuf;

    fn test_db(dir: &Path) -> PathBuf {
        let path = dir.join("berth.db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch(
            r#"
            CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
            CREATE TABLE endpoints (container_id TEXT, network_id TEXT, name TEXT, aliases TEXT,
                                    ip TEXT, mac TEXT, host_veth TEXT, ip6 TEXT, links TEXT);
            INSERT INTO networks VALUES ('n1', 'MyNet', '{"gateway":"10.89.1.1","subnet":"10.89.1.0/24"}');
            INSERT INTO networks VALUES ('n2', 'other', '{"gateway":"10.90.0.1","subnet":"10.90.0.0/24"}');
            INSERT INTO endpoints VALUES ('AbCdEf0123456789abcdef0123456789abcdef0123456789abcdef0123456789',
                'n1', 'Web', '["db-alias","Shared"]', '10.89.1.2', '02:00:00:00:00:02', 'veth1', '', '["api:backend"]');
            INSERT INTO endpoints VALUES ('fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210',
                'n1', '/api', NULL, '10.89.1.3/24', '02:00:00:00:00:03', 'veth2', 'fd00:89::3', NULL);
            INSERT INTO endpoints VALUES ('1111111111111111111111111111111111111111111111111111111111111111',
                'n1', 'worker', '["shared"]', '10.89.1.4', NULL, NULL, NULL, NULL);
            INSERT INTO endpoints VALUES ('2222222222222222222222222222222222222222222222222222222222222222',
                'n2', 'elsewhere', '["db-alias"]', '10.90.0.2', NULL, NULL, NULL, NULL);
            "#,
        )
        .unwrap();
        path
    }

    #[test]
    fn lookup_names_on_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let db = test_db(dir.path());
        let none: Vec<Ipv4Addr> = Vec::new();
        let ip = |s: &str| vec![s.parse::<Ipv4Addr>().unwrap()];
        let l = |name: &str| lookup(&db, "n1", name).unwrap();
        assert_eq!(l("web"), ip("10.89.1.2"));
        assert_eq!(l("WEB"), ip("10.89.1.2"));
        assert_eq!(l("web."), ip("10.89.1.2"));
        assert_eq!(l("db-alias"), ip("10.89.1.2"));
        assert_eq!(
            l("api"),
            ip("10.89.1.3"),
            "leading / dropped, prefix length dropped"
        );
        assert_eq!(l("abcdef012345"), ip("10.89.1.2"), "short id");
        assert_eq!(l("ABCDEF012345"), ip("10.89.1.2"));
        assert_eq!(l("abcdef01234"), none, "11 hex is no id");
        assert_eq!(
            l("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"),
            ip("10.89.1.2")
        );
        assert_eq!(l("web.mynet"), ip("10.89.1.2"));
        assert_eq!(l("Web.MyNet."), ip("10.89.1.2"));
        assert_eq!(l("db-alias.mynet"), ip("10.89.1.2"));
        assert_eq!(l("web.other"), none);
        assert_eq!(l("elsewhere"), none, "other network");
        assert_eq!(l("unknown"), none);
        assert_eq!(l(""), none);
        assert_eq!(
            l("shared"),
            vec![
                "10.89.1.2".parse::<Ipv4Addr>().unwrap(),
                "10.89.1.4".parse().unwrap()
            ]
        );
        assert_eq!(lookup(&db, "n2", "db-alias").unwrap(), ip("10.90.0.2"));
        assert_eq!(lookup(&db, "nope", "web").unwrap(), none);
        assert!(lookup(&dir.path().join("missing.db"), "n1", "web").is_err());

        let snap = Snapshot::load(&db, "n1").unwrap();
        assert!(snap.exists);
        assert_eq!(snap.gateway, Some(Ipv4Addr::new(10, 89, 1, 1)));
        assert_eq!(
            snap.names_of(Ipv4Addr::new(10, 89, 1, 3).into()),
            vec!["api.mynet"]
        );
        assert!(snap.names_of(Ipv4Addr::new(10, 89, 1, 9).into()).is_empty());
        assert!(snap.in_subnet(Ipv4Addr::new(10, 89, 1, 200)));
        assert!(!snap.in_subnet(Ipv4Addr::new(10, 89, 2, 1)));
        assert!(snap.in_zone("foo.mynet") && snap.in_zone("mynet"));
        // web links api as "backend": only web resolves that name
        let web = Some(IpAddr::V4(Ipv4Addr::new(10, 89, 1, 2)));
        let worker = Some(IpAddr::V4(Ipv4Addr::new(10, 89, 1, 4)));
        assert_eq!(snap.resolve_for("backend", web).0, ip("10.89.1.3"));
        assert_eq!(snap.resolve_for("backend", worker).0, none);
        assert_eq!(snap.resolve_for("web", worker).0, ip("10.89.1.2"));
        // and the v6 address of an endpoint that has one
        let v6: Vec<Ipv6Addr> = vec!["fd00:89::3".parse().unwrap()];
        assert_eq!(snap.resolve_for("api", None).1, v6);
        // and its name by that address (PTR)
        assert_eq!(
            snap.names_of(v6[0].into()),
            snap.names_of(Ipv4Addr::new(10, 89, 1, 3).into())
        );
        assert!(snap.names_of("fd00:89::9".parse().unwrap()).is_empty());
        assert!(snap.resolve_for("web", None).1.is_empty());
        assert!(!snap.in_zone("foomynet") && !snap.in_zone("example.com"));
    }

    #[test]
    fn parses_upstreams() {
        let conf = "# comment\n\
                    nameserver 127.0.0.53\n\
                    search example.com\n\
                    nameserver 10.255.255.53 # trailing comment\n\
                    ; nameserver 9.9.9.9\n\
                    nameserver   ::1\n\
                    nameserver fe80::1%1\n\
                    nameserver fe80::2%no-such-if0\n\
                    nameserver not-an-address\n\
                    nameserver\n\
                    options ndots:2\n\
                    nameserver 127.0.0.53\n";
        assert_eq!(
            upstreams(conf),
            vec![
                "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "10.255.255.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 1)),
            ]
        );
        assert!(upstreams("").is_empty());
    }
}
