//! Pull: manifests, parallel verified blob downloads, unpacking.

use super::client::*;
use super::progress::*;
use super::*;

/// Download one blob into the content store, verifying digest and size.
/// When the transfer breaks midway it resumes with `Range: bytes=N-` if the
/// registry advertised ranges (`Accept-Ranges: bytes`, or it answered 206),
/// else starts over; the digest is always checked over the whole blob.
pub(super) async fn fetch_blob(
    c: &Client,
    store: &ImageStore,
    repo: &str,
    d: &spec::Descriptor,
    bar: &Bar<'_>,
) -> Result<()> {
    let url = c.url(&format!("/v2/{repo}/blobs/{}", d.digest));
    let scope = scope_pull(repo);
    let mut last: Option<String> = None;
    let mut w = store.content.writer(Some(d.digest.clone()), Some(d.size))?;
    // bytes already in `w`
    let mut have: u64 = 0;
    let mut ranges = false;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            bar.status(&format!("Retrying ({attempt})"));
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
        let from = if ranges && have > 0 && have < d.size {
            Some(have)
        } else {
            None
        };
        let r = c
            .send(&scope, &|| {
                let rb = c.http.get(&url);
                match from {
                    Some(n) => rb.header(header::RANGE, format!("bytes={n}-")),
                    None => rb,
                }
            })
            .await?;
        let r = c.check(r, &format!("blob {}", d.digest)).await?;
        let partial = r.status() == StatusCode::PARTIAL_CONTENT;
        let resumed = match (from, partial) {
            (Some(n), true) => {
                // the range must start where we stopped
                let start = r
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(n) {
                    last = Some(format!(
                        "registry answered the range request for {} from byte {n} with {:?}",
                        d.digest,
                        r.headers().get(header::CONTENT_RANGE)
                    ));
                    ranges = false;
                    continue;
                }
                true
            }
            (None, true) => {
                last = Some(format!("unasked-for partial content for {}", d.digest));
                ranges = false;
                continue;
            }
            _ => false,
        };
        ranges = ranges
            || partial
            || r.headers()
                .get(header::ACCEPT_RANGES)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case("bytes")));
        if !resumed && have > 0 {
            // the whole blob again: start over
            w = store.content.writer(Some(d.digest.clone()), Some(d.size))?;
            have = 0;
            bar.reset();
        }
        let broke = write_stream(r, &mut w, &mut have, d, bar).await?;
        if let Some(e) = broke {
            last = Some(format!(
                "download of {} broke after {have} of {} bytes: {e}",
                d.digest, d.size
            ));
            continue;
        }
        if have < d.size {
            last = Some(format!(
                "download of {} ended after {have} of {} bytes",
                d.digest, d.size
            ));
            continue;
        }
        // a digest mismatch is final: the registry sent the wrong bytes
        return tokio::task::block_in_place(|| w.commit()).map(|_| ());
    }
    Err(reg_err(
        &c.registry,
        format!(
            "giving up after {ATTEMPTS} attempts: {}",
            last.unwrap_or_else(|| "download failed".into())
        ),
    ))
}

/// Writes the response body into `w` (counting into `have`, never past the blob's size); the
/// transfer error that broke it off, if one did.
async fn write_stream(
    r: Response,
    w: &mut crate::store::BlobWriter,
    have: &mut u64,
    d: &spec::Descriptor,
    bar: &Bar<'_>,
) -> Result<Option<reqwest::Error>> {
    let mut stream = r.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let b = match chunk {
            Ok(b) => b,
            Err(e) => return Ok(Some(e)),
        };
        if *have + b.len() as u64 > d.size {
            return Err(Error::DigestMismatch {
                what: format!("blob {}", d.digest),
                expected: format!("{} bytes", d.size),
                actual: format!("more than {} bytes", d.size),
            });
        }
        w.write_all(&b).map_err(|source| Error::Io {
            context: format!("write blob {}", d.digest),
            source,
        })?;
        *have += b.len() as u64;
        bar.inc(b.len() as u64);
        if *have < d.size {
            fault::point("pull.mid-blob");
        }
    }
    Ok(None)
}

/// Pull an image: manifest (selecting the platform from an index), config,
/// then all layers in parallel, each unpacked as soon as it is downloaded.
pub fn pull(store: &ImageStore, r: &Reference, opts: &PullOptions) -> Result<Image> {
    let rt = runtime()?;
    rt.block_on(pull_async(store, r, opts))
}

