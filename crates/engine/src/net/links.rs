//! Legacy links (`--link`, `HostConfig.Links`) of the default bridge, as dockerd keeps them:
//! stored as "/target:/container/alias", they give the linking container the target's address
//! in /etc/hosts and docker's `ALIAS_NAME`/`ALIAS_PORT_*`/`ALIAS_ENV_*` variables at start, and
//! `DELETE /containers/{container}/{alias}?link=1` removes one.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;

/// A link resolved at start: the target as the linking container sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    pub alias: String,
    /// "/container/alias"
    pub name: String,
    pub ip: String,
    pub hostname: String,
    /// the target's name without docker's leading `/`
    pub target: String,
    /// the target's `Config.Env`
    pub env: Vec<String>,
    /// "80/tcp" ... (exposed and published), sorted by port
    pub ports: Vec<(u16, String)>,
}

/// The links of a new container named `name`, in dockerd's stored form: each "target[:alias]"
/// names an existing container (its name is what is stored), the alias defaulting to it.
pub fn normalize(engine: &Engine, name: &str, links: &[String]) -> Result<Vec<String>> {
    links
        .iter()
        .map(|l| {
            let (target, alias) = parse(l);
            let t = engine
                .find(target)
                .map_err(|_| Error::Invalid(format!("could not get container for {target}")))?;
            Ok(format!("/{}:/{name}/{alias}", t.short_name()))
        })
        .collect()
}

/// (target, alias) of "target[:alias]" or of the stored "/target:/container/alias".
fn parse(link: &str) -> (&str, &str) {
    let (target, alias) = link.split_once(':').unwrap_or((link, link));
    let target = target.trim_start_matches('/');
    let alias = alias.rsplit('/').next().unwrap_or(alias);
    (target, alias)
}

/// The links of `c` on the default bridge, resolved against their running targets (dockerd
/// refuses to start a container whose link target does not run).
pub fn resolve(engine: &Engine, c: &Container) -> Result<Vec<Linked>> {
    let mut out = Vec::new();
    // as dockerd: legacy links are a feature of the default bridge only (on a user network the
    // client gives them to the endpoint, whose DNS resolves them)
    if c.network_settings.pointer("/Networks/bridge").is_none() {
        return Ok(out);
    }
    for l in c.host_config.links.iter().flatten() {
        let (target, alias) = parse(l);
        let name = format!("/{}/{alias}", c.short_name());
        let t = engine
            .find_reconciled(target)
            .ok()
            .filter(|t| t.state.running);
        let Some(t) = t else {
            return Err(Error::Invalid(format!(
                "Cannot link to a non running container: /{target} AS {name}"
            )));
        };
        let ip = t
            .network_settings
            .pointer("/Networks/bridge/IPAddress")
            .or_else(|| t.network_settings.get("IPAddress"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let mut ports: Vec<(u16, String)> = t
            .config
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys())
            .chain(t.host_config.port_bindings.keys())
            .filter_map(|k| {
                let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                Some((p.parse().ok()?, proto.to_string()))
            })
            .collect();
        ports.sort();
        ports.dedup();
        out.push(Linked {
            alias: alias.to_string(),
            name,
            ip,
            hostname: t.config.hostname.clone(),
            target: t.short_name().to_string(),
            env: t.config.env.clone(),
            ports,
        });
    }
    Ok(out)
}

/// docker's link variables: `ALIAS_NAME`, `ALIAS_PORT` (the lowest port), per port
/// `ALIAS_PORT_80_TCP{,_ADDR,_PORT,_PROTO}`, and the target's environment as `ALIAS_ENV_*`
/// (but HOME and PATH).
pub fn env(links: &[Linked]) -> Vec<String> {
    let mut out = Vec::new();
    for l in links {
        let a = l.alias.to_uppercase().replace('-', "_");
        out.push(format!("{a}_NAME={}", l.name));
        if let Some((p, proto)) = l.ports.first() {
            out.push(format!("{a}_PORT={proto}://{}:{p}", l.ip));
        }
        for (p, proto) in &l.ports {
            let key = format!("{a}_PORT_{p}_{}", proto.to_uppercase());
            out.push(format!("{key}={proto}://{}:{p}", l.ip));
            out.push(format!("{key}_ADDR={}", l.ip));
            out.push(format!("{key}_PORT={p}"));
            out.push(format!("{key}_PROTO={proto}"));
        }
        for e in &l.env {
            let Some((k, v)) = e.split_once('=') else {
                continue;
            };
            if k != "HOME" && k != "PATH" {
                out.push(format!("{a}_ENV_{k}={v}"));
            }
        }
    }
    out
}

/// The /etc/hosts lines of the links: "ip\talias hostname target".
pub fn hosts(links: &[Linked]) -> String {
    links
        .iter()
        .filter(|l| !l.ip.is_empty())
        .map(|l| format!("{}\t{} {} {}\n", l.ip, l.alias, l.hostname, l.target))
        .collect()
}

/// `DELETE /containers/{container}/{alias}?link=1`: the link goes, both containers stay.
pub fn remove(engine: &Engine, link_name: &str) -> Result<()> {
    let path = link_name.trim_start_matches('/');
    let Some((container, alias)) = path.rsplit_once('/') else {
        return Err(Error::Conflict(
            "Conflict, cannot remove the default link name of the container".into(),
        ));
    };
    let c = engine.find(container)?;
    let has = |c: &Container| {
        c.host_config
            .links
            .iter()
            .flatten()
            .any(|l| parse(l).1 == alias)
    };
    if !has(&c) {
        return Err(Error::NoSuchContainer(path.to_string()));
    }
    engine.store.update(&c.id, |c| {
        if let Some(l) = c.host_config.links.as_mut() {
            l.retain(|l| parse(l).1 != alias);
        }
        if c.host_config.links.as_ref().is_some_and(|l| l.is_empty()) {
            c.host_config.links = None;
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_variables_as_docker_sets_them() {
        let l = Linked {
            alias: "my-db".into(),
            name: "/web/my-db".into(),
            ip: "10.88.0.2".into(),
            hostname: "abc".into(),
            target: "db".into(),
            env: vec!["PATH=/bin".into(), "FOO=bar".into(), "HOME=/root".into()],
            ports: vec![(53, "udp".into()), (80, "tcp".into())],
        };
        assert_eq!(
            env(std::slice::from_ref(&l)),
            vec![
                "MY_DB_NAME=/web/my-db",
                "MY_DB_PORT=udp://10.88.0.2:53",
                "MY_DB_PORT_53_UDP=udp://10.88.0.2:53",
                "MY_DB_PORT_53_UDP_ADDR=10.88.0.2",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_80_TCP=tcp://10.88.0.2:80",
                "MY_DB_PORT_80_TCP_ADDR=10.88.0.2",
                "MY_DB_PORT_80_TCP_PORT=80",
                "MY_DB_PORT_80_TCP_PROTO=tcp",
                "MY_DB_ENV_FOO=bar",
            ]
        );
        assert_eq!(hosts(&[l]), "10.88.0.2\tmy-db abc db\n");
        assert_eq!(parse("/db:/web/my-db"), ("db", "my-db"));
        assert_eq!(parse("db:x"), ("db", "x"));
        assert_eq!(parse("db"), ("db", "db"));
    }
}
