//! The container lifecycle: create, start (through a monitor), stop, kill, remove, wait, and the
//! reconciliation that makes the store true again after berth processes were killed or the host
//! rebooted.

use crate::container::Status;
use crate::error::{Error, IoContext, Result};
use crate::spec::{MountSource, ResolvedMount, SpecContext};
use crate::store::Store;
use crate::types::{Config, Container, GraphDriver, HostConfig, MountPoint, State, Volume};
use crate::{names, volumes};
use image::images::ImageStore;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use crate::paths::{run_root_of, DEFAULT_ROOT, DEFAULT_RUN_ROOT};

pub struct Engine {
    /// persistent state: the metadata store, container dirs, volumes, images
    pub root: PathBuf,
    /// volatile state (gone after a reboot): runtime state, monitor sockets and locks
    pub run_root: PathBuf,
    pub store: Store,
    pub runtime: runtime::Runtime,
    images: OnceLock<ImageStore>,
    pub(crate) nets: std::sync::Mutex<Option<std::sync::Arc<network::Manager>>>,
}

/// A create request in the API's shape: the user's Config (its Entrypoint/Cmd are the user's
/// overrides) and HostConfig.
#[derive(Default, Clone, Debug)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub config: Config,
    pub host_config: HostConfig,
    /// `--network-alias` (EndpointsConfig.Aliases of the API)
    pub network_aliases: Vec<String>,
    /// `--ip` (EndpointsConfig.IPAMConfig.IPv4Address)
    pub ip: Option<String>,
}

