//! An exec into a running container: the one place its process is built (for `berth exec`,
//! the API's exec through the `__exec` helper, and health checks) and run with the caller's
//! stdio.

use super::request::ExecRequest;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use crate::types::Status;
use oci_spec::runtime::{Capability, Process, User};
use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A failed exec as the docker CLI reports it: the message to print and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    pub code: i32,
    pub msg: String,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ExecError {}

fn daemon(e: impl std::fmt::Display) -> ExecError {
    ExecError {
        code: 1,
        msg: format!("Error response from daemon: {e}"),
    }
}

/// The container's own process (from its bundle's config.json), to start an exec from.
fn base_process(c: &Container) -> Result<Process> {
    let cfg = Path::new(&c.internal.bundle).join("config.json");
    let data =
        std::fs::read(&cfg).map_err(|e| Error::Other(format!("read {}: {e}", cfg.display())))?;
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(&data)?;
    Ok(spec.process().clone().unwrap_or_default())
}

/// The request's command and overrides on the container's process.
fn apply(p: &mut Process, c: &Container, req: &ExecRequest) -> Result<()> {
    p.set_args(Some(req.cmd.clone()));
    p.set_terminal(Some(req.tty));
    p.set_console_size(None);
    let env = crate::spec::replace_or_append_env(p.env().clone().unwrap_or_default(), &req.env);
    p.set_env(Some(env));
    if let Some(w) = &req.workdir {
        p.set_cwd(w.into());
    }
    if let Some(u) = &req.user {
        let (uid, gid, groups) =
            crate::spec::resolve_user(Path::new(&c.internal.rootfs), u, &c.host_config.group_add)?;
        let mut user = User::default();
        user.set_uid(uid);
        user.set_gid(gid);
        user.set_additional_gids(Some(groups));
        p.set_user(user);
    }
    if req.privileged {
        let all: HashSet<Capability> = runtime::spec::KNOWN_CAPS
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        let mut caps = p.capabilities().clone().unwrap_or_default();
        caps.set_bounding(Some(all.clone()));
        caps.set_effective(Some(all.clone()));
        caps.set_permitted(Some(all));
        p.set_capabilities(Some(caps));
    }
    Ok(())
}

/// The process an exec of `req` runs in container `c`.
pub fn process(c: &Container, req: &ExecRequest) -> Result<Process> {
    let mut p = base_process(c)?;
    apply(&mut p, c, req)?;
    Ok(p)
}

/// Runs `req` with our stdio (a terminal relayed by us with `tty`): the process's exit status,
/// or 0 once it runs with `detach`.
pub fn start(engine: &Engine, req: &ExecRequest) -> std::result::Result<i32, ExecError> {
    // CVE-2019-5736: the exec's process is a copy of ours until it runs the command, and a
    // command that is `#!/proc/self/exe` runs our executable inside the container, which may
    // then write it once we have exited: it must be a protected view, never the host's binary
    // (callers re-execute with `protect_self` first; monitors are started from one).
    if !runtime::exe_view::running_protected() {
        return Err(daemon(
            "refusing to enter the container from an executable it could write (re-execute \
             from a protected view first)",
        ));
    }
    let c = engine.find_reconciled(&req.container).map_err(daemon)?;
    match c.state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(daemon(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            )))
        }
        _ => return Err(daemon(format!("container {} is not running", c.id))),
    }
    let mut p = base_process(&c).map_err(|e| ExecError {
        code: 1,
        msg: format!("Error: {e}"),
    })?;
    apply(&mut p, &c, req).map_err(daemon)?;
    // the runtime's warnings belong in the container's runtime log, not in the exec's stderr
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(engine.monitor_dir(&c.id).join("runtime.log"))
    {
        runtime::log::init(Some(f), false, false);
    }
    let detach = req.detach;
    let devnull = || -> std::result::Result<Option<OwnedFd>, ExecError> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| ExecError {
                code: 1,
                msg: format!("Error: /dev/null: {e}"),
            })?;
        Ok(Some(f.into()))
    };
    let quiet_stdin = detach || !req.interactive;
    if quiet_stdin && req.tty && !detach {
        // `-t` without `-i`: the terminal we relay gets no input from ours
        no_relay_input()?;
    }
    let opts = runtime::ExecOptions {
        own_terminal: req.tty && !detach,
        stdin: if quiet_stdin { devnull()? } else { None },
        stdout: if detach { devnull()? } else { None },
        stderr: if detach { devnull()? } else { None },
        ..Default::default()
    };
    if !detach {
        runtime::relay::block_signals();
    }
    if req.tty && detach {
        p.set_terminal(Some(false));
    }
    // dockerd 20.10 (API 1.41) records 126 for an exec its runtime could not start, whatever
    // the cause, a missing executable too (docker-py 7.1's test_exec_run_failed); the API's
    // version history records no versioned change of it, so no API version answers 127
    let started = engine.runtime.exec(&c.id, &p, &opts).map_err(|e| {
        let m = e.to_string();
        ExecError {
            code: EXEC_START_FAILED,
            msg: format!("OCI runtime exec failed: exec failed: {m}"),
        }
    })?;
    drop(opts);
    if detach {
        return Ok(0);
    }
    use std::io::IsTerminal;
    let watch = (req.tty && req.interactive && std::io::stdin().is_terminal())
        .then(|| req.detach_keys.clone())
        .flatten()
        .map(runtime::detach_keys::Detach::new);
    match runtime::relay::forward_until_detached(started.pid, started.console, watch) {
        Ok(runtime::relay::Relayed::Exited(code)) => Ok(code),
        // as docker exec (and attach): the process runs on, the command says so and exits 1
        Ok(runtime::relay::Relayed::Detached) => {
            eprintln!("read escape sequence");
            Ok(1)
        }
        Err(e) => Err(ExecError {
            code: 1,
            msg: format!("Error: {e:#}"),
        }),
    }
}

/// The terminal relay reads our fd 0: point it at /dev/null (this process does nothing else
/// with its stdin).
fn no_relay_input() -> std::result::Result<(), ExecError> {
    let f = std::fs::File::open("/dev/null").map_err(|e| ExecError {
        code: 1,
        msg: format!("Error: /dev/null: {e}"),
    })?;
    nix::unistd::dup2_stdin(&f).map_err(|e| ExecError {
        code: 1,
        msg: format!("Error: /dev/null as stdin: {e}"),
    })
}

/// Before [`start`] in a process that runs from the host's binary (`berth exec`, the `__exec`
/// helper): re-executes it, same arguments, from a protected view of its executable (see
/// `runtime::exe_view`).
pub fn protect_self() -> std::result::Result<(), ExecError> {
    runtime::exe_view::reexec_protected("berth-exec").map_err(|e| ExecError {
        code: 1,
        msg: format!("Error: {e}"),
    })
}

/// The `__exec` helper: [`start`] with the request, errors printed as `berth exec` prints them.
/// (It has re-executed with [`protect_self`] before reading its request.)
pub(crate) fn main(root: &Path, req: &ExecRequest) -> i32 {
    let r = Engine::open(root)
        .map_err(|e| ExecError {
            code: 1,
            msg: format!("Error: open state root {}: {e}", root.display()),
        })
        .and_then(|engine| start(&engine, req));
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}

/// The exit status of an exec whose process could not be started (dockerd 20.10's).
pub const EXEC_START_FAILED: i32 = 126;

/// The docker CLI's exit status for a process that could not be started: 127 when something
/// was not found, 126 when it was not allowed, else `other`.
pub fn failure_code(msg: &str, other: i32) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        other
    }
}