pub(super) async fn pull_async(
    store: &ImageStore,
    r: &Reference,
    opts: &PullOptions,
) -> Result<Image> {
    let c = Client::new(&r.registry, opts.credentials.get(&r.registry))?;
    let repo = &r.repository;
    let scope = scope_pull(repo);
    let bars = Bars::new(opts.progress.clone());
    // as dockerd: nothing is said before the manifest is there (a missing image is an
    // error, not a started pull)
    let (top, mt, top_digest) = c.manifest(repo, &r.registry_ref(), &scope).await?;
    if let Some(t) = &r.tag {
        bars.layer_line(t, &format!("Pulling from {}", r.repository));
    }
    let (kind, _) = spec::kind_of(&top, Some(&mt), &format!("manifest {r}"))?;
    let mbytes = if kind == spec::Parsed::Index {
        store.content.put(&top, Some(&top_digest))?;
        let entries = spec::parse_index(&top, &format!("index {r}"))?;
        let e = spec::select_platform(&entries, &opts.platform, &r.to_string())
            .map_err(|e| no_platform(r, e))?;
        let (b, _, _) = c
            .manifest(repo, e.descriptor.digest.as_str(), &scope)
            .await?;
        b
    } else {
        top.clone()
    };
    let manifest = spec::parse_manifest(&mbytes, &format!("manifest {r}"))?;
    if let Some(l) = manifest
        .layers
        .iter()
        .find(|l| l.media_type == crate::kept::KEPT_LAYER)
    {
        return Err(Error::UnsupportedMediaType {
            what: format!("layer {} of {r}", l.digest),
            media_type: l.media_type.clone(),
        });
    }
    if !store.content.has(&manifest.config.digest) {
        fetch_config(&c, store, r, &scope, &manifest.config.digest).await?;
    }
    let cbytes = store.content.read(&manifest.config.digest)?;
    let (_, info) = spec::parse_config(&cbytes, &format!("config {}", manifest.config.digest))?;
    if info.diff_ids.len() != manifest.layers.len() {
        return Err(crate::error::invalid(
            format!("image {r}"),
            "manifest layers and config rootfs.diff_ids differ in length",
        ));
    }
    let store_ref = store;
    let present = |l: &spec::Descriptor, diff_id: &Digest| {
        store.snapshots.has_layer(diff_id) && store.content.has(&l.digest)
    };
    for (l, diff_id) in manifest.layers.iter().zip(info.diff_ids.iter()) {
        if !present(l, diff_id) {
            bars.event(l.digest.short(), "Pulling fs layer");
        }
    }
    let jobs = manifest
        .layers
        .iter()
        .zip(info.diff_ids.iter())
        .map(|(l, diff_id)| {
            let c = &c;
            let bars = &bars;
            async move {
                let id = l.digest.short().to_string();
                if present(l, diff_id) {
                    bars.layer_line(&id, "Already exists");
                    return Ok::<(), Error>(());
                }
                let bar = bars.bar(&id, l.size, "Downloading");
                if !store_ref.content.has(&l.digest) {
                    fetch_blob(c, store_ref, repo, l, &bar).await?;
                    bars.event(&id, "Download complete");
                    bar.status("Extracting");
                }
                tokio::task::block_in_place(|| store_ref.ensure_layer(&l.digest, diff_id))?;
                bar.done("Pull complete");
                Ok(())
            }
        });
    let results: Vec<Result<()>> = futures_util::stream::iter(jobs)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    for res in results {
        res?;
    }
    for l in &manifest.layers {
        store.index.add_blob_source(&l.digest, &r.registry, repo)?;
    }
    store
        .index
        .add_blob_source(&manifest.config.digest, &r.registry, repo)?;
    let tags: Vec<Reference> = if r.tag.is_some() {
        vec![r.clone()]
    } else {
        vec![]
    };
    let img = tokio::task::block_in_place(|| {
        store.add_image(&mbytes, &tags, Some((&r.name(), &top_digest)))
    })?;
    Ok(img)
}

/// An index without the wanted platform, worded as dockerd words it.
fn no_platform(r: &Reference, e: Error) -> Error {
    match e {
        Error::PlatformNotFound {
            platform,
            available,
            ..
        } => reg_err(
            &r.registry,
            format!(
                "{r}: no matching manifest for {platform} in the manifest list entries \
                 (available: {})",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available
                }
            ),
        ),
        other => other,
    }
}

/// The image config blob into the content store (verified by its digest).
async fn fetch_config(
    c: &Client,
    store: &ImageStore,
    r: &Reference,
    scope: &str,
    digest: &Digest,
) -> Result<()> {
    let url = c.url(&format!("/v2/{}/blobs/{digest}", r.repository));
    let resp = c.send(scope, &|| c.http.get(&url)).await?;
    let resp = c.check(resp, &format!("config {digest}")).await?;
    let b = resp
        .bytes()
        .await
        .map_err(|e| reg_err(&r.registry, format!("read config: {e}")))?;
    store.content.put(&b, Some(digest))?;
    Ok(())
}
