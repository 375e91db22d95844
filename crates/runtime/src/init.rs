//! What runs inside the new namespaces: the container's init (from `create`) and processes
//! started by `exec`. Both are clones of the runtime process, so they read the spec straight
//! from memory; they talk to the runtime over a [`Channel`] and end in execve(2).

use crate::capabilities::CapPlan;
use crate::channel::{send_fd, Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::rootfs::RootfsPlan;
use crate::syscall::{Linux, Syscall};
use oci_spec::runtime::{Process, Spec};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the terminal's master goes.
pub enum Console {
    None,
    /// A connected unix socket (the caller's `--console-socket`, or our own socketpair when the
    /// runtime relays the terminal itself), and the size (rows, columns) the terminal gets
    /// before the process runs.
    Socket {
        sock: OwnedFd,
        size: Option<(u16, u16)>,
    },
}

pub struct InitCtx<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// The runtime sends the bind sources' fds (see `bind_sources::expected`).
    pub bind_fds: bool,
    /// In a user namespace, new or joined.
    pub userns: bool,
    /// In a UTS namespace of its own: new, or joined by path (as runc, the hostname is then
    /// set in the joined namespace).
    pub uts: bool,
    pub cgroupns: bool,
    /// The host's cgroup layout, detected by the runtime before the clone (see
    /// `RootfsPlan::cgroup_layout`).
    pub cgroup_layout: Option<cgroups::Layout>,
    /// A new cgroup namespace, made after the runtime has put the init in its cgroup.
    pub unshare_cgroupns: bool,
    pub no_pivot: bool,
    /// No mount namespace of its own (see `shared_mntns`).
    pub shared_mntns: bool,
    pub preserve_fds: i32,
    pub console: Console,
    pub start: StartWait,
    pub host_proc: OwnedFd,
    pub caps: Option<CapPlan>,
    pub seccomp: Option<seccomp::Filter>,
    /// The agent a notifying filter's listener goes to.
    pub seccomp_agent: Option<crate::seccomp_agent::Agent>,
}

/// Compile the spec's seccomp profile in the runtime, so a bad profile fails `create` with a
/// clear error before anything runs; the filter is loaded by the container process.
/// Compiled programs are cached under `cache` (see `seccomp::compile_cached`).
pub fn compile_seccomp(
    linux: &oci_spec::runtime::Linux,
    cache: &std::path::Path,
) -> Result<Option<seccomp::Filter>> {
    let Some(profile) = linux.seccomp() else {
        return Ok(None);
    };
    let filter = seccomp::compile_cached(profile, cache)
        .map_err(|e| Error::Spec(format!("linux.seccomp: {e}")))?;
    for w in filter.warnings() {
        crate::log::warn(&format!("linux.seccomp: {w}"));
    }
    Ok(Some(filter))
}

/// Run `f` in the child; report its error to the parent and exit. Never returns.
pub fn child_main(ch: &Channel, f: impl FnOnce() -> Result<Infallible>) -> ! {
    let code = match f() {
        Ok(never) => match never {},
        Err(e) => {
            // (write(2): the error may come after the seccomp filter is loaded)
            if ch.write_msg(&Msg::Error(e.to_string())).is_err() {
                crate::log::log(crate::log::Level::Error, &e.to_string());
            }
            1
        }
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered state we share by copy.
    unsafe { libc::_exit(code) }
}

/// The runtime's go-ahead: the `tasks` files of the v1 cgroup hierarchies that come with it
/// (see `cgroups::Entry`; none for an exec'd process), to enter with `join_v1`.
fn expect_go(ch: &Channel) -> Result<cgroups::Entry> {
    // more than any host's v1 hierarchies
    let (msg, fds) = ch.recv_with_fds(64)?;
    let names = match msg {
        Msg::Go(names) => names,
        Msg::Error(e) => return Err(Error::Other(e)),
        other => return Err(Error::Other(format!("unexpected message {other:?}"))),
    };
    if names.len() != fds.len() {
        return Err(Error::Other(format!(
            "the runtime sent {} cgroup files for {} names",
            fds.len(),
            names.len()
        )));
    }
    let tasks = names
        .into_iter()
        .zip(fds.into_iter().map(std::fs::File::from))
        .collect();
    Ok(cgroups::Entry::from_tasks(tasks))
}

/// The init's go-ahead from the runtime: id mappings written, the cgroup made and limited.
/// Waited for once, before the first step that needs it; then the init enters its v1 cgroup
/// hierarchies itself and makes its cgroup namespace there.
struct GoAhead<'a> {
    ch: &'a Channel,
    unshare_cgroupns: bool,
    passed: bool,
}

