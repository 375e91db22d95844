//! Container output for the API: one monitor connection per container run (a "hub"), shared by
//! the hijacked attach streams, the waits and the resizes of that run.
//!
//! `docker run` attaches and waits *before* it starts the container. Those requests register
//! on the container's pending hub; the start connects the hub to the new monitor before the
//! process starts (`Engine::start_connected`), so they see the first byte of output and the
//! exit code -- also of a `--rm` container, whose record is gone by the time it is reported.
//! A container started by the `berth` CLI gets a hub when a client first attaches or waits.

use crate::http::{with_engine, ApiError, ApiResult};
use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use engine::engine::Engine;
use engine::monitor::{self, Attach};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, watch};

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Exit {
    /// None when the monitor went away without telling (read the store instead)
    pub code: Option<i64>,
    /// the start failure, if the process never ran
    pub error: Option<String>,
}

/// Output of the container: STDOUT or STDERR (engine::monitor's frame kinds) and its bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub data: Bytes,
}

/// A frame for the monitor: kind and payload.
type ToMonitor = (u8, Vec<u8>);

pub struct Hub {
    pub id: String,
    subs: Mutex<Vec<mpsc::UnboundedSender<Frame>>>,
    /// frames for the monitor (stdin, stdin EOF, resize), queued until the hub runs
    input: Mutex<Option<std::sync::mpsc::Sender<ToMonitor>>>,
    input_rx: Mutex<Option<std::sync::mpsc::Receiver<ToMonitor>>>,
    started: AtomicBool,
    exit: watch::Sender<Option<Exit>>,
}

static HUBS: LazyLock<Mutex<HashMap<String, Arc<Hub>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Hub {
    fn new(id: &str) -> Arc<Hub> {
        let (tx, rx) = std::sync::mpsc::channel();
        Arc::new(Hub {
            id: id.to_string(),
            subs: Mutex::new(Vec::new()),
            input: Mutex::new(Some(tx)),
            input_rx: Mutex::new(Some(rx)),
            started: AtomicBool::new(false),
            exit: watch::channel(None).0,
        })
    }

    pub fn finished(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// The output from now on; the channel closes when the run ends.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Frame> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = self.subs.lock().expect("hub lock");
        if !self.finished() {
            subs.push(tx);
        }
        rx
    }

    /// Queue a frame for the monitor (STDIN, STDIN_EOF, RESIZE).
    pub fn send(&self, kind: u8, data: &[u8]) {
        if let Some(tx) = self.input.lock().expect("hub lock").as_ref() {
            let _ = tx.send((kind, data.to_vec()));
        }
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        let mut d = rows.to_be_bytes().to_vec();
        d.extend_from_slice(&cols.to_be_bytes());
        self.send(monitor::RESIZE, &d);
    }

    pub async fn wait_exit(&self) -> Exit {
        let mut rx = self.exit.subscribe();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                return Exit {
                    code: None,
                    error: None,
                };
            }
        }
    }

    fn finish(self: &Arc<Self>, exit: Exit) {
        self.exit.send_replace(Some(exit));
        self.subs.lock().expect("hub lock").clear();
        self.input.lock().expect("hub lock").take();
        // forget the hub a while after the run (late waiters fall back to the store)
        let me = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(30));
            let mut hubs = HUBS.lock().expect("hubs lock");
            if hubs.get(&me.id).is_some_and(|h| Arc::ptr_eq(h, &me)) {
                hubs.remove(&me.id);
            }
        });
    }

    /// Pump the monitor's stream to the subscribers (and queued input to the monitor) on two
    /// threads of their own, until the run ends.
    fn run(self: &Arc<Self>, att: Attach) {
        self.started.store(true, Ordering::SeqCst);
        let mut sock = att.sock;
        if let (Ok(mut w), Some(rx)) = (
            sock.try_clone(),
            self.input_rx.lock().expect("hub lock").take(),
        ) {
            std::thread::spawn(move || {
                while let Ok((kind, data)) = rx.recv() {
                    if monitor::write_frame(&mut w, kind, &data).is_err() {
                        break;
                    }
                }
            });
        }
        let me = self.clone();
        std::thread::spawn(move || {
            let mut error = None;
            let code = loop {
                match monitor::read_frame(&mut sock) {
                    Ok(Some((k @ (monitor::STDOUT | monitor::STDERR), d))) => {
                        let f = Frame {
                            kind: k,
                            data: Bytes::from(d),
                        };
                        me.subs
                            .lock()
                            .expect("hub lock")
                            .retain(|s| s.send(f.clone()).is_ok());
                    }
                    Ok(Some((monitor::ERROR, d))) => {
                        error = Some(String::from_utf8_lossy(&d).into_owned())
                    }
                    Ok(Some((monitor::EXIT, d))) if d.len() == 4 => {
                        break Some(i32::from_be_bytes([d[0], d[1], d[2], d[3]]) as i64)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break None,
                }
            };
            me.finish(Exit { code, error });
        });
    }
}

