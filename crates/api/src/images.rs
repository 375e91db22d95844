//! The image endpoints: list, inspect, history, tag, remove, prune, pull and import
//! (`/images/create`), push, save (`/images/get`, `/images/{name}/get`), load, `/commit` and
//! `/auth`, on the same image code as the CLI's commands.

use crate::http::{
    blocking, image_status, json_response, no_content, ok, parse_json, read_body, tar_stream,
    with_engine, ApiError, ApiResult, Filters, JsonStream, Q,
};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use engine::container::commit::CommitOptions;
use engine::engine::Engine;
use engine::events;
use engine::image_removal::{image_not_found, ImageDelete};
use image::archive::{self, ArchiveFormat};
use image::registry::{self, Credentials, Event, Progress};
use image::spec::Platform;
use image::{views, ImageStore, Reference};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub fn routes() -> Router {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/prune", post(prune))
        .route("/images/get", get(save_many))
        .route(
            "/images/{*rest}",
            get(by_name).post(by_name).delete(by_name),
        )
        .route("/commit", post(commit))
        .route("/auth", post(auth))
}

// ------------------------------------------------------------------ names and errors

/// What a request under `/images/{name}/...` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Inspect,
    History,
    Save,
    Push,
    Tag,
    Remove,
}

/// Split `/images/{rest}` into the image name (which holds slashes and colons:
/// `127.0.0.1:5000/a/b:tag`) and what is asked of it, by method and last path segment.
pub fn split_name(method: &Method, rest: &str) -> Option<(String, Action)> {
    let rest = rest.trim_start_matches('/');
    let suffix = |s: &str| {
        rest.strip_suffix(s)
            .and_then(|n| n.strip_suffix('/'))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    };
    match *method {
        Method::GET => [
            ("json", Action::Inspect),
            ("history", Action::History),
            ("get", Action::Save),
        ]
        .into_iter()
        .find_map(|(s, a)| suffix(s).map(|n| (n, a))),
        Method::POST => [("push", Action::Push), ("tag", Action::Tag)]
            .into_iter()
            .find_map(|(s, a)| suffix(s).map(|n| (n, a))),
        Method::DELETE => (!rest.is_empty()).then(|| (rest.to_string(), Action::Remove)),
        _ => None,
    }
}

/// An image looked up by the name a request gave; docker's "No such image" when missing.
fn get_image(store: &ImageStore, name: &str) -> ApiResult<image::Image> {
    store.get(name).map_err(|e| lookup_error(name, e))
}

/// A store error of a lookup of `name`: docker's "No such image" when missing.
fn lookup_error(name: &str, e: image::Error) -> ApiError {
    match e {
        image::Error::ImageNotFound(_) => image_not_found(name).into(),
        e => ApiError::from(e),
    }
}

/// A pull's or push's registry error as a status: a missing image or tag is 404. (Not 401 for
/// missing credentials: the docker CLI would take that for a cue to prompt for a login.)
fn registry_error(e: image::Error) -> ApiError {
    match &e {
        image::Error::Registry { message, .. } if message.contains("not found") => {
            ApiError::not_found(e.to_string())
        }
        _ => ApiError::new(image_status(&e), e.to_string()),
    }
}

// ------------------------------------------------------------------ progress streams

/// A JSON progress stream whose headers wait for its first message, as dockerd's do: work
/// that fails before it said anything answers with an error status instead (the docker CLI
/// then prints "Error response from daemon: ...").
pub struct ProgressStream {
    js: JsonStream,
    first: Mutex<Option<oneshot::Sender<()>>>,
}

impl ProgressStream {
    pub fn send(&self, v: &Value) -> bool {
        if let Some(tx) = self.first.lock().unwrap().take() {
            let _ = tx.send(());
        }
        self.js.send(v)
    }

    /// Has anything been sent (so the status is out)?
    pub fn started(&self) -> bool {
        self.first.lock().unwrap().is_none()
    }