impl GoAhead<'_> {
    fn wait(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.passed, true) {
            return Ok(());
        }
        expect_go(self.ch)?
            .join_v1()
            .map_err(|e| Error::Other(format!("entering the container's cgroup: {e}")))?;
        if self.unshare_cgroupns {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
                .ctx(|| "unshare the cgroup namespace")?;
        }
        Ok(())
    }
}

pub fn container_init(ctx: InitCtx, ch: &Channel) -> Result<Infallible> {
    crate::log::debug("child process in init(): setting up the container");
    // Nothing the runtime inherited (beyond --preserve-fds) leaks into the hooks the init runs
    // or into the process, as runc: only 0-2 are left open across their exec.
    crate::process::cloexec_from(3 + ctx.preserve_fds)?;
    let sys = Linux::default();
    // Device nodes and directories get exactly the modes the spec asks for; the process's own
    // umask is set just before exec.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let mounts = ctx.spec.mounts().clone().unwrap_or_default();
    let (_bind_fds, bind_sources) = if ctx.bind_fds {
        crate::bind_sources::receive(ch, &mounts)?
    } else {
        (Vec::new(), Vec::new())
    };
    let mut go = GoAhead {
        ch,
        unshare_cgroupns: ctx.unshare_cgroupns,
        passed: false,
    };
    // The mounts up to the first that needs the cgroup are made while the runtime makes it
    // (see `resources::prepare`), in the init's own mount namespace and before any container
    // code runs. Not in a user namespace (its id mappings come with the go-ahead) nor in the
    // runtime's mount namespace.
    if ctx.userns || ctx.shared_mntns {
        go.wait()?;
    }
    if ctx.userns {
        // Become the namespace's root, so files we create are owned by the mapped root.
        sys.set_ids(0, 0)?;
    }
    let linux = ctx.spec.linux().clone().unwrap_or_default();
    let process = ctx
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Spec("process: missing".into()))?;
    set_names(&sys, ctx.spec, ctx.uts)?;
    let devices = linux.devices().clone().unwrap_or_default();
    let masked = linux.masked_paths().clone().unwrap_or_default();
    let ro_paths = linux.readonly_paths().clone().unwrap_or_default();
    let plan = RootfsPlan {
        rootfs: ctx.rootfs,
        bundle: ctx.bundle,
        mounts: &mounts,
        devices: &devices,
        propagation: linux.rootfs_propagation().as_deref(),
        readonly: ctx
            .spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        no_pivot: ctx.no_pivot,
        shared_mntns: ctx.shared_mntns,
        userns: ctx.userns,
        cgroupns: ctx.cgroupns,
        cgroup_layout: ctx.cgroup_layout.as_ref(),
        masked: &masked,
        readonly_paths: &ro_paths,
        bind_sources: &bind_sources,
    };
    fault::mark("init.mounting");
    plan.mount_all_gated(&sys, &mut || go.wait())?;
    go.wait()?;
    fault::mark("init.mounted");
    crate::rootfs::resolve_in_root(ctx.rootfs, process.cwd())
        .and_then(|cwd| sys.mkdir_all(&cwd))
        .map_err(|e| Error::Other(format!("process.cwd {:?}: {e}", process.cwd())))?;

    let state_json = request_hooks(ch)?;
    let hooks = ctx.spec.hooks().clone().unwrap_or_default();
    // As runc, createContainer hooks run in the rootfs (they reach its files by relative paths).
    nix::unistd::chdir(ctx.rootfs).ctx(|| format!("chdir to {}", ctx.rootfs.display()))?;
    crate::hooks::run_hooks(
        "createContainer",
        hooks.create_container().as_ref(),
        &state_json,
    )?;

    plan.enter(&sys)?;
    // sysctls go in before /proc/sys becomes read-only.
    write_sysctls(&sys, &linux)?;
    plan.finish(&sys)?;

    let (exe, args, env) = prepare_process(&sys, &ctx.console, process, true)?;
    crate::dev_mount::dev_readonly(&sys, &mounts)?;
    // Become the process (user, capabilities, seccomp filter) before reporting ready, so a
    // failure fails `create`, and before the startContainer hooks, which run as the process
    // and confined by its filter, as in runc.
    // A notifying filter's listener goes to the agent the runtime connected to.
    let agent = ctx
        .seccomp_agent
        .map(|agent| seccomp_handover(agent, &state_json));
    finish_process(
        &sys,
        process,
        ctx.caps.as_ref(),
        ctx.seccomp,
        agent,
        !ctx.userns || setgroups_allowed(),
    )?;

    fault::mark("init.ready");
    crate::log::debug("init: closing the pipe to signal completion (waiting for start)");
    // (the seccomp filter is loaded: write(2), see `Channel::write_msg`)
    ch.write_msg(&Msg::Ready)?;
    let fifo = match ctx.start {
        StartWait::Fifo(f) => wait_for_start(&f, &ctx.host_proc)?,
        StartWait::Channel(report) => {
            wait_for_go(ch)?;
            report
        }
    };
    drop(ctx.host_proc);
    // startContainer hooks run once `start` is called; their failure fails `start`.
    let created = state_json.replace("\"status\":\"creating\"", "\"status\":\"created\"");
    if let Err(e) =
        crate::hooks::run_hooks("startContainer", hooks.start_container().as_ref(), &created)
    {
        let _ = nix::unistd::write(&fifo, format!("1{e}").as_bytes());
        return Err(e);
    }
    fault::mark("init.exec");
    nix::unistd::write(&fifo, b"0").ctx(|| "writing exec.fifo")?;
    // The fifo stays open (close-on-exec) until the execve: `start` waits for that EOF, and a
    // failure of the execve goes to it after the "0", so `start` fails with the cause instead
    // of reporting a process that never ran (nobody reads the channel any more: `create`
    // returned long ago).
    let Err(e) = exec_process(&exe, &args, &env, ctx.preserve_fds);
    let _ = nix::unistd::write(&fifo, format!("1{e}").as_bytes());
    Err(e)
}

