//! Conformance suite: what the OCI runtime spec (runtime.md, config.md,
//! config-linux.md) requires of a runtime, checked through the CLI and from
//! inside the container.
//!
//! Run against runc to validate the suite itself:
//!   BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test conformance
//! Checks that runc itself fails for a good reason are wrapped in
//! `runc_known_failure!` (a skip for runc only) with the reason next to them.

use berth_e2e::caps::parse_status_mask;
use berth_e2e::hooks::HookLog;
use berth_e2e::{cap_mask, runc_known_failure, test_env, Bundle, ConsoleSocket, TestEnv};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

/// A bundle whose process waits for `/go` in its rootfs, then exits 0.
fn waiting_bundle(env: &TestEnv, name: &str) -> Bundle {
    let mut b = env.bundle(name);
    b.sh("while [ ! -e /go ]; do sleep 0.05; done");
    b
}

fn release(b: &Bundle) {
    std::fs::write(b.rootfs().join("go"), "").unwrap();
}

/// Start a created container whose process waits for `/go`, let the process end, delete it.
fn start_to_end(env: &TestEnv, id: &str, b: &Bundle) {
    env.start(id).ok();
    release(b);
    env.wait_status(id, "stopped", 10 * SEC);
    env.delete(id).ok();
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn pid_ns(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Spec namespace type → /proc/PID/ns entry.
fn proc_ns_name(kind: &str) -> &'static str {
    match kind {
        "pid" => "pid",
        "network" => "net",
        "ipc" => "ipc",
        "uts" => "uts",
        "mount" => "mnt",
        "user" => "user",
        "cgroup" => "cgroup",
        other => panic!("unknown namespace {other}"),
    }
}

/// Per-mount options (field 6) of a mountinfo line.
fn mount_opts(line: &str) -> BTreeSet<String> {
    line.split(' ')
        .nth(5)
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect()
}

mod dev_paths;
mod hooks;
mod lifecycle;
mod mounts;
mod namespaces;
mod process;
