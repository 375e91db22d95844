//! End-to-end suite of the docker-compatible `berth` container commands,
//! written against docker's behaviour: every test types what a user types
//! and asserts what a user sees (stdout, stderr, exit codes).
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same suite
//! against a real docker daemon (the reference); unset/`berth` runs
//! `$BERTH_BIN` (default `$CARGO_TARGET_DIR/debug/berth`) with a private
//! `--root` per test.  Needs root.

use std::time::{Duration, Instant};

use berth_e2e::engine::{cgroup_cpu_usage_ns, pid_alive, pids_with_cmdline, Engine};
use berth_e2e::{berth_only, engine};

const LOOP_LINES: &str = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done";

/// Container CPU use in % of one core over `dur`, and the host's idle cores
/// meanwhile.
fn sample_cpu(pid: i32, dur: Duration) -> (f64, f64) {
    let host_idle = || -> f64 {
        let st = std::fs::read_to_string("/proc/stat").unwrap();
        let f: Vec<f64> = st
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        // idle + iowait, in USER_HZ (100/s)
        (f[3] + f[4]) / 100.0
    };
    let u0 = cgroup_cpu_usage_ns(pid).expect("cpu usage of the container's cgroup");
    let i0 = host_idle();
    let t0 = Instant::now();
    std::thread::sleep(dur);
    let u1 = cgroup_cpu_usage_ns(pid).unwrap();
    let i1 = host_idle();
    let secs = t0.elapsed().as_secs_f64();
    ((u1 - u0) as f64 / 1e9 / secs * 100.0, (i1 - i0) / secs)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `2024-01-02T03:04:05.123456789Z` or with a `+hh:mm` offset.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

/// Column names of a table header: cells separated by 2+ spaces.
fn header_columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// A running `sleep` container named `short`; returns its full name.
#[track_caller]
fn run_sleeper(e: &Engine, short: &str, extra: &[&str]) -> String {
    let n = e.name(short);
    let mut args = vec!["run", "-d", "--name", &n];
    args.extend_from_slice(extra);
    let img = e.img().to_string();
    args.extend_from_slice(&[&img, "sleep", "100000"]);
    let id = e.ok(&args);
    assert!(
        is_hex64(id.trim()),
        "run -d must print the 64-hex id, got {id:?}"
    );
    n
}

mod commands;
mod interactive_config;
mod recovery;
mod resources;
mod run;
mod volumes_security;
