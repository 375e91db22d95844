//! `berth run`/`create` flags, parsed as the docker CLI parses them, into the API's
//! Config + HostConfig.

use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgAction, Args};
use engine::types::{
    Config, HealthConfig, HostConfig, LogConfig, MountSpec, PortBinding, RestartPolicy,
    TmpfsOptions, Ulimit,
};
use std::collections::BTreeMap;

#[derive(Args, Debug, Clone, Default)]
pub struct CreateFlags {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub domainname: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long)]
    pub label: Vec<String>,
    #[arg(long = "label-file")]
    pub label_file: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Connect a container to a network (none, host, container:ID)
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g. 172.30.100.104) on a user-defined network
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g. 2001:db8::33) on a user-defined network with IPv6
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g. 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Add link to another container (name[:alias])
    #[arg(long)]
    pub link: Vec<String>,
    #[arg(long)]
    pub dns: Vec<String>,
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    #[arg(long)]
    pub expose: Vec<String>,
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    #[arg(long)]
    pub sysctl: Vec<String>,
    #[arg(long)]
    pub pid: Option<String>,
    #[arg(long)]
    pub ipc: Option<String>,
    #[arg(long)]
    pub uts: Option<String>,
    #[arg(long)]
    pub platform: Option<String>,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    #[command(flatten)]
    pub host: super::hostflags::HostFlags,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// docker's RAMInBytes: 64m, 1g, 512k, 100 (bytes); binary units.
/// `k=v` flags (`--label`, `-o`) as a map (`k` alone: an empty value).
pub fn key_values(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('p') => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| anyhow!("invalid size: '{s}'"))?;
    if n < 0.0 {
        bail!("invalid size: '{s}'");
    }
    Ok((n * mult as f64) as i64)
}

/// Go durations: 1h2m3s, 500ms, 1.5s.
pub fn parse_duration_ns(s: &str) -> Result<i64> {
    engine::logs::parse_go_duration(s).ok_or_else(|| anyhow!("invalid duration: {s:?}"))
}

/// KEY=VALUE lines of an --env-file / --label-file (comments and blanks skipped; a bare KEY
/// takes the value from our environment, as docker does for env files).
/// `--env-file` files then `-e` values, as `run`, `create` and `exec` take them: a bare `KEY`
/// takes its value from our environment (and is left out when unset).
pub fn env_list(env_files: &[String], env: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in env_files {
        out.extend(read_kv_file(p, true)?);
    }
    for e in env {
        if e.contains('=') {
            out.push(e.clone());
        } else if let Ok(v) = std::env::var(e) {
            out.push(format!("{e}={v}"));
        }
    }
    Ok(out)
}

fn read_kv_file(path: &str, from_env: bool) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.contains('=') {
            let (k, _) = l.split_once('=').expect("checked");
            if k.is_empty() || k.contains(char::is_whitespace) {
                bail!("{path}:{}: variable '{k}' contains whitespaces", i + 1);
            }
            out.push(l.to_string());
        } else if from_env {
            if let Ok(v) = std::env::var(l.trim()) {
                out.push(format!("{}={v}", l.trim()));
            }
        } else {
            out.push(format!("{}=", l.trim()));
        }
    }
    Ok(out)
}

