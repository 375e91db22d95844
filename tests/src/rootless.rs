//! Rootless helpers (issue 17) for tests/tests/rootless.rs: a real unprivileged user with a
//! subordinate range of its own, the engine run as that user through `setpriv`, device
//! modes opened for a test and restored, a server killed at drop.

use crate::engine::busybox_tar;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const RANGE: u32 = 65536;

pub fn podman() -> bool {
    std::env::var("BERTH_TEST_ENGINE").as_deref() == Ok("podman")
}

/// A user made for one test: `useradd` with a home, a subordinate range of its own, and the
/// engine binary reachable (hard-linked into a world-readable dir when the build dir is not).
pub struct User {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
    pub sub_start: u32,
    pub bin: PathBuf,
    bin_dir: Option<PathBuf>,
    /// extra environment of every engine command
    pub env: Vec<(&'static str, PathBuf)>,
    /// set by [`User::delegate_cgroup2`]: the user's commands see a pure cgroup v2 host
    cgroup2: Option<Cgroup2View>,
}

/// A cgroup v2 subtree delegated to the user, as systemd's `Delegate=yes` does, and the view
/// of a pure v2 host the user's commands get: each starts in a mount namespace of its own where
/// /sys/fs/cgroup is the host's real cgroup2 hierarchy (on a hybrid host, the one at
/// /sys/fs/cgroup/unified) and in the delegated cgroup. The subtree goes when the user does.
#[derive(Clone)]
struct Cgroup2View {
    /// where the host mounts cgroup2
    host_mount: PathBuf,
    /// the delegated cgroup, relative to the hierarchy's root
    rel: PathBuf,
}

impl User {
    pub fn new(tag: &str) -> User {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the rootless tests create users: run them as root"
        );
        assert!(
            Path::new("/usr/bin/newuidmap").exists(),
            "newuidmap missing: apt-get install uidmap"
        );
        let pid = std::process::id();
        let name = format!("br{tag}{}", pid % 100_000);
        let st = Command::new("useradd")
            .args([
                "-m",
                "-s",
                "/bin/sh",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
            ])
            .arg(&name)
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {name}");
        let pw = nix::unistd::User::from_name(&name).unwrap().unwrap();
        // a range of our own, away from useradd's defaults (100000+)
        let sub_start = 1_000_000 + (pid % 4000) * RANGE + tag.len() as u32 * 7 * RANGE;
        let range = format!("{sub_start}-{}", sub_start + RANGE - 1);
        let st = Command::new("usermod")
            .args(["--add-subuids", &range, "--add-subgids", &range])
            .arg(&name)
            .status()
            .expect("usermod");
        let mut u = User {
            name,
            uid: pw.uid.as_raw(),
            home: pw.dir,
            sub_start,
            bin: PathBuf::new(),
            bin_dir: None,
            cgroup2: None,
            env: Vec::new(),
        };
        assert!(st.success(), "usermod --add-subuids {}", u.name);
        u.bin = if podman() {
            PathBuf::from("podman")
        } else {
            u.reachable(crate::engine::berth_bin())
        };
        u
    }

    /// `b`, or a hard link to it in a dir the user can reach.
    pub fn reachable(&mut self, b: PathBuf) -> PathBuf {
        let probe = Command::new("setpriv")
            .args(self.setpriv_args())
            .arg(&b)
            .arg("--version")
            .output()
            .expect("setpriv");
        if probe.status.success() {
            return b;
        }
        let dir = std::env::temp_dir().join(format!("berth-rootless-bin-{}", self.name));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut bins = vec![b.clone()];
        if b.file_name().is_some_and(|n| n == "berth") {
            // berth's monitors run from the berth-monitor next to it
            bins.push(b.with_file_name("berth-monitor"));
        }
        for src in bins.iter().filter(|p| p.exists()) {
            let l = dir.join(src.file_name().unwrap());
            if std::fs::hard_link(src, &l).is_err() {
                std::fs::copy(src, &l).unwrap();
            }
        }
        let l = dir.join(b.file_name().unwrap());
        self.bin_dir = Some(dir);
        l
    }

