//! A registry client for the OCI distribution API: anonymous, basic and
//! bearer-token auth, docker-compatible credentials in config.json, parallel
//! streaming layer downloads verified by digest (and unpacked as soon as each
//! one lands, resumed with a Range request when a transfer breaks),
//! cross-repository blob mounts and chunked uploads on push, retries, progress
//! bars.
//!
//! Written on reqwest rather than oci-client because berth needs to stream
//! blobs straight into its own verifying content store, overlap unpacking with
//! downloading, report per-layer progress, reuse docker's config.json and talk
//! plain HTTP to local registries (127.0.0.0/8, localhost) as docker does.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::{Image, ImageStore};
use crate::reference::{Reference, DEFAULT_REGISTRY};
use crate::spec::{self, Platform, MANIFEST_ACCEPT};
use base64::Engine as _;
use futures_util::StreamExt;
use reqwest::{header, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ATTEMPTS: u32 = 4;
const PARALLEL: usize = 4;
/// Blobs larger than this are pushed in PATCH chunks of this size.
const CHUNK: usize = 8 << 20;

/// How to show progress.
#[derive(Clone)]
pub enum Progress {
    /// One indicatif bar per layer (a terminal).
    Bars,
    /// Plain status lines (not a terminal).
    Plain,
    Quiet,
    /// Every step as an [`Event`] (the API's JSON progress stream).
    Events(EventSink),
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Progress::Bars => "Bars",
            Progress::Plain => "Plain",
            Progress::Quiet => "Quiet",
            Progress::Events(_) => "Events",
        })
    }
}

/// One progress message in the terms of docker's JSON messages: `status` about the layer `id`
/// (or the whole transfer), with `current`/`total` bytes while data moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub status: String,
    pub progress: Option<(u64, u64)>,
}

/// Where [`Progress::Events`] go (called from the transfer's threads).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Registry credentials from docker's config.json (`auths.<host>.auth`).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    auths: HashMap<String, (String, String)>,
}

/// `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`.
pub fn config_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

/// docker keys Docker Hub as its v1 index URL.
fn config_key(registry: &str) -> String {
    if registry == DEFAULT_REGISTRY {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_string()
    }
}

fn normalise_server(s: &str) -> String {
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DEFAULT_REGISTRY.into(),
        h => h.to_string(),
    }
}

impl Credentials {
    pub fn from_docker_config() -> Self {
        let mut c = Credentials::default();
        let Ok(b) = std::fs::read(config_path()) else {
            return c;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&b) else {
            return c;
        };
        if let Some(auths) = v.get("auths").and_then(Value::as_object) {
            for (k, e) in auths {
                let Some(a) = e.get("auth").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(a) else {
                    continue;
                };
                let dec = String::from_utf8_lossy(&dec).into_owned();
                if let Some((u, p)) = dec.split_once(':') {
                    c.auths
                        .insert(normalise_server(k), (u.to_string(), p.to_string()));
                }
            }
        }
        c
    }

    pub fn with(mut self, registry: &str, user: &str, pass: &str) -> Self {
        self.auths
            .insert(registry.to_string(), (user.to_string(), pass.to_string()));
        self
    }

    pub fn get(&self, registry: &str) -> Option<(String, String)> {
        self.auths.get(registry).cloned()
    }

    /// The API's `X-Registry-Auth` header: base64url of the JSON `{username, password,
    /// serveraddress, identitytoken}` (or `auth`: base64 of `user:pass`), padded or not;
    /// empty or `{}` means anonymous. The credentials are for `registry`, the image's
    /// registry (which `serveraddress` may spell differently, or leave out).
    pub fn from_registry_auth(header: &str, registry: &str) -> Result<Credentials> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let bad = |reason: String| crate::error::invalid("X-Registry-Auth header", reason);
        let h = header.trim();
        if h.is_empty() {
            return Ok(Credentials::default());
        }
        let raw = URL_SAFE
            .decode(h)
            .or_else(|_| URL_SAFE_NO_PAD.decode(h))
            .or_else(|_| STANDARD.decode(h))
            .map_err(|e| bad(format!("not base64: {e}")))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(format!("not JSON: {e}")))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (mut user, mut pass) = (field("username"), field("password"));
        if user.is_empty() {
            if let Some((u, p)) = STANDARD
                .decode(field("auth"))
                .ok()
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .and_then(|d| {
                    d.split_once(':')
                        .map(|(u, p)| (u.to_string(), p.to_string()))
                })
            {
                (user, pass) = (u, p);
            }
        }
        if user.is_empty() {
            return Ok(Credentials::default());
        }
        Ok(Credentials::default().with(registry, &user, &pass))
    }
}

