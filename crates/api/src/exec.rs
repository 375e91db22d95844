//! `docker exec` over the API: create, start (hijacked), resize, inspect.
//!
//! The process is started by the engine's `__exec` helper (a typed request, see
//! `engine::helper`) in a child process of the server: the runtime's exec clones and joins
//! namespaces, which must not happen in a multi-threaded server. With a
//! TTY the child gets a pty of ours as its controlling terminal (so a resize reaches it as
//! SIGWINCH and it passes the size on); without, pipes, framed as stdout/stderr.

use crate::http::{blocking, json_response, ok, parse_json, read_body, root, ApiError, ApiResult};
use crate::streams::{encode, hijack, stream_type};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use engine::monitor;
use engine::types::Status;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub fn routes() -> Router {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "PascalCase", default)]
struct ExecConfig {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    cmd: Vec<String>,
    env: Vec<String>,
    user: String,
    working_dir: String,
    privileged: bool,
    /// Go decodes JSON keys case-insensitively: docker-py sends `detachKeys`
    #[serde(alias = "detachKeys")]
    detach_keys: String,
    console_size: Option<Vec<u16>>,
}

#[derive(Default)]
struct ExecState {
    running: bool,
    started: bool,
    exit_code: Option<i64>,
    pid: i64,
    /// our side of the exec's pty, for resizes
    pty: Option<Arc<OwnedFd>>,
}

struct Exec {
    id: String,
    container: String,
    config: ExecConfig,
    state: Mutex<ExecState>,
}

static EXECS: LazyLock<Mutex<HashMap<String, Arc<Exec>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn get_exec(id: &str) -> ApiResult<Arc<Exec>> {
    EXECS
        .lock()
        .expect("execs lock")
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

async fn create(Path(cid): Path<String>, body: Body) -> ApiResult<Response> {
    let body = read_body(body).await?;
    let config: ExecConfig = parse_json(&body)?;
    if config.cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    // a sequence that cannot be typed is refused here, not dropped for the default at start
    // (dockerd 20.10: 500 with these words)
    if !config.detach_keys.is_empty()
        && crate::containers::parse_detach_keys(&config.detach_keys).is_err()
    {
        return Err(ApiError::internal(format!(
            "Invalid escape keys ({}) provided",
            config.detach_keys
        )));
    }
    let id = engine::names::random_id();
    let (xid, cmd) = (id.clone(), config.cmd.clone());
    let container = blocking(move |e| {
        let c = e.find_reconciled(&cid)?;
        match c.state.status {
            Status::Running => {
                engine::events::exec(e, &c, "exec_create", &xid, &cmd, None);
                Ok(c.id)
            }
            Status::Paused => Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                c.id
            ))),
            _ => Err(ApiError::conflict(format!(
                "container {} is not running",
                c.id
            ))),
        }
    })
    .await?;
    EXECS.lock().expect("execs lock").insert(
        id.clone(),
        Arc::new(Exec {
            id: id.clone(),
            container,
            config,
            state: Mutex::new(ExecState::default()),
        }),
    );
    Ok(json_response(StatusCode::CREATED, &json!({ "Id": id })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
    console_size: Option<Vec<u16>>,
}

/// Record an exec event (`exec_start`, `exec_die`) in the engine's journal.
fn event(x: &Arc<Exec>, action: &'static str, exit: Option<i64>) {
    let x = x.clone();
    tokio::task::spawn_blocking(move || {
        let _ = crate::http::with_engine(|e| {
            if let Ok(c) = e.find_reconciled(&x.container) {
                engine::events::exec(e, &c, action, &x.id, &x.config.cmd, exit);
            }
            Ok(())
        });
    });
}

/// The `__exec` helper for this exec (a child of ours, its stdio set by the caller).
fn command(x: &Exec, detach: bool, tty: bool) -> ApiResult<tokio::process::Command> {
    let c = &x.config;
    let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
    let req = engine::helper::ExecRequest {
        container: x.container.clone(),
        cmd: c.cmd.clone(),
        env: c.env.clone(),
        user: non_empty(&c.user),
        workdir: non_empty(&c.working_dir),
        privileged: c.privileged,
        tty,
        interactive: c.attach_stdin && !detach,
        detach,
        detach_keys: None,
    };
    let cmd = engine::helper::command(&root(), &engine::helper::Request::Exec(req))
        .map_err(|e| ApiError::internal(format!("exec: {e}")))?;
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    Ok(cmd)
}

async fn start(Path(id): Path<String>, mut req: Request<Body>) -> ApiResult<Response> {
    let x = get_exec(&id)?;
    let body = read_body(std::mem::take(req.body_mut())).await?;
    let sb: StartBody = parse_json(&body)?;
    {
        let mut st = x.state.lock().expect("exec lock");
        if st.started {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        st.started = true;
        st.running = true;
    }
    let cid = x.container.clone();
    let still_running =
        blocking(move |e| Ok(e.find_reconciled(&cid)?.state.status == Status::Running)).await?;
    if !still_running {
        x.state.lock().expect("exec lock").running = false;
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            x.container
        )));
    }
    // The process gets a terminal when the exec was created with one; the start body's Tty
    // says how its output is framed (raw, or multiplexed frames), as in dockerd: docker-py
    // starts a `tty=True` exec with `Tty: false` and reads frames.
    let tty = x.config.tty;
    let raw = sb.tty;
    event(&x, "exec_start", None);
    if sb.detach {
        let mut cmd = command(&x, true, false)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn()?;
        x.state.lock().expect("exec lock").pid = child.id().unwrap_or(0) as i64;
        tokio::spawn(async move {
            let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
            let code = code as i64;
            {
                let mut st = x.state.lock().expect("exec lock");
                st.running = false;
                // a detached `__exec` returns once the process runs: 0, or its start failure
                st.exit_code = Some(code);
            }
            event(&x, "exec_die", Some(code));
        });
        // dockerd answers a detached start with 200 and an empty body
        return Ok(axum::response::IntoResponse::into_response(StatusCode::OK));
    }
    let size = sb.console_size.or(x.config.console_size.clone());
    let running = if tty {
        spawn_tty(&x, size)?
    } else {
        spawn_pipes(&x)?
    };
    Ok(hijack(&mut req, stream_type(raw), move |io| {
        relay(x, running, io, Framing { tty, raw })
    }))
}