/// The hostname and domainname; a hostname needs a UTS namespace of the container's own.
fn set_names(sys: &dyn Syscall, spec: &Spec, uts: bool) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        if !uts {
            return Err(Error::Spec(
                "hostname set but the container has no uts namespace (new or joined)".into(),
            ));
        }
        sys.set_hostname(h)?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        sys.set_domainname(d)?;
    }
    Ok(())
}

/// Ask the runtime to run the prestart and createRuntime hooks; their state JSON comes back.
fn request_hooks(ch: &Channel) -> Result<String> {
    ch.send(&Msg::RunHooks)?;
    match ch.recv()? {
        Msg::HooksDone(s) => Ok(s),
        Msg::Error(e) => Err(Error::Other(e)),
        other => Err(Error::Other(format!("unexpected message {other:?}"))),
    }
}

fn write_sysctls(sys: &dyn Syscall, linux: &oci_spec::runtime::Linux) -> Result<()> {
    for (k, v) in linux.sysctl().iter().flatten() {
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        sys.write_file(&path, v)
            .map_err(|e| Error::Other(format!("linux.sysctl {k}: {e}")))?;
    }
    Ok(())
}

/// What the agent gets with a notifying filter's listener: the state and the init's pid.
fn seccomp_handover(
    agent: crate::seccomp_agent::Agent,
    state_json: &str,
) -> crate::seccomp_agent::Handover {
    let pid = serde_json::from_str::<serde_json::Value>(state_json)
        .ok()
        .and_then(|v| v["pid"].as_i64())
        .unwrap_or_default() as i32;
    crate::seccomp_agent::Handover {
        agent,
        state: state_json.to_string(),
        pid,
    }
}

/// How the init waits for `start`, and where it reports the start.
pub enum StartWait {
    /// exec.fifo, opened O_PATH: opening it for writing blocks until `start` opens it for
    /// reading, and the start is reported on it.
    Fifo(OwnedFd),
    /// The go-ahead on the channel ([`Msg::Start`]), from a creator that starts the container
    /// itself; the start is reported on this pipe (see `container::StartGate`).
    Channel(OwnedFd),
}

