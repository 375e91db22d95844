//! The [`Manager`]: networks (the default one, user-defined ones), their bridges, sysctls and
//! firewall rules; endpoints are in `endpoints.rs`, published ports in `ports.rs`.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use rusqlite::{Connection, TransactionBehavior};

use crate::firewall::{self, Backend, Selector};
use crate::ipam::{self, Subnet, Subnet6};
use crate::{
    netlink, store, Error, Ipv6Request, NetworkConfig, Result, DEFAULT_BRIDGE, DEFAULT_NETWORK,
};

/// Per network: the ifindex of the bridge its firewall rules and sysctls were last written
/// for, and [`RULES_VERSION`].
const RULES_MARKERS: &str = "/run/berth-network/rules";

/// Bumped when a network gets rules or sysctls it did not get before, so that bridges set up
/// by an older berth are set up again (2: loopback dropped in raw PREROUTING, accept_ra 0;
/// 3: the IPv6 rules of IPv6 networks).
const RULES_VERSION: u32 = 3;

/// The networking manager: one per engine process (it is `Sync`; calls are serialised on its
/// store connection, and across processes by sqlite's IMMEDIATE transactions).
pub struct Manager {
    conn: Mutex<Connection>,
    db: std::path::PathBuf,
    fw: OnceLock<Backend>,
    /// the default network's bridge: berth0, or another name for a second state root on the
    /// same host (two roots must not share one bridge and subnet)
    default_bridge: String,
    /// where the networks live: None for the host's namespace, else a namespace file (a
    /// rootless engine's, see [`Manager::in_netns`])
    netns: Option<std::path::PathBuf>,
    /// the dir of the rules markers ([`RULES_MARKERS`], or one going with `netns`)
    markers: std::path::PathBuf,
}
fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub(crate) fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// dockerd takes any name that is not blank ("test 01" included): the name never becomes a
/// path or an interface name here (bridges are named from the id). Control characters and
/// `/` (which would make `/networks/{name}` unreachable) are refused.
fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && !name.chars().any(|c| c.is_control() || c == '/')
}

/// The stored (subnet, gateway, ip range, enabled) of a create's IPv6 side: empty strings
/// without a v6 pool. dockerd 20.10 has no default v6 pool: EnableIPv6 needs a subnet.
fn v6_config(r: &Ipv6Request) -> Result<(String, String, String, bool)> {
    let Some(subnet) = r.subnet.as_deref().filter(|s| !s.is_empty()) else {
        if r.enable {
            return Err(Error::NoPool6);
        }
        return Ok(Default::default());
    };
    let s6 = Subnet6::parse(subnet).map_err(Error::InvalidSubnet)?;
    let gateway = match r.gateway.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => {
            let ip: std::net::Ipv6Addr = g
                .parse()
                .map_err(|_| Error::InvalidGateway(g.to_string()))?;
            if !s6.is_host(ip) {
                return Err(Error::InvalidGateway(g.to_string()));
            }
            ip
        }
        None => s6.first_host(),
    };
    let range = match r.ip_range.as_deref().filter(|g| !g.is_empty()) {
        Some(x) => {
            let range = Subnet6::parse(x).map_err(Error::InvalidSubnet)?;
            if !s6.contains(range.addr) || range.prefix < s6.prefix {
                return Err(Error::InvalidSubnet(format!(
                    "invalid ip-range {range}: not within the subnet {s6}"
                )));
            }
            range.to_string()
        }
        None => String::new(),
    };
    // without IPv6 on, only a gateway that was asked for is kept (dockerd shows none)
    let gateway = if r.enable || r.gateway.as_deref().is_some_and(|g| !g.is_empty()) {
        gateway.to_string()
    } else {
        String::new()
    };
    Ok((s6.to_string(), gateway, range, r.enable))
}

