//! From a container record to the OCI runtime spec the runtime runs, with dockerd's semantics:
//! the create-time merge of the image config, the default spec (capabilities, mounts, masked
//! paths, device rules, seccomp) and what each `docker run` flag changes in it.
//!
//! The spec is assembled as JSON in the runtime-spec's own field names and then parsed into
//! [`oci_spec::runtime::Spec`], so what we write reads like a config.json and the parse checks it.

use crate::error::{Error, Result};
use crate::types::{Config, Container, HealthConfig, HostConfig};
use oci_spec::runtime::Spec;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The PATH every container gets unless its environment sets one (docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// docker's default `--shm-size`.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;
/// Where `--init` puts the init binary inside the container.
pub const INIT_PATH: &str = "/sbin/docker-init";
/// docker's smallest memory limit and reservation.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
const MIN_CPU_SHARES: i64 = 2;
const MAX_CPU_SHARES: i64 = 262_144;
const MAX_ID: u64 = 2_147_483_647;

/// Paths docker hides from unprivileged containers.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only in unprivileged containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Options docker gives every tmpfs it mounts for `--tmpfs` / `--mount type=tmpfs`.
const TMPFS_DEFAULTS: &[&str] = &["noexec", "nosuid", "nodev", "rprivate"];

// ---------------------------------------------------------------------------------------------
// image config merge, Path/Args
// ---------------------------------------------------------------------------------------------

fn str_list(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

fn str_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map(|(k, _)| k).unwrap_or(e)
}

/// docker's create-time merge of the image config into the container Config: Env (image first,
/// user's override by key), Cmd/Entrypoint (if the user set an entrypoint -- even an empty one,
/// `--entrypoint ""` -- the image Cmd is dropped unless the user gave a cmd; if the user gave a
/// cmd it replaces the image's), WorkingDir, User, StopSignal, Healthcheck, Volumes,
/// ExposedPorts, Labels (image's, then user's).
///
/// `image_config` is the image config document (`{"config": {...}}`); a bare `config` object is
/// accepted too. `user_entrypoint`/`user_cmd` default to what `cfg` already holds (an API create
/// sends them inside Config).
///
/// Env keeps dockerd's order: the user's variables first, then the image's whose names the user
/// did not set (what `docker inspect` shows); the user's value wins for a name set by both.
pub fn merge_image_config(
    cfg: &mut Config,
    image_config: &Value,
    user_entrypoint: Option<Vec<String>>,
    user_cmd: Option<Vec<String>>,
) {
    let img = match image_config.get("config") {
        Some(c) if c.is_object() => c,
        _ => image_config,
    };
    let user_entrypoint = user_entrypoint.or_else(|| cfg.entrypoint.take());
    let user_cmd = user_cmd
        .or_else(|| cfg.cmd.take())
        .filter(|c| !c.is_empty());

    // Entrypoint and Cmd.
    match user_entrypoint {
        Some(ep) => {
            cfg.entrypoint = Some(ep);
            cfg.cmd = user_cmd;
        }
        None => {
            cfg.entrypoint = str_list(img.get("Entrypoint")).filter(|e| !e.is_empty());
            cfg.cmd = user_cmd.or_else(|| str_list(img.get("Cmd")).filter(|c| !c.is_empty()));
        }
    }

    // Env: image variables the user did not set are appended.
    let image_env = str_list(img.get("Env")).unwrap_or_default();
    if cfg.env.is_empty() {
        cfg.env = image_env;
    } else {
        for e in image_env {
            if !cfg.env.iter().any(|u| env_key(u) == env_key(&e)) {
                cfg.env.push(e);
            }
        }
    }

    if cfg.working_dir.is_empty() {
        if let Some(w) = str_of(img.get("WorkingDir")) {
            cfg.working_dir = w;
        }
    }
    if cfg.user.is_empty() {
        if let Some(u) = str_of(img.get("User")) {
            cfg.user = u;
        }
    }
    if cfg.stop_signal.as_deref().unwrap_or("").is_empty() {
        if let Some(s) = str_of(img.get("StopSignal")) {
            cfg.stop_signal = Some(s);
        }
    }

    // Healthcheck: the user's, with unset fields taken from the image's.
    let image_hc: Option<HealthConfig> = img
        .get("Healthcheck")
        .filter(|h| h.is_object())
        .and_then(|h| serde_json::from_value(h.clone()).ok());
    match (&mut cfg.healthcheck, image_hc) {
        (None, Some(ih)) => cfg.healthcheck = Some(ih),
        (Some(uh), Some(ih)) => {
            if uh.test.is_empty() {
                uh.test = ih.test;
            }
            if uh.interval == 0 {
                uh.interval = ih.interval;
            }
            if uh.timeout == 0 {
                uh.timeout = ih.timeout;
            }
            if uh.start_period == 0 {
                uh.start_period = ih.start_period;
            }
            if uh.start_interval == 0 {
                uh.start_interval = ih.start_interval;
            }
            if uh.retries == 0 {
                uh.retries = ih.retries;
            }
        }
        _ => {}
    }

    // Volumes and ExposedPorts: union.
    let union = |dst: &mut Option<BTreeMap<String, Value>>, src: Option<&Value>| {
        if let Some(m) = src.and_then(Value::as_object).filter(|m| !m.is_empty()) {
            let d = dst.get_or_insert_with(BTreeMap::new);
            for k in m.keys() {
                d.entry(k.clone()).or_insert_with(|| json!({}));
            }
        }
    };
    union(&mut cfg.volumes, img.get("Volumes"));
    union(&mut cfg.exposed_ports, img.get("ExposedPorts"));

    // Labels: the image's unless the user set the same key.
    if let Some(m) = img.get("Labels").and_then(Value::as_object) {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                cfg.labels.entry(k.clone()).or_insert_with(|| v.to_string());
            }
        }
    }
}

/// The entrypoint without docker's "reset" marker (`--entrypoint ""` sends `[""]`).
fn effective_entrypoint(cfg: &Config) -> Vec<String> {
    match cfg.entrypoint.as_deref() {
        None => vec![],
        Some([only]) if only.is_empty() => vec![],
        Some(e) => e.to_vec(),
    }
}

