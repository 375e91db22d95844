//! Container commands: run, create, start, stop, restart, kill, rm, ps, logs, exec, attach,
//! wait, inspect, pause, unpause, rename, container prune.

use super::flags::{self, CreateFlags};
use super::output::{human_since, human_size};
use super::template;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use engine::container::Status;
use engine::engine::Engine;
use engine::monitor::{self, Attach};
use engine::types::Container;
use serde_json::{json, Value};
use std::io::{IsTerminal, Read, Write};

/// An error the docker CLI would report with a specific exit status.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub msg: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Exit {}

/// docker's wording for an error that came from the engine.
pub fn daemon(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("Error response from daemon: {e}")
}

fn fail(code: i32, what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code,
        msg: format!(
            "berth: Error response from daemon: {e}\n\nRun 'berth {what} --help' for more information"
        ),
    })
}

fn run_failed(e: impl std::fmt::Display) -> anyhow::Error {
    fail(125, "run", e)
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true, trailing_var_arg = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long)]
    pub attach: Vec<String>,
    /// IMAGE [COMMAND] [ARG...]: everything after the image belongs to the command
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true, trailing_var_arg = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        allow_hyphen_values = true
    )]
    pub timeout: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", allow_hyphen_values = true)]
    pub last: Option<i64>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    #[arg(required = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    #[arg(long = "sig-proxy", default_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Return JSON for specified type (container, image, volume)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(long)]
    pub filter: Vec<String>,
}

// ------------------------------------------------------------------ run / create

/// Create, pulling the image first when it is missing (as `docker run` does).
fn create_container(
    engine: &Engine,
    flags: &CreateFlags,
    image: &str,
    cmd: &[String],
    stdin_once: bool,
    code: i32,
) -> Result<Container> {
    let what = if code == 125 { "run" } else { "create" };
    if image.starts_with('-') {
        // a flag clap could not place: everything from IMAGE on is taken as positional
        return Err(anyhow::Error::new(Exit {
            code: 125,
            msg: format!("unknown flag: {image}\nSee 'berth {what} --help'."),
        }));
    }

    let mut req = flags::to_request(flags, image, cmd).map_err(|e| {
        anyhow::Error::new(Exit {
            code: 125,
            msg: format!("berth: {e}\n\nRun 'berth run --help' for more information"),
        })
    })?;
    req.config.stdin_once = stdin_once;
    if req.config.tty && req.host_config.console_size.is_none() {
        // the monitor sizes the terminal before the process starts (as docker's ConsoleSize)
        req.host_config.console_size = runtime::tty::caller_size().map(|(r, c)| vec![r, c]);
    }
    if flags.pull == "always" {
        super::images::pull_quiet(
            engine.images().map_err(|e| fail(code, what, e))?,
            image,
            flags.platform.as_deref(),
            false,
        )
        .map_err(|e| fail(code, what, e))?;
    }
    let (c, warnings) = match engine.create(req.clone()) {
        Err(engine::Error::NoSuchImage(_)) if flags.pull != "never" => {
            eprintln!("Unable to find image '{}' locally", qualified(image));
            super::images::pull_quiet(
                engine.images().map_err(|e| fail(code, what, e))?,
                image,
                flags.platform.as_deref(),
                true,
            )
            .map_err(|e| fail(code, what, e))?;
            engine.create(req).map_err(|e| fail(code, what, e))?
        }
        r => r.map_err(|e| fail(code, what, e))?,
    };
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(c)
}

use engine::query::qualified;

pub fn run(engine: &Engine, a: RunArgs) -> Result<i32> {
    let attached = !a.detach;
    let c = create_container(
        engine,
        &a.flags,
        &a.args[0],
        &a.args[1..],
        attached && a.flags.interactive,
        125,
    )?;
    if a.detach {
        engine.start(&c.id, false).map_err(run_failed)?;
        println!("{}", c.id);
        return Ok(0);
    }
    engine.start(&c.id, true).map_err(run_failed)?;
    let att = Attach::connect(engine, &c.id).map_err(run_failed)?;
    relay(
        engine,
        &c.id,
        att,
        a.flags.tty,
        a.flags.interactive,
        a.sig_proxy && !a.flags.tty,
        true,
    )
}

pub fn create(engine: &Engine, a: CreateArgs) -> Result<i32> {
    let c = create_container(engine, &a.flags, &a.args[0], &a.args[1..], false, 1)?;
    println!("{}", c.id);
    Ok(0)
}

