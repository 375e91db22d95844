//! The place where resource limits meet the lifecycle: `apply` runs in `create` after the
//! container process exists and before it runs container code; `join` puts an exec'd process in
//! the container's cgroup; `destroy` runs in `delete`. Issue 3 wires the `cgroups` crate in here.

use crate::error::Result;
use crate::state::ContainerState;
use oci_spec::runtime::Spec;

pub fn apply(spec: &Spec, _pid: i32) -> Result<()> {
    let linux = spec.linux().as_ref();
    if linux.and_then(|l| l.resources().as_ref()).is_some() {
        crate::log::debug("linux.resources: cgroup limits are not applied by this build");
    }
    Ok(())
}

pub fn join(_state: &ContainerState, _pid: i32) -> Result<()> {
    Ok(())
}

pub fn destroy(_state: &ContainerState) -> Result<()> {
    Ok(())
}
