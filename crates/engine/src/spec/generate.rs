//! The whole spec from a container record: namespaces, process, mounts and `linux`.

use super::image::{path_and_args, process_env};
use super::mounts::{bind_mount, clean_path, mount, tmpfs_mount, validate_mount_destination};
use super::resources::{
    default_device_rules, device_cgroup_rule, host_devices, resources, rlimits,
};
use super::security::{
    capabilities, check_sysctls, parse_security_opts, seccomp_profile, SecurityOpts,
};
use super::user::resolve_user;
use super::{MountSource, SpecContext, DEFAULT_SHM_SIZE, INIT_PATH, MASKED_PATHS, READONLY_PATHS};
use crate::error::{Error, Result};
use crate::types::{Container, HostConfig};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn container_mode(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// The OCI spec dockerd would hand runc for this container, and warnings for the user.
///
/// The command is the record's Path/Args (from [`path_and_args`] when Path is empty). Bad flag
/// values fail with [`Error::Invalid`] worded as docker words them. `--network`/`--pid`/`--ipc`
/// `container:X` join the namespaces whose paths the context gives.
pub fn generate(c: &Container, ctx: &SpecContext) -> Result<(Spec, Vec<String>)> {
    let hc = &c.host_config;
    let cfg = &c.config;
    let mut warnings = Vec::new();

    let sec = parse_security_opts(&hc.security_opt)?;
    let apparmor = lsm_profile(&sec)?;
    let ns = namespaces(hc, ctx)?;
    check_sysctls(hc, ns.host_net, ns.host_ipc, ns.host_uts)?;
    let (mut process, caps) = process(c, ctx, &sec)?;
    let (mounts, propagation) = mounts(hc, ctx, &sec)?;
    let linux = linux(hc, ctx, &sec, &ns, &caps, propagation, &mut warnings)?;

    if let Some(a) = apparmor {
        process["apparmorProfile"] = json!(a);
    }
    let mut spec = json!({
        "ociVersion": oci_spec::runtime::VERSION,
        "process": process,
        "root": {"path": ctx.rootfs, "readonly": hc.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    });
    if let Some(a) = hc.annotations.as_ref().filter(|a| !a.is_empty()) {
        spec["annotations"] = json!(a);
    }
    if !ns.host_uts {
        if !cfg.hostname.is_empty() {
            spec["hostname"] = json!(cfg.hostname);
        }
        if !cfg.domainname.is_empty() {
            spec["domainname"] = json!(cfg.domainname);
        }
    }
    let spec: Spec = serde_json::from_value(spec)
        .map_err(|e| Error::Other(format!("generated OCI spec is invalid: {e}")))?;
    Ok((spec, warnings))
}

/// The AppArmor profile to ask for. A confinement the host cannot apply is refused, never
/// dropped. By default (as docker on a host without AppArmor) the spec asks for no profile.
fn lsm_profile(sec: &SecurityOpts) -> Result<Option<&str>> {
    let apparmor = match sec.apparmor.as_deref() {
        None | Some("unconfined") => None,
        Some(a) if runtime::lsm::apparmor_enabled() => Some(a),
        Some(a) => {
            return Err(Error::Invalid(format!(
                "--security-opt apparmor={a}: AppArmor is not enabled on this host \
                 (leave the option out, or use apparmor=unconfined)"
            )))
        }
    };
    if let Some(l) = sec.labels.iter().find(|l| *l != "disable") {
        return Err(Error::Invalid(format!(
            "--security-opt label={l}: berth does not apply SELinux labels \
             (leave the option out, or use label=disable)"
        )));
    }
    Ok(apparmor)
}

/// The namespaces the container gets, and which of the host's it shares.
struct Namespaces {
    list: Vec<Value>,
    host_net: bool,
    host_ipc: bool,
    host_uts: bool,
}

fn namespaces(hc: &HostConfig, ctx: &SpecContext) -> Result<Namespaces> {
    let host_net = hc.network_mode == "host";
    let host_pid = hc.pid_mode == "host";
    let host_ipc = hc.ipc_mode == "host";
    let host_uts = hc.uts_mode == "host";
    // the path of a namespace joined from another container (`container:X`), found running
    // by the caller
    let joined =
        |mode: &str, path: &Option<std::path::PathBuf>, what: &str| match container_mode(mode) {
            None => Ok(None),
            Some(x) => path.clone().map(Some).ok_or_else(|| {
                Error::Invalid(format!(
                    "cannot join {what} of a non running container: {x}"
                ))
            }),
        };
    let join_pid = joined(&hc.pid_mode, &ctx.join_pidns, "PID")?;
    let join_ipc = joined(&hc.ipc_mode, &ctx.join_ipcns, "IPC")?;
    if join_pid.is_none() && !hc.pid_mode.is_empty() && !host_pid {
        return Err(Error::Invalid(format!("invalid PID mode: {}", hc.pid_mode)));
    }
    match hc.ipc_mode.as_str() {
        "" | "private" | "shareable" | "host" | "none" => {}
        _ if join_ipc.is_some() => {}
        m => return Err(Error::Invalid(format!("invalid IPC mode: {m}"))),
    }
    if !hc.uts_mode.is_empty() && !host_uts {
        return Err(Error::Invalid(format!("invalid UTS mode: {}", hc.uts_mode)));
    }
    let mut list = vec![json!({"type": "mount"})];
    if let Some(x) = container_mode(&hc.network_mode) {
        let path = ctx.join_netns.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "cannot join network of a non running container: {x}"
            ))
        })?;
        list.push(json!({"type": "network", "path": path}));
    } else if !host_net {
        list.push(json!({"type": "network"}));
    }
    if !host_uts {
        list.push(json!({"type": "uts"}));
    }
    match join_pid {
        Some(path) => list.push(json!({"type": "pid", "path": path})),
        None if !host_pid => list.push(json!({"type": "pid"})),
        None => {}
    }
    match join_ipc {
        Some(path) => list.push(json!({"type": "ipc", "path": path})),
        None if !host_ipc => list.push(json!({"type": "ipc"})),
        None => {}
    }
    match hc.cgroupns_mode.as_str() {
        "" | "host" => {}
        "private" => list.push(json!({"type": "cgroup"})),
        m => {
            return Err(Error::Invalid(format!(
                "invalid cgroup namespace mode: {m}"
            )))
        }
    }
    if !matches!(hc.isolation.as_str(), "" | "default") {
        return Err(Error::Invalid(format!(
            "invalid isolation: {}: Linux containers only have 'default'",
            hc.isolation
        )));
    }
    Ok(Namespaces {
        list,
        host_net,
        host_ipc,
        host_uts,
    })
}

