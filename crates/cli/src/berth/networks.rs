//! `berth network create/ls/inspect/rm/connect/disconnect/prune`.

use super::containers::{daemon, print_inspect};
use super::template;
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use engine::engine::Engine;
use engine::net;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    #[arg(long)]
    pub subnet: Option<String>,
    #[arg(long)]
    pub gateway: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    #[arg(long)]
    pub label: Vec<String>,
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    #[arg(long)]
    pub attachable: bool,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    #[arg(long)]
    pub format: Option<String>,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    #[arg(long)]
    pub alias: Vec<String>,
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(long)]
    pub filter: Vec<String>,
}

/// docker lists its `host` and `none` pseudo networks too.
fn pseudo(name: &str) -> Value {
    let id = {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in name.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}").repeat(4)
    };
    json!({"Name": name, "Id": id, "Driver": if name == "host" { "host" } else { "null" }, "Scope": "local",
        "Internal": false, "IPAM": {"Driver": "default", "Config": []}, "Containers": {}, "Options": {}, "Labels": {}})
}

fn all(engine: &Engine) -> Result<Vec<Value>> {
    let m = engine.networks().map_err(daemon)?;
    m.default_network().map_err(daemon)?;
    let mut out = Vec::new();
    for n in m.list().map_err(daemon)? {
        out.push(net::inspect_json(engine, &n).map_err(daemon)?);
    }
    out.push(pseudo("host"));
    out.push(pseudo("none"));
    out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
    Ok(out)
}

fn find(engine: &Engine, name: &str) -> Result<Value> {
    if name == "host" || name == "none" {
        return Ok(pseudo(name));
    }
    let n = engine
        .network(name)
        .map_err(|_| daemon(format!("network {name} not found")))?;
    net::inspect_json(engine, &n).map_err(daemon)
}

pub fn run(engine: &Engine, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create(a) => {
            if a.driver != "bridge" {
                return Err(daemon(format!(
                    "plugin \"{}\" not found (berth supports the bridge driver)",
                    a.driver
                )));
            }
            let mut labels = BTreeMap::new();
            for l in &a.label {
                let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                labels.insert(k.to_string(), v.to_string());
            }
            let n = engine
                .networks()
                .map_err(daemon)?
                .create(
                    &a.name,
                    a.subnet.as_deref(),
                    a.gateway.as_deref(),
                    a.internal,
                    labels,
                )
                .map_err(daemon)?;
            println!("{}", n.id);
            Ok(0)
        }
        NetworkCmd::Ls(a) => {
            let mut rows = Vec::new();
            for mut n in all(engine)? {
                let mut ok = true;
                for f in &a.filter {
                    let (k, v) = f
                        .split_once('=')
                        .ok_or_else(|| anyhow!("invalid filter '{f}'"))?;
                    ok &= match k {
                        "name" => n["Name"].as_str().unwrap_or("").contains(v),
                        "id" => n["Id"].as_str().unwrap_or("").starts_with(v),
                        "driver" => n["Driver"] == v,
                        "type" => {
                            (v == "builtin")
                                == matches!(n["Name"].as_str(), Some("bridge" | "host" | "none"))
                        }
                        "label" => match v.split_once('=') {
                            Some((lk, lv)) => n["Labels"][lk] == lv,
                            None => n["Labels"].get(v).is_some(),
                        },
                        "dangling" => {
                            let empty = n["Containers"].as_object().is_none_or(|m| m.is_empty());
                            (v == "true" || v == "1") == empty
                        }
                        _ => return Err(anyhow!("invalid filter '{k}'")),
                    };
                }
                if !ok {
                    continue;
                }
                let id = n["Id"].as_str().unwrap_or("").to_string();
                let short = if a.no_trunc {
                    id.clone()
                } else {
                    id[..12.min(id.len())].to_string()
                };
                if a.quiet {
                    println!("{short}");
                    continue;
                }
                n["ID"] = json!(short);
                n["IPv6"] = json!("false");
                n["Internal"] = json!(n["Internal"].as_bool().unwrap_or(false).to_string());
                n["CreatedAt"] = n.get("Created").cloned().unwrap_or(json!(""));
                let labels: Vec<String> = n["Labels"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                n["Labels"] = json!(labels.join(","));
                rows.push(n);
            }
            if !a.quiet {
                print!(
                    "{}",
                    template::format_list(
                        a.format.as_deref(),
                        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                        &[
                            ("ID", "NETWORK ID"),
                            ("Name", "NAME"),
                            ("Driver", "DRIVER"),
                            ("Scope", "SCOPE"),
                            ("IPv6", "IPV6"),
                            ("Internal", "INTERNAL"),
                            ("Labels", "LABELS"),
                            ("CreatedAt", "CREATED"),
                        ],
                        &rows
                    )?
                );
            }
            Ok(0)
        }
        NetworkCmd::Inspect(a) => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &a.names {
                match find(engine, n) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            print_inspect(&out, a.format.as_deref())?;
            Ok(code)
        }
        NetworkCmd::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                let r = if matches!(n.as_str(), "bridge" | "host" | "none") {
                    Err(format!(
                        "{n} is a pre-defined network and cannot be removed"
                    ))
                } else {
                    engine
                        .networks()
                        .map_err(|e| e.to_string())
                        .and_then(|m| m.remove(n).map_err(|e| e.to_string()))
                };
                match r {
                    Ok(()) => println!("{n}"),
                    Err(e) if a.force && e.contains("not found") => {}
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        NetworkCmd::Connect(a) => {
            net::connect_container(engine, &a.container, &a.network, &a.alias, a.ip.as_deref())
                .map_err(daemon)?;
            Ok(0)
        }
        NetworkCmd::Disconnect(a) => {
            net::disconnect_container(engine, &a.container, &a.network).map_err(daemon)?;
            Ok(0)
        }
        NetworkCmd::Prune(a) => {
            if !a.force && std::io::stdin().is_terminal() {
                eprint!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                let mut l = String::new();
                std::io::stdin().read_line(&mut l)?;
                if !l.trim().eq_ignore_ascii_case("y") {
                    return Ok(0);
                }
            }
            let gone = prune(engine)?;
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for g in gone {
                    println!("{g}");
                }
            }
            Ok(0)
        }
    }
}

/// Remove networks no container (running or not) refers to.
pub fn prune(engine: &Engine) -> Result<Vec<String>> {
    let used: std::collections::HashSet<String> = engine
        .list()
        .map_err(daemon)?
        .iter()
        .flat_map(|c| {
            c.network_settings
                .get("Networks")
                .and_then(|n| n.as_object())
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect();
    let m = engine.networks().map_err(daemon)?;
    let mut gone = Vec::new();
    for n in m.list().map_err(daemon)? {
        if n.name == "bridge" || used.contains(&n.name) {
            continue;
        }
        if m.remove(&n.name).is_ok() {
            gone.push(n.name);
        }
    }
    // a second state root's default bridge goes too once nothing runs on it (berth0 of the
    // main root stays, as docker0 does)
    m.retire_private_default().map_err(daemon)?;
    Ok(gone)
}
