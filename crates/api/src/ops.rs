//! Container operations beyond the lifecycle: `top`, `stats` (one-shot and streamed), the
//! archive endpoints behind `docker cp` (HEAD/GET/PUT `/archive`), `export`, `changes`,
//! `prune`, `rename`, `pause`/`unpause` and `update`, on the engine's operations the `berth`
//! CLI runs too.

use crate::http::{
    blocking, body_reader, bounded_body, no_content, ok, parse_json, read_body, tar_stream,
    with_engine, ApiError, ApiResult, Q,
};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use engine::container::{archive, put_guard};
use engine::engine::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub fn routes() -> Router {
    Router::new()
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/stats", get(stats))
        .route(
            "/containers/{id}/archive",
            get(archive_get).head(archive_head).put(archive_put),
        )
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/changes", get(changes))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/update", post(update))
}

// ------------------------------------------------------------------ top

async fn top(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let args: Vec<String> = q
        .get("ps_args")
        .filter(|a| !a.trim().is_empty())
        .map(|a| vec![a.to_string()])
        .unwrap_or_default();
    let (titles, procs) = blocking(move |e| Ok(e.top(&id, &args)?)).await?;
    Ok(ok(&json!({ "Titles": titles, "Processes": procs })))
}

// ------------------------------------------------------------------ stats

/// How often a stats stream sends a document (dockerd's collector interval).
const STATS_INTERVAL: Duration = Duration::from_secs(1);

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Sleep `d`, waking early when the client has gone; false then.
fn sleep_unless_gone(tx: &mpsc::Sender<Bytes>, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if tx.is_closed() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(end - Instant::now()));
    }
    !tx.is_closed()
}

/// The stream of `docker stats`: a document a second while the container runs, each with the
/// previous one's CPU figures as `precpu_stats`; it ends when the container stops or the client
/// leaves. A container not running yet gets nothing until it starts (as with dockerd).
fn stats_stream(e: &Engine, id: &str, tx: mpsc::Sender<Bytes>) {
    let mut prev: Option<Value> = None;
    let mut was_live = false;
    loop {
        let Ok(c) = e.find_reconciled(id) else {
            return;
        };
        if c.state.status.is_live() {
            was_live = true;
            let v = e.stats_sample(&c, prev.as_ref());
            let mut line = serde_json::to_vec(&v).unwrap_or_default();
            line.push(b'\n');
            if tx.blocking_send(Bytes::from(line)).is_err() {
                return;
            }
            prev = Some(v);
        } else if was_live {
            return;
        }
        if !sleep_unless_gone(&tx, STATS_INTERVAL) {
            return;
        }
    }
}

async fn stats(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let stream = q.bool_or("stream", true);
    let one_shot = q.bool("one-shot");
    if stream && one_shot {
        return Err(ApiError::bad_request(
            "cannot have stream=true and one-shot=true",
        ));
    }
    if !stream {
        let v = blocking(move |e| {
            let c = e.find_reconciled(&id)?;
            Ok(if one_shot {
                e.stats_sample(&c, None)
            } else {
                e.stats(&c.id, STATS_INTERVAL)?
            })
        })
        .await?;
        return Ok(ok(&v));
    }
    let c = blocking(move |e| Ok(e.find_reconciled(&id)?)).await?;
    let (tx, body) = bounded_body();
    tokio::task::spawn_blocking(move || {
        let _ = with_engine(|e| {
            stats_stream(e, &c.id, tx);
            Ok(())
        });
    });
    Ok(with_type(body, "application/json"))
}

// ------------------------------------------------------------------ archive

/// docker's PathStat, in its field order (the `X-Docker-Container-Path-Stat` header).
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct PathStat {
    name: String,
    size: i64,
    mode: u32,
    mtime: String,
    link_target: String,
}

impl PathStat {
    fn from_engine(v: &Value) -> PathStat {
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        PathStat {
            name: s("name"),
            size: v["size"].as_i64().unwrap_or(0),
            mode: v["mode"].as_u64().unwrap_or(0) as u32,
            mtime: s("mtime"),
            link_target: s("linkTarget"),
        }
    }

    /// The header value: base64 (standard alphabet, padded) of the JSON.
    fn header(&self) -> String {
        base64(&serde_json::to_vec(self).unwrap_or_default())
    }
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `path` of an archive request: required, as dockerd has it.
fn archive_path(q: &Q) -> ApiResult<String> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path cannot be empty")),
    }
}

/// A missing container path is a 404 (the docker CLI reads that status), the rest as usual.
fn path_error(e: engine::Error) -> ApiError {
    if archive::is_path_not_found(&e) {
        ApiError::not_found(e.to_string())
    } else {
        e.into()
    }
}

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn stat_header(r: &mut Response, stat: &Value) -> ApiResult<()> {
    let v = HeaderValue::from_str(&PathStat::from_engine(stat).header())
        .map_err(|e| ApiError::internal(format!("path stat header: {e}")))?;
    r.headers_mut().insert(STAT_HEADER, v);
    Ok(())
}

