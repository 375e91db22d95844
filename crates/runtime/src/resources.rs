//! Where resource limits meet the lifecycle, through the `cgroups` crate: `prepare` runs in
//! `create` around the clone of the container process, which is in its cgroup before it runs
//! any container code ([`Prepared`]); `join`
//! puts an exec'd process in the container's cgroup; `destroy` runs in `delete`. Each command is
//! its own process, so the manager is rebuilt from the stored spec's cgroupsPath and the id.

use crate::error::{Error, Result};
use crate::state::ContainerState;
use cgroups::CgroupManager;
use oci_spec::runtime::Spec;

fn err(e: cgroups::Error) -> Error {
    match e {
        // A limit the spec gets wrong or the host cannot apply: runc's wording, which engines
        // and scripts tell from a failure of the host.
        cgroups::Error::InvalidResource { .. } | cgroups::Error::Unsupported { .. } => {
            Error::Other(format!("invalid configuration: cgroups: {e}"))
        }
        e => Error::Other(format!("cgroups: {e}")),
    }
}

/// The cgroup manager of `spec`'s container, on a host layout detected beforehand (`None`:
/// detect it now).
fn manager_on(
    layout: Option<&cgroups::Layout>,
    spec: &Spec,
    id: &str,
) -> Result<Box<dyn CgroupManager>> {
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
    match layout {
        Some(l) => cgroups::manager_with_layout(l, &path, id),
        None => cgroups::manager(&path, id),
    }
    .map_err(err)
}

fn manager_of(st: &ContainerState) -> Result<Box<dyn CgroupManager>> {
    manager_of_on(created_layout(&st.id).as_ref(), st)
}

/// The host layout the last container created in this process was made on. A process that
/// creates a container and later deletes it (`run`, a monitor) reuses it instead of reading
/// /proc/self/mountinfo again, which has a line per container: 7-13 ms with 1,000 of them.
/// (Only for that container: a long-lived caller such as the API server never caches one.)
static CREATED: std::sync::Mutex<Option<(String, cgroups::Layout)>> = std::sync::Mutex::new(None);

/// Records the layout container `id` is being created on (see [`CREATED`]).
fn remember_layout(id: &str, layout: &cgroups::Layout) {
    if let Ok(mut c) = CREATED.lock() {
        *c = Some((id.to_string(), layout.clone()));
    }
}

fn created_layout(id: &str) -> Option<cgroups::Layout> {
    let c = CREATED.lock().ok()?;
    c.as_ref().filter(|(i, _)| i == id).map(|(_, l)| l.clone())
}

fn manager_of_on(
    layout: Option<&cgroups::Layout>,
    st: &ContainerState,
) -> Result<Box<dyn CgroupManager>> {
    let spec: Spec = serde_json::from_value(st.config.clone())
        .map_err(|e| Error::Other(format!("stored spec of {}: {e}", st.id)))?;
    manager_on(layout, &spec, &st.id)
}

/// The device cgroup rules of the spec, followed by what runc appends for every container:
/// creating nodes, the runtime-spec default devices, /dev/pts/*, /dev/ptmx and /dev/net/tun
/// (engines like podman send only "deny all" and rely on this). The spec's `linux.devices`
/// get no rule of their own, as in runc: a node the spec creates is usable only when the
/// resources allow it (and a fifo, type `p`, is no business of the device cgroup).
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
            (1, 8),
            (1, 7),
            (5, 0),
            (1, 5),
            (1, 9),
            (5, 2),
            (10, 200),
        ] {
            rules.push(allow("c", Some(major), Some(minor), "rwm"));
        }
        rules.push(allow("c", Some(136), None, "rwm"));
    }
    serde_json::from_value(r).ok()
}

/// The container's cgroup, made and limited before its process runs any container code: in
/// two steps around the clone (see [`prepare`]).
pub struct Prepared {
    pub manager: Box<dyn CgroupManager>,
    /// Made before the clone: the v2 directory the process is cloned into (a pure v2 host's
    /// cgroup, a hybrid host's unified hierarchy directory); made in one step (see [`prepare`]),
    /// the whole cgroup's entry, its v1 hierarchies' `tasks` files included.
    target: Option<cgroups::Entry>,
    /// Made by [`Prepared::complete`]: the v1 hierarchies the process enters by itself (see
    /// [`Prepared::tasks`]).
    join: Option<cgroups::Entry>,
    /// False for a rootless container that runs without a cgroup.
    made: bool,
    /// What [`Prepared::complete`] still has to make and limit.
    pending: bool,
}

