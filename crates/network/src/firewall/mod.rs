//! Firewall rules: generated as data (pure, unit-tested), rendered for the system tool found
//! at run time — `iptables` (iptables-nft or legacy, through `iptables-save`/`iptables-restore`)
//! or, when that is missing, `nft` with a table of berth's own.
//!
//! Rules come in two families, rendered from the one model: IPv4 (`iptables`, nft table `ip
//! berth`) and IPv6 (`ip6tables`, nft table `ip6 berth`) with the same chains. A network with
//! IPv6 gets its isolation, forwarding, internal and masquerade rules in both (as dockerd with
//! `--ip6tables`, docker 27's default); the loopback guard and the published ports are IPv4's.
//! Without the IPv6 family on the host an IPv6 network is refused: its containers would
//! otherwise reach every other network (and an internal one the world) over IPv6.
//!
//! Every rule berth adds lives in berth's own chains and carries a comment tag:
//! `berth:net:<network id>` for a network's rules, `berth:port:<container id>:<network id[..12]>`
//! for a published port, `berth` for the jumps from the built-in chains. Cleanup deletes exactly the
//! rules whose tag matches, so rules of docker, podman or the admin are never touched.
//!
//! Chains (the same names in both back ends):
//! - filter `BERTH-FORWARD` (jumped to first from FORWARD): per network, accept what leaves the
//!   bridge and what comes back or was DNATed into it; for internal networks drop what crosses.
//!   Its first rule jumps to `BERTH-ISOLATION-1`, which sends traffic leaving a berth bridge to
//!   `BERTH-ISOLATION-2`, which drops it when it enters another berth bridge (docker's two stage
//!   isolation, one rule per network in each stage instead of one per pair).
//! - nat `BERTH-POSTROUTING`: masquerade of each subnet out of other interfaces, of the
//!   host's 127/8 into a bridge (published ports reached on 127.0.0.1, with route_localnet) and
//!   of hairpin connections (a container reaching a published port through a host address).
//! - nat `BERTH-DNAT`, jumped to from PREROUTING and OUTPUT for local destinations: one DNAT
//!   rule per published port.
//! - raw `BERTH-PREROUTING` (jumped to first from raw PREROUTING): per network, drop what comes
//!   in from the bridge addressed to or from 127.0.0.0/8. The bridges have `route_localnet`
//!   (the host reaches published ports on 127.0.0.1), which also lets a container with NET_RAW
//!   reach the host's loopback-only services by sending to 127.0.0.1 through the gateway's MAC
//!   (CVE-2020-8558). In the raw table no packet has been NATed yet, so legitimate traffic
//!   never matches: replies to the host's 127.0.0.1 come in addressed to the gateway.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use crate::{Error, Result};

mod backend;
mod iptables;
mod nft;

pub use backend::{Backend, Tools};
pub use iptables::{iptables_args, iptables_script, parse_save, split_words, SavedRule};
pub use nft::{nft_expr, nft_script, parse_nft_list, NFT_TABLE};

pub const FORWARD: &str = "BERTH-FORWARD";
pub const ISOLATION1: &str = "BERTH-ISOLATION-1";
pub const ISOLATION2: &str = "BERTH-ISOLATION-2";
pub const POSTROUTING: &str = "BERTH-POSTROUTING";
pub const DNAT: &str = "BERTH-DNAT";
/// In the raw table.
pub const RAW_PREROUTING: &str = "BERTH-PREROUTING";
/// The host's loopback network, never a source or destination on a bridge.
pub const LOOPBACK_NET: &str = "127.0.0.0/8";
/// Tag of the jumps into berth's chains.
pub const INFRA_TAG: &str = "berth";

pub fn net_tag(network_id: &str) -> String {
    format!("berth:net:{network_id}")
}

/// (The network id is cut to 12 characters: nft comments hold at most 128 bytes.)
pub fn port_tag(container_id: &str, network_id: &str) -> String {
    let short = network_id.get(..12).unwrap_or(network_id);
    format!("berth:port:{container_id}:{short}")
}