pub struct PullOptions {
    pub platform: Platform,
    pub progress: Progress,
    pub credentials: Credentials,
}

fn reg_err(registry: &str, message: impl Into<String>) -> Error {
    Error::Registry {
        registry: registry.to_string(),
        message: message.into(),
    }
}

fn is_insecure(host: &str) -> bool {
    let h = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if h == "localhost" || h.starts_with("127.") || h == "[::1]" {
        return true;
    }
    std::env::var("BERTH_INSECURE_REGISTRIES")
        .map(|v| v.split(',').any(|x| x.trim() == host))
        .unwrap_or(false)
}

/// One registry host, with its auth state.
pub struct Client {
    http: reqwest::Client,
    registry: String,
    base: String,
    creds: Option<(String, String)>,
    /// Authorization header per scope (or "" for basic auth).
    auth: Mutex<HashMap<String, String>>,
}

fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, v)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (val, next) = if let Some(stripped) = v.strip_prefix('"') {
            match stripped.find('"') {
                Some(e) => (&stripped[..e], &stripped[e + 1..]),
                None => (stripped, ""),
            }
        } else {
            match v.find(',') {
                Some(e) => (&v[..e], &v[e..]),
                None => (v, ""),
            }
        };
        params.insert(k, val.to_string());
        s = next.trim_start_matches(',').trim();
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Client {
    pub fn new(registry: &str, creds: Option<(String, String)>) -> Result<Self> {
        let host = if registry == DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if is_insecure(host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(PARALLEL * 2)
            .build()
            .map_err(|e| reg_err(registry, format!("http client: {e}")))?;
        Ok(Client {
            http,
            registry: registry.to_string(),
            base: format!("{scheme}://{host}"),
            creds,
            auth: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Send with retries on network errors and 5xx, and one re-send after an
    /// auth challenge. `scope` is the token scope the request needs.
    async fn send(
        &self,
        scope: &str,
        make: &(dyn Fn() -> RequestBuilder + Sync),
    ) -> Result<Response> {
        let mut last = String::new();
        let mut authed_once = false;
        let mut attempt = 0;
        while attempt < ATTEMPTS {
            attempt += 1;
            let mut rb = make();
            if let Some(h) = self.auth.lock().unwrap().get(scope).cloned() {
                rb = rb.header(header::AUTHORIZATION, h);
            }
            match rb.send().await {
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED && !authed_once => {
                    authed_once = true;
                    attempt -= 1;
                    let ch = r
                        .headers()
                        .get(header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        .ok_or_else(|| Error::Unauthorized {
                            registry: self.registry.clone(),
                            message: "401 without a WWW-Authenticate challenge".into(),
                        })?;
                    self.authenticate(scope, &ch).await?;
                }
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED => {
                    let body = r.text().await.unwrap_or_default();
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: if self.creds.is_some() {
                            format!("credentials rejected: {}", body.trim())
                        } else {
                            format!(
                                "authentication required (berth login {}): {}",
                                self.registry,
                                body.trim()
                            )
                        },
                    });
                }
                Ok(r)
                    if r.status().is_server_error()
                        || r.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    last = format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default().trim()
                    );
                }
                Ok(r) => return Ok(r),
                Err(e) => last = format!("{e}"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
        }
        Err(reg_err(
            &self.registry,
            format!("giving up after {ATTEMPTS} attempts: {last}"),
        ))
    }

    async fn authenticate(&self, scope: &str, challenge: &str) -> Result<()> {
        let (scheme, p) = parse_challenge(challenge);
        let header = match scheme.as_str() {
            "basic" => {
                let (u, pw) = self.creds.clone().ok_or_else(|| Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: format!(
                        "basic authentication required (berth login {})",
                        self.registry
                    ),
                })?;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
                )
            }
            "bearer" => {
                let realm = p.get("realm").ok_or_else(|| Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: "bearer challenge without realm".into(),
                })?;
                let mut q: Vec<(&str, String)> = Vec::new();
                if let Some(s) = p.get("service") {
                    q.push(("service", s.clone()));
                }
                // every scope the challenge names plus every one this request
                // needs (a push with a cross-repository mount needs pull on
                // the source repository too), each as its own parameter
                let mut scopes: Vec<String> = Vec::new();
                let challenged = p.get("scope").map(String::as_str).unwrap_or("");
                for sc in challenged.split(' ').chain(scope.split(' ')) {
                    if !sc.is_empty() && !scopes.iter().any(|x| x == sc) {
                        scopes.push(sc.to_string());
                    }
                }
                for sc in scopes {
                    q.push(("scope", sc));
                }
                let mut rb = self.http.get(realm).query(&q);
                if let Some((u, pw)) = &self.creds {
                    rb = rb.basic_auth(u, Some(pw));
                }
                let r = rb.send().await.map_err(|e| {
                    reg_err(&self.registry, format!("token request to {realm}: {e}"))
                })?;
                if !r.status().is_success() {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: if r.status() == StatusCode::UNAUTHORIZED
                            || r.status() == StatusCode::FORBIDDEN
                        {
                            format!(
                                "authentication failed: token server {realm} answered {}{}",
                                r.status(),
                                if self.creds.is_some() {
                                    " (wrong username or password?)".to_string()
                                } else {
                                    format!(" (berth login {})", self.registry)
                                }
                            )
                        } else {
                            format!("token server {realm} answered {}", r.status())
                        },
                    });
                }
                let v: Value = r
                    .json()
                    .await
                    .map_err(|e| reg_err(&self.registry, format!("token response: {e}")))?;
                let t = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| reg_err(&self.registry, "token response without token"))?;
                format!("Bearer {t}")
            }
            other => {
                return Err(Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: format!("unsupported auth scheme {other:?}"),
                })
            }
        };
        self.auth.lock().unwrap().insert(scope.to_string(), header);
        Ok(())
    }

    async fn check(&self, r: Response, what: &str) -> Result<Response> {
        if r.status().is_success() {
            return Ok(r);
        }
        let st = r.status();
        let body = r.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/errors/0/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or(body);
        if st == StatusCode::NOT_FOUND {
            return Err(reg_err(
                &self.registry,
                format!("{what}: not found: {}", msg.trim()),
            ));
        }
        Err(reg_err(
            &self.registry,
            format!("{what}: {st}: {}", msg.trim()),
        ))
    }

    /// GET /v2/ (used by login to check credentials).
    pub async fn ping(&self) -> Result<()> {
        let url = self.url("/v2/");
        let r = self.send("", &|| self.http.get(&url)).await?;
        self.check(r, "ping /v2/").await?;
        Ok(())
    }

    /// Fetch a manifest; returns bytes, media type and digest (verified).
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        scope: &str,
    ) -> Result<(Vec<u8>, String, Digest)> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let r = self
            .send(scope, &|| {
                self.http.get(&url).header(header::ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        let r = self
            .check(r, &format!("manifest {repo}:{reference}"))
            .await?;
        let mt = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let hd = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r
            .bytes()
            .await
            .map_err(|e| {
                reg_err(
                    &self.registry,
                    format!("read manifest {repo}:{reference}: {e}"),
                )
            })?
            .to_vec();
        let d = Digest::of(&body);
        let want = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            hd.filter(|h| h.starts_with("sha256:"))
        };
        if let Some(w) = want {
            if w != d.as_str() {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {repo}:{reference}"),
                    expected: w,
                    actual: d.to_string(),
                });
            }
        }
        Ok((body, mt, d))
    }
}