/// A started exec: the child and its stdio on our side.
struct Running {
    child: tokio::process::Child,
    stdin: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    stdout: Option<Box<dyn AsyncRead + Unpin + Send>>,
    stderr: Option<Box<dyn AsyncRead + Unpin + Send>>,
}

fn spawn_pipes(x: &Arc<Exec>) -> ApiResult<Running> {
    let mut cmd = command(x, false, false)?;
    cmd.stdin(if x.config.attach_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    x.state.lock().expect("exec lock").pid = child.id().unwrap_or(0) as i64;
    Ok(Running {
        stdin: child
            .stdin
            .take()
            .map(|s| Box::new(s) as Box<dyn AsyncWrite + Unpin + Send>),
        stdout: child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn AsyncRead + Unpin + Send>),
        stderr: child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn AsyncRead + Unpin + Send>),
        child,
    })
}

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    if rows > 0 && cols > 0 {
        runtime::tty::set_size(fd.as_raw_fd(), rows, cols);
    }
}

fn spawn_tty(x: &Arc<Exec>, size: Option<Vec<u16>>) -> ApiResult<Running> {
    let pty = nix::pty::openpty(None, None)
        .map_err(|e| ApiError::internal(format!("allocating a pty for exec: {e}")))?;
    // This pty only carries the exec helper's terminal to us: raw, so the container's own
    // terminal does the line discipline once (a cooked one here turned \r\n into \r\r\n).
    if let Ok(mut t) = nix::sys::termios::tcgetattr(&pty.slave) {
        nix::sys::termios::cfmakeraw(&mut t);
        let _ = nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t);
    }
    let master = Arc::new(pty.master);
    if let Some(s) = size.filter(|s| s.len() == 2) {
        set_size(&master, s[0], s[1]);
    }
    let slave = pty.slave;
    let mut cmd = command(x, false, true)?;
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; the child makes the pty its terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(cmd);
    {
        let mut st = x.state.lock().expect("exec lock");
        st.pid = child.id().unwrap_or(0) as i64;
        st.pty = Some(master.clone());
    }
    let rd = std::fs::File::from(master.try_clone()?);
    let wr = std::fs::File::from(master.try_clone()?);
    Ok(Running {
        child,
        stdin: Some(Box::new(tokio::fs::File::from_std(wr))),
        stdout: Some(Box::new(tokio::fs::File::from_std(rd))),
        stderr: None,
    })
}