/// Relay an attach stream to our stdio until the container exits; its exit code.
fn relay(
    engine: &Engine,
    id: &str,
    att: Attach,
    tty: bool,
    stdin: bool,
    sig_proxy: bool,
    from_run: bool,
) -> Result<i32> {
    // lines typed ahead while the terminal was still canonical go first (a NUL otherwise)
    let (_raw, typed) = if tty && std::io::stdin().is_terminal() {
        let (r, t) = runtime::tty::RawMode::enter_relaying();
        (Some(r), t)
    } else {
        (None, Vec::new())
    };
    let sock = att.sock.try_clone().context("attach socket")?;
    if tty {
        if let Some((r, c)) = runtime::tty::get_size(0) {
            let mut a = Attach {
                sock: att.sock.try_clone()?,
            };
            let _ = a.resize(r, c);
        }
    }
    // before any other thread exists, so the blocked mask is inherited by all of them
    if sig_proxy || tty {
        spawn_signal_thread(engine, id, sig_proxy, att.sock.try_clone()?);
    }
    if stdin {
        let mut a = Attach {
            sock: att.sock.try_clone()?,
        };
        if !typed.is_empty() {
            let _ = a.send_stdin(&typed);
        }
        std::thread::spawn(move || {
            let mut buf = [0u8; 32 * 1024];
            let mut inp = std::io::stdin().lock();
            loop {
                match inp.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = a.close_stdin();
                        break;
                    }
                    Ok(n) => {
                        if a.send_stdin(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let (code, error) = Attach { sock }.follow(&mut |kind, d| {
        if kind == monitor::STDOUT {
            let _ = out.write_all(d);
            let _ = out.flush();
        } else {
            let _ = err.write_all(d);
        }
    });
    drop(_raw);
    if let Some(e) = error {
        let prefix = if from_run { "berth: " } else { "" };
        eprintln!("{prefix}Error response from daemon: failed to create task for container: {e}");
        if from_run {
            // the process never ran: docker's run exits 125 (126/127 for these causes)
            return Ok(engine::helper::exec::failure_code(&e, 125));
        }
    }
    let code = match code {
        Some(c) => c,
        None => engine
            .store
            .get(id)
            .ok()
            .flatten()
            .map(|c| c.state.exit_code as i32)
            .unwrap_or(0),
    };
    Ok(code)
}

/// Forward SIGINT/SIGTERM/... to the container (docker's --sig-proxy), and SIGWINCH as resizes.
fn spawn_signal_thread(
    engine: &Engine,
    id: &str,
    proxy: bool,
    sock: std::os::unix::net::UnixStream,
) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    let proxied = [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ];
    if proxy {
        for s in proxied {
            set.add(s);
        }
    }
    set.add(Signal::SIGWINCH);
    let _ = set.thread_block();
    let rt = runtime::Runtime::new(engine.runtime.root.clone());
    let id = id.to_string();
    std::thread::spawn(move || {
        let mut a = Attach { sock };
        while let Ok(sig) = set.wait() {
            if sig == Signal::SIGWINCH {
                if let Some((r, c)) = runtime::tty::get_size(0) {
                    let _ = a.resize(r, c);
                }
                continue;
            }
            let _ = rt.kill(&id, sig, false);
        }
    });
}

// ------------------------------------------------------------------ start / stop / kill / rm

pub fn start(engine: &Engine, a: StartArgs) -> Result<i32> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let c = engine.find(&a.containers[0]).map_err(daemon)?;
        if c.state.status == Status::Running {
            let att = Attach::connect(engine, &c.id).map_err(daemon)?;
            return relay(
                engine,
                &c.id,
                att,
                c.config.tty,
                a.interactive,
                !c.config.tty,
                false,
            );
        }
        engine.start(&c.id, true).map_err(daemon)?;
        let att = Attach::connect(engine, &c.id).map_err(daemon)?;
        return relay(
            engine,
            &c.id,
            att,
            c.config.tty,
            a.interactive && c.config.open_stdin,
            !c.config.tty,
            false,
        );
    }
    each(&a.containers, |k| {
        engine.start(k, false)?;
        Ok(())
    })
}

/// Apply `f` to each name, printing the name on success and docker's error otherwise.
fn each(names: &[String], mut f: impl FnMut(&str) -> engine::Result<()>) -> Result<i32> {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn stop(engine: &Engine, a: StopArgs) -> Result<i32> {
    each(&a.containers, |k| {
        if let Some(s) = &a.signal {
            let c = engine.find(k)?;
            if c.state.status.is_live() {
                engine.kill(k, s)?;
                let t = a.timeout.unwrap_or(10);
                if engine
                    .wait_not_live(&c.id, std::time::Duration::from_secs(t.max(0) as u64))
                    .is_ok()
                {
                    return Ok(());
                }
            }
        }
        engine.stop(k, a.timeout).map(|_| ())
    })
}

pub fn restart(engine: &Engine, a: StopArgs) -> Result<i32> {
    each(&a.containers, |k| {
        engine.stop(k, a.timeout)?;
        engine.start(k, false).map(|_| ())
    })
}

pub fn kill(engine: &Engine, a: KillArgs) -> Result<i32> {
    each(&a.containers, |k| engine.kill(k, &a.signal).map(|_| ()))
}

pub fn rm(engine: &Engine, a: RmArgs) -> Result<i32> {
    each(&a.containers, |k| engine.remove(k, a.force, a.volumes))
}

pub fn pause(engine: &Engine, a: NamesArgs) -> Result<i32> {
    each(&a.containers, |k| engine.pause(k))
}

pub fn unpause(engine: &Engine, a: NamesArgs) -> Result<i32> {
    each(&a.containers, |k| engine.unpause(k))
}

pub fn wait(engine: &Engine, a: NamesArgs) -> Result<i32> {
    let mut code = 0;
    for n in &a.containers {
        match engine.wait(n) {
            Ok(c) => println!("{c}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn rename(engine: &Engine, a: RenameArgs) -> Result<i32> {
    engine.rename(&a.container, &a.new_name).map_err(daemon)?;
    Ok(0)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let filters = engine::query::parse_filter_flags(&a.filter).map_err(daemon)?;
    let (ids, bytes) = engine.prune_containers(&filters).map_err(daemon)?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}

// ------------------------------------------------------------------ ps

pub use engine::query::status_text;

fn command_text(c: &Container, trunc: bool) -> String {
    let mut cmd = engine::query::command_line(c);
    if trunc && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    format!("\"{cmd}\"")
}

/// docker's PORTS column: `0.0.0.0:8080->80/tcp` for published ports, `80/tcp` for exposed ones.
fn ports_text(c: &Container) -> String {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Some(m) = c
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
        .filter(|_| c.state.status.has_process())
    {
        for (p, bs) in m {
            seen.insert(p.clone());
            for b in bs.as_array().into_iter().flatten() {
                out.push(format!(
                    "{}:{}->{p}",
                    b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                    b["HostPort"].as_str().unwrap_or("")
                ));
            }
        }
    }
    for p in c.config.exposed_ports.iter().flat_map(|m| m.keys()) {
        if !seen.contains(p) {
            out.push(p.clone());
        }
    }
    out.join(", ")
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`
pub fn port(engine: &Engine, a: PortArgs) -> Result<i32> {
    let c = engine.find(&a.container).map_err(daemon)?;
    let ports = c
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    let want = a.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    for (p, bs) in &ports {
        if want.as_ref().is_some_and(|w| w != p) {
            continue;
        }
        for b in bs.as_array().into_iter().flatten() {
            found = true;
            let ip = b["HostIp"].as_str().unwrap_or("0.0.0.0");
            let hp = b["HostPort"].as_str().unwrap_or("");
            if want.is_some() {
                println!("{ip}:{hp}");
            } else {
                println!("{p} -> {ip}:{hp}");
            }
        }
    }
    if let (Some(w), false) = (&want, found) {
        return Err(daemon(format!(
            "No public port '{w}' published for {}",
            a.container
        )));
    }
    Ok(0)
}

fn ps_row(c: &Container, no_trunc: bool) -> Value {
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .collect();
    let created = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_default();
    json!({
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": if c.internal.image_ref.is_empty() { c.config.image.clone() } else { c.internal.image_ref.clone() },
        "Command": command_text(c, !no_trunc),
        "CreatedAt": created,
        "RunningFor": human_since(&c.created),
        "Ports": ports_text(c),
        "State": c.state.status,
        "Status": status_text(c),
        "Size": "0B",
        "Names": c.short_name(),
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": match c.host_config.network_mode.as_str() { "bridge" | "default" | "" => "none".to_string(), m => m.to_string() },
        "LocalVolumes": c.mounts.iter().filter(|m| m.kind == "volume").count().to_string(),
    })
}

pub const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

pub fn ps(engine: &Engine, a: PsArgs) -> Result<i32> {
    let mut list = engine.list().map_err(daemon)?;
    let limit = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n > 0)
    };
    let all = a.all || limit.is_some();
    let filters = engine::query::parse_filter_flags(&a.filter).map_err(daemon)?;
    let mut keep = engine::query::select(std::mem::take(&mut list), all, &filters)
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(n) = limit {
        keep.truncate(n as usize);
    }
    if a.quiet {
        for c in &keep {
            println!("{}", if a.no_trunc { &c.id[..] } else { c.short_id() });
        }
        return Ok(0);
    }
    let rows: Vec<Value> = keep.iter().map(|c| ps_row(c, a.no_trunc)).collect();
    let default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    print!(
        "{}",
        template::format_list(a.format.as_deref(), default, PS_HEADERS, &rows)?
    );
    Ok(0)
}

// ------------------------------------------------------------------ logs

pub fn logs(engine: &Engine, a: LogsArgs) -> Result<i32> {
    let c = engine.find(&a.container).map_err(daemon)?;
    if c.log_path.is_empty() {
        bail!("Error response from daemon: configured logging driver does not support reading");
    }
    let now = chrono::Utc::now();
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| anyhow!("invalid value for \"tail\": {n}"))?,
        )
        .filter(|n| *n >= 0)
        .map(|n| n as usize),
    };
    let opts = engine::logs::ReadOptions {
        follow: a.follow,
        tail,
        since: a
            .since
            .as_deref()
            .map(|s| engine::logs::parse_time(s, now))
            .transpose()
            .map_err(daemon)?,
        until: a
            .until
            .as_deref()
            .map(|s| engine::logs::parse_time(s, now))
            .transpose()
            .map_err(daemon)?,
        stdout: true,
        stderr: true,
    };
    let path = std::path::PathBuf::from(&c.log_path);
    let id = c.id.clone();
    let mut running = || {
        engine
            .store
            .get(&id)
            .ok()
            .flatten()
            .is_some_and(|c| c.state.status.is_live())
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let ts = a.timestamps;
    let mut emit = |e: &engine::logs::LogEntry| -> bool {
        let w: &mut dyn Write = match e.stream {
            engine::logs::Stream::Stdout => &mut out,
            engine::logs::Stream::Stderr => &mut err,
        };
        if ts {
            let t = e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            if w.write_all(format!("{t} ").as_bytes()).is_err() {
                return false;
            }
        }
        let ok = w.write_all(&e.line).is_ok();
        let _ = w.flush();
        ok
    };
    if !path.exists() {
        return Ok(0);
    }
    engine::logs::read(&path, &opts, &mut running, &mut emit).map_err(daemon)?;
    Ok(0)
}

// ------------------------------------------------------------------ exec

pub fn exec(engine: &Engine, a: ExecArgs) -> Result<i32> {
    let req = engine::helper::ExecRequest {
        container: a.container,
        env: flags::env_list(&a.env_file, &a.env)?,
        cmd: a.cmd,
        user: a.user,
        workdir: a.workdir,
        privileged: a.privileged,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    engine::helper::start(engine, &req).map_err(|e| {
        anyhow::Error::new(Exit {
            code: e.code,
            msg: e.msg,
        })
    })
}

// ------------------------------------------------------------------ attach

pub fn attach(engine: &Engine, a: AttachArgs) -> Result<i32> {
    let c = engine.find(&a.container).map_err(daemon)?;
    match c.state.status {
        Status::Running => {}
        Status::Paused => bail!("You cannot attach to a paused container, unpause it first"),
        _ => bail!("You cannot attach to a stopped container, start it first"),
    }
    let att = Attach::connect(engine, &c.id).map_err(daemon)?;
    relay(
        engine,
        &c.id,
        att,
        c.config.tty,
        !a.no_stdin && c.config.open_stdin,
        a.sig_proxy && !c.config.tty,
        false,
    )
}

// ------------------------------------------------------------------ inspect

pub fn inspect(engine: &Engine, a: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.names {
        let kind = a.kind.as_deref().unwrap_or("");
        let mut found = None;
        if kind.is_empty() || kind == "container" {
            if let Ok(c) = engine.find(n) {
                let mut v = c.inspect_json();
                if a.size {
                    if let Ok(i) = engine.images() {
                        v["SizeRw"] = json!(engine::volumes::du(&i.snapshots.upper_dir(&c.id)));
                    }
                }
                found = Some(v);
            }
        }
        if found.is_none() && (kind.is_empty() || kind == "image") {
            if let Ok(i) = engine.images() {
                if let Ok(img) = i.get(n) {
                    found = Some(super::images::inspect_json(i, &img)?);
                }
            }
        }
        if found.is_none() && (kind.is_empty() || kind == "volume") {
            if let Ok(Some(v)) = engine.store.volume(n) {
                found = Some(serde_json::to_value(&v)?);
            }
        }
        match found {
            Some(v) => out.push(v),
            None => {
                eprintln!("Error: No such object: {n}");
                code = 1;
            }
        }
    }
    print_inspect(&out, a.format.as_deref())?;
    Ok(code)
}

pub fn print_inspect(out: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None => println!("{}", serde_json::to_string_pretty(out)?),
        Some(f) => {
            for v in out {
                println!("{}", template::render(f, v)?);
            }
        }
    }
    Ok(())
}
