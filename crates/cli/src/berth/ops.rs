//! Container operations and system commands: top, stats, cp, diff, commit, export, info,
//! version, system df and system prune, with docker's flags and output.

use super::containers::Exit;
use super::output::human_size;
use super::template;
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use engine::container::commit::CommitOptions;
use engine::container::{archive, stats, tar};
use engine::engine::Engine;
use engine::system::version;
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
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage
    Df(DfArgs),
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Display system-wide information
    Info(InfoArgs),
}

pub fn system(engine: &Engine, cmd: SystemCmd) -> Result<i32> {
    match cmd {
        SystemCmd::Df(a) => df(engine, a),
        SystemCmd::Prune(a) => system_prune(engine, a),
        SystemCmd::Info(a) => info(engine, a),
    }
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

// ------------------------------------------------------------------ stats

/// Go's `%.Ng` for the magnitudes sizes have (no exponent form below 1e21).
fn go_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (prec - 1 - exp).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

/// docker's `units.BytesSize`: binary units, four significant digits.
pub fn bytes_size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), units[i])
}

/// One row of `stats` for the template: docker's field names.
pub fn stats_row(v: &Value, given: Option<&str>, no_trunc: bool, running: bool) -> Value {
    let id = v["id"].as_str().unwrap_or("");
    let name = v["name"].as_str().unwrap_or("").trim_start_matches('/');
    let short = if no_trunc {
        id
    } else {
        &id[..12.min(id.len())]
    };
    let (cpu, usage, mem) = if running {
        (
            format!("{:.2}%", stats::cpu_percent(v)),
            format!(
                "{} / {}",
                bytes_size(stats::mem_usage(v)),
                bytes_size(stats::mem_limit(v))
            ),
            format!("{:.2}%", stats::mem_percent(v)),
        )
    } else {
        ("0.00%".into(), "0B / 0B".into(), "0.00%".into())
    };
    let (r, w) = stats::blkio(v);
    let (rx, tx) = stats::net_io(v);
    json!({
        "Container": given.unwrap_or(short),
        "ID": short,
        "Name": if running { name } else { "--" },
        "CPUPerc": cpu,
        "MemUsage": usage,
        "MemPerc": mem,
        "NetIO": format!("{} / {}", human_size(rx), human_size(tx)),
        "BlockIO": format!("{} / {}", human_size(r), human_size(w)),
        "PIDs": stats::pids_current(v).to_string(),
    })
}

