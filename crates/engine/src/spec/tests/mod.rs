use super::resources::online_cpus;
use super::*;
use crate::error::Result;
use crate::types::{Config, Container, HealthConfig, HostConfig, Ulimit};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;

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

mod host_config;
mod merge;
mod user;
