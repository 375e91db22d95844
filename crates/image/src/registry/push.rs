//! Push: blob mounts and chunked uploads, manifests.

use super::auth::*;
use super::client::*;
use super::progress::*;
use super::*;
use crate::error::IoContext;

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
    data: Option<bytes::Bytes>,
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
    let data = match data {
        Some(d) => d,
        None => bytes::Bytes::from(store.content.read(&d.digest)?),
    };
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
    // layers go up gzipped, as docker pushes them: the store keeps a build's layers as plain
    // tars (their digest is their diff_id), which registries take but are 3-10x larger
    store.check_exportable(&img)?;
    let layers = distributable(store, &img.manifest.layers)?;
    // the config goes up like a layer, without a progress line (as with docker)
    let quiet = Bars::new(Progress::Quiet);
    let jobs = layers
        .iter()
        .map(|(d, data)| (d, data.clone(), &bars))
        .chain(std::iter::once((&img.manifest.config, None, &quiet)))
        .map(|(d, data, b)| push_blob(&c, store, repo, d, data, b));
    let results: Vec<Result<()>> = futures_util::stream::iter(jobs)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let stored = store.content.read(&img.record.manifest)?;
    let mbytes = manifest_with_layers(&stored, &layers)?;
    // the pushed manifest is kept (its digest is the image's repo digest from now on)
    let pushed = store.content.put(&mbytes, None)?;
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
    for (l, _) in &layers {
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
        .add_image(rec, &[], Some((&target.name(), &pushed)))?;
    Ok(pushed)
}

/// The layers as they go to a registry: a plain tar gzipped (its bytes, made here: gzip
/// without a timestamp, so the same layer always gives the same blob and a second push finds
/// it there), a compressed one as stored.
fn distributable(
    store: &ImageStore,
    layers: &[spec::Descriptor],
) -> Result<Vec<(spec::Descriptor, Option<bytes::Bytes>)>> {
    std::thread::scope(|s| {
        let jobs: Vec<_> = layers
            .iter()
            .map(|d| s.spawn(move || gzipped(store, d)))
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("gzip thread panicked"))
            .collect()
    })
}

fn gzipped(
    store: &ImageStore,
    d: &spec::Descriptor,
) -> Result<(spec::Descriptor, Option<bytes::Bytes>)> {
    let mt = match d.media_type.as_str() {
        spec::OCI_LAYER => spec::OCI_LAYER_GZIP,
        spec::DOCKER_LAYER => spec::DOCKER_LAYER_GZIP,
        _ => return Ok((d.clone(), None)),
    };
    let mut src = store.content.open_blob(&d.digest)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let ctx = || format!("gzip layer {}", d.digest);
    std::io::copy(&mut src, &mut gz).ctx(ctx)?;
    let data = gz.finish().ctx(ctx)?;
    let out = spec::Descriptor {
        media_type: mt.to_string(),
        digest: Digest::of(&data),
        size: data.len() as u64,
    };
    Ok((out, Some(bytes::Bytes::from(data))))
}

/// The stored manifest `raw` with its layers' descriptors replaced by `layers` (in order;
/// everything else, annotations included, as it was).
fn manifest_with_layers(
    raw: &[u8],
    layers: &[(spec::Descriptor, Option<bytes::Bytes>)],
) -> Result<Vec<u8>> {
    if layers.iter().all(|(_, data)| data.is_none()) {
        return Ok(raw.to_vec());
    }
    let bad = |m: &str| crate::error::invalid("stored manifest", m.to_string());
    let mut m: Value = serde_json::from_slice(raw).map_err(|e| bad(&e.to_string()))?;
    let entries = m
        .get_mut("layers")
        .and_then(Value::as_array_mut)
        .filter(|l| l.len() == layers.len())
        .ok_or_else(|| bad("its layers are not the image's"))?;
    for (e, (d, _)) in entries.iter_mut().zip(layers) {
        e["mediaType"] = Value::from(d.media_type.as_str());
        e["digest"] = Value::from(d.digest.as_str());
        e["size"] = Value::from(d.size);
    }
    serde_json::to_vec(&m).map_err(|e| bad(&e.to_string()))
}