/// Path and Args as docker's inspect shows them (entrypoint + cmd); error like docker's "no
/// command specified" when both are empty.
pub fn path_and_args(cfg: &Config) -> Result<(String, Vec<String>)> {
    let ep = effective_entrypoint(cfg);
    let cmd = cfg.cmd.clone().unwrap_or_default();
    let mut all = ep.into_iter().chain(cmd);
    match all.next() {
        Some(path) => Ok((path, all.collect())),
        None => Err(Error::Invalid("no command specified".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// create-time defaults
// ---------------------------------------------------------------------------------------------

/// dockerd's create-time adjustments of HostConfig, so `inspect` shows what the container gets:
/// MemorySwap defaults to twice Memory, ShmSize to 64 MiB, a PidsLimit of 0 or less means none.
pub fn adapt_host_config(hc: &mut HostConfig) {
    if hc.memory > 0 && hc.memory_swap == 0 {
        hc.memory_swap = hc.memory * 2;
    }
    if hc.shm_size == 0 {
        hc.shm_size = DEFAULT_SHM_SIZE;
    }
    if hc.pids_limit.is_some_and(|p| p <= 0) {
        hc.pids_limit = None;
    }
}

// ---------------------------------------------------------------------------------------------
// mounts handed in by the caller
// ---------------------------------------------------------------------------------------------

/// Where a resolved mount's content comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MountSource {
    /// a host path (volume mountpoint, bind source, generated /etc/hosts, ...)
    Bind(PathBuf),
    /// a fresh tmpfs with these options (`size=`, `mode=`, ...)
    Tmpfs { options: Vec<String> },
}

/// A mount whose source is known on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedMount {
    pub destination: String,
    pub source: MountSource,
    pub readonly: bool,
    /// extra options, e.g. a propagation mode (`rshared`) or `bind` for a non-recursive bind
    pub options: Vec<String>,
}

/// What the caller knows about the container's host side.
#[derive(Clone, Debug, Default)]
pub struct SpecContext {
    /// absolute host path of the mounted rootfs (user lookup reads its /etc/passwd, /etc/group)
    pub rootfs: PathBuf,
    /// volumes, binds and generated /etc/hosts,/etc/hostname,/etc/resolv.conf already resolved
    /// to host paths; `HostConfig.Tmpfs` entries are added by [`generate`]
    pub mounts: Vec<ResolvedMount>,
    /// e.g. "/berth/<id>"
    pub cgroups_path: String,
    /// host path of a static init (tini-static) for `--init`
    pub init_binary: Option<PathBuf>,
    /// `--network container:X` -> /proc/<pid>/ns/net
    pub join_netns: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------------------
// security options
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct SecurityOpts {
    no_new_privileges: bool,
    /// "unconfined", "builtin", a file path or an inline JSON profile
    seccomp: Option<String>,
    apparmor: Option<String>,
    labels: Vec<String>,
    unmask_system_paths: bool,
    writable_cgroups: bool,
}

/// Go's strconv.ParseBool.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut s = SecurityOpts::default();
    let invalid = |opt: &str| Error::Invalid(format!("invalid --security-opt: {opt:?}"));
    for opt in opts {
        if opt == "no-new-privileges" {
            s.no_new_privileges = true;
            continue;
        }
        if opt == "disable" {
            s.labels.push("disable".into());
            continue;
        }
        // docker's separator is `=`; the older `:` is still accepted. The first one splits, so
        // `seccomp=/a:b` and `no-new-privileges:true` both work.
        let (k, v) = match opt.find(['=', ':']) {
            Some(i) => (&opt[..i], &opt[i + 1..]),
            None => return Err(invalid(opt)),
        };
        match k {
            "label" => s.labels.push(v.to_string()),
            "apparmor" => s.apparmor = Some(v.to_string()),
            "seccomp" => s.seccomp = Some(v.to_string()),
            "no-new-privileges" => {
                s.no_new_privileges = parse_bool(v).ok_or_else(|| invalid(opt))?;
            }
            "writable-cgroups" => {
                s.writable_cgroups = parse_bool(v).ok_or_else(|| invalid(opt))?;
            }
            "systempaths" if v == "unconfined" => s.unmask_system_paths = true,
            _ => return Err(invalid(opt)),
        }
    }
    Ok(s)
}

fn seccomp_profile(
    value: Option<&str>,
    caps: &[String],
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    match value {
        Some("unconfined") => Ok(None),
        None | Some("") | Some("builtin") => Ok(Some(seccomp::default_profile(caps))),
        // the docker CLI sends the file's content inline
        Some(inline) if inline.trim_start().starts_with('{') => seccomp::parse_profile(inline)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("decoding seccomp profile failed: {e}"))),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Invalid(format!("opening seccomp profile ({path}) failed: {e}"))
            })?;
            seccomp::parse_profile(&text)
                .map(Some)
                .map_err(|e| Error::Invalid(format!("decoding seccomp profile {path} failed: {e}")))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------------------

fn normalize_caps(list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let u = c.trim().to_ascii_uppercase();
        if u == "ALL" {
            out.push(u);
            continue;
        }
        let full = if u.starts_with("CAP_") {
            u
        } else {
            format!("CAP_{u}")
        };
        if !runtime::spec::KNOWN_CAPS.contains(&full.as_str()) {
            return Err(Error::Invalid(format!("unknown capability: {full:?}")));
        }
        out.push(full);
    }
    Ok(out)
}

fn all_caps() -> Vec<String> {
    runtime::spec::KNOWN_CAPS
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// docker's capability list: the 14 defaults, minus `--cap-drop`, plus `--cap-add`; `ALL` in
/// cap-add means every capability (minus the dropped ones), in cap-drop only the added ones.
pub fn capabilities(hc: &HostConfig) -> Result<Vec<String>> {
    let adds = normalize_caps(&hc.cap_add)?;
    let drops = normalize_caps(&hc.cap_drop)?;
    if hc.privileged {
        return Ok(all_caps());
    }
    let defaults: Vec<String> = seccomp::DOCKER_DEFAULT_CAPS
        .iter()
        .map(|c| c.to_string())
        .collect();
    let has_all = |l: &[String]| l.iter().any(|c| c == "ALL");
    let mut caps: Vec<String> = if has_all(&adds) {
        all_caps()
            .into_iter()
            .filter(|c| !drops.contains(c))
            .collect()
    } else if has_all(&drops) {
        adds
    } else {
        defaults
            .into_iter()
            .filter(|c| !drops.contains(c))
            .chain(adds)
            .collect()
    };
    let mut seen = BTreeSet::new();
    caps.retain(|c| c != "ALL" && seen.insert(c.clone()));
    Ok(caps)
}

// ---------------------------------------------------------------------------------------------
// user lookup
// ---------------------------------------------------------------------------------------------

/// Read a file of the rootfs without ever leaving it: symlinks are resolved as if the rootfs were
/// `/`, the last component is opened with O_NOFOLLOW and only a regular file is read (a FIFO or
/// device planted as /etc/passwd must not block or be read). A missing file reads as empty.
fn read_in_rootfs(rootfs: &Path, path: &str) -> Result<String> {
    let resolved = runtime::rootfs::resolve_in_root(rootfs, Path::new(path))?;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&resolved)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        // a symlink left (loop or too deep) or not a directory on the way: nothing to read
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
            return Ok(String::new())
        }
        Err(e) => {
            return Err(Error::Io {
                context: format!("open {path} in the container"),
                source: e,
            })
        }
    };
    let meta = file.metadata().map_err(|e| Error::Io {
        context: format!("stat {path} in the container"),
        source: e,
    })?;
    if !meta.is_file() {
        return Ok(String::new());
    }
    let mut buf = Vec::new();
    file.take(16 << 20)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Io {
            context: format!("read {path} in the container"),
            source: e,
        })?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

struct PasswdEntry {
    name: String,
    uid: u64,
    gid: u64,
}

struct GroupEntry {
    name: String,
    gid: u64,
    members: Vec<String>,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn check_id(id: u64) -> Result<u32> {
    if id > MAX_ID {
        return Err(Error::Invalid(format!(
            "uids and gids must be in range 0-{MAX_ID}"
        )));
    }
    Ok(id as u32)
}

fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "user", "uid", "user:group", "uid:gid" looked up in <rootfs>/etc/passwd and /etc/group (read
/// safely: never following a symlink out of the rootfs), supplementary groups from /etc/group
/// membership plus HostConfig.GroupAdd; docker's error: `unable to find user NAME: no matching
/// entries in passwd file`. Numeric ids need no passwd entry.
///
/// As runc's lookup (which dockerd uses): an empty user is uid 0 (with root's passwd entry when
/// there is one), the primary gid comes from the passwd entry, and /etc/group memberships count
/// only when no group was given explicitly.
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>)> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = parse_passwd(&read_in_rootfs(rootfs, "/etc/passwd")?);
    let need_groups = group_arg.is_some() || !group_add.is_empty() || !passwd.is_empty();
    let groups = if need_groups {
        parse_group(&read_in_rootfs(rootfs, "/etc/group")?)
    } else {
        vec![]
    };

    let user_num = parse_id(user_arg);
    let entry = passwd.iter().find(|p| {
        if user_arg.is_empty() {
            p.uid == 0
        } else {
            p.name == user_arg || user_num == Some(p.uid)
        }
    });
    let (uid, mut gid, matched_name) = match (entry, user_num) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name.as_str())),
        (None, Some(n)) => (n, 0, None),
        (None, None) if user_arg.is_empty() => (0, 0, None),
        (None, None) => {
            return Err(Error::Invalid(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            )))
        }
    };
    let uid = check_id(uid)?;

    let mut additional = Vec::new();
    match group_arg {
        Some(g) if !g.is_empty() => {
            let num = parse_id(g);
            match groups.iter().find(|e| e.name == g || num == Some(e.gid)) {
                Some(e) => gid = e.gid,
                None => match num {
                    Some(n) => gid = n,
                    None => {
                        return Err(Error::Invalid(format!(
                            "unable to find group {g}: no matching entries in group file"
                        )))
                    }
                },
            }
        }
        Some(_) => {}
        None => {
            if let Some(name) = matched_name {
                for e in groups
                    .iter()
                    .filter(|e| e.members.iter().any(|m| m == name))
                {
                    additional.push(check_id(e.gid)?);
                }
            }
        }
    }
    let gid = check_id(gid)?;

    for g in group_add {
        let num = parse_id(g);
        let found = groups.iter().find(|e| e.name == *g || num == Some(e.gid));
        let id = match (found, num) {
            (Some(e), _) => e.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                )))
            }
        };
        additional.push(check_id(id)?);
    }
    Ok((uid, gid, additional))
}

