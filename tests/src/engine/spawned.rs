//! Streaming client commands whose output the tests poll.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A streaming command (`logs -f`, `attach`, `events`...): output goes to
/// files which the test polls; killed at drop.
pub struct Spawned {
    pub cmdline: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    /// the exit code once reaped: its pid (and process group id) may then belong to another
    /// process, which `kill` must not hit
    reaped: Option<i32>,
}

impl Spawned {
    /// Start `cmd` in its own process group, stdout and stderr into
    /// `<io>/<tag>.stdout|stderr`, stdin piped when `stdin`, else /dev/null;
    /// `cmdline` names it in messages.
    pub fn start(mut cmd: Command, cmdline: String, io: &Path, tag: &str, stdin: bool) -> Spawned {
        let stdout_path = io.join(format!("{tag}.stdout"));
        let stderr_path = io.join(format!("{tag}.stderr"));
        cmd.stdout(File::create(&stdout_path).unwrap())
            .stderr(File::create(&stderr_path).unwrap())
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{cmdline}`: {e}"));
        let stdin = child.stdin.take();
        Spawned {
            cmdline,
            child: Some(child),
            stdin,
            stdout_path,
            stderr_path,
            reaped: None,
        }
    }

    /// The pid of the command (its process group), None once killed.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Write to the command's stdin (when spawned with `stdin = true`).
    pub fn write_stdin(&mut self, data: &[u8]) {
        let w = self.stdin.as_mut().expect("spawned without stdin");
        w.write_all(data).expect("write to stdin");
        w.flush().unwrap();
    }

    /// Close stdin (EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Poll stdout until `pred` holds; panics after `timeout` with what was
    /// seen.  Returns stdout.
    #[track_caller]
    pub fn wait_stdout(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let s = self.stdout();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "`{}`: {what} not seen within {timeout:?}\n  stdout: {s:?}\n  stderr: {:?}",
                    self.cmdline,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Exit code if it has exited.
    pub fn try_code(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        if self.reaped.is_some() {
            return self.reaped;
        }
        let c = self.child.as_mut()?;
        let st = c.try_wait().ok()??;
        self.reaped = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
        self.reaped
    }

    /// Wait for exit up to `timeout`; None if still running.
    pub fn wait_code(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(c) = self.try_code() {
                return Some(c);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the command (its process group) and reap it; once reaped ([`Self::try_code`]),
    /// its id may be another process's (a container monitor is a group leader), so nothing is
    /// killed.
    pub fn kill(&mut self) {
        self.stdin = None;
        if let Some(mut c) = self.child.take() {
            if self.reaped.is_some() {
                return;
            }
            unsafe {
                libc::killpg(c.id() as i32, libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}
