//! The listeners: a unix socket guarded by file mode and group (0660 root:berth), every
//! connection's peer credentials logged with its requests, versioned paths, and HTTP/1.1 with
//! upgrades for docker's hijacked streams.

use crate::http::ApiError;
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Uri};
use axum::Router;
use hyper_util::rt::TokioIo;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;
use tower::ServiceExt;

/// The newest API version we speak (docker CLI 28 negotiates down to it), and the oldest.
pub use engine::system::version::{API_VERSION, MIN_API_VERSION};

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

/// The API version of a request (from its `/vX.Y` prefix; the newest when unversioned).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct ApiVersion(pub u32, pub u32);

fn parse_version(s: &str) -> Option<ApiVersion> {
    let (a, b) = s.split_once('.')?;
    Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
}

/// Strip `/vX.Y` from the path and check the version is one we speak.
fn versioned(mut req: Request<Body>) -> std::result::Result<Request<Body>, ApiError> {
    let path = req.uri().path();
    let max = parse_version(API_VERSION).expect("static");
    let min = parse_version(MIN_API_VERSION).expect("static");
    let mut version = max;
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((v, tail)) = rest.split_once('/') {
            if let Some(ver) = parse_version(v) {
                if ver > max {
                    return Err(ApiError::bad_request(format!(
                        "client version {v} is too new. Maximum supported API version is {API_VERSION}"
                    )));
                }
                if ver < min {
                    return Err(ApiError::bad_request(format!(
                        "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
                    )));
                }
                version = ver;
                let new_path = format!("/{tail}");
                let pq = match req.uri().query() {
                    Some(q) => format!("{new_path}?{q}"),
                    None => new_path,
                };
                let mut parts = req.uri().clone().into_parts();
                parts.path_and_query = Some(
                    pq.parse()
                        .map_err(|_| ApiError::bad_request("invalid request path"))?,
                );
                *req.uri_mut() = Uri::from_parts(parts)
                    .map_err(|_| ApiError::bad_request("invalid request path"))?;
            }
        }
    }
    req.extensions_mut().insert(version);
    Ok(req)
}

/// The whole request path for one connection: version prefix, routing, logging.
async fn handle(
    router: Router,
    peer: Peer,
    req: Request<hyper::body::Incoming>,
) -> std::result::Result<Response<Body>, std::convert::Infallible> {
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(peer);
    let resp = match versioned(req) {
        Ok(req) => match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        Err(e) => axum::response::IntoResponse::into_response(e),
    };
    tracing::info!(
        uid = peer.uid.map(|u| u as i64).unwrap_or(-1),
        pid = peer.pid.unwrap_or(0),
        status = resp.status().as_u16(),
        ms = start.elapsed().as_millis() as u64,
        "{} {}",
        method,
        uri
    );
    Ok(resp)
}

/// Serve one accepted connection (any stream: unix, or TLS over TCP).
pub fn serve_connection<S>(router: Router, peer: Peer, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let svc = hyper::service::service_fn(move |req| handle(router.clone(), peer, req));
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .with_upgrades();
        if let Err(e) = conn.await {
            tracing::debug!("connection: {e}");
        }
    });
}

/// The gid of `group`, created (as a system group) when missing.
pub fn ensure_group(group: &str) -> Result<u32> {
    let lookup = || -> Result<Option<u32>> {
        Ok(nix::unistd::Group::from_name(group)
            .with_context(|| format!("looking up group {group:?}"))?
            .map(|g| g.gid.as_raw()))
    };
    if let Some(gid) = lookup()? {
        return Ok(gid);
    }
    let st = std::process::Command::new("groupadd")
        .arg("--system")
        .arg(group)
        .status()
        .with_context(|| format!("creating group {group:?}: running groupadd"))?;
    if !st.success() {
        bail!("creating group {group:?}: groupadd failed ({st})");
    }
    lookup()?.with_context(|| format!("group {group:?} missing after groupadd"))
}

/// Bind the unix socket: 0660, root and `gid`; without a gid (rootless) 0600, ours. A stale
/// socket (nobody listening) is replaced; a live one is an error (another server runs there).
pub fn bind_unix(path: &Path, gid: Option<u32>) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("{} is in use: another server listens on it", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("remove stale {}", path.display()))?;
    }
    // bind with a restrictive umask, so the socket is never briefly open to everyone
    // SAFETY: umask only changes this process's file mode mask.
    let old = unsafe { libc::umask(0o177) };
    let l = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let l = l.with_context(|| format!("listen on {}", path.display()))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, Some(0), Some(gid))
            .with_context(|| format!("chown {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .with_context(|| format!("chmod {}", path.display()))?;
    }
    l.set_nonblocking(true)?;
    Ok(tokio::net::UnixListener::from_std(l)?)
}

pub async fn accept_unix(listener: tokio::net::UnixListener, router: Router) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let peer = match stream.peer_cred() {
                    Ok(c) => Peer {
                        uid: Some(c.uid()),
                        pid: c.pid(),
                    },
                    Err(_) => Peer {
                        uid: None,
                        pid: None,
                    },
                };
                serve_connection(router.clone(), peer, stream);
            }
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Answer for paths we do not serve, in the API's error shape.
pub async fn not_found(req: Request<Body>) -> Response<Body> {
    axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: {} {}", req.method(), req.uri().path()),
    ))
}
