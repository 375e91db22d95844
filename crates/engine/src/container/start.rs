//! `docker start`: the bundle and /etc files are prepared and a monitor starts the process.

use crate::container::create::write_replace;
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::paths::cgroups_path_in;
use crate::spec::{MountSource, ResolvedMount, SpecContext};
use crate::types::Status;
use crate::types::{Container, Volume};
use crate::volumes;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Connects a monitor's first client, given the container id.
type ConnectFn<'a> = &'a mut dyn FnMut(&str) -> Result<()>;

impl Engine {
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
        let shared = self.shared_namespaces(c)?;
        let linked = crate::net::links::resolve(self, c)?;
        // `--network container:X`: X's hostname, hosts and resolv.conf, as dockerd (which
        // shows them in inspect from the start on)
        let joined;
        let c = match &shared.net_donor {
            Some(o) => {
                joined = self.store.update(&c.id, |c| {
                    c.config.hostname = o.config.hostname.clone();
                    c.config.domainname = o.config.domainname.clone();
                    c.hostname_path = o.hostname_path.clone();
                    c.hosts_path = o.hosts_path.clone();
                    c.resolv_conf_path = o.resolv_conf_path.clone();
                })?;
                &joined
            }
            None => {
                self.write_etc_files(c, &dir, &crate::net::links::hosts(&linked))?;
                c
            }
        };
        for (src, dst) in [
            (&c.hostname_path, "/etc/hostname"),
            (&c.hosts_path, "/etc/hosts"),
            (&c.resolv_conf_path, "/etc/resolv.conf"),
        ] {
            if c.mounts.iter().any(|m| m.destination == dst) {
                continue;
            }
            mounts.push(ResolvedMount {
                destination: dst.into(),
                source: MountSource::Bind(PathBuf::from(src)),
                readonly: c.host_config.readonly_rootfs,
                options: vec![],
            });
        }
        let ctx = SpecContext {
            rootfs: rootfs.clone(),
            mounts,
            cgroups_path: rootless_cgroups_path(&c.id)
                .unwrap_or_else(|| cgroups_path_in(&c.host_config.cgroup_parent, &c.id)),
            init_binary: init_binary(),
            join_netns: shared.net,
            join_pidns: shared.pid,
            join_ipcns: shared.ipc,
            shm: shared.shm,
        };
        if c.host_config.init == Some(true) && ctx.init_binary.is_none() {
            return Err(Error::Invalid(
                "--init: no init binary found (install tini: /usr/bin/tini-static)".into(),
            ));
        }
        // link variables come before the container's own, which override them (as dockerd)
        let with_links;
        let c = if linked.is_empty() {
            c
        } else {
            let mut l = c.clone();
            l.config.env = [crate::net::links::env(&linked), l.config.env].concat();
            with_links = l;
            &with_links
        };
        let (spec, _warnings) = crate::spec::generate(c, &ctx)?;
        crate::spec::check_bind_sources(&spec)?;
        let json = serde_json::to_vec(&spec)?;
        write_replace(&dir.join("config.json"), &json)?;
        let rootfs_s = rootfs.to_string_lossy().into_owned();
        if rootfs_s != c.internal.rootfs {
            self.store
                .update(&c.id, |c| c.internal.rootfs = rootfs_s.clone())?;
        }
        Ok(())
    }

    /// `links`: the /etc/hosts lines of its legacy links.
    fn write_etc_files(&self, c: &Container, dir: &Path, links: &str) -> Result<()> {
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
            h.push_str(links);
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
        let c = self.find_reconciled(key)?;
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
        // a restart right after a stop: the last run's monitor may still be finishing up (the
        // record already says exited); its successor cannot take the lock before it is gone
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.monitor_alive(&c.id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        fault::mark("start.prepare");
        if let Err(e) = self.prepare(&c) {
            // as dockerd: a --rm container that cannot start is removed (a client waiting
            // for its removal would wait forever)
            if c.host_config.auto_remove {
                let _ = self.destroy(&c, true);
            }
            return Err(e);
        }
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
        // a --rm container may have run and been removed already: it did start
        Ok(self.store.get(&c.id)?.unwrap_or(c))
    }
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

/// A rootless container's cgroup: in the user's delegated cgroup v2 subtree when there is one
/// (its limits were checked at create), else none of berth's choosing.
fn rootless_cgroups_path(id: &str) -> Option<String> {
    crate::paths::rootless_uid()?;
    let parent = crate::spec::rootless_cgroup_parent(&Default::default()).ok()?;
    Some(format!(
        "{}/berth/{id}",
        parent.display().to_string().trim_end_matches('/')
    ))
}