// ---------------------------------------------------------------------------------------------
// environment
// ---------------------------------------------------------------------------------------------

/// docker's ReplaceOrAppendEnvValues: an override replaces the variable of the same name in
/// place or is appended; an override without `=` unsets the name.
pub fn replace_or_append_env(mut base: Vec<String>, overrides: &[String]) -> Vec<String> {
    for o in overrides {
        let key = env_key(o);
        let pos = base.iter().position(|b| env_key(b) == key);
        if !o.contains('=') {
            if let Some(i) = pos {
                base.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => base[i] = o.clone(),
            None => base.push(o.clone()),
        }
    }
    base
}

fn process_env(c: &Container) -> Vec<String> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", c.config.hostname),
    ];
    if c.config.tty {
        base.push("TERM=xterm".into());
    }
    replace_or_append_env(base, &c.config.env)
}

// ---------------------------------------------------------------------------------------------
// rlimits
// ---------------------------------------------------------------------------------------------

const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn rlimits(hc: &HostConfig) -> Result<Vec<Value>> {
    let mut by_name: Vec<(String, Value)> = Vec::new();
    for u in &hc.ulimits {
        let name = u.name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("rlimit_").unwrap_or(&name).to_string();
        if !ULIMIT_NAMES.contains(&name.as_str()) {
            return Err(Error::Invalid(format!("invalid ulimit type: {}", u.name)));
        }
        // -1 is "unlimited" (RLIM_INFINITY), as docker's uint64 cast makes it.
        let (soft, hard) = (u.soft as u64, u.hard as u64);
        if soft > hard {
            return Err(Error::Invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            )));
        }
        let v = json!({"type": format!("RLIMIT_{}", name.to_ascii_uppercase()), "soft": soft, "hard": hard});
        by_name.retain(|(n, _)| *n != name);
        by_name.push((name, v));
    }
    Ok(by_name.into_iter().map(|(_, v)| v).collect())
}

// ---------------------------------------------------------------------------------------------
// resources
// ---------------------------------------------------------------------------------------------

fn online_cpus() -> i64 {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as i64
    } else {
        1
    }
}

/// A cpuset list: `0-3,5`.
fn valid_cpuset(s: &str) -> bool {
    s.split(',').all(|part| {
        let num = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        match part.split_once('-') {
            Some((a, b)) => num(a) && num(b) && a.parse::<u64>().ok() <= b.parse::<u64>().ok(),
            None => num(part),
        }
    })
}

