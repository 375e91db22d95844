//! The verbs on an existing container: start, state, list, pids, update, pause, resume, kill
//! and delete.

use crate::channel::Msg;
use crate::error::{Context, Error, Result};
use crate::state::{self, ContainerState, OciState, Status, FIFO};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use super::{Runtime, StartGate};

impl Runtime {
    pub fn load(&self, id: &str) -> Result<ContainerState> {
        ContainerState::load(&self.root, id)
    }

    /// Load a container that must be in one of `allowed` states for `op`.
    fn load_in(&self, id: &str, op: &'static str, allowed: &[Status]) -> Result<ContainerState> {
        let st = self.load(id)?;
        let status = st.status(&self.root);
        if !allowed.contains(&status) {
            return Err(Error::BadState {
                op,
                id: id.into(),
                status: status.to_string(),
            });
        }
        Ok(st)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        let st = self.load_in(id, "start", &[Status::Created])?;
        let fifo_path = st.dir(&self.root).join(FIFO);
        let fifo = nix::fcntl::open(
            &fifo_path,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_NONBLOCK
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open exec.fifo")?;
        let report = read_start_report(&st, &fifo);
        let _ = std::fs::remove_file(&fifo_path);
        started(id, &st, &report?)
    }

    /// `start` of a container created with [`CreateOptions::start_here`](super::CreateOptions),
    /// by its creator, with the gate `create` gave it.
    pub fn start_created(&self, id: &str, gate: StartGate) -> Result<()> {
        let st = self.load(id)?;
        // an init that is gone has closed its end of the report pipe: the read below says so
        let _ = gate.channel.send(&Msg::Start);
        drop(gate.channel);
        let report = read_start_report(&st, &gate.report)?;
        started(id, &st, &report)
    }

    pub fn state(&self, id: &str) -> Result<OciState> {
        let st = self.load(id)?;
        let status = st.status(&self.root);
        Ok(st.oci(status))
    }

    pub fn list(&self) -> Vec<(ContainerState, Status)> {
        state::list_ids(&self.root)
            .into_iter()
            .filter_map(|id| self.load(&id).ok())
            .map(|st| {
                let s = st.status(&self.root);
                (st, s)
            })
            .collect()
    }

    /// Every process of the container: the members of its pid namespace, or its cgroup.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let st = self.load(id)?;
        if st.status(&self.root) == Status::Stopped {
            return Ok(vec![]);
        }
        Ok(all_pids(&st))
    }

    pub fn update(&self, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let st = self.load_in(
            id,
            "update",
            &[Status::Created, Status::Running, Status::Paused],
        )?;
        crate::resources::update(&st, resources)
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        let st = self.load_in(id, "pause", &[Status::Running])?;
        crate::resources::freeze(&st)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let st = self.load_in(id, "resume", &[Status::Paused])?;
        crate::resources::thaw(&st)
    }