/// Turn IPv6 on for `bridge` and forwarding on, under `ipv6` (/proc/sys/net/ipv6). A host
/// without IPv6 has no such files: the error is dockerd's bridge driver's.
fn enable_ipv6(ipv6: &Path, bridge: &str) -> Result<()> {
    let file = ipv6.join("conf").join(bridge).join("disable_ipv6");
    let err = |detail: String| Error::NoIpv6 {
        bridge: bridge.to_string(),
        detail,
    };
    let v = std::fs::read_to_string(&file).map_err(|e| Error::Io {
        context: format!(
            "Cannot read IPv6 setup for bridge {bridge}: open {}",
            file.display()
        ),
        source: e,
    })?;
    if v.trim() != "0" {
        std::fs::write(&file, "0").map_err(|e| err(e.to_string()))?;
    }
    write_sysctl(&ipv6.join("conf/all/forwarding").to_string_lossy(), "1")
}

/// Subnets that a new network must not overlap: the host's routes (except those of `own_bridge`,
/// a bridge of ours left from before) and every stored network.
fn taken_subnets(nets: &[NetworkConfig]) -> Vec<Subnet> {
    let mut taken = ipam::host_routes();
    taken.extend(nets.iter().filter_map(|n| Subnet::parse(&n.subnet).ok()));
    taken
}

pub(crate) fn write_sysctl(path: &str, value: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(path, value).map_err(|e| Error::Io {
        context: format!("setting {path} to {value}"),
        source: e,
    })
}

impl Manager {
    /// Open (creating) the store at `db`.
    pub fn open(db: &Path) -> Result<Manager> {
        Ok(Manager {
            conn: Mutex::new(store::open(db)?),
            db: db.to_path_buf(),
            fw: OnceLock::new(),
            default_bridge: DEFAULT_BRIDGE.into(),
            netns: None,
            markers: RULES_MARKERS.into(),
        })
    }

    /// Keep the networks in the network namespace bound at `netns` instead of the host's: every
    /// bridge, veth, sysctl and firewall rule is made there (a rootless engine's namespace,
    /// where the user may). The rules markers and the firewall lock go in `run_dir`, the
    /// user's own (/run is root's), which must go with the namespace.
    pub fn in_netns(mut self, netns: &Path, run_dir: &Path) -> Manager {
        self.netns = Some(netns.to_path_buf());
        self.markers = run_dir.join("rules");
        firewall::set_lock_path(run_dir.join("firewall.lock"));
        self
    }

