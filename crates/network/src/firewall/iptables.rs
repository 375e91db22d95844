//! iptables rendering and parsing (`iptables-save` / `iptables-restore --noflush`).

use super::*;

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

/// The `iptables-restore --noflush` script that makes berth's chains and jumps exist (given
/// what is there), deletes the saved rules chosen by `remove` and appends `add`; with
/// `drop_infra`, also deletes berth's jumps and chains.
pub fn iptables_script(
    family: Family,
    saved_chains: &[(String, String)],
    saved: &[SavedRule],
    ensure_infra: bool,
    remove: &[Selector],
    add: &[Rule],
    drop_infra: bool,
) -> String {
    let mut out = String::new();
    for &table in Table::of(family) {
        let tn = table.name();
        let mut body = String::new();
        let mut decl = String::new();
        if ensure_infra {
            for c in chains(table) {
                if !saved_chains.iter().any(|(t, n)| t == tn && n == c) {
                    decl.push_str(&format!(":{c} - [0:0]\n"));
                }
            }
            for (t, chain, r) in infra_rules(family) {
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

pub(super) fn infra_present(
    family: Family,
    saved_chains: &[(String, String)],
    saved: &[SavedRule],
) -> bool {
    let chains_ok = Table::of(family).iter().all(|t| {
        chains(*t)
            .iter()
            .all(|c| chains_has(saved_chains, t.name(), c))
    });
    chains_ok
        && infra_rules(family).iter().all(|(t, chain, _)| {
            saved.iter().any(|s| {
                s.table == t.name() && s.chain == *chain && s.comment.as_deref() == Some(INFRA_TAG)
            })
        })
}

fn chains_has(chains: &[(String, String)], table: &str, chain: &str) -> bool {
    chains.iter().any(|(t, c)| t == table && c == chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abc123";

    #[test]
    fn network_rules_render() {
        let rules = network_rules(ID, "br-abc", "10.89.5.0/24", None, false);
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
        let internal = network_rules(ID, "br-abc", "10.89.5.0/24", None, true);
        assert!(internal.iter().all(|r| r.table != Table::Nat));
        assert_eq!(internal.iter().filter(|r| r.table == Table::Raw).count(), 2);
        assert!(internal
            .iter()
            .any(|r| r.matches == vec![Match::InIf("br-abc".into())] && r.target == Target::Drop));
    }

    /// An IPv6 network gets the same isolation, forwarding, internal and masquerade rules in
    /// the IPv6 family (no loopback guard, no hairpin: those are IPv4's published ports').
    #[test]
    fn ipv6_network_rules_mirror_ipv4() {
        let render = |rules: &[Rule], f: Family| -> Vec<String> {
            rules
                .iter()
                .filter(|r| r.family == f)
                .map(|r| format!("-A {} {}", r.chain, iptables_args(r).join(" ")))
                .collect()
        };
        let v4only = network_rules(ID, "br-abc", "10.89.5.0/24", None, false);
        assert!(v4only.iter().all(|r| r.family == Family::V4));
        let dual = network_rules(ID, "br-abc", "10.89.5.0/24", Some("fd00:1::/64"), false);
        assert_eq!(render(&dual, Family::V4), render(&v4only, Family::V4));
        let v6 = render(&dual, Family::V6);
        assert_eq!(
            v6,
            [
                "-A BERTH-ISOLATION-1 -i br-abc ! -o br-abc -m comment --comment berth:net:abc123 -j BERTH-ISOLATION-2",
                "-A BERTH-ISOLATION-2 -o br-abc -m comment --comment berth:net:abc123 -j DROP",
                "-A BERTH-FORWARD -o br-abc -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment berth:net:abc123 -j ACCEPT",
                "-A BERTH-FORWARD -o br-abc -m conntrack --ctstate DNAT -m comment --comment berth:net:abc123 -j ACCEPT",
                "-A BERTH-FORWARD -i br-abc -m comment --comment berth:net:abc123 -j ACCEPT",
                "-A BERTH-POSTROUTING -s fd00:1::/64 ! -o br-abc -m comment --comment berth:net:abc123 -j MASQUERADE",
            ]
        );
        let masq = dual.iter().rfind(|r| r.family == Family::V6).unwrap();
        assert_eq!(
            nft_expr(masq),
            "ip6 saddr fd00:1::/64 oifname != \"br-abc\" masquerade comment \"berth:net:abc123\""
        );
        // internal: kept inside in IPv6 too, no NAT
        let internal = network_rules(ID, "br-abc", "10.89.5.0/24", Some("fd00:1::/64"), true);
        let v6 = render(&internal, Family::V6);
        assert!(v6.iter().all(|l| !l.contains("MASQUERADE")), "{v6:#?}");
        for want in [
            "-A BERTH-FORWARD -i br-abc -o br-abc -m comment --comment berth:net:abc123 -j ACCEPT",
            "-A BERTH-FORWARD -i br-abc -m comment --comment berth:net:abc123 -j DROP",
            "-A BERTH-FORWARD -o br-abc -m comment --comment berth:net:abc123 -j DROP",
        ] {
            assert!(v6.contains(&want.to_string()), "{want} in {v6:#?}");
        }
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
            Family::V4,
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
        let script = iptables_script(Family::V4, &chains, &saved, true, &[], &[], false);
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
        assert!(!infra_present(Family::V4, &chains, &saved));
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
        let script = iptables_script(Family::V4, &chains, &saved, false, &all, &[], true);
        assert!(script.contains(
            "-D FORWARD -m comment --comment berth -j BERTH-FORWARD\n-X BERTH-FORWARD\n"
        ));
        assert!(!script.contains("-X BERTH-ISOLATION-1"));
    }
}
