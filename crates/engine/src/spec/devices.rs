//! `--device` (the host's device nodes made in the container and allowed by its device
//! cgroup) and the blkio flags (`--blkio-weight(-device)`, `--device-{read,write}-{bps,iops}`)
//! in their OCI form.

use super::resources::host_devices;
use crate::error::{Error, Result};
use crate::types::{DeviceMapping, HostConfig, ThrottleDevice};
use serde_json::{json, Map, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The spec's `linux.devices` entries and the device cgroup rules allowing them.
pub(super) fn devices(hc: &HostConfig) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for d in &hc.devices {
        for node in mapping_nodes(d)? {
            let perms = if d.cgroup_permissions.is_empty() {
                "rwm"
            } else {
                d.cgroup_permissions.as_str()
            };
            rules.push(json!({
                "allow": true,
                "type": node["type"],
                "major": node["major"],
                "minor": node["minor"],
                "access": perms,
            }));
            nodes.push(node);
        }
    }
    Ok((nodes, rules))
}

/// One mapping's nodes: the device itself, or every device below a directory (as docker maps
/// `--device /dev/snd`).
fn mapping_nodes(d: &DeviceMapping) -> Result<Vec<Value>> {
    let host = Path::new(&d.path_on_host);
    let inside = if d.path_in_container.is_empty() {
        host
    } else {
        Path::new(&d.path_in_container)
    };
    if !d
        .cgroup_permissions
        .chars()
        .all(|c| matches!(c, 'r' | 'w' | 'm'))
    {
        return Err(Error::Invalid(format!(
            "invalid device mode: {}",
            d.cgroup_permissions
        )));
    }
    let meta = std::fs::metadata(host).map_err(|e| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            d.path_on_host
        ))
    })?;
    if meta.is_dir() {
        let mut out = host_devices(host);
        for n in &mut out {
            let p = n["path"].as_str().unwrap_or_default().to_string();
            let rel = Path::new(&p).strip_prefix("/dev").unwrap_or(Path::new(&p));
            n["path"] = json!(inside.join(rel));
        }
        return Ok(out);
    }
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err(Error::Invalid(format!(
            "error gathering device information while adding custom device \"{}\": not a device node",
            d.path_on_host
        )));
    };
    let rdev = meta.rdev();
    Ok(vec![json!({
        "type": kind,
        "path": inside,
        "major": nix::sys::stat::major(rdev),
        "minor": nix::sys::stat::minor(rdev),
        "fileMode": meta.mode() & 0o777,
        "uid": meta.uid(),
        "gid": meta.gid(),
    })])
}

/// A block device's numbers, for the blkio flags.
fn block_numbers(path: &str, flag: &str) -> Result<(u64, u64)> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::Invalid(format!("{flag}: {path}: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(Error::Invalid(format!(
            "{flag}: {path} is not a block device"
        )));
    }
    let rdev = meta.rdev();
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

fn throttles(list: &[ThrottleDevice], flag: &str) -> Result<Vec<Value>> {
    list.iter()
        .map(|t| {
            let (major, minor) = block_numbers(&t.path, flag)?;
            Ok(json!({"major": major, "minor": minor, "rate": t.rate}))
        })
        .collect()
}

/// `linux.resources.blockIO`, or None when no blkio flag is set.
pub(crate) fn block_io(hc: &HostConfig) -> Result<Option<Value>> {
    let mut b = Map::new();
    if hc.blkio_weight != 0 {
        if !(10..=1000).contains(&hc.blkio_weight) {
            return Err(Error::Invalid(
                "Range of blkio weight is from 10 to 1000".into(),
            ));
        }
        b.insert("weight".into(), json!(hc.blkio_weight));
    }
    let mut weights = Vec::new();
    for w in &hc.blkio_weight_device {
        if !(10..=1000).contains(&w.weight) {
            return Err(Error::Invalid(format!(
                "invalid weight for device: {}: Range of blkio weight is from 10 to 1000",
                w.path
            )));
        }
        let (major, minor) = block_numbers(&w.path, "--blkio-weight-device")?;
        weights.push(json!({"major": major, "minor": minor, "weight": w.weight}));
    }
    for (key, list, flag) in [
        ("weightDevice", None, ""),
        (
            "throttleReadBpsDevice",
            Some(&hc.blkio_device_read_bps),
            "--device-read-bps",
        ),
        (
            "throttleWriteBpsDevice",
            Some(&hc.blkio_device_write_bps),
            "--device-write-bps",
        ),
        (
            "throttleReadIOPSDevice",
            Some(&hc.blkio_device_read_iops),
            "--device-read-iops",
        ),
        (
            "throttleWriteIOPSDevice",
            Some(&hc.blkio_device_write_iops),
            "--device-write-iops",
        ),
    ] {
        let v = match list {
            None => std::mem::take(&mut weights),
            Some(l) => throttles(l, flag)?,
        };
        if !v.is_empty() {
            b.insert(key.into(), json!(v));
        }
    }
    Ok((!b.is_empty()).then_some(Value::Object(b)))
}