    pub fn setpriv_args(&self) -> Vec<String> {
        let id = self.uid.to_string();
        ["--reuid", &id, "--regid", &id, "--init-groups", "--"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// The engine run as the user, with a login-less environment (no XDG_RUNTIME_DIR: the
    /// /tmp fallback), stdin from `input`.
    pub fn run(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        self.run_bin(&self.bin, args, input, &[])
    }

    pub fn run_bin(
        &self,
        bin: &Path,
        args: &[&str],
        input: Option<&[u8]>,
        env: &[(&str, &Path)],
    ) -> Output {
        let mut c = Command::new("setpriv");
        if let Some(view) = self.cgroup2.clone() {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the child only makes syscalls (no allocation but
            // the paths' CStrings, made here, before the fork).
            let procs = std::ffi::CString::new(
                Path::new("/sys/fs/cgroup")
                    .join(&view.rel)
                    .join("cgroup.procs")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .unwrap();
            // the other cgroup mounts (v1 hierarchies, e.g. hugetlb mounted elsewhere for crun)
            let text = mountinfo::read_self().unwrap();
            let others: Vec<std::ffi::CString> = mountinfo::mounts(&text)
                .filter(|m| m.fs_type == "cgroup" && !m.mount_point.starts_with("/sys/fs/cgroup"))
                .map(|m| {
                    std::ffi::CString::new(m.mount_point.into_os_string().into_encoded_bytes())
                })
                .collect::<Result<_, _>>()
                .unwrap();
            unsafe {
                c.pre_exec(move || enter_cgroup2_view(&procs, &others));
            }
        }
        c.args(self.setpriv_args())
            .arg(bin)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.to_path_buf())))
            .envs(self.env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .current_dir(&self.home)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn the engine as the user");
        if let Some(data) = input {
            let mut w = child.stdin.take().unwrap();
            w.write_all(data).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Delegate a cgroup v2 subtree to the user and show every later command of the user a
    /// pure cgroup v2 host (see [`Cgroup2View`]); the delegated cgroup's path on the host.
    /// None when the host has no cgroup2 hierarchy.
    pub fn delegate_cgroup2(&mut self) -> Option<PathBuf> {
        let text = mountinfo::read_self().unwrap();
        let host_mount = mountinfo::mounts(&text)
            .find(|m| m.fs_type == "cgroup2")?
            .mount_point;
        let rel = PathBuf::from(format!("berth-delegated-{}", self.name));
        let dir = host_mount.join(&rel);
        std::fs::create_dir_all(&dir).unwrap();
        let id = Some(nix::unistd::Uid::from_raw(self.uid));
        let gid = Some(nix::unistd::Gid::from_raw(self.uid));
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            nix::unistd::chown(&dir.join(f), id, gid).unwrap();
        }
        self.cgroup2 = Some(Cgroup2View { host_mount, rel });
        Some(dir)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, None);
        assert!(o.status.success(), "{} {args:?}: {o:?}", self.bin.display());
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    pub fn import_busybox(&self) -> String {
        let img = "localhost/bb:latest";
        let tar = std::fs::read(busybox_tar()).unwrap();
        let o = self.run(&["import", "-", img], Some(&tar));
        assert!(o.status.success(), "import: {o:?}");
        img.to_string()
    }

    /// The user's live processes (pid, name); zombies are dead, only not yet reaped by init.
    pub fn processes(&self) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if e.metadata().map(|m| m.uid()).ok() != Some(self.uid) {
                continue;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
            if matches!(state, Some('Z') | None) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            out.push((pid, comm.trim().to_string()));
        }
        out
    }
}

/// In the child, before it becomes the user: a mount namespace of its own (receiving nothing
/// back from the host) with cgroup2 alone at /sys/fs/cgroup and no other cgroup mount, then
/// into the delegated cgroup.
fn enter_cgroup2_view(procs: &std::ffi::CStr, others: &[std::ffi::CString]) -> std::io::Result<()> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let io = |e: nix::Error| std::io::Error::from_raw_os_error(e as i32);
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(io)?;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_SLAVE | MsFlags::MS_REC, none).map_err(io)?;
    umount2("/sys/fs/cgroup", MntFlags::MNT_DETACH).map_err(io)?;
    for m in others {
        umount2(m.as_c_str(), MntFlags::MNT_DETACH).map_err(io)?;
    }
    mount(
        Some("cgroup2"),
        "/sys/fs/cgroup",
        Some("cgroup2"),
        MsFlags::empty(),
        none,
    )
    .map_err(io)?;
    let fd = nix::fcntl::open(
        procs,
        nix::fcntl::OFlag::O_WRONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io)?;
    let pid = std::process::id().to_string();
    nix::unistd::write(&fd, pid.as_bytes()).map_err(io)?;
    Ok(())
}

/// Remove a cgroup tree, children first (only empty cgroups can go).
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Drop for User {
    fn drop(&mut self) {
        // every process of the user (the pause process, conmon, anything a failure left)
        for _ in 0..50 {
            let ps = self.processes();
            if ps.is_empty() {
                break;
            }
            for (pid, _) in ps {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // processes of the subordinate range (a container that outlived its monitor)
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let uid = e.metadata().map(|m| m.uid()).unwrap_or(0);
            if (self.sub_start..self.sub_start + RANGE).contains(&uid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // userdel -r removes the home (the state root) and the subordinate ranges
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(self.home.as_path());
        let _ = std::fs::remove_dir_all(format!("/tmp/berth-{}", self.uid));
        if let Some(d) = &self.bin_dir {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(v) = &self.cgroup2 {
            remove_cgroup_tree(&v.host_mount.join(&v.rel));
        }
    }
}

pub fn host_uid_of(pid: &str) -> u32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let l = s.lines().find(|l| l.starts_with("Uid:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// What a TCP connection to 127.0.0.1:`port` reads, tried until it holds `want` (a published
/// port's server may take a moment to listen) or five seconds passed.
pub fn read_port(port: u16, want: &str) -> String {
    use std::io::Read;
    let mut got = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            got.clear();
            let _ = s.read_to_string(&mut got);
            if got.contains(want) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    got
}

/// A port no one listens on now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Opens a device node to everyone (Debian's default for /dev/net/tun and /dev/fuse) and
/// restores its mode when dropped.
pub struct DevMode(&'static str, u32);

impl DevMode {
    pub fn open_to_all(dev: &'static str) -> DevMode {
        let mode = std::fs::metadata(dev).unwrap().mode() & 0o7777;
        std::fs::set_permissions(dev, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        DevMode(dev, mode)
    }
}

impl Drop for DevMode {
    fn drop(&mut self) {
        let _ =
            std::fs::set_permissions(self.0, std::os::unix::fs::PermissionsExt::from_mode(self.1));
    }
}

/// Kills a server started as the user when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
