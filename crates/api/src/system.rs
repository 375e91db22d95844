//! `/_ping`, `/version`, `/info`, `/system/df`.

use crate::http::{blocking, ok, ApiResult};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

pub fn routes() -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(df))
}

/// The handshake: clients negotiate their API version from these headers.
async fn ping(req: Request<Body>) -> Response {
    let body = if req.method() == Method::HEAD {
        Body::empty()
    } else {
        Body::from("OK")
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        "API-Version",
        HeaderValue::from_static(crate::server::API_VERSION),
    );
    h.insert("OSType", HeaderValue::from_static("linux"));
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Swarm", HeaderValue::from_static("inactive"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn version() -> ApiResult<Response> {
    let v = blocking(|e| -> ApiResult<Value> { Ok(e.version()) }).await?;
    Ok(ok(&v))
}

async fn info() -> ApiResult<Response> {
    let v = blocking(|e| -> ApiResult<Value> { Ok(e.info()?) }).await?;
    Ok(ok(&v))
}

async fn df() -> ApiResult<Response> {
    let v = blocking(|e| -> ApiResult<Value> { Ok(e.df()?) }).await?;
    Ok(ok(&v))
}
