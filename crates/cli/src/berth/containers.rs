//! Container commands: run, create, start, stop, restart, kill, rm, ps, logs, exec, attach,
//! wait, inspect, pause, unpause, rename, container prune.

use super::flags::{self, CreateFlags};
use super::output::{human_since, human_size};
use super::template;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use engine::engine::Engine;
use engine::monitor::{self, Attach};
use engine::types::Container;
use engine::types::Status;
use serde_json::{json, Value};
use std::io::{IsTerminal, Read, Write};

mod inspect;
mod lifecycle;
mod ps;
mod update;

pub use inspect::{attach, inspect, logs, print_inspect};
pub use lifecycle::{kill, pause, prune, rename, restart, rm, start, stop, unpause, wait};
pub use ps::{port, ps, PortArgs};
pub use update::{update, UpdateArgs};

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
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// IMAGE [COMMAND] [ARG...]: everything after the image belongs to the command
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true, trailing_var_arg = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long)]
    pub attach: Vec<String>,
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Restore from this checkpoint (needs docker's experimental checkpoints: refused)
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Use a custom checkpoint storage directory
    #[arg(long = "checkpoint-dir")]
    pub checkpoint_dir: Option<String>,
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
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
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
    super::hostflags::check_cidfile(&flags.host).map_err(|e| fail(code, what, e))?;
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
            if !flags.host.quiet {
                eprintln!("Unable to find image '{}' locally", qualified(image));
            }
            super::images::pull_quiet(
                engine.images().map_err(|e| fail(code, what, e))?,
                image,
                flags.platform.as_deref(),
                !flags.host.quiet,
            )
            .map_err(|e| fail(code, what, e))?;
            engine.create(req).map_err(|e| fail(code, what, e))?
        }
        r => r.map_err(|e| fail(code, what, e))?,
    };
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    super::hostflags::write_cidfile(&flags.host, &c.id).map_err(|e| fail(code, what, e))?;
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
    fault::mark("cli.monitor-listening");
    let att = Attach::connect(engine, &c.id).map_err(run_failed)?;
    relay(
        engine,
        &c.id,
        att,
        a.flags.tty,
        a.flags.interactive,
        a.sig_proxy && !a.flags.tty,
        RelayOpts {
            from_run: true,
            detach_keys: a.detach_keys.as_deref(),
            escape_is_error: false,
        },
    )
}

/// `-a STREAM`s as Config.Attach* (none given: stdout and stderr, stdin with -i).
pub fn attach_streams(attach: &[String], interactive: bool) -> Result<Option<[bool; 3]>> {
    if attach.is_empty() {
        return Ok(None);
    }
    let mut s = [false; 3];
    for a in attach {
        match a.to_ascii_lowercase().as_str() {
            "stdin" => s[0] = true,
            "stdout" => s[1] = true,
            "stderr" => s[2] = true,
            _ => bail!("invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"),
        }
    }
    s[0] |= interactive;
    Ok(Some(s))
}

pub fn create(engine: &Engine, a: CreateArgs) -> Result<i32> {
    let streams =
        attach_streams(&a.attach, a.flags.interactive).map_err(|e| fail(125, "create", e))?;
    let c = create_container(engine, &a.flags, &a.args[0], &a.args[1..], false, 1)?;
    if let Some([i, o, e]) = streams {
        engine
            .store
            .update(&c.id, |c| {
                c.config.attach_stdin = i;
                c.config.attach_stdout = o;
                c.config.attach_stderr = e;
            })
            .map_err(daemon)?;
    }
    println!("{}", c.id);
    Ok(0)
}

/// Who relays (`run` reports a start failure as docker run does) and the `--detach-keys`
/// (docker's ctrl-p,ctrl-q when not given).
pub struct RelayOpts<'a> {
    pub from_run: bool,
    pub detach_keys: Option<&'a str>,
    /// `attach` reports a detach as docker attach does: "read escape sequence", exit 1
    pub escape_is_error: bool,
}

/// The detach sequence: only a terminal's input is watched for it (piped input passes whole).
fn detach_keys(keys: Option<&str>) -> Result<Vec<u8>> {
    match keys.filter(|k| !k.is_empty()) {
        None => Ok(vec![16, 17]),
        Some(k) => api::containers::parse_detach_keys(k).map_err(|e| anyhow!(e.message)),
    }
}

/// Relay an attach stream to our stdio until the container exits (its exit code) or the user
/// types the detach sequence (0, the container left running).
fn relay(
    engine: &Engine,
    id: &str,
    att: Attach,
    tty: bool,
    stdin: bool,
    sig_proxy: bool,
    opts: RelayOpts<'_>,
) -> Result<i32> {
    let from_run = opts.from_run;
    let mut watch = api::containers::Detach::new(detach_keys(opts.detach_keys)?);
    let watch_keys = tty && std::io::stdin().is_terminal();
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
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
            let (data, _) = if watch_keys {
                watch.feed(&typed)
            } else {
                (typed, false)
            };
            let _ = a.send_stdin(&data);
        }
        let detached = detached.clone();
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
                        let (data, detach) = if watch_keys {
                            watch.feed(&buf[..n])
                        } else {
                            (buf[..n].to_vec(), false)
                        };
                        if a.send_stdin(&data).is_err() {
                            break;
                        }
                        if detach {
                            // the output relay ends with the stream; the container runs on
                            detached.store(true, std::sync::atomic::Ordering::SeqCst);
                            let _ = a.sock.shutdown(std::net::Shutdown::Both);
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
    if detached.load(std::sync::atomic::Ordering::SeqCst) {
        if opts.escape_is_error {
            eprintln!("read escape sequence");
            return Ok(1);
        }
        return Ok(0);
    }
    fault::mark("cli.exit-received");
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
    let rt = engine::runtimes::Runtimes::new(&engine.root, &engine.run_root);
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

// ------------------------------------------------------------------ exec

pub fn exec(engine: &Engine, a: ExecArgs) -> Result<i32> {
    engine::helper::exec::protect_self().map_err(|e| {
        anyhow::Error::new(Exit {
            code: e.code,
            msg: e.msg,
        })
    })?;
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
        detach_keys: Some(detach_keys(a.detach_keys.as_deref()).map_err(|e| {
            anyhow::Error::new(Exit {
                code: 125,
                msg: format!("Error: {e}"),
            })
        })?),
    };
    engine::helper::start(engine, &req).map_err(|e| {
        anyhow::Error::new(Exit {
            code: e.code,
            msg: e.msg,
        })
    })
}
