//! Firewall rules: generated as data (pure, unit-tested), rendered for the system tool found
//! at run time — `iptables` (iptables-nft or legacy, through `iptables-save`/`iptables-restore`)
//! or, when that is missing, `nft` with a table of berth's own.
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
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Error, Result};

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
pub enum Table {
    Filter,
    Nat,
    Raw,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Filter, Table::Nat, Table::Raw];

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
    pub table: Table,
    pub chain: &'static str,
    pub matches: Vec<Match>,
    pub target: Target,
    pub tag: String,
}

fn rule(table: Table, chain: &'static str, m: Vec<Match>, t: Target, tag: &str) -> Rule {
    Rule {
        table,
        chain,
        matches: m,
        target: t,
        tag: tag.to_string(),
    }
}

/// What a network needs: loopback kept off the bridge and isolation always, forwarding and
/// NAT unless internal.
pub fn network_rules(network_id: &str, bridge: &str, subnet: &str, internal: bool) -> Vec<Rule> {
    use Match::*;
    use Table::*;
    let tag = net_tag(network_id);
    let b = || bridge.to_string();
    let mut v = vec![
        rule(
            Raw,
            RAW_PREROUTING,
            vec![InIf(b()), Dst(LOOPBACK_NET.into())],
            Target::Drop,
            &tag,
        ),
        rule(
            Raw,
            RAW_PREROUTING,
            vec![InIf(b()), Src(LOOPBACK_NET.into())],
            Target::Drop,
            &tag,
        ),
        rule(
            Filter,
            ISOLATION1,
            vec![InIf(b()), NotOutIf(b())],
            Target::Jump(ISOLATION2),
            &tag,
        ),
        rule(Filter, ISOLATION2, vec![OutIf(b())], Target::Drop, &tag),
    ];
    if internal {
        v.push(rule(
            Filter,
            FORWARD,
            vec![InIf(b()), OutIf(b())],
            Target::Accept,
            &tag,
        ));
        v.push(rule(Filter, FORWARD, vec![InIf(b())], Target::Drop, &tag));
        v.push(rule(Filter, FORWARD, vec![OutIf(b())], Target::Drop, &tag));
        return v;
    }
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
        rule(
            Nat,
            POSTROUTING,
            vec![Src("127.0.0.0/8".into()), OutIf(b())],
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

// ---------------------------------------------------------------------------------------------
// iptables rendering and parsing

/// The rule as an `iptables-restore` line without the leading `-A CHAIN`.
pub fn iptables_args(r: &Rule) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    for m in &r.matches {
        match m {
            Match::InIf(i) => push(&["-i", i]),
            Match::OutIf(i) => push(&["-o", i]),
            Match::NotOutIf(i) => push(&["!", "-o", i]),
            Match::Src(s) => push(&["-s", s]),
            Match::NotSrc(s) => push(&["!", "-s", s]),
            Match::Dst(d) => push(&["-d", d]),
            Match::DPort(p, port) => push(&["-p", p, "-m", p, "--dport", &port.to_string()]),
            Match::Established => push(&["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]),
            Match::Dnated => push(&["-m", "conntrack", "--ctstate", "DNAT"]),
            Match::DstLocal => push(&["-m", "addrtype", "--dst-type", "LOCAL"]),
        }
    }
    push(&["-m", "comment", "--comment", &r.tag]);
    match &r.target {
        Target::Accept => push(&["-j", "ACCEPT"]),
        Target::Drop => push(&["-j", "DROP"]),
        Target::Return => push(&["-j", "RETURN"]),
        Target::Jump(c) => push(&["-j", c]),
        Target::Masquerade => push(&["-j", "MASQUERADE"]),
        Target::Dnat(to) => push(&["-j", "DNAT", "--to-destination", to]),
    }
    a
}

/// The jumps from built-in chains (and the isolation jump), which must come first.
pub fn infra_rules() -> Vec<(Table, &'static str, Rule)> {
    use Table::*;
    vec![
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
    ]
}

pub fn chains(table: Table) -> &'static [&'static str] {
    match table {
        Table::Filter => &[FORWARD, ISOLATION1, ISOLATION2],
        Table::Nat => &[POSTROUTING, DNAT],
        Table::Raw => &[RAW_PREROUTING],
    }
}

/// Split a line of `iptables-save` output into words, honouring double quotes.
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut have = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_q = !in_q;
                have = true;
            }
            '\\' if in_q => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !in_q => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

/// One `-A` line of `iptables-save`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedRule {
    pub table: String,
    pub chain: String,
    /// the words after `-A CHAIN`, as printed
    pub line: String,
    pub comment: Option<String>,
}

