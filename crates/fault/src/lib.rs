//! Named crash points for the fault battery (tests/tests/faults.rs).
//!
//! `BERTH_FAULT_POINT=NAME` in the environment of a berth process (the CLI, `berth serve`, or
//! the monitors and helpers they start, which inherit it) makes that process SIGKILL itself
//! when it reaches `point("NAME")`: the battery crashes each step of run, rm, network connect,
//! pull and build exactly there, then checks the next command sees the truth. Without the
//! variable a point costs one environment lookup, read once per process.
//!
//! The points, in the order a run, an rm, a connect, a pull or a build passes them:
//! `create.recorded`, `start.prepared`, `monitor.runtime-created`, `monitor.network-up`,
//! `monitor.started`, `monitor.running`, `start.returned`; `rm.marked`,
//! `destroy.runtime-deleted`, `destroy.snapshot-removed`; `connect.plugged`;
//! `pull.mid-blob`; `build.mid-step`, `build.step-ran`.

use std::sync::OnceLock;

/// The variable naming the point to crash at.
pub const ENV: &str = "BERTH_FAULT_POINT";

/// SIGKILL this process if `name` is the point `BERTH_FAULT_POINT` names.
pub fn point(name: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    if wanted.as_deref() == Some(name) {
        // SAFETY: kill(2) of our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