fn scope_pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}
fn scope_push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// A cross-repository mount needs push on the target and pull on the source.
fn scope_mount(repo: &str, from: &str) -> String {
    format!("{} {}", scope_push(repo), scope_pull(from))
}

/// Per-layer progress display.
struct Bars {
    mode: Progress,
    mp: Option<indicatif::MultiProgress>,
    lock: Mutex<()>,
}

struct Bar<'a> {
    bars: &'a Bars,
    id: String,
    pb: Option<indicatif::ProgressBar>,
    /// for events: the status a byte count goes with, bytes so far, bytes at the last event
    status: Mutex<String>,
    total: u64,
    current: std::sync::atomic::AtomicU64,
    reported: std::sync::atomic::AtomicU64,
}

impl Bars {
    fn new(mode: Progress) -> Self {
        let mp = matches!(mode, Progress::Bars).then(indicatif::MultiProgress::new);
        Bars {
            mode,
            mp,
            lock: Mutex::new(()),
        }
    }

    fn emit(&self, id: Option<&str>, status: &str, progress: Option<(u64, u64)>) {
        if let Progress::Events(sink) = &self.mode {
            sink(&Event {
                id: id.map(str::to_string),
                status: status.to_string(),
                progress,
            });
        }
    }

    /// A message about the whole transfer.
    fn line(&self, s: &str) {
        match &self.mode {
            Progress::Quiet => {}
            Progress::Plain => {
                let _g = self.lock.lock().unwrap();
                let _ = writeln!(std::io::stderr(), "{s}");
            }
            Progress::Bars => {
                if let Some(mp) = &self.mp {
                    let _ = mp.println(s);
                }
            }
            Progress::Events(_) => self.emit(None, s, None),
        }
    }

