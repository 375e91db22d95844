//! The container lifecycle over the API: create, start, attach (hijacked), wait, logs, stop,
//! kill, restart, remove, inspect, list, resize.

use crate::ci_json;
use crate::host_config::host_config_of;
use crate::http::{
    blocking, bounded_body, channel_body, json_response, no_content, ok, parse_json, read_body,
    strip_nulls, with_engine, ApiError, ApiResult, Q,
};
use crate::networks::EndpointConfig;
use crate::streams::{self, encode, hijack, stream_type};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use bytes::Bytes;
use engine::container::create::CreateRequest;
use engine::engine::Engine;
use engine::monitor;
use engine::types::Status;
use engine::types::{Config, Container, HostConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn routes() -> Router {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(create))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}", delete(remove))
}

fn find(e: &Engine, id: &str) -> ApiResult<Container> {
    Ok(e.find_reconciled(id)?)
}

// ------------------------------------------------------------------ list, inspect

async fn list(q: Q) -> ApiResult<Response> {
    let filters = q.filters()?;
    let all = q.bool("all");
    let limit = q.int("limit")?.filter(|n| *n > 0);
    let size = q.bool("size");
    let v = blocking(move |e| {
        let mut cs = engine::query::select(e.list_reconciled()?, all || limit.is_some(), &filters)?;
        if let Some(n) = limit {
            cs.truncate(n as usize);
        }
        let mut out = Vec::new();
        for c in &cs {
            let mut v = engine::query::summary(c);
            if size {
                if let Ok(i) = e.images() {
                    v["SizeRw"] = json!(engine::volumes::du(&i.snapshots.upper_dir(&c.id)));
                }
            }
            out.push(v);
        }
        Ok(out)
    })
    .await?;
    Ok(ok(&v))
}

async fn inspect(
    Path(id): Path<String>,
    version: Option<axum::Extension<crate::server::ApiVersion>>,
    q: Q,
) -> ApiResult<Response> {
    let size = q.bool("size");
    let version = version.map(|axum::Extension(v)| v);
    let v = blocking(move |e| {
        let c = find(e, &id)?;
        let mut v = c.inspect_json();
        crate::networks::short_id_aliases(&mut v, version);
        // the monitor records "starting" a moment after the start has answered; dockerd's
        // inspect has it from the start on (docker-py polls State.Health.Status right away)
        let checked = engine::health::settings(c.config.healthcheck.as_ref()).is_some();
        if checked && c.state.status.has_process() && c.state.health.is_none() {
            v["State"]["Health"] = json!({"Status": "starting", "FailingStreak": 0, "Log": []});
        }
        if size {
            if let Ok(i) = e.images() {
                v["SizeRw"] = json!(engine::volumes::du(&i.snapshots.upper_dir(&c.id)));
            }
        }
        Ok(v)
    })
    .await?;
    Ok(ok(&v))
}

// ------------------------------------------------------------------ create

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetworkingConfig {
    endpoints_config: Option<BTreeMap<String, EndpointConfig>>,
}

/// The engine's create request from the API's body (`POST /containers/create`, after
/// [`parse_json`]): Config at the top level, HostConfig and NetworkingConfig beside it. Also
/// the extra networks to connect after the create. Public for the fuzz target
/// (fuzz/fuzz_targets/api_create.rs).
pub fn create_request(
    name: Option<String>,
    mut body: Value,
) -> ApiResult<(CreateRequest, Vec<(String, EndpointConfig)>)> {
    strip_nulls(&mut body);
    let Value::Object(mut m) = body else {
        return Err(ApiError::bad_request("invalid JSON: expected an object"));
    };
    let dup = |e: serde_json::Error| ApiError::bad_request(format!("invalid JSON: {e}"));
    let mut host_config: HostConfig = match ci_json::take(&mut m, "HostConfig").map_err(dup)? {
        Some(h) => host_config_of(h)?,
        None => HostConfig::default(),
    };
    // docker-py's `create_container(runtime=...)` sends the runtime beside the config (dockerd
    // ignores it there, and runs its default, named runc): taken as the runtime asked for
    if let Some(Value::String(r)) = ci_json::take(&mut m, "Runtime").map_err(dup)? {
        if host_config.runtime.is_empty() {
            host_config.runtime = r;
        }
    }
    let endpoints: BTreeMap<String, EndpointConfig> =
        match ci_json::take(&mut m, "NetworkingConfig").map_err(dup)? {
            Some(n) => ci_json::from_value::<NetworkingConfig>(n)
                .map_err(|e| ApiError::bad_request(format!("invalid NetworkingConfig: {e}")))?
                .endpoints_config
                .unwrap_or_default(),
            None => BTreeMap::new(),
        };
    let config: Config = ci_json::from_value(Value::Object(m))
        .map_err(|e| ApiError::bad_request(format!("invalid container config: {e}")))?;
    if config.image.is_empty() {
        return Err(ApiError::bad_request(
            "config cannot be empty in order to create a container",
        ));
    }
    let mut req = CreateRequest {
        name: name.filter(|n| !n.is_empty()),
        config,
        host_config,
        ..Default::default()
    };
    let mode = req.host_config.network_mode.clone();
    let mut extra = Vec::new();
    let unset = mode.is_empty() || mode == "default";
    for (net, ep) in &endpoints {
        let primary = net == &mode
            || (unset && (endpoints.len() == 1 || net == "bridge"))
            || (mode == "bridge" && net == "bridge");
        if primary {
            if unset && net != "bridge" && !engine::net::is_special(net) {
                // the endpoint names the network when the mode does not
                req.host_config.network_mode = net.clone();
            }
            req.network_aliases = ep.aliases();
            req.ip = ep.ip();
            req.endpoint = ep.spec();
        } else {
            extra.push((net.clone(), ep.clone()));
        }
    }
    Ok((req, extra))
}