/// The spec's `process` and the capabilities it was given.
fn process(c: &Container, ctx: &SpecContext, sec: &SecurityOpts) -> Result<(Value, Vec<String>)> {
    let hc = &c.host_config;
    let cfg = &c.config;
    let (path, args) = if c.path.is_empty() {
        path_and_args(cfg)?
    } else {
        (c.path.clone(), c.args.clone())
    };
    let mut argv = Vec::new();
    if hc.init.unwrap_or(false) {
        if ctx.init_binary.is_none() {
            return Err(Error::Invalid(
                "--init: no init binary found (install tini-static or docker-init)".into(),
            ));
        }
        argv.push(INIT_PATH.to_string());
        argv.push("--".to_string());
    }
    argv.push(path);
    argv.extend(args);

    let cwd = if cfg.working_dir.is_empty() {
        "/".to_string()
    } else if !cfg.working_dir.starts_with('/') {
        return Err(Error::Invalid(format!(
            "the working directory '{}' is invalid, it needs to be an absolute path",
            cfg.working_dir
        )));
    } else {
        clean_path(&cfg.working_dir)
    };
    let (uid, gid, additional_gids) = resolve_user(&ctx.rootfs, &cfg.user, &hc.group_add)?;
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return Err(Error::Invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        )));
    }
    let caps = capabilities(hc)?;
    let mut user = json!({"uid": uid, "gid": gid});
    if !additional_gids.is_empty() {
        user["additionalGids"] = json!(additional_gids);
    }
    let process = json!({
        "terminal": cfg.tty,
        "user": user,
        "args": argv,
        "env": process_env(c),
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits(hc)?,
        "noNewPrivileges": sec.no_new_privileges,
        "oomScoreAdj": hc.oom_score_adj,
    });
    Ok((process, caps))
}

/// docker's default mounts, minus those a user mount replaces, then the user's by depth (and
/// the init binary); with the rootfs propagation a shared or slave user mount asks for.
fn mounts(
    hc: &HostConfig,
    ctx: &SpecContext,
    sec: &SecurityOpts,
) -> Result<(Vec<Value>, Option<&'static str>)> {
    if hc.shm_size < 0 {
        return Err(Error::Invalid("SHM size can not be less than 0".into()));
    }
    let user_mounts = user_mounts(hc, ctx)?;
    let user_dests: BTreeSet<&str> = user_mounts.iter().map(|(d, _)| d.as_str()).collect();
    let mount_dev = user_dests.contains("/dev");
    let mut mounts: Vec<Value> = default_mounts(hc, sec, ctx.shm.as_deref())
        .into_iter()
        .filter(|m| {
            let d = m["destination"].as_str().unwrap_or("");
            let replaced = user_dests.contains(d) || (mount_dev && d.starts_with("/dev/"));
            !replaced
        })
        .collect();
    let mut propagation = None;
    for (_, m) in &user_mounts {
        for o in m["options"].as_array().into_iter().flatten() {
            match o.as_str() {
                Some("shared") | Some("rshared") => propagation = Some("rshared"),
                Some("slave") | Some("rslave") if propagation.is_none() => {
                    propagation = Some("rslave")
                }
                _ => {}
            }
        }
    }
    mounts.extend(user_mounts.into_iter().map(|(_, m)| m));
    if let (true, Some(bin)) = (hc.init.unwrap_or(false), &ctx.init_binary) {
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": bin, "options": ["bind", "ro"]}));
    }
    Ok((mounts, propagation))
}