    /// A message about one layer (or tag): `id: msg` on a terminal, an event with that id.
    fn layer_line(&self, id: &str, msg: &str) {
        match &self.mode {
            Progress::Events(_) => self.emit(Some(id), msg, None),
            _ => self.line(&format!("{id}: {msg}")),
        }
    }

    /// A step only the API's stream reports (docker's CLI shows it, berth's does not).
    fn event(&self, id: &str, msg: &str) {
        self.emit(Some(id), msg, None);
    }

    fn bar(&self, id: &str, total: u64, msg: &str) -> Bar<'_> {
        let pb = self.mp.as_ref().map(|mp| {
            let pb = mp.add(indicatif::ProgressBar::new(total));
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix}: {msg:<18} [{bar:40}] {bytes}/{total_bytes}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            pb.set_prefix(id.to_string());
            pb.set_message(msg.to_string());
            pb
        });
        if matches!(self.mode, Progress::Plain | Progress::Events(_)) {
            self.layer_line(id, msg);
        }
        Bar {
            bars: self,
            id: id.to_string(),
            pb,
            status: Mutex::new(msg.to_string()),
            total,
            current: Default::default(),
            reported: Default::default(),
        }
    }
}

impl Bar<'_> {
    fn inc(&self, n: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some(pb) = &self.pb {
            pb.inc(n);
        }
        if let Progress::Events(_) = &self.bars.mode {
            let cur = self.current.fetch_add(n, SeqCst) + n;
            // an event per 2% (at least 64 KiB) and at the end, not one per chunk
            let step = (self.total / 50).max(64 << 10);
            if cur >= self.reported.load(SeqCst) + step || cur >= self.total {
                self.reported.store(cur, SeqCst);
                let status = self.status.lock().unwrap().clone();
                self.bars
                    .emit(Some(&self.id), &status, Some((cur, self.total)));
            }
        }
    }
    fn reset(&self) {
        if let Some(pb) = &self.pb {
            pb.set_position(0);
        }
        self.current.store(0, std::sync::atomic::Ordering::SeqCst);
        self.reported.store(0, std::sync::atomic::Ordering::SeqCst);
    }
    fn status(&self, msg: &str) {
        *self.status.lock().unwrap() = msg.to_string();
        match &self.pb {
            Some(pb) => pb.set_message(msg.to_string()),
            None => self.bars.layer_line(&self.id, msg),
        }
    }
    fn done(&self, msg: &str) {
        match &self.pb {
            Some(pb) => {
                pb.set_style(
                    indicatif::ProgressStyle::with_template("{prefix}: {msg}").expect("template"),
                );
                pb.finish_with_message(msg.to_string());
            }
            None => self.bars.layer_line(&self.id, msg),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "start async runtime".into(),
            source,
        })
}

