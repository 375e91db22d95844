//! An external OCI runtime driven through runc's command line (runc, crun, youki...), with its
//! state under its own `--root`.

use super::RuntimeEntry;
use nix::sys::signal::Signal;
use oci_spec::runtime::Process;
use runtime::state::ContainerState;
use runtime::{CreateOptions, Error, ExecOptions, Result, Started};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Oci {
    pub name: String,
    entry: RuntimeEntry,
    root: PathBuf,
}

fn stdio(fd: &Option<OwnedFd>) -> Result<Stdio> {
    Ok(match fd {
        Some(f) => Stdio::from(
            f.try_clone()
                .map_err(|e| Error::Other(format!("dup stdio: {e}")))?,
        ),
        None => Stdio::inherit(),
    })
}

/// A scratch path beside the runtime's root (console sockets, exec process files).
fn scratch(root: &std::path::Path, what: &str) -> PathBuf {
    let n: u64 = rand::random();
    root.with_file_name(format!(".{what}-{n:016x}"))
}

impl Oci {
    pub fn new(name: &str, entry: RuntimeEntry, root: PathBuf) -> Oci {
        Oci {
            name: name.to_string(),
            entry,
            root,
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.entry.path);
        c.args(&self.entry.runtime_args)
            .arg("--root")
            .arg(&self.root);
        c
    }

    /// Runs a verb to completion; its stderr is the error.
    fn output(&self, mut c: Command) -> Result<Vec<u8>> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Other(format!("{} ({}): {e}", self.name, self.entry.path)))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(Error::Other(format!(
                "{}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    pub fn verb(&self, verb: &str, id: &str) -> Result<()> {
        let mut c = self.command();
        c.args([verb, id]);
        self.output(c).map(drop)
    }

    pub fn create(&self, o: &CreateOptions) -> Result<Started> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Error::Other(format!("create {}: {e}", self.root.display())))?;
        let pid_file = scratch(&self.root, "pid");
        // the runtime's own errors go to its log: its stderr is the container's here
        let log = scratch(&self.root, "log");
        let mut c = self.command();
        c.arg("--log").arg(&log).arg("--log-format").arg("json");
        c.arg("create")
            .arg("--bundle")
            .arg(&o.bundle)
            .arg("--pid-file")
            .arg(&pid_file);
        if o.no_pivot {
            c.arg("--no-pivot");
        }
        // a terminal comes back over a console socket, as runc hands it to containerd
        let listener = if o.own_terminal {
            let sock = scratch(&self.root, "console");
            let l = UnixListener::bind(&sock)
                .map_err(|e| Error::Other(format!("console socket: {e}")))?;
            c.arg("--console-socket").arg(&sock);
            Some((l, sock))
        } else {
            None
        };
        c.arg(&o.id)
            .stdin(stdio(&o.stdin)?)
            .stdout(stdio(&o.stdout)?)
            .stderr(stdio(&o.stderr)?);
        let status = c
            .status()
            .map_err(|e| Error::Other(format!("{} ({}): {e}", self.name, self.entry.path)));
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        let pid = std::fs::read_to_string(&pid_file).ok();
        let _ = std::fs::remove_file(&pid_file);
        let status = status?;
        let console = match listener {
            Some((l, sock)) => {
                let _ = std::fs::remove_file(&sock);
                if status.success() {
                    l.set_nonblocking(true).ok();
                    let (s, _) = l.accept().map_err(|e| {
                        Error::Other(format!("no terminal from {}: {e}", self.name))
                    })?;
                    Some(runtime::channel::recv_fd(s.as_raw_fd())?)
                } else {
                    None
                }
            }
            None => None,
        };
        if !status.success() {
            return Err(Error::Other(format!(
                "{}: {}",
                self.name,
                runtime_message(&logged)
            )));
        }
        let pid = pid
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| Error::Other(format!("{} wrote no pid", self.name)))?;
        Ok(Started {
            pid,
            gate: None,
            console,
        })
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.verb("start", id)
    }

    pub fn kill(&self, id: &str, sig: Signal, all: bool) -> Result<()> {
        let mut c = self.command();
        c.arg("kill");
        if all {
            c.arg("--all");
        }
        c.args([id, &(sig as i32).to_string()]);
        self.output(c).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut c = self.command();
        c.arg("delete");
        if force {
            c.arg("--force");
        }
        c.arg(id);
        self.output(c).map(drop)
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        let mut c = self.command();
        c.args(["state", id]);
        let st: serde_json::Value = serde_json::from_slice(&self.output(c)?)
            .map_err(|e| Error::Other(format!("{} state: {e}", self.name)))?;
        let s = |k: &str| st[k].as_str().unwrap_or_default().to_string();
        let bundle = PathBuf::from(s("bundle"));
        let config: serde_json::Value = std::fs::read(bundle.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let pid = st["pid"].as_i64().unwrap_or(0) as i32;
        Ok(ContainerState {
            id: id.to_string(),
            pid,
            pid_start: runtime::util::proc_stat(pid).map(|s| s.1).unwrap_or(0),
            rootfs: PathBuf::from(s("rootfs")),
            bundle,
            created: s("created"),
            owner: s("owner"),
            annotations: Default::default(),
            oci_version: s("ociVersion"),
            config,
            shared_mounts: vec![],
        })
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let mut c = self.command();
        c.args(["ps", "--format", "json", id]);
        serde_json::from_slice(&self.output(c)?)
            .map_err(|e| Error::Other(format!("{} ps: {e}", self.name)))
    }

    /// Runs the process with the runtime in the foreground (it relays the terminal and stdio
    /// and exits with the process's code): the pid returned is the runtime's, our child.
    pub fn exec(&self, id: &str, p: &Process, o: &ExecOptions) -> Result<Started> {
        // the process document goes through a pipe, as fd 3 of the runtime
        let json = serde_json::to_vec(p).map_err(|e| Error::Other(e.to_string()))?;
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::Other(format!("pipe: {e}")))?;
        std::fs::File::from(w)
            .write_all(&json)
            .map_err(|e| Error::Other(format!("process document: {e}")))?;
        let mut c = self.command();
        c.args(["exec", "--process", "/proc/self/fd/3", id]);
        c.stdin(stdio(&o.stdin)?)
            .stdout(stdio(&o.stdout)?)
            .stderr(stdio(&o.stderr)?);
        let raw = r.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; the pipe's read end stays open in the parent
        // until spawn returns.
        unsafe {
            c.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c
            .spawn()
            .map_err(|e| Error::Other(format!("{} ({}): {e}", self.name, self.entry.path)))?;
        drop(r);
        let pid = child.id() as i32;
        // reaped by the caller (forward_and_wait, the health checker), not by Child's drop
        std::mem::forget(child);
        Ok(Started {
            pid,
            gate: None,
            console: None,
        })
    }
}

/// The last `msg` of a runtime's JSON (or text) log.
fn runtime_message(log: &str) -> String {
    log.lines()
        .rev()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["level"] == "error").then(|| v["msg"].as_str().unwrap_or_default().to_string())
        })
        .or_else(|| log.lines().last().map(str::to_string))
        .unwrap_or_else(|| "create failed".into())
}