/// The chains and `-A` rules of `iptables-save` output, per table.
pub fn parse_save(text: &str) -> (Vec<(String, String)>, Vec<SavedRule>) {
    let mut table = String::new();
    let mut chains = Vec::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t.trim().to_string();
        } else if let Some(c) = line.strip_prefix(':') {
            if let Some(name) = c.split_whitespace().next() {
                chains.push((table.clone(), name.to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let (chain, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let words = split_words(body);
            let comment = words
                .iter()
                .position(|w| w == "--comment")
                .and_then(|i| words.get(i + 1).cloned());
            rules.push(SavedRule {
                table: table.clone(),
                chain: chain.to_string(),
                line: body.to_string(),
                comment,
            });
        }
    }
    (chains, rules)
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

/// The `iptables-restore --noflush` script that makes berth's chains and jumps exist (given
/// what is there), deletes the saved rules chosen by `remove` and appends `add`; with
/// `drop_infra`, also deletes berth's jumps and chains.
pub fn iptables_script(
    saved_chains: &[(String, String)],
    saved: &[SavedRule],
    ensure_infra: bool,
    remove: &[Selector],
    add: &[Rule],
    drop_infra: bool,
) -> String {
    let mut out = String::new();
    for table in Table::ALL {
        let tn = table.name();
        let mut body = String::new();
        let mut decl = String::new();
        if ensure_infra {
            for c in chains(table) {
                if !saved_chains.iter().any(|(t, n)| t == tn && n == c) {
                    decl.push_str(&format!(":{c} - [0:0]\n"));
                }
            }
            for (t, chain, r) in infra_rules() {
                if t != table {
                    continue;
                }
                let args = iptables_args(&r).join(" ");
                let present = saved.iter().any(|s| {
                    s.table == tn
                        && s.chain == chain
                        && s.comment.as_deref() == Some(INFRA_TAG)
                        && jump_target(&s.line) == jump_target(&args)
                });
                if !present {
                    body.push_str(&format!("-I {chain} 1 {args}\n"));
                }
            }
        }
        for s in saved.iter().filter(|s| s.table == tn) {
            if remove.iter().any(|sel| sel.matches(s.comment.as_deref())) {
                body.push_str(&format!("-D {} {}\n", s.chain, s.line));
            }
        }
        for r in add.iter().filter(|r| r.table == table) {
            body.push_str(&format!("-A {} {}\n", r.chain, iptables_args(r).join(" ")));
        }
        if drop_infra {
            for s in saved.iter().filter(|s| s.table == tn) {
                if s.comment.as_deref() == Some(INFRA_TAG) {
                    body.push_str(&format!("-D {} {}\n", s.chain, s.line));
                }
            }
            for c in chains(table) {
                if chains_has(saved_chains, tn, c) {
                    body.push_str(&format!("-X {c}\n"));
                }
            }
        }
        if !decl.is_empty() || !body.is_empty() {
            out.push_str(&format!("*{tn}\n{decl}{body}COMMIT\n"));
        }
    }
    out
}

fn jump_target(line: &str) -> Option<String> {
    let w = split_words(line);
    w.iter()
        .position(|x| x == "-j")
        .and_then(|i| w.get(i + 1).cloned())
}

// ---------------------------------------------------------------------------------------------
// nft rendering and parsing (fallback when iptables is missing)

pub const NFT_TABLE: &str = "berth";

pub fn nft_expr(r: &Rule) -> String {
    let mut a: Vec<String> = Vec::new();
    for m in &r.matches {
        a.push(match m {
            Match::InIf(i) => format!("iifname \"{i}\""),
            Match::OutIf(i) => format!("oifname \"{i}\""),
            Match::NotOutIf(i) => format!("oifname != \"{i}\""),
            Match::Src(s) => format!("ip saddr {s}"),
            Match::NotSrc(s) => format!("ip saddr != {s}"),
            Match::Dst(d) => format!("ip daddr {d}"),
            Match::DPort(p, port) => format!("{p} dport {port}"),
            Match::Established => "ct state related,established".into(),
            Match::Dnated => "ct status dnat".into(),
            Match::DstLocal => "fib daddr type local".into(),
        });
    }
    a.push(match &r.target {
        Target::Accept => "accept".into(),
        Target::Drop => "drop".into(),
        Target::Return => "return".into(),
        Target::Jump(c) => format!("jump {c}"),
        Target::Masquerade => "masquerade".into(),
        Target::Dnat(to) => format!("dnat to {to}"),
    });
    a.push(format!("comment \"{}\"", r.tag));
    a.join(" ")
}

/// nft's name of the chain of an infra rule, and for a base chain its hook.
fn nft_chain(table: Table, chain: &'static str) -> (&'static str, Option<&'static str>) {
    match (table, chain) {
        (Table::Filter, "FORWARD") => (
            "forward",
            Some("type filter hook forward priority -1; policy accept;"),
        ),
        (Table::Nat, "POSTROUTING") => (
            "postrouting",
            Some("type nat hook postrouting priority 100;"),
        ),
        (Table::Nat, "PREROUTING") => (
            "prerouting",
            Some("type nat hook prerouting priority -100;"),
        ),
        (Table::Nat, "OUTPUT") => ("output", Some("type nat hook output priority -100;")),
        (Table::Raw, "PREROUTING") => (
            "raw-prerouting",
            Some("type filter hook prerouting priority -300; policy accept;"),
        ),
        (_, c) => (c, None),
    }
}

/// The chains of `nft list table` output.
fn nft_chain_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// A rule of `nft -a list table ip berth`: chain, comment, handle.
pub fn parse_nft_list(text: &str) -> Vec<(String, Option<String>, u64)> {
    let mut chain = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        let Some((body, handle)) = l.rsplit_once("# handle ") else {
            continue;
        };
        let Ok(handle) = handle.trim().parse::<u64>() else {
            continue;
        };
        if body.trim_start().starts_with("type ") || chain.is_empty() {
            continue;
        }
        let comment = body
            .split_once("comment \"")
            .and_then(|(_, c)| c.split_once('"').map(|(c, _)| c.to_string()));
        out.push((chain.clone(), comment, handle));
    }
    out
}

/// The `nft -f` script that (given the listing of berth's table, `None` when there is none)
/// makes the table, chains and jumps exist when missing or with `ensure_infra` (an older
/// berth's table lacks the newer ones), deletes the rules picked by `remove` and appends `add`.
pub fn nft_script(
    listed: Option<&str>,
    ensure_infra: bool,
    remove: &[Selector],
    add: &[Rule],
) -> String {
    let mut s = String::new();
    let listed_rules = listed.map(parse_nft_list).unwrap_or_default();
    if listed.is_none() {
        s.push_str(&format!("add table ip {NFT_TABLE}\n"));
    }
    if listed.is_none() || ensure_infra {
        let have = listed.map(nft_chain_names).unwrap_or_default();
        let has = |c: &str| have.iter().any(|h| h == c);
        // the jump targets first
        for c in Table::ALL.iter().flat_map(|t| chains(*t)) {
            if !has(c) {
                s.push_str(&format!("add chain ip {NFT_TABLE} {c}\n"));
            }
        }
        for (table, chain, r) in infra_rules() {
            let (name, hook) = nft_chain(table, chain);
            if let Some(spec) = hook.filter(|_| !has(name)) {
                s.push_str(&format!("add chain ip {NFT_TABLE} {name} {{ {spec} }}\n"));
            }
            let present = listed_rules
                .iter()
                .any(|(c, comment, _)| c == name && comment.as_deref() == Some(INFRA_TAG));
            if !present {
                s.push_str(&format!(
                    "insert rule ip {NFT_TABLE} {name} {}\n",
                    nft_expr(&r)
                ));
            }
        }
    }
    for (chain, comment, handle) in &listed_rules {
        if remove.iter().any(|sel| sel.matches(comment.as_deref())) {
            s.push_str(&format!(
                "delete rule ip {NFT_TABLE} {chain} handle {handle}\n"
            ));
        }
    }
    for r in add {
        s.push_str(&format!(
            "add rule ip {NFT_TABLE} {} {}\n",
            r.chain,
            nft_expr(r)
        ));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// running the tools

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Iptables { save: PathBuf, restore: PathBuf },
    Nft(PathBuf),
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

impl Backend {
    /// iptables when present (BERTH_FIREWALL=nft forces nft), else nft.
    pub fn detect() -> Result<Backend> {
        let force_nft = std::env::var("BERTH_FIREWALL").is_ok_and(|v| v == "nft");
        if !force_nft {
            if let (Some(_), Some(save), Some(restore)) = (
                which("iptables"),
                which("iptables-save"),
                which("iptables-restore"),
            ) {
                return Ok(Backend::Iptables { save, restore });
            }
        }
        which("nft")
            .map(Backend::Nft)
            .ok_or_else(|| Error::Firewall("neither iptables nor nft found in PATH".into()))
    }

    /// Apply, under berth's firewall lock: optionally make sure berth's chains and jumps exist,
    /// delete the rules picked by `remove`, append `add`. With `only_if_count`, nothing is done
    /// when exactly that many rules already carry the single `remove` selector's tag (the
    /// rules are in place).
    pub fn apply(
        &self,
        ensure_infra: bool,
        remove: &[Selector],
        add: &[Rule],
        only_if_count: Option<usize>,
    ) -> Result<()> {
        let _lock = FwLock::take()?;
        match self {
            Backend::Iptables { save, restore } => {
                let text = run(save, &[], None)?;
                let (chains, saved) = parse_save(&text);
                if let Some(n) = only_if_count {
                    let have = saved
                        .iter()
                        .filter(|s| remove.iter().any(|sel| sel.matches(s.comment.as_deref())))
                        .count();
                    if have == n && (!ensure_infra || infra_present(&chains, &saved)) {
                        return Ok(());
                    }
                }
                let drop_infra = !ensure_infra
                    && add.is_empty()
                    && !remove.is_empty()
                    && nothing_left(saved.iter().map(|s| s.comment.as_deref()), remove);
                let script =
                    iptables_script(&chains, &saved, ensure_infra, remove, add, drop_infra);
                if script.is_empty() {
                    return Ok(());
                }
                match run(restore, &["--noflush"], Some(&script)) {
                    Ok(_) => Ok(()),
                    // a chain someone else put a rule in cannot go: keep the jumps then
                    Err(_) if drop_infra => {
                        let script =
                            iptables_script(&chains, &saved, ensure_infra, remove, add, false);
                        run(restore, &["--noflush"], Some(&script)).map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            Backend::Nft(nft) => {
                let listed = run(nft, &["-a", "list", "table", "ip", NFT_TABLE], None).ok();
                if let (Some(n), Some(l)) = (only_if_count, listed.as_deref()) {
                    let have = parse_nft_list(l)
                        .iter()
                        .filter(|(_, c, _)| remove.iter().any(|sel| sel.matches(c.as_deref())))
                        .count();
                    let infra_ok = !ensure_infra || nft_script(Some(l), true, &[], &[]).is_empty();
                    if have == n && infra_ok {
                        return Ok(());
                    }
                }
                if listed.is_none() && !ensure_infra && add.is_empty() {
                    return Ok(()); // no table: nothing of berth's to delete
                }
                if let Some(l) = listed.as_deref() {
                    let rules = parse_nft_list(l);
                    if !ensure_infra
                        && add.is_empty()
                        && !remove.is_empty()
                        && nothing_left(rules.iter().map(|(_, c, _)| c.as_deref()), remove)
                    {
                        let script = format!("delete table ip {NFT_TABLE}\n");
                        return run(nft, &["-f", "-"], Some(&script)).map(|_| ());
                    }
                }
                let script = nft_script(listed.as_deref(), ensure_infra, remove, add);
                if script.is_empty() {
                    return Ok(());
                }
                run(nft, &["-f", "-"], Some(&script)).map(|_| ())
            }
        }
    }
}

fn infra_present(saved_chains: &[(String, String)], saved: &[SavedRule]) -> bool {
    let chains_ok = Table::ALL.iter().all(|t| {
        chains(*t)
            .iter()
            .all(|c| chains_has(saved_chains, t.name(), c))
    });
    chains_ok
        && infra_rules().iter().all(|(t, chain, _)| {
            saved.iter().any(|s| {
                s.table == t.name() && s.chain == *chain && s.comment.as_deref() == Some(INFRA_TAG)
            })
        })
}

fn chains_has(chains: &[(String, String)], table: &str, chain: &str) -> bool {
    chains.iter().any(|(t, c)| t == table && c == chain)
}

fn run(prog: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let desc = format!("{} {}", prog.display(), args.join(" "));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Firewall(format!("{desc}: {e}")))?;
    if let Some(input) = stdin {
        let mut si = child.stdin.take().expect("piped stdin");
        si.write_all(input.as_bytes())
            .map_err(|e| Error::Firewall(format!("{desc}: writing rules: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Firewall(format!("{desc}: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let detail = stdin.map(|s| format!("; rules:\n{s}")).unwrap_or_default();
        return Err(Error::Firewall(format!(
            "{desc}: {} ({err}){detail}",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An exclusive flock serialising berth's firewall changes across processes (iptables-restore
/// reads then writes; two berth processes must not interleave between the two).
pub(crate) struct FwLock(File);

impl FwLock {
    /// Also taken by network creation, so that two stores (berth roots) choosing a subnet at
    /// the same time see each other's bridge route.
    pub(crate) fn take() -> Result<FwLock> {
        let open = |p: &str| OpenOptions::new().create(true).append(true).open(p);
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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abc123";

    #[test]
    fn network_rules_render() {
        let rules = network_rules(ID, "br-abc", "10.89.5.0/24", false);
        let lines: Vec<String> = rules
            .iter()
            .map(|r| format!("-A {} {}", r.chain, iptables_args(r).join(" ")))
            .collect();
        assert!(lines.contains(
            &"-A BERTH-POSTROUTING -s 10.89.5.0/24 ! -o br-abc -m comment --comment berth:net:abc123 -j MASQUERADE"
                .to_string()
        ));
        assert!(lines.contains(
            &"-A BERTH-ISOLATION-1 -i br-abc ! -o br-abc -m comment --comment berth:net:abc123 -j BERTH-ISOLATION-2"
                .to_string()
        ));
        assert!(lines.iter().all(|l| l.contains("berth:net:abc123")));
        // loopback kept off the bridge, before any NAT (CVE-2020-8558)
        for dir in ["-d", "-s"] {
            let want = format!(
                "-A BERTH-PREROUTING -i br-abc {dir} 127.0.0.0/8 -m comment --comment berth:net:abc123 -j DROP"
            );
            assert!(lines.contains(&want), "{want} in {lines:#?}");
        }
        // internal: no nat, forwarding out of the bridge dropped, loopback kept off too
        let internal = network_rules(ID, "br-abc", "10.89.5.0/24", true);
        assert!(internal.iter().all(|r| r.table != Table::Nat));
        assert_eq!(internal.iter().filter(|r| r.table == Table::Raw).count(), 2);
        assert!(internal
            .iter()
            .any(|r| r.matches == vec![Match::InIf("br-abc".into())] && r.target == Target::Drop));
    }

    #[test]
    fn port_rule_render() {
        let r = port_rule("c1", "n1", "", 8080, "tcp", "10.89.0.2", 80);
        assert_eq!(
            iptables_args(&r).join(" "),
            "-p tcp -m tcp --dport 8080 -m comment --comment berth:port:c1:n1 -j DNAT --to-destination 10.89.0.2:80"
        );
        let r = port_rule("c1", "n1", "127.0.0.1", 53, "udp", "10.89.0.2", 53);
        assert_eq!(
            nft_expr(&r),
            "ip daddr 127.0.0.1 udp dport 53 dnat to 10.89.0.2:53 comment \"berth:port:c1:n1\""
        );
    }

    #[test]
    fn words() {
        assert_eq!(
            split_words(r#"-m comment --comment "netavark firewall" -j X"#),
            vec!["-m", "comment", "--comment", "netavark firewall", "-j", "X"]
        );
        assert_eq!(split_words("  a  b "), vec!["a", "b"]);
    }

    const SAVE: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:BERTH-FORWARD - [0:0]\n\
-A FORWARD -m comment --comment berth -j BERTH-FORWARD\n\
-A FORWARD -m comment --comment \"netavark firewall plugin rules\" -j NETAVARK_FORWARD\n\
-A BERTH-FORWARD -i br-abc -m comment --comment berth:net:abc123 -j ACCEPT\n\
-A BERTH-FORWARD -i br-def -m comment --comment berth:net:def -j ACCEPT\n\
COMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n\
-A BERTH-DNAT -p tcp -m tcp --dport 8080 -m comment --comment berth:port:c1:abc123 -j DNAT --to-destination 10.89.0.2:80\n\
COMMIT\n";

    #[test]
    fn save_parsing_and_script() {
        let (chains, saved) = parse_save(SAVE);
        assert!(chains.contains(&("filter".into(), "BERTH-FORWARD".into())));
        assert_eq!(saved.len(), 5);
        assert_eq!(
            saved[1].comment.as_deref(),
            Some("netavark firewall plugin rules")
        );
        let script = iptables_script(
            &chains,
            &saved,
            false,
            &[
                Selector::Exact(net_tag("abc123")),
                Selector::Prefix(port_tag_prefix("c1")),
            ],
            &[],
            false,
        );
        assert_eq!(
            script,
            "*filter\n-D BERTH-FORWARD -i br-abc -m comment --comment berth:net:abc123 -j ACCEPT\nCOMMIT\n\
*nat\n-D BERTH-DNAT -p tcp -m tcp --dport 8080 -m comment --comment berth:port:c1:abc123 -j DNAT --to-destination 10.89.0.2:80\nCOMMIT\n"
        );
        // infra: the missing chains are declared, the FORWARD jump (present) is not repeated
        let script = iptables_script(&chains, &saved, true, &[], &[], false);
        assert!(!script.contains("-I FORWARD 1"));
        assert!(script.contains(":BERTH-ISOLATION-1 - [0:0]"));
        assert!(!script.contains(":BERTH-FORWARD - [0:0]"));
        assert!(
            script.contains("-I BERTH-FORWARD 1 -m comment --comment berth -j BERTH-ISOLATION-1")
        );
        assert!(script.contains(":BERTH-DNAT - [0:0]"));
        assert!(script.contains(
            "-I PREROUTING 1 -m addrtype --dst-type LOCAL -m comment --comment berth -j BERTH-DNAT"
        ));
        assert!(script.contains(
            "*raw\n:BERTH-PREROUTING - [0:0]\n-I PREROUTING 1 -m comment --comment berth -j BERTH-PREROUTING\nCOMMIT\n"
        ));
        assert!(!infra_present(&chains, &saved));
        // the last rules go: the jumps and chains go with them
        let all = [
            Selector::Exact(net_tag("abc123")),
            Selector::Exact(net_tag("def")),
            Selector::Prefix(port_tag_prefix("c1")),
        ];
        assert!(!nothing_left(
            saved.iter().map(|s| s.comment.as_deref()),
            &all[..2]
        ));
        assert!(nothing_left(
            saved.iter().map(|s| s.comment.as_deref()),
            &all
        ));
        let script = iptables_script(&chains, &saved, false, &all, &[], true);
        assert!(script.contains(
            "-D FORWARD -m comment --comment berth -j BERTH-FORWARD\n-X BERTH-FORWARD\n"
        ));
        assert!(!script.contains("-X BERTH-ISOLATION-1"));
    }

    #[test]
    fn nft_list_parsing() {
        let text = "table ip berth {\n\tchain BERTH-FORWARD {\n\t\tiifname \"br-abc\" accept comment \"berth:net:abc123\" # handle 7\n\t\tjump BERTH-ISOLATION-1 comment \"berth\" # handle 3\n\t}\n\tchain forward { # handle 9\n\t\ttype filter hook forward priority -1; policy accept;\n\t\tjump BERTH-FORWARD comment \"berth\" # handle 10\n\t}\n}\n";
        let l = parse_nft_list(text);
        assert_eq!(
            l,
            vec![
                ("BERTH-FORWARD".into(), Some("berth:net:abc123".into()), 7),
                ("BERTH-FORWARD".into(), Some("berth".into()), 3),
                ("forward".into(), Some("berth".into()), 10),
            ]
        );
        let s = nft_script(
            Some(text),
            false,
            &[Selector::Exact(net_tag("abc123"))],
            &[],
        );
        assert_eq!(s, "delete rule ip berth BERTH-FORWARD handle 7\n");
        let s = nft_script(None, false, &[], &[]);
        assert!(s.contains(
            "add chain ip berth forward { type filter hook forward priority -1; policy accept; }"
        ));
        assert!(s.contains(
            "insert rule ip berth BERTH-FORWARD jump BERTH-ISOLATION-1 comment \"berth\""
        ));
        assert!(s.contains("add chain ip berth raw-prerouting { type filter hook prerouting priority -300; policy accept; }"));
        assert!(s.contains(
            "insert rule ip berth raw-prerouting jump BERTH-PREROUTING comment \"berth\""
        ));
        let r = &network_rules(ID, "br-abc", "10.89.5.0/24", false)[0];
        assert_eq!(
            nft_expr(r),
            "iifname \"br-abc\" ip daddr 127.0.0.0/8 drop comment \"berth:net:abc123\""
        );
    }

    /// A table written by an older berth gets the chains and jumps it lacks (and only those)
    /// when the infra is ensured; then nothing is left to add.
    #[test]
    fn nft_upgrade_adds_missing_infra() {
        let mut full = String::from("table ip berth {\n");
        let mut handle = 1;
        for (table, chain, r) in infra_rules() {
            let (name, hook) = nft_chain(table, chain);
            if table == Table::Raw {
                continue; // what an older berth did not have
            }
            full.push_str(&format!("\tchain {name} {{\n"));
            if let Some(h) = hook {
                full.push_str(&format!("\t\t{h}\n"));
            }
            full.push_str(&format!("\t\t{} # handle {handle}\n\t}}\n", nft_expr(&r)));
            handle += 1;
        }
        for c in [ISOLATION2, POSTROUTING, DNAT] {
            full.push_str(&format!("\tchain {c} {{\n\t}}\n"));
        }
        full.push_str("}\n");
        let s = nft_script(Some(&full), true, &[], &[]);
        assert_eq!(
            s,
            "add chain ip berth BERTH-PREROUTING\n\
             add chain ip berth raw-prerouting { type filter hook prerouting priority -300; policy accept; }\n\
             insert rule ip berth raw-prerouting jump BERTH-PREROUTING comment \"berth\"\n"
        );
        assert_eq!(nft_script(Some(&full), false, &[], &[]), "");
    }
}
