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
//! `pull.mid-blob`; `build.mid-step`, `build.step-ran`, `image.kept-recorded` (a stage's layer
//! kept without a blob), `build.step-committed`, `build.snapshot-made`.
//!
//! The same points, and the timing-only [`mark`]s between them, log phase timings when
//! `BERTH_PHASES=FILE` is set: each appends `PID MONOTONIC_NS NAME` to FILE (the monitor and the
//! runtime's processes too, as they inherit the variable), so `bench/run-phases.sh` can break a
//! `berth run` down by phase. Without the variable a mark costs one environment lookup per
//! process.

use std::io::Write;
use std::sync::OnceLock;

/// The variable naming the point to crash at.
pub const ENV: &str = "BERTH_FAULT_POINT";

/// The variable naming a point to pause at, and for how long: `NAME:MS` makes the process
/// sleep MS milliseconds when it reaches `point("NAME")`, so a test can widen a race window.
pub const PAUSE_ENV: &str = "BERTH_FAULT_PAUSE";

/// The variable naming the file phase timings are appended to.
pub const PHASES_ENV: &str = "BERTH_PHASES";

/// Log reaching phase `name` to `BERTH_PHASES`' file, if set (one write of one line, so the
/// lines of concurrent processes never interleave).
pub fn mark(name: &str) {
    static FILE: OnceLock<Option<std::fs::File>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = std::env::var_os(PHASES_ENV).filter(|v| !v.is_empty())?;
        // close-on-exec (std's default): never inherited by a container's process
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    if let Some(mut f) = file.as_ref() {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into our timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let ns = ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128;
        let line = format!("{} {ns} {name}\n", std::process::id());
        let _ = f.write_all(line.as_bytes());
    }
}

/// SIGKILL this process if `name` is the point `BERTH_FAULT_POINT` names, after a pause if
/// `BERTH_FAULT_PAUSE` names it (and [`mark`] it).
pub fn point(name: &str) {
    mark(name);
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    static PAUSE: OnceLock<Option<(String, u64)>> = OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        let v = std::env::var(PAUSE_ENV).ok()?;
        let (point, ms) = v.rsplit_once(':')?;
        Some((point.to_string(), ms.parse().ok()?))
    });
    if let Some((_, ms)) = pause.as_ref().filter(|(p, _)| p == name) {
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
    if wanted.as_deref() == Some(name) {
        // SAFETY: kill(2) of our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