/// `--tmpfs` and the caller's resolved mounts, keyed by their clean destination, parents
/// before children.
fn user_mounts(hc: &HostConfig, ctx: &SpecContext) -> Result<Vec<(String, Value)>> {
    let mut user_mounts: Vec<(String, Value)> = Vec::new();
    for (dest, opts) in &hc.tmpfs {
        validate_mount_destination(dest, "tmpfs")?;
        let opts: Vec<String> = if opts.is_empty() {
            vec![]
        } else {
            vec![opts.clone()]
        };
        user_mounts.push((clean_path(dest), tmpfs_mount(dest, &opts, false, &[])?));
    }
    for m in &ctx.mounts {
        let v = match &m.source {
            MountSource::Bind(src) => bind_mount(&m.destination, src, m.readonly, &m.options),
            MountSource::Tmpfs { options } => {
                tmpfs_mount(&m.destination, options, m.readonly, &m.options)?
            }
        };
        user_mounts.push((clean_path(&m.destination), v));
    }
    // parents before children; stable, so equal depths keep their order
    user_mounts.sort_by_key(|(d, _)| d.matches('/').count());
    Ok(user_mounts)
}

/// docker's default mounts: /proc, /dev, /dev/pts, /sys, cgroups, mqueue and /dev/shm.
/// `shm`: the host tmpfs to bind at /dev/shm (shareable IPC, or joined).
fn default_mounts(hc: &HostConfig, sec: &SecurityOpts, shm: Option<&Path>) -> Vec<Value> {
    let cgroup_ro = if hc.privileged || sec.writable_cgroups {
        "rw"
    } else {
        "ro"
    };
    let sys_ro = if hc.privileged { "rw" } else { "ro" };
    let shm_size = if hc.shm_size == 0 {
        DEFAULT_SHM_SIZE
    } else {
        hc.shm_size
    };
    let shm_size_opt = format!("size={shm_size}");
    let mut defaults = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_ro],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", cgroup_ro],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ];
    match hc.ipc_mode.as_str() {
        "none" => {}
        _ if shm.is_some() => defaults.push(mount(
            "/dev/shm",
            "bind",
            &shm.map(|p| p.to_string_lossy()).unwrap_or_default(),
            &["rbind", "rprivate"],
        )),
        "host" => defaults.push(mount(
            "/dev/shm",
            "bind",
            "/dev/shm",
            &["rbind", "rprivate"],
        )),
        _ => defaults.push(mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size_opt],
        )),
    }
    defaults
}

/// The spec's `linux`: namespaces, cgroup resources and devices, masked paths, sysctls,
/// propagation and seccomp.
fn linux(
    hc: &HostConfig,
    ctx: &SpecContext,
    sec: &SecurityOpts,
    ns: &Namespaces,
    caps: &[String],
    propagation: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Value> {
    let mut res = resources(hc, warnings)?;
    let mut linux = json!({
        "namespaces": ns.list,
        "cgroupsPath": ctx.cgroups_path,
    });
    if hc.privileged {
        res.insert("devices".into(), json!([{"allow": true, "access": "rwm"}]));
        linux["devices"] = json!(host_devices(Path::new("/dev")));
    } else {
        let mut rules = default_device_rules();
        for r in &hc.device_cgroup_rules {
            rules.push(device_cgroup_rule(r)?);
        }
        let (nodes, allowed) = super::devices::devices(hc)?;
        rules.extend(allowed);
        if !nodes.is_empty() {
            linux["devices"] = json!(nodes);
        }
        res.insert("devices".into(), json!(rules));
        if !sec.unmask_system_paths {
            linux["maskedPaths"] = json!(MASKED_PATHS);
            linux["readonlyPaths"] = json!(READONLY_PATHS);
        }
    }
    if let Some(b) = super::devices::block_io(hc)? {
        res.insert("blockIO".into(), b);
    }
    linux["resources"] = Value::Object(res);
    let mut sysctls = hc.sysctls.clone();
    if !ns.host_net {
        // dockerd's defaults in a container's own network namespace: binding low ports and
        // ICMP sockets need no capability there (the namespace has no host ports to take)
        sysctls
            .entry("net.ipv4.ip_unprivileged_port_start".into())
            .or_insert_with(|| "0".into());
        // in a rootless engine's user namespace the range must be gids mapped there
        let gids = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
        let last = runtime::util::last_id_mapped_from_zero(&gids).unwrap_or(2_147_483_647);
        sysctls
            .entry("net.ipv4.ping_group_range".into())
            .or_insert_with(|| format!("0 {last}"));
    }
    if !sysctls.is_empty() {
        linux["sysctl"] = json!(sysctls);
    }
    if let Some(p) = propagation {
        linux["rootfsPropagation"] = json!(p);
    }
    if !hc.privileged {
        if let Some(profile) = seccomp_profile(sec.seccomp.as_deref(), caps)? {
            linux["seccomp"] = serde_json::to_value(profile)?;
        }
    }
    Ok(linux)
}
