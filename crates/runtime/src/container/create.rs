//! `create`: a bundle becomes a container whose init waits on exec.fifo (or on its channel,
//! for a creator that starts it itself).

use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{self, InitCtx, StartWait};
use crate::namespaces::{self};
use crate::state::{self, ContainerState, Status, FIFO};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::spawn::{spawn, stdio_fds};
use super::{
    console_for, plan_caps, reap, write_pid_file, CreateOptions, Runtime, StartGate, Started,
};

/// Kill a half-created container's process and remove its directory.
struct CreateGuard {
    dir: PathBuf,
    pid: Option<i32>,
    cgroup: Option<crate::resources::Prepared>,
    /// Sharing the runtime's mount namespace: the rootfs and the mounts below it before create.
    shared_mounts: Option<(PathBuf, Vec<PathBuf>)>,
    armed: bool,
}

impl Drop for CreateGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            reap(pid);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.manager.delete();
        }
        if let Some((root, before)) = &self.shared_mounts {
            if let Ok(made) = crate::shared_mntns::made_since(root, before) {
                let _ = crate::shared_mntns::unmount(&made);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Runtime {
    pub fn create(&self, o: &CreateOptions) -> Result<Started> {
        state::validate_id(&o.id)?;
        let bundle =
            std::path::absolute(&o.bundle).ctx(|| format!("bundle {}", o.bundle.display()))?;
        let (spec, rootfs, warnings) = crate::spec::load_bundle(&bundle)?;
        fault::mark("rt.bundle-loaded");
        for w in &warnings {
            crate::log::warn(w);
        }
        let linux = spec.linux().clone().unwrap_or_default();
        let ns = namespaces::plan(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let new_userns = ns.new.contains(CloneFlags::CLONE_NEWUSER);
        let shared_mntns = !ns.has(CloneFlags::CLONE_NEWNS);
        check_namespaces(&spec, &linux, new_userns, shared_mntns)?;
        let process = spec.process().as_ref().expect("validated by load_bundle");
        let caps = plan_caps(process);
        let join_fds = ns.open_joins()?;
        crate::lsm::check(process, &linux)?;
        let seccomp = init::compile_seccomp(&linux, &self.seccomp_cache()?)?;
        fault::mark("rt.seccomp-compiled");
        let seccomp_agent = match linux.seccomp() {
            Some(p) => crate::seccomp_agent::connect(p, seccomp.as_ref())?,
            None => None,
        };

        let mut guard = self.make_state_dir(&o.id)?;
        let (start, report) = start_wait(o.start_here, &guard.dir)?;
        fault::mark("rt.state-made");
        // Resource limits (cgroups) are set before the process runs any container code: it is
        // cloned into its v2 cgroup, or enters its v1 hierarchies itself on its go-ahead; the
        // v1 hierarchies are made while it mounts (see `resources::prepare`).
        // (the host's layout read once, for the cgroup here and the init's cgroup mount)
        let cgroup_layout = cgroups::Layout::detect().ok();
        let clone_into = guard
            .cgroup
            .insert(crate::resources::prepare(
                &spec,
                &o.id,
                cgroup_layout.as_ref(),
            )?)
            .clone_into();
        fault::mark("rt.cgroup-target-made");
        let host_proc = nix::fcntl::open(
            "/proc",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open /proc")?;
        let (console, relay) = console_for(process, o.console_socket.as_deref(), o.own_terminal)?;
        let (parent, child) = Channel::pair()?;

        // decided here, once: the init (uid 0 of its namespace) cannot tell a plain user's
        // runtime from root's
        let bind_fds =
            crate::bind_sources::expected(new_userns, spec.mounts().as_deref().unwrap_or(&[]));
        let ctx = InitCtx {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            bind_fds,
            userns: ns.has(CloneFlags::CLONE_NEWUSER) || crate::util::running_in_userns(),
            uts: ns.has(CloneFlags::CLONE_NEWUTS),
            cgroupns: ns.has(CloneFlags::CLONE_NEWCGROUP),
            cgroup_layout: cgroup_layout.clone(),
            unshare_cgroupns: ns.new.contains(CloneFlags::CLONE_NEWCGROUP),
            no_pivot: o.no_pivot,
            shared_mntns,
            preserve_fds: o.preserve_fds,
            console,
            start,
            host_proc,
            caps,
            seccomp,
            seccomp_agent,
        };
        crate::log::debug(&format!(
            "nsexec container setup: new namespaces {:?}, joining {}",
            ns.new,
            join_fds.len()
        ));
        if shared_mntns {
            guard.shared_mounts = Some((rootfs.clone(), crate::shared_mntns::current(&rootfs)?));
        }
        let stdio = stdio_fds(&o.stdin, &o.stdout, &o.stderr);
        // A new cgroup namespace is made by the init once it is in its cgroup (after Go), so
        // the namespace's root is the container's cgroup, as runc does: cloned with the rest,
        // its root would be the runtime's cgroup and the container would see the host's path.
        let clone_ns = ns.new.difference(CloneFlags::CLONE_NEWCGROUP);
        let (pid, cloned_into) = spawn(
            clone_ns,
            join_fds,
            stdio,
            clone_into,
            &parent,
            &child,
            move |ch| init::container_init(ctx, ch),
        )?;
        guard.pid = Some(pid);
        fault::mark("rt.cloned");
        drop(child);

        if new_userns {
            write_id_maps(pid, &linux)?;
        }
        if bind_fds {
            crate::bind_sources::send(
                pid,
                &bundle,
                spec.mounts().as_deref().unwrap_or(&[]),
                &parent,
            )?;
        }
        let mut tasks = Vec::new();
        if let Some(cg) = &mut guard.cgroup {
            cg.complete(&spec)?;
            fault::mark("rt.cgroups-made");
            cg.enter(pid, cloned_into)?;
            tasks = cg.tasks();
        }
        if let Some(adj) = process.oom_score_adj() {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx(|| format!("process.oomScoreAdj {adj}"))?;
        }
        fault::mark("rt.cgroups-applied");
        let mut st = new_state(&o.id, pid, &bundle, &rootfs, &spec)?;
        go(&parent, &tasks)?;
        run_create_hooks(&parent, &spec, &st)?;
        if let Some((root, before)) = &guard.shared_mounts {
            st.shared_mounts = crate::shared_mntns::made_since(root, before)?;
        }
        st.save(&self.root)?;
        if let Some(p) = &o.pid_file {
            write_pid_file(p, pid)?;
        }
        let console = match relay {
            Some(sock) => Some(crate::channel::recv_fd(sock.as_raw_fd())?),
            None => None,
        };
        guard.armed = false;
        fault::mark("rt.created");
        Ok(Started {
            pid,
            gate: report.map(|report| StartGate {
                channel: parent,
                report,
            }),
            console,
        })
    }

    /// The container's state directory, new and empty, under a guard that removes it (and
    /// whatever create made after it) unless create succeeds.
    fn make_state_dir(&self, id: &str) -> Result<CreateGuard> {
        self.ensure_root()?;
        let dir = self.root.join(id);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            r => r.ctx(|| format!("creating {}", dir.display()))?,
        }
        Ok(CreateGuard {
            dir,
            pid: None,
            cgroup: None,
            shared_mounts: None,
            armed: true,
        })
    }
}

/// The namespace settings create refuses before it makes anything.
fn check_namespaces(
    spec: &Spec,
    linux: &Linux,
    new_userns: bool,
    shared_mntns: bool,
) -> Result<()> {
    if shared_mntns {
        crate::shared_mntns::check(spec, new_userns)?;
    }
    if new_userns && linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
        return Err(Error::Spec(
            "linux.uidMappings: required for a new user namespace".into(),
        ));
    }
    Ok(())
}

/// The init's go-ahead, with the v1 cgroup hierarchies' `tasks` files it enters by itself
/// (see `cgroups::Entry`). An init that failed setting up (it mounts before its go-ahead)
/// has sent its error and closed its end: that error is reported, not the closed channel.
/// (Only a message already waiting is read: a live init sends nothing before its go-ahead.)
fn go(parent: &Channel, tasks: &[(&Path, std::os::fd::RawFd)]) -> Result<()> {
    let names = tasks.iter().map(|(p, _)| p.to_path_buf()).collect();
    let fds: Vec<_> = tasks.iter().map(|(_, fd)| *fd).collect();
    match parent.send_with_fds(&Msg::Go(names), &fds) {
        Ok(()) => Ok(()),
        Err(e) if parent.readable() => match parent.recv() {
            Ok(Msg::Error(child)) => Err(Error::Other(child)),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// What the init waits on until it is started: exec.fifo in the state directory, or, when the
/// creator starts it itself, its channel, with a pipe to report the start on (whose read end,
/// non-blocking as `start` reads it, is returned).
fn start_wait(start_here: bool, dir: &Path) -> Result<(StartWait, Option<OwnedFd>)> {
    if !start_here {
        return Ok((StartWait::Fifo(make_exec_fifo(dir)?), None));
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe")?;
    nix::fcntl::fcntl(
        &r,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .ctx(|| "pipe")?;
    Ok((StartWait::Channel(w), Some(r)))
}

/// exec.fifo in the state directory, opened O_PATH for the init to wait on until `start`.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let fifo_path = dir.join(FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| "mkfifo exec.fifo")?;
    // World-writable (not readable) despite our umask: the init may run as a mapped uid.
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx(|| "chmod exec.fifo")?;
    nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open exec.fifo")
}

/// The new user namespace's uid and gid maps, written from outside. A plain user (runc's
/// rootless mode) may map its own id alone, and only with setgroups(2) denied in the
/// namespace; any wider map goes through the setuid newuidmap/newgidmap, which check it
/// against /etc/subuid and /etc/subgid.
fn write_id_maps(pid: i32, linux: &Linux) -> Result<()> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let uids = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gids = linux.gid_mappings().as_deref().unwrap_or(&[]);
    let own = |m: &[oci_spec::runtime::LinuxIdMapping], id: u32| {
        m.len() == 1 && m[0].host_id() == id && m[0].size() == 1
    };
    let unprivileged = euid != 0;
    for (file, maps, self_id, tool, field) in [
        ("uid_map", uids, euid, "newuidmap", "linux.uidMappings"),
        ("gid_map", gids, egid, "newgidmap", "linux.gidMappings"),
    ] {
        if unprivileged && !own(maps, self_id) {
            new_id_map(tool, pid, maps)
                .map_err(|e| Error::Other(format!("{tool} ({field}): {e}")))?;
            continue;
        }
        if unprivileged && file == "gid_map" {
            std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .ctx(|| "writing setgroups (deny, for an unprivileged gid_map)")?;
        }
        std::fs::write(format!("/proc/{pid}/{file}"), namespaces::id_map(maps))
            .ctx(|| format!("writing {file} ({field})"))?;
    }
    Ok(())
}

/// Runs newuidmap/newgidmap for `pid` with `maps`.
fn new_id_map(tool: &str, pid: i32, maps: &[oci_spec::runtime::LinuxIdMapping]) -> Result<()> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|x| x.to_string()));
    }
    let out = std::process::Command::new(tool)
        .args(&args)
        .output()
        .map_err(|e| Error::Other(format!("run {tool} (Debian: apt install uidmap): {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// The state saved for the container whose init is `pid`.
fn new_state(
    id: &str,
    pid: i32,
    bundle: &Path,
    rootfs: &Path,
    spec: &Spec,
) -> Result<ContainerState> {
    let (_, pid_start) = crate::util::proc_stat(pid)
        .ok_or_else(|| Error::Other("container process vanished".into()))?;
    Ok(ContainerState {
        id: id.to_string(),
        pid,
        pid_start,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: crate::util::now_rfc3339(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        oci_version: spec.version().clone(),
        config: serde_json::to_value(spec).map_err(|e| Error::Other(e.to_string()))?,
        shared_mounts: Vec::new(),
    })
}

/// Serve the init until it is ready: run the prestart and createRuntime hooks when it asks.
fn run_create_hooks(parent: &Channel, spec: &Spec, st: &ContainerState) -> Result<()> {
    let hooks = spec.hooks().clone().unwrap_or_default();
    loop {
        match parent.recv()? {
            Msg::RunHooks => {
                let json = serde_json::to_string(&st.oci(Status::Creating)).unwrap_or_default();
                #[allow(deprecated)]
                let pre = hooks.prestart().as_ref();
                let r = crate::hooks::run_hooks("prestart", pre, &json).and_then(|_| {
                    crate::hooks::run_hooks("createRuntime", hooks.create_runtime().as_ref(), &json)
                });
                if let Err(e) = r {
                    let _ = parent.send(&Msg::Error(e.to_string()));
                    return Err(e);
                }
                parent.send(&Msg::HooksDone(json))?;
            }
            Msg::Ready => return Ok(()),
            Msg::Error(e) => return Err(Error::Other(e)),
            other => return Err(Error::Other(format!("unexpected message {other:?}"))),
        }
    }
}