/// Copy between the client and the exec until it ends; record the exit code before the
/// stream closes (the CLI asks for it right after).
/// How an exec's output reaches the client: whether the process has a terminal, and whether
/// the stream is raw (else docker's multiplexed frames).
#[derive(Clone, Copy)]
struct Framing {
    tty: bool,
    raw: bool,
}

async fn relay(x: Arc<Exec>, mut r: Running, io: Box<dyn crate::streams::Io>, f: Framing) {
    let Framing { tty, raw } = f;
    let (mut crd, cwr) = tokio::io::split(io);
    let cwr = Arc::new(tokio::sync::Mutex::new(cwr));
    if let Some(mut stdin) = r.stdin.take() {
        let attach = x.config.attach_stdin;
        // the detach sequence (create's DetachKeys, else ctrl-p,ctrl-q) never reaches the
        // process: the client leaves, the exec keeps running (as dockerd)
        // checked at create
        let keys = crate::containers::detach_keys_or_default(&x.config.detach_keys)
            .unwrap_or_else(|_| crate::containers::DEFAULT_DETACH_KEYS.to_vec());
        let mut keys = crate::containers::Detach::new(keys);
        let client = cwr.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            if !attach {
                return;
            }
            loop {
                match crd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (pass, hit) = keys.feed(&buf[..n]);
                        if !pass.is_empty() && stdin.write_all(&pass).await.is_err() {
                            break;
                        }
                        let _ = stdin.flush().await;
                        if hit {
                            let _ = client.lock().await.shutdown().await;
                            return;
                        }
                    }
                }
            }
            if !tty {
                let _ = stdin.shutdown().await;
            }
        });
    }
    let pump = |src: Option<Box<dyn AsyncRead + Unpin + Send>>, kind: u8| {
        let cwr = cwr.clone();
        tokio::spawn(async move {
            let Some(mut src) = src else { return };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match src.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut w = cwr.lock().await;
                        if w.write_all(&encode(raw, kind, &buf[..n])).await.is_err() {
                            break;
                        }
                        let _ = w.flush().await;
                    }
                }
            }
        })
    };
    let out = pump(r.stdout.take(), monitor::STDOUT);
    let err = pump(r.stderr.take(), monitor::STDERR);
    let status = r.child.wait().await;
    let code = status.ok().and_then(|s| s.code()).unwrap_or(-1) as i64;
    if tty {
        // the pty's reader sees EIO only once every copy of the master is gone
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), out).await;
    } else {
        let _ = out.await;
    }
    let _ = err.await;
    {
        let mut st = x.state.lock().expect("exec lock");
        st.exit_code = Some(code);
        st.running = false;
        st.pty = None;
    }
    event(&x, "exec_die", Some(code));
    let mut w = cwr.lock().await;
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}

async fn resize(Path(id): Path<String>, q: crate::http::Q) -> ApiResult<Response> {
    let x = get_exec(&id)?;
    let h = q.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = q.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    if let Some(p) = x.state.lock().expect("exec lock").pty.as_ref() {
        set_size(p, h, w);
    }
    Ok(ok(&json!({})))
}

async fn inspect(Path(id): Path<String>) -> ApiResult<Response> {
    let x = get_exec(&id)?;
    let st = x.state.lock().expect("exec lock");
    let c = &x.config;
    Ok(ok(&json!({
        "ID": x.id,
        "Running": st.running,
        "ExitCode": st.exit_code,
        "ProcessConfig": {
            "tty": c.tty,
            "entrypoint": c.cmd.first(),
            "arguments": c.cmd.iter().skip(1).collect::<Vec<_>>(),
            "privileged": c.privileged,
            "user": c.user,
        },
        "OpenStdin": c.attach_stdin,
        "OpenStderr": c.attach_stderr,
        "OpenStdout": c.attach_stdout,
        "CanRemove": !st.running && st.started,
        "ContainerID": x.container,
        "DetachKeys": c.detach_keys,
        "Pid": st.pid,
    })))
}