async fn archive_head(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let path = archive_path(&q)?;
    let stat = blocking(move |e| e.stat_path(&id, &path).map_err(path_error)).await?;
    let mut r = Response::new(Body::empty());
    stat_header(&mut r, &stat)?;
    Ok(r)
}

async fn archive_get(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let path = archive_path(&q)?;
    let (key, p) = (id.clone(), path.clone());
    let stat = blocking(move |e| e.stat_path(&key, &p).map_err(path_error)).await?;
    let mut r = tar_stream(move |e, w| {
        e.archive_get(&id, &path, false, w).map_err(path_error)?;
        Ok(())
    })
    .await?;
    stat_header(&mut r, &stat)?;
    Ok(r)
}

async fn archive_put(Path(id): Path<String>, q: Q, body: Body) -> ApiResult<Response> {
    let path = archive_path(&q)?;
    let copy_uid_gid = q.bool("copyUIDGID");
    let no_overwrite_dir_non_dir = q.bool("noOverwriteDirNonDir");
    let reader = body_reader(body);
    blocking(move |e| {
        let opts = put_guard::PutOptions {
            copy_uid_gid,
            no_overwrite_dir_non_dir,
        };
        e.archive_put_with(&id, &path, reader, &opts)
            .map_err(path_error)
    })
    .await?;
    Ok(Response::new(Body::empty()))
}

// ------------------------------------------------------------------ export, changes

async fn export(Path(id): Path<String>) -> ApiResult<Response> {
    // a missing container is a 404 before any stream
    let c = blocking(move |e| Ok(e.find_reconciled(&id)?)).await?;
    tar_stream(move |e, w| {
        e.export(&c.id, w)?;
        Ok(())
    })
    .await
}

async fn changes(Path(id): Path<String>) -> ApiResult<Response> {
    let ch = blocking(move |e| Ok(e.diff(&id)?)).await?;
    // dockerd answers null when nothing changed
    Ok(if ch.is_empty() {
        ok(&Value::Null)
    } else {
        ok(&ch)
    })
}

// ------------------------------------------------------------------ prune, rename, pause

async fn prune(q: Q) -> ApiResult<Response> {
    let filters = q.filters()?;
    let (ids, bytes) = blocking(move |e| Ok(e.prune_containers(&filters)?)).await?;
    Ok(ok(&json!({
        "ContainersDeleted": if ids.is_empty() { Value::Null } else { json!(ids) },
        "SpaceReclaimed": bytes,
    })))
}

async fn rename(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let name = q
        .get("name")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "Neither old nor new names may be empty",
        ));
    }
    blocking(move |e| Ok(e.rename(&id, &name)?)).await?;
    Ok(no_content())
}

async fn pause(Path(id): Path<String>) -> ApiResult<Response> {
    blocking(move |e| Ok(e.pause(&id)?)).await?;
    Ok(no_content())
}

async fn unpause(Path(id): Path<String>) -> ApiResult<Response> {
    blocking(move |e| Ok(e.unpause(&id)?)).await?;
    Ok(no_content())
}

// ------------------------------------------------------------------ update

async fn update(Path(id): Path<String>, body: Body) -> ApiResult<Response> {
    let b = read_body(body).await?;
    let req: engine::update::UpdateRequest = parse_json(&b)?;
    let warnings = blocking(move |e| Ok(e.update(&id, &req)?)).await?;
    Ok(ok(&json!({
        "Warnings": if warnings.is_empty() { Value::Null } else { json!(warnings) },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn stat_header_as_dockerd() {
        // the header dockerd 20.10 sent for /etc/passwd of a busybox container
        let v = json!({"linkTarget": "", "mode": 420, "mtime": "2026-11-23T15:25:17Z",
                       "name": "passwd", "size": 116});
        assert_eq!(
            PathStat::from_engine(&v).header(),
            "eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MTE2LCJtb2RlIjo0MjAsIm10aW1lIjoiMjAyNi0xMS0yM1QxNToyNToxN1oiLCJsaW5rVGFyZ2V0IjoiIn0="
        );
        let dir = json!({"name": "etc", "size": 4096, "mode": 2_147_484_141u64,
                         "mtime": "2026-11-23T15:25:17.5Z", "linkTarget": ""});
        let s = PathStat::from_engine(&dir);
        assert_eq!(s.mode, (1 << 31) | 0o755);
        assert!(HeaderValue::from_str(&s.header()).is_ok());
    }

    #[test]
    fn archive_paths() {
        assert_eq!(
            archive_path(&Q::parse("path=%2Fetc%2Fpasswd")).unwrap(),
            "/etc/passwd"
        );
        assert_eq!(archive_path(&Q::parse("path=rel/x")).unwrap(), "rel/x");
        for q in ["", "path=", "other=1"] {
            let e = archive_path(&Q::parse(q)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
        let missing = engine::Error::Other("Could not find the file /nope in container c1".into());
        assert!(archive::is_path_not_found(&missing));
        assert_eq!(path_error(missing).status, StatusCode::NOT_FOUND);
        let other = engine::Error::Invalid("extraction point is not a directory".into());
        assert_eq!(path_error(other).status, StatusCode::BAD_REQUEST);
    }
}