pub fn parse_ulimit(s: &str) -> Result<Ulimit> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid ulimit argument: {s}"))?;
    if !engine::spec::ULIMIT_NAMES.contains(&name) {
        bail!("invalid ulimit type: {name}");
    }
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (a, b),
        None => (vals, vals),
    };
    let p = |v: &str| -> Result<i64> {
        v.parse()
            .map_err(|_| anyhow!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = (p(soft)?, p(hard)?);
    if soft > hard && hard != -1 {
        bail!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
    }
    Ok(Ulimit {
        name: name.into(),
        soft,
        hard,
    })
}

pub fn parse_restart(s: &str) -> Result<RestartPolicy> {
    let (name, n) = match s.split_once(':') {
        Some((a, b)) => (
            a,
            b.parse::<i64>().map_err(|_| {
                anyhow!("invalid restart policy format: maximum retry count must be an integer")
            })?,
        ),
        None => (s, 0),
    };
    Ok(RestartPolicy {
        name: name.into(),
        maximum_retry_count: n,
    })
}

fn parse_mount(s: &str) -> Result<MountSpec> {
    let mut m = MountSpec {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut tmpfs = TmpfsOptions::default();
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
            None => (field.trim().to_ascii_lowercase(), String::new()),
        };
        match k.as_str() {
            "type" => m.kind = v,
            "source" | "src" => m.source = v,
            "target" | "destination" | "dst" => m.target = v,
            "readonly" | "ro" => m.read_only = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => tmpfs.size_bytes = parse_bytes(&v)?,
            "tmpfs-mode" => {
                tmpfs.mode = u32::from_str_radix(&v, 8)
                    .map_err(|_| anyhow!("invalid value for tmpfs-mode: {v}"))?
            }
            "bind-propagation" | "consistency" | "volume-nocopy" | "volume-driver"
            | "volume-label" | "volume-opt" => {}
            _ => bail!("invalid argument for --mount: unexpected key '{k}' in '{field}'"),
        }
    }
    if m.target.is_empty() {
        bail!("invalid argument for --mount: target is required");
    }
    if m.kind == "bind" && m.source.is_empty() {
        bail!("invalid argument for --mount: source is required when type is bind");
    }
    if m.kind == "tmpfs" {
        m.tmpfs_options = Some(tmpfs);
    }
    Ok(m)
}

fn parse_publish(specs: &[String]) -> Result<BTreeMap<String, Vec<PortBinding>>> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for s in specs {
        let (addr, proto) = match s.rsplit_once('/') {
            Some((a, p)) => (a, p),
            None => (s.as_str(), "tcp"),
        };
        let parts: Vec<&str> = addr.rsplitn(3, ':').collect();
        let (ip, host, cport) = match parts.as_slice() {
            [c] => ("", "", *c),
            [c, h] => ("", *h, *c),
            [c, h, ip] => (*ip, *h, *c),
            _ => bail!("invalid publish spec: {s}"),
        };
        if cport.parse::<u16>().is_err() {
            bail!("invalid containerPort: {cport}");
        }
        out.entry(format!("{cport}/{proto}"))
            .or_default()
            .push(PortBinding {
                host_ip: ip.into(),
                host_port: host.into(),
            });
    }
    Ok(out)
}

/// Turn the flags + image + command into a create request.
pub fn to_request(
    f: &CreateFlags,
    image: &str,
    cmd: &[String],
) -> Result<engine::container::create::CreateRequest> {
    let env = env_list(&f.env_file, &f.env)?;
    let labels = labels(f)?;
    let healthcheck = healthcheck(f)?;
    let port_bindings = parse_publish(&f.publish)?;
    let config = Config {
        hostname: f.hostname.clone().unwrap_or_default(),
        domainname: f.domainname.clone().unwrap_or_default(),
        user: f.user.clone().unwrap_or_default(),
        attach_stdin: f.interactive,
        attach_stdout: true,
        attach_stderr: true,
        exposed_ports: exposed_ports(f, &port_bindings),
        tty: f.tty,
        open_stdin: f.interactive,
        stdin_once: false,
        env,
        cmd: if cmd.is_empty() {
            None
        } else {
            Some(cmd.to_vec())
        },
        healthcheck,
        image: image.to_string(),
        volumes: None,
        working_dir: f.workdir.clone().unwrap_or_default(),
        entrypoint: f.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            }
        }),
        labels,
        stop_signal: f.stop_signal.clone(),
        stop_timeout: f.stop_timeout,
        mac_address: f.mac_address.clone().unwrap_or_default(),
    };
    let mut host_config = HostConfig {
        log_config: log_config(f)?,
        restart_policy: f
            .restart
            .as_deref()
            .map(parse_restart)
            .transpose()?
            .unwrap_or_default(),
        auto_remove: f.rm,
        init: if f.init { Some(true) } else { None },
        runtime: f.runtime.clone().unwrap_or_default(),
        ..Default::default()
    };
    network_settings(f, port_bindings, &mut host_config);
    mount_settings(f, &mut host_config)?;
    security_settings(f, &mut host_config)?;
    resource_settings(f, &mut host_config)?;
    super::hostflags::apply(&f.host, &mut host_config)?;
    Ok(engine::container::create::CreateRequest {
        name: f.name.clone(),
        config,
        host_config,
        network_aliases: f.network_alias.clone(),
        ip: f.ip.clone(),
        endpoint: engine::net::EndpointSpec {
            ip6: f.ip6.clone(),
            link_local_ips: f.link_local_ip.clone(),
            // as docker's CLI: on a user network the links are the endpoint's (DNS aliases)
            links: if user_network(f) {
                f.link.clone()
            } else {
                vec![]
            },
            ..Default::default()
        },
        throwaway_layer: false,
    })
}

