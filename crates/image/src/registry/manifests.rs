//! Manifests by themselves, for `berth manifest`: fetch one (an image manifest or a list) with
//! its media type and digest, fetch a small blob (an image config), and put a manifest list.

use super::client::{scope_pull, scope_push};
use super::*;

/// A manifest as the registry serves it: bytes, media type, digest.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    runtime()?.block_on(f)
}

/// GET the manifest `r` names (its digest, else its tag).
pub fn get_manifest(r: &Reference, creds: &Credentials) -> Result<Fetched> {
    let c = Client::new(&r.registry, creds.get(&r.registry))?;
    block_on(async {
        let (bytes, media_type, digest) = c
            .manifest(&r.repository, &r.registry_ref(), &scope_pull(&r.repository))
            .await?;
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    })
}

/// GET a blob of `r`'s repository whole (an image config: small).
pub fn get_blob(r: &Reference, digest: &Digest, creds: &Credentials) -> Result<Vec<u8>> {
    let c = Client::new(&r.registry, creds.get(&r.registry))?;
    block_on(async {
        let url = c.url(&format!("/v2/{}/blobs/{digest}", r.repository));
        let resp = c
            .send(&scope_pull(&r.repository), &|| c.http.get(&url))
            .await?;
        let resp = c.check(resp, &format!("blob {digest}")).await?;
        let b = resp
            .bytes()
            .await
            .map_err(|e| reg_err(&r.registry, format!("read blob {digest}: {e}")))?;
        if Digest::of(&b) != *digest {
            return Err(reg_err(
                &r.registry,
                format!("blob {digest}: digest mismatch"),
            ));
        }
        Ok(b.to_vec())
    })
}

/// PUT `body` (of `media_type`) as the manifest `r` names; its digest.
pub fn put_manifest(
    r: &Reference,
    media_type: &str,
    body: Vec<u8>,
    creds: &Credentials,
) -> Result<Digest> {
    let c = Client::new(&r.registry, creds.get(&r.registry))?;
    let digest = Digest::of(&body);
    block_on(async {
        let url = c.url(&format!(
            "/v2/{}/manifests/{}",
            r.repository,
            r.registry_ref()
        ));
        let body = bytes::Bytes::from(body);
        let resp = c
            .send(&scope_push(&r.repository), &|| {
                c.http
                    .put(&url)
                    .header(header::CONTENT_TYPE, media_type)
                    .body(body.clone())
            })
            .await?;
        c.check(resp, &format!("manifest {r}")).await?;
        Ok(digest)
    })
}

/// The tags of `r`'s repository (`GET /v2/<name>/tags/list`), sorted.
pub fn get_tags(r: &Reference, creds: &Credentials) -> Result<Vec<String>> {
    let c = Client::new(&r.registry, creds.get(&r.registry))?;
    block_on(async {
        let url = c.url(&format!("/v2/{}/tags/list", r.repository));
        let resp = c
            .send(&scope_pull(&r.repository), &|| c.http.get(&url))
            .await?;
        let resp = c.check(resp, &format!("tags of {}", r.name())).await?;
        let v: Value = resp
            .json()
            .await
            .map_err(|e| reg_err(&r.registry, format!("tags of {}: {e}", r.name())))?;
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        tags.sort();
        Ok(tags)
    })
}

/// One result of a registry's `/v1/search`.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct SearchResult {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: i64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

/// `GET /v1/search?q=TERM&n=LIMIT` of `registry` (Docker Hub's index for the default one).
pub fn search(registry: &str, term: &str, limit: usize) -> Result<Vec<SearchResult>> {
    let base = if registry == DEFAULT_REGISTRY {
        "https://index.docker.io".to_string()
    } else if is_insecure(registry) {
        format!("http://{registry}")
    } else {
        format!("https://{registry}")
    };
    let http = reqwest::Client::builder()
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| reg_err(registry, format!("http client: {e}")))?;
    block_on(async {
        let resp = http
            .get(format!("{base}/v1/search"))
            .query(&[("q", term), ("n", &limit.to_string())])
            .send()
            .await
            .map_err(|e| reg_err(registry, format!("search: {e}")))?;
        if !resp.status().is_success() {
            return Err(reg_err(registry, format!("search: {}", resp.status())));
        }
        let v: Value = resp
            .json()
            .await
            .map_err(|e| reg_err(registry, format!("search: {e}")))?;
        Ok(serde_json::from_value(v["results"].clone()).unwrap_or_default())
    })
}

/// The platform an image config names (`architecture`, `os`, and `variant`/`os.version`
/// when it has them), as a manifest list entry carries it.
pub fn config_platform(cfg: &serde_json::Value) -> serde_json::Value {
    let mut p = serde_json::json!({"architecture": cfg["architecture"], "os": cfg["os"]});
    for k in ["os.version", "variant"] {
        if let Some(v) = cfg[k].as_str().filter(|v| !v.is_empty()) {
            p[k] = v.into();
        }
    }
    p
}

/// `GET /distribution/{name}/json`: the descriptor of the manifest `r` names and the
/// platforms it serves (a list's entries; an image's config's), as dockerd answers.
pub fn distribution_inspect(r: &Reference, creds: &Credentials) -> Result<serde_json::Value> {
    use serde_json::{json, Value};
    let m = get_manifest(r, creds)?;
    let body: Value = serde_json::from_slice(&m.bytes)
        .map_err(|e| reg_err(&r.registry, format!("manifest of {r}: {e}")))?;
    let platforms: Vec<Value> =
        if m.media_type == spec::DOCKER_LIST || m.media_type == spec::OCI_INDEX {
            let entries = body["manifests"].as_array().cloned().unwrap_or_default();
            entries.iter().map(|e| e["platform"].clone()).collect()
        } else {
            let cfg = body["config"]["digest"].as_str().unwrap_or_default();
            let cfg: Digest = cfg
                .parse()
                .map_err(|e| reg_err(&r.registry, format!("config of {r}: {e}")))?;
            let cfg: Value = serde_json::from_slice(&get_blob(r, &cfg, creds)?)
                .map_err(|e| reg_err(&r.registry, format!("config of {r}: {e}")))?;
            let p = config_platform(&cfg);
            if p["os"].is_string() || p["architecture"].is_string() {
                vec![p]
            } else {
                Vec::new()
            }
        };
    Ok(json!({
        "Descriptor": {
            "mediaType": m.media_type,
            "digest": m.digest.to_string(),
            "size": m.bytes.len(),
        },
        "Platforms": platforms,
    }))
}
