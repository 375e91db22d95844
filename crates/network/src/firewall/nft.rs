//! nft rendering and parsing (fallback when iptables is missing): a table of berth's own per
//! family, `ip berth` and `ip6 berth`.

use super::*;

pub const NFT_TABLE: &str = "berth";

pub fn nft_expr(r: &Rule) -> String {
    let ip = r.family.nft();
    let mut a: Vec<String> = Vec::new();
    for m in &r.matches {
        a.push(match m {
            Match::InIf(i) => format!("iifname \"{i}\""),
            Match::OutIf(i) => format!("oifname \"{i}\""),
            Match::NotOutIf(i) => format!("oifname != \"{i}\""),
            Match::Src(s) => format!("{ip} saddr {s}"),
            Match::NotSrc(s) => format!("{ip} saddr != {s}"),
            Match::Dst(d) => format!("{ip} daddr {d}"),
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
pub(super) fn nft_chain(table: Table, chain: &'static str) -> (&'static str, Option<&'static str>) {
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

/// The `nft -f` script that (given the listing of berth's table of `family`, `None` when there is none)
/// makes the table, chains and jumps exist when missing or with `ensure_infra` (an older
/// berth's table lacks the newer ones), deletes the rules picked by `remove` and appends `add`.
pub fn nft_script(
    family: Family,
    listed: Option<&str>,
    ensure_infra: bool,
    remove: &[Selector],
    add: &[Rule],
) -> String {
    let fam = family.nft();
    let mut s = String::new();
    let listed_rules = listed.map(parse_nft_list).unwrap_or_default();
    if listed.is_none() {
        s.push_str(&format!("add table {fam} {NFT_TABLE}\n"));
    }
    if listed.is_none() || ensure_infra {
        let have = listed.map(nft_chain_names).unwrap_or_default();
        let has = |c: &str| have.iter().any(|h| h == c);
        // the jump targets first
        for c in Table::of(family).iter().flat_map(|t| chains(*t)) {
            if !has(c) {
                s.push_str(&format!("add chain {fam} {NFT_TABLE} {c}\n"));
            }
        }
        for (table, chain, r) in infra_rules(family) {
            let (name, hook) = nft_chain(table, chain);
            if let Some(spec) = hook.filter(|_| !has(name)) {
                s.push_str(&format!(
                    "add chain {fam} {NFT_TABLE} {name} {{ {spec} }}\n"
                ));
            }
            let present = listed_rules
                .iter()
                .any(|(c, comment, _)| c == name && comment.as_deref() == Some(INFRA_TAG));
            if !present {
                s.push_str(&format!(
                    "insert rule {fam} {NFT_TABLE} {name} {}\n",
                    nft_expr(&r)
                ));
            }
        }
    }
    for (chain, comment, handle) in &listed_rules {
        if remove.iter().any(|sel| sel.matches(comment.as_deref())) {
            s.push_str(&format!(
                "delete rule {fam} {NFT_TABLE} {chain} handle {handle}\n"
            ));
        }
    }
    for r in add {
        s.push_str(&format!(
            "add rule {fam} {NFT_TABLE} {} {}\n",
            r.chain,
            nft_expr(r)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abc123";

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
            Family::V4,
            Some(text),
            false,
            &[Selector::Exact(net_tag("abc123"))],
            &[],
        );
        assert_eq!(s, "delete rule ip berth BERTH-FORWARD handle 7\n");
        let s = nft_script(Family::V4, None, false, &[], &[]);
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
        let r = &network_rules(ID, "br-abc", "10.89.5.0/24", None, false)[0];
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
        for (table, chain, r) in infra_rules(Family::V4) {
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
        let s = nft_script(Family::V4, Some(&full), true, &[], &[]);
        assert_eq!(
            s,
            "add chain ip berth BERTH-PREROUTING\n\
             add chain ip berth raw-prerouting { type filter hook prerouting priority -300; policy accept; }\n\
             insert rule ip berth raw-prerouting jump BERTH-PREROUTING comment \"berth\"\n"
        );
        assert_eq!(nft_script(Family::V4, Some(&full), false, &[], &[]), "");
    }

    /// berth's IPv6 table is `ip6 berth`, with the same chains.
    #[test]
    fn nft_ipv6_table() {
        let rules = network_rules(ID, "br-abc", "10.89.5.0/24", Some("fd00:1::/64"), false);
        let v6: Vec<Rule> = rules
            .into_iter()
            .filter(|r| r.family == Family::V6)
            .collect();
        let s = nft_script(Family::V6, None, true, &[], &v6);
        assert!(s.starts_with("add table ip6 berth\n"), "{s}");
        assert!(s.contains(
            "add chain ip6 berth forward { type filter hook forward priority -1; policy accept; }"
        ));
        assert!(s.contains(
            "add rule ip6 berth BERTH-POSTROUTING ip6 saddr fd00:1::/64 oifname != \"br-abc\" masquerade comment \"berth:net:abc123\""
        ));
        assert!(!s.contains(" ip "), "{s}");
        // no raw chain: IPv6 has no rule there
        assert!(!s.contains("PREROUTING"), "{s}");
    }
}
