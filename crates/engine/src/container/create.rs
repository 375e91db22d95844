//! `docker create`: a container's record, name, mounts and writable layer.

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::now;
use crate::types::{Config, Container, GraphDriver, HostConfig, MountPoint, State};
use crate::{names, volumes};
use std::collections::BTreeMap;
use std::path::Path;

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
    /// the rest of the first network's endpoint: `--ip6`, `--link-local-ip`, its links
    /// (its aliases and ip are the two fields above)
    pub endpoint: crate::net::EndpointSpec,
    /// a layer nobody keeps once the container is gone (a build step's, committed or thrown
    /// away by the builder): no syncs for it, as for `--rm` (overlayfs `volatile`)
    pub throwaway_layer: bool,
}

impl Engine {
    pub fn create(&self, req: CreateRequest) -> Result<(Container, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut hc = req.host_config;
        validate_host_config(&hc)?;
        crate::container::shared_ns::check_container_network(&req.config, &hc)?;
        crate::spec::refuse_rootless_limits(&hc)?;
        hc.runtime = self.runtime.registry()?.resolve(&hc.runtime)?;
        crate::spec::adapt_host_config(&mut hc);
        crate::logs::validate_opts(&hc.log_config.config)?;
        if let Some(n) = &req.name {
            self.check_new_name(n)?;
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
        if let Some(links) = hc.links.take().filter(|l| !l.is_empty()) {
            hc.links = Some(crate::net::links::normalize(self, &name, &links)?);
        }
        let mut cfg = req.config.clone();
        let user_entrypoint = cfg.entrypoint.take();
        let user_cmd = cfg.cmd.take();
        crate::spec::merge_image_config(&mut cfg, &img.config, user_entrypoint, user_cmd);
        if cfg.hostname.is_empty() {
            cfg.hostname = default_hostname(&hc, &id);
        }
        let (path, args) = crate::spec::path_and_args(&cfg)?;
        self.check_shared_namespaces(&hc)?;
        let spec = crate::net::EndpointSpec {
            aliases: req.network_aliases.clone(),
            ip: req.ip.clone(),
            // checked here, applied when the first network is plugged
            mac: Some(req.config.mac_address.clone()).filter(|m| !m.is_empty()),
            ..req.endpoint.clone()
        };
        let network_settings = crate::net::initial_settings(self, &hc.network_mode, &spec)?;
        // after the network settings, which read the mode as given
        warnings.extend(apply_defaults(&mut hc));

        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let mut created_volumes = Vec::new();
        let result = (|| -> Result<Container> {
            let mounts = self.resolve_mounts(&cfg, &hc, &mut created_volumes)?;
            // a --rm container's layer is thrown away: no syncs for it (overlayfs `volatile`)
            let (rootfs, kind) = images.create_snapshot_opts(
                &id,
                &img.record.manifest.to_string(),
                hc.auto_remove || req.throwaway_layer,
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
            c.internal.image_ref = req.config.image.clone();
            c.internal.rootfs = rootfs.to_string_lossy().into_owned();
            c.internal.bundle = dir.to_string_lossy().into_owned();
            c.internal.anonymous_volumes = created_volumes
                .iter()
                .filter(|(_, anon)| *anon)
                .map(|(n, _)| n.clone())
                .collect();
            self.insert_record(&mut c, generated)?;
            fault::point("create.recorded");
            crate::events::container(self, &c, "create", &[]);
            Ok(c)
        })();
        match result {
            Ok(c) => Ok((c, warnings)),
            Err(e) => {
                self.undo_create(&id, &created_volumes, &dir);
                Err(e)
            }
        }
    }

    /// A namespace shared with another container names one that exists (dockerd: 400, which
    /// clients do not take for a missing image).
    fn check_shared_namespaces(&self, hc: &HostConfig) -> Result<()> {
        for mode in [&hc.ipc_mode, &hc.pid_mode] {
            if let Some(other) = mode.strip_prefix("container:") {
                if let Err(Error::NoSuchContainer(_)) = self.find(other) {
                    return Err(Error::Invalid(format!("No such container: {other}")));
                }
            }
        }
        Ok(())
    }

    /// Store a new container. A generated name another create took meanwhile is replaced by
    /// the next free one (the insert checks names in its transaction).
    fn insert_record(&self, c: &mut Container, generated: bool) -> Result<()> {
        loop {
            match self.store.insert(c) {
                Err(Error::NameInUse { .. }) if generated => {
                    let n = names::generate(&mut |n| self.store.name_taken(n).unwrap_or(true));
                    c.name = format!("/{n}");
                }
                r => return r,
            }
        }
    }

    /// A name given to create must be valid and free.
    fn check_new_name(&self, n: &str) -> Result<()> {
        if !names::valid_container_name(n) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if let Some(other) = self.store.find(n).ok().filter(|c| c.short_name() == n) {
            return Err(Error::NameInUse {
                name: n.to_string(),
                id: other.id,
            });
        }
        Ok(())
    }

    /// A create that failed after its directory was made leaves nothing behind: snapshot,
    /// volumes it created and the directory go.
    fn undo_create(&self, id: &str, created_volumes: &[(String, bool)], dir: &Path) {
        if let Ok(i) = self.images() {
            let _ = i.remove_snapshot(id);
        }
        for (v, _) in created_volumes {
            let _ = volumes::remove(&self.store, &self.root, v, true);
        }
        let _ = std::fs::remove_dir_all(dir);
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
        for m in self.volumes_from(hc)? {
            // the container's own -v and --mount win over what it takes from others
            if !out.iter().any(|o| o.destination == m.destination) {
                out.push(m);
            }
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
}

impl Engine {
    /// `--volumes-from NAME[:ro|:rw]`: the other container's volumes and binds (its tmpfs
    /// mounts stay its own), read-only with `:ro`, else in their own mode.
    fn volumes_from(&self, hc: &HostConfig) -> Result<Vec<MountPoint>> {
        let mut out = Vec::new();
        for spec in &hc.volumes_from {
            let (name, mode) = match spec.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m)),
                Some((_, m)) => {
                    return Err(Error::Invalid(format!(
                        "invalid mode for volumes-from: {m}"
                    )))
                }
                None => (spec.as_str(), None),
            };
            let other = self.find(name)?;
            for m in other.mounts.into_iter().filter(|m| m.kind != "tmpfs") {
                let mut m = m;
                match mode {
                    Some("ro") => m.rw = false,
                    Some(_) => m.rw = true,
                    None => {}
                }
                if !out
                    .iter()
                    .any(|o: &MountPoint| o.destination == m.destination)
                {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }
}

/// Replace a file whole (temp file + rename), without fsync: for files regenerated on every
/// start, where atomicity matters and durability does not.
pub(crate) fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
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

/// A container's hostname when none is given: the host's with the host network, else the
/// short id.
fn default_hostname(hc: &HostConfig, id: &str) -> String {
    if hc.network_mode == "host" {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        id[..12].to_string()
    }
}

/// docker's defaults of what the request left empty, as inspect shows them; the warnings
/// docker gives for the settings.
fn apply_defaults(hc: &mut HostConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if hc.log_config.kind.is_empty() {
        hc.log_config.kind = "json-file".into();
    }
    if hc.network_mode.is_empty() {
        hc.network_mode = "bridge".into();
    }
    if hc.cgroupns_mode.is_empty() {
        // dockerd's default-cgroupns-mode: private on a cgroup v2 host, host on v1
        hc.cgroupns_mode = match cgroups::pure_v2_host() {
            true => "private".into(),
            false => "host".into(),
        };
    }
    if hc.memory > 0 && hc.memory_swap == 0 && !cgroups::swap_accounting() {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
    }
    warnings
}