impl Prepared {
    /// The v2 cgroup directory to clone the process into.
    pub fn clone_into(&self) -> Option<std::os::fd::RawFd> {
        self.target.as_ref().and_then(|e| e.v2_fd())
    }

    /// After the clone, before the process goes on: the rest of the cgroup (a v1 or hybrid
    /// host's hierarchies) made and limited, while the process sets up its mounts.
    pub fn complete(&mut self, spec: &Spec) -> Result<()> {
        if !std::mem::take(&mut self.pending) {
            return Ok(());
        }
        self.made = make_and_limit(self.manager.as_ref(), spec)?;
        if self.made {
            self.join = self.manager.entry();
        }
        Ok(())
    }

    /// The v1 hierarchies' `tasks` files for the process to enter by itself (path, fd), sent
    /// with its go-ahead; empty where the runtime moves it ([`enter`](Self::enter)).
    pub fn tasks(&self) -> Vec<(&std::path::Path, std::os::fd::RawFd)> {
        self.target
            .iter()
            .chain(&self.join)
            .flat_map(|e| e.tasks())
            .collect()
    }

    /// After [`complete`](Self::complete), in the runtime: moves `pid` into what it does not
    /// enter by itself. `cloned_into`: the clone put it in the v2 directory.
    pub fn enter(&self, pid: i32, cloned_into: bool) -> Result<()> {
        let r = match (self.made, &self.target, &self.join) {
            (false, _, _) => Ok(()),
            // nothing it can enter by itself (fake trees of tests): the slow way
            (true, None, None) => self.manager.apply(pid),
            // the v2 directory it was not cloned into (a hybrid host's unified hierarchy)
            (true, t, j) if !cloned_into => match t.as_ref().or(j.as_ref()) {
                Some(e) => e.apply_v2(pid),
                None => Ok(()),
            },
            (true, _, _) => Ok(()),
        };
        r.map_err(err)
    }
}

/// Before the clone of the container's process: the manager, and on a pure v2 host (or for a
/// rootless runtime) the whole cgroup, made and limited; elsewhere only the unified
/// hierarchy's directory to clone it into, the rest made by [`Prepared::complete`] after the
/// clone, while the process mounts (it enters no hierarchy before its go-ahead, and runs no
/// container code before then).
/// `layout`: the host's, detected beforehand (None: detect it now); a delete of the container
/// in this process reuses it.
pub fn prepare(spec: &Spec, id: &str, layout: Option<&cgroups::Layout>) -> Result<Prepared> {
    if let Some(l) = layout {
        remember_layout(id, l);
    }
    let m = manager_on(layout, spec, id)?;
    // The init would be frozen as soon as it joins, and `create` would wait for it forever.
    // The cgroup may be the user's own (a cgroupsPath): say so and leave it as it is, before
    // anything is created (as runc: no directories of ours are left behind).
    if matches!(
        m.state(),
        Ok(cgroups::FreezerState::Frozen | cgroups::FreezerState::Freezing)
    ) {
        return Err(Error::Other(format!(
            "cgroups: container's cgroup unexpectedly frozen: {} (thaw it first: runc resume, or \
             write THAWED to its freezer.state)",
            spec.linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().as_ref())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| id.to_string())
        )));
    }
    // (rootless: in one step, so a cgroup it cannot make leaves no unified directory behind)
    if m.mode() == cgroups::Mode::V2 || crate::util::rootless() {
        let made = make_and_limit(m.as_ref(), spec)?;
        let target = if made { m.entry() } else { None };
        return Ok(Prepared {
            manager: m,
            target,
            join: None,
            made,
            pending: false,
        });
    }
    let target = m.create_clone_target().map_err(err)?;
    Ok(Prepared {
        manager: m,
        target,
        join: None,
        made: true,
        pending: true,
    })
}

