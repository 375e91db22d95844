//! OCI hooks: run with the state JSON on stdin, in order, with an optional timeout.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run_hooks(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_hook(kind, h, state_json).map_err(|e| numbered(i, e))?;
    }
    Ok(())
}

/// runc's words, which scripts and runc's suite match: "error running hook #N: ...".
fn numbered(i: usize, e: Error) -> Error {
    Error::Other(format!("error running hook #{i}: {e}"))
}

/// How a hook ended, in the words of runc (Go's): "exit status 1", "signal: bad system call
/// (core dumped)".
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => {
            // SAFETY: strsignal returns a pointer to a NUL-terminated string that stays valid
            // until the next call; it is copied at once.
            let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) }
                .to_string_lossy()
                .to_lowercase();
            let core = if status.core_dumped() {
                " (core dumped)"
            } else {
                ""
            };
            format!("signal: {name}{core}")
        }
        _ => status.to_string(),
    }
}

/// For poststart and poststop: a failing hook is a warning and the next ones still run.
pub fn run_hooks_warn(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run_hook(kind, h, state_json) {
            crate::log::warn(&numbered(i, e).to_string());
        }
    }
}

fn bundle_of(state_json: &str) -> Option<std::path::PathBuf> {
    let v: serde_json::Value = serde_json::from_str(state_json).ok()?;
    v.get("bundle")?.as_str().map(Into::into)
}

pub fn run_hook(kind: &str, h: &Hook, state_json: &str) -> Result<()> {
    let path = h.path();
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(path);
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Where runc runs them: hooks in the runtime's namespaces run in the bundle directory
    // (runc works from there); createContainer and startContainer run in the container, where
    // the init's working directory is the rootfs (createContainer) or the process's cwd.
    if !matches!(kind, "createContainer" | "startContainer") {
        if let Some(bundle) = bundle_of(state_json).filter(|b| b.is_dir()) {
            cmd.current_dir(bundle);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let fail = |msg: String| Error::Other(format!("{kind} hook {}: {msg}", path.display()));
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin must not fail the container: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(fail(format!(
                "{}{}{}",
                describe(status),
                if err.is_empty() { "" } else { ": " },
                err.trim()
            )));
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                h.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