/// The hub of the container's current run, or of its next one (what an attach or a wait
/// before the start subscribes to).
pub fn pending(id: &str) -> Arc<Hub> {
    let mut hubs = HUBS.lock().expect("hubs lock");
    if let Some(h) = hubs.get(id) {
        if !h.finished() {
            return h.clone();
        }
    }
    let h = Hub::new(id);
    hubs.insert(id.to_string(), h.clone());
    h
}

/// The hub of a running container, connected now if the container was started elsewhere.
pub fn running(e: &Engine, id: &str) -> ApiResult<Arc<Hub>> {
    let mut hubs = HUBS.lock().expect("hubs lock");
    if let Some(h) = hubs.get(id) {
        if h.started.load(Ordering::SeqCst) && !h.finished() {
            return Ok(h.clone());
        }
    }
    let h = match hubs.get(id) {
        Some(h) if !h.finished() => h.clone(),
        _ => Hub::new(id),
    };
    let att = Attach::connect(e, id)
        .map_err(|err| ApiError::conflict(format!("container {id} is not running: {err}")))?;
    h.run(att);
    hubs.insert(id.to_string(), h.clone());
    Ok(h)
}

/// Start a container through its hub (`POST /containers/{id}/start` and restarts).
pub fn start(e: &Engine, id: &str) -> ApiResult<()> {
    let hub = pending(id);
    match e.start_connected(id) {
        Ok((_, Some(att))) => {
            hub.run(att);
            Ok(())
        }
        Ok((_, None)) => {
            if !hub.started.load(Ordering::SeqCst) {
                let _ = running(e, id);
            }
            Ok(())
        }
        Err(err) => {
            let code = e
                .find_reconciled(id)
                .map(|c| c.state.exit_code)
                .unwrap_or(125);
            let msg = err.to_string();
            hub.finish(Exit {
                code: Some(code),
                error: Some(msg.clone()),
            });
            let mut ae = ApiError::from(err);
            if ae.status == StatusCode::INTERNAL_SERVER_ERROR {
                ae.status = StatusCode::BAD_REQUEST;
            }
            Err(ae)
        }
    }
}

/// The exit code of a run that ended: the hub's, or the store's when the hub could not tell.
pub fn exit_code(exit: &Exit, id: &str) -> i64 {
    if let Some(c) = exit.code {
        return c;
    }
    with_engine(|e| {
        Ok(e.wait_not_live(id, Duration::from_secs(10))
            .map(|c| c.state.exit_code)
            .unwrap_or(-1))
    })
    .unwrap_or(-1)
}

// ------------------------------------------------------------------ hijacking

/// A hijacked connection (or the body of a plain response, for clients that do not upgrade).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Answer `req` by taking over its connection: `101 UPGRADED` with `Upgrade: tcp` when the
/// client asked to upgrade (docker CLI, docker-py), else a `200` whose body is what `f`
/// writes (its reads see end of file). `f` runs once the connection is ours.
pub fn hijack<F, Fut>(req: &mut Request<Body>, content_type: &'static str, f: F) -> Response
where
    F: FnOnce(Box<dyn Io>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    if upgrade {
        let on_upgrade = hyper::upgrade::on(&mut *req);
        tokio::spawn(async move {
            match on_upgrade.await {
                // the stream starts once the client has read the head (see upgraded.rs)
                Ok(up) => f(crate::upgraded::settled(up).await).await,
                Err(e) => tracing::warn!("upgrade failed: {e}"),
            }
        });
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        return r;
    }
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(f(Box::new(ours)));
    let stream = futures_util::stream::unfold(theirs, |mut r| async move {
        let mut buf = vec![0u8; 32 * 1024];
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), r))
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The content type of a container's output stream.
pub fn stream_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// Frame output as the API does: raw with a TTY, else `[stream, 0, 0, 0, len u32 BE]` + data.
pub fn encode(tty: bool, kind: u8, data: &[u8]) -> Vec<u8> {
    if tty {
        return data.to_vec();
    }
    let mut v = Vec::with_capacity(8 + data.len());
    v.push(kind);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(
            encode(false, 1, b"hi"),
            vec![1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
        assert_eq!(encode(false, 2, b""), vec![2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode(true, 2, b"hi"), b"hi".to_vec());
    }

    #[tokio::test]
    async fn a_finished_hub_closes_new_subscriptions() {
        let h = Hub::new("x");
        let mut before = h.subscribe();
        h.finish(Exit {
            code: Some(3),
            error: None,
        });
        assert!(before.recv().await.is_none());
        let mut after = h.subscribe();
        assert!(after.recv().await.is_none());
        assert_eq!(h.wait_exit().await.code, Some(3));
    }
}