/// Connects a monitor's first client, given the container id.
type ConnectFn<'a> = &'a mut dyn FnMut(&str) -> Result<()>;

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The cgroup of a container, below each hierarchy's root (the spec's cgroupsPath).
pub fn cgroups_path(id: &str) -> String {
    format!("/berth/{id}")
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine> {
        let root = std::path::absolute(root).ctx(|| format!("state root {}", root.display()))?;
        let run_root = run_root_of(&root);
        for d in [&root, &run_root] {
            std::fs::create_dir_all(d).ctx(|| format!("create {}", d.display()))?;
        }
        let store = Store::open(&root.join("engine.db"))?;
        // the runtime's state is rebuilt by reconcile after a crash: atomic writes, no fsync
        runtime::util::set_durable(false);
        Ok(Engine {
            runtime: runtime::Runtime::new(run_root.join("runtime")),
            root,
            run_root,
            store,
            images: OnceLock::new(),
            nets: std::sync::Mutex::new(None),
        })
    }

    pub fn images(&self) -> Result<&ImageStore> {
        if let Some(i) = self.images.get() {
            return Ok(i);
        }
        let i = ImageStore::open(&self.root)?;
        Ok(self.images.get_or_init(|| i))
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn monitor_dir(&self, id: &str) -> PathBuf {
        self.run_root.join("containers").join(id)
    }

    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.monitor_dir(id).join("attach.sock")
    }

    pub fn lock_path(&self, id: &str) -> PathBuf {
        self.monitor_dir(id).join("monitor.lock")
    }

    // ---------------------------------------------------------------- create

    pub fn create(&self, req: CreateRequest) -> Result<(Container, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut hc = req.host_config;
        validate_host_config(&hc)?;
        crate::spec::adapt_host_config(&mut hc);
        crate::logs::validate_opts(&hc.log_config.config)?;
        if let Some(n) = &req.name {
            if !names::valid_container_name(n) {
                return Err(Error::Invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            if let Some(other) = self.store.find(n).ok().filter(|c| c.short_name() == n) {
                return Err(Error::NameInUse {
                    name: n.clone(),
                    id: other.id,
                });
            }
        }
        let images = self.images()?;
        let img = images.get(&req.config.image).map_err(|e| match e {
            image::Error::ImageNotFound(_) => Error::NoSuchImage(req.config.image.clone()),
            e => e.into(),
        })?;
        let id = names::random_id();
        let generated = req.name.is_none();
        let name = match req.name {
            Some(n) => n,
            None => names::generate(&mut |n| self.store.name_taken(n).unwrap_or(true)),
        };
        let mut cfg = req.config.clone();
        let user_entrypoint = cfg.entrypoint.take();
        let user_cmd = cfg.cmd.take();
        crate::spec::merge_image_config(&mut cfg, &img.config, user_entrypoint, user_cmd);
        if cfg.hostname.is_empty() {
            cfg.hostname = if hc.network_mode == "host" {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                id[..12].to_string()
            };
        }
        let (path, args) = crate::spec::path_and_args(&cfg)?;
        let network_settings = crate::net::initial_settings(
            self,
            &hc.network_mode,
            &req.network_aliases,
            req.ip.as_deref(),
        )?;
        if hc.memory > 0 && hc.memory_swap == 0 && !swap_accounting() {
            warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
        }

        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let mut created_volumes = Vec::new();
        let result = (|| -> Result<Container> {
            let mounts = self.resolve_mounts(&cfg, &hc, &mut created_volumes)?;
            // a --rm container's layer is thrown away: no syncs for it (overlayfs `volatile`)
            let (rootfs, kind) = images.create_snapshot_opts(
                &id,
                &img.record.manifest.to_string(),
                hc.auto_remove,
            )?;
            let mut c = Container {
                id: id.clone(),
                created: now(),
                path,
                args,
                state: State::created(),
                image: img.id().to_string(),
                resolv_conf_path: dir.join("resolv.conf").to_string_lossy().into_owned(),
                hostname_path: dir.join("hostname").to_string_lossy().into_owned(),
                hosts_path: dir.join("hosts").to_string_lossy().into_owned(),
                log_path: if hc.log_config.kind == "none" {
                    String::new()
                } else {
                    dir.join(format!("{id}-json.log"))
                        .to_string_lossy()
                        .into_owned()
                },
                name: format!("/{name}"),
                restart_count: 0,
                driver: if kind == image::snapshot::SnapshotKind::Overlay {
                    "overlay2".into()
                } else {
                    "vfs".into()
                },
                platform: "linux".into(),
                exec_ids: None,
                graph_driver: GraphDriver {
                    name: "overlay2".into(),
                    data: BTreeMap::from([(
                        "MergedDir".to_string(),
                        rootfs.to_string_lossy().into_owned(),
                    )]),
                },
                mounts,
                config: cfg,
                host_config: hc,
                network_settings,
                ..Default::default()
            };
            if c.host_config.log_config.kind.is_empty() {
                c.host_config.log_config.kind = "json-file".into();
            }
            if c.host_config.network_mode.is_empty() {
                c.host_config.network_mode = "bridge".into();
            }
            c.internal.image_ref = req.config.image.clone();
            c.internal.rootfs = rootfs.to_string_lossy().into_owned();
            c.internal.bundle = dir.to_string_lossy().into_owned();
            c.internal.anonymous_volumes = created_volumes
                .iter()
                .filter(|(_, anon)| *anon)
                .map(|(n, _)| n.clone())
                .collect();
            // a generated name another create took meanwhile: take the next free one (the
            // insert checks names in its transaction)
            loop {
                match self.store.insert(&c) {
                    Err(Error::NameInUse { .. }) if generated => {
                        let n = names::generate(&mut |n| self.store.name_taken(n).unwrap_or(true));
                        c.name = format!("/{n}");
                    }
                    r => break r?,
                }
            }
            fault::point("create.recorded");
            crate::events::container(self, &c, "create", &[]);
            Ok(c)
        })();
        match result {
            Ok(c) => Ok((c, warnings)),
            Err(e) => {
                if let Ok(i) = self.images() {
                    let _ = i.remove_snapshot(&id);
                }
                for (v, _) in created_volumes {
                    let _ = volumes::remove(&self.store, &self.root, &v, true);
                }
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// `-v`, `--mount` and the image's `VOLUME`s as inspect's Mounts. Named volumes are created
    /// when missing (docker does too); `created` collects (name, anonymous) of new ones.
    fn resolve_mounts(
        &self,
        cfg: &Config,
        hc: &HostConfig,
        created: &mut Vec<(String, bool)>,
    ) -> Result<Vec<MountPoint>> {
        let mut out: Vec<MountPoint> = Vec::new();
        let mut volume = |name: Option<&str>, target: &str, ro: bool| -> Result<MountPoint> {
            let (v, new) = volumes::create(
                &self.store,
                &self.root,
                name,
                BTreeMap::new(),
                name.is_none(),
            )?;
            if new {
                created.push((v.name.clone(), name.is_none()));
            }
            Ok(volumes::volume_mount(&v, target, ro))
        };
        let add = |m: MountPoint, out: &mut Vec<MountPoint>| -> Result<()> {
            if out.iter().any(|o| o.destination == m.destination) {
                return Err(Error::Invalid(format!(
                    "Duplicate mount point: {}",
                    m.destination
                )));
            }
            out.push(m);
            Ok(())
        };
        for b in &hc.binds {
            let b = volumes::parse_bind(b)?;
            let m = if b.source.starts_with('/') {
                let src = Path::new(&b.source);
                if !src.exists() {
                    // docker creates a missing bind source directory
                    std::fs::create_dir_all(src)
                        .ctx(|| format!("create bind source {}", src.display()))?;
                }
                volumes::bind_mount(&b.source, &b.target, b.readonly, &b.options)
            } else if b.source.is_empty() {
                volume(None, &b.target, b.readonly)?
            } else {
                volume(Some(&b.source), &b.target, b.readonly)?
            };
            add(m, &mut out)?;
        }
        for m in &hc.mounts {
            let target = volumes::clean(&m.target);
            let mp = match m.kind.as_str() {
                "bind" => {
                    if !Path::new(&m.source).exists() {
                        return Err(Error::Invalid(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {}",
                            m.source
                        )));
                    }
                    volumes::bind_mount(&m.source, &target, m.read_only, &[])
                }
                "volume" | "" => volume(
                    Some(m.source.as_str()).filter(|s| !s.is_empty()),
                    &target,
                    m.read_only,
                )?,
                "tmpfs" => MountPoint {
                    kind: "tmpfs".into(),
                    destination: target.clone(),
                    rw: !m.read_only,
                    ..Default::default()
                },
                k => {
                    return Err(Error::Invalid(format!(
                        "invalid mount config: mount type unknown: {k:?}"
                    )))
                }
            };
            add(mp, &mut out)?;
        }
        if let Some(vs) = &cfg.volumes {
            for target in vs.keys() {
                let t = volumes::clean(target);
                if out.iter().any(|o| o.destination == t) || hc.tmpfs.contains_key(&t) {
                    continue;
                }
                let m = volume(None, &t, false)?;
                out.push(m);
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- lookup

    /// Find a container and make its state true first (see `reconcile_one`).
    pub fn find(&self, key: &str) -> Result<Container> {
        let c = self.store.find(key)?;
        self.reconcile_one(c)
    }

    /// Every container, reconciled.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for c in self.store.all()? {
            match self.reconcile_one(c) {
                Ok(c) => out.push(c),
                // a --rm container whose monitor died is gone now
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Is the container's monitor alive? It holds an exclusive lock for as long as it lives.
    pub fn monitor_alive(&self, id: &str) -> bool {
        let Ok(f) = std::fs::File::open(self.lock_path(id)) else {
            return false;
        };
        // SAFETY: flock on an fd we own.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        r != 0
    }

    /// A container whose monitor died (killed, or the host rebooted) is recorded as exited:
    /// its process, if still alive, is killed (nothing could collect its output or exit code),
    /// its cgroup and runtime state are removed and its rootfs unmounted.
    ///
    /// A container that is not live but has runtime state lost its monitor in the middle of a
    /// start (a monitor removes that state whenever a start fails or a process exits): its
    /// init, or even its process, is left with nobody to collect it. It is killed and its
    /// network released, and the record stays as it was (created or exited).
    fn reconcile_one(&self, c: Container) -> Result<Container> {
        let live = c.state.status.is_live();
        let orphan = !live && self.runtime.root.join(&c.id).exists();
        if !(live || orphan) || self.monitor_alive(&c.id) {
            return Ok(c);
        }
        if orphan {
            let _ = self.runtime.delete(&c.id, true);
            crate::net::teardown(self, &c.id);
            self.unmount_rootfs(&c);
            return Ok(c);
        }
        let mut killed = false;
        if let Ok(st) = self.runtime.load(&c.id) {
            if runtime::util::process_alive(st.pid, st.pid_start) {
                killed = true;
            }
            let _ = self.runtime.delete(&c.id, true);
        }
        self.unmount_rootfs(&c);
        crate::net::teardown(self, &c.id);
        if c.host_config.auto_remove {
            // --rm: nobody is left to remove it but us (its volatile layer cannot be mounted
            // again after a crash anyway)
            let _ = self.destroy(&c, true);
            return Err(Error::NoSuchContainer(c.id.clone()));
        }
        self.store
            .update(&c.id, |c| c.state.set_monitor_lost(killed))
    }

    pub fn unmount_rootfs(&self, c: &Container) {
        let p = Path::new(&c.internal.rootfs);
        if c.driver == "overlay2" && image::snapshot::is_mountpoint(p) {
            let _ = image::snapshot::unmount(p);
        }
    }

    // ---------------------------------------------------------------- start

    /// Everything a start needs on disk: the rootfs mounted, volumes filled, /etc files
    /// generated and config.json written.
    pub fn prepare(&self, c: &Container) -> Result<()> {
        let images = self.images()?;
        let rootfs = images.mount_snapshot(&c.id)?;
        let dir = self.container_dir(&c.id);
        let mut mounts = Vec::new();
        for m in &c.mounts {
            match m.kind.as_str() {
                "volume" => {
                    let v: Volume = self
                        .store
                        .volume(&m.name)?
                        .ok_or_else(|| Error::NoSuchVolume(m.name.clone()))?;
                    volumes::populate(&self.store, &v, &rootfs, &m.destination)?;
                    crate::events::volume_mounted(self, &v, c, m);
                    mounts.push(ResolvedMount {
                        destination: m.destination.clone(),
                        source: MountSource::Bind(PathBuf::from(volumes::data_dir(&v))),
                        readonly: !m.rw,
                        options: vec![],
                    });
                }
                "bind" => {
                    let mut options = vec![];
                    if !m.propagation.is_empty() {
                        options.push(m.propagation.clone());
                    }
                    mounts.push(ResolvedMount {
                        destination: m.destination.clone(),
                        source: MountSource::Bind(PathBuf::from(&m.source)),
                        readonly: !m.rw,
                        options,
                    })
                }
                "tmpfs" => mounts.push(ResolvedMount {
                    destination: m.destination.clone(),
                    source: MountSource::Tmpfs {
                        options: vec!["nosuid".into(), "nodev".into(), "noexec".into()],
                    },
                    readonly: !m.rw,
                    options: vec![],
                }),
                _ => {}
            }
        }
        self.write_etc_files(c, &dir)?;
        for (f, dst) in [
            ("hostname", "/etc/hostname"),
            ("hosts", "/etc/hosts"),
            ("resolv.conf", "/etc/resolv.conf"),
        ] {
            if c.mounts.iter().any(|m| m.destination == dst) {
                continue;
            }
            mounts.push(ResolvedMount {
                destination: dst.into(),
                source: MountSource::Bind(dir.join(f)),
                readonly: c.host_config.readonly_rootfs,
                options: vec![],
            });
        }
        let join_netns = match c.host_config.network_mode.strip_prefix("container:") {
            Some(other) => {
                let o = self.find(other)?;
                if o.state.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "cannot join network of a non running container: {}",
                        o.id
                    )));
                }
                Some(PathBuf::from(format!("/proc/{}/ns/net", o.state.pid)))
            }
            None => None,
        };
        let ctx = SpecContext {
            rootfs: rootfs.clone(),
            mounts,
            cgroups_path: cgroups_path(&c.id),
            init_binary: init_binary(),
            join_netns,
        };
        if c.host_config.init == Some(true) && ctx.init_binary.is_none() {
            return Err(Error::Invalid(
                "--init: no init binary found (install tini: /usr/bin/tini-static)".into(),
            ));
        }
        let (spec, _warnings) = crate::spec::generate(c, &ctx)?;
        let json = serde_json::to_vec(&spec)?;
        write_replace(&dir.join("config.json"), &json)?;
        let rootfs_s = rootfs.to_string_lossy().into_owned();
        if rootfs_s != c.internal.rootfs {
            self.store
                .update(&c.id, |c| c.internal.rootfs = rootfs_s.clone())?;
        }
        Ok(())
    }

    fn write_etc_files(&self, c: &Container, dir: &Path) -> Result<()> {
        let host = c.host_config.network_mode == "host";
        let hostname = &c.config.hostname;
        // regenerated on every start (as docker does for hosts and resolv.conf): written whole
        // through a rename, without fsync -- a crash at worst loses a file the next start writes
        let write = |name: &str, data: &str| -> Result<()> {
            write_replace(&dir.join(name), data.as_bytes())
        };
        write("hostname", &format!("{hostname}\n"))?;
        let hosts = if host {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        } else {
            let mut h = String::from(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
            );
            for e in &c.host_config.extra_hosts {
                if let Some((n, ip)) = e.split_once(':') {
                    h.push_str(&format!("{ip}\t{n}\n"));
                }
            }
            h.push_str(&format!("127.0.1.1\t{hostname}\n"));
            h
        };
        write("hosts", &hosts)?;
        write("resolv.conf", &self.resolv_conf(c))?;
        Ok(())
    }

    /// Rewrite a running container's resolv.conf in place (it is bind-mounted: a new file
    /// through a rename would not be seen), e.g. once it joined a user network.
    pub fn refresh_resolv_conf(&self, c: &Container) -> Result<()> {
        let p = std::path::Path::new(&c.resolv_conf_path);
        if c.resolv_conf_path.is_empty() || !p.exists() {
            return Ok(());
        }
        std::fs::write(p, self.resolv_conf(c)).ctx(|| format!("write {}", p.display()))
    }

    fn resolv_conf(&self, c: &Container) -> String {
        let host = c.host_config.network_mode == "host";
        let mut resolv = String::new();
        if let Some(gw) = crate::net::user_network_resolver(self, c) {
            // the network's DNS server answers container names and forwards the rest
            resolv.push_str(&format!("nameserver {gw}\noptions ndots:0\n"));
        } else if c.host_config.dns.is_empty() {
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            for l in host_resolv.lines() {
                // a loopback resolver of the host is unreachable from a container's own network
                if !host
                    && l.starts_with("nameserver")
                    && (l.contains(" 127.") || l.contains("::1"))
                {
                    continue;
                }
                resolv.push_str(l);
                resolv.push('\n');
            }
        } else {
            for d in &c.host_config.dns {
                resolv.push_str(&format!("nameserver {d}\n"));
            }
            if !c.host_config.dns_search.is_empty() {
                resolv.push_str(&format!("search {}\n", c.host_config.dns_search.join(" ")));
            }
            if !c.host_config.dns_options.is_empty() {
                resolv.push_str(&format!(
                    "options {}\n",
                    c.host_config.dns_options.join(" ")
                ));
            }
        }
        resolv
    }

    /// Start a created or exited container through a new monitor. With `attach`, the monitor
    /// waits for one attach client before starting the process (so no output is missed) and
    /// this returns once the monitor listens; the caller connects and then learns the outcome
    /// from the stream. Otherwise this returns once the process runs (or failed to start).
    pub fn start(&self, key: &str, attach: bool) -> Result<Container> {
        self.start_with(key, attach, None)
    }

    /// Start a container with an attach client connected before its process starts (the
    /// API's start: hijacked attach streams and waits see all output and the exit code).
    /// Returns once the process runs, or the start error; `None` for the client when the
    /// container was already running.
    pub fn start_connected(
        &self,
        key: &str,
    ) -> Result<(Container, Option<crate::monitor::Attach>)> {
        let mut client = None;
        let mut connect = |id: &str| -> Result<()> {
            client = Some(crate::monitor::Attach::connect(self, id)?);
            Ok(())
        };
        let c = self.start_with(key, true, Some(&mut connect))?;
        Ok((c, client))
    }

    fn start_with(
        &self,
        key: &str,
        attach: bool,
        connect: Option<ConnectFn<'_>>,
    ) -> Result<Container> {
        let c = self.find(key)?;
        match c.state.status {
            Status::Running | Status::Restarting => return Ok(c),
            Status::Paused => {
                return Err(Error::Conflict(
                    "cannot start a paused container, try unpause instead".into(),
                ))
            }
            Status::Removing | Status::Dead => {
                return Err(Error::Conflict(
                    "container is marked for removal and cannot be started".into(),
                ))
            }
            _ => {}
        }
        if c.internal.removing {
            return Err(Error::Conflict(
                "container is marked for removal and cannot be started".into(),
            ));
        }
        self.prepare(&c)?;
        fault::point("start.prepared");
        self.store.update(&c.id, |c| {
            c.internal.manually_stopped = false;
        })?;
        match connect {
            Some(f) => {
                let id = c.id.clone();
                crate::monitor::spawn_connected(self, &c.id, &mut || f(&id))?
            }
            None => crate::monitor::spawn(self, &c.id, attach)?,
        }
        fault::point("start.returned");
        self.store
            .get(&c.id)?
            .ok_or_else(|| Error::NoSuchContainer(c.id.clone()))
    }

    // ---------------------------------------------------------------- signals

    pub fn kill(&self, key: &str, signal: &str) -> Result<Container> {
        let c = self.find(key)?;
        if !c.state.status.has_process() {
            return Err(Error::Conflict(format!(
                "cannot kill container: {}: container {} is not running",
                key, c.id
            )));
        }
        let sig = parse_signal(signal)?;
        let stop_sig = c
            .config
            .stop_signal
            .as_deref()
            .and_then(|s| parse_signal(s).ok())
            .unwrap_or(Signal::SIGTERM);
        if sig == Signal::SIGKILL || sig == stop_sig {
            self.store
                .update(&c.id, |c| c.internal.manually_stopped = true)?;
        }
        self.runtime.kill(&c.id, sig, false)?;
        crate::events::killed(self, &c, sig as i32);
        if c.state.status == Status::Paused && sig == Signal::SIGKILL {
            let _ = self.runtime.resume(&c.id);
        }
        Ok(c)
    }

    /// docker stop: the stop signal, then SIGKILL after the timeout (default 10 s).
    pub fn stop(&self, key: &str, timeout: Option<i64>) -> Result<Container> {
        let c = self.find(key)?;
        self.store
            .update(&c.id, |c| c.internal.manually_stopped = true)?;
        if c.state.status == Status::Restarting {
            // the monitor sees the flag and gives up waiting to restart
            self.wait_not_live(&c.id, Duration::from_secs(15))?;
            crate::events::container(self, &c, "stop", &[]);
            return Ok(c);
        }
        if !c.state.status.has_process() {
            return Ok(c);
        }
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10);
        let sig = c
            .config
            .stop_signal
            .as_deref()
            .map(parse_signal)
            .transpose()?
            .unwrap_or(Signal::SIGTERM);
        if t != 0 {
            let _ = self.runtime.kill(&c.id, sig, false);
            crate::events::killed(self, &c, sig as i32);
            if c.state.status == Status::Paused {
                let _ = self.runtime.resume(&c.id);
            }
            let limit = if t < 0 {
                Duration::from_secs(u64::MAX / 4)
            } else {
                Duration::from_secs(t as u64)
            };
            if self.wait_not_live(&c.id, limit).is_ok() {
                crate::events::container(self, &c, "stop", &[]);
                return Ok(c);
            }
        }
        let _ = self.runtime.kill(&c.id, Signal::SIGKILL, true);
        crate::events::killed(self, &c, Signal::SIGKILL as i32);
        let _ = self.runtime.resume(&c.id);
        self.wait_not_live(&c.id, Duration::from_secs(30))?;
        crate::events::container(self, &c, "stop", &[]);
        Ok(c)
    }

    /// Poll the store until the container is no longer running/paused/restarting.
    pub fn wait_not_live(&self, id: &str, limit: Duration) -> Result<Container> {
        let deadline = Instant::now() + limit;
        let mut delay = Duration::from_millis(2);
        loop {
            let c = self.find(id)?;
            if !c.state.status.is_live() {
                return Ok(c);
            }
            if Instant::now() > deadline {
                return Err(Error::Other(format!("timed out waiting for {id} to stop")));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// docker wait: block until the container stops; its exit code.
    pub fn wait(&self, key: &str) -> Result<i64> {
        let c = self.find(key)?;
        if c.state.status == Status::Created {
            // docker waits for "not-running": a created container has to start and stop first
            loop {
                let c = self.find(&c.id)?;
                if c.state.status != Status::Created {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let c = self.wait_not_live(&c.id, Duration::from_secs(u64::MAX / 4))?;
        Ok(c.state.exit_code)
    }

    pub fn pause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "container {} is already paused",
                    c.id
                )))
            }
            _ => {
                return Err(Error::Conflict(format!(
                    "container {} is not running",
                    c.id
                )))
            }
        }
        self.runtime.pause(&c.id)?;
        self.store.update(&c.id, |c| c.state.set_paused())?;
        crate::events::container(self, &c, "pause", &[]);
        Ok(())
    }

    pub fn unpause(&self, key: &str) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("container {} is not paused", c.id)));
        }
        self.runtime.resume(&c.id)?;
        self.store.update(&c.id, |c| c.state.set_unpaused())?;
        crate::events::container(self, &c, "unpause", &[]);
        Ok(())
    }

    pub fn rename(&self, key: &str, new: &str) -> Result<()> {
        let c = self.find(key)?;
        if !names::valid_container_name(new) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if c.short_name() == new {
            return Err(Error::Conflict(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        self.store.rename(&c.id, new)?;
        let names = [("name", new.to_string()), ("oldName", c.name.clone())];
        crate::events::container(self, &c, "rename", &names);
        Ok(())
    }

    // ---------------------------------------------------------------- remove

    /// docker rm [-f] [-v].
    pub fn remove(&self, key: &str, force: bool, remove_volumes: bool) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status.is_live() {
            if !force {
                return Err(Error::Conflict(if c.state.status == Status::Paused {
                    format!("You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove", c.id)
                } else {
                    format!("You cannot remove a running container {}. Stop the container before attempting removal or force remove", c.id)
                }));
            }
            self.store.update(&c.id, |c| {
                c.internal.manually_stopped = true;
                c.internal.removing = true;
            })?;
            fault::point("rm.marked");
            let _ = self.runtime.kill(&c.id, Signal::SIGKILL, true);
            let _ = self.runtime.resume(&c.id);
            self.wait_not_live(&c.id, Duration::from_secs(30))?;
        }
        // the monitor records the exit before it unmounts and says goodbye to its clients: let
        // it finish, so nothing of the container outlives its removal
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.monitor_alive(&c.id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let c = self.store.get(&c.id)?.unwrap_or(c);
        self.destroy(&c, remove_volumes)
    }

    /// Remove every trace of a stopped container: runtime state, cgroup, rootfs, dirs, record.
    pub fn destroy(&self, c: &Container, remove_volumes: bool) -> Result<()> {
        if self.runtime.load(&c.id).is_ok() || self.runtime.root.join(&c.id).exists() {
            let _ = self.runtime.delete(&c.id, true);
        }
        if let Ok(m) = self.networks() {
            let _ = m.release_container(&c.id);
        }
        fault::point("destroy.runtime-deleted");
        self.unmount_rootfs(c);
        if let Ok(i) = self.images() {
            match i.remove_snapshot(&c.id) {
                Ok(()) => {}
                Err(image::Error::Snapshot(..)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _ = std::fs::remove_dir_all(self.monitor_dir(&c.id));
        let dir = self.container_dir(&c.id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).ctx(|| format!("remove {}", dir.display()))
            }
            _ => {}
        }
        fault::point("destroy.snapshot-removed");
        self.store.remove(&c.id)?;
        crate::events::container(self, c, "destroy", &[]);
        if remove_volumes {
            for v in &c.internal.anonymous_volumes {
                if let Err(e) = volumes::remove(&self.store, &self.root, v, true) {
                    // in use by another container: keep it, as docker does
                    if !matches!(e, Error::Conflict(_)) {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Replace a file whole (temp file + rename), without fsync: for files regenerated on every
/// start, where atomicity matters and durability does not.
fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
    Ok(runtime::util::write_replace(path, data, false)?)
}

fn validate_host_config(hc: &HostConfig) -> Result<()> {
    let rp = &hc.restart_policy;
    match rp.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if rp.maximum_retry_count != 0 {
                return Err(Error::Invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'".into()));
            }
        }
        "on-failure" => {
            if rp.maximum_retry_count < 0 {
                return Err(Error::Invalid(
                    "invalid restart policy: maximum retry count cannot be negative".into(),
                ));
            }
        }
        other => {
            return Err(Error::Invalid(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )))
        }
    }
    if hc.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
        return Err(Error::Invalid(
            "Conflicting options: --restart and --rm".into(),
        ));
    }
    match hc.log_config.kind.as_str() {
        "" | "json-file" | "none" => {}
        k => {
            return Err(Error::Invalid(format!(
                "logger: no log driver named '{k}' is registered"
            )))
        }
    }
    Ok(())
}

/// Signal names as docker accepts them: KILL, SIGKILL, kill, 9.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || Error::Invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

/// A static init for `--init` (docker ships tini as docker-init).
pub fn init_binary() -> Option<PathBuf> {
    [
        "/usr/bin/tini-static",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/docker-init",
        "/usr/local/bin/tini-static",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn swap_accounting() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
        || Path::new("/sys/fs/cgroup/memory.swap.max").exists()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .map(|s| s.contains("memory"))
            .unwrap_or(false)
}

impl crate::events::Journal for Engine {
    fn run_root(&self) -> &Path {
        &self.run_root
    }
}

impl crate::monitor::Host for Engine {
    fn root(&self) -> &Path {
        &self.root
    }

    fn monitor_dir(&self, id: &str) -> PathBuf {
        Engine::monitor_dir(self, id)
    }
}