const STATS_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn stats(engine: &Engine, a: StatsArgs) -> Result<i32> {
    let mut prev: std::collections::HashMap<String, Value> = Default::default();
    let mut first = true;
    loop {
        // the containers to show: the ones named, or the running ones (all with -a)
        let mut targets: Vec<(engine::types::Container, Option<String>)> = Vec::new();
        if a.containers.is_empty() {
            for c in engine.list_reconciled().map_err(daemon)? {
                if a.all || c.state.status.is_live() {
                    targets.push((c, None));
                }
            }
            targets.reverse();
        } else {
            let mut code = 0;
            for n in &a.containers {
                match engine.find_reconciled(n) {
                    Ok(c) => targets.push((c, Some(n.clone()))),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
            }
            if code != 0 {
                return Ok(code);
            }
        }
        if first {
            // the CPU % needs two samples: take a first one a moment before
            for (c, _) in &targets {
                prev.insert(c.id.clone(), engine.stats_sample(c, None));
            }
            std::thread::sleep(Duration::from_millis(if a.no_stream { 600 } else { 300 }));
            first = false;
        }
        let mut rows = Vec::new();
        for (c, given) in &targets {
            let v = engine.stats_sample(c, prev.get(&c.id));
            rows.push(stats_row(
                &v,
                given.as_deref(),
                a.no_trunc,
                c.state.status.is_live(),
            ));
            prev.insert(c.id.clone(), v);
        }
        let out = template::format_list(a.format.as_deref(), STATS_TABLE, STATS_HEADERS, &rows)?;
        let mut so = std::io::stdout().lock();
        if !a.no_stream {
            // docker clears the screen and moves the cursor home before each frame
            write!(so, "\x1b[2J\x1b[H")?;
        }
        write!(so, "{out}")?;
        so.flush()?;
        if a.no_stream {
            return Ok(0);
        }
        drop(so);
        std::thread::sleep(Duration::from_secs(1));
    }
}

// ------------------------------------------------------------------ cp

/// A `cp` operand: `CONTAINER:PATH` or a local path (anything starting with `/` or `.`, or
/// without a colon, is local, as docker splits them).
#[derive(Debug, PartialEq)]
pub enum CpPath {
    Local(String),
    Container(String, String),
}

pub fn split_cp_arg(s: &str) -> CpPath {
    if s.starts_with('/') || s.starts_with('.') {
        return CpPath::Local(s.to_string());
    }
    match s.split_once(':') {
        Some((c, p)) if !c.is_empty() => CpPath::Container(c.to_string(), p.to_string()),
        _ => CpPath::Local(s.to_string()),
    }
}

/// What `cp` writes at the destination, by docker's rules: the directory to extract into and
/// the name the source's top entry takes there (`""`: a directory's content).
#[derive(Debug, PartialEq)]
pub struct CopyPlan {
    pub dir: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DstState {
    Missing,
    Dir,
    File,
}

fn split_dir_entry(p: &str) -> (String, String) {
    let t = p.trim_end_matches('/');
    let t = if t.is_empty() && p.starts_with('/') {
        "/"
    } else {
        t
    };
    match t.rsplit_once('/') {
        Some(("", b)) => ("/".into(), b.into()),
        Some((d, b)) => (d.into(), b.into()),
        None => (".".into(), t.into()),
    }
}

/// docker's PrepareArchiveCopy/CopyInfoDestinationPath rules. `src_is_dir`, `src_content`
/// (SRC ends with `/.`), the source's base name, the destination as given and its state;
/// `parent_is_dir` for a missing destination (None: the parent does not exist).
pub fn plan_copy(
    src_is_dir: bool,
    src_content: bool,
    src_base: &str,
    dst: &str,
    state: DstState,
    parent_is_dir: Option<bool>,
) -> std::result::Result<CopyPlan, String> {
    let asserts_dir = dst.ends_with('/') || dst.ends_with("/.") || dst == ".";
    match state {
        DstState::Dir => Ok(CopyPlan {
            dir: dst.to_string(),
            name: if src_is_dir && src_content {
                String::new()
            } else {
                src_base.to_string()
            },
        }),
        DstState::File if src_is_dir => Err("cannot copy a directory to a file".into()),
        DstState::File if asserts_dir => Err("not a directory".into()),
        DstState::File => {
            let (d, b) = split_dir_entry(dst);
            Ok(CopyPlan { dir: d, name: b })
        }
        DstState::Missing => {
            if asserts_dir && !src_is_dir {
                return Err("no such directory".into());
            }
            match parent_is_dir {
                None => Err("no such directory".into()),
                Some(false) => Err("not a directory".into()),
                Some(true) => {
                    let (d, b) = split_dir_entry(dst);
                    Ok(CopyPlan { dir: d, name: b })
                }
            }
        }
    }
}

fn is_content(p: &str) -> bool {
    p == "." || p.ends_with("/.") || p.ends_with("/./")
}

fn base_of(p: &str) -> String {
    split_dir_entry(p).1
}

fn local_state(p: &Path) -> DstState {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => DstState::Dir,
        Ok(_) => DstState::File,
        Err(_) => DstState::Missing,
    }
}

pub fn cp(engine: &Engine, a: CpArgs) -> Result<i32> {
    match (split_cp_arg(&a.src), split_cp_arg(&a.dst)) {
        (CpPath::Container(..), CpPath::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (CpPath::Local(_), CpPath::Local(_)) => {
            bail!("must specify at least one container source")
        }
        (CpPath::Container(c, p), CpPath::Local(d)) => copy_from(engine, &a, &c, &p, &d),
        (CpPath::Local(s), CpPath::Container(c, p)) => copy_to(engine, &a, &s, &c, &p),
    }
}

fn copied(a: &CpArgs, bytes: u64, to: &str) {
    if !a.quiet && std::io::stderr().is_terminal() {
        eprintln!("Successfully copied {} to {to}", human_size(bytes));
    }
}

/// A writer that counts what passes through.
struct Counting<W>(W, u64);
impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(b)?;
        self.1 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn copy_from(engine: &Engine, a: &CpArgs, c: &str, path: &str, dst: &str) -> Result<i32> {
    let path = if path.is_empty() { "/" } else { path };
    if dst == "-" {
        let out = Counting(std::io::stdout().lock(), 0);
        let (_, mut out) = engine
            .archive_get(c, path, a.follow_link, out)
            .map_err(daemon)?;
        out.flush()?;
        return Ok(0);
    }
    let stat = engine.stat_path(c, path).map_err(daemon)?;
    let mode = stat["mode"].as_u64().unwrap_or(0);
    let is_link = mode & (1 << 27) != 0;
    let mut src_is_dir = mode & (1 << 31) != 0;
    if is_link && a.follow_link {
        let t = stat["linkTarget"].as_str().unwrap_or("");
        let ts = engine.stat_path(c, t).map_err(daemon)?;
        src_is_dir = ts["mode"].as_u64().unwrap_or(0) & (1 << 31) != 0;
    }
    if (path.ends_with('/') || is_content(path)) && !src_is_dir && !is_link {
        return Err(daemon(format!("{path}: not a directory")));
    }
    let dst_path = Path::new(dst);
    let state = local_state(dst_path);
    let parent = match state {
        DstState::Missing => {
            let (d, _) = split_dir_entry(dst);
            std::fs::metadata(&d).ok().map(|m| m.is_dir())
        }
        _ => None,
    };
    let plan = plan_copy(
        src_is_dir,
        is_content(path),
        &base_of(path),
        dst,
        state,
        parent,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let dir = PathBuf::from(&plan.dir);
    let (r, w) = std::io::pipe()?;
    let extractor = std::thread::spawn(move || tar::untar_local(r, &dir));
    let got = engine.archive_get_as(c, path, a.follow_link, Some(&plan.name), Counting(w, 0));
    // the writer must be closed (dropped) before the extractor can finish
    let got = got.map(|(_, w)| w.1);
    let extracted = extractor
        .join()
        .map_err(|_| anyhow!("extract thread panicked"))?;
    let bytes = got.map_err(daemon)?;
    extracted.map_err(|e| anyhow!("{e}"))?;
    copied(a, bytes, dst);
    Ok(0)
}

fn copy_to(engine: &Engine, a: &CpArgs, src: &str, c: &str, path: &str) -> Result<i32> {
    let path = if path.is_empty() { "/" } else { path };
    let container = engine.find_reconciled(c).map_err(daemon)?;
    if src == "-" {
        let st = engine.stat_path(&container.id, path).map_err(daemon)?;
        if st["mode"].as_u64().unwrap_or(0) & (1 << 31) == 0 {
            bail!("destination \"{c}:{path}\" must be a directory");
        }
        engine
            .archive_put(&container.id, path, std::io::stdin().lock(), a.archive)
            .map_err(daemon)?;
        return Ok(0);
    }
    let mut src_path = PathBuf::from(src);
    let md = std::fs::symlink_metadata(&src_path)
        .map_err(|e| anyhow!("lstat {}: {}", src, strip_os_error(&e)))?;
    if md.file_type().is_symlink() && a.follow_link {
        src_path = std::fs::canonicalize(&src_path)
            .map_err(|e| anyhow!("stat {}: {}", src, strip_os_error(&e)))?;
    }
    let src_is_dir = std::fs::symlink_metadata(&src_path)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if (src.ends_with('/') || is_content(src)) && !src_is_dir {
        bail!("{src}: not a directory");
    }
    let dst_state = |p: &str| -> Result<Option<bool>> {
        match engine.stat_path(&container.id, p) {
            Ok(st) => {
                let mode = st["mode"].as_u64().unwrap_or(0);
                if mode & (1 << 27) != 0 {
                    // a symlink at the destination is followed (inside the container)
                    let t = st["linkTarget"].as_str().unwrap_or("").to_string();
                    return Ok(engine
                        .stat_path(&container.id, &t)
                        .ok()
                        .map(|s| s["mode"].as_u64().unwrap_or(0) & (1 << 31) != 0));
                }
                Ok(Some(mode & (1 << 31) != 0))
            }
            Err(e) if archive::is_path_not_found(&e) => Ok(None),
            Err(e) => Err(daemon(e)),
        }
    };
    let state = match dst_state(path)? {
        Some(true) => DstState::Dir,
        Some(false) => DstState::File,
        None => DstState::Missing,
    };
    let parent = if state == DstState::Missing {
        dst_state(&split_dir_entry(path).0)?
    } else {
        None
    };
    let plan = plan_copy(
        src_is_dir,
        is_content(src),
        &base_of(src),
        path,
        state,
        parent,
    )
    .map_err(daemon)?;
    let (r, w) = std::io::pipe()?;
    let name = plan.name.clone();
    let producer = std::thread::spawn(move || -> engine::Result<u64> {
        Ok(image::diff::tree_tar::tar_path(&src_path, &name, Counting(w, 0))?.1)
    });
    let put = engine.archive_put(&container.id, &plan.dir, r, a.archive);
    let produced = producer
        .join()
        .map_err(|_| anyhow!("archive thread panicked"))?;
    put.map_err(daemon)?;
    let bytes = produced.map_err(|e| anyhow!("{e}"))?;
    copied(a, bytes, &format!("{c}:{path}"));
    Ok(0)
}

fn strip_os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
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

// ------------------------------------------------------------------ info, version

fn client_info() -> Value {
    json!({
        "Debug": false,
        "Context": "default",
        "Plugins": [],
        "Warnings": null,
    })
}

pub fn info(engine: &Engine, a: InfoArgs) -> Result<i32> {
    let mut v = engine.info().map_err(daemon)?;
    v["ClientInfo"] = client_info();
    if let Some(f) = &a.format {
        println!("{}", template::render(f, &v)?);
        return Ok(0);
    }
    print!("{}", info_text(&v));
    Ok(0)
}

/// docker info's text layout.
pub fn info_text(v: &Value) -> String {
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        x => x.to_string(),
    };
    let mut o = String::new();
    let mut line = |t: String| {
        o.push_str(&t);
        o.push('\n');
    };
    line("Client:".into());
    line(format!(" Version:    {}", env!("CARGO_PKG_VERSION")));
    line(" Context:    default".into());
    line(" Debug Mode: false".into());
    line(String::new());
    line("Server:".into());
    line(format!(" Containers: {}", s("Containers")));
    line(format!("  Running: {}", s("ContainersRunning")));
    line(format!("  Paused: {}", s("ContainersPaused")));
    line(format!("  Stopped: {}", s("ContainersStopped")));
    line(format!(" Images: {}", s("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    for kv in v["DriverStatus"].as_array().into_iter().flatten() {
        line(format!(
            "  {}: {}",
            kv[0].as_str().unwrap_or(""),
            kv[1].as_str().unwrap_or("")
        ));
    }
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    line(" Plugins:".into());
    for k in ["Volume", "Network", "Log"] {
        let l: Vec<&str> = v["Plugins"][k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        line(format!("  {k}: {}", l.join(" ")));
    }
    line(format!(
        " Swarm: {}",
        v["Swarm"]["LocalNodeState"].as_str().unwrap_or("inactive")
    ));
    let rts: Vec<&String> = v["Runtimes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    line(format!(
        " Runtimes: {}",
        rts.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    ));
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    line(format!(" Init Binary: {}", s("InitBinary")));
    line(" Security Options:".into());
    for opt in v["SecurityOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let mut name = "";
        let mut rest = Vec::new();
        for kv in opt.split(',') {
            match kv.split_once('=') {
                Some(("name", n)) => name = n,
                Some((k, val)) => rest.push((k, val)),
                None => {}
            }
        }
        line(format!("  {name}"));
        for (k, val) in rest {
            let mut k = k.to_string();
            if let Some(f) = k.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            line(format!("   {k}: {val}"));
        }
    }
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", s("NCPU")));
    line(format!(
        " Total Memory: {}",
        bytes_size(v["MemTotal"].as_u64().unwrap_or(0))
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" ID: {}", s("ID")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    line(" Debug Mode: false".into());
    for (k, label) in [
        ("HttpProxy", "HTTP Proxy"),
        ("HttpsProxy", "HTTPS Proxy"),
        ("NoProxy", "No Proxy"),
    ] {
        if !s(k).is_empty() {
            line(format!(" {label}: {}", s(k)));
        }
    }
    line(" Experimental: false".into());
    line(" Insecure Registries:".into());
    for r in v["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        line(format!("  {r}"));
    }
    line(format!(
        " Live Restore Enabled: {}",
        v["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    ));
    o
}

pub fn version(engine: &Engine, a: InfoArgs) -> Result<i32> {
    let server = engine.version();
    let arch = version::go_arch();
    let v = json!({
        "Client": {
            "Platform": {"Name": "berth"},
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": version::API_VERSION,
            "DefaultAPIVersion": version::API_VERSION,
            "GitCommit": "",
            "GoVersion": "rustc",
            "Os": "linux",
            "Arch": arch,
            "BuildTime": "",
            "Context": "default",
        },
        "Server": server,
    });
    if let Some(f) = &a.format {
        println!("{}", template::render(f, &v)?);
        return Ok(0);
    }
    let c = &v["Client"];
    let s = &v["Server"];
    let g = |x: &Value, k: &str| x[k].as_str().unwrap_or("").to_string();
    let mut o = String::new();
    o.push_str("Client:\n");
    o.push_str(&format!(" Version:           {}\n", g(c, "Version")));
    o.push_str(&format!(" API version:       {}\n", g(c, "ApiVersion")));
    o.push_str(&format!(" Go version:        {}\n", g(c, "GoVersion")));
    o.push_str(&format!(" Git commit:        {}\n", g(c, "GitCommit")));
    o.push_str(&format!(" Built:             {}\n", g(c, "BuildTime")));
    o.push_str(&format!(" OS/Arch:           linux/{arch}\n"));
    o.push_str(" Context:           default\n\n");
    o.push_str(&format!(
        "Server: {}\n",
        s["Platform"]["Name"].as_str().unwrap_or("")
    ));
    o.push_str(" Engine:\n");
    o.push_str(&format!("  Version:          {}\n", g(s, "Version")));
    o.push_str(&format!(
        "  API version:      {} (minimum version {})\n",
        g(s, "ApiVersion"),
        g(s, "MinAPIVersion")
    ));
    o.push_str(&format!("  Go version:       {}\n", g(s, "GoVersion")));
    o.push_str(&format!("  Git commit:       {}\n", g(s, "GitCommit")));
    o.push_str(&format!("  Built:            {}\n", g(s, "BuildTime")));
    o.push_str(&format!(
        "  OS/Arch:          {}/{}\n",
        g(s, "Os"),
        g(s, "Arch")
    ));
    o.push_str("  Experimental:     false\n");
    print!("{o}");
    Ok(0)
}

// ------------------------------------------------------------------ system df, prune

fn pct(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        None => human_size(part),
        Some(p) => format!("{} ({p}%)", human_size(part)),
    }
}

/// The summary rows of `system df`.
pub fn df_rows(d: &Value) -> Vec<Value> {
    let arr = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let images = arr("Images");
    let total = u(d, "LayersSize");
    let active = images.iter().filter(|i| u(i, "Containers") > 0).count();
    let used: u64 = images
        .iter()
        .filter(|i| u(i, "Containers") > 0)
        .map(|i| u(i, "Size").saturating_sub(u(i, "SharedSize")))
        .sum();
    let cs = arr("Containers");
    let c_size: u64 = cs.iter().map(|c| u(c, "SizeRw")).sum();
    let running = |c: &Value| matches!(c["State"].as_str(), Some("running" | "paused"));
    let c_active = cs.iter().filter(|c| running(c)).count();
    let c_recl: u64 = cs
        .iter()
        .filter(|c| !running(c))
        .map(|c| u(c, "SizeRw"))
        .sum();
    let vs = arr("Volumes");
    let v_size: u64 = vs.iter().map(|v| u(&v["UsageData"], "Size")).sum();
    let v_active = vs
        .iter()
        .filter(|v| u(&v["UsageData"], "RefCount") > 0)
        .count();
    let v_recl: u64 = vs
        .iter()
        .filter(|v| u(&v["UsageData"], "RefCount") == 0)
        .map(|v| u(&v["UsageData"], "Size"))
        .sum();
    let row = |t: &str, n: usize, a: usize, size: u64, recl: String| {
        json!({"Type": t, "TotalCount": n.to_string(), "Active": a.to_string(),
               "Size": human_size(size), "Reclaimable": recl})
    };
    vec![
        row(
            "Images",
            images.len(),
            active,
            total,
            pct(total.saturating_sub(used), total),
        ),
        row(
            "Containers",
            cs.len(),
            c_active,
            c_size,
            pct(c_recl, c_size),
        ),
        row(
            "Local Volumes",
            vs.len(),
            v_active,
            v_size,
            pct(v_recl, v_size),
        ),
        row("Build Cache", 0, 0, 0, human_size(0)),
    ]
}

pub fn df(engine: &Engine, a: DfArgs) -> Result<i32> {
    let d = engine.df().map_err(daemon)?;
    if a.verbose && a.format.is_none() {
        print!("{}", df_verbose(&d));
        return Ok(0);
    }
    let rows = df_rows(&d);
    let out = template::format_list(
        a.format.as_deref(),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )?;
    print!("{out}");
    Ok(0)
}

fn df_verbose(d: &Value) -> String {
    use super::output::{human_since, table};
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let since = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| human_since(&t.to_rfc3339()))
            .unwrap_or_default()
    };
    let mut o = String::from("Images space usage:\n\n");
    let mut rows = vec![[
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ]
    .map(String::from)
    .to_vec()];
    for i in d["Images"].as_array().into_iter().flatten() {
        let id = i["Id"].as_str().unwrap_or("");
        let short = id.trim_start_matches("sha256:");
        let tags: Vec<&str> = i["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>"]
        } else {
            tags
        };
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "<none>"));
            rows.push(vec![
                repo.into(),
                tag.into(),
                short[..12.min(short.len())].into(),
                since(i["Created"].as_i64().unwrap_or(0)),
                human_size(u(i, "Size")),
                human_size(u(i, "SharedSize")),
                human_size(u(i, "Size").saturating_sub(u(i, "SharedSize"))),
                u(i, "Containers").to_string(),
            ]);
        }
    }
    o.push_str(&table(&rows));
    o.push_str("\nContainers space usage:\n\n");
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for c in d["Containers"].as_array().into_iter().flatten() {
        let id = c["Id"].as_str().unwrap_or("");
        let vols = c["Mounts"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["Type"] == "volume").count())
            .unwrap_or(0);
        let cmd = c["Command"].as_str().unwrap_or("");
        let cmd = if cmd.chars().count() > 20 {
            format!("{}…", cmd.chars().take(19).collect::<String>())
        } else {
            cmd.to_string()
        };
        rows.push(vec![
            id[..12.min(id.len())].into(),
            c["Image"].as_str().unwrap_or("").into(),
            format!("\"{cmd}\""),
            vols.to_string(),
            human_size(u(c, "SizeRw")),
            since(c["Created"].as_i64().unwrap_or(0)),
            c["State"].as_str().unwrap_or("").into(),
            c["Names"][0]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
                .into(),
        ]);
    }
    o.push_str(&table(&rows));
    o.push_str("\nLocal Volumes space usage:\n\n");
    let mut rows = vec![["VOLUME NAME", "LINKS", "SIZE"].map(String::from).to_vec()];
    for v in d["Volumes"].as_array().into_iter().flatten() {
        rows.push(vec![
            v["Name"].as_str().unwrap_or("").into(),
            u(&v["UsageData"], "RefCount").to_string(),
            human_size(u(&v["UsageData"], "Size")),
        ]);
    }
    o.push_str(&table(&rows));
    o.push_str("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE   CREATED   LAST USED   USAGE   SHARED\n");
    o
}

pub fn system_prune(engine: &Engine, a: SystemPruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        let mut w = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        w.push_str("  - unused build cache\n\nAre you sure you want to continue? [y/N] ");
        eprint!("{w}");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let mut total = 0u64;
    let (ids, bytes) = engine
        .prune_containers(&Default::default())
        .map_err(daemon)?;
    total += bytes;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    let nets = engine::net::prune(engine, &Default::default()).map_err(daemon)?;
    if !nets.is_empty() {
        println!("Deleted Networks:");
        for n in &nets {
            println!("{n}");
        }
        println!();
    }
    if a.volumes {
        let (names, bytes) =
            engine::volumes::prune(&engine.store, &engine.root, &Default::default())
                .map_err(daemon)?;
        total += bytes;
        if !names.is_empty() {
            println!("Deleted Volumes:");
            for n in &names {
                println!("{n}");
            }
            println!();
        }
    }
    let r = engine
        .images()
        .map_err(daemon)?
        .prune(a.all)
        .map_err(daemon)?;
    total += r.reclaimed;
    if !r.untagged.is_empty() || !r.deleted.is_empty() {
        println!("Deleted Images:");
        for u in &r.untagged {
            println!("untagged: {u}");
        }
        for d in &r.deleted {
            println!("deleted: {d}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(total));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args() {
        assert_eq!(
            split_cp_arg("c1:/etc/x"),
            CpPath::Container("c1".into(), "/etc/x".into())
        );
        assert_eq!(split_cp_arg("/tmp/a:b"), CpPath::Local("/tmp/a:b".into()));
        assert_eq!(split_cp_arg("./a:b"), CpPath::Local("./a:b".into()));
        assert_eq!(split_cp_arg("file"), CpPath::Local("file".into()));
        assert_eq!(split_cp_arg("-"), CpPath::Local("-".into()));
    }

    fn plan(dir: &str, name: &str) -> std::result::Result<CopyPlan, String> {
        Ok(CopyPlan {
            dir: dir.into(),
            name: name.into(),
        })
    }

    #[test]
    fn cp_rules() {
        use DstState::*;
        // file into an existing dir keeps its name
        assert_eq!(
            plan_copy(false, false, "f", "/d", Dir, None),
            plan("/d", "f")
        );
        // file over a file, or to a new name
        assert_eq!(
            plan_copy(false, false, "f", "/d/g", File, None),
            plan("/d", "g")
        );
        assert_eq!(
            plan_copy(false, false, "f", "/d/new", Missing, Some(true)),
            plan("/d", "new")
        );
        // a new name ending in / must be an existing dir
        assert_eq!(
            plan_copy(false, false, "f", "/d/new/", Missing, Some(true)),
            Err("no such directory".into())
        );
        assert_eq!(
            plan_copy(false, false, "f", "/nope/x", Missing, None),
            Err("no such directory".into())
        );
        assert_eq!(
            plan_copy(false, false, "f", "/file/x", Missing, Some(false)),
            Err("not a directory".into())
        );
        assert_eq!(
            plan_copy(false, false, "f", "/d/g/", File, None),
            Err("not a directory".into())
        );
        // dirs: into an existing dir, content with /., new name, never over a file
        assert_eq!(
            plan_copy(true, false, "src", "/d", Dir, None),
            plan("/d", "src")
        );
        assert_eq!(
            plan_copy(true, true, "src", "/d", Dir, None),
            plan("/d", "")
        );
        assert_eq!(
            plan_copy(true, false, "src", "/d/new", Missing, Some(true)),
            plan("/d", "new")
        );
        assert_eq!(
            plan_copy(true, false, "src", "/d/new/", Missing, Some(true)),
            plan("/d", "new")
        );
        assert_eq!(
            plan_copy(true, false, "src", "/d/f", File, None),
            Err("cannot copy a directory to a file".into())
        );
        assert_eq!(
            plan_copy(false, false, "f", "x", Missing, Some(true)),
            plan(".", "x")
        );
        assert_eq!(base_of("/a/b/."), ".");
        assert!(is_content("/a/b/."));
        assert!(!is_content("/a/b"));
        assert_eq!(split_dir_entry("/etc/"), ("/".into(), "etc".into()));
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(64 << 20), "64MiB");
        assert_eq!(bytes_size(1_048_576 + 524_288), "1.5MiB");
        assert_eq!(bytes_size(2_000_000), "1.907MiB");
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(go_g(123.456, 4), "123.5");
    }

    #[test]
    fn stats_rows() {
        let v = json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 2u64}, "system_cpu_usage": 4u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1u64}, "system_cpu_usage": 2u64},
            "memory_stats": {"usage": 1u64 << 20, "limit": 64u64 << 20, "stats": {}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}]},
            "pids_stats": {"current": 1}
        });
        let r = stats_row(&v, None, false, true);
        assert_eq!(r["ID"], "0123456789ab");
        assert_eq!(r["Name"], "web");
        assert_eq!(r["CPUPerc"], "100.00%");
        assert_eq!(r["MemUsage"], "1MiB / 64MiB");
        assert_eq!(r["MemPerc"], "1.56%");
        assert_eq!(r["NetIO"], "0B / 0B");
        assert_eq!(r["BlockIO"], "4.1kB / 0B");
        assert_eq!(r["PIDs"], "1");
    }

    #[test]
    fn top_layout() {
        let t = top_table(
            &["UID".into(), "PID".into(), "CMD".into()],
            &[vec!["root".into(), "1".into(), "sleep 1000".into()]],
        );
        assert_eq!(
            t,
            format!(
                "UID{}PID{}CMD\nroot{}1{}sleep 1000\n",
                " ".repeat(17),
                " ".repeat(17),
                " ".repeat(16),
                " ".repeat(19)
            )
        );
    }

    #[test]
    fn df_summary() {
        let d = json!({
            "LayersSize": 1000,
            "Images": [{"Size": 600, "SharedSize": 0, "Containers": 1}, {"Size": 400, "SharedSize": 0, "Containers": 0}],
            "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 30}],
            "Volumes": [],
        });
        let r = df_rows(&d);
        assert_eq!(r[0]["Reclaimable"], "400B (40%)");
        assert_eq!(r[0]["Active"], "1");
        assert_eq!(r[1]["Reclaimable"], "30B (75%)");
        assert_eq!(r[2]["Size"], "0B");
        assert_eq!(r[3]["Type"], "Build Cache");
    }
}
