//! runc's command line, flag for flag (the subset engines use, plus what users type).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "berth's OCI runtime: runs containers from OCI bundles, runc-compatible"
)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/berth-runtime")]
    pub root: PathBuf,
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

/// Parsed once per invocation: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
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
    Update {
        /// LinuxResources JSON file, or - for stdin.
        #[arg(short, long)]
        resources: Option<std::path::PathBuf>,
        /// Memory limit in bytes.
        #[arg(long)]
        memory: Option<i64>,
        /// Maximum number of pids (-1: unlimited).
        #[arg(long = "pids-limit")]
        pids_limit: Option<i64>,
        /// CPU CFS quota in microseconds per period.
        #[arg(long = "cpu-quota")]
        cpu_quota: Option<i64>,
        /// CPU CFS period in microseconds.
        #[arg(long = "cpu-period")]
        cpu_period: Option<u64>,
        /// CPU shares (relative weight).
        #[arg(long = "cpu-share")]
        cpu_share: Option<u64>,
        id: String,
    },
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
    /// Accepted for compatibility.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for compatibility.
    #[arg(long)]
    pub cgroup: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, String> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| format!("invalid signal number {n}"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| format!("unknown signal {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("usr1").unwrap(), Signal::SIGUSR1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
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