/// Download one blob into the content store, verifying digest and size.
/// When the transfer breaks midway it resumes with `Range: bytes=N-` if the
/// registry advertised ranges (`Accept-Ranges: bytes`, or it answered 206),
/// else starts over; the digest is always checked over the whole blob.
async fn fetch_blob(
    c: &Client,
    store: &ImageStore,
    repo: &str,
    d: &spec::Descriptor,
    bar: &Bar<'_>,
) -> Result<()> {
    let url = c.url(&format!("/v2/{repo}/blobs/{}", d.digest));
    let scope = scope_pull(repo);
    let mut last: Option<String> = None;
    let mut w = store.content.writer(Some(d.digest.clone()), Some(d.size))?;
    // bytes already in `w`
    let mut have: u64 = 0;
    let mut ranges = false;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            bar.status(&format!("Retrying ({attempt})"));
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
        let from = if ranges && have > 0 && have < d.size {
            Some(have)
        } else {
            None
        };
        let r = c
            .send(&scope, &|| {
                let rb = c.http.get(&url);
                match from {
                    Some(n) => rb.header(header::RANGE, format!("bytes={n}-")),
                    None => rb,
                }
            })
            .await?;
        let r = c.check(r, &format!("blob {}", d.digest)).await?;
        let partial = r.status() == StatusCode::PARTIAL_CONTENT;
        let resumed = match (from, partial) {
            (Some(n), true) => {
                // the range must start where we stopped
                let start = r
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(n) {
                    last = Some(format!(
                        "registry answered the range request for {} from byte {n} with {:?}",
                        d.digest,
                        r.headers().get(header::CONTENT_RANGE)
                    ));
                    ranges = false;
                    continue;
                }
                true
            }
            (None, true) => {
                last = Some(format!("unasked-for partial content for {}", d.digest));
                ranges = false;
                continue;
            }
            _ => false,
        };
        ranges = ranges
            || partial
            || r.headers()
                .get(header::ACCEPT_RANGES)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case("bytes")));
        if !resumed && have > 0 {
            // the whole blob again: start over
            w = store.content.writer(Some(d.digest.clone()), Some(d.size))?;
            have = 0;
            bar.reset();
        }
        let mut stream = r.bytes_stream();
        let mut broke = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => {
                    if have + b.len() as u64 > d.size {
                        return Err(Error::DigestMismatch {
                            what: format!("blob {}", d.digest),
                            expected: format!("{} bytes", d.size),
                            actual: format!("more than {} bytes", d.size),
                        });
                    }
                    w.write_all(&b).map_err(|source| Error::Io {
                        context: format!("write blob {}", d.digest),
                        source,
                    })?;
                    have += b.len() as u64;
                    bar.inc(b.len() as u64);
                    if have < d.size {
                        fault::point("pull.mid-blob");
                    }
                }
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = broke {
            last = Some(format!(
                "download of {} broke after {have} of {} bytes: {e}",
                d.digest, d.size
            ));
            continue;
        }
        if have < d.size {
            last = Some(format!(
                "download of {} ended after {have} of {} bytes",
                d.digest, d.size
            ));
            continue;
        }
        // a digest mismatch is final: the registry sent the wrong bytes
        return tokio::task::block_in_place(|| w.commit()).map(|_| ());
    }
    Err(reg_err(
        &c.registry,
        format!(
            "giving up after {ATTEMPTS} attempts: {}",
            last.unwrap_or_else(|| "download failed".into())
        ),
    ))
}

/// Pull an image: manifest (selecting the platform from an index), config,
/// then all layers in parallel, each unpacked as soon as it is downloaded.
pub fn pull(store: &ImageStore, r: &Reference, opts: &PullOptions) -> Result<Image> {
    let rt = runtime()?;
    rt.block_on(pull_async(store, r, opts))
}

