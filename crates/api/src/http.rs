//! Plumbing shared by every handler: errors in the API's shape, the engine on blocking threads,
//! query parsing with docker's rules, JSON and streamed JSON responses, request bodies as
//! `std::io::Read` for the blocking code that consumes tars.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use engine::engine::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

// ------------------------------------------------------------------ errors

/// An error answer: `{"message": ...}` with `Content-Type: application/json` exactly (with a
/// charset the docker CLI prints the raw JSON instead of the message).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, m)
    }
    pub fn internal(m: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "message": self.message }).to_string();
        body.push('\n');
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = self.status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }
}

/// The status dockerd gives an image error.
pub fn image_status(e: &image::Error) -> StatusCode {
    use image::Error as E;
    match e {
        E::ImageNotFound(_) | E::BlobNotFound(_) => StatusCode::NOT_FOUND,
        E::InvalidReference { .. }
        | E::InvalidDigest(_)
        | E::InvalidFormat { .. }
        | E::UnsupportedMediaType { .. }
        | E::UnsafePath { .. }
        | E::DigestMismatch { .. }
        | E::SizeMismatch { .. } => StatusCode::BAD_REQUEST,
        E::PlatformNotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> ApiError {
        use engine::Error as E;
        let status = match &e {
            E::NoSuchContainer(_) | E::NoSuchVolume(_) | E::NoSuchImage(_) | E::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            E::Ambiguous(_) | E::Invalid(_) => StatusCode::BAD_REQUEST,
            E::NameInUse { .. } | E::Conflict(_) => StatusCode::CONFLICT,
            E::Image(i) => image_status(i),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<image::Error> for ApiError {
    fn from(e: image::Error) -> ApiError {
        ApiError::new(image_status(&e), e.to_string())
    }
}

impl From<network::Error> for ApiError {
    fn from(e: network::Error) -> ApiError {
        use network::Error as E;
        let status = match &e {
            E::NotFound(_) | E::NoPool6 => StatusCode::NOT_FOUND,
            E::NameExists(_) | E::AddressInUse { .. } | E::PortAllocated(..) => {
                StatusCode::CONFLICT
            }
            E::ActiveEndpoints { .. } | E::Predefined(_) | E::Reserved(_) => StatusCode::FORBIDDEN,
            E::Ambiguous(..)
            | E::InvalidName(_)
            | E::InvalidSubnet(_)
            | E::Overlap
            | E::InvalidGateway(_)
            | E::AddressNotInSubnet { .. }
            | E::InvalidPort(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(format!("{e:#}"))
    }
}

// ------------------------------------------------------------------ the engine

static ROOT: OnceLock<PathBuf> = OnceLock::new();

thread_local! {
    /// One engine per blocking thread: the engine's store is a sqlite connection (not Sync),
    /// and tokio reuses its blocking threads, so each opens the store once.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

pub fn set_root(root: PathBuf) {
    let _ = ROOT.set(root);
}

pub fn root() -> PathBuf {
    ROOT.get()
        .cloned()
        .unwrap_or_else(engine::paths::default_root)
}

/// Run `f` with this thread's engine (call from a blocking thread only).
pub fn with_engine<T>(f: impl FnOnce(&Engine) -> ApiResult<T>) -> ApiResult<T> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Engine::open(&root())?);
        }
        f(slot.as_ref().expect("opened above"))
    })
}

/// Run `f` with an engine on tokio's blocking pool.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce(&Engine) -> ApiResult<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || with_engine(f))
        .await
        .map_err(|e| ApiError::internal(format!("request handler failed: {e}")))?
}

// ------------------------------------------------------------------ queries

/// The query string as docker reads it: repeated keys kept, booleans in Go's and Python's
/// spellings, `filters` in both the map and list forms.
#[derive(Debug, Default, Clone)]
pub struct Q(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Q {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Q, ApiError> {
        Ok(Q::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Q {
    pub fn parse(q: &str) -> Q {
        Q(form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    /// The first value given for `k` (Go's `Query().Get`, which dockerd reads: docker-py sends
    /// `dockerfile` twice, the context's file name first).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// dockerd's BoolValue: present and not one of "", "0", "no", "false", "none".
    pub fn bool(&self, k: &str) -> bool {
        match self.get(k) {
            None => false,
            Some(v) => !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    /// Like `bool`, with a default when absent.
    pub fn bool_or(&self, k: &str, default: bool) -> bool {
        if self.get(k).is_some() {
            self.bool(k)
        } else {
            default
        }
    }

    pub fn int(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {v:?}"))),
        }
    }

    pub fn filters(&self) -> ApiResult<Filters> {
        parse_filters(self.get("filters").unwrap_or(""))
    }
}

/// `filters` after parsing: name → accepted values.
pub type Filters = BTreeMap<String, Vec<String>>;

/// Both forms clients send: `{"label":{"a=b":true}}` (docker CLI) and `{"label":["a=b"]}`
/// (docker-py, older CLIs).
pub fn parse_filters(s: &str) -> ApiResult<Filters> {
    let mut out = Filters::new();
    if s.trim().is_empty() {
        return Ok(out);
    }
    let v: Value = serde_json::from_str(s)
        .map_err(|e| ApiError::bad_request(format!("invalid filter {s:?}: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::bad_request(format!("invalid filter {s:?}")));
    };
    for (k, v) in m {
        let vals: Vec<String> = match v {
            Value::Object(inner) => inner
                .into_iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(true))
                .map(|(k, _)| k)
                .collect(),
            Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            Value::String(s) => vec![s],
            other => vec![other.to_string()],
        };
        out.entry(k).or_default().extend(vals);
    }
    Ok(out)
}

// ------------------------------------------------------------------ responses

pub fn json_response<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let mut body = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
    body.push(b'\n');
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub fn ok<T: Serialize>(v: &T) -> Response {
    json_response(StatusCode::OK, v)
}

pub fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// A body fed from a channel (usable from blocking threads: `send` never blocks).
pub fn channel_body() -> (mpsc::UnboundedSender<Bytes>, Body) {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    (tx, Body::from_stream(stream))
}

/// The JSON-lines progress stream of pull, push, build and load: one object per line.
#[derive(Clone)]
pub struct JsonStream {
    tx: mpsc::UnboundedSender<Bytes>,
}

impl JsonStream {
    /// The stream and the response that carries it.
    pub fn new() -> (JsonStream, Response) {
        let (tx, body) = channel_body();
        let mut r = Response::new(body);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        (JsonStream { tx }, r)
    }

    /// Send one message; false once the client has gone.
    pub fn send(&self, v: &Value) -> bool {
        let mut line = serde_json::to_vec(v).unwrap_or_default();
        line.push(b'\n');
        self.tx.send(Bytes::from(line)).is_ok()
    }

    pub fn status(&self, status: &str, id: Option<&str>) -> bool {
        let mut v = serde_json::json!({ "status": status });
        if let Some(id) = id {
            v["id"] = Value::String(id.to_string());
        }
        self.send(&v)
    }

    /// A failure as clients recognise it: `errorDetail` (the CLI ignores `error` alone).
    pub fn error(&self, message: &str) -> bool {
        self.send(&serde_json::json!({
            "errorDetail": { "message": message },
            "error": message,
        }))
    }
}

// ------------------------------------------------------------------ bodies

pub async fn read_body(body: Body) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))
}

/// Parse a JSON body; an empty body is the type's default, and nulls in objects count as
/// absent (clients send `"Binds": null` for "not given").
pub fn parse_json<T: DeserializeOwned + Default>(b: &[u8]) -> ApiResult<T> {
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    let mut v: Value = serde_json::from_slice(b)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    strip_nulls(&mut v);
    crate::ci_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// Drop JSON nulls from objects, so the types take their defaults.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A request body as a blocking `Read` (for tar consumers: build contexts, image loads,
/// archive uploads). Chunks flow through a small bounded channel, so a big upload is never
/// held in memory whole.
pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

pub fn body_reader(body: Body) -> BodyReader {
    use http_body_util::BodyExt;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        if tx.send(Ok(data)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx
                        .send(Err(std::io::Error::other(format!(
                            "reading the request body: {e}"
                        ))))
                        .await;
                    return;
                }
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// A response body fed through a small bounded channel by a blocking producer, which blocks
/// when the client reads slowly (nothing piles up in memory) and sees when it has gone.
pub fn bounded_body() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(8);
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|b| b.map(Ok::<Bytes, std::io::Error>))
    }));
    (tx, body)
}

/// The `Write` a blocking tar producer gets: into a bounded response body, reporting its first
/// byte so the handler can still answer with an error status when the producer fails before
/// writing anything.
struct TarWriter {
    tx: mpsc::Sender<Bytes>,
    started: Option<oneshot::Sender<()>>,
}

impl Write for TarWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(s) = self.started.take() {
            let _ = s.send(());
        }
        self.tx
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stream what `produce` writes as an `application/x-tar` body. The answer waits for the first
/// bytes (64 KiB are gathered per chunk), so an error before them is the response's status.
pub async fn tar_stream<F>(produce: F) -> ApiResult<Response>
where
    F: FnOnce(&Engine, &mut dyn Write) -> ApiResult<()> + Send + 'static,
{
    let (tx, body) = bounded_body();
    let (started_tx, started) = oneshot::channel();
    let task = tokio::task::spawn_blocking(move || {
        let mut w = TarWriter {
            tx,
            started: Some(started_tx),
        };
        with_engine(|e| {
            let mut buf = std::io::BufWriter::with_capacity(64 << 10, &mut w);
            produce(e, &mut buf)?;
            buf.flush()?;
            Ok(())
        })
    });
    if started.await.is_err() {
        // finished without writing a byte: its error, if any, is the answer
        task.await
            .map_err(|e| ApiError::internal(format!("archive failed: {e}")))??;
    } else {
        tokio::spawn(async move {
            if let Ok(Err(e)) = task.await {
                tracing::warn!("archive stream ended early: {e}");
            }
        });
    }
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(r)
}
