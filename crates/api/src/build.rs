//! `POST /build`: the legacy builder's protocol (what the docker CLI speaks with
//! `DOCKER_BUILDKIT=0`) over the `build` crate, and `POST /build/prune`.

use crate::http::{blocking, body_reader, ok, ApiError, ApiResult, Q};
use crate::images::{progress_response, ProgressStream};
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use build::builder::Options;
use build::context::Context;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

pub fn routes() -> Router {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
}

/// A JSON map of the query (`buildargs`, `labels`); null values are left out (a build arg
/// the client named without a value it does not have).
pub fn json_map(q: &Q, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(s) = q.get(key).filter(|s| !s.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let m: BTreeMap<String, Option<String>> = serde_json::from_str(s)
        .map_err(|e| ApiError::bad_request(format!("invalid {key} {s:?}: {e}")))?;
    Ok(m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// `cachefrom`: a JSON list of image names.
fn cache_from(q: &Q) -> ApiResult<Vec<String>> {
    let Some(s) = q.get("cachefrom").filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    serde_json::from_str(s)
        .map_err(|e| ApiError::bad_request(format!("invalid cachefrom {s:?}: {e}")))
}

/// The builder's text as `{"stream": ...}` messages: what it writes between two flushes is
/// one message, as dockerd sends one per write ("Successfully built <id>\n" whole: clients
/// read it from the last message). Whole UTF-8 characters only: a character split between
/// two writes waits for its rest.
struct StreamWriter<'a> {
    p: &'a ProgressStream,
    pending: Vec<u8>,
}

impl Write for StreamWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let upto = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        if upto > 0 {
            let text = String::from_utf8_lossy(&self.pending[..upto]).into_owned();
            self.pending.drain(..upto);
            self.p.stream(&text);
        }
        Ok(())
    }
}

async fn build(q: Q, body: Body) -> ApiResult<Response> {
    if let Some(r) = q.get("remote").filter(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "remote build contexts ({r}) are not supported: send the context as the request body"
        )));
    }
    let opts = Options {
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        build_args: json_map(&q, "buildargs")?,
        target: q
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        no_cache: q.bool("nocache"),
        labels: json_map(&q, "labels")?,
        quiet: false,
        network_mode: q
            .get("networkmode")
            .filter(|m| *m != "default")
            .unwrap_or_default()
            .to_string(),
        // one `extrahosts=name:ip` parameter per entry (dockerd reads them all)
        extra_hosts: q
            .all("extrahosts")
            .into_iter()
            .filter(|h| !h.is_empty())
            .collect(),
        platform: q.get("platform").map(str::to_string),
        cache_from_images: cache_from(&q)?,
        // dockerd: `rm` defaults to true, `forcerm` implies it
        keep_containers: !q.bool_or("rm", true),
        force_rm: q.bool("forcerm"),
        // secrets and ssh come over BuildKit's session, which the legacy endpoint lacks
        ..Default::default()
    };
    let quiet = q.bool("q");
    let dockerfile = q.get("dockerfile").unwrap_or_default().to_string();
    let reader = body_reader(body);
    progress_response(move |e, p| {
        let images = e.images()?;
        let ctx = Context::from_tar(reader, &images.root.join("tmp"))?;
        let df = build::request::dockerfile_in(&ctx, &dockerfile)?;
        // quiet: the output is kept, and sent only if the build fails (as dockerd does)
        let mut captured: Vec<u8> = Vec::new();
        let mut streamed = StreamWriter {
            p,
            pending: Vec::new(),
        };
        let out: &mut dyn Write = if quiet { &mut captured } else { &mut streamed };
        let mut aux = |id: &str| {
            p.send(&json!({ "aux": { "ID": id } }));
        };
        let result = build::builder::build(e, &ctx, &df, &opts, out, &mut aux);
        let _ = streamed.flush();
        match result {
            Ok(id) => {
                if quiet {
                    p.stream(&format!("{id}\n"));
                }
                Ok(())
            }
            Err(err) => {
                if quiet && !captured.is_empty() {
                    p.stream(&String::from_utf8_lossy(&captured));
                }
                if !p.started() {
                    return Err(err.into());
                }
                let msg = err.to_string();
                p.send(&json!({
                    "errorDetail": { "code": build::request::exit_code(&msg), "message": msg },
                    "error": msg,
                }));
                Ok(())
            }
        }
    })
    .await
}

/// `POST /build/prune`: forget the step cache (its images stay, for `image prune`) and remove
/// the RUN cache mounts.
async fn prune() -> ApiResult<Response> {
    let v = blocking(|e| {
        let p = build::builder::prune_cache(e)?;
        Ok(json!({
            "CachesDeleted": if p.steps.is_empty() { Value::Null } else { json!(p.steps) },
            "SpaceReclaimed": p.reclaimed,
        }))
    })
    .await?;
    Ok(ok(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_maps() {
        let q = Q::parse("buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&labels=");
        let m = json_map(&q, "buildargs").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["A"], "1");
        assert!(json_map(&q, "labels").unwrap().is_empty());
        assert!(json_map(&Q::parse("labels=%5B1%5D"), "labels").is_err());
    }
}
