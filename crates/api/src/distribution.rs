//! `GET /distribution/{name}/json`: what the registry serves for an image name (its
//! manifest's descriptor and platforms), asked with the request's `X-Registry-Auth`.

use crate::http::{blocking, ok, ApiError, ApiResult};
use crate::images::credentials;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use image::registry::manifests::distribution_inspect;
use image::Reference;

pub fn routes() -> Router {
    Router::new().route("/distribution/{*rest}", get(inspect))
}

/// The name holds slashes and colons (`127.0.0.1:5000/a/b:tag`): the path up to `/json`.
async fn inspect(Path(rest): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let Some(name) = rest.trim_start_matches('/').strip_suffix("/json") else {
        return Err(ApiError::not_found(format!(
            "page not found: /distribution/{rest}"
        )));
    };
    let r = Reference::parse(name)?;
    let creds = credentials(&headers, &r.registry)?;
    let v = blocking(move |_| Ok(distribution_inspect(&r, &creds)?)).await?;
    Ok(ok(&v))
}
