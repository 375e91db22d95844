//! End-to-end suite of `berth build`, written against docker's legacy
//! builder (`DOCKER_BUILDKIT=0`, docker 20.10): every test builds an image
//! from a Dockerfile in `tests/build-fixtures/<case>/` (or one it writes into
//! its temp dir), then inspects or runs the result as a user would.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same suite
//! against a real docker daemon (the reference); unset/`berth` runs
//! `$BERTH_BIN` (default `$CARGO_TARGET_DIR/debug/berth`) with a private
//! `--root` per test.  Needs root.  No registry: every Dockerfile starts
//! `ARG BASE` / `FROM ${BASE}` and gets `--build-arg BASE=<the harness's
//! imported busybox image>`.
//!
//! What docker's legacy builder cannot do (heredocs, `COPY --chmod`, skipping
//! stages the target does not need) is checked on berth only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_e2e::cmd::{Output, Stdin};
use berth_e2e::engine::Engine;
use berth_e2e::runtime::workspace_root;
use berth_e2e::{berth_only, engine};
use serde_json::{json, Value};

/// Timeout of one `build`.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// `tests/build-fixtures/<case>`.
fn fixture(case: &str) -> PathBuf {
    workspace_root().join("tests/build-fixtures").join(case)
}

/// A private copy of a fixture's context in the test's temp dir (tests
/// change files in it and add generated ones).
fn context(e: &Engine, case: &str) -> PathBuf {
    let dst = e.path().join(format!("ctx-{case}"));
    let st = Command::new("cp")
        .arg("-a")
        .arg(fixture(case))
        .arg(&dst)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {case} fixture failed");
    dst
}

/// A context directory in the test's temp dir holding just `files`.
fn context_with(e: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = e.path().join(format!("ctx-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// `ENGINE build --build-arg BASE=<busybox> ARGS...` (the context is among
/// `args`).  Against docker the legacy builder is forced.
fn build_args(e: &Engine, args: &[&str], stdin: Stdin<'_>) -> Output {
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "0");
    }
    let base = format!("BASE={}", e.img());
    let mut full = vec!["build", "--build-arg", &base];
    full.extend_from_slice(args);
    e.cmd_with(&full, stdin, BUILD_TIMEOUT)
}

fn build(e: &Engine, args: &[&str]) -> Output {
    build_args(e, args, Stdin::Null)
}

/// Build, assert exit 0, return stdout.
#[track_caller]
fn build_ok(e: &Engine, args: &[&str]) -> String {
    let o = build(e, args);
    assert!(o.success(), "build failed: {o:?}");
    o.stdout
}

/// Build, assert a non-zero exit, return stdout + stderr.
#[track_caller]
fn build_fails(e: &Engine, args: &[&str]) -> (Output, String) {
    let o = build(e, args);
    assert!(!o.success(), "build should have failed: {o:?}");
    let all = format!("{}\n{}", o.stdout, o.stderr);
    (o, all)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `image inspect -f {{json .Config.FIELD}}` parsed.
#[track_caller]
fn config_field(e: &Engine, image: &str, field: &str) -> Value {
    let f = format!("{{{{json .Config.{field}}}}}");
    let out = e.ok(&["image", "inspect", "-f", &f, image]);
    serde_json::from_str(out.trim())
        .unwrap_or_else(|err| panic!("{image}: .Config.{field} is not JSON ({err}): {out:?}"))
}

/// `run --rm IMAGE ARGS...` stdout, asserting exit 0.
#[track_caller]
fn run_out(e: &Engine, image: &str, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm", image];
    a.extend_from_slice(args);
    e.ok(&a)
}

/// The full image id (`sha256:...`).
#[track_caller]
fn image_id(e: &Engine, image: &str) -> String {
    e.ok(&["image", "inspect", "-f", "{{.Id}}", image])
        .trim()
        .to_string()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `Successfully built <12 hex>` from build output.
#[track_caller]
fn built_id(out: &str) -> String {
    let id = out
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("Successfully built "))
        .next_back()
        .unwrap_or_else(|| panic!("no `Successfully built <id>` line in:\n{out}"));
    assert!(is_hex(id, 12), "`Successfully built {id}`: not a 12-hex id");
    id.to_string()
}

/// One `Step N/M : INSTRUCTION` block of legacy-builder output.
#[derive(Debug)]
struct Step {
    n: usize,
    of: usize,
    instr: String,
    cached: bool,
}

/// The steps in build output, each with whether it printed
/// ` ---> Using cache`.
fn steps(out: &str) -> Vec<Step> {
    let mut v: Vec<Step> = Vec::new();
    for line in out.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("Step ") {
            let (nm, instr) = rest
                .split_once(" : ")
                .unwrap_or_else(|| panic!("malformed step line {line:?}"));
            let (n, of) = nm
                .split_once('/')
                .unwrap_or_else(|| panic!("malformed step line {line:?}"));
            v.push(Step {
                n: n.parse().unwrap(),
                of: of.parse().unwrap(),
                instr: instr.to_string(),
                cached: false,
            });
        } else if line == " ---> Using cache" {
            v.last_mut()
                .unwrap_or_else(|| panic!("`Using cache` before any step:\n{out}"))
                .cached = true;
        }
    }
    v
}

mod config_expansion;
mod copy_add;
mod output_errors;
mod stages_cache;