async fn pull_async(store: &ImageStore, r: &Reference, opts: &PullOptions) -> Result<Image> {
    let c = Client::new(&r.registry, opts.credentials.get(&r.registry))?;
    let repo = &r.repository;
    let scope = scope_pull(repo);
    let bars = Bars::new(opts.progress.clone());
    // as dockerd: nothing is said before the manifest is there (a missing image is an
    // error, not a started pull)
    let (top, mt, top_digest) = c.manifest(repo, &r.registry_ref(), &scope).await?;
    if let Some(t) = &r.tag {
        bars.layer_line(t, &format!("Pulling from {}", r.repository));
    }
    let (kind, _) = spec::kind_of(&top, Some(&mt), &format!("manifest {r}"))?;
    let mbytes = if kind == spec::Parsed::Index {
        store.content.put(&top, Some(&top_digest))?;
        let entries = spec::parse_index(&top, &format!("index {r}"))?;
        let e = spec::select_platform(&entries, &opts.platform, &r.to_string()).map_err(
            |e| match e {
                Error::PlatformNotFound {
                    platform,
                    available,
                    ..
                } => reg_err(
                    &r.registry,
                    format!(
                        "{r}: no matching manifest for {platform} in the manifest list entries \
                         (available: {})",
                        if available.is_empty() {
                            "none".to_string()
                        } else {
                            available
                        }
                    ),
                ),
                other => other,
            },
        )?;
        let (b, _, _) = c
            .manifest(repo, e.descriptor.digest.as_str(), &scope)
            .await?;
        b
    } else {
        top.clone()
    };
    let manifest = spec::parse_manifest(&mbytes, &format!("manifest {r}"))?;
    if !store.content.has(&manifest.config.digest) {
        let url = c.url(&format!("/v2/{repo}/blobs/{}", manifest.config.digest));
        let resp = c.send(&scope, &|| c.http.get(&url)).await?;
        let resp = c
            .check(resp, &format!("config {}", manifest.config.digest))
            .await?;
        let b = resp
            .bytes()
            .await
            .map_err(|e| reg_err(&r.registry, format!("read config: {e}")))?;
        store.content.put(&b, Some(&manifest.config.digest))?;
    }
    let cbytes = store.content.read(&manifest.config.digest)?;
    let (_, info) = spec::parse_config(&cbytes, &format!("config {}", manifest.config.digest))?;
    if info.diff_ids.len() != manifest.layers.len() {
        return Err(crate::error::invalid(
            format!("image {r}"),
            "manifest layers and config rootfs.diff_ids differ in length",
        ));
    }
    let store_ref = store;
    let present = |l: &spec::Descriptor, diff_id: &Digest| {
        store.snapshots.has_layer(diff_id) && store.content.has(&l.digest)
    };
    for (l, diff_id) in manifest.layers.iter().zip(info.diff_ids.iter()) {
        if !present(l, diff_id) {
            bars.event(l.digest.short(), "Pulling fs layer");
        }
    }
    let jobs = manifest
        .layers
        .iter()
        .zip(info.diff_ids.iter())
        .map(|(l, diff_id)| {
            let c = &c;
            let bars = &bars;
            async move {
                let id = l.digest.short().to_string();
                if present(l, diff_id) {
                    bars.layer_line(&id, "Already exists");
                    return Ok::<(), Error>(());
                }
                let bar = bars.bar(&id, l.size, "Downloading");
                if !store_ref.content.has(&l.digest) {
                    fetch_blob(c, store_ref, repo, l, &bar).await?;
                    bars.event(&id, "Download complete");
                    bar.status("Extracting");
                }
                tokio::task::block_in_place(|| store_ref.ensure_layer(&l.digest, diff_id))?;
                bar.done("Pull complete");
                Ok(())
            }
        });
    let results: Vec<Result<()>> = futures_util::stream::iter(jobs)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for res in results {
        res?;
    }
    for l in &manifest.layers {
        store.index.add_blob_source(&l.digest, &r.registry, repo)?;
    }
    store
        .index
        .add_blob_source(&manifest.config.digest, &r.registry, repo)?;
    let tags: Vec<Reference> = if r.tag.is_some() {
        vec![r.clone()]
    } else {
        vec![]
    };
    let img = tokio::task::block_in_place(|| {
        store.add_image(&mbytes, &tags, Some((&r.name(), &top_digest)))
    })?;
    Ok(img)
}

/// Push the local image `local` as `target`. Returns the manifest digest.
pub fn push(
    store: &ImageStore,
    local: &str,
    target: &Reference,
    progress: Progress,
    creds: &Credentials,
) -> Result<Digest> {
    let rt = runtime()?;
    rt.block_on(push_async(store, local, target, progress, creds))
}