/// Block until the creator's go-ahead. Its end closing instead (it died, or gave up on the
/// container) ends the init: nothing else could start it. The seccomp filter is in place by
/// now: the message is read with read(2) (see [`Channel::read_short`]).
fn wait_for_go(ch: &Channel) -> Result<()> {
    match ch.read_short()? {
        Msg::Start => Ok(()),
        other => Err(Error::Other(format!(
            "waiting for start: unexpected message {other:?}"
        ))),
    }
}

/// Block until `start` opens the other end of exec.fifo. The fifo lives in the host's state
/// dir, so reopen our O_PATH handle through the host /proc we kept open.
fn wait_for_start(fifo: &OwnedFd, host_proc: &OwnedFd) -> Result<OwnedFd> {
    let fifo_path = format!("self/fd/{}", fifo.as_raw_fd());
    loop {
        match nix::fcntl::openat(
            host_proc,
            fifo_path.as_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Err(nix::Error::EINTR) => continue,
            r => return r.ctx(|| "opening exec.fifo"),
        }
    }
}

/// What the container init and exec'd processes both do before reporting ready: a new session,
/// the terminal, rlimits, and the environment and executable to exec (resolved now, so a missing
/// binary fails `create`/`exec` rather than the start of the program).
fn prepare_process(
    sys: &dyn Syscall,
    console: &Console,
    process: &Process,
    bind_console: bool,
) -> Result<(PathBuf, Vec<String>, Vec<String>)> {
    nix::unistd::setsid().ctx(|| "setsid")?;
    let uid = process.user().uid();
    if process.terminal().unwrap_or(false) {
        setup_terminal(console, bind_console, uid)?;
    } else {
        crate::tty::chown_stdio_pipes(uid)?;
    }
    crate::process::set_rlimits(sys, process.rlimits().as_deref().unwrap_or(&[]))?;
    let env = crate::process::environment(
        process,
        crate::process::home_of(process.user().uid()).as_deref(),
    );
    let args = process.args().clone().unwrap_or_default();
    let exe = crate::process::find_executable(&args[0], &env)?;
    Ok((exe, args, env))
}

fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// Open a pty in the container, size it, hand the master to the console socket, make the slave
/// our controlling terminal and stdio, owned by the process user `uid` (as runc does: the user
/// can reopen its terminal, e.g. /dev/stdout).
pub fn setup_terminal(console: &Console, bind_console: bool, uid: u32) -> Result<()> {
    let Console::Socket { sock, size } = console else {
        return Err(Error::Other(
            "process.terminal is set but there is no console socket to send the terminal to".into(),
        ));
    };
    let pty = crate::tty::open_pty()?;
    nix::unistd::fchown(&pty.slave, Some(uid.into()), None)
        .ctx(|| format!("chown {} to uid {uid}", pty.slave_path))?;
    if let Some((rows, cols)) = *size {
        crate::tty::set_size(pty.master.as_raw_fd(), rows, cols);
    }
    if bind_console {
        let sys = Linux::default();
        let console = Path::new("/dev/console");
        if sys.is_dir(console).is_none() {
            sys.create_file(console)?;
        }
        sys.mount(
            Some(Path::new(&pty.slave_path)),
            console,
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
        )?;
    }
    send_fd(sock.as_raw_fd(), pty.master.as_raw_fd(), &pty.slave_path)?;
    drop(pty.master);
    crate::tty::make_controlling(&pty.slave)
}

#[allow(clippy::too_many_arguments)]
pub fn finish_and_exec(
    sys: &dyn Syscall,
    process: &Process,
    caps: Option<&CapPlan>,
    seccomp: Option<seccomp::Filter>,
    agent: Option<crate::seccomp_agent::Handover>,
    exe: &Path,
    args: &[String],
    env: &[String],
    preserve_fds: i32,
    setgroups: bool,
) -> Result<Infallible> {
    finish_process(sys, process, caps, seccomp, agent, setgroups)?;
    exec_process(exe, args, env, preserve_fds)
}

