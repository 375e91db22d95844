//! Running a command with captured output and a hard timeout.
//!
//! Output goes to files, never pipes: a container started by `create` or
//! `run -d` inherits the runtime's stdio and would keep a pipe open forever.
//! Files also let a test read what a container printed long after `create`
//! returned (see [`Output::reread`]).

use std::fmt;
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one command did.
#[derive(Clone)]
pub struct Output {
    /// The command line, for messages.
    pub cmdline: String,
    /// Exit code; 128+N when killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// Panic with the full command output unless it exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.success(), "command failed: {self:?}");
        self
    }

    /// Panic with the full command output unless it exited non-zero.
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert!(!self.success(), "command should have failed: {self:?}");
        self
    }

    /// Stdout re-read from its file now (a container started by `create`
    /// writes there after the runtime returned).
    pub fn reread(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Stderr re-read from its file now.
    pub fn reread_stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Trimmed stdout.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n  $ {}\n  exit code: {} (after {:.2?})\n  stdout: {:?}\n  stderr: {:?}\n",
            self.cmdline, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Where stdin comes from.
pub enum Stdin<'a> {
    Null,
    Data(&'a [u8]),
}

/// Run `cmd` with stdout/stderr into `<dir>/<tag>.stdout|stderr`, kill its
/// whole process group after `timeout` and panic if it timed out.
pub fn run_with_timeout(
    mut cmd: Command,
    dir: &Path,
    tag: &str,
    stdin: Stdin<'_>,
    timeout: Duration,
) -> Output {
    let stdout_path = dir.join(format!("{tag}.stdout"));
    let stderr_path = dir.join(format!("{tag}.stderr"));
    let out_f = File::create(&stdout_path).expect("create stdout file");
    let err_f = File::create(&stderr_path).expect("create stderr file");
    cmd.stdout(Stdio::from(out_f)).stderr(Stdio::from(err_f));
    match stdin {
        Stdin::Null => {
            cmd.stdin(Stdio::null());
        }
        Stdin::Data(data) => {
            let p = dir.join(format!("{tag}.stdin"));
            std::fs::write(&p, data).expect("write stdin file");
            cmd.stdin(Stdio::from(File::open(&p).expect("open stdin file")));
        }
    }
    // Own process group so a timeout can kill everything the command spawned
    // in the host pid namespace.
    cmd.process_group(0);
    let cmdline = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| {
                let a = a.to_string_lossy();
                if a.contains(' ') || a.is_empty() {
                    format!("'{a}'")
                } else {
                    a.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn `{cmdline}`: {e}"));
    let pid = child.id() as i32;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > timeout {
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "TIMEOUT after {timeout:?}: `{cmdline}` was killed\n  stdout: {stdout:?}\n  stderr: {stderr:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Output {
        cmdline,
        code,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        stdout_path,
        stderr_path,
        elapsed,
    }
}

/// Run `cmd` for cleanup: stdin /dev/null, stderr discarded, stdout to
/// `stdout`, in its own process group, which is killed after `limit` (a hung
/// command must not hang the cleanup).  Never panics.
pub fn run_bounded(mut cmd: Command, stdout: Stdio, limit: Duration) {
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .process_group(0);
    if let Ok(mut c) = cmd.spawn() {
        let start = Instant::now();
        loop {
            match c.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if start.elapsed() > limit => {
                    unsafe {
                        libc::killpg(c.id() as i32, libc::SIGKILL);
                    }
                    let _ = c.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}
