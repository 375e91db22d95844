//! `berth volume create/ls/inspect/rm/prune`.

use super::containers::{daemon, print_inspect};
use super::flags::key_values;
use super::output::human_size;
use super::template;
use anyhow::Result;
use clap::{Args, Subcommand};
use engine::engine::Engine;
use engine::{filters, volumes};
use std::io::IsTerminal;

// one value per process, parsed once: the size of its largest variant costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
    /// Update a volume (cluster volumes only)
    Update(super::swarmish::VolumeUpdateArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: Option<String>,
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    #[arg(long)]
    pub label: Vec<String>,
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    #[command(flatten)]
    pub cluster: super::swarmish::ClusterVolumeFlags,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    #[arg(long)]
    pub format: Option<String>,
    /// Display only cluster volumes (berth has none: no swarm mode)
    #[arg(long)]
    pub cluster: bool,
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
pub struct PruneArgs {
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(long)]
    pub filter: Vec<String>,
}

pub fn run(engine: &Engine, cmd: VolumeCmd) -> Result<i32> {
    match cmd {
        VolumeCmd::Update(a) => super::swarmish::volume_update(engine, a),
        VolumeCmd::Create(a) => {
            a.cluster.refuse_if_set()?;
            let (v, _) = volumes::create_with(
                &engine.store,
                &engine.root,
                a.name.as_deref(),
                &a.driver,
                key_values(&a.label),
                key_values(&a.opt),
                false,
            )
            .map_err(daemon)?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCmd::Ls(a) if a.cluster => {
            // no swarm, so no cluster volumes: docker's cluster listing, empty
            if !a.quiet && a.format.is_none() {
                println!("VOLUME NAME   GROUP     DRIVER    AVAILABILITY   STATUS");
            }
            Ok(0)
        }
        VolumeCmd::Ls(a) => ls(engine, a),
        VolumeCmd::Inspect(a) => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &a.names {
                match engine.store.volume(n).map_err(daemon)? {
                    Some(v) => out.push(volumes::inspect_json(&v)),
                    None => {
                        eprintln!("Error response from daemon: get {n}: no such volume");
                        code = 1;
                    }
                }
            }
            print_inspect(&out, a.format.as_deref())?;
            Ok(code)
        }
        VolumeCmd::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                match volumes::remove(&engine.store, &engine.root, n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        VolumeCmd::Prune(a) => prune(engine, a),
    }
}

/// `volume ls`: a table, a template or names.
fn ls(engine: &Engine, a: LsArgs) -> Result<i32> {
    let mut rows = Vec::new();
    let f = filters::from_flags(&a.filter).map_err(daemon)?;
    for v in volumes::list(&engine.store, &f).map_err(daemon)? {
        if a.quiet {
            println!("{}", v.name);
            continue;
        }
        let mut row = volumes::inspect_json(&v);
        row["Labels"] = serde_json::json!(v
            .labels
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect::<Vec<_>>()
            .join(","));
        row["Mountpoint"] = serde_json::json!(v.mountpoint);
        row["Size"] = serde_json::json!("N/A");
        row["Links"] = serde_json::json!("N/A");
        rows.push(row);
    }
    if !a.quiet {
        print!(
            "{}",
            template::format_list(
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &[
                    ("Driver", "DRIVER"),
                    ("Name", "VOLUME NAME"),
                    ("Mountpoint", "MOUNTPOINT"),
                    ("Labels", "LABELS"),
                    ("Scope", "SCOPE"),
                    ("Size", "SIZE"),
                    ("Links", "LINKS"),
                ],
                &rows
            )?
        );
    }
    Ok(0)
}

/// `volume prune`: asks first on a terminal unless forced.
fn prune(engine: &Engine, a: PruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    engine.reconcile_all().map_err(daemon)?;
    let mut f = filters::from_flags(&a.filter).map_err(daemon)?;
    if a.all {
        f.insert("all".into(), vec!["true".into()]);
    }
    let (gone, bytes) = volumes::prune(&engine.store, &engine.root, &f).map_err(daemon)?;
    if !gone.is_empty() {
        println!("Deleted Volumes:");
        for g in &gone {
            println!("{g}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}
