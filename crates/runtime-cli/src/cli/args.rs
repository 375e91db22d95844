//! runc's command line, flag for flag (the subset engines use, plus what users type).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    about = "berth's OCI runtime: runs containers from OCI bundles, runc-compatible"
)]
pub struct Cli {
    /// Root directory for container state (default /run/berth-runtime; for a plain user
    /// $XDG_RUNTIME_DIR/berth-runtime, as runc's $XDG_RUNTIME_DIR/runc).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (errors and warnings; stderr when unset).
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility: cgroups paths in slice:prefix:name form.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for compatibility (checkpoint/restore is not supported).
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pseudoterminal master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for compatibility: no session keyring is created.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3..3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    pub id: String,
}

impl Cli {
    /// The state root: `--root`, or the default for who runs us.
    pub fn state_root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            return PathBuf::from("/run/berth-runtime");
        }
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d).join("berth-runtime"),
            // no login session: a dir of our own in /tmp (the runtime creates it 0700)
            None => PathBuf::from(format!("/tmp/berth-runtime-{euid}")),
        }
    }
}

/// Parsed once per invocation: the size difference between variants does not matter.
/// Each subcommand's arguments are defined only when it is the one invoked (`defer`): building
/// every subcommand's arguments on each call was the largest code path of a `run`.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a new specification file (config.json).
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Run the user process of a created container.
    Start { id: String },
    /// Create and start a container.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Output the state of a container (OCI state JSON).
    State { id: String },
    /// Send a signal to the container's init process.
    Kill {
        /// Send the signal to every process in the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container's state (and the container with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// List containers.
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the processes of a container.
    Ps {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: String,
        /// Options passed to ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run a new process inside a container.
    Exec(ExecArgs),
    /// Show what this runtime supports (JSON).
    Features,
    /// Change the resource limits of a running container.
    Update(UpdateArgs),
    /// Show container statistics (--stats: once) and OOM notifications.
    Events {
        /// Print the statistics once and exit.
        #[arg(long)]
        stats: bool,
        /// Seconds between statistics.
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Suspend every process of a container (cgroup freezer).
    Pause { id: String },
    /// Resume a paused container.
    Resume { id: String },
}

/// `update`: a resources file, or runc's flags (the file wins, as in runc).
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON file, or - for stdin.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period (-1: unlimited).
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Ignored, as by runc: kernel memory limits are deprecated.
    #[arg(long = "kernel-memory", allow_negative_numbers = true)]
    pub kernel_memory: Option<String>,
    /// Ignored, as by runc: kernel memory limits are deprecated.
    #[arg(long = "kernel-memory-tcp", allow_negative_numbers = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or with a unit: 50M, 1g; -1: unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory soft limit (bytes or with a unit; -1: unlimited).
    #[arg(long = "memory-reservation", allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (bytes or with a unit; -1: unlimited swap).
    #[arg(long = "memory-swap", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1: unlimited).
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// process.json with the process to run.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=value).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// UID[:GID].
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective, permitted (and inheritable) sets.
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for compatibility.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Accepted for compatibility.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Exec even when the container is paused (the process starts once it is resumed).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run the process in an existing sub-cgroup: `[<controller>[,<controller>]:]<path>`.
    #[arg(long)]
    pub cgroup: Vec<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// What the command line asks for before clap sees it: runc's `-v`/`--version` text (dockerd
/// parses its `commit:` line), a command that does not exist (runc: "No help topic"), or one
/// that creates or enters a container.
#[derive(Debug, PartialEq, Eq)]
pub enum Early {
    Version,
    NoHelpTopic(String),
    /// A command that creates or enters a container (`create`, `run`, `exec`): the runtime
    /// re-executes from a protected view of itself before anything else (see `seal`).
    Protect,
}

/// The commands that create or enter a container.
const PROTECTED: &[&str] = &["create", "run", "exec"];

/// Global options that take a value (their value is not the command name).
const GLOBAL_WITH_VALUE: &[&str] = &["--root", "--log", "--log-format", "--criu", "--rootless"];

pub fn early(args: &[String]) -> Option<Early> {
    use clap::CommandFactory;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-v" | "--version" => return Some(Early::Version),
            o if GLOBAL_WITH_VALUE.contains(&o) => {
                it.next();
            }
            o if o.starts_with('-') => {}
            "help" => {
                let topic = it.find(|a| !a.starts_with('-'))?;
                let known = Cli::command().find_subcommand(topic).is_some();
                return (!known).then(|| Early::NoHelpTopic(topic.clone()));
            }
            name if PROTECTED.contains(&name) => return Some(Early::Protect),
            name => {
                let known = Cli::command().find_subcommand(name).is_some();
                return (!known).then(|| Early::NoHelpTopic(name.to_string()));
            }
        }
    }
    None
}

