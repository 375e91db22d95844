//! The image config merged into a container's Config at create, its Path/Args, the create-time
//! HostConfig defaults and the process environment.

use super::{DEFAULT_PATH, DEFAULT_SHM_SIZE};
use crate::error::{Error, Result};
use crate::types::{Config, Container, HealthConfig, HostConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;

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

pub(super) fn process_env(c: &Container) -> Vec<String> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", c.config.hostname),
    ];
    if c.config.tty {
        base.push("TERM=xterm".into());
    }
    replace_or_append_env(base, &c.config.env)
}