/// `--network` names a user-defined network.
fn user_network(f: &CreateFlags) -> bool {
    f.network
        .as_deref()
        .is_some_and(|n| !engine::net::is_default(n) && !engine::net::is_special(n))
}

/// `--label-file` then `--label` (a later one wins).
fn labels(f: &CreateFlags) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for p in &f.label_file {
        for l in read_kv_file(p, false)? {
            let (k, v) = l.split_once('=').expect("kv");
            labels.insert(k.to_string(), v.to_string());
        }
    }
    for l in &f.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(labels)
}

/// `--no-healthcheck`, or the `--health-*` flags over the image's check.
fn healthcheck(f: &CreateFlags) -> Result<Option<HealthConfig>> {
    if f.no_healthcheck {
        return Ok(Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }));
    }
    if f.health_cmd.is_none()
        && f.health_interval.is_none()
        && f.health_timeout.is_none()
        && f.health_retries.is_none()
        && f.health_start_period.is_none()
    {
        return Ok(None);
    }
    let d = |o: &Option<String>| -> Result<i64> {
        o.as_deref()
            .map(parse_duration_ns)
            .transpose()
            .map(|v| v.unwrap_or(0))
    };
    Ok(Some(HealthConfig {
        test: f
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()])
            .unwrap_or_default(),
        interval: d(&f.health_interval)?,
        timeout: d(&f.health_timeout)?,
        retries: f.health_retries.unwrap_or(0),
        start_period: d(&f.health_start_period)?,
        start_interval: d(&f.health_start_interval)?,
    }))
}

/// `--expose` and the container side of `--publish`.
fn exposed_ports(
    f: &CreateFlags,
    port_bindings: &BTreeMap<String, Vec<PortBinding>>,
) -> Option<BTreeMap<String, serde_json::Value>> {
    let mut exposed = BTreeMap::new();
    for e in &f.expose {
        let p = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(p, serde_json::json!({}));
    }
    for k in port_bindings.keys() {
        exposed.insert(k.clone(), serde_json::json!({}));
    }
    if exposed.is_empty() {
        None
    } else {
        Some(exposed)
    }
}

/// `--log-driver` and `--log-opt`.
fn log_config(f: &CreateFlags) -> Result<LogConfig> {
    let mut log_opts = BTreeMap::new();
    for o in &f.log_opt {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid key/value pair format in log opts: {o}"))?;
        log_opts.insert(k.to_string(), v.to_string());
    }
    Ok(LogConfig {
        kind: f.log_driver.clone().unwrap_or_default(),
        config: log_opts,
    })
}

/// `--network`, `--publish(-all)`, `--dns*`, `--add-host`.
fn network_settings(
    f: &CreateFlags,
    port_bindings: BTreeMap<String, Vec<PortBinding>>,
    hc: &mut HostConfig,
) {
    hc.network_mode = f.network.clone().unwrap_or_default();
    hc.port_bindings = port_bindings;
    hc.publish_all_ports = f.publish_all;
    hc.dns = f.dns.clone();
    hc.dns_options = f.dns_option.clone();
    hc.dns_search = f.dns_search.clone();
    hc.extra_hosts = f.add_host.clone();
    hc.links = Some(f.link.clone()).filter(|l| !l.is_empty());
}