/// `KILL`, `SIGKILL`, `kill` or `9`; `0` (None) only checks that the process exists, as kill(2).
pub fn parse_signal(s: &str) -> Result<Option<nix::sys::signal::Signal>, String> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        if n == 0 {
            return Ok(None);
        }
        return nix::sys::signal::Signal::try_from(n)
            .map(Some)
            .map_err(|_| format!("invalid signal number {n}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map(Some)
        .map_err(|_| format!("unknown signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("sigterm").unwrap(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("9").unwrap(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("usr1").unwrap(), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("0").unwrap(), None);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn version_and_unknown_commands_before_clap() {
        let v = |a: &[&str]| early(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(v(&["rt", "-v"]), Some(Early::Version));
        assert_eq!(
            v(&["rt", "--root", "/x", "--version"]),
            Some(Early::Version)
        );
        assert_eq!(
            v(&["rt", "foo", "-h"]),
            Some(Early::NoHelpTopic("foo".into()))
        );
        assert_eq!(
            v(&["rt", "help", "foo"]),
            Some(Early::NoHelpTopic("foo".into()))
        );
        assert_eq!(v(&["rt", "--root", "kill", "list"]), None);
        assert_eq!(v(&["rt", "kill", "-h"]), None);
        assert_eq!(v(&["rt", "help", "kill"]), None);
        // a container named like a flag after the command is the command's business
        assert_eq!(v(&["rt", "exec", "c1", "-v"]), Some(Early::Protect));
        // the commands that create or enter a container, whatever the global options
        assert_eq!(
            v(&["rt", "--root", "run", "--log", "/l", "create", "c1"]),
            Some(Early::Protect)
        );
        assert_eq!(v(&["rt", "run", "-d", "c1"]), Some(Early::Protect));
        assert_eq!(v(&["rt", "--root", "/x", "start", "run"]), None);
    }

    #[test]
    fn runc_command_lines_parse() {
        let c = Cli::try_parse_from([
            "berth-runtime",
            "--root",
            "/run/containerd/runc/default",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--console-socket",
            "/tmp/c.sock",
            "--no-new-keyring",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        let Command::Create(a) = c.command else {
            panic!()
        };
        assert_eq!((a.id.as_str(), a.bundle.to_str().unwrap()), ("id1", "/b"));
        let c = Cli::try_parse_from([
            "berth-runtime",
            "exec",
            "-t",
            "-e",
            "A=1",
            "--user",
            "1000:1000",
            "c1",
            "sh",
            "-c",
            "echo -n hi",
        ])
        .unwrap();
        let Command::Exec(e) = c.command else {
            panic!()
        };
        assert_eq!(e.command, vec!["sh", "-c", "echo -n hi"]);
        let c = Cli::try_parse_from(["berth-runtime", "kill", "--all", "c1", "9"]).unwrap();
        assert!(matches!(c.command, Command::Kill { all: true, .. }));
        let c = Cli::try_parse_from(["berth-runtime", "ps", "--format", "json", "c1"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Ps {
                format: ListFormat::Json,
                ..
            }
        ));
        let c = Cli::try_parse_from(["berth-runtime", "delete", "--force", "c1"]).unwrap();
        assert!(matches!(c.command, Command::Delete { force: true, .. }));
    }
}
