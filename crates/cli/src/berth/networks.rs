//! `berth network create/ls/inspect/rm/connect/disconnect/prune`.

use super::containers::{daemon, print_inspect};
use super::flags::key_values;
use super::template;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use engine::engine::Engine;
use engine::{filters, net};
use serde_json::json;
use std::io::IsTerminal;

#[derive(Subcommand, Debug)]
#[command(defer = true)]
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
    /// Subnet in CIDR format (once per address family)
    #[arg(long)]
    pub subnet: Vec<String>,
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container addresses from a sub-range
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Keep an address of the subnet out of allocation (name=address)
    #[arg(long = "aux-address")]
    pub aux_address: Vec<String>,
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
    /// IPv6 address on a network with IPv6
    #[arg(long)]
    pub ip6: Option<String>,
    /// Link-local addresses of the endpoint
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// Add a link to another container (name:alias), resolved on this network
    #[arg(long)]
    pub link: Vec<String>,
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

pub fn run(engine: &Engine, cmd: NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create(a) => create(engine, a),
        NetworkCmd::Ls(a) => ls(engine, a),
        NetworkCmd::Inspect(a) => inspect(engine, a),
        NetworkCmd::Rm(a) => rm(engine, a),
        NetworkCmd::Connect(a) => {
            let spec = net::EndpointSpec {
                aliases: a.alias,
                ip: a.ip,
                ip6: a.ip6,
                link_local_ips: a.link_local_ip,
                links: a.link,
                mac: None,
            };
            net::connect_endpoint(engine, &a.container, &a.network, &spec).map_err(daemon)?;
            Ok(0)
        }
        NetworkCmd::Disconnect(a) => {
            net::disconnect_container(engine, &a.container, &a.network).map_err(daemon)?;
            Ok(0)
        }
        NetworkCmd::Prune(a) => prune(engine, a),
    }
}

/// `network create`: prints the new id after any warnings.
fn create(engine: &Engine, a: CreateArgs) -> Result<i32> {
    // one of each per address family, told apart by their colons
    let family = |l: &[String], v6: bool| -> Result<Option<String>> {
        let mut it = l.iter().filter(|s| s.contains(':') == v6);
        let first = it.next().cloned();
        if it.next().is_some() {
            bail!(
                "berth's bridge networks take one IPv{} pool",
                if v6 { 6 } else { 4 }
            );
        }
        Ok(first)
    };
    let (n, warnings) = net::create(
        engine,
        &net::NetworkRequest {
            name: a.name,
            driver: a.driver,
            subnet: family(&a.subnet, false)?,
            gateway: family(&a.gateway, false)?,
            ip_range: family(&a.ip_range, false)?,
            ipv6: network::Ipv6Request {
                enable: a.ipv6,
                subnet: family(&a.subnet, true)?,
                gateway: family(&a.gateway, true)?,
                ip_range: family(&a.ip_range, true)?,
            },
            internal: a.internal,
            attachable: a.attachable,
            labels: key_values(&a.label),
            options: key_values(&a.opt),
            aux: key_values(&a.aux_address),
        },
    )
    .map_err(daemon)?;
    for w in warnings {
        eprintln!("{w}");
    }
    println!("{}", n.id);
    Ok(0)
}

/// `network ls`: docker's columns (or `--format`), ids cut to 12 unless `--no-trunc`.
fn ls(engine: &Engine, a: LsArgs) -> Result<i32> {
    let mut rows = Vec::new();
    let f = filters::from_flags(&a.filter).map_err(daemon)?;
    for mut n in net::list_filtered(engine, &f).map_err(daemon)? {
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

/// `network inspect`: what was found, printed; exit 1 if any name was not.
fn inspect(engine: &Engine, a: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.names {
        match net::find_json(engine, n).map_err(daemon) {
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

/// `network rm`: each name printed as it goes; `--force` ignores missing ones.
fn rm(engine: &Engine, a: RmArgs) -> Result<i32> {
    let mut code = 0;
    for n in &a.names {
        match net::remove(engine, n).map_err(|e| e.to_string()) {
            Ok(_) => println!("{n}"),
            Err(e) if a.force && e.contains("not found") => {}
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `network prune`: asks first on a terminal unless `--force`.
fn prune(engine: &Engine, a: PruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let f = filters::from_flags(&a.filter).map_err(daemon)?;
    let gone = net::prune(engine, &f).map_err(daemon)?;
    if !gone.is_empty() {
        println!("Deleted Networks:");
        for g in gone {
            println!("{g}");
        }
    }
    Ok(0)
}
