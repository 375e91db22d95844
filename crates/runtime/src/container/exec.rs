//! `exec`: a new process inside a live container.

use crate::channel::{Channel, Msg};
use crate::error::{Error, Result};
use crate::init::{self, ExecCtx};
use crate::namespaces::{self, NsPlan};
use crate::state::Status;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, Process, Spec};
use std::os::fd::AsRawFd;

use super::spawn::{spawn_via_intermediate, stdio_fds};
use super::{console_for, plan_caps, reap, write_pid_file, ExecOptions, Runtime, Started};

impl Runtime {
    /// Start `process` inside a live container (runc exec).
    pub fn exec(&self, id: &str, process: &Process, o: &ExecOptions) -> Result<Started> {
        let st = self.load(id)?;
        check_exec_status(id, st.status(&self.root), o.ignore_paused)?;
        let spec: Spec =
            serde_json::from_value(st.config.clone()).map_err(|e| Error::Other(e.to_string()))?;
        let linux = spec.linux().clone().unwrap_or_default();
        let ns = namespaces_to_join(st.pid, &linux);
        let userns = ns.has(CloneFlags::CLONE_NEWUSER) || crate::util::running_in_userns();
        let join_fds = ns.open_joins()?;
        crate::lsm::check(process, &linux)?;
        let seccomp = init::compile_seccomp(&linux, &self.seccomp_cache()?)?;
        let seccomp_agent = match linux.seccomp() {
            Some(p) => crate::seccomp_agent::connect(p, seccomp.as_ref())?.map(|agent| {
                crate::seccomp_agent::Handover {
                    agent,
                    state: serde_json::to_string(&st.oci(Status::Running)).unwrap_or_default(),
                    pid: st.pid,
                }
            }),
            None => None,
        };
        let caps = plan_caps(process);
        let (console, relay) = console_for(process, o.console_socket.as_deref(), o.own_terminal)?;
        let (parent, child) = Channel::pair()?;
        let ctx = ExecCtx {
            process,
            linux: &linux,
            console,
            preserve_fds: o.preserve_fds,
            caps,
            seccomp,
            seccomp_agent,
            userns,
            chroot: (!linux
                .namespaces()
                .iter()
                .flatten()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Mount))
            .then_some(st.rootfs.as_path()),
        };
        crate::log::debug(&format!(
            "nsexec container setup: joining {} namespaces of pid {}",
            join_fds.len(),
            st.pid
        ));
        // Joining a pid namespace only applies to children: always go through an intermediate.
        let stdio = stdio_fds(&o.stdin, &o.stdout, &o.stderr);
        let run = move |ch: &Channel| init::exec_init(ctx, ch);
        let pid =
            spawn_via_intermediate(join_fds, CloneFlags::empty(), stdio, &parent, &child, run)?;
        drop(child);
        let joined = crate::resources::join_sub(&st, pid, &o.sub_cgroups);
        if let Err(e) = joined {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            reap(pid);
            return Err(e);
        }
        parent.send(&Msg::Go(Vec::new()))?;
        wait_exec(&parent, pid)?;
        if let Some(p) = &o.pid_file {
            write_pid_file(p, pid)?;
        }
        let console = match relay {
            Some(sock) => Some(crate::channel::recv_fd(sock.as_raw_fd())?),
            None => None,
        };
        Ok(Started {
            pid,
            gate: None,
            console,
        })
    }
}

/// The states a container can be exec'd into.
fn check_exec_status(id: &str, status: Status, ignore_paused: bool) -> Result<()> {
    match status {
        Status::Created | Status::Running => Ok(()),
        Status::Paused if ignore_paused => Ok(()),
        Status::Paused => Err(Error::Other(
            "cannot exec in a paused container (use --ignore-paused to override)".into(),
        )),
        status => Err(Error::BadState {
            op: "exec in",
            id: id.into(),
            status: status.to_string(),
        }),
    }
}

/// The namespaces of the container's init `pid` that differ from ours, in the order they are
/// joined: the user namespace first, the mount namespace last.
fn namespaces_to_join(pid: i32, linux: &Linux) -> NsPlan {
    let mut ns = NsPlan::default();
    for n in linux.namespaces().iter().flatten() {
        let f = namespaces::flag(n.typ());
        let theirs = format!("/proc/{}/ns/{}", pid, namespaces::proc_name(f));
        let ours = format!("/proc/self/ns/{}", namespaces::proc_name(f));
        if std::fs::read_link(&theirs).ok() != std::fs::read_link(&ours).ok() {
            ns.join.push((f, theirs.into()));
        }
    }
    ns.join.sort_by_key(|(f, _)| {
        if *f == CloneFlags::CLONE_NEWUSER {
            0
        } else if *f == CloneFlags::CLONE_NEWNS {
            2
        } else {
            1
        }
    });
    ns
}

/// Wait until the exec'd process runs: Ready, then either an error from execve or EOF when
/// exec closed the channel.
fn wait_exec(parent: &Channel, pid: i32) -> Result<()> {
    match parent.recv()? {
        Msg::Ready => {}
        Msg::Error(e) => {
            reap(pid);
            return Err(Error::Other(e));
        }
        other => return Err(Error::Other(format!("unexpected message {other:?}"))),
    }
    match parent.recv() {
        Ok(Msg::Error(e)) => {
            reap(pid);
            Err(Error::Other(e))
        }
        Ok(other) => Err(Error::Other(format!("unexpected message {other:?}"))),
        Err(_) => Ok(()),
    }
}