/// Creates the cgroup and sets the spec's limits; false for a rootless container that runs
/// without one.
fn make_and_limit(m: &dyn CgroupManager, spec: &Spec) -> Result<bool> {
    if let Err(e) = m.create() {
        rootless_without_cgroup(spec, e)?;
        return Ok(false);
    }
    // As runc: sharing a cgroup with other processes works, but `pause`, `kill --all` and
    // `delete` will act on them too.
    if let Ok(pids) = m.pids() {
        if !pids.is_empty() {
            crate::log::warn(&format!(
                "container's cgroup is not empty: {} process(es) found",
                pids.len()
            ));
        }
    }
    if let Some(mut r) = with_default_devices(spec) {
        if crate::util::rootless() {
            // no device cgroup in a user namespace (runc's rule): nothing in it can make a
            // device node, those bound from the host are guarded by the user's own access
            // to them, and a plain user may load no cgroup eBPF program (v2) nor write
            // devices.deny (v1)
            r.set_devices(None);
        }
        if let Err(e) = m.set(&r) {
            let _ = m.delete();
            return Err(err(e));
        }
    }
    Ok(true)
}

/// A cgroup the runtime may not create: for a rootless runtime (a plain user, or root of a
/// user namespace) on cgroup v1, or v2 without a delegated subtree, the container runs without
/// one when the spec asks for no limits (runc's rule); limits it cannot apply are refused,
/// never dropped. Anyone else gets the error as it is.
fn rootless_without_cgroup(spec: &Spec, e: cgroups::Error) -> Result<()> {
    let denied = matches!(&e, cgroups::Error::Mkdir { source, .. }
        if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS)));
    if !denied || !crate::util::rootless() {
        return Err(err(e));
    }
    match limits_set(spec) {
        None => Ok(()),
        Some(what) => Err(Error::Other(format!(
            "rootless container: cannot apply linux.resources.{what}: {e} (cgroup v1 cannot be \
             delegated to a plain user; limits need cgroup v2 with a subtree delegated to the \
             user)"
        ))),
    }
}

/// The first resource limit the spec sets, as its spec field.
pub fn limits_set(spec: &Spec) -> Option<String> {
    first_limit(spec.linux().as_ref()?.resources().as_ref()?)
}

/// The first limit in `r` (as its field name), leaving out what limits nothing: device rules
/// (a rootless container cannot create device nodes anyway, the runtime binds them from the
/// host), `memory.disableOOMKiller: false` and `memory.swap: -1` (docker's CLI sends both).
pub fn first_limit(r: &oci_spec::runtime::LinuxResources) -> Option<String> {
    use serde_json::Value;
    let mut v = serde_json::to_value(r).ok()?;
    if let Some(m) = v.get_mut("memory").and_then(Value::as_object_mut) {
        m.retain(|k, v| match k.as_str() {
            "disableOOMKiller" => v != &Value::Bool(false),
            "swap" => v.as_i64() != Some(-1),
            _ => !v.is_null(),
        });
    }
    v.as_object()?
        .iter()
        .filter(|(k, _)| k.as_str() != "devices")
        .find(|(_, v)| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => o.values().any(|x| !x.is_null()),
            _ => true,
        })
        .map(|(k, _)| k.clone())
}

/// Put an exec'd process in the container's cgroup, or in the sub-cgroups `subs` of it (runc's
/// `exec --cgroup [<controller>[,<controller>]:]<path>`; a path without controllers is for
/// every hierarchy). Sub-cgroups must exist; hierarchies not named join the container's own.
pub fn join_sub(state: &ContainerState, pid: i32, subs: &[String]) -> Result<()> {
    let m = manager_of(state)?;
    if subs.is_empty() {
        if crate::util::rootless() && m.paths().iter().all(|(_, d)| !d.exists()) {
            // created without a cgroup (see rootless_without_cgroup)
            return Ok(());
        }
        return m.apply(pid).map_err(err);
    }
    let paths = m.paths();
    let wanted = parse_sub_cgroups(subs, &paths)?;
    for (key, dir) in &paths {
        let sub = wanted
            .get("")
            .or_else(|| key.split(',').find_map(|c| wanted.get(c)));
        let target = match sub {
            Some(sub) => dir.join(sub_cgroup_path(sub)?),
            None => dir.clone(),
        };
        let procs = target.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string()).map_err(|e| {
            Error::Other(format!(
                "adding pid {pid} to cgroups: open {}: {}",
                procs.display(),
                crate::util::errno_text(&e)
            ))
        })?;
    }
    Ok(())
}

