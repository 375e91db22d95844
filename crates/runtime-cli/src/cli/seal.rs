//! CVE-2019-5736: a container must never be able to open the runtime binary for writing through
//! /proc/<pid>/exe of a runtime process that entered it. Before creating or entering a
//! container, the runtime re-executes from a view of its binary nothing can write through: a
//! private read-only overlayfs, or where that cannot be mounted a sealed in-memory copy (see
//! `runtime::exe_view`). Every process in the container then has /proc/self/exe on that view.

/// The sealed copy's name, shown in /proc/<pid>/exe as `/memfd:NAME`.
const NAME: &str = "berth-runtime-sealed";

/// Re-execute ourselves from a protected view unless we already run from one. Only returns on
/// error.
pub fn reexec_sealed() -> anyhow::Result<()> {
    Ok(runtime::exe_view::reexec_protected(NAME)?)
}