    /// Send `sig` (None: signal 0, only check the process exists) to the init or to `all`.
    pub fn kill(&self, id: &str, sig: impl Into<Option<Signal>>, all: bool) -> Result<()> {
        let sig = sig.into();
        let st = self.load(id)?;
        let targets = match st.status(&self.root) {
            // As runc: `kill --all` of a stopped container signals what is left in its
            // cgroup and succeeds (containerd's shim runs it after every exit); its init
            // pid may have been reused, so it is never a target.
            Status::Stopped if all => crate::resources::pids(&st).unwrap_or_default(),
            Status::Stopped => {
                return Err(Error::NotRunning {
                    op: "kill",
                    id: id.into(),
                })
            }
            Status::Creating => {
                return Err(Error::BadState {
                    op: "kill",
                    id: id.into(),
                    status: Status::Creating.to_string(),
                })
            }
            _ if all => all_pids(&st),
            _ => vec![st.pid],
        };
        for pid in targets {
            match nix::sys::signal::kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::Error::ESRCH) => {}
                Err(e) => return Err(e).ctx(|| format!("kill {pid} with {sig:?}")),
            }
        }
        Ok(())
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let st = match self.load(id) {
            Ok(st) => st,
            // A directory without state (a crash in the middle of create) is cleaned up too.
            Err(Error::NotFound(_)) if force && self.root.join(id).is_dir() => {
                return std::fs::remove_dir_all(self.root.join(id)).ctx(|| "removing state");
            }
            // An empty state file is what a crash of the machine can leave of an unsynced
            // write (see util::write_atomic): nothing of it runs any more.
            Err(_) if force && state_file_empty(&self.root, id) => {
                return std::fs::remove_dir_all(self.root.join(id)).ctx(|| "removing state");
            }
            // As runc: --force makes deleting what is already gone a success (engines retry
            // deletes after crashes and must not fail on them).
            Err(Error::NotFound(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let status = st.status(&self.root);
        match status {
            Status::Stopped => {}
            _ if force => self.kill_and_wait(&st)?,
            _ => {
                return Err(Error::BadState {
                    op: "delete",
                    id: id.into(),
                    status: format!("{status} (stop it first or use --force)"),
                })
            }
        }
        if let Err(e) = crate::resources::destroy(&st) {
            // a cgroup that still holds processes of others (a cgroupsPath shared with another
            // container) stays; as runc, the delete goes on and says so
            match crate::resources::pids(&st) {
                Some(left) => crate::log::warn(&format!(
                    "failed to remove the cgroup of {id}: {} process(es) of others are in it: {e}",
                    left.len()
                )),
                None => return Err(e),
            }
        }
        crate::shared_mntns::unmount(&st.shared_mounts)?;
        let spec: Option<Spec> = serde_json::from_value(st.config.clone()).ok();
        if let Some(h) = spec.as_ref().and_then(|s| s.hooks().as_ref()) {
            let json = serde_json::to_string(&st.oci(Status::Stopped)).unwrap_or_default();
            crate::hooks::run_hooks_warn("poststop", h.poststop().as_ref(), &json);
        }
        std::fs::remove_dir_all(st.dir(&self.root)).ctx(|| format!("removing state of {id}"))
    }

    /// `delete --force` of a live container. As runc: SIGKILL to its init, which takes its
    /// own pid namespace down with it; without one of its own, to every process in its
    /// cgroup. Never to the rest of a cgroup it may share with another container.
    fn kill_and_wait(&self, st: &ContainerState) -> Result<()> {
        let targets = match own_pid_namespace(st) {
            Some(_) => vec![st.pid],
            None => all_pids(st),
        };
        for pid in targets {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // A frozen container cannot die: thaw it after the signals are queued.
        if st.status(&self.root) == Status::Paused {
            let _ = crate::resources::thaw(st);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::util::process_alive(st.pid, st.pid_start) {
            // Our own child (foreground run): reap it; otherwise its parent will.
            let _ = waitpid(
                Pid::from_raw(st.pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            if Instant::now() > deadline {
                return Err(Error::Other(format!(
                    "container {} did not die after SIGKILL",
                    st.id
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// Processes in the container: its cgroup's, else the members of its pid namespace.
fn all_pids(st: &ContainerState) -> Vec<i32> {
    crate::resources::pids(st).unwrap_or_else(|| container_pids(st))
}

/// The container init's pid namespace, when it is not the runtime's.
fn own_pid_namespace(st: &ContainerState) -> Option<std::path::PathBuf> {
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)).ok()?;
    (std::fs::read_link("/proc/self/ns/pid").ok().as_ref() != Some(&ns)).then_some(ns)
}

/// Processes in the container: members of its pid namespace when it has its own.
fn container_pids(st: &ContainerState) -> Vec<i32> {
    let Some(ns) = own_pid_namespace(st) else {
        return vec![st.pid];
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/pid"))
                .ok()
                .as_ref()
                == Some(&ns)
        })
        .collect();
    pids.sort();
    pids
}

/// Whether `id`'s state file exists and is empty.
fn state_file_empty(root: &std::path::Path, id: &str) -> bool {
    crate::state::validate_id(id).is_ok()
        && std::fs::symlink_metadata(root.join(id).join(crate::state::STATE_FILE))
            .is_ok_and(|m| m.is_file() && m.len() == 0)
}

/// What the init reports on exec.fifo (or its report pipe): "0" once its startContainer hooks
/// passed (or "1" and the error), then "1" and the error if a step before its execve fails; its
/// end closes at the execve (or its death): read until that EOF.
fn read_start_report(st: &ContainerState, fifo: &OwnedFd) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut fds = [nix::poll::PollFd::new(
            fifo.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::Error::EINTR) => {
                if !crate::util::process_alive(st.pid, st.pid_start) {
                    return Ok(data);
                }
            }
            Ok(_) => {
                let mut b = [0u8; 4096];
                match nix::unistd::read(fifo, &mut b) {
                    Ok(0) => return Ok(data),
                    Ok(n) => data.extend_from_slice(&b[..n]),
                    Err(nix::Error::EAGAIN) => continue,
                    Err(e) => return Err(e).ctx(|| "read exec.fifo"),
                }
            }
            Err(e) => return Err(e).ctx(|| "poll exec.fifo"),
        }
    }
}

/// The start's outcome from the init's report; once it runs, the poststart hooks.
fn started(id: &str, st: &ContainerState, report: &[u8]) -> Result<()> {
    match report {
        [b'0'] => {}
        [b'0', b'1', msg @ ..] | [b'1', msg @ ..] if !msg.is_empty() => {
            return Err(Error::Other(String::from_utf8_lossy(msg).into_owned()))
        }
        _ => {
            return Err(Error::Other(format!(
                "container {id} exited before it could be started"
            )))
        }
    }
    let spec: Spec =
        serde_json::from_value(st.config.clone()).map_err(|e| Error::Other(e.to_string()))?;
    if let Some(h) = spec.hooks() {
        let json = serde_json::to_string(&st.oci(Status::Running)).unwrap_or_default();
        crate::hooks::run_hooks_warn("poststart", h.poststart().as_ref(), &json);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_force_removes_a_container_whose_state_file_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Runtime::new(tmp.path().to_path_buf());
        let dir = tmp.path().join("c1");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(crate::state::STATE_FILE), "").unwrap();
        // without --force it is an error naming the file, and nothing is removed
        let e = rt.delete("c1", false).unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
        assert!(dir.is_dir());
        rt.delete("c1", true).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn delete_force_keeps_a_container_whose_state_file_is_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Runtime::new(tmp.path().to_path_buf());
        let dir = tmp.path().join("c2");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(crate::state::STATE_FILE), "{not json").unwrap();
        assert!(rt.delete("c2", true).is_err());
        assert!(dir.is_dir());
    }
}