async fn push_blob(
    c: &Client,
    store: &ImageStore,
    repo: &str,
    d: &spec::Descriptor,
    bars: &Bars,
) -> Result<()> {
    let scope = scope_push(repo);
    let id = d.digest.short().to_string();
    let head = c.url(&format!("/v2/{repo}/blobs/{}", d.digest));
    let r = c.send(&scope, &|| c.http.head(&head)).await?;
    if r.status().is_success() {
        bars.layer_line(&id, "Layer already exists");
        return Ok(());
    }
    // cross-repository mount from a repo we know has it on this registry
    for from in store.index.blob_sources(&d.digest, &c.registry)? {
        if from == repo {
            continue;
        }
        let url = c.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={}&from={from}",
            d.digest
        ));
        let mount_scope = scope_mount(repo, &from);
        let r = c
            .send(&mount_scope, &|| {
                c.http.post(&url).header(header::CONTENT_LENGTH, 0)
            })
            .await?;
        if r.status() == StatusCode::CREATED {
            bars.layer_line(&id, &format!("Mounted from {from}"));
            return Ok(());
        }
    }
    let bar = bars.bar(&id, d.size, "Preparing");
    let url = c.url(&format!("/v2/{repo}/blobs/uploads/"));
    let r = c
        .send(&scope, &|| {
            c.http.post(&url).header(header::CONTENT_LENGTH, 0)
        })
        .await?;
    let r = c.check(r, &format!("start upload of {}", d.digest)).await?;
    let loc = r
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| reg_err(&c.registry, "upload started without a Location"))?
        .to_string();
    let data = bytes::Bytes::from(store.content.read(&d.digest)?);
    bar.status("Pushing");
    let mut loc = loc;
    // the last part goes with the closing PUT: all of a small blob, nothing
    // after PATCHes of a large one
    let mut tail = data.clone();
    if data.len() > CHUNK {
        let mut start = 0;
        while start < data.len() {
            let end = (start + CHUNK).min(data.len());
            let part = data.slice(start..end);
            let url = c.url(&loc);
            let r = c
                .send(&scope, &|| {
                    c.http
                        .request(Method::PATCH, &url)
                        .header(header::CONTENT_TYPE, "application/octet-stream")
                        .header(header::CONTENT_RANGE, format!("{start}-{}", end - 1))
                        .header(header::CONTENT_LENGTH, part.len())
                        .body(part.clone())
                })
                .await?;
            let r = c
                .check(
                    r,
                    &format!("upload of {} (bytes {start}-{})", d.digest, end - 1),
                )
                .await?;
            if let Some(l) = r
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
            {
                loc = l.to_string();
            }
            bar.inc(part.len() as u64);
            start = end;
        }
        tail = bytes::Bytes::new();
    }
    let sep = if loc.contains('?') { '&' } else { '?' };
    let put_url = c.url(&format!("{loc}{sep}digest={}", d.digest));
    let r = c
        .send(&scope, &|| {
            c.http
                .request(Method::PUT, &put_url)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, tail.len())
                .body(tail.clone())
        })
        .await?;
    c.check(r, &format!("upload of {}", d.digest)).await?;
    bar.inc(tail.len() as u64);
    bar.done("Pushed");
    Ok(())
}

async fn push_async(
    store: &ImageStore,
    local: &str,
    target: &Reference,
    progress: Progress,
    creds: &Credentials,
) -> Result<Digest> {
    let img = store.get(local)?;
    let c = Client::new(&target.registry, creds.get(&target.registry))?;
    let repo = &target.repository;
    let bars = Bars::new(progress);
    bars.line(&format!(
        "The push refers to repository [{}]",
        target.name()
    ));
    // the config goes up like a layer, without a progress line (as with docker)
    let quiet = Bars::new(Progress::Quiet);
    let jobs = img
        .manifest
        .layers
        .iter()
        .map(|d| (d, &bars))
        .chain(std::iter::once((&img.manifest.config, &quiet)))
        .map(|(d, b)| push_blob(&c, store, repo, d, b));
    let results: Vec<Result<()>> = futures_util::stream::iter(jobs)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let mbytes = store.content.read(&img.record.manifest)?;
    let tag = target.registry_ref();
    let url = c.url(&format!("/v2/{repo}/manifests/{tag}"));
    let mt = img.record.media_type.clone();
    let body = bytes::Bytes::from(mbytes);
    let r = c
        .send(&scope_push(repo), &|| {
            c.http
                .put(&url)
                .header(header::CONTENT_TYPE, mt.as_str())
                .body(body.clone())
        })
        .await?;
    c.check(r, &format!("manifest {}", target)).await?;
    for l in &img.manifest.layers {
        store
            .index
            .add_blob_source(&l.digest, &target.registry, repo)?;
    }
    store
        .index
        .add_blob_source(&img.manifest.config.digest, &target.registry, repo)?;
    let rec = &img.record;
    store
        .index
        .add_image(rec, &[], Some((&target.name(), &rec.manifest)))?;
    Ok(rec.manifest.clone())
}

