//! The lifecycle operations behind the runc-compatible commands.

use crate::capabilities;
use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{self, Console, ExecCtx, InitCtx};
use crate::namespaces::{self, NsPlan};
use crate::state::{self, ContainerState, OciState, Status, FIFO};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// The raw fds to make a new process's 0, 1 and 2.
fn stdio_fds(stdin: &Option<OwnedFd>, stdout: &Option<OwnedFd>, stderr: &Option<OwnedFd>) -> Stdio {
    let raw = |f: &Option<OwnedFd>| f.as_ref().map(|f| f.as_raw_fd());
    [raw(stdin), raw(stdout), raw(stderr)]
}

/// fds for a new process's 0, 1 and 2 (None: keep the one inherited).
type Stdio = [Option<RawFd>; 3];

/// In a freshly cloned child: the given fds become 0, 1 and 2. Each is first copied above 2,
/// so a source that is itself one of 0-2 is not overwritten before it is used. Only
/// async-signal-safe calls.
fn redirect_stdio(stdio: Stdio) {
    let mut high: [RawFd; 3] = [-1; 3];
    for (h, fd) in high.iter_mut().zip(stdio) {
        if let Some(fd) = fd {
            // SAFETY: fcntl on an fd of ours.
            *h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        }
    }
    for (target, h) in high.into_iter().enumerate() {
        if h >= 0 {
            // SAFETY: dup2 onto our standard fds in the new process, then close the copy.
            unsafe {
                libc::dup2(h, target as RawFd);
                libc::close(h);
            }
        }
    }
}

/// A process we started: its pid, and the terminal master when we relay the terminal ourselves.
pub struct Started {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

/// clone(2) without a new stack: like fork(), but with namespace flags. The child continues on
/// a copy-on-write copy of our stack, which is safe because the runtime is single-threaded.
fn clone_child(flags: CloneFlags) -> Result<Option<i32>> {
    // SAFETY: raw clone with a NULL stack behaves like fork; the child only runs our own code
    // and leaves through execve or _exit.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match rc {
        -1 => Err(nix::Error::last()).ctx(|| format!("clone({flags:?})")),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
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

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    crate::util::write_atomic(path, pid.to_string().as_bytes())
}

fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// Kill a half-created container's process and remove its directory.
struct CreateGuard {
    dir: PathBuf,
    pid: Option<i32>,
    cgroup: Option<Box<dyn cgroups::CgroupManager>>,
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
            let _ = cg.delete();
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
            .ctx(|| format!("creating state root {}", self.root.display()))
    }

    pub fn create(&self, o: &CreateOptions) -> Result<Started> {
        state::validate_id(&o.id)?;
        let bundle =
            std::path::absolute(&o.bundle).ctx(|| format!("bundle {}", o.bundle.display()))?;
        let (spec, rootfs, warnings) = crate::spec::load_bundle(&bundle)?;
        for w in &warnings {
            crate::log::warn(w);
        }
        let linux = spec.linux().clone().unwrap_or_default();
        let ns = namespaces::plan(linux.namespaces().as_deref().unwrap_or(&[]))?;
        let new_userns = ns.new.contains(CloneFlags::CLONE_NEWUSER);
        let shared_mntns = !ns.has(CloneFlags::CLONE_NEWNS);
        if shared_mntns {
            crate::shared_mntns::check(&spec, new_userns)?;
        }
        if new_userns && linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(Error::Spec(
                "linux.uidMappings: required for a new user namespace".into(),
            ));
        }
        let process = spec.process().as_ref().expect("validated by load_bundle");
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
        let join_fds = ns.open_joins()?;
        crate::lsm::check(process, &linux)?;
        let seccomp = init::compile_seccomp(&linux, &self.seccomp_cache()?)?;
        let seccomp_agent = match linux.seccomp() {
            Some(p) => crate::seccomp_agent::connect(p, seccomp.as_ref())?,
            None => None,
        };