/// Every endpoint of `NetworkingConfig`, checked (for what they record after the create).
fn endpoints_of(body: &Value) -> ApiResult<Vec<(String, EndpointConfig)>> {
    let n = body
        .as_object()
        .and_then(|m| m.get(&ci_json::key_of(m, "NetworkingConfig").ok()??));
    let Some(n) = n.filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    let eps = ci_json::from_value::<NetworkingConfig>(n.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid NetworkingConfig: {e}")))?
        .endpoints_config
        .unwrap_or_default();
    for ep in eps.values() {
        ep.mac()?;
    }
    Ok(eps.into_iter().collect())
}

async fn create(q: Q, body: Body) -> ApiResult<Response> {
    fault::mark("api.create");
    let body = read_body(body).await?;
    let v: Value = parse_json(&body)?;
    let recorded = endpoints_of(&v)?;
    let (req, extra) = create_request(q.get("name").map(String::from), v)?;
    let (id, warnings) = blocking(move |e| {
        let (c, warnings) = e.create(req)?;
        let joined = extra
            .iter()
            .try_for_each(|(net, ep)| engine::net::connect_endpoint(e, &c.id, net, &ep.spec()));
        let recorded = joined.and_then(|()| {
            recorded
                .iter()
                .try_for_each(|(net, ep)| ep.record(e, &c.id, net))
        });
        if let Err(err) = recorded {
            let _ = e.remove(&c.id, true, true);
            return Err(err.into());
        }
        Ok((c.id, warnings))
    })
    .await?;
    fault::mark("api.created");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "Id": id, "Warnings": warnings }),
    ))
}

// ------------------------------------------------------------------ start, attach, wait

async fn start(Path(id): Path<String>) -> ApiResult<Response> {
    fault::mark("api.start");
    let started = blocking(move |e| {
        let c = find(e, &id)?;
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            return Ok(false);
        }
        streams::start(e, &c.id)?;
        Ok(true)
    })
    .await?;
    fault::mark("api.started");
    Ok(if started {
        no_content()
    } else {
        not_modified()
    })
}

