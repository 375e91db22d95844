//! The `berth` command line: docker's commands, flags and output.

mod build;
mod containers;
mod docs;
mod events;
mod flags;
mod hostflags;
mod image_flags;
mod images;
mod manifest;
mod networks;
mod ops;
mod output;
mod search;
mod swarmish;
mod template;
mod volumes;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A daemonless docker-compatible container engine"
)]
pub struct Cli {
    /// State root (images, layers, snapshots); $BERTH_ROOT, /var/lib/berth for root,
    /// $XDG_DATA_HOME/berth (~/.local/share/berth) for a plain user
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Every subcommand enum is `defer`red: clap defines a subcommand's arguments only when it is
/// the one invoked (or for help and completions), instead of building the whole tree, ~1 ms
/// and ~2 MB of heap, on every call.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Cmd {
    /// Download an image from a registry
    Pull(images::PullArgs),
    /// Upload an image to a registry
    Push(images::PushArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to stdout by default)
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(images::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(images::ImportArgs),
    /// Log in to a registry
    Login(images::LoginArgs),
    /// Search a registry for images (Docker Hub by default)
    Search(search::SearchArgs),
    /// Log out from a registry
    Logout(images::LogoutArgs),
    /// Return low-level information on containers, images or volumes
    Inspect(containers::InspectArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Create and run a new container from an image
    Run(containers::RunArgs),
    /// Create a new container
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    Rm(containers::RmArgs),
    /// List containers
    Ps(containers::PsArgs),
    /// Fetch the logs of a container
    Logs(containers::LogsArgs),
    /// Execute a command in a running container
    Exec(containers::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(containers::AttachArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::NamesArgs),
    /// Pause all processes within one or more containers
    Pause(containers::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(containers::NamesArgs),
    /// Rename a container
    Rename(containers::RenameArgs),
    /// Manage containers
    Container {
        #[command(subcommand)]
        cmd: ContainerCmd,
    },
    /// Manage volumes
    Volume {
        #[command(subcommand)]
        cmd: volumes::VolumeCmd,
    },
    /// Display the running processes of a container
    Top(ops::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ops::StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ops::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ops::DiffArgs),
    /// Create a new image from a container's changes
    Commit(ops::CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ops::ExportArgs),
    /// Display system-wide information
    Info(ops::InfoArgs),
    /// Show the berth version information
    Version(ops::InfoArgs),
    /// Manage berth
    System {
        #[command(subcommand)]
        cmd: ops::SystemCmd,
    },
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Manage builds
    Builder {
        #[command(subcommand)]
        cmd: build::BuilderCmd,
    },
    /// Manage networks
    Network {
        #[command(subcommand)]
        cmd: networks::NetworkCmd,
    },
    /// List port mappings or a specific mapping for the container
    Port(containers::PortArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Manage checkpoints (not supported: experimental in docker)
    Checkpoint {
        #[command(subcommand)]
        cmd: swarmish::CheckpointCmd,
    },
    /// Manage Docker image manifests and manifest lists
    Manifest {
        #[command(subcommand)]
        cmd: manifest::ManifestCmd,
    },
    /// Update configuration of one or more containers
    Update(containers::UpdateArgs),
    /// Print the completion script for a shell (bash, zsh, fish)
    Completion(docs::CompletionArgs),
    /// Write the man pages (berth.1, berth-<command>.1) to a directory
    Manpages(docs::ManpagesArgs),
    /// Check what this host supports and explain what is missing
    Doctor,
    /// Serve the Docker Engine API (for the docker CLI, docker-compose, docker-py)
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Where to listen: unix:///path (default unix:///run/berth.sock, $XDG_RUNTIME_DIR/berth.sock rootless) or tcp://host:port
    /// (only with --tlsverify); repeatable
    #[arg(short = 'H', long = "host")]
    pub host: Vec<String>,
    /// Group allowed to use the unix socket (created when missing)
    #[arg(long, default_value = "berth")]
    pub group: String,
    /// Require TLS with client certificates signed by --tlscacert (needed for tcp://)
    #[arg(long)]
    pub tlsverify: bool,
    #[arg(long)]
    pub tlscacert: Option<PathBuf>,
    #[arg(long)]
    pub tlscert: Option<PathBuf>,
    #[arg(long)]
    pub tlskey: Option<PathBuf>,
}

fn serve(root: PathBuf, a: ServeArgs) -> anyhow::Result<i32> {
    let tls = if a.tlsverify {
        match (a.tlscacert, a.tlscert, a.tlskey) {
            (Some(ca), Some(cert), Some(key)) => Some(api::tls::TlsOptions { ca, cert, key }),
            _ => anyhow::bail!("--tlsverify needs --tlscacert, --tlscert and --tlskey"),
        }
    } else {
        None
    };
    api::serve(api::ServeOptions {
        root,
        hosts: a.host,
        group: a.group,
        tls,
    })?;
    Ok(0)
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum ContainerCmd {
    /// Create and run a new container from an image
    Run(containers::RunArgs),
    /// Create a new container
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(containers::PsArgs),
    /// Fetch the logs of a container
    Logs(containers::LogsArgs),
    /// Execute a command in a running container
    Exec(containers::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(containers::AttachArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::NamesArgs),
    /// Pause all processes within one or more containers
    Pause(containers::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(containers::NamesArgs),
    /// Rename a container
    Rename(containers::RenameArgs),
    /// Display detailed information on one or more containers
    Inspect(containers::InspectArgs),
    /// Remove all stopped containers
    Prune(containers::PruneArgs),
    /// Display the running processes of a container
    Top(ops::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(ops::StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(ops::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(ops::DiffArgs),
    /// Create a new image from a container's changes
    Commit(ops::CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ops::ExportArgs),
    /// List port mappings or a specific mapping for the container
    Port(containers::PortArgs),
    /// Update configuration of one or more containers
    Update(containers::UpdateArgs),
}

// one value per process, parsed once: the size of its largest variant costs nothing
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum ImageCmd {
    /// Download an image from a registry
    Pull(images::PullArgs),
    /// Upload an image to a registry
    Push(images::PushArgs),
    /// List images
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(images::TagArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(images::RmiArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to stdout by default)
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(images::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(images::ImportArgs),
    /// Display detailed information on one or more images
    Inspect(images::InspectArgs),
    /// Remove unused images, blobs and layers
    Prune(images::PruneArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
}

fn root(cli: &Cli) -> PathBuf {
    cli.root.clone().unwrap_or_else(engine::paths::default_root)
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    use containers as c;
    let root = root(&cli);
    if let Cmd::Serve(a) = cli.cmd {
        return serve(root, a);
    }
    let cli = match cli.cmd {
        Cmd::Completion(a) => return docs::completion(a),
        Cmd::Manpages(a) => return docs::manpages(a),
        Cmd::Manifest { cmd } => return manifest::run(&root, cmd),
        Cmd::Checkpoint { cmd } => return swarmish::checkpoint(cmd),
        Cmd::Search(a) => return search::run(a),
        cmd => Cli { cmd, ..cli },
    };
    if let Cmd::Doctor = &cli.cmd {
        let checks = doctor::checks(&root);
        print!("{}", doctor::report(&checks));
        return Ok(0);
    }
    let open = || {
        engine::engine::Engine::open(&root)
            .map_err(|e| anyhow::anyhow!("open state root {}: {e}", root.display()))
    };
    let cmd = match cli.cmd {
        Cmd::Container { cmd } => match cmd {
            ContainerCmd::Run(a) => Cmd::Run(a),
            ContainerCmd::Create(a) => Cmd::Create(a),
            ContainerCmd::Start(a) => Cmd::Start(a),
            ContainerCmd::Stop(a) => Cmd::Stop(a),
            ContainerCmd::Restart(a) => Cmd::Restart(a),
            ContainerCmd::Kill(a) => Cmd::Kill(a),
            ContainerCmd::Rm(a) => Cmd::Rm(a),
            ContainerCmd::Ls(a) => Cmd::Ps(a),
            ContainerCmd::Logs(a) => Cmd::Logs(a),
            ContainerCmd::Exec(a) => Cmd::Exec(a),
            ContainerCmd::Attach(a) => Cmd::Attach(a),
            ContainerCmd::Wait(a) => Cmd::Wait(a),
            ContainerCmd::Pause(a) => Cmd::Pause(a),
            ContainerCmd::Unpause(a) => Cmd::Unpause(a),
            ContainerCmd::Rename(a) => Cmd::Rename(a),
            ContainerCmd::Inspect(a) => Cmd::Inspect(a),
            ContainerCmd::Prune(a) => return c::prune(&open()?, a),
            ContainerCmd::Top(a) => Cmd::Top(a),
            ContainerCmd::Stats(a) => Cmd::Stats(a),
            ContainerCmd::Cp(a) => Cmd::Cp(a),
            ContainerCmd::Diff(a) => Cmd::Diff(a),
            ContainerCmd::Commit(a) => Cmd::Commit(a),
            ContainerCmd::Export(a) => Cmd::Export(a),
            ContainerCmd::Port(a) => Cmd::Port(a),
            ContainerCmd::Update(a) => Cmd::Update(a),
        },
        Cmd::Image {
            cmd: ImageCmd::Build(a),
        } => Cmd::Build(a),
        other => other,
    };
    match cmd {
        Cmd::Run(a) => c::run(&open()?, a),
        Cmd::Create(a) => c::create(&open()?, a),
        Cmd::Start(a) => c::start(&open()?, a),
        Cmd::Stop(a) => c::stop(&open()?, a),
        Cmd::Restart(a) => c::restart(&open()?, a),
        Cmd::Kill(a) => c::kill(&open()?, a),
        Cmd::Rm(a) => c::rm(&open()?, a),
        Cmd::Ps(a) => c::ps(&open()?, a),
        Cmd::Logs(a) => c::logs(&open()?, a),
        Cmd::Exec(a) => c::exec(&open()?, a),
        Cmd::Attach(a) => c::attach(&open()?, a),
        Cmd::Wait(a) => c::wait(&open()?, a),
        Cmd::Pause(a) => c::pause(&open()?, a),
        Cmd::Unpause(a) => c::unpause(&open()?, a),
        Cmd::Rename(a) => c::rename(&open()?, a),
        Cmd::Inspect(a) => c::inspect(&open()?, a),
        Cmd::Volume { cmd } => volumes::run(&open()?, cmd),
        Cmd::Network { cmd } => networks::run(&open()?, cmd),
        Cmd::Build(a) => build::run(&open()?, a),
        Cmd::Builder { cmd } => build::builder(&open()?, cmd),
        Cmd::Port(a) => c::port(&open()?, a),
        Cmd::Events(a) => events::run(&open()?, a),
        Cmd::Update(a) => c::update(&open()?, a),
        Cmd::Top(a) => ops::top(&open()?, a),
        Cmd::Stats(a) => ops::stats(&open()?, a),
        Cmd::Cp(a) => ops::cp(&open()?, a),
        Cmd::Diff(a) => ops::diff(&open()?, a),
        Cmd::Commit(a) => ops::commit(&open()?, a),
        Cmd::Export(a) => ops::export(&open()?, a),
        Cmd::Info(a) => ops::info(&open()?, a),
        Cmd::Version(a) => ops::version(&open()?, a),
        Cmd::System { cmd } => ops::system(&open()?, cmd),
        other => images::run(Cli {
            root: Some(root),
            cmd: other,
        }),
    }
}

/// Parse like the docker CLI: flag errors exit 125 with docker's wording.
fn parse() -> Result<Cli, i32> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match Cli::try_parse() {
        Ok(c) => Ok(c),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                Err(0)
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                Err(1)
            }
            ErrorKind::UnknownArgument => {
                let arg = match e.get(ContextKind::InvalidArg) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::new(),
                };
                eprintln!("unknown flag: {arg}\nSee 'berth --help'.");
                Err(125)
            }
            _ => {
                let msg = e.to_string();
                eprint!("{}", msg.strip_prefix("error: ").unwrap_or(&msg));
                Err(125)
            }
        },
    }
}

/// A closed pipe: the user-facing commands die quietly of it (`berth images | head`), as other
/// CLIs do; the server and the helpers (monitor, DNS) must outlive any client that goes away
/// mid-stream, so for them a write to a closed socket is an EPIPE error ending that one stream.
fn set_sigpipe(cmd: &Cmd) {
    let long_lived = matches!(cmd, Cmd::Serve(_));
    let disposition = if long_lived {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: setting a signal disposition to SIG_IGN or SIG_DFL has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, disposition);
    }
}

pub fn main() -> i32 {
    // the helpers the engine starts (`__monitor`, `__dns`, `__exec`) are the engine's
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if engine::entry::is_helper(&args) {
        return engine::entry::main(&args);
    }
    let cli = match parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    set_sigpipe(&cli.cmd);
    // a plain user's berth works in its user namespace (doctor looks at the host as it is)
    if !matches!(cli.cmd, Cmd::Doctor) {
        if let Err(e) = engine::rootless::enter() {
            eprintln!("Error: {e}");
            return 1;
        }
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(x) = e.downcast_ref::<containers::Exit>() {
                eprintln!("{x}");
                return x.code;
            }
            let mut msg = format!("{e}");
            for c in e.chain().skip(1) {
                msg.push_str(&format!(": {c}"));
            }
            if msg.starts_with("Error response from daemon") {
                // docker prints the daemon's errors as they are
                eprintln!("{msg}");
            } else {
                eprintln!("Error: {msg}");
            }
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every visible command and subcommand has a help line (`berth container --help` listed
    /// bare names), as docker's do.
    #[test]
    fn every_subcommand_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() || sub.get_name() == "help" {
                    continue;
                }
                let p = format!("{path} {}", sub.get_name());
                if sub
                    .get_about()
                    .is_none_or(|a| a.to_string().trim().is_empty())
                {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "berth", &mut missing);
        assert!(missing.is_empty(), "no help line: {missing:?}");
    }
}
