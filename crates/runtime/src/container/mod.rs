//! The lifecycle operations behind the runc-compatible commands: the types shared by them
//! here, `create` in create.rs, `exec` in exec.rs, the other verbs in lifecycle.rs and the
//! cloning of the container's processes in spawn.rs.

mod create;
mod exec;
mod lifecycle;
mod spawn;

use crate::capabilities;
use crate::error::{Context, Error, Result};
use crate::init::Console;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Process;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub struct Runtime {
    pub root: PathBuf,
}

#[derive(Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    /// `run` in the foreground: the runtime itself relays the terminal.
    pub own_terminal: bool,
    /// The process's stdin, stdout and stderr: each given fd becomes its fd 0, 1 or 2 (None:
    /// it inherits the caller's), so callers never point their own fds 0-2 elsewhere.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The caller starts the container itself, with [`Runtime::start_created`] and the
    /// [`Started::gate`] it got (`run`, the engine's monitor): the init then waits for the
    /// go-ahead on its channel, and no exec.fifo is made in the state directory. Until then
    /// nobody else can start it, and its status reads `running`.
    pub start_here: bool,
}

/// What starts a container created with [`CreateOptions::start_here`]: the channel to its
/// init, and the read end of the pipe it reports its start on (as on exec.fifo: "0" once its
/// startContainer hooks passed, "1" and an error when a step fails, EOF at its execve).
pub struct StartGate {
    pub(crate) channel: crate::channel::Channel,
    pub(crate) report: OwnedFd,
}

#[derive(Default)]
pub struct ExecOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub own_terminal: bool,
    /// Exec into a paused container too (the process runs once it is resumed).
    pub ignore_paused: bool,
    /// Sub-cgroups to start the process in, runc's `--cgroup [<controllers>:]<path>`.
    pub sub_cgroups: Vec<String>,
    /// The process's stdin, stdout and stderr: each given fd becomes its fd 0, 1 or 2 (None:
    /// it inherits the caller's), so callers never point their own fds 0-2 elsewhere.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A process we started: its pid, and the terminal master when we relay the terminal ourselves.
pub struct Started {
    pub pid: i32,
    /// For [`CreateOptions::start_here`].
    pub gate: Option<StartGate>,
    pub console: Option<OwnedFd>,
}

/// Where `process`'s terminal goes, if it has one, and our end of it when we relay it ourselves
/// (`own`, without a console socket).
///
/// The terminal is sized before the process runs: with `process.consoleSize`, else, when we
/// relay it, with the size of our own terminal. Setting it later (in the relay) races with the
/// process: an exec'd process is already running when `exec` returns, and `stty size` or a
/// full-screen program's first TIOCGWINSZ would see 0x0.
fn console_for(
    process: &Process,
    socket: Option<&Path>,
    own: bool,
) -> Result<(Console, Option<OwnedFd>)> {
    if !process.terminal().unwrap_or(false) {
        return Ok((Console::None, None));
    }
    let size = process
        .console_size()
        .map(|s| (s.height() as u16, s.width() as u16));
    if let Some(path) = socket {
        let s = UnixStream::connect(path)
            .ctx(|| format!("connecting to console socket {}", path.display()))?;
        let console = Console::Socket {
            sock: s.into(),
            size,
        };
        return Ok((console, None));
    }
    if own {
        let (a, b) = UnixStream::pair().ctx(|| "socketpair for the terminal")?;
        let console = Console::Socket {
            sock: b.into(),
            size: size.or_else(crate::tty::caller_size),
        };
        return Ok((console, Some(a.into())));
    }
    Err(Error::Other("cannot allocate a terminal without --console-socket when detaching (process.terminal is true)".into()))
}

/// The capability plan for `process`, warning about what the host cannot grant.
fn plan_caps(process: &Process) -> Option<capabilities::CapPlan> {
    let caps = process.capabilities().as_ref().map(|c| {
        capabilities::plan(
            c,
            capabilities::own_bounding_set(),
            capabilities::last_cap(),
        )
    });
    for w in caps.iter().flat_map(|c| &c.warnings) {
        crate::log::warn(w);
    }
    caps
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    crate::util::write_atomic(path, pid.to_string().as_bytes())
}

fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), None);
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// Compiled seccomp programs, kept in the (root-only) state root.
    fn seccomp_cache(&self) -> Result<PathBuf> {
        // the root first, so it gets its 0700 and the cache inherits the protection
        self.ensure_root()?;
        Ok(self.root.join(".seccomp-cache"))
    }

    fn ensure_root(&self) -> Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("creating state root {}", self.root.display()))?;
        // a plain user's state root may be in /tmp, where another user could have made it first
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let md = std::fs::symlink_metadata(&self.root)
            .ctx(|| format!("state root {}", self.root.display()))?;
        if euid != 0 && (!md.is_dir() || std::os::unix::fs::MetadataExt::uid(&md) != euid) {
            return Err(Error::Other(format!(
                "state root {} is not a directory owned by uid {euid}",
                self.root.display()
            )));
        }
        Ok(())
    }
}