    pub fn status(&self, s: &str) -> bool {
        self.send(&json!({ "status": s }))
    }

    /// End the stream with an error message (after a 200 status, as dockerd's streams do).
    pub fn fail(&self, message: &str) {
        if let Some(tx) = self.first.lock().unwrap().take() {
            let _ = tx.send(());
        }
        self.js.error(message);
    }

    pub fn stream(&self, s: &str) -> bool {
        self.send(&json!({ "stream": s }))
    }

    /// A registry transfer's progress event as dockerd's JSON message.
    fn event(&self, e: &Event) -> bool {
        let mut v = json!({ "status": e.status });
        if let Some(id) = &e.id {
            v["id"] = json!(id);
            v["progressDetail"] = match e.progress {
                Some((current, total)) => json!({ "current": current, "total": total }),
                None => json!({}),
            };
        }
        self.send(&v)
    }

    /// The sink for [`Progress::Events`].
    fn sink(self: &Arc<Self>) -> Progress {
        let me = self.clone();
        Progress::Events(Arc::new(move |e: &Event| {
            me.event(e);
        }))
    }
}

/// Run `work` on a blocking thread with this thread's engine, answering with its progress
/// stream once it sends something; an error before that is the answer's status, one after
/// it the stream's last message (`errorDetail`).
pub async fn progress_response<F>(work: F) -> ApiResult<Response>
where
    F: FnOnce(&Engine, &Arc<ProgressStream>) -> ApiResult<()> + Send + 'static,
{
    let (js, resp) = JsonStream::new();
    let (tx, rx) = oneshot::channel();
    let p = Arc::new(ProgressStream {
        js,
        first: Mutex::new(Some(tx)),
    });
    let worker = p.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        let r = with_engine(|e| work(e, &worker));
        match r {
            Err(e) if worker.started() => {
                worker.js.error(&e.message);
                Ok(())
            }
            r => r,
        }
    });
    tokio::select! {
        _ = rx => {}
        r = &mut task => {
            r.map_err(|e| ApiError::internal(format!("request handler failed: {e}")))??;
        }
    }
    drop(p);
    Ok(resp)
}

// ------------------------------------------------------------------ list

/// The filters `GET /images/json` takes.
const LIST_FILTERS: &[&str] = &[
    "dangling",
    "label",
    "label!",
    "reference",
    "before",
    "since",
    "until",
];