async fn attach(Path(id): Path<String>, q: Q, mut req: Request<Body>) -> ApiResult<Response> {
    fault::mark("api.attach");
    let want_stdin = q.bool("stdin");
    let want_out = q.bool("stdout");
    let want_err = q.bool("stderr");
    let stream = q.bool("stream");
    let logs = q.bool("logs");
    let detach_keys = detach_keys_or_default(q.get("detachKeys").unwrap_or(""))?;
    let (c, hub) = blocking(move |e| {
        let c = find(e, &id)?;
        if c.state.status == Status::Paused {
            return Err(ApiError::conflict(
                "You cannot attach to a paused container, unpause it first",
            ));
        }
        let hub = if !stream {
            None
        } else if c.state.status.is_live() {
            Some(streams::running(e, &c.id)?)
        } else {
            Some(streams::pending(&c.id))
        };
        engine::events::container(e, &c, "attach", &[]);
        Ok((c, hub))
    })
    .await?;
    let tty = c.config.tty;
    let mut rx = hub.as_ref().map(|h| h.subscribe());
    let past = if logs {
        let c = c.clone();
        blocking(move |_| Ok(past_logs(&c, want_out, want_err))).await?
    } else {
        Vec::new()
    };
    Ok(hijack(&mut req, stream_type(tty), move |io| async move {
        let (mut rd, mut wr) = tokio::io::split(io);
        let detached = std::sync::Arc::new(tokio::sync::Notify::new());
        let reader = match (&hub, want_stdin && c.config.open_stdin) {
            (Some(h), true) => {
                let h = h.clone();
                let detached = detached.clone();
                let mut keys = Detach::new(detach_keys);
                Some(tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match rd.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                h.send(monitor::STDIN_EOF, &[]);
                                break;
                            }
                            Ok(n) => {
                                let (pass, hit) = keys.feed(&buf[..n]);
                                if !pass.is_empty() {
                                    h.send(monitor::STDIN, &pass);
                                }
                                if hit {
                                    // the container keeps running; only this client leaves
                                    detached.notify_one();
                                    break;
                                }
                            }
                        }
                    }
                }))
            }
            _ => None,
        };
        for (kind, line) in past {
            if wr.write_all(&encode(tty, kind, &line)).await.is_err() {
                return;
            }
        }
        let _ = wr.flush().await;
        if let Some(rx) = rx.as_mut() {
            loop {
                let f = tokio::select! {
                    f = rx.recv() => match f { Some(f) => f, None => break },
                    _ = detached.notified() => break,
                };
                let wanted = match f.kind {
                    monitor::STDOUT => want_out,
                    _ => want_err,
                };
                if !wanted {
                    continue;
                }
                if wr.write_all(&encode(tty, f.kind, &f.data)).await.is_err() {
                    break;
                }
                let _ = wr.flush().await;
            }
        }
        let _ = wr.shutdown().await;
        // the client closes its end once it has read everything (or at once without stdin)
        if let Some(r) = reader {
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
    }))
}

