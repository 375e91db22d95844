//! Push: blob mounts and chunked uploads, manifests.

use super::auth::*;
use super::client::*;
use super::progress::*;
use super::*;

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

pub(super) async fn push_blob(
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

pub(super) async fn push_async(
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