        self.ensure_root()?;
        let dir = self.root.join(&o.id);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(o.id.clone()))
            }
            r => r.ctx(|| format!("creating {}", dir.display()))?,
        }
        let mut guard = CreateGuard {
            dir: dir.clone(),
            pid: None,
            cgroup: None,
            shared_mounts: None,
            armed: true,
        };
        let fifo_path = dir.join(FIFO);
        nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .ctx(|| "mkfifo exec.fifo")?;
        // World-writable (not readable) despite our umask: the init may run as a mapped uid.
        std::fs::set_permissions(
            &fifo_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o622),
        )
        .ctx(|| "chmod exec.fifo")?;
        let fifo = nix::fcntl::open(
            &fifo_path,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open exec.fifo")?;
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

        let ctx = InitCtx {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle,
            new_userns,
            userns: ns.has(CloneFlags::CLONE_NEWUSER),
            uts: ns.has(CloneFlags::CLONE_NEWUTS),
            cgroupns: ns.has(CloneFlags::CLONE_NEWCGROUP),
            no_pivot: o.no_pivot,
            shared_mntns,
            preserve_fds: o.preserve_fds,
            console,
            fifo,
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
        let pid = spawn(&ns, join_fds, stdio, &parent, &child, move |ch| {
            init::container_init(ctx, ch)
        })?;
        guard.pid = Some(pid);
        drop(child);

        if new_userns {
            std::fs::write(
                format!("/proc/{pid}/uid_map"),
                namespaces::id_map(linux.uid_mappings().as_deref().unwrap_or(&[])),
            )
            .ctx(|| "writing uid_map (linux.uidMappings)")?;
            std::fs::write(
                format!("/proc/{pid}/gid_map"),
                namespaces::id_map(linux.gid_mappings().as_deref().unwrap_or(&[])),
            )
            .ctx(|| "writing gid_map (linux.gidMappings)")?;
        }
        if crate::bind_sources::expected(new_userns, spec.mounts().as_deref().unwrap_or(&[])) {
            crate::bind_sources::send(
                pid,
                &bundle,
                spec.mounts().as_deref().unwrap_or(&[]),
                &parent,
            )?;
        }
        // Resource limits (cgroups) are applied here, before the process runs any container code.
        guard.cgroup = Some(crate::resources::apply(&spec, &o.id, pid)?);
        if let Some(adj) = process.oom_score_adj() {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx(|| format!("process.oomScoreAdj {adj}"))?;
        }
        let (_, pid_start) = crate::util::proc_stat(pid)
            .ok_or_else(|| Error::Other("container process vanished".into()))?;
        let mut st = ContainerState {
            id: o.id.clone(),
            pid,
            pid_start,
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            created: crate::util::now_rfc3339(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            oci_version: spec.version().clone(),
            config: serde_json::to_value(&spec).map_err(|e| Error::Other(e.to_string()))?,
            shared_mounts: Vec::new(),
        };
        parent.send(&Msg::Go)?;
        let hooks = spec.hooks().clone().unwrap_or_default();
        loop {
            match parent.recv()? {
                Msg::RunHooks => {
                    let json = serde_json::to_string(&st.oci(Status::Creating)).unwrap_or_default();
                    #[allow(deprecated)]
                    let pre = hooks.prestart().as_ref();
                    let r = crate::hooks::run_hooks("prestart", pre, &json).and_then(|_| {
                        crate::hooks::run_hooks(
                            "createRuntime",
                            hooks.create_runtime().as_ref(),
                            &json,
                        )
                    });
                    if let Err(e) = r {
                        let _ = parent.send(&Msg::Error(e.to_string()));
                        return Err(e);
                    }
                    parent.send(&Msg::HooksDone(json))?;
                }
                Msg::Ready => break,
                Msg::Error(e) => return Err(Error::Other(e)),
                other => return Err(Error::Other(format!("unexpected message {other:?}"))),
            }
        }
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
        Ok(Started { pid, console })
    }

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
        // The init writes "0" once its startContainer hooks passed (or "1" and the error), then
        // "1" and the error if a step before its execve fails; its end closes at the execve (or
        // its death): read until that EOF.
        let mut data = Vec::new();
        loop {
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&fifo),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)) {
                Ok(0) | Err(nix::Error::EINTR) => {
                    if !crate::util::process_alive(st.pid, st.pid_start) {
                        break;
                    }
                }
                Ok(_) => {
                    let mut b = [0u8; 4096];
                    match nix::unistd::read(&fifo, &mut b) {
                        Ok(0) => break,
                        Ok(n) => data.extend_from_slice(&b[..n]),
                        Err(nix::Error::EAGAIN) => continue,
                        Err(e) => return Err(e).ctx(|| "read exec.fifo"),
                    }
                }
                Err(e) => return Err(e).ctx(|| "poll exec.fifo"),
            }
        }
        let _ = std::fs::remove_file(&fifo_path);
        match data.as_slice() {
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
        crate::resources::destroy(&st)?;
        crate::shared_mntns::unmount(&st.shared_mounts)?;
        let spec: Option<Spec> = serde_json::from_value(st.config.clone()).ok();
        if let Some(h) = spec.as_ref().and_then(|s| s.hooks().as_ref()) {
            let json = serde_json::to_string(&st.oci(Status::Stopped)).unwrap_or_default();
            crate::hooks::run_hooks_warn("poststop", h.poststop().as_ref(), &json);
        }
        std::fs::remove_dir_all(st.dir(&self.root)).ctx(|| format!("removing state of {id}"))
    }

    fn kill_and_wait(&self, st: &ContainerState) -> Result<()> {
        for pid in all_pids(st) {
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

    /// Start `process` inside a live container (runc exec).
    pub fn exec(&self, id: &str, process: &Process, o: &ExecOptions) -> Result<Started> {
        let st = self.load(id)?;
        match st.status(&self.root) {
            Status::Created | Status::Running => {}
            Status::Paused if o.ignore_paused => {}
            Status::Paused => {
                return Err(Error::Other(
                    "cannot exec in a paused container (use --ignore-paused to override)".into(),
                ))
            }
            status => {
                return Err(Error::BadState {
                    op: "exec in",
                    id: id.into(),
                    status: status.to_string(),
                })
            }
        }
        let spec: Spec =
            serde_json::from_value(st.config.clone()).map_err(|e| Error::Other(e.to_string()))?;
        let linux = spec.linux().clone().unwrap_or_default();
        let mut ns = NsPlan::default();
        for n in linux.namespaces().iter().flatten() {
            let f = namespaces::flag(n.typ());
            let theirs = format!("/proc/{}/ns/{}", st.pid, namespaces::proc_name(f));
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
        let userns = ns.has(CloneFlags::CLONE_NEWUSER);
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
        parent.send(&Msg::Go)?;
        match parent.recv()? {
            Msg::Ready => {}
            Msg::Error(e) => {
                reap(pid);
                return Err(Error::Other(e));
            }
            other => return Err(Error::Other(format!("unexpected message {other:?}"))),
        }
        // Ready, then either an error from execve or EOF when exec closed the channel.
        match parent.recv() {
            Ok(Msg::Error(e)) => {
                reap(pid);
                return Err(Error::Other(e));
            }
            Ok(other) => return Err(Error::Other(format!("unexpected message {other:?}"))),
            Err(_) => {}
        }
        if let Some(p) = &o.pid_file {
            write_pid_file(p, pid)?;
        }
        let console = match relay {
            Some(sock) => Some(crate::channel::recv_fd(sock.as_raw_fd())?),
            None => None,
        };
        Ok(Started { pid, console })
    }
}

/// Clone the container process: directly when it only gets new namespaces, through an
/// intermediate process that joins the existing ones first otherwise.
fn spawn<F>(
    ns: &NsPlan,
    join_fds: Vec<(CloneFlags, OwnedFd)>,
    stdio: Stdio,
    parent: &Channel,
    child: &Channel,
    f: F,
) -> Result<i32>
where
    F: FnOnce(&Channel) -> Result<std::convert::Infallible>,
{
    if join_fds.is_empty() {
        return match clone_child(ns.new)? {
            None => {
                redirect_stdio(stdio);
                init::child_main(child, || f(child))
            }
            Some(pid) => Ok(pid),
        };
    }
    spawn_via_intermediate(join_fds, ns.new, stdio, parent, child, f)
}

fn spawn_via_intermediate<F>(
    join_fds: Vec<(CloneFlags, OwnedFd)>,
    new: CloneFlags,
    stdio: Stdio,
    parent: &Channel,
    child: &Channel,
    f: F,
) -> Result<i32>
where
    F: FnOnce(&Channel) -> Result<std::convert::Infallible>,
{
    match clone_child(CloneFlags::empty())? {
        None => init::child_main(child, || {
            // the process cloned next inherits them
            redirect_stdio(stdio);
            namespaces::join_all(&join_fds)?;
            drop(join_fds);
            // CLONE_PARENT: the real child becomes the runtime's child, so it can be waited for.
            match clone_child(new | CloneFlags::CLONE_PARENT)? {
                None => f(child),
                Some(pid) => {
                    child.send(&Msg::Pid(pid))?;
                    // SAFETY: leave the intermediate without running any destructors.
                    unsafe { libc::_exit(0) }
                }
            }
        }),
        Some(inter) => {
            reap(inter);
            match parent.recv()? {
                Msg::Pid(pid) => Ok(pid),
                Msg::Error(e) => Err(Error::Other(e)),
                other => Err(Error::Other(format!("unexpected message {other:?}"))),
            }
        }
    }
}

/// Processes in the container: its cgroup's, else the members of its pid namespace.
fn all_pids(st: &ContainerState) -> Vec<i32> {
    crate::resources::pids(st).unwrap_or_else(|| container_pids(st))
}

/// Processes in the container: members of its pid namespace when it has its own.
fn container_pids(st: &ContainerState) -> Vec<i32> {
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", st.pid)).ok();
    let own = std::fs::read_link("/proc/self/ns/pid").ok();
    if ns.is_none() || ns == own {
        return vec![st.pid];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok() == ns)
        .collect();
    pids.sort();
    pids
}
