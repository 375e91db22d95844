//! `/volumes`: list, create, inspect, remove, prune (the engine's volumes, as the CLI's
//! `berth volume` sees them).

use crate::http::{blocking, json_response, no_content, ok, parse_json, read_body, ApiResult, Q};
use crate::server::ApiVersion;
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use engine::volumes;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn routes() -> Router {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

async fn list(q: Q) -> ApiResult<Response> {
    let f = q.filters()?;
    let v = blocking(move |e| {
        let vs: Vec<Value> = volumes::list(&e.store, &f)?
            .iter()
            .map(volumes::inspect_json)
            .collect();
        Ok(json!({"Volumes": vs, "Warnings": null}))
    })
    .await?;
    Ok(ok(&v))
}

/// The create body (nulls are absent values).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// From API 1.42 a volume created without a name is anonymous, labelled so (moby 23+: the
/// default prune removes it); before, it is as any other (dockerd 20.10).
async fn create(version: Option<Extension<ApiVersion>>, body: Body) -> ApiResult<Response> {
    let b: CreateBody = parse_json(&read_body(body).await?)?;
    let new_client = version.is_none_or(|Extension(v)| v >= ApiVersion(1, 42));
    let anonymous = new_client && b.name.as_deref().unwrap_or("").is_empty();
    let mut labels = b.labels.unwrap_or_default();
    if anonymous {
        labels.insert(volumes::ANONYMOUS_LABEL.into(), String::new());
    }
    let v = blocking(move |e| {
        let (v, _) = volumes::create_with(
            &e.store,
            &e.root,
            b.name.as_deref(),
            b.driver.as_deref().unwrap_or(""),
            labels,
            b.driver_opts.unwrap_or_default(),
            anonymous,
        )?;
        Ok(volumes::inspect_json(&v))
    })
    .await?;
    Ok(json_response(StatusCode::CREATED, &v))
}

async fn inspect(Path(name): Path<String>) -> ApiResult<Response> {
    let v = blocking(move |e| match e.store.volume(&name)? {
        Some(v) => Ok(volumes::inspect_json(&v)),
        None => Err(engine::Error::NoSuchVolume(name).into()),
    })
    .await?;
    Ok(ok(&v))
}

async fn remove(Path(name): Path<String>, q: Q) -> ApiResult<Response> {
    let force = q.bool("force");
    blocking(move |e| Ok(volumes::remove(&e.store, &e.root, &name, force)?)).await?;
    Ok(no_content())
}

/// Before API 1.42 prune removed every unused volume; from 1.42 anonymous ones unless
/// `all=true` (dockerd's rule, which docker-py 7 relies on when it speaks 1.41).
async fn prune(version: Option<Extension<ApiVersion>>, q: Q) -> ApiResult<Response> {
    let mut f = q.filters()?;
    let old_client = version.is_some_and(|Extension(v)| v < ApiVersion(1, 42));
    if old_client {
        f.insert("all".into(), vec!["true".into()]);
    }
    let (gone, bytes) = blocking(move |e| {
        // the store's view of which containers still exist is made true first
        e.reconcile_all()?;
        Ok(volumes::prune(&e.store, &e.root, &f)?)
    })
    .await?;
    Ok(ok(
        &json!({"VolumesDeleted": gone, "SpaceReclaimed": bytes}),
    ))
}