/// docker's resource checks and their OCI form (`linux.resources` minus devices); `update`
/// applies the same to a running container.
pub(crate) fn resources(hc: &HostConfig, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let inv = |m: &str| Err(Error::Invalid(m.to_string()));
    let mut r = Map::new();

    // memory
    if hc.memory != 0 && hc.memory < MIN_MEMORY {
        return inv("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return inv("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory == 0 && hc.memory_swap > 0 {
        return inv(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_swap < -1 {
        return inv("invalid memory swap limit: use -1 for unlimited swap");
    }
    if hc.memory_reservation != 0 && hc.memory_reservation < MIN_MEMORY {
        return inv("Minimum memory reservation allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return inv(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    let mut mem = Map::new();
    if hc.memory > 0 {
        mem.insert("limit".into(), json!(hc.memory));
        let swap = if hc.memory_swap == 0 {
            hc.memory * 2
        } else {
            hc.memory_swap
        };
        mem.insert("swap".into(), json!(swap));
    } else if hc.memory_swap == -1 {
        mem.insert("swap".into(), json!(-1));
    }
    if hc.memory_reservation > 0 {
        mem.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if let Some(d) = hc.oom_kill_disable {
        if d && hc.memory == 0 {
            warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
        }
        mem.insert("disableOOMKiller".into(), json!(d));
    }
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }

    // cpu
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return inv("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return inv("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    let ncpu = online_cpus();
    if hc.nano_cpus < 0 || hc.nano_cpus > ncpu * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return inv(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return inv("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if hc.cpu_shares < 0 {
        return inv("shares: invalid argument");
    }
    if !hc.cpuset_cpus.is_empty() && !valid_cpuset(&hc.cpuset_cpus) {
        return Err(Error::Invalid(format!(
            "Invalid value {} for cpuset cpus",
            hc.cpuset_cpus
        )));
    }
    if !hc.cpuset_mems.is_empty() && !valid_cpuset(&hc.cpuset_mems) {
        return Err(Error::Invalid(format!(
            "Invalid value {} for cpuset mems",
            hc.cpuset_mems
        )));
    }
    let mut cpu = Map::new();
    if hc.cpu_shares > 0 {
        let mut shares = hc.cpu_shares;
        if shares < MIN_CPU_SHARES {
            warnings.push(format!(
                "Changing requested CPUShares of {shares} to minimum allowed of {MIN_CPU_SHARES}"
            ));
            shares = MIN_CPU_SHARES;
        } else if shares > MAX_CPU_SHARES {
            warnings.push(format!(
                "Changing requested CPUShares of {shares} to maximum allowed of {MAX_CPU_SHARES}"
            ));
            shares = MAX_CPU_SHARES;
        }
        cpu.insert("shares".into(), json!(shares));
    }
    if hc.nano_cpus > 0 {
        let period: i64 = 100_000;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(hc.nano_cpus * period / 1_000_000_000));
    } else {
        if hc.cpu_period != 0 {
            cpu.insert("period".into(), json!(hc.cpu_period));
        }
        if hc.cpu_quota != 0 {
            cpu.insert("quota".into(), json!(hc.cpu_quota));
        }
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }

    // pids: 0 or negative is "unlimited", which is no limit at all in a new cgroup
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        r.insert("pids".into(), json!({ "limit": p }));
    }
    Ok(r)
}

/// docker's device cgroup rules for an unprivileged container (the runtime appends the OCI
/// default devices, /dev/pts and mknod, as runc does).
fn default_device_rules() -> Vec<Value> {
    let allow = |major: i64, minor: i64| json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"});
    vec![
        json!({"allow": false, "access": "rwm"}),
        allow(1, 5), // zero
        allow(1, 3), // null
        allow(1, 9), // urandom
        allow(1, 8), // random
        allow(5, 0), // tty
        allow(5, 1), // console
        json!({"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}), // fuse
    ]
}

/// Every character and block device under `dev` (the host's /dev for `--privileged`), skipping
/// what the container gets its own of, as docker does.
fn host_devices(dev: &Path) -> Vec<Value> {
    const SKIP_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let mut out = Vec::new();
    let mut stack = vec![dev.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let ft = meta.file_type();
            let name = e.file_name();
            if ft.is_dir() {
                if !SKIP_DIRS.iter().any(|s| name == *s) {
                    stack.push(e.path());
                }
                continue;
            }
            let typ = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else {
                continue;
            };
            let path = e.path();
            let rel = path.strip_prefix(dev).unwrap_or(&path);
            if rel == Path::new("console") {
                continue;
            }
            let rdev = meta.rdev();
            out.push(json!({
                "type": typ,
                "path": Path::new("/dev").join(rel),
                "major": nix::sys::stat::major(rdev),
                "minor": nix::sys::stat::minor(rdev),
                "fileMode": meta.mode() & 0o777,
                "uid": meta.uid(),
                "gid": meta.gid(),
            }));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// sysctls
// ---------------------------------------------------------------------------------------------

const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

fn check_sysctls(hc: &HostConfig, host_net: bool, host_ipc: bool, host_uts: bool) -> Result<()> {
    for k in hc.sysctls.keys() {
        let ns = if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            ("ipc", host_ipc)
        } else if k.starts_with("net.") {
            ("network", host_net)
        } else if k == "kernel.domainname" || k == "kernel.hostname" {
            ("uts", host_uts)
        } else {
            return Err(Error::Invalid(format!("sysctl '{k}' is not allowed")));
        };
        if ns.1 {
            return Err(Error::Invalid(format!(
                "sysctl {k:?} not allowed in host {} namespace",
                ns.0
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// mounts
// ---------------------------------------------------------------------------------------------

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": typ, "source": source, "options": options})
}

/// `/a/b/../c/` -> `/a/c`.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// The mount-flag "slot" an option sets, so a later option of the same slot replaces it.
fn flag_slot(opt: &str) -> Option<&'static str> {
    Some(match opt {
        "ro" | "rw" => "ro",
        "nosuid" | "suid" => "suid",
        "nodev" | "dev" => "dev",
        "noexec" | "exec" => "exec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "mand" | "nomand" => "mand",
        "noatime" | "atime" => "atime",
        "nodiratime" | "diratime" => "diratime",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
        | "runbindable" => "propagation",
        _ => return None,
    })
}

fn valid_tmpfs_data(key: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match key {
        "size" | "nr_blocks" | "nr_inodes" => {
            let n = value
                .strip_suffix(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P', 'e', 'E'])
                .or_else(|| {
                    if key == "size" {
                        value.strip_suffix('%')
                    } else {
                        None
                    }
                })
                .unwrap_or(value);
            digits(n)
        }
        "mode" => !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" => digits(value),
        "mpol" => !value.is_empty(),
        _ => false,
    }
}

/// docker's MergeTmpfsOptions: later flags replace earlier ones of the same kind (`exec` undoes
/// the default `noexec`), later `key=value` options replace earlier ones; only tmpfs's own data
/// options are accepted.
pub fn merge_tmpfs_options(options: &[String]) -> Result<Vec<String>> {
    let mut seen_flags = BTreeSet::new();
    let mut seen_data = BTreeSet::new();
    let mut out = Vec::new();
    for opt in options.iter().rev() {
        let opt = opt.trim();
        if opt.is_empty() || opt == "defaults" {
            continue;
        }
        if let Some(slot) = flag_slot(opt) {
            if seen_flags.insert(slot) {
                out.push(opt.to_string());
            }
            continue;
        }
        match opt.split_once('=') {
            Some((k, v)) if valid_tmpfs_data(k, v) => {
                if seen_data.insert(k.to_string()) {
                    out.push(opt.to_string());
                }
            }
            _ => return Err(Error::Invalid(format!("invalid tmpfs option {opt:?}"))),
        }
    }
    out.reverse();
    Ok(out)
}

fn validate_mount_destination(dest: &str, kind: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    if clean_path(dest) == "/" {
        return Err(Error::Invalid(format!(
            "invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
        )));
    }
    Ok(())
}

fn tmpfs_mount(dest: &str, options: &[String], readonly: bool, extra: &[String]) -> Result<Value> {
    let mut all: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    all.extend(
        options
            .iter()
            .flat_map(|o| o.split(','))
            .map(str::to_string),
    );
    if readonly {
        all.push("ro".into());
    }
    all.extend(extra.iter().cloned());
    let merged = merge_tmpfs_options(&all)?;
    Ok(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": merged}))
}

fn bind_mount(dest: &str, source: &Path, readonly: bool, extra: &[String]) -> Value {
    let recursive = !extra.iter().any(|o| o == "bind");
    let mut opts = vec![if recursive { "rbind" } else { "bind" }.to_string()];
    if readonly {
        opts.push("ro".into());
    }
    for o in extra {
        if o != "bind" && o != "rbind" && !opts.contains(o) {
            opts.push(o.clone());
        }
    }
    if !opts.iter().any(|o| flag_slot(o) == Some("propagation")) {
        opts.push("rprivate".into());
    }
    json!({"destination": dest, "type": "bind", "source": source, "options": opts})
}

// ---------------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------------

fn container_mode(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// The OCI spec dockerd would hand runc for this container, and warnings for the user.
///
/// The command is the record's Path/Args (from [`path_and_args`] when Path is empty). Bad flag
/// values fail with [`Error::Invalid`] worded as docker words them. `--pid`/`--ipc`
/// `container:X` are refused (the context has no namespace path for them yet).
pub fn generate(c: &Container, ctx: &SpecContext) -> Result<(Spec, Vec<String>)> {
    let hc = &c.host_config;
    let cfg = &c.config;
    let mut warnings = Vec::new();

    let sec = parse_security_opts(&hc.security_opt)?;
    // A confinement the host cannot apply is refused, never dropped. By default (as docker on
    // a host without AppArmor) the spec asks for no profile.
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

    // namespaces
    let host_net = hc.network_mode == "host";
    let host_pid = hc.pid_mode == "host";
    let host_ipc = hc.ipc_mode == "host";
    let host_uts = hc.uts_mode == "host";
    if let Some(x) = container_mode(&hc.pid_mode) {
        return Err(Error::Invalid(format!(
            "--pid=container:{x} is not supported yet"
        )));
    } else if !hc.pid_mode.is_empty() && !host_pid {
        return Err(Error::Invalid(format!("invalid PID mode: {}", hc.pid_mode)));
    }
    match hc.ipc_mode.as_str() {
        "" | "private" | "shareable" | "host" | "none" => {}
        m if container_mode(m).is_some() => {
            return Err(Error::Invalid(format!("--ipc={m} is not supported yet")))
        }
        m => return Err(Error::Invalid(format!("invalid IPC mode: {m}"))),
    }
    if !hc.uts_mode.is_empty() && !host_uts {
        return Err(Error::Invalid(format!("invalid UTS mode: {}", hc.uts_mode)));
    }
    let mut namespaces = vec![json!({"type": "mount"})];
    if let Some(x) = container_mode(&hc.network_mode) {
        let path = ctx.join_netns.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "cannot join network of a non running container: {x}"
            ))
        })?;
        namespaces.push(json!({"type": "network", "path": path}));
    } else if !host_net {
        namespaces.push(json!({"type": "network"}));
    }
    if !host_uts {
        namespaces.push(json!({"type": "uts"}));
    }
    if !host_pid {
        namespaces.push(json!({"type": "pid"}));
    }
    if !host_ipc {
        namespaces.push(json!({"type": "ipc"}));
    }
    check_sysctls(hc, host_net, host_ipc, host_uts)?;

    // process
    let (path, args) = if c.path.is_empty() {
        path_and_args(cfg)?
    } else {
        (c.path.clone(), c.args.clone())
    };
    let init = hc.init.unwrap_or(false);
    let mut argv = Vec::new();
    if init {
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

    // mounts: docker's defaults, minus those a user mount replaces, then the user's by depth
    if hc.shm_size < 0 {
        return Err(Error::Invalid("SHM size can not be less than 0".into()));
    }
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
    let user_dests: BTreeSet<&str> = user_mounts.iter().map(|(d, _)| d.as_str()).collect();
    let mount_dev = user_dests.contains("/dev");

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
    let mut mounts: Vec<Value> = defaults
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
    if let (true, Some(bin)) = (init, &ctx.init_binary) {
        mounts.push(json!({"destination": INIT_PATH, "type": "bind", "source": bin, "options": ["bind", "ro"]}));
    }

    // linux
    let mut res = resources(hc, &mut warnings)?;
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": ctx.cgroups_path,
    });
    if hc.privileged {
        res.insert("devices".into(), json!([{"allow": true, "access": "rwm"}]));
        linux["devices"] = json!(host_devices(Path::new("/dev")));
    } else {
        res.insert("devices".into(), json!(default_device_rules()));
        if !sec.unmask_system_paths {
            linux["maskedPaths"] = json!(MASKED_PATHS);
            linux["readonlyPaths"] = json!(READONLY_PATHS);
        }
    }
    linux["resources"] = Value::Object(res);
    let mut sysctls = hc.sysctls.clone();
    if !host_net {
        // dockerd's defaults in a container's own network namespace: binding low ports and
        // ICMP sockets need no capability there (the namespace has no host ports to take)
        sysctls
            .entry("net.ipv4.ip_unprivileged_port_start".into())
            .or_insert_with(|| "0".into());
        sysctls
            .entry("net.ipv4.ping_group_range".into())
            .or_insert_with(|| "0 2147483647".into());
    }
    if !sysctls.is_empty() {
        linux["sysctl"] = json!(sysctls);
    }
    if let Some(p) = propagation {
        linux["rootfsPropagation"] = json!(p);
    }
    if !hc.privileged {
        if let Some(profile) = seccomp_profile(sec.seccomp.as_deref(), &caps)? {
            linux["seccomp"] = serde_json::to_value(profile)?;
        }
    }

    let mut process = process;
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
    if !host_uts {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Ulimit;
    use std::os::unix::fs::symlink;

    fn ctr() -> Container {
        Container {
            config: Config {
                hostname: "c0ffee".into(),
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn context(root: &Path) -> SpecContext {
        SpecContext {
            rootfs: root.to_path_buf(),
            cgroups_path: "/berth/abc".into(),
            ..Default::default()
        }
    }

    fn gen_with(c: &Container, ctx: &SpecContext) -> Result<(Value, Vec<String>)> {
        let (spec, warnings) = generate(c, ctx)?;
        Ok((serde_json::to_value(spec).unwrap(), warnings))
    }

    fn gen(c: &Container) -> Value {
        let dir = tempfile::tempdir().unwrap();
        gen_with(c, &context(dir.path())).unwrap().0
    }

    fn gen_err(c: &Container) -> String {
        let dir = tempfile::tempdir().unwrap();
        gen_with(c, &context(dir.path())).unwrap_err().to_string()
    }

    fn strings(v: &Value) -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    fn cap_set(v: &Value, set: &str) -> BTreeSet<String> {
        strings(&v["process"]["capabilities"][set])
            .into_iter()
            .collect()
    }

    fn mount_of<'a>(v: &'a Value, dest: &str) -> Option<&'a Value> {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == dest)
    }

    fn mount_dests(v: &Value) -> Vec<String> {
        v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap().to_string())
            .collect()
    }

    fn ns_types(v: &Value) -> Vec<String> {
        v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect()
    }

    fn with_hc(f: impl FnOnce(&mut HostConfig)) -> Container {
        let mut c = ctr();
        f(&mut c.host_config);
        c
    }

    #[test]
    fn default_container_is_dockers() {
        let v = gen(&ctr());
        let defaults: BTreeSet<String> = seccomp::DOCKER_DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(defaults.len(), 14);
        for set in ["bounding", "effective", "permitted"] {
            assert_eq!(cap_set(&v, set), defaults, "{set}");
        }
        assert!(v["process"]["capabilities"].get("inheritable").is_none());
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        assert_eq!(strings(&v["process"]["args"]), ["sh"]);
        assert_eq!(
            strings(&v["process"]["env"]),
            [format!("PATH={DEFAULT_PATH}"), "HOSTNAME=c0ffee".into()]
        );
        assert_eq!(v["process"]["cwd"], "/");
        assert_eq!(v["process"]["terminal"], false);
        assert_eq!(v["process"]["user"]["uid"], 0);
        assert_eq!(v["process"]["user"]["gid"], 0);
        assert_eq!(v["process"]["oomScoreAdj"], 0);
        assert_ne!(v["process"]["noNewPrivileges"], true);
        assert_eq!(v["hostname"], "c0ffee");
        assert_eq!(v["root"]["readonly"], false);
        assert_eq!(
            mount_dests(&v),
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        let shm = strings(&mount_of(&v, "/dev/shm").unwrap()["options"]);
        assert!(shm.contains(&"size=67108864".to_string()), "{shm:?}");
        assert!(strings(&mount_of(&v, "/sys").unwrap()["options"]).contains(&"ro".into()));
        assert!(strings(&mount_of(&v, "/sys/fs/cgroup").unwrap()["options"]).contains(&"ro".into()));
        assert_eq!(strings(&v["linux"]["maskedPaths"]), MASKED_PATHS);
        assert_eq!(strings(&v["linux"]["readonlyPaths"]), READONLY_PATHS);
        let ns: BTreeSet<String> = ns_types(&v).into_iter().collect();
        let want: BTreeSet<String> = ["mount", "network", "uts", "pid", "ipc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ns, want);
        assert_eq!(v["linux"]["cgroupsPath"], "/berth/abc");
        let devices = v["linux"]["resources"]["devices"].as_array().unwrap();
        assert_eq!(devices[0]["allow"], false);
        assert_eq!(devices[0]["access"], "rwm");
        assert!(devices
            .iter()
            .any(|d| d["allow"] == true && d["major"] == 1 && d["minor"] == 3));
        assert!(v["linux"]["seccomp"]["defaultAction"].is_string());
        assert!(!v["linux"]["seccomp"]["syscalls"]
            .as_array()
            .unwrap()
            .is_empty());
        assert!(v["linux"]["resources"].get("memory").is_none());
        assert!(v["linux"]["resources"].get("pids").is_none());
    }

    #[test]
    fn memory_and_swap() {
        let mib = 1024 * 1024;
        let v = gen(&with_hc(|h| h.memory = 128 * mib));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 128 * mib);
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 256 * mib);
        let v = gen(&with_hc(|h| {
            h.memory = 128 * mib;
            h.memory_swap = -1
        }));
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], -1);
        let v = gen(&with_hc(|h| {
            h.memory = 128 * mib;
            h.memory_swap = 200 * mib;
            h.memory_reservation = 64 * mib;
            h.oom_kill_disable = Some(true);
        }));
        let m = &v["linux"]["resources"]["memory"];
        assert_eq!(m["swap"], 200 * mib);
        assert_eq!(m["reservation"], 64 * mib);
        assert_eq!(m["disableOOMKiller"], true);

        assert_eq!(
            gen_err(&with_hc(|h| h.memory = mib)),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(gen_err(&with_hc(|h| h.memory_swap = 200 * mib)).contains("Memory limit"));
        assert!(gen_err(&with_hc(|h| {
            h.memory = 64 * mib;
            h.memory_swap = 32 * mib
        }))
        .contains("memoryswap"));
        assert!(gen_err(&with_hc(|h| {
            h.memory = 64 * mib;
            h.memory_reservation = 128 * mib
        }))
        .contains("reservation"));

        let mut hc = HostConfig {
            memory: 64 * mib,
            pids_limit: Some(0),
            ..Default::default()
        };
        adapt_host_config(&mut hc);
        assert_eq!(hc.memory_swap, 128 * mib);
        assert_eq!(hc.shm_size, DEFAULT_SHM_SIZE);
        assert_eq!(hc.pids_limit, None);

        let dir = tempfile::tempdir().unwrap();
        let (_, w) = gen_with(
            &with_hc(|h| h.oom_kill_disable = Some(true)),
            &context(dir.path()),
        )
        .unwrap();
        assert!(w[0].contains("OOM killer is disabled"), "{w:?}");
    }

    #[test]
    fn cpus_shares_cpuset_pids() {
        let v = gen(&with_hc(|h| {
            h.nano_cpus = 1_500_000_000.min(online_cpus() * 1_000_000_000)
        }));
        let cpu = &v["linux"]["resources"]["cpu"];
        assert_eq!(cpu["period"], 100_000);
        let want = 1_500_000_000.min(online_cpus() * 1_000_000_000) * 100_000 / 1_000_000_000;
        assert_eq!(cpu["quota"], want);
        let v = gen(&with_hc(|h| h.nano_cpus = 500_000_000));
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);

        let v = gen(&with_hc(|h| {
            h.cpu_period = 50_000;
            h.cpu_quota = 25_000;
            h.cpu_shares = 512;
            h.cpuset_cpus = "0".into();
            h.cpuset_mems = "0".into();
        }));
        let cpu = &v["linux"]["resources"]["cpu"];
        assert_eq!(cpu["period"], 50_000);
        assert_eq!(cpu["quota"], 25_000);
        assert_eq!(cpu["shares"], 512);
        assert_eq!(cpu["cpus"], "0");
        assert_eq!(cpu["mems"], "0");

        assert!(gen_err(&with_hc(|h| {
            h.nano_cpus = 500_000_000;
            h.cpu_quota = 50_000
        }))
        .contains("Conflicting options: Nano CPUs and CPU Quota"));
        assert!(
            gen_err(&with_hc(|h| h.nano_cpus = 10_000 * 1_000_000_000)).contains("Range of CPUs")
        );
        assert!(gen_err(&with_hc(|h| h.cpuset_cpus = "0-x".into())).contains("cpuset cpus"));
        assert!(gen_err(&with_hc(|h| h.cpu_period = 10)).contains("CPU cfs period"));

        let dir = tempfile::tempdir().unwrap();
        let (v, w) = gen_with(&with_hc(|h| h.cpu_shares = 1), &context(dir.path())).unwrap();
        assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 2);
        assert!(w[0].contains("CPUShares"));

        let v = gen(&with_hc(|h| h.pids_limit = Some(100)));
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 100);
        for p in [0, -1] {
            let v = gen(&with_hc(|h| h.pids_limit = Some(p)));
            assert!(v["linux"]["resources"].get("pids").is_none());
        }
    }

    fn caps_of(f: impl FnOnce(&mut HostConfig)) -> BTreeSet<String> {
        cap_set(&gen(&with_hc(f)), "bounding")
    }

    #[test]
    fn cap_add_and_drop() {
        let caps = caps_of(|h| {
            h.cap_add = vec!["net_admin".into(), "CAP_SYS_TIME".into()];
            h.cap_drop = vec!["chown".into(), "cap_kill".into()];
        });
        assert!(caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_SYS_TIME"));
        assert!(!caps.contains("CAP_CHOWN") && !caps.contains("CAP_KILL"));
        assert_eq!(caps.len(), 14);

        let caps = caps_of(|h| {
            h.cap_add = vec!["all".into()];
            h.cap_drop = vec!["MKNOD".into()];
        });
        assert_eq!(caps.len(), runtime::spec::KNOWN_CAPS.len() - 1);
        assert!(!caps.contains("CAP_MKNOD") && caps.contains("CAP_SYS_ADMIN"));

        let v = gen(&with_hc(|h| {
            h.cap_drop = vec!["ALL".into()];
            h.cap_add = vec!["CHOWN".into()];
        }));
        assert_eq!(
            cap_set(&v, "effective"),
            ["CAP_CHOWN".to_string()].into_iter().collect()
        );
        // the seccomp profile follows the final capability set
        assert!(v["linux"]["seccomp"].is_object());
        assert!(caps_of(|h| h.cap_drop = vec!["ALL".into()]).is_empty());

        let e = gen_err(&with_hc(|h| h.cap_add = vec!["NOPE".into()]));
        assert_eq!(e, "unknown capability: \"CAP_NOPE\"");
    }

    #[test]
    fn privileged() {
        let v = gen(&with_hc(|h| h.privileged = true));
        assert_eq!(
            cap_set(&v, "bounding").len(),
            runtime::spec::KNOWN_CAPS.len()
        );
        assert_eq!(
            cap_set(&v, "permitted").len(),
            runtime::spec::KNOWN_CAPS.len()
        );
        assert!(v["linux"].get("maskedPaths").is_none());
        assert!(v["linux"].get("readonlyPaths").is_none());
        assert!(v["linux"].get("seccomp").is_none());
        let sys = strings(&mount_of(&v, "/sys").unwrap()["options"]);
        assert!(sys.contains(&"rw".into()) && !sys.contains(&"ro".into()));
        let cg = strings(&mount_of(&v, "/sys/fs/cgroup").unwrap()["options"]);
        assert!(!cg.contains(&"ro".into()));
        let rules = v["linux"]["resources"]["devices"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0]["allow"], true);
        assert_eq!(rules[0]["access"], "rwm");
        // the host's devices are passed in (/dev/null exists everywhere)
        let devs = v["linux"]["devices"].as_array().unwrap();
        assert!(devs.iter().any(|d| d["path"] == "/dev/null"), "{devs:?}");
        assert!(!devs.iter().any(|d| d["path"] == "/dev/console"));
    }

    #[test]
    fn readonly_rootfs_hostname_tty_workdir() {
        let mut c = with_hc(|h| h.readonly_rootfs = true);
        c.config.tty = true;
        c.config.domainname = "example.org".into();
        c.config.working_dir = "/srv/app/".into();
        c.config.env = vec!["PATH=/opt/bin".into(), "A=1".into()];
        let v = gen(&c);
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["domainname"], "example.org");
        assert_eq!(v["process"]["cwd"], "/srv/app");
        assert_eq!(
            strings(&v["process"]["env"]),
            ["PATH=/opt/bin", "HOSTNAME=c0ffee", "TERM=xterm", "A=1"]
        );
        c.config.working_dir = "rel".into();
        assert!(gen_err(&c).contains("needs to be an absolute path"));
    }

    #[test]
    fn tmpfs_options() {
        let mut c = with_hc(|h| {
            h.tmpfs.insert("/run".into(), "".into());
            h.tmpfs
                .insert("/tmp".into(), "exec,size=64m,mode=1777".into());
            h.tmpfs.insert("/dev/shm".into(), "size=1g".into());
        });
        let v = gen(&c);
        assert_eq!(
            strings(&mount_of(&v, "/run").unwrap()["options"]),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
        let tmp = mount_of(&v, "/tmp").unwrap();
        assert_eq!(tmp["type"], "tmpfs");
        assert_eq!(
            strings(&tmp["options"]),
            [
                "nosuid",
                "nodev",
                "rprivate",
                "exec",
                "size=64m",
                "mode=1777"
            ]
        );
        // a user mount replaces docker's own /dev/shm
        let shm: Vec<_> = mount_dests(&v)
            .into_iter()
            .filter(|d| d == "/dev/shm")
            .collect();
        assert_eq!(shm.len(), 1);
        assert!(
            strings(&mount_of(&v, "/dev/shm").unwrap()["options"]).contains(&"size=1g".to_string())
        );

        c.host_config.tmpfs.insert("/x".into(), "size=lots".into());
        assert_eq!(gen_err(&c), "invalid tmpfs option \"size=lots\"");
        c.host_config.tmpfs.remove("/x");
        c.host_config.tmpfs.insert("/y".into(), "bogus".into());
        assert!(gen_err(&c).contains("invalid tmpfs option"));
        c.host_config.tmpfs.remove("/y");
        c.host_config.tmpfs.insert("rel".into(), "".into());
        assert!(gen_err(&c).contains("must be absolute"));
        c.host_config.tmpfs.remove("rel");
        c.host_config.tmpfs.insert("/".into(), "".into());
        assert!(gen_err(&c).contains("can't be '/'"));
    }

    #[test]
    fn binds_are_ordered_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = context(dir.path());
        ctx.mounts = vec![
            ResolvedMount {
                destination: "/data/cache".into(),
                source: MountSource::Bind("/var/lib/berth/volumes/c/_data".into()),
                readonly: false,
                options: vec![],
            },
            ResolvedMount {
                destination: "/data".into(),
                source: MountSource::Bind("/srv/data".into()),
                readonly: true,
                options: vec!["rslave".into()],
            },
            ResolvedMount {
                destination: "/etc/hosts".into(),
                source: MountSource::Bind("/var/lib/berth/c/hosts".into()),
                readonly: false,
                options: vec![],
            },
            ResolvedMount {
                destination: "/scratch".into(),
                source: MountSource::Tmpfs {
                    options: vec!["size=1m".into()],
                },
                readonly: true,
                options: vec![],
            },
        ];
        let c = with_hc(|h| {
            h.tmpfs.insert("/data/cache/tmp".into(), "".into());
        });
        let (v, _) = gen_with(&c, &ctx).unwrap();
        let dests = mount_dests(&v);
        let pos = |d: &str| dests.iter().position(|x| x == d).unwrap();
        assert!(pos("/data") < pos("/data/cache"));
        assert!(pos("/data/cache") < pos("/data/cache/tmp"));
        assert!(pos("/dev/shm") < pos("/data"));
        let data = mount_of(&v, "/data").unwrap();
        assert_eq!(data["type"], "bind");
        assert_eq!(data["source"], "/srv/data");
        assert_eq!(strings(&data["options"]), ["rbind", "ro", "rslave"]);
        assert_eq!(
            strings(&mount_of(&v, "/etc/hosts").unwrap()["options"]),
            ["rbind", "rprivate"]
        );
        let scratch = strings(&mount_of(&v, "/scratch").unwrap()["options"]);
        assert!(scratch.contains(&"ro".into()) && scratch.contains(&"size=1m".into()));
        assert_eq!(v["linux"]["rootfsPropagation"], "rslave");
    }

    #[test]
    fn security_opts() {
        for opt in [
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges=true",
        ] {
            let v = gen(&with_hc(|h| h.security_opt = vec![opt.into()]));
            assert_eq!(v["process"]["noNewPrivileges"], true, "{opt}");
        }
        let v = gen(&with_hc(|h| {
            h.security_opt = vec!["no-new-privileges=false".into()]
        }));
        assert_ne!(v["process"]["noNewPrivileges"], true);

        let v = gen(&with_hc(|h| {
            h.security_opt = vec!["seccomp=unconfined".into()]
        }));
        assert!(v["linux"].get("seccomp").is_none());

        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let v = gen(&with_hc(|h| {
            h.security_opt = vec![format!("seccomp={}", good.display())]
        }));
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        // the docker CLI sends the profile inline
        let v = gen(&with_hc(|h| {
            h.security_opt = vec![format!(
                "seccomp={}",
                std::fs::read_to_string(&good).unwrap()
            )]
        }));
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
        let e = gen_err(&with_hc(|h| {
            h.security_opt = vec![format!("seccomp={}", bad.display())]
        }));
        assert!(e.contains(&bad.display().to_string()), "{e}");
        let missing = dir.path().join("missing.json");
        let e = gen_err(&with_hc(|h| {
            h.security_opt = vec![format!("seccomp={}", missing.display())]
        }));
        assert!(e.contains(&missing.display().to_string()), "{e}");

        assert_eq!(
            gen_err(&with_hc(|h| h.security_opt = vec!["foo=bar".into()])),
            "invalid --security-opt: \"foo=bar\""
        );
        assert_eq!(
            gen_err(&with_hc(|h| h.security_opt = vec!["x".into()])),
            "invalid --security-opt: \"x\""
        );
        assert!(gen_err(&with_hc(
            |h| h.security_opt = vec!["no-new-privileges=maybe".into()]
        ))
        .contains("invalid --security-opt"));

        let v = gen(&with_hc(|h| {
            h.security_opt = vec!["systempaths=unconfined".into(), "label=disable".into()]
        }));
        assert!(v["linux"].get("maskedPaths").is_none());
        assert!(v["linux"]["seccomp"].is_object());

        // confinement the host cannot apply: refused, never dropped
        let v = gen(&with_hc(|h| {
            h.security_opt = vec!["apparmor=unconfined".into()]
        }));
        assert!(v["process"].get("apparmorProfile").is_none());
        assert!(
            gen_err(&with_hc(|h| h.security_opt = vec!["label=type:x_t".into()]))
                .contains("SELinux")
        );
        if !runtime::lsm::apparmor_enabled() {
            let e = gen_err(&with_hc(|h| h.security_opt = vec!["apparmor=p".into()]));
            assert!(e.contains("AppArmor is not enabled"), "{e}");
        }
    }

    #[test]
    fn init_wraps_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = context(dir.path());
        ctx.init_binary = Some("/usr/libexec/berth/tini-static".into());
        let mut c = with_hc(|h| h.init = Some(true));
        c.config.cmd = Some(vec!["sleep".into(), "1".into()]);
        let (v, _) = gen_with(&c, &ctx).unwrap();
        assert_eq!(
            strings(&v["process"]["args"]),
            [INIT_PATH, "--", "sleep", "1"]
        );
        let m = mount_of(&v, INIT_PATH).unwrap();
        assert_eq!(m["source"], "/usr/libexec/berth/tini-static");
        assert!(strings(&m["options"]).contains(&"ro".into()));
        ctx.init_binary = None;
        assert!(gen_with(&c, &ctx).unwrap_err().to_string().contains("init"));
    }

    #[test]
    fn network_and_other_namespaces() {
        let v = gen(&with_hc(|h| h.network_mode = "host".into()));
        assert!(!ns_types(&v).contains(&"network".into()));
        let v = gen(&with_hc(|h| h.network_mode = "none".into()));
        assert!(ns_types(&v).contains(&"network".into()));
        let v = gen(&with_hc(|h| {
            h.pid_mode = "host".into();
            h.ipc_mode = "host".into();
            h.uts_mode = "host".into();
        }));
        assert_eq!(ns_types(&v), ["mount", "network"]);
        assert!(v.get("hostname").is_none());
        assert_eq!(mount_of(&v, "/dev/shm").unwrap()["type"], "bind");
        let v = gen(&with_hc(|h| h.ipc_mode = "none".into()));
        assert!(mount_of(&v, "/dev/shm").is_none());

        let dir = tempfile::tempdir().unwrap();
        let mut ctx = context(dir.path());
        let c = with_hc(|h| h.network_mode = "container:web".into());
        assert!(gen_with(&c, &ctx)
            .unwrap_err()
            .to_string()
            .contains("non running container"));
        ctx.join_netns = Some("/proc/42/ns/net".into());
        let (v, _) = gen_with(&c, &ctx).unwrap();
        let net = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "network")
            .unwrap()
            .clone();
        assert_eq!(net["path"], "/proc/42/ns/net");
        assert!(gen_err(&with_hc(|h| h.ipc_mode = "weird".into())).contains("invalid IPC mode"));
    }

    #[test]
    fn ulimits_and_sysctls() {
        let v = gen(&with_hc(|h| {
            h.ulimits = vec![
                Ulimit {
                    name: "nofile".into(),
                    soft: 1024,
                    hard: 2048,
                },
                Ulimit {
                    name: "nproc".into(),
                    soft: -1,
                    hard: -1,
                },
            ]
        }));
        let r = v["process"]["rlimits"].as_array().unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["type"], "RLIMIT_NOFILE");
        assert_eq!(r[0]["soft"], 1024);
        assert_eq!(r[0]["hard"], 2048);
        assert_eq!(r[1]["type"], "RLIMIT_NPROC");
        assert_eq!(r[1]["hard"], u64::MAX);
        assert_eq!(
            gen_err(&with_hc(|h| h.ulimits = vec![Ulimit {
                name: "bogus".into(),
                soft: 1,
                hard: 1
            }])),
            "invalid ulimit type: bogus"
        );
        assert!(gen_err(&with_hc(|h| h.ulimits = vec![Ulimit {
            name: "nofile".into(),
            soft: 10,
            hard: 1
        }]))
        .contains("soft limit must be less than or equal to hard limit"));
        let v = gen(&ctr());
        assert!(v["process"]
            .get("rlimits")
            .map(|r| r.as_array().unwrap().is_empty())
            .unwrap_or(true));

        let v = gen(&with_hc(|h| {
            h.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
            h.sysctls.insert("kernel.shmmax".into(), "1000000".into());
        }));
        assert_eq!(v["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
        assert_eq!(
            gen_err(&with_hc(|h| {
                h.sysctls.insert("kernel.panic".into(), "1".into());
            })),
            "sysctl 'kernel.panic' is not allowed"
        );
        assert!(gen_err(&with_hc(|h| {
            h.network_mode = "host".into();
            h.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        }))
        .contains("host network namespace"));
        assert!(gen_err(&with_hc(|h| h.oom_score_adj = 5000)).contains("oom score adj"));
        let v = gen(&with_hc(|h| h.oom_score_adj = 500));
        assert_eq!(v["process"]["oomScoreAdj"], 500);
    }

    fn image() -> Value {
        json!({
            "architecture": "amd64",
            "config": {
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
                "Entrypoint": ["docker-entrypoint.sh"],
                "Cmd": ["postgres"],
                "WorkingDir": "/var/lib/pg",
                "User": "postgres",
                "StopSignal": "SIGINT",
                "Volumes": {"/var/lib/pg/data": {}},
                "ExposedPorts": {"5432/tcp": {}},
                "Labels": {"a": "image", "b": "image"},
                "Healthcheck": {"Test": ["CMD-SHELL", "pg_isready"], "Interval": 5000000000i64, "Retries": 3}
            }
        })
    }

    #[test]
    fn merge_takes_image_defaults() {
        let mut cfg = Config::default();
        cfg.labels.insert("b".into(), "user".into());
        cfg.exposed_ports = Some([("80/tcp".to_string(), json!({}))].into());
        merge_image_config(&mut cfg, &image(), None, None);
        assert_eq!(cfg.entrypoint, Some(vec!["docker-entrypoint.sh".into()]));
        assert_eq!(cfg.cmd, Some(vec!["postgres".into()]));
        assert_eq!(cfg.working_dir, "/var/lib/pg");
        assert_eq!(cfg.user, "postgres");
        assert_eq!(cfg.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(cfg.labels["a"], "image");
        assert_eq!(cfg.labels["b"], "user");
        assert!(cfg
            .volumes
            .as_ref()
            .unwrap()
            .contains_key("/var/lib/pg/data"));
        let ports = cfg.exposed_ports.as_ref().unwrap();
        assert!(ports.contains_key("5432/tcp") && ports.contains_key("80/tcp"));
        assert_eq!(cfg.healthcheck.as_ref().unwrap().retries, 3);
        assert_eq!(
            path_and_args(&cfg).unwrap(),
            (
                "docker-entrypoint.sh".to_string(),
                vec!["postgres".to_string()]
            )
        );
    }

    #[test]
    fn merge_env_overrides_by_key() {
        let mut cfg = Config {
            env: vec!["LANG=en_US.UTF-8".into(), "EXTRA=1".into()],
            ..Default::default()
        };
        merge_image_config(&mut cfg, &image(), None, None);
        assert_eq!(
            cfg.env,
            [
                "LANG=en_US.UTF-8",
                "EXTRA=1",
                "PATH=/usr/local/bin:/usr/bin:/bin"
            ]
        );
        let mut cfg = Config::default();
        merge_image_config(&mut cfg, &image(), None, None);
        assert_eq!(
            cfg.env,
            ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
        );
    }

    #[test]
    fn merge_entrypoint_and_cmd_rules() {
        // the user's cmd replaces the image's, the image's entrypoint stays
        let mut cfg = Config::default();
        merge_image_config(
            &mut cfg,
            &image(),
            None,
            Some(vec!["-c".into(), "x".into()]),
        );
        assert_eq!(cfg.entrypoint, Some(vec!["docker-entrypoint.sh".into()]));
        assert_eq!(cfg.cmd, Some(vec!["-c".into(), "x".into()]));

        // an entrypoint override drops the image's cmd
        let mut cfg = Config::default();
        merge_image_config(&mut cfg, &image(), Some(vec!["/bin/sh".into()]), None);
        assert_eq!(cfg.entrypoint, Some(vec!["/bin/sh".into()]));
        assert_eq!(cfg.cmd, None);
        assert_eq!(path_and_args(&cfg).unwrap(), ("/bin/sh".into(), vec![]));

        // --entrypoint "" with a command runs the command
        let mut cfg = Config::default();
        merge_image_config(
            &mut cfg,
            &image(),
            Some(vec!["".into()]),
            Some(vec!["ls".into(), "-l".into()]),
        );
        assert_eq!(
            path_and_args(&cfg).unwrap(),
            ("ls".into(), vec!["-l".into()])
        );

        // --entrypoint "" alone leaves nothing to run
        let mut cfg = Config::default();
        merge_image_config(&mut cfg, &image(), Some(vec!["".into()]), None);
        assert_eq!(
            path_and_args(&cfg).unwrap_err().to_string(),
            "no command specified"
        );
        let mut cfg = Config::default();
        merge_image_config(&mut cfg, &image(), Some(vec![]), None);
        assert!(path_and_args(&cfg).is_err());

        // an image with neither
        let mut cfg = Config::default();
        merge_image_config(&mut cfg, &json!({"config": {"Env": []}}), None, None);
        assert!(path_and_args(&cfg).is_err());
    }

    #[test]
    fn merge_healthcheck_fields() {
        let mut cfg = Config {
            healthcheck: Some(HealthConfig {
                interval: 1_000_000_000,
                ..Default::default()
            }),
            ..Default::default()
        };
        merge_image_config(&mut cfg, &image(), None, None);
        let hc = cfg.healthcheck.unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "pg_isready"]);
        assert_eq!(hc.interval, 1_000_000_000);
        assert_eq!(hc.retries, 3);
    }

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             # comment\n\
             app:x:1000:1000:App:/home/app:/bin/sh\n\
             www-data:x:33:33::/var/www:/usr/sbin/nologin\n\
             broken line\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("group"),
            "root:x:0:\n\
             wheel:x:10:root,app\n\
             app:x:1000:\n\
             audio:x:29:app\n\
             www-data:x:33:\n\
             docker:x:999:\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn user_by_name_and_uid() {
        let r = rootfs();
        assert_eq!(resolve_user(r.path(), "", &[]).unwrap(), (0, 0, vec![10]));
        assert_eq!(
            resolve_user(r.path(), "app", &[]).unwrap(),
            (1000, 1000, vec![10, 29])
        );
        assert_eq!(
            resolve_user(r.path(), "1000", &[]).unwrap(),
            (1000, 1000, vec![10, 29])
        );
        // a uid without an entry is fine, with gid 0
        assert_eq!(
            resolve_user(r.path(), "4242", &[]).unwrap(),
            (4242, 0, vec![])
        );
        assert_eq!(
            resolve_user(r.path(), "4242:4343", &[]).unwrap(),
            (4242, 4343, vec![])
        );
    }

    #[test]
    fn user_with_group() {
        let r = rootfs();
        // an explicit group replaces the primary one and the membership list
        assert_eq!(
            resolve_user(r.path(), "app:www-data", &[]).unwrap(),
            (1000, 33, vec![])
        );
        assert_eq!(
            resolve_user(r.path(), "app:29", &[]).unwrap(),
            (1000, 29, vec![])
        );
        assert_eq!(
            resolve_user(r.path(), "app:nogroup", &[])
                .unwrap_err()
                .to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
    }

    #[test]
    fn user_missing_and_group_add() {
        let r = rootfs();
        assert_eq!(
            resolve_user(r.path(), "nobody", &[])
                .unwrap_err()
                .to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve_user(r.path(), "www-data", &["docker".into(), "4000".into()]).unwrap(),
            (33, 33, vec![999, 4000])
        );
        assert!(resolve_user(r.path(), "app", &["nosuch".into()])
            .unwrap_err()
            .to_string()
            .contains("unable to find group nosuch"));
        assert!(resolve_user(r.path(), "3000000000", &[]).is_err());

        // no /etc at all: only numeric ids work
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user(empty.path(), "", &[]).unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve_user(empty.path(), "5:6", &[]).unwrap(),
            (5, 6, vec![])
        );
        assert!(resolve_user(empty.path(), "app", &[]).is_err());
    }

    #[test]
    fn user_lookup_never_leaves_the_rootfs() {
        let host = tempfile::tempdir().unwrap();
        let host_passwd = host.path().join("passwd");
        std::fs::write(&host_passwd, "evil:x:4242:4242::/:/bin/sh\n").unwrap();
        let host_group = host.path().join("group");
        std::fs::write(&host_group, "evilgrp:x:4343:\n").unwrap();

        let r = tempfile::tempdir().unwrap();
        std::fs::create_dir(r.path().join("etc")).unwrap();
        // absolute and relative links that point at the host's files
        symlink(&host_passwd, r.path().join("etc/passwd")).unwrap();
        let rel = format!("../../../../../../../../..{}", host_group.display());
        symlink(&rel, r.path().join("etc/group")).unwrap();
        assert!(resolve_user(r.path(), "evil", &[])
            .unwrap_err()
            .to_string()
            .contains("unable to find user evil"));
        assert!(resolve_user(r.path(), "0", &["evilgrp".into()]).is_err());

        // /etc itself a link out of the rootfs
        let r2 = tempfile::tempdir().unwrap();
        symlink(host.path(), r2.path().join("etc")).unwrap();
        assert!(resolve_user(r2.path(), "evil", &[]).is_err());

        // a link that stays inside is followed
        let r3 = rootfs();
        std::fs::rename(
            r3.path().join("etc/passwd"),
            r3.path().join("etc/passwd.real"),
        )
        .unwrap();
        symlink("/etc/passwd.real", r3.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve_user(r3.path(), "app", &[]).unwrap().0, 1000);

        // a FIFO planted as /etc/passwd is not read (would block)
        let r4 = tempfile::tempdir().unwrap();
        std::fs::create_dir(r4.path().join("etc")).unwrap();
        nix::unistd::mkfifo(
            &r4.path().join("etc/passwd"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        assert!(resolve_user(r4.path(), "app", &[]).is_err());
        assert_eq!(resolve_user(r4.path(), "7", &[]).unwrap().0, 7);
    }

    #[test]
    fn user_from_spec_generation() {
        let r = rootfs();
        let mut c = ctr();
        c.config.user = "app".into();
        c.host_config.group_add = vec!["docker".into()];
        let (v, _) = gen_with(&c, &context(r.path())).unwrap();
        assert_eq!(v["process"]["user"]["uid"], 1000);
        assert_eq!(v["process"]["user"]["gid"], 1000);
        assert_eq!(v["process"]["user"]["additionalGids"], json!([10, 29, 999]));
        c.config.user = "ghost".into();
        assert!(gen_with(&c, &context(r.path()))
            .unwrap_err()
            .to_string()
            .contains("unable to find user ghost"));
    }

    #[test]
    fn tmpfs_merge_rules() {
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_tmpfs_options(&o(&["noexec", "size=1m", "exec", "size=2m", "defaults"])).unwrap(),
            ["exec", "size=2m"]
        );
        assert!(merge_tmpfs_options(&o(&["mode=999"])).is_err());
        assert!(merge_tmpfs_options(&o(&["size=50%", "uid=1", "nr_inodes=1k"])).is_ok());
    }
}
