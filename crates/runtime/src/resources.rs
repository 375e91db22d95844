//! Where resource limits meet the lifecycle, through the `cgroups` crate: `apply` runs in
//! `create` after the container process exists and before it runs any container code; `join`
//! puts an exec'd process in the container's cgroup; `destroy` runs in `delete`. Each command is
//! its own process, so the manager is rebuilt from the stored spec's cgroupsPath and the id.

use crate::error::{Error, Result};
use crate::state::ContainerState;
use cgroups::CgroupManager;
use oci_spec::runtime::Spec;

fn err(e: cgroups::Error) -> Error {
    Error::Other(format!("cgroups: {e}"))
}

pub fn manager(spec: &Spec, id: &str) -> Result<Box<dyn CgroupManager>> {
    cgroups::set_warning_handler(crate::log::warn);
    let path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        // runc's default: a cgroup named after the container, under the runtime's own; nothing
        // of ours is left behind once it is deleted.
        .unwrap_or_else(|| id.to_string());
    cgroups::manager(&path, id).map_err(err)
}

fn manager_of(st: &ContainerState) -> Result<Box<dyn CgroupManager>> {
    let spec: Spec = serde_json::from_value(st.config.clone())
        .map_err(|e| Error::Other(format!("stored spec of {}: {e}", st.id)))?;
    manager(&spec, &st.id)
}

/// The device cgroup rules of the spec, followed by what every container must be able to use
/// (the runtime-spec default devices, /dev/pts, creating nodes, and the spec's own devices), as
/// runc appends them: engines like podman send only "deny all" and rely on this.
pub fn with_default_devices(spec: &Spec) -> Option<oci_spec::runtime::LinuxResources> {
    let linux = spec.linux().as_ref()?;
    let mut r = serde_json::to_value(linux.resources().as_ref()?).ok()?;
    if let Some(rules) = r
        .get_mut("devices")
        .and_then(|d| d.as_array_mut())
        .filter(|d| !d.is_empty())
    {
        let allow = |t: &str, major: Option<i64>, minor: Option<i64>, access: &str| serde_json::json!({"allow": true, "type": t, "major": major, "minor": minor, "access": access});
        rules.push(allow("c", None, None, "m"));
        rules.push(allow("b", None, None, "m"));
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ] {
            rules.push(allow("c", Some(major), Some(minor), "rwm"));
        }
        rules.push(allow("c", Some(136), None, "rwm"));
        for d in linux.devices().iter().flatten() {
            let t = serde_json::to_value(d.typ())
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| "c".into());
            rules.push(allow(&t, Some(d.major()), Some(d.minor()), "rwm"));
        }
    }
    serde_json::from_value(r).ok()
}

/// Create the container's cgroup, set the spec's limits and move `pid` into it.
pub fn apply(spec: &Spec, id: &str, pid: i32) -> Result<Box<dyn CgroupManager>> {
    let m = manager(spec, id)?;
    m.create().map_err(err)?;
    // The init would be frozen as soon as it joins, and `create` would wait for it forever.
    // The cgroup may be the user's own (a cgroupsPath): say so and leave it as it is.
    if matches!(
        m.state(),
        Ok(cgroups::FreezerState::Frozen | cgroups::FreezerState::Freezing)
    ) {
        return Err(Error::Other(format!(
            "cgroups: the container's cgroup {} is frozen: thaw it first (runc resume, or \
             write THAWED to its freezer.state)",
            spec.linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().as_ref())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| id.to_string())
        )));
    }
    let set = || -> Result<()> {
        if let Some(r) = with_default_devices(spec) {
            m.set(&r).map_err(err)?;
        }
        m.apply(pid).map_err(err)
    };
    if let Err(e) = set() {
        let _ = m.delete();
        return Err(e);
    }
    Ok(m)
}

pub fn join(state: &ContainerState, pid: i32) -> Result<()> {
    manager_of(state)?.apply(pid).map_err(err)
}

pub fn destroy(state: &ContainerState) -> Result<()> {
    manager_of(state)?.delete().map_err(err)
}

/// Every process in the container's cgroup (None when it cannot be read).
pub fn pids(state: &ContainerState) -> Option<Vec<i32>> {
    manager_of(state)
        .ok()?
        .pids()
        .ok()
        .filter(|p| !p.is_empty())
}

/// Change the limits of a running container (`update`).
pub fn update(state: &ContainerState, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    manager_of(state)?.set(resources).map_err(err)
}

/// runc-style `events --stats` data.
pub fn stats(state: &ContainerState) -> Result<serde_json::Value> {
    let s = manager_of(state)?.stats().map_err(err)?;
    serde_json::to_value(s).map_err(|e| Error::Other(e.to_string()))
}

/// Wait up to `timeout` for an OOM kill in the container's cgroup: Some(true) on OOM,
/// Some(false) on timeout, None once the cgroup is gone.
pub fn wait_oom(state: &ContainerState, timeout: std::time::Duration) -> Result<Option<bool>> {
    let mut w = manager_of(state)?.oom_events().map_err(err)?;
    match w.wait(Some(timeout)).map_err(err)? {
        cgroups::OomEvent::Oom(_) => Ok(Some(true)),
        cgroups::OomEvent::Timeout => Ok(Some(false)),
        cgroups::OomEvent::Gone => Ok(None),
    }
}

pub fn freeze(state: &ContainerState) -> Result<()> {
    manager_of(state)?.freeze().map_err(err)
}

pub fn thaw(state: &ContainerState) -> Result<()> {
    manager_of(state)?.thaw().map_err(err)
}
