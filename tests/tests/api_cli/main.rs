//! The docker CLI (v28) through the Docker Engine API: `berth serve`, or a
//! private dockerd with `BERTH_TEST_ENGINE=docker` (the reference the suite is
//! validated against).  Every test starts its own server on its own socket and
//! state root (see `berth_e2e::api`), types what a user types and checks what
//! a user sees: exit codes, output, files, reachability.  Needs root.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use berth_e2e::api::{free_port, group_gid, group_name, ApiServer, ServerOptions};
use berth_e2e::cmd::Stdin;
use berth_e2e::{api_berth_only, api_server};
use serde_json::Value;

const SEC: Duration = Duration::from_secs(1);

/// A container that says `ready` once it traps SIGTERM (exit 0, printing
/// `got-term`) and USR1 (exit 42), then idles.
const TRAPPER: &str = "trap 'echo got-term; exit 0' TERM; trap 'exit 42' USR1; echo ready; \
                       while true; do sleep 0.1; done";

/// An httpd on port 80 serving `index.html` = TOKEN.
fn httpd_script(token: &str) -> String {
    format!("mkdir -p /www && echo {token} > /www/index.html && exec httpd -f -p 80 -h /www")
}

/// The columns of a table header (`CONTAINER ID   IMAGE ...`): split on runs
/// of two or more spaces.
fn header_columns(out: &str) -> Vec<String> {
    let first = out.lines().next().unwrap_or("");
    first
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The table line that mentions `needle`.
#[track_caller]
fn row<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .skip(1)
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in:\n{out}"))
}

fn lines(out: &str) -> Vec<String> {
    out.lines().map(|l| l.trim().to_string()).collect()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A busybox `sh` script that GETs `http://HOST/` with `nc` (Debian's static
/// busybox `wget` segfaults resolving names without glibc's NSS libraries in
/// the image), up to `tries` times 0.2 s apart, printing the body of a 200
/// answer; exit 1 if none came.
fn http_get_sh(host: &str, tries: u32) -> String {
    format!(
        "get() {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80 > /tmp/.resp 2>/dev/null \
         && grep -q '^HTTP/1.[01] 200' /tmp/.resp && tr -d '\\r' < /tmp/.resp | sed '1,/^$/d'; }}; \
         i=0; while [ $i -lt {tries} ]; do get && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
    )
}

/// curl http://127.0.0.1:PORT/ until it answers (or `timeout`); the body.
fn curl_until(s: &ApiServer, port: u16, timeout: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        let mut c = std::process::Command::new("curl");
        c.args(["-sS", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/"));
        let o = s.run(c, Stdin::Null, Duration::from_secs(10));
        if o.success() {
            return Some(o.stdout);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait until `docker logs NAME` contains `needle`.
#[track_caller]
fn wait_logs(s: &ApiServer, name: &str, needle: &str) {
    let start = Instant::now();
    loop {
        let o = s.docker(&["logs", name]);
        if o.stdout.contains(needle) {
            return;
        }
        if start.elapsed() > 15 * SEC {
            panic!("`docker logs {name}` never showed {needle:?}: {o:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

mod containers;
mod daemon;
mod images;
mod objects;