/// umask, AppArmor, seccomp, user and capabilities, cwd, no_new_privs: everything that makes
/// the runtime's child the container's process, short of execve.
fn finish_process(
    sys: &dyn Syscall,
    process: &Process,
    caps: Option<&CapPlan>,
    seccomp: Option<seccomp::Filter>,
    mut agent: Option<crate::seccomp_agent::Handover>,
    setgroups: bool,
) -> Result<()> {
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as _));
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut load = |f: seccomp::Filter| crate::seccomp_agent::load(f, &mut agent);
    crate::lsm::apply_apparmor(process)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still hold
    // it (as runc does). With no_new_privs it goes last, right before execve.
    let mut seccomp = seccomp;
    if !nnp {
        if let Some(f) = seccomp.take() {
            load(f)?;
        }
    }
    // Into the cwd while we are still root (as runc): a directory only root can enter is a
    // valid cwd for any user; one only the container's user can enter (a volume chowned to
    // it, with root squashed) is tried again once we are that user.
    let chdir = || {
        nix::unistd::chdir(process.cwd())
            .ctx(|| format!("chdir to cwd {:?} (process.cwd)", process.cwd()))?;
        cwd_inside_root(process.cwd())
    };
    let retry_chdir = match chdir() {
        Ok(()) => false,
        Err(e) if e.is_permission() => true,
        Err(e) => return Err(e),
    };
    crate::process::switch_user(sys, process, caps, setgroups)?;
    if retry_chdir {
        chdir()?;
    }
    if nnp {
        sys.set_no_new_privs()?;
    }
    if let Some(f) = seccomp {
        load(f)?;
    }
    Ok(())
}

/// The cwd just entered must lie under the process's root. A cwd such as `/proc/self/fd/N`
/// resolves through whatever fd N of the runtime's child is (a directory of the host it still
/// holds, its /proc say), and a process started there can walk up out of the container to the
/// host's root (CVE-2024-21626's breakout, which runc refuses the same way): the kernel then
/// names the cwd "(unreachable)..." instead of an absolute path.
fn cwd_inside_root(cwd: &Path) -> Result<()> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the kernel writes at most buf.len() bytes into buf
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(Error::Spec(format!(
            "process.cwd {cwd:?}: cannot tell where it leads ({}): refused",
            nix::Error::last()
        )));
    }
    if buf.first() != Some(&b'/') {
        return Err(Error::Spec(format!(
            "process.cwd {cwd:?} leads outside the container's root: refused (possible \
             container breakout)"
        )));
    }
    Ok(())
}

fn exec_process(
    exe: &Path,
    args: &[String],
    env: &[String],
    preserve_fds: i32,
) -> Result<Infallible> {
    reset_signals();
    crate::process::cloexec_from(3 + preserve_fds)?;
    let c = |s: &str| {
        CString::new(s).map_err(|_| Error::Spec(format!("process: {s:?} contains a NUL byte")))
    };
    let exe_c = c(&exe.to_string_lossy())?;
    let args_c = args.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
    let env_c = env.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
    let err = nix::unistd::execve(&exe_c, &args_c, &env_c).unwrap_err();
    Err(Error::Other(format!("exec {:?}: {err}", exe)))
}

/// Undo what the runtime did to signals: Rust ignores SIGPIPE, the foreground `run` blocks all.
pub fn reset_signals() {
    // SAFETY: plain signal-mask and disposition resets before execve.
    unsafe {
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

pub struct ExecCtx<'a> {
    pub process: &'a Process,
    pub linux: &'a oci_spec::runtime::Linux,
    pub console: Console,
    pub preserve_fds: i32,
    pub caps: Option<CapPlan>,
    pub seccomp: Option<seccomp::Filter>,
    pub seccomp_agent: Option<crate::seccomp_agent::Handover>,
    pub userns: bool,
    /// The container's root, for a container that shares the runtime's mount namespace (there
    /// is no namespace to join that would put the process in it: it is chrooted, as the init).
    pub chroot: Option<&'a std::path::Path>,
}

/// A process started by `exec`: already inside the container's namespaces (and so its root).
pub fn exec_init(ctx: ExecCtx, ch: &Channel) -> Result<Infallible> {
    crate::log::debug("child process in init(): joined the container");
    let sys = Linux::default();
    expect_go(ch)?;
    if let Some(root) = ctx.chroot {
        sys.chroot(root)?;
    }
    let process = ctx.process;
    let (exe, args, env) = prepare_process(&sys, &ctx.console, process, false)?;
    crate::log::debug(&format!("setns_init: about to exec {exe:?}"));
    ch.send(&Msg::Ready)?;
    finish_and_exec(
        &sys,
        process,
        ctx.caps.as_ref(),
        ctx.seccomp,
        ctx.seccomp_agent,
        &exe,
        &args,
        &env,
        ctx.preserve_fds,
        !ctx.userns || setgroups_allowed(),
    )
}