/// `--volume`, `--mount`, `--tmpfs`, `--read-only`.
fn mount_settings(f: &CreateFlags, hc: &mut HostConfig) -> Result<()> {
    hc.binds = f.volume.clone();
    hc.mounts = f
        .mount
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<_>>()?;
    let mut tmpfs = BTreeMap::new();
    for t in &f.tmpfs {
        let (p, o) = t.split_once(':').unwrap_or((t.as_str(), ""));
        tmpfs.insert(p.to_string(), o.to_string());
    }
    hc.tmpfs = tmpfs;
    hc.readonly_rootfs = f.read_only;
    Ok(())
}

/// Privileges and namespaces: capabilities, `--privileged`, `--security-opt`,
/// `--group-add`, `--sysctl`, `--ipc`/`--pid`/`--uts`.
fn security_settings(f: &CreateFlags, hc: &mut HostConfig) -> Result<()> {
    let mut sysctls = BTreeMap::new();
    for s in &f.sysctl {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid argument \"{s}\" for \"--sysctl\" flag"))?;
        sysctls.insert(k.to_string(), v.to_string());
    }
    hc.sysctls = sysctls;
    hc.cap_add = f.cap_add.clone();
    hc.cap_drop = f.cap_drop.clone();
    hc.privileged = f.privileged;
    hc.security_opt = f.security_opt.clone();
    hc.group_add = f.group_add.clone();
    hc.ipc_mode = f.ipc.clone().unwrap_or_default();
    hc.pid_mode = f.pid.clone().unwrap_or_default();
    hc.uts_mode = f.uts.clone().unwrap_or_default();
    Ok(())
}

/// Limits: memory, swap, cpus, pids, OOM, `--shm-size`, `--ulimit`.
fn resource_settings(f: &CreateFlags, hc: &mut HostConfig) -> Result<()> {
    hc.memory = f
        .memory
        .as_deref()
        .map(|m| {
            parse_bytes(m).map_err(|_| {
                anyhow!("invalid argument \"{m}\" for \"-m, --memory\" flag: invalid size: '{m}'")
            })
        })
        .transpose()?
        .unwrap_or(0);
    hc.memory_swap = match f.memory_swap.as_deref() {
        Some("-1") => -1,
        Some(s) => parse_bytes(s).map_err(|_| {
            anyhow!("invalid argument \"{s}\" for \"--memory-swap\" flag: invalid size: '{s}'")
        })?,
        None => 0,
    };
    hc.nano_cpus = match f.cpus.as_deref() {
        Some(c) => {
            let v: f64 = c
                .parse()
                .map_err(|_| anyhow!("invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number"))?;
            (v * 1e9) as i64
        }
        None => 0,
    };
    hc.shm_size = f
        .shm_size
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    hc.memory_reservation = f
        .memory_reservation
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    hc.ulimits = f
        .ulimit
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<Result<_>>()?;
    hc.cpu_shares = f.cpu_shares.unwrap_or(0);
    hc.cpu_period = f.cpu_period.unwrap_or(0);
    hc.cpu_quota = f.cpu_quota.unwrap_or(0);
    hc.cpuset_cpus = f.cpuset_cpus.clone().unwrap_or_default();
    hc.cpuset_mems = f.cpuset_mems.clone().unwrap_or_default();
    hc.oom_score_adj = f.oom_score_adj.unwrap_or(0);
    hc.oom_kill_disable = if f.oom_kill_disable { Some(true) } else { None };
    hc.pids_limit = f.pids_limit;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512K").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_duration_ns("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration_ns("500ms").unwrap(), 500_000_000);
        assert!(parse_duration_ns("5x").is_err());
    }

    #[test]
    fn ulimits_restart_mounts_ports() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile=10:5").is_err());
        let r = parse_restart("on-failure:3").unwrap();
        assert_eq!((r.name.as_str(), r.maximum_retry_count), ("on-failure", 3));
        let m = parse_mount("type=bind,source=/x,target=/y,readonly").unwrap();
        assert!(m.read_only && m.kind == "bind");
        assert!(parse_mount("type=bind,target=/y").is_err());
        let p = parse_publish(&["127.0.0.1:8080:80/udp".into(), "81".into()]).unwrap();
        assert_eq!(p["80/udp"][0].host_port, "8080");
        assert_eq!(p["80/udp"][0].host_ip, "127.0.0.1");
        assert!(p.contains_key("81/tcp"));
    }
}
