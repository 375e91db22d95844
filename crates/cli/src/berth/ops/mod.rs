//! Container operations and system commands: top, stats, cp, diff, commit, export, info,
//! version, system df and system prune, with docker's flags and output.

mod cp;
mod info;
mod stats;
mod system;

pub use cp::cp;
pub use info::{info, version};
pub use stats::stats;
pub use system::{df, system_prune};

use super::containers::Exit;
use super::output::human_size;
use super::template;
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use engine::container::commit::CommitOptions;
use engine::engine::Engine;
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An engine error as the docker CLI prints it (no "Error: " prefix), exit status 1.
fn daemon(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: 1,
        msg: format!("Error response from daemon: {e}"),
    })
}

// ------------------------------------------------------------------ args

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct TopArgs {
    pub container: String,
    /// ps options (default -ef)
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(allow_hyphen_values = true)]
    pub src: String,
    #[arg(allow_hyphen_values = true)]
    pub dst: String,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = false)]
    pub pause: bool,
    pub container: String,
    pub repository: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>", "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum SystemCmd {
    /// Show docker disk usage
    Df(DfArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Get real time events from the server
    Events(super::events::EventsArgs),
    /// Start what the restart policies say after the host booted (always, unless-stopped)
    Boot,
}

pub fn system(engine: &Engine, cmd: SystemCmd) -> Result<i32> {
    match cmd {
        SystemCmd::Df(a) => df(engine, a),
        SystemCmd::Prune(a) => system_prune(engine, a),
        SystemCmd::Info(a) => info(engine, a),
        SystemCmd::Events(a) => super::events::run(engine, a),
        SystemCmd::Boot => boot(engine),
    }
}

/// `system boot`: the started containers' names, one a line; a failure to start one is
/// reported and makes the exit status 1, the others are still started.
fn boot(engine: &Engine) -> Result<i32> {
    use engine::system::boot::Booted;
    let mut code = 0;
    for b in engine.boot().map_err(daemon)? {
        match b {
            Booted::Started(n) => println!("{n}"),
            Booted::Failed(n, e) => {
                eprintln!("Error: failed to start {n}: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

// ------------------------------------------------------------------ top

/// docker's tabwriter for `top`: cells at least 20 wide, 3 spaces of padding.
fn top_table(titles: &[String], rows: &[Vec<String>]) -> String {
    let mut all = vec![titles.to_vec()];
    all.extend(rows.iter().cloned());
    let cols = all.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = vec![20usize; cols];
    for r in &all {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for r in &all {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(w[i] - c.chars().count()));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn top(engine: &Engine, a: TopArgs) -> Result<i32> {
    let (titles, rows) = engine.top(&a.container, &a.ps_args).map_err(daemon)?;
    print!("{}", top_table(&titles, &rows));
    Ok(0)
}

// ------------------------------------------------------------------ diff, commit, export

pub fn diff(engine: &Engine, a: DiffArgs) -> Result<i32> {
    for ch in engine.diff(&a.container).map_err(daemon)? {
        println!("{} {}", ch.letter(), ch.path);
    }
    Ok(0)
}

pub fn commit(engine: &Engine, a: CommitArgs) -> Result<i32> {
    let o = CommitOptions {
        reference: a.repository.clone(),
        comment: a.message.clone().unwrap_or_default(),
        author: a.author.clone().unwrap_or_default(),
        changes: a.change.clone(),
        pause: a.pause,
        config: None,
    };
    let img = engine.commit(&a.container, &o).map_err(daemon)?;
    println!("{}", img.id());
    Ok(0)
}

pub fn export(engine: &Engine, a: ExportArgs) -> Result<i32> {
    match &a.output {
        Some(p) => {
            let tmp = p.with_extension(format!("berth-export-{}", std::process::id()));
            let f = std::fs::File::create(&tmp)
                .map_err(|e| anyhow!("failed to export container: {}: {e}", p.display()))?;
            let r = engine.export(&a.container, std::io::BufWriter::new(f));
            match r {
                Ok(mut w) => {
                    w.flush()?;
                    std::fs::rename(&tmp, p)?;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(daemon(e));
                }
            }
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut w = engine
                .export(
                    &a.container,
                    std::io::BufWriter::new(std::io::stdout().lock()),
                )
                .map_err(daemon)?;
            w.flush()?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