/// `ctrl-p,ctrl-q` (docker's default) → the bytes a client types for them. Public for the
/// fuzz target (fuzz/fuzz_targets/api_filters.rs).
pub fn parse_detach_keys(s: &str) -> ApiResult<Vec<u8>> {
    let bad = || ApiError::bad_request(format!("Invalid detach keys ({s}) provided"));
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [x @ b'a'..=b'z'] => x - b'a' + 1,
                [b'@'] => 0,
                [x @ (b'[' | b'\\' | b']' | b'^' | b'_')] => x - b'[' + 27,
                _ => return Err(bad()),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// docker's default detach sequence, ctrl-p ctrl-q.
pub(crate) const DEFAULT_DETACH_KEYS: [u8; 2] = [16, 17];

/// The detach sequence a client asked for (attach's `detachKeys`, an exec's `DetachKeys`), or
/// docker's default when it asked for none.
pub(crate) fn detach_keys_or_default(s: &str) -> ApiResult<Vec<u8>> {
    if s.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    parse_detach_keys(s)
}

pub use runtime::detach_keys::Detach;

/// What the container wrote so far (attach with `logs=1`).
fn past_logs(c: &Container, stdout: bool, stderr: bool) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    if c.log_path.is_empty() {
        return out;
    }
    let opts = engine::logs::ReadOptions {
        stdout,
        stderr,
        ..Default::default()
    };
    let _ = engine::logs::read(
        std::path::Path::new(&c.log_path),
        &opts,
        &mut || false,
        &mut |e| {
            let kind = match e.stream {
                engine::logs::Stream::Stdout => monitor::STDOUT,
                engine::logs::Stream::Stderr => monitor::STDERR,
            };
            out.push((kind, e.line.clone()));
            true
        },
    );
    out
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`. The headers go out at
/// once (the docker CLI starts the container only after they arrive); the body when it ends.
async fn wait(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    fault::mark("api.wait");
    let cond = q.get("condition").unwrap_or("not-running").to_string();
    let cond = if cond.is_empty() {
        "not-running".to_string()
    } else {
        cond
    };
    if !matches!(cond.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad_request(format!(
            "invalid condition: {cond:?}"
        )));
    }
    let (c, hub) = {
        let cond = cond.clone();
        blocking(move |e| {
            let c = find(e, &id)?;
            let live = c.state.status.is_live();
            let hub = match cond.as_str() {
                "not-running" if !live => None,
                "removed" if !live && c.state.status != Status::Created => None,
                _ if live => streams::running(e, &c.id).ok(),
                _ => Some(streams::pending(&c.id)),
            };
            Ok((c, hub))
        })
        .await?
    };
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let mut code = c.state.exit_code;
        let restarts = !matches!(c.host_config.restart_policy.name.as_str(), "" | "no");
        if let Some(h) = &hub {
            let id = c.id.clone();
            let exited = async {
                let exit = h.wait_exit().await;
                fault::mark("api.wait-exit");
                tokio::task::spawn_blocking(move || streams::exit_code(&exit, &id))
                    .await
                    .unwrap_or(-1)
            };
            code = if restarts && cond != "removed" {
                // a restart policy restarts the process in the same run: the wait answers at
                // each exit, as dockerd's does
                let id = c.id.clone();
                let restarted = blocking(move |e| Ok(next_exit(e, &id)));
                tokio::select! {
                    code = exited => code,
                    code = restarted => code.unwrap_or(-1),
                }
            } else {
                exited.await
            };
        } else if cond == "not-running" || c.state.status.is_live() {
            let id = c.id.clone();
            code = blocking(move |e| {
                Ok(e.wait_not_live(&id, Duration::from_secs(u64::MAX / 4))
                    .map(|c| c.state.exit_code)
                    .unwrap_or(-1))
            })
            .await
            .unwrap_or(-1);
        }
        if cond == "removed" {
            // until the record is gone (a --rm container is gone before its exit is reported)
            loop {
                let id = c.id.clone();
                let gone = blocking(move |e| Ok(e.find_reconciled(&id).is_err()))
                    .await
                    .unwrap_or(true);
                if gone || tx.is_closed() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // a start failure was the start request's answer already; as dockerd, the wait
        // reports only the code (the CLI would log the error a second time)
        let mut line = serde_json::to_vec(&json!({"StatusCode": code, "Error": Value::Null}))
            .unwrap_or_default();
        line.push(b'\n');
        fault::mark("api.wait-answer");
        let _ = tx.send(Bytes::from(line));
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Block until the container's process exits once (it stops, or its restart policy is about to
/// start it again); its exit code.
fn next_exit(e: &engine::engine::Engine, id: &str) -> i64 {
    let Ok(first) = e.find(id) else { return -1 };
    loop {
        let Ok(c) = e.find(id) else { return -1 };
        let exited = !c.state.status.is_live()
            || c.state.status == Status::Restarting
            || c.restart_count != first.restart_count
            || c.state.started_at != first.state.started_at;
        if exited {
            return c.state.exit_code;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn resize(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let h = q.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = q.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    blocking(move |e| {
        let c = find(e, &id)?;
        if !c.state.status.is_live() {
            return Err(ApiError::conflict(format!(
                "cannot resize container {}: container is not running",
                c.id
            )));
        }
        streams::running(e, &c.id)?.resize(h, w);
        Ok(())
    })
    .await?;
    Ok(ok(&json!({})))
}

// ------------------------------------------------------------------ logs

async fn logs(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let stdout = q.bool("stdout");
    let stderr = q.bool("stderr");
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let follow = q.bool("follow");
    let timestamps = q.bool("timestamps");
    let tail = match q.get("tail").unwrap_or("all") {
        "all" | "" => None,
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n as usize),
    };
    let now = chrono::Utc::now();
    let time = |k: &str| -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
        match q.get(k) {
            None | Some("") | Some("0") => Ok(None),
            Some(s) => engine::logs::parse_time(s, now)
                .map(Some)
                .map_err(|e| ApiError::bad_request(e.to_string())),
        }
    };
    let opts = engine::logs::ReadOptions {
        follow,
        tail,
        since: time("since")?,
        until: time("until")?,
        stdout,
        stderr,
    };
    let c = blocking(move |e| find(e, &id)).await?;
    if c.log_path.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "configured logging driver does not support reading",
        ));
    }
    let tty = c.config.tty;
    // bounded: a long log read for a slow client waits for it instead of piling up
    let (tx, body) = bounded_body();
    tokio::task::spawn_blocking(move || {
        let _ = crate::http::with_engine(|e| {
            let path = std::path::PathBuf::from(&c.log_path);
            let mut running = || {
                !tx.is_closed()
                    && e.store
                        .get(&c.id)
                        .ok()
                        .flatten()
                        .is_some_and(|c| c.state.status.is_live())
            };
            let mut emit = |en: &engine::logs::LogEntry| -> bool {
                let kind = match en.stream {
                    engine::logs::Stream::Stdout => monitor::STDOUT,
                    engine::logs::Stream::Stderr => monitor::STDERR,
                };
                let mut data = Vec::new();
                if timestamps {
                    data.extend_from_slice(
                        en.time
                            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                            .as_bytes(),
                    );
                    data.push(b' ');
                }
                data.extend_from_slice(&en.line);
                tx.blocking_send(Bytes::from(encode(tty, kind, &data)))
                    .is_ok()
            };
            engine::logs::read(&path, &opts, &mut running, &mut emit)?;
            Ok(())
        });
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(stream_type(tty)),
    );
    Ok(r)
}

// ------------------------------------------------------------------ stop, kill, restart, rm

fn not_modified() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    r
}

async fn stop(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let t = q.int("t")?;
    let signal = q.get("signal").map(String::from);
    let stopped = blocking(move |e| {
        let c = find(e, &id)?;
        if !c.state.status.is_live() {
            return Ok(false);
        }
        if let Some(s) = signal.filter(|s| !s.is_empty()) {
            engine::container::signal::parse_signal(&s)?;
            e.store
                .update(&c.id, |c| c.config.stop_signal = Some(s.clone()))?;
        }
        e.stop(&c.id, t)?;
        Ok(true)
    })
    .await?;
    Ok(if stopped {
        no_content()
    } else {
        not_modified()
    })
}

async fn kill(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let signal = q.get("signal").unwrap_or("").to_string();
    let signal = if signal.is_empty() {
        "KILL".to_string()
    } else {
        signal
    };
    blocking(move |e| {
        let c = e.kill(&id, &signal)?;
        // as dockerd: after SIGKILL the answer comes once the container is seen stopped, so
        // an inspect right after shows it exited (a kernel kill cannot be ignored)
        if engine::container::signal::parse_signal(&signal)? == nix::sys::signal::Signal::SIGKILL {
            e.wait_not_live(&c.id, std::time::Duration::from_secs(10))?;
        }
        Ok(())
    })
    .await?;
    Ok(no_content())
}

async fn restart(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let t = q.int("t")?;
    blocking(move |e| {
        let c = find(e, &id)?;
        e.stop(&c.id, t)?;
        streams::start(e, &c.id)
    })
    .await?;
    Ok(no_content())
}

async fn remove(Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let force = q.bool("force");
    let volumes = q.bool("v");
    if q.bool("link") {
        // a link is removed by its name, /containers/{container}/{alias} (see networks.rs)
        // (dockerd 20.10 answers this with a 500)
        return Err(engine::Error::Other(
            "Conflict, cannot remove the default link name of the container".into(),
        )
        .into());
    }
    // the answer goes once the container is gone; what its removal left for later (its
    // directories in the trash) is cleared after that, on the same blocking thread
    let (tx, rx) = tokio::sync::oneshot::channel::<ApiResult<()>>();
    tokio::task::spawn_blocking(move || {
        let mut tx = Some(tx);
        let opened = with_engine(|e| {
            let mut later = engine::container::leftovers::Leftovers::new(e);
            let removed = e.remove_into(&id, force, volumes, &mut later);
            if let Some(tx) = tx.take() {
                let _ = tx.send(removed.map_err(ApiError::from));
            }
            later.clear();
            Ok(())
        });
        if let (Err(e), Some(tx)) = (opened, tx) {
            let _ = tx.send(Err(e));
        }
    });
    rx.await
        .map_err(|_| ApiError::internal("request handler failed"))??;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_with_nulls_and_endpoints() {
        let body = json!({
            "Image": "busybox", "Cmd": ["sh"], "Env": null, "Tty": true,
            "HostConfig": {"Binds": null, "NetworkMode": "mynet", "AutoRemove": true},
            "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.89.0.9"}}, "other": {"Aliases": ["x"]}}}
        });
        let (req, extra) = create_request(Some("c1".into()), body).unwrap();
        assert_eq!(req.name.as_deref(), Some("c1"));
        assert_eq!(req.config.image, "busybox");
        assert!(req.config.tty);
        assert!(req.host_config.auto_remove);
        assert_eq!(req.network_aliases, vec!["db"]);
        assert_eq!(req.ip.as_deref(), Some("10.89.0.9"));
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].0, "other");
    }

    #[test]
    fn a_lone_endpoint_names_the_network() {
        let body = json!({"Image": "b", "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}}}});
        let (req, extra) = create_request(None, body).unwrap();
        assert_eq!(req.host_config.network_mode, "proj_default");
        assert_eq!(req.network_aliases, vec!["web"]);
        assert!(extra.is_empty());
    }

    #[test]
    fn detach_sequences() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-pp").is_err());
    }

    #[test]
    fn an_empty_image_is_refused() {
        assert_eq!(
            create_request(None, json!({"Cmd": ["x"]}))
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }
}