/// Prefix matching every port rule of a container, on any network.
pub fn port_tag_prefix(container_id: &str) -> String {
    format!("berth:port:{container_id}:")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// nft's name of the family (and of its address matches).
    pub fn nft(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Filter,
    Nat,
    Raw,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Filter, Table::Nat, Table::Raw];

    /// The tables berth uses in `family`: IPv6 has no rule in raw (the loopback guard is
    /// IPv4's), so no chain nor jump there either.
    pub fn of(family: Family) -> &'static [Table] {
        match family {
            Family::V4 => &Table::ALL,
            Family::V6 => &[Table::Filter, Table::Nat],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Nat => "nat",
            Table::Raw => "raw",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    InIf(String),
    OutIf(String),
    NotOutIf(String),
    Src(String),
    NotSrc(String),
    Dst(String),
    /// protocol ("tcp"/"udp") and destination port
    DPort(String, u16),
    /// conntrack state related,established
    Established,
    /// conntrack status: the connection was DNATed
    Dnated,
    /// destination address is one of the host's own
    DstLocal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Accept,
    Drop,
    Return,
    Jump(&'static str),
    Masquerade,
    /// DNAT to ip:port
    Dnat(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub family: Family,
    pub table: Table,
    pub chain: &'static str,
    pub matches: Vec<Match>,
    pub target: Target,
    pub tag: String,
}

fn rule(table: Table, chain: &'static str, m: Vec<Match>, t: Target, tag: &str) -> Rule {
    Rule {
        family: Family::V4,
        table,
        chain,
        matches: m,
        target: t,
        tag: tag.to_string(),
    }
}

/// What a network needs: isolation always, forwarding and NAT unless internal, in IPv4 and,
/// with `subnet6`, in IPv6 too; the host's loopback kept off the bridge (IPv4's: only IPv4 has
/// `route_localnet`, the kernel drops ::1 from the outside itself).
pub fn network_rules(
    network_id: &str,
    bridge: &str,
    subnet: &str,
    subnet6: Option<&str>,
    internal: bool,
) -> Vec<Rule> {
    let mut v = family_rules(Family::V4, network_id, bridge, subnet, internal);
    if let Some(s6) = subnet6 {
        v.extend(family_rules(Family::V6, network_id, bridge, s6, internal));
    }
    v
}

/// The rules of one family; `subnet` is the network's subnet of that family.
fn family_rules(
    family: Family,
    network_id: &str,
    bridge: &str,
    subnet: &str,
    internal: bool,
) -> Vec<Rule> {
    use Match::*;
    use Table::*;
    let tag = net_tag(network_id);
    let b = || bridge.to_string();
    let v4 = family == Family::V4;
    let mut v = Vec::new();
    if v4 {
        for m in [Dst(LOOPBACK_NET.into()), Src(LOOPBACK_NET.into())] {
            v.push(rule(
                Raw,
                RAW_PREROUTING,
                vec![InIf(b()), m],
                Target::Drop,
                &tag,
            ));
        }
    }
    v.extend([
        rule(
            Filter,
            ISOLATION1,
            vec![InIf(b()), NotOutIf(b())],
            Target::Jump(ISOLATION2),
            &tag,
        ),
        rule(Filter, ISOLATION2, vec![OutIf(b())], Target::Drop, &tag),
    ]);
    if internal {
        v.extend([
            rule(
                Filter,
                FORWARD,
                vec![InIf(b()), OutIf(b())],
                Target::Accept,
                &tag,
            ),
            rule(Filter, FORWARD, vec![InIf(b())], Target::Drop, &tag),
            rule(Filter, FORWARD, vec![OutIf(b())], Target::Drop, &tag),
        ]);
    } else {
        v.extend([
            rule(
                Filter,
                FORWARD,
                vec![OutIf(b()), Established],
                Target::Accept,
                &tag,
            ),
            rule(
                Filter,
                FORWARD,
                vec![OutIf(b()), Dnated],
                Target::Accept,
                &tag,
            ),
            rule(Filter, FORWARD, vec![InIf(b())], Target::Accept, &tag),
            rule(
                Nat,
                POSTROUTING,
                vec![Src(subnet.to_string()), NotOutIf(b())],
                Target::Masquerade,
                &tag,
            ),
        ]);
        // published ports (IPv4's) on 127.0.0.1 and through a host address
        if v4 {
            v.extend([
                rule(
                    Nat,
                    POSTROUTING,
                    vec![Src(LOOPBACK_NET.into()), OutIf(b())],
                    Target::Masquerade,
                    &tag,
                ),
                rule(
                    Nat,
                    POSTROUTING,
                    vec![Src(subnet.to_string()), OutIf(b()), Dnated],
                    Target::Masquerade,
                    &tag,
                ),
            ]);
        }
    }
    for r in &mut v {
        r.family = family;
    }
    v
}

/// The DNAT rule of one published port.
pub fn port_rule(
    container_id: &str,
    network_id: &str,
    host_ip: &str,
    host_port: u16,
    proto: &str,
    container_ip: &str,
    container_port: u16,
) -> Rule {
    let mut m = Vec::new();
    if !host_ip.is_empty() && host_ip != "0.0.0.0" {
        m.push(Match::Dst(host_ip.to_string()));
    }
    m.push(Match::DPort(proto.to_string(), host_port));
    rule(
        Table::Nat,
        DNAT,
        m,
        Target::Dnat(format!("{container_ip}:{container_port}")),
        &port_tag(container_id, network_id),
    )
}

/// The jumps from built-in chains (and the isolation jump) of `family`, which must come first.
pub fn infra_rules(family: Family) -> Vec<(Table, &'static str, Rule)> {
    use Table::*;
    let all = vec![
        (
            Filter,
            "FORWARD",
            rule(Filter, "FORWARD", vec![], Target::Jump(FORWARD), INFRA_TAG),
        ),
        (
            Filter,
            FORWARD,
            rule(Filter, FORWARD, vec![], Target::Jump(ISOLATION1), INFRA_TAG),
        ),
        // published ports stay reachable from other networks: DNATed traffic (and its replies)
        // is not subject to isolation
        (
            Filter,
            ISOLATION1,
            rule(
                Filter,
                ISOLATION1,
                vec![Match::Dnated],
                Target::Return,
                INFRA_TAG,
            ),
        ),
        (
            Nat,
            "POSTROUTING",
            rule(
                Nat,
                "POSTROUTING",
                vec![],
                Target::Jump(POSTROUTING),
                INFRA_TAG,
            ),
        ),
        (
            Nat,
            "PREROUTING",
            rule(
                Nat,
                "PREROUTING",
                vec![Match::DstLocal],
                Target::Jump(DNAT),
                INFRA_TAG,
            ),
        ),
        (
            Nat,
            "OUTPUT",
            rule(
                Nat,
                "OUTPUT",
                vec![Match::DstLocal],
                Target::Jump(DNAT),
                INFRA_TAG,
            ),
        ),
        (
            Raw,
            "PREROUTING",
            rule(
                Raw,
                "PREROUTING",
                vec![],
                Target::Jump(RAW_PREROUTING),
                INFRA_TAG,
            ),
        ),
    ];
    all.into_iter()
        .filter(|(t, _, _)| Table::of(family).contains(t))
        .map(|(t, c, r)| (t, c, Rule { family, ..r }))
        .collect()
}

pub fn chains(table: Table) -> &'static [&'static str] {
    match table {
        Table::Filter => &[FORWARD, ISOLATION1, ISOLATION2],
        Table::Nat => &[POSTROUTING, DNAT],
        Table::Raw => &[RAW_PREROUTING],
    }
}

/// Which saved rules a tag selector picks.
#[derive(Clone, Debug)]
pub enum Selector {
    Exact(String),
    Prefix(String),
}

impl Selector {
    fn matches(&self, comment: Option<&str>) -> bool {
        match (self, comment) {
            (Selector::Exact(t), Some(c)) => c == t,
            (Selector::Prefix(p), Some(c)) => c.starts_with(p.as_str()),
            _ => false,
        }
    }
}

/// Whether, once the rules picked by `remove` are gone, no network or port rule of berth's
/// (of any state root on the host) is left, so the jumps and chains can go too.
pub fn nothing_left<'a>(
    comments: impl IntoIterator<Item = Option<&'a str>>,
    remove: &[Selector],
) -> bool {
    comments.into_iter().all(|c| {
        !c.is_some_and(|c| c.starts_with("berth:")) || remove.iter().any(|sel| sel.matches(c))
    })
}

/// The firewall lock of a process whose firewall is not the host's (a rootless engine's own
/// network namespace): set once, by [`crate::Manager::in_netns`].
static LOCK_PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

pub(crate) fn set_lock_path(p: PathBuf) {
    let _ = LOCK_PATH.set(p);
}

/// An exclusive flock serialising berth's firewall changes across processes (iptables-restore
/// reads then writes; two berth processes must not interleave between the two).
pub(crate) struct FwLock(File);

impl FwLock {
    /// Also taken by network creation, so that two stores (berth roots) choosing a subnet at
    /// the same time see each other's bridge route.
    pub(crate) fn take() -> Result<FwLock> {
        let open = |p: &str| OpenOptions::new().create(true).append(true).open(p);
        if let Some(p) = LOCK_PATH.get() {
            let f = open(&p.to_string_lossy()).map_err(|e| Error::Io {
                context: format!("opening firewall lock {}", p.display()),
                source: e,
            })?;
            return FwLock::locked(f, &p.to_string_lossy());
        }
        // /run is root's; an unprivileged caller (who cannot change the firewall anyway) falls
        // back to /tmp
        let (path, f) = match open("/run/berth-network.lock") {
            Ok(f) => ("/run/berth-network.lock", f),
            Err(_) => {
                let p = "/tmp/berth-network.lock";
                (
                    p,
                    open(p).map_err(|e| Error::Io {
                        context: format!("opening firewall lock {p}"),
                        source: e,
                    })?,
                )
            }
        };
        FwLock::locked(f, path)
    }

    fn locked(f: File, path: &str) -> Result<FwLock> {
        loop {
            // SAFETY: flock on an fd we own.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(FwLock(f));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::Io {
                    context: format!("locking {path}"),
                    source: e,
                });
            }
        }
    }
}

impl Drop for FwLock {
    fn drop(&mut self) {
        // SAFETY: unlock the fd we locked; closing would release it too.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}