/// `--cgroup` arguments → controller (or "" for all) → path, checking the controllers exist.
fn parse_sub_cgroups(
    subs: &[String],
    paths: &[(String, std::path::PathBuf)],
) -> Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    for s in subs {
        match s.split_once(':') {
            None if subs.len() == 1 => {
                out.insert(String::new(), s.clone());
            }
            None => {
                return Err(Error::Other(format!(
                    "invalid --cgroup argument: {s} (missing <controller>: prefix)"
                )))
            }
            Some((_, p)) if p.contains(':') => {
                return Err(Error::Other(format!("invalid --cgroup argument: {s}")))
            }
            Some((ctrls, p)) => {
                for c in ctrls.split(',') {
                    if !paths.iter().any(|(k, _)| k.split(',').any(|x| x == c)) {
                        return Err(Error::Other(format!("unknown controller {c:?}")));
                    }
                    out.insert(c.to_string(), p.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// A sub-cgroup path made relative, refusing any that leaves the container's cgroup.
fn sub_cgroup_path(sub: &str) -> Result<std::path::PathBuf> {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in std::path::Path::new(sub).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if out.pop() => {}
            Component::ParentDir => {
                return Err(Error::Other(format!(
                    "bad sub cgroup path: {sub} is not a sub cgroup path"
                )))
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
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

/// The cgroup's statistics, in runc's field names, with the OOM-kill count (`memory.oomKill`).
pub fn stats(state: &ContainerState) -> Result<serde_json::Value> {
    stats_on(None, state)
}

/// [`stats`] on a host layout detected once for many containers (`None`: detect it now).
/// Detecting reads /proc/self/mountinfo, which has a line per container's rootfs: `stats` of
/// 1,000 containers read it 2,000 times, 72 s of a 1,000-container `berth stats --no-stream`.
pub fn stats_on(
    layout: Option<&cgroups::Layout>,
    state: &ContainerState,
) -> Result<serde_json::Value> {
    let s = manager_of_on(layout, state)?.stats().map_err(err)?;
    serde_json::to_value(s).map_err(|e| Error::Other(e.to_string()))
}

/// The `data` of runc's `events` stats lines: [`stats`] without the OOM-kill count, which
/// runc's stats do not have. OOMs are events of their own (`{"type":"oom"}`), and scripts
/// (runc's suite among them) take any line that mentions "oom" for one.
pub fn event_stats(state: &ContainerState) -> Result<serde_json::Value> {
    let mut v = stats(state)?;
    if let Some(m) = v.get_mut("memory").and_then(|m| m.as_object_mut()) {
        m.remove("oomKill");
    }
    Ok(v)
}

/// Watches the container's cgroup for OOM kills (see [`wait_oom`]). Kept across waits, so an
/// OOM between two waits is not missed.
pub fn oom_watcher(state: &ContainerState) -> Result<cgroups::OomWatcher> {
    manager_of(state)?.oom_events().map_err(err)
}

/// Wait up to `timeout` for an OOM kill in the container's cgroup: Some(true) on OOM,
/// Some(false) on timeout, None once the cgroup is gone.
pub fn wait_oom(w: &mut cgroups::OomWatcher, timeout: std::time::Duration) -> Result<Option<bool>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A cgroup made in one step before the clone (a rootless runtime's on v1) hands its v1
    /// hierarchies' `tasks` files to the process all the same: without them it would run
    /// outside them, its limits not applied.
    #[test]
    fn a_cgroup_made_in_one_step_hands_its_tasks_files_over() {
        let Ok(manager) = manager_on(None, &Spec::default(), "berth-unit-prepared") else {
            return;
        };
        let f = std::fs::File::open("/dev/null").unwrap();
        let entry = cgroups::Entry::from_tasks(vec![("/cg/pids/x/tasks".into(), f)]);
        let p = Prepared {
            manager,
            target: Some(entry),
            join: None,
            made: true,
            pending: false,
        };
        let tasks = p.tasks();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].0, std::path::Path::new("/cg/pids/x/tasks"));
    }
}
