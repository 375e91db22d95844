//! Running the tools: the back end found on the host, and applying a change to berth's rules of
//! both families under berth's firewall lock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::iptables::infra_present;
use super::*;

/// `iptables-save` / `iptables-restore` of one family (`ip6tables-*` for IPv6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tools {
    pub save: PathBuf,
    pub restore: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// IPv4's tools and, when the host has them, IPv6's.
    Iptables { v4: Tools, v6: Option<Tools> },
    /// nft, with a table per family.
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

fn tools(prefix: &str) -> Option<Tools> {
    which(prefix)?;
    Some(Tools {
        save: which(&format!("{prefix}-save"))?,
        restore: which(&format!("{prefix}-restore"))?,
    })
}

/// What one family's rules are now.
enum Listing {
    /// iptables-save's chains and rules
    Ipt(Vec<(String, String)>, Vec<SavedRule>),
    /// `nft -a list table`, `None` without berth's table
    Nft(Option<String>),
}

impl Listing {
    fn comments(&self) -> Vec<Option<String>> {
        match self {
            Listing::Ipt(_, saved) => saved.iter().map(|s| s.comment.clone()).collect(),
            Listing::Nft(l) => l
                .as_deref()
                .map(parse_nft_list)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, c, _)| c)
                .collect(),
        }
    }

    fn count(&self, remove: &[Selector]) -> usize {
        let c = self.comments();
        c.iter()
            .filter(|c| remove.iter().any(|sel| sel.matches(c.as_deref())))
            .count()
    }

    fn infra_present(&self, family: Family) -> bool {
        match self {
            Listing::Ipt(chains, saved) => infra_present(family, chains, saved),
            Listing::Nft(l) => {
                l.is_some() && nft_script(family, l.as_deref(), true, &[], &[]).is_empty()
            }
        }
    }
}

/// A family's part of a change.
struct Part {
    family: Family,
    listing: Listing,
    add: Vec<Rule>,
    /// berth's chains and jumps must be there (IPv6's only once it has rules)
    ensure_infra: bool,
}

impl Backend {
    /// iptables when present (BERTH_FIREWALL=nft forces nft), else nft.
    pub fn detect() -> Result<Backend> {
        let force_nft = std::env::var("BERTH_FIREWALL").is_ok_and(|v| v == "nft");
        if !force_nft {
            if let Some(v4) = tools("iptables") {
                let v6 = tools("ip6tables");
                return Ok(Backend::Iptables { v4, v6 });
            }
        }
        which("nft")
            .map(Backend::Nft)
            .ok_or_else(|| Error::Firewall("neither iptables nor nft found in PATH".into()))
    }

    /// The iptables tools of `family` (None: nft, or no ip6tables on the host).
    fn ipt_tools(&self, family: Family) -> Option<&Tools> {
        match (self, family) {
            (Backend::Iptables { v4, .. }, Family::V4) => Some(v4),
            (Backend::Iptables { v6, .. }, Family::V6) => v6.as_ref(),
            (Backend::Nft(_), _) => None,
        }
    }