/// Check credentials against the registry (`GET /v2/` with them), storing nothing. Rejected
/// credentials are [`Error::Unauthorized`] with dockerd's message.
pub fn check_login(server: &str, user: &str, pass: &str) -> Result<()> {
    let registry = normalise_server(server);
    let rt = runtime()?;
    rt.block_on(async {
        let c = Client::new(&registry, Some((user.to_string(), pass.to_string())))?;
        c.ping().await.map_err(|e| match e {
            Error::Unauthorized { registry, message } if message.starts_with("credentials") => {
                Error::Unauthorized {
                    registry,
                    message: format!(
                        "login attempt to {}/v2/ failed with status: 401 Unauthorized",
                        c.base
                    ),
                }
            }
            e => e,
        })
    })
}

/// Check credentials against the registry and store them in config.json.
pub fn login(server: &str, user: &str, pass: &str) -> Result<()> {
    check_login(server, user, pass)?;
    let registry = normalise_server(server);
    let path = config_path();
    let mut v = read_config(&path)?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    v["auths"][config_key(&registry)] = serde_json::json!({ "auth": auth });
    write_config(&path, &v)
}

/// Remove stored credentials; returns whether there were any.
pub fn logout(server: &str) -> Result<bool> {
    let registry = normalise_server(server);
    let path = config_path();
    let mut v = read_config(&path)?;
    let removed = v
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .map(|a| {
            let keys: Vec<String> = a
                .keys()
                .filter(|k| normalise_server(k) == registry)
                .cloned()
                .collect();
            for k in &keys {
                a.remove(k);
            }
            !keys.is_empty()
        })
        .unwrap_or(false);
    if removed {
        write_config(&path, &v)?;
    }
    Ok(removed)
}

fn read_config(path: &std::path::Path) -> Result<Value> {
    match std::fs::read(path) {
        Ok(b) => {
            let mut v: Value = serde_json::from_slice(&b).map_err(|e| Error::Credentials {
                path: path.to_path_buf(),
                reason: format!("invalid json: {e}"),
            })?;
            if !v.get("auths").is_some_and(Value::is_object) {
                v["auths"] = serde_json::json!({});
            }
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({"auths": {}})),
        Err(e) => Err(Error::Credentials {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

fn write_config(path: &std::path::Path, v: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let cerr = |e: std::io::Error| Error::Credentials {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(cerr)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(cerr)?;
    f.write_all(serde_json::to_string_pretty(v).expect("json").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(cerr)?;
    std::fs::rename(&tmp, path).map_err(cerr)
}

/// Shared so tests can build a client with explicit credentials.
pub fn client(registry: &str, creds: Option<(String, String)>) -> Result<Arc<Client>> {
    Ok(Arc::new(Client::new(registry, creds)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "basic");
        assert_eq!(p["realm"], "Registry Realm");
    }

    #[test]
    fn registry_auth_header() {
        use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
        let j = r#"{"username":"u","password":"p+/?","serveraddress":"127.0.0.1:5000"}"#;
        for h in [URL_SAFE.encode(j), URL_SAFE_NO_PAD.encode(j)] {
            let c = Credentials::from_registry_auth(&h, "127.0.0.1:5000").unwrap();
            assert_eq!(c.get("127.0.0.1:5000"), Some(("u".into(), "p+/?".into())));
        }
        // `auth` instead of username/password
        let h = URL_SAFE.encode(r#"{"auth":"dTpwdw=="}"#);
        let c = Credentials::from_registry_auth(&h, "docker.io").unwrap();
        assert_eq!(c.get("docker.io"), Some(("u".into(), "pw".into())));
        // anonymous
        for h in ["", "e30=", "e30"] {
            let c = Credentials::from_registry_auth(h, "docker.io").unwrap();
            assert_eq!(c.get("docker.io"), None, "{h:?}");
        }
        assert!(Credentials::from_registry_auth("!!!", "docker.io").is_err());
        assert!(Credentials::from_registry_auth(&URL_SAFE.encode("[1"), "x").is_err());
    }

    #[test]
    fn insecure_hosts_and_keys() {
        assert!(is_insecure("127.0.0.1:5000"));
        assert!(is_insecure("localhost:1"));
        assert!(!is_insecure("quay.io"));
        assert_eq!(config_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(normalise_server("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalise_server("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