fn string_labels(m: &Map<String, Value>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// The creation time of an image a filter names (`before=busybox`).
fn created_of(store: &ImageStore, name: &str) -> ApiResult<i64> {
    let img = get_image(store, name)?;
    Ok(views::unix_time(&img.record.created))
}

/// `until`: a timestamp or a duration before now, as seconds since the epoch.
fn until_of(f: &Filters) -> ApiResult<Option<i64>> {
    match f.get("until").and_then(|v| v.last()) {
        None => Ok(None),
        Some(u) => Ok(Some(
            engine::logs::parse_time(u, chrono::Utc::now())?.timestamp(),
        )),
    }
}

/// The images `filters` selects (build steps' untagged images only with `all`), with only the
/// tags a `reference` filter matches.
pub fn select(store: &ImageStore, all: bool, f: &Filters) -> ApiResult<Vec<views::Summary>> {
    engine::filters::validate(f, LIST_FILTERS)?;
    let dangling = engine::filters::boolean(f, "dangling")?;
    let before = f
        .get("before")
        .and_then(|v| v.last())
        .map(|n| created_of(store, n))
        .transpose()?;
    let since = f
        .get("since")
        .and_then(|v| v.last())
        .map(|n| created_of(store, n))
        .transpose()?;
    let until = until_of(f)?;
    let mut out = Vec::new();
    for mut s in views::summaries(store)? {
        if s.intermediate() && !all {
            continue;
        }
        if let Some(refs) = f.get("reference") {
            if !s.retain_references(refs) {
                continue;
            }
        }
        let created = views::unix_time(&s.record.created);
        let labels = string_labels(&s.labels);
        let keep = dangling.is_none_or(|d| d == s.tags.is_empty())
            && engine::filters::labels(f, "label", &labels)
            && engine::filters::no_labels(f, "label!", &labels)
            && before.is_none_or(|b| created < b)
            && since.is_none_or(|t| created > t)
            && until.is_none_or(|u| created < u);
        if keep {
            out.push(s);
        }
    }
    Ok(out)
}

/// An entry of `GET /images/json`.
pub fn summary_json(s: &views::Summary) -> Value {
    json!({
        "Id": s.record.config.to_string(),
        "ParentId": "",
        "RepoTags": s.repo_tags(),
        "RepoDigests": s.repo_digests(),
        "Created": views::unix_time(&s.record.created),
        "Size": s.record.size,
        "SharedSize": -1,
        "VirtualSize": s.record.size,
        "Labels": if s.labels.is_empty() { Value::Null } else { Value::Object(s.labels.clone()) },
        "Containers": -1,
    })
}

async fn list(q: Q) -> ApiResult<Response> {
    let mut f = q.filters()?;
    // API < 1.25: `filter=` is a reference
    if let Some(r) = q.get("filter").filter(|r| !r.is_empty()) {
        f.entry("reference".into()).or_default().push(r.to_string());
    }
    let all = q.bool("all");
    let v = blocking(move |e| {
        let store = e.images()?;
        Ok(select(store, all, &f)?
            .iter()
            .map(summary_json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(&v))
}

// ------------------------------------------------------------------ by name

async fn by_name(
    method: Method,
    Path(rest): Path<String>,
    q: Q,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some((name, action)) = split_name(&method, &rest) else {
        return Err(ApiError::not_found(format!(
            "page not found: {method} /images/{rest}"
        )));
    };
    match action {
        Action::Inspect => {
            let v = blocking(move |e| {
                let store = e.images()?;
                let img = get_image(store, &name)?;
                Ok(views::inspect_json(store, &img)?)
            })
            .await?;
            Ok(ok(&v))
        }
        Action::History => {
            let v = blocking(move |e| {
                let store = e.images()?;
                let img = get_image(store, &name)?;
                let h = views::history(store, &img)?;
                Ok(h.iter()
                    .map(|h| {
                        json!({
                            "Id": h.id.as_ref().map(|d| d.to_string()).unwrap_or_else(|| "<missing>".into()),
                            "Created": views::unix_time(&h.created),
                            "CreatedBy": h.created_by,
                            "Tags": if h.tags.is_empty() { Value::Null } else { json!(h.tags) },
                            "Size": h.size,
                            "Comment": h.comment,
                        })
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
            Ok(ok(&v))
        }
        Action::Save => save(vec![name]).await,
        Action::Tag => {
            let repo = q.get("repo").unwrap_or_default().to_string();
            let tag = q.get("tag").unwrap_or_default().to_string();
            blocking(move |e| {
                let store = e.images()?;
                let img = get_image(store, &name)?;
                if repo.is_empty() {
                    return Err(ApiError::bad_request(
                        "repository name must have at least one component",
                    ));
                }
                let target = if tag.is_empty() {
                    repo
                } else {
                    format!("{repo}:{tag}")
                };
                let r = store.tag(&name, &target)?;
                events::image(store, "tag", &img.id().to_string(), &r.familiar());
                Ok(())
            })
            .await?;
            let mut r = no_content();
            *r.status_mut() = StatusCode::CREATED;
            Ok(r)
        }
        Action::Remove => {
            let force = q.bool("force");
            let v = blocking(move |e| {
                let out = e.remove_image(&name, force)?;
                Ok(out
                    .into_iter()
                    .map(|d| match d {
                        ImageDelete::Untagged(u) => json!({ "Untagged": u }),
                        ImageDelete::Deleted(d) => json!({ "Deleted": d }),
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
            Ok(ok(&v))
        }
        Action::Push => push(name, q, headers).await,
    }
}

// ------------------------------------------------------------------ pull, import

/// The credentials of the `X-Registry-Auth` header for `registry`.
pub(crate) fn credentials(headers: &HeaderMap, registry: &str) -> ApiResult<Credentials> {
    let h = headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(Credentials::from_registry_auth(h, registry)?)
}

fn platform_of(q: &Q) -> ApiResult<Platform> {
    Ok(match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    })
}

/// `fromImage` and `tag` as one reference (`tag` may also be a digest).
pub fn pull_reference(from: &str, tag: &str) -> String {
    if tag.is_empty() {
        from.to_string()
    } else if tag.starts_with("sha256:") {
        format!("{from}@{tag}")
    } else {
        format!("{from}:{tag}")
    }
}

async fn create(q: Q, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    if let Some(from) = q.get("fromImage").filter(|s| !s.is_empty()) {
        let r = Reference::parse(&pull_reference(from, q.get("tag").unwrap_or("")))?;
        let creds = credentials(&headers, &r.registry)?;
        let platform = platform_of(&q)?;
        return progress_response(move |e, p| {
            let store = e.images()?;
            let before = r
                .tagged()
                .map(|t| store.index.tag(&t))
                .transpose()?
                .flatten();
            let opts = registry::PullOptions {
                platform,
                progress: p.sink(),
                credentials: creds,
            };
            let img = registry::pull(store, &r, &opts).map_err(registry_error)?;
            events::image(store, "pull", &r.familiar(), &r.familiar_name());
            if let Some(d) = store
                .index
                .repo_digests_of(&img.record.manifest)?
                .iter()
                .find(|(n, _)| *n == r.name())
                .map(|(_, d)| d.clone())
            {
                p.status(&format!("Digest: {d}"));
            }
            let shown = r.familiar();
            if before.as_ref() == Some(&img.record.manifest) {
                p.status(&format!("Status: Image is up to date for {shown}"));
            } else {
                p.status(&format!("Status: Downloaded newer image for {shown}"));
            }
            Ok(())
        })
        .await;
    }
    match q.get("fromSrc") {
        Some("-") => import(q, crate::http::body_reader(body)).await,
        Some(src) if !src.is_empty() => Err(ApiError::bad_request(format!(
            "importing from a URL ({src}) is not supported: send the tarball as the request body with fromSrc=-"
        ))),
        _ => Err(ApiError::bad_request(
            "fromImage or fromSrc is required",
        )),
    }
}

async fn import(q: Q, reader: crate::http::BodyReader) -> ApiResult<Response> {
    let repo = q.get("repo").unwrap_or_default().to_string();
    let tag = q.get("tag").unwrap_or_default().to_string();
    let reference = if repo.is_empty() {
        None
    } else {
        Some(Reference::parse(&pull_reference(&repo, &tag))?)
    };
    let changes = q.all("changes");
    let message = q.get("message").unwrap_or_default().to_string();
    progress_response(move |e, p| {
        let store = e.images()?;
        let img = archive::import(store, reader, reference.as_ref(), &changes, &message, "-")?;
        let id = img.id().to_string();
        let name = reference.map(|r| r.familiar()).unwrap_or(id.clone());
        events::image(store, "import", &id, &name);
        p.status(&img.id().to_string());
        Ok(())
    })
    .await
}

// ------------------------------------------------------------------ push

async fn push(name: String, q: Q, headers: HeaderMap) -> ApiResult<Response> {
    let tag = q.get("tag").unwrap_or_default().to_string();
    let repo = Reference::parse(&name)?;
    let creds = credentials(&headers, &repo.registry)?;
    progress_response(move |e, p| {
        let store = e.images()?;
        // one tag, or (no tag given) every tag of the repository
        let targets: Vec<String> = if !tag.is_empty() {
            vec![pull_reference(&name, &tag)]
        } else if name.contains('@') || name.rsplit('/').next().is_some_and(|l| l.contains(':')) {
            vec![name.clone()]
        } else {
            let mut all: Vec<String> = store
                .index
                .all_tags()?
                .into_iter()
                .filter_map(|(t, _)| Reference::parse(&t).ok())
                .filter(|r| r.name() == repo.name())
                .map(|r| r.familiar())
                .collect();
            all.sort();
            all
        };
        if targets.is_empty() || get_image(store, &targets[0]).is_err() {
            return Err(ApiError::not_found(format!(
                "An image does not exist locally with the tag: {}",
                repo.familiar_name()
            )));
        }
        for t in &targets {
            let r = Reference::parse(t)?;
            get_image(store, t)?;
            let d = registry::push(store, t, &r, p.sink(), &creds).map_err(registry_error)?;
            events::image(store, "push", &r.familiar(), &r.familiar_name());
            let size = store.content.size(&d).unwrap_or(0);
            let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
            p.status(&format!("{tag}: digest: {d} size: {size}"));
            p.send(&json!({
                "progressDetail": {},
                "aux": { "Tag": tag, "Digest": d.to_string(), "Size": size },
            }));
        }
        Ok(())
    })
    .await
}

// ------------------------------------------------------------------ save, load

async fn save_many(q: Q) -> ApiResult<Response> {
    save(q.all("names")).await
}

/// `docker save`: a docker archive of the images, streamed.
async fn save(names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images to save: give names="));
    }
    let check = names.clone();
    blocking(move |e| {
        let store = e.images()?;
        for n in &check {
            let imgs = archive::save_targets(store, n).map_err(|e| lookup_error(n, e))?;
            for (img, _) in &imgs {
                events::image(store, "save", &img.id().to_string(), n);
            }
        }
        Ok(())
    })
    .await?;
    tar_stream(move |e, w| {
        let store = e.images()?;
        archive::save(store, &names, ArchiveFormat::Docker, w)?;
        Ok(())
    })
    .await
}

async fn load(q: Q, body: Body) -> ApiResult<Response> {
    let platform = platform_of(&q)?;
    let reader = crate::http::body_reader(body);
    progress_response(move |e, p| {
        let loaded = || -> ApiResult<()> {
            let store = e.images()?;
            let loaded = archive::load(store, reader, &platform)?;
            for (img, names) in &loaded {
                let id = img.id().to_string();
                events::image(store, "load", &id, names.first().unwrap_or(&id));
            }
            for m in archive::loaded_messages(&loaded) {
                p.stream(&format!("{m}\n"));
            }
            Ok(())
        };
        // as dockerd: a bad archive is a 200 whose stream ends in an errorDetail message
        if let Err(err) = loaded() {
            p.fail(&err.message);
        }
        Ok(())
    })
    .await
}

// ------------------------------------------------------------------ prune

/// docker's image prune with its filters (`dangling=false` is `--all`; `label`, `label!`,
/// `until`); the CLI's `image prune` too.
pub fn prune_filtered(
    store: &ImageStore,
    all: bool,
    f: &Filters,
) -> ApiResult<image::images::Removed> {
    engine::filters::validate(f, &["dangling", "label", "label!", "until"])?;
    let all = all || engine::filters::boolean(f, "dangling")? == Some(false);
    let until = until_of(f)?;
    let select = |rec: &image::index::ImageRecord| {
        let labels = store
            .load(rec)
            .ok()
            .and_then(|i| i.config.pointer("/config/Labels").cloned())
            .and_then(|l| l.as_object().map(string_labels))
            .unwrap_or_default();
        engine::filters::labels(f, "label", &labels)
            && engine::filters::no_labels(f, "label!", &labels)
            && until.is_none_or(|u| views::unix_time(&rec.created) < u)
    };
    Ok(views::prune(store, all, &select)?)
}

async fn prune(q: Q) -> ApiResult<Response> {
    let f = q.filters()?;
    let v = blocking(move |e| {
        let r = prune_filtered(e.images()?, false, &f)?;
        let mut deleted: Vec<Value> = r
            .untagged
            .iter()
            .map(|u| json!({ "Untagged": u }))
            .collect();
        deleted.extend(
            r.deleted
                .iter()
                .map(|d| json!({ "Deleted": d.to_string() })),
        );
        Ok(json!({
            "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
            "SpaceReclaimed": r.reclaimed,
        }))
    })
    .await?;
    Ok(ok(&v))
}

// ------------------------------------------------------------------ commit, auth

async fn commit(q: Q, body: Body) -> ApiResult<Response> {
    let b = read_body(body).await?;
    let config: Option<Map<String, Value>> = parse_json::<Value>(&b)?.as_object().cloned();
    let container = q.get("container").unwrap_or_default().to_string();
    let repo = q.get("repo").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    let o = CommitOptions {
        reference: (!repo.is_empty()).then(|| pull_reference(repo, tag)),
        comment: q.get("comment").unwrap_or_default().to_string(),
        author: q.get("author").unwrap_or_default().to_string(),
        changes: q.all("changes"),
        pause: q.bool_or("pause", true),
        config,
    };
    let id = blocking(move |e| Ok(e.commit(&container, &o)?.id().to_string())).await?;
    Ok(json_response(StatusCode::CREATED, &json!({ "Id": id })))
}

#[derive(serde::Deserialize, Default)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    serveraddress: String,
}

async fn auth(body: Body) -> ApiResult<Response> {
    let b = read_body(body).await?;
    let a: AuthConfig = parse_json(&b)?;
    let server = if a.serveraddress.is_empty() {
        "docker.io".to_string()
    } else {
        a.serveraddress
    };
    blocking(move |_| {
        registry::check_login(&server, &a.username, &a.password).map_err(|e| match e {
            image::Error::Unauthorized { message, .. } => {
                ApiError::new(StatusCode::UNAUTHORIZED, message)
            }
            e => ApiError::new(image_status(&e), e.to_string()),
        })
    })
    .await?;
    Ok(ok(
        &json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_suffixes() {
        let get = Method::GET;
        assert_eq!(
            split_name(&get, "127.0.0.1:5000/a/b:tag/json"),
            Some(("127.0.0.1:5000/a/b:tag".into(), Action::Inspect))
        );
        assert_eq!(
            split_name(&get, "busybox/history"),
            Some(("busybox".into(), Action::History))
        );
        assert_eq!(
            split_name(&get, "a/b@sha256:0123/get"),
            Some(("a/b@sha256:0123".into(), Action::Save))
        );
        assert_eq!(split_name(&get, "json"), None);
        assert_eq!(split_name(&get, "busybox"), None);
        assert_eq!(
            split_name(&Method::POST, "localhost:5000/x/push"),
            Some(("localhost:5000/x".into(), Action::Push))
        );
        assert_eq!(
            split_name(&Method::POST, "sha256:abc/tag"),
            Some(("sha256:abc".into(), Action::Tag))
        );
        assert_eq!(split_name(&Method::POST, "busybox/json"), None);
        assert_eq!(
            split_name(&Method::DELETE, "127.0.0.1:5000/a/json:1"),
            Some(("127.0.0.1:5000/a/json:1".into(), Action::Remove))
        );
        assert_eq!(split_name(&Method::DELETE, ""), None);
    }

    #[test]
    fn pull_references() {
        assert_eq!(pull_reference("busybox", "latest"), "busybox:latest");
        assert_eq!(pull_reference("busybox:1", ""), "busybox:1");
        assert_eq!(
            pull_reference("127.0.0.1:5000/a", "sha256:00"),
            "127.0.0.1:5000/a@sha256:00"
        );
    }
}