    /// The family's rules now; `None` when the host cannot have rules of that family (no
    /// ip6tables, or a kernel without it).
    fn list(&self, family: Family) -> Result<Option<Listing>> {
        match self {
            Backend::Iptables { .. } => {
                let Some(t) = self.ipt_tools(family) else {
                    return Ok(None);
                };
                match run(&t.save, &[], None) {
                    Ok(text) => {
                        let (chains, saved) = parse_save(&text);
                        Ok(Some(Listing::Ipt(chains, saved)))
                    }
                    Err(_) if family == Family::V6 => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Backend::Nft(nft) => {
                let args = ["-a", "list", "table", family.nft(), NFT_TABLE];
                Ok(Some(Listing::Nft(run(nft, &args, None).ok())))
            }
        }
    }

    /// Apply, under berth's firewall lock: optionally make sure berth's chains and jumps exist,
    /// delete the rules picked by `remove` (in both families), append `add`. With
    /// `only_if_count`, nothing is done when exactly that many rules already carry the single
    /// `remove` selector's tag (the rules are in place). Rules of a family the host cannot
    /// apply are an error, never skipped.
    pub fn apply(
        &self,
        ensure_infra: bool,
        remove: &[Selector],
        add: &[Rule],
        only_if_count: Option<usize>,
    ) -> Result<()> {
        let _lock = FwLock::take()?;
        let mut parts = Vec::new();
        for family in Family::ALL {
            let fadd: Vec<Rule> = add.iter().filter(|r| r.family == family).cloned().collect();
            let listing = match self.list(family)? {
                Some(l) => l,
                None if fadd.is_empty() => continue,
                None => return Err(no_v6("ip6tables is not usable on this host")),
            };
            let ensure_infra = ensure_infra && (family == Family::V4 || !fadd.is_empty());
            parts.push(Part {
                family,
                listing,
                add: fadd,
                ensure_infra,
            });
        }
        if let Some(n) = only_if_count {
            let have: usize = parts.iter().map(|p| p.listing.count(remove)).sum();
            let infra_ok = parts
                .iter()
                .all(|p| !p.ensure_infra || p.listing.infra_present(p.family));
            if have == n && infra_ok {
                return Ok(());
            }
        }
        for p in parts {
            self.write(&p, remove).map_err(|e| match p.family {
                Family::V6 if !p.add.is_empty() => no_v6(&e.to_string()),
                _ => e,
            })?;
        }
        Ok(())
    }

    /// One family's change.
    fn write(&self, p: &Part, remove: &[Selector]) -> Result<()> {
        let comments = p.listing.comments();
        let drop_infra = !p.ensure_infra
            && p.add.is_empty()
            && !remove.is_empty()
            && nothing_left(comments.iter().map(|c| c.as_deref()), remove);
        match (self, &p.listing) {
            (Backend::Iptables { .. }, Listing::Ipt(chains, saved)) => {
                let Some(t) = self.ipt_tools(p.family) else {
                    return Ok(());
                };
                let script = |drop_infra| {
                    let s = iptables_script(
                        p.family,
                        chains,
                        saved,
                        p.ensure_infra,
                        remove,
                        &p.add,
                        drop_infra,
                    );
                    (!s.is_empty()).then_some(s)
                };
                let restore = |s: String| run(&t.restore, &["--noflush"], Some(&s)).map(|_| ());
                let Some(first) = script(drop_infra) else {
                    return Ok(());
                };
                match restore(first) {
                    // a chain someone else put a rule in cannot go: keep the jumps then
                    Err(_) if drop_infra => script(false).map_or(Ok(()), restore),
                    r => r,
                }
            }
            (Backend::Nft(nft), Listing::Nft(listed)) => {
                let fam = p.family.nft();
                if listed.is_none() && !p.ensure_infra && p.add.is_empty() {
                    return Ok(()); // no table: nothing of berth's to delete
                }
                if listed.is_some() && drop_infra {
                    let script = format!("delete table {fam} {NFT_TABLE}\n");
                    return run(nft, &["-f", "-"], Some(&script)).map(|_| ());
                }
                let script =
                    nft_script(p.family, listed.as_deref(), p.ensure_infra, remove, &p.add);
                if script.is_empty() {
                    return Ok(());
                }
                run(nft, &["-f", "-"], Some(&script)).map(|_| ())
            }
            _ => unreachable!("a listing of another back end"),
        }
    }
}

/// An IPv6 network whose isolation cannot be applied: refused.
fn no_v6(detail: &str) -> Error {
    Error::Firewall(format!(
        "cannot apply the IPv6 firewall rules an IPv6 network needs (isolation from other \
         networks, internal networks kept inside): {detail}"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A host without ip6tables: an IPv6 network's rules are refused with an error naming
    /// IPv6, before anything is written (here IPv4's restore would fail, and is never run);
    /// IPv4 rules alone and removals go on as before.
    #[test]
    fn ipv6_rules_without_ip6tables_are_refused_before_any_change() {
        let fake = |save: &str, restore: &str| Tools {
            save: save.into(),
            restore: restore.into(),
        };
        let b = Backend::Iptables {
            v4: fake("/bin/true", "/bin/false"),
            v6: None,
        };
        let rules = network_rules("n1", "br-n1", "10.89.5.0/24", Some("fd00:1::/64"), true);
        let e = b.apply(true, &[], &rules, None).unwrap_err().to_string();
        assert!(
            e.contains("cannot apply the IPv6 firewall rules") && e.contains("ip6tables"),
            "{e}"
        );
        // removing a network's rules needs no IPv6 family (there can be none of it)
        let b = Backend::Iptables {
            v4: fake("/bin/true", "/bin/true"),
            v6: None,
        };
        b.apply(false, &[Selector::Exact(net_tag("n1"))], &[], None)
            .unwrap();
    }
}