    /// Run `f` in the manager's network namespace (on a thread of its own, see
    /// [`crate::netns::run_in`]), or here when it has the host's.
    pub(crate) fn in_ns<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        match &self.netns {
            None => f(),
            Some(ns) => crate::netns::run_in(ns, f).map_err(|e| Error::Io {
                context: "rootless network namespace".into(),
                source: e,
            })?,
        }
    }

    /// The marker of a network's rules (they were written for its bridge): gone with the
    /// network, so /run does not keep one file per network ever made.
    fn forget_rules(&self, net: &NetworkConfig) {
        let _ = std::fs::remove_file(self.markers.join(&net.id));
    }

    /// Name the default network's bridge (at most 15 bytes); before its first use.
    pub fn with_default_bridge(mut self, name: &str) -> Manager {
        self.default_bridge = name.to_string();
        self
    }

    /// Keep the store's WAL short (see `metadb::tidy_wal`), unless it is in use.
    pub fn tidy(&self) {
        if let Ok(c) = self.conn.try_lock() {
            metadb::tidy_wal(&c, &self.db, store::BUSY_TIMEOUT);
        }
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn fw(&self) -> Result<&Backend> {
        if let Some(b) = self.fw.get() {
            return Ok(b);
        }
        let b = Backend::detect()?;
        Ok(self.fw.get_or_init(|| b))
    }

    /// docker's "bridge" network (iface berth0), created in the store on first use with a
    /// subnet that collides with no host route and no other network.
    pub fn default_network(&self) -> Result<NetworkConfig> {
        let find =
            |nets: &[NetworkConfig]| nets.iter().find(|n| n.name == DEFAULT_NETWORK).cloned();
        if let Some(n) = find(&store::networks(&self.conn())?) {
            return Ok(n);
        }
        // Choose under the host lock and make the bridge (its route) before letting go, so that
        // another berth root choosing at the same time sees it; the store's write lock is taken
        // only afterwards (never waited for while holding the host lock).
        let host_lock = firewall::FwLock::take()?;
        let nets = store::networks(&self.conn())?;
        if let Some(n) = find(&nets) {
            return Ok(n);
        }
        // a bridge of this name left from before keeps its route: that subnet is ours to reuse
        let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let own: Vec<Subnet> = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(self.default_bridge.as_str()))
            .flat_map(|l| ipam::parse_proc_net_route(&format!("hdr\n{l}")))
            .collect();
        let mut taken: Vec<Subnet> = taken_subnets(&nets)
            .into_iter()
            .filter(|s| !own.contains(s))
            .collect();
        if own.len() > 1 {
            taken.extend(own.iter().skip(1));
        }
        let subnet = ipam::choose_default_subnet(&taken).ok_or(Error::NoPool)?;
        // best effort: an unprivileged caller only reads the store; connect makes the bridge
        if let Ok(nl) = netlink::Nl::new() {
            let _ = nl.ensure_bridge(&self.default_bridge, subnet.first_host(), subnet.prefix);
        }
        drop(host_lock);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(n) = find(&store::networks(&tx)?) {
            return Ok(n);
        }
        let net = NetworkConfig {
            id: random_hex(32),
            name: DEFAULT_NETWORK.into(),
            driver: "bridge".into(),
            bridge: self.default_bridge.clone(),
            subnet: subnet.to_string(),
            gateway: subnet.first_host().to_string(),
            internal: false,
            labels: BTreeMap::new(),
            created: now_rfc3339(),
            ..Default::default()
        };
        store::insert_network(&tx, &net)?;
        tx.commit()?;
        Ok(net)
    }

    /// Create a user-defined bridge network, its bridge and its firewall rules.
    pub fn create(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        internal: bool,
        labels: BTreeMap<String, String>,
    ) -> Result<NetworkConfig> {
        self.create_dual(
            name,
            subnet,
            gateway,
            internal,
            labels,
            &Ipv6Request::default(),
        )
    }

    /// [`Manager::create`] with an IPv6 side: its pool is checked and kept; with `enable`,
    /// the bridge gets the v6 gateway and containers v6 addresses, and the firewall the
    /// network's IPv6 rules (isolation, masquerade: dockerd with `--ip6tables`); refused when
    /// those cannot be applied.
    pub fn create_dual(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        internal: bool,
        labels: BTreeMap<String, String>,
        v6: &Ipv6Request,
    ) -> Result<NetworkConfig> {
        self.in_ns(|| self.create_here(name, subnet, gateway, internal, labels, v6))
    }

    fn create_here(
        &self,
        name: &str,
        subnet: Option<&str>,
        gateway: Option<&str>,
        internal: bool,
        labels: BTreeMap<String, String>,
        v6: &Ipv6Request,
    ) -> Result<NetworkConfig> {
        let v6 = v6_config(v6)?;
        if name == "host" || name == "none" {
            return Err(Error::Reserved(name.to_string()));
        }
        if name == DEFAULT_NETWORK {
            return Err(Error::NameExists(name.to_string()));
        }
        if !valid_name(name) {
            return Err(Error::InvalidName(name.to_string()));
        }
        let requested = subnet
            .map(|s| Subnet::parse(s).map_err(Error::InvalidSubnet))
            .transpose()?;
        // checks against the store, before the bridge and again when the row goes in
        let check = |nets: &[NetworkConfig], s: Option<&Subnet>| -> Result<()> {
            if nets.iter().any(|n| n.name == name) {
                return Err(Error::NameExists(name.to_string()));
            }
            if let Some(s) = s {
                if nets
                    .iter()
                    .filter_map(|n| Subnet::parse(&n.subnet).ok())
                    .any(|o| o.overlaps(s))
                {
                    return Err(Error::Overlap);
                }
            }
            // only pools in use count (dockerd allocates none without EnableIPv6)
            if let Some(s6) = Subnet6::parse(&v6.0).ok().filter(|_| v6.3) {
                if nets
                    .iter()
                    .filter(|n| n.enable_ipv6)
                    .filter_map(|n| Subnet6::parse(&n.subnet6).ok())
                    .any(|o| o.overlaps(&s6))
                {
                    return Err(Error::Overlap);
                }
            }
            Ok(())
        };
        // The host lock is held until the bridge (and so its route) exists, so that other
        // berth roots choosing a subnet see it. The store's write lock is never waited for
        // while holding the host lock (the reverse nesting exists elsewhere).
        let host_lock = firewall::FwLock::take()?;
        let nets = store::networks(&self.conn())?;
        check(&nets, requested.as_ref())?;
        let subnet = match requested {
            Some(s) => s,
            None => ipam::choose_subnet(&taken_subnets(&nets)).ok_or(Error::NoPool)?,
        };
        let gateway = match gateway {
            Some(g) => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::InvalidGateway(g.to_string()))?;
                if !subnet.is_host(ip) {
                    return Err(Error::InvalidGateway(g.to_string()));
                }
                ip
            }
            None => subnet.first_host(),
        };
        let id = random_hex(32);
        let net = NetworkConfig {
            bridge: format!("br-{}", &id[..12]),
            id,
            name: name.to_string(),
            driver: "bridge".into(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            internal,
            labels,
            created: now_rfc3339(),
            enable_ipv6: v6.3,
            subnet6: v6.0.clone(),
            gateway6: v6.1.clone(),
            ip_range6: v6.2.clone(),
        };
        let bridge =
            netlink::Nl::new().and_then(|nl| nl.ensure_bridge(&net.bridge, gateway, subnet.prefix));
        drop(host_lock);
        let stored = bridge.and_then(|_| {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            check(&store::networks(&tx)?, Some(&subnet))?;
            store::insert_network(&tx, &net)?;
            tx.commit()?;
            Ok(())
        });
        if let Err(e) = stored {
            if let Ok(nl) = netlink::Nl::new() {
                let _ = nl.delete_link(&net.bridge);
            }
            return Err(e);
        }
        if let Err(e) = self.ensure_network(&net) {
            self.teardown_network(&net);
            let _ = store::delete_network(&self.conn(), &net.id);
            return Err(e);
        }
        Ok(net)
    }

    /// Bridge up with its gateway address, forwarding on, and the network's firewall rules.
    fn ensure_network(&self, net: &NetworkConfig) -> Result<()> {
        self.ensure_network_opts(&netlink::Nl::new()?, net, true)
            .map(drop)
    }

    /// `check_rules: false` trusts that an existing bridge has its rules (they are written
    /// with the bridge, as dockerd does at network creation and startup) -- this spares every
    /// container start an iptables-save. `nl`: the caller's netlink connection, in the host's
    /// network namespace. Returns the bridge's index.
    pub(crate) fn ensure_network_opts(
        &self,
        nl: &netlink::Nl,
        net: &NetworkConfig,
        check_rules: bool,
    ) -> Result<u32> {
        let subnet = net.subnet_parsed()?;
        let gw = net.gateway_parsed()?;
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        let (created, index) = nl.ensure_bridge(&net.bridge, gw, subnet.prefix)?;
        if let Some((s6, gw6)) = net.v6_parsed()? {
            // as dockerd's bridge driver: IPv6 on for the bridge, forwarding on, the gateway
            enable_ipv6(Path::new("/proc/sys/net/ipv6"), &net.bridge)?;
            nl.add_address(index, &net.bridge, std::net::IpAddr::V6(gw6), s6.prefix)?;
        }
        // The rules were written for this very bridge (same ifindex) already: a bridge made
        // again (reboot, retired default network) has a new index and gets its rules again.
        let marker = self.markers.join(&net.id);
        let stamp = format!("{index} {RULES_VERSION}");
        if !created
            && !check_rules
            && std::fs::read_to_string(&marker).ok().as_deref() == Some(&stamp)
        {
            return Ok(index);
        }
        // as docker does on its bridges: a container must not configure the host's IPv6
        // through router advertisements (CVE-2020-13401); no such file without IPv6
        let accept_ra = format!("/proc/sys/net/ipv6/conf/{}/accept_ra", net.bridge);
        if std::path::Path::new(&accept_ra).exists() {
            write_sysctl(&accept_ra, "0")?;
        }
        let v6 = net.v6_parsed()?.map(|(s6, _)| s6.to_string());
        let rules = firewall::network_rules(
            &net.id,
            &net.bridge,
            &net.subnet,
            v6.as_deref(),
            net.internal,
        );
        let n = rules.len();
        self.fw()?.apply(
            true,
            &[Selector::Exact(firewall::net_tag(&net.id))],
            &rules,
            Some(n),
        )?;
        // the host reaches published ports on 127.0.0.1: such packets are routed out of the
        // bridge, which the kernel refuses for 127/8 sources unless route_localnet is set. Set
        // only now that the rules keeping 127/8 off the bridge's way in are there.
        write_sysctl(
            &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", net.bridge),
            "1",
        )?;
        let _ = std::fs::create_dir_all(&self.markers);
        let _ = std::fs::write(&marker, stamp);
        Ok(index)
    }

    /// Best effort: the network's rules and bridge.
    fn teardown_network(&self, net: &NetworkConfig) {
        self.forget_rules(net);
        if let Ok(fw) = self.fw() {
            let _ = fw.apply(
                false,
                &[Selector::Exact(firewall::net_tag(&net.id))],
                &[],
                None,
            );
        }
        if let Ok(nl) = netlink::Nl::new() {
            let _ = nl.delete_link(&net.bridge);
        }
    }

    /// A network by exact id, exact name, or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<NetworkConfig> {
        let nets = self.list()?;
        if let Some(n) = nets.iter().find(|n| n.id == name_or_id) {
            return Ok(n.clone());
        }
        if let Some(n) = nets.iter().find(|n| n.name == name_or_id) {
            return Ok(n.clone());
        }
        let matches: Vec<&NetworkConfig> = if name_or_id.is_empty() {
            Vec::new()
        } else {
            nets.iter()
                .filter(|n| n.id.starts_with(name_or_id))
                .collect()
        };
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(Error::NotFound(name_or_id.to_string())),
            k => Err(Error::Ambiguous(name_or_id.to_string(), k)),
        }
    }

    /// All networks, by name.
    pub fn list(&self) -> Result<Vec<NetworkConfig>> {
        store::networks(&self.conn())
    }

    /// Remove a network without endpoints: its store row, firewall rules and bridge.
    pub fn remove(&self, name_or_id: &str) -> Result<()> {
        let net = self.get(name_or_id)?;
        if net.name == DEFAULT_NETWORK {
            return Err(Error::Predefined(net.name));
        }
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if store::count_endpoints(&tx, &net.id)? > 0 {
                return Err(Error::ActiveEndpoints {
                    name: net.name,
                    id: net.id,
                });
            }
            store::delete_network(&tx, &net.id)?;
            tx.commit()?;
        }
        self.in_ns(|| self.remove_rules_and_bridge(&net))
    }

    /// The network's firewall rules, then its bridge.
    fn remove_rules_and_bridge(&self, net: &NetworkConfig) -> Result<()> {
        self.forget_rules(net);
        self.fw()?.apply(
            false,
            &[Selector::Exact(firewall::net_tag(&net.id))],
            &[],
            None,
        )?;
        netlink::Nl::new()?.delete_link(&net.bridge)
    }

    /// A state root other than the host's main one (a test, a second engine) must not leave
    /// its default bridge behind: when pruned without endpoints, the bridge, its rules and
    /// its row go (the next container creates them again). Kept between containers like
    /// docker0, so starts do not rebuild it. Done under the store's write lock, so a
    /// concurrent connect either sees the network gone or keeps it alive.
    pub fn retire_private_default(&self) -> Result<()> {
        if self.default_bridge == DEFAULT_BRIDGE {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(net) = store::networks(&tx)?
            .into_iter()
            .find(|n| n.name == DEFAULT_NETWORK)
        else {
            return Ok(());
        };
        if store::count_endpoints(&tx, &net.id)? > 0 {
            return Ok(());
        }
        self.in_ns(|| self.remove_rules_and_bridge(&net))?;
        store::delete_network(&tx, &net.id)?;
        tx.commit()?;
        Ok(())
    }

    /// Remove the networks without endpoints (never "bridge"); returns their names.
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for net in self.list()? {
            if net.name == DEFAULT_NETWORK {
                continue;
            }
            match self.remove(&net.id) {
                Ok(()) => removed.push(net.name),
                Err(Error::ActiveEndpoints { .. }) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // a private default network (second state root) goes when unused, as after a disconnect
        self.retire_private_default()?;
        Ok(removed)
    }

    /// Startup reconcile: release the endpoints and ports of containers not in `live` (their
    /// veths and rules too); an unused private default network is retired.
    pub fn reconcile(&self, live: &HashSet<String>) -> Result<()> {
        let ids = store::container_ids(&self.conn())?;
        for id in ids.iter().filter(|id| !live.contains(*id)) {
            self.release_container(id)?;
        }
        self.retire_private_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgr() -> (tempfile::TempDir, Manager) {
        let dir = tempfile::tempdir().unwrap();
        let m = Manager::open(&dir.path().join("network.db")).unwrap();
        (dir, m)
    }

    #[test]
    fn names() {
        assert!(valid_name("my-net_1.x"));
        // dockerd takes these (docker-py creates "test 01")
        assert!(valid_name("-x"));
        assert!(valid_name("test 01"));
        assert!(!valid_name(""));
        assert!(!valid_name("  "));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("a\nb"));
    }

    #[test]
    fn ipv6_on_a_host_without_it_is_dockerds_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = enable_ipv6(dir.path(), "br-x").unwrap_err().to_string();
        assert!(
            e.starts_with("Cannot read IPv6 setup for bridge br-x: open ")
                && e.ends_with("No such file or directory (os error 2)"),
            "{e}"
        );
        // with the files: bridge on, forwarding on
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(conf.join("br-x")).unwrap();
        std::fs::create_dir_all(conf.join("all")).unwrap();
        std::fs::write(conf.join("br-x/disable_ipv6"), "1\n").unwrap();
        std::fs::write(conf.join("all/forwarding"), "0\n").unwrap();
        enable_ipv6(dir.path(), "br-x").unwrap();
        assert_eq!(
            std::fs::read_to_string(conf.join("br-x/disable_ipv6")).unwrap(),
            "0"
        );
        assert_eq!(
            std::fs::read_to_string(conf.join("all/forwarding")).unwrap(),
            "1"
        );
    }

    #[test]
    fn default_network_is_stable_and_avoids_routes() {
        let (_d, m) = mgr();
        // a bridge of the test's own (made when root), removed at the end
        let bridge = format!("btu{}", random_hex(4));
        let m = m.with_default_bridge(&bridge);
        struct Gone(String);
        impl Drop for Gone {
            fn drop(&mut self) {
                if let Ok(nl) = netlink::Nl::new() {
                    let _ = nl.delete_link(&self.0);
                }
            }
        }
        let _gone = Gone(bridge.clone());
        let a = m.default_network().unwrap();
        let b = m.default_network().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.name, "bridge");
        assert_eq!(a.bridge, bridge);
        assert_eq!(a.id.len(), 64);
        // no overlap with a host route, except berth0's own (a bridge left by another store)
        let s = Subnet::parse(&a.subnet).unwrap();
        let routes = std::fs::read_to_string("/proc/net/route").unwrap();
        for line in routes.lines().skip(1) {
            if line.starts_with(bridge.as_str()) {
                continue;
            }
            for r in ipam::parse_proc_net_route(&format!("hdr\n{line}")) {
                assert!(!r.overlaps(&s), "{s} overlaps host route {r}");
            }
        }
        assert_eq!(m.get("bridge").unwrap(), a);
        assert_eq!(m.get(&a.id[..6]).unwrap(), a);
        assert!(matches!(m.remove("bridge"), Err(Error::Predefined(_))));
        assert!(matches!(
            m.create("bridge", None, None, false, BTreeMap::new()),
            Err(Error::NameExists(_))
        ));
        assert_eq!(
            m.get("nope").unwrap_err().to_string(),
            "network nope not found"
        );
    }

    #[test]
    fn store_roundtrip_without_kernel() {
        let (_d, m) = mgr();
        let net = NetworkConfig {
            id: "ab".repeat(32),
            name: "n1".into(),
            driver: "bridge".into(),
            bridge: "br-abababababab".into(),
            subnet: "10.250.0.0/24".into(),
            gateway: "10.250.0.1".into(),
            internal: false,
            labels: BTreeMap::from([("k".to_string(), "v".to_string())]),
            created: now_rfc3339(),
            ..Default::default()
        };
        store::insert_network(&m.conn(), &net).unwrap();
        assert_eq!(m.get("n1").unwrap(), net);
        assert_eq!(m.list().unwrap(), vec![net.clone()]);
        // docker's inspect names
        let j = serde_json::to_value(&net).unwrap();
        assert_eq!(j["Name"], "n1");
        assert_eq!(j["Subnet"], "10.250.0.0/24");
        // overlapping --subnet is refused before touching the kernel
        assert!(matches!(
            m.create("n2", Some("10.250.0.128/25"), None, false, BTreeMap::new()),
            Err(Error::Overlap)
        ));
        assert!(matches!(
            m.create("n1", None, None, false, BTreeMap::new()),
            Err(Error::NameExists(_))
        ));
        assert!(matches!(
            m.create(
                "n3",
                Some("10.251.0.0/24"),
                Some("10.9.9.9"),
                false,
                BTreeMap::new()
            ),
            Err(Error::InvalidGateway(_))
        ));
        assert!(matches!(
            m.create("n3", Some("10.251.0.1/24"), None, false, BTreeMap::new()),
            Err(Error::InvalidSubnet(_))
        ));
        // an endpoint row blocks removal with docker's message
        m.conn()
            .execute(
                "INSERT INTO endpoints (container_id, network_id, name, aliases, ip, mac, host_veth) VALUES ('c1', ?1, 'web', '[\"w\"]', '10.250.0.2', '02:42:0a:fa:00:02', 'vethdeadbeef')",
                [&net.id],
            )
            .unwrap();
        let e = m.remove("n1").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "error while removing network: network n1 id {} has active endpoints",
                net.id
            )
        );
        let eps = m.endpoints_of_container("c1").unwrap();
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].prefix_len, 24);
        assert_eq!(eps[0].gateway, Ipv4Addr::new(10, 250, 0, 1));
        assert_eq!(eps[0].aliases, vec!["w".to_string()]);
        assert_eq!(m.endpoints(&net.id).unwrap(), eps);
    }
}
