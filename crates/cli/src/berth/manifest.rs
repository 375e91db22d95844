//! `berth manifest`: docker's manifest lists. `inspect` shows a registry's manifest (or a list
//! made here); `create`, `annotate` and `rm` keep lists in the state root
//! (`<root>/manifests/<list>.json`, as docker keeps them under ~/.docker/manifests); `push`
//! puts one as a manifest list (an OCI index when its manifests are OCI ones).

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use image::digest::Digest;
use image::reference::Reference;
use image::registry::manifests::{get_blob, get_manifest};
use image::registry::Credentials;
use image::spec::{DOCKER_LIST, OCI_INDEX, OCI_MANIFEST};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum ManifestCmd {
    /// Add additional information to a local image manifest
    Annotate(AnnotateArgs),
    /// Create a local manifest list for annotating and pushing to a registry
    Create(CreateArgs),
    /// Display an image manifest, or manifest list
    Inspect(InspectArgs),
    /// Push a manifest list to a repository
    Push(PushArgs),
    /// Delete one or more manifest lists from local storage
    Rm(RmArgs),
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// Set architecture
    #[arg(long)]
    pub arch: Option<String>,
    /// Set operating system
    #[arg(long)]
    pub os: Option<String>,
    /// Set operating system feature
    #[arg(long = "os-features")]
    pub os_features: Vec<String>,
    /// Set operating system version
    #[arg(long = "os-version")]
    pub os_version: Option<String>,
    /// Set architecture variant
    #[arg(long)]
    pub variant: Option<String>,
    pub list: String,
    pub manifest: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Amend an existing manifest list
    #[arg(short = 'a', long)]
    pub amend: bool,
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    pub list: String,
    #[arg(required = true)]
    pub manifests: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// [MANIFEST_LIST] MANIFEST
    #[arg(required = true, num_args = 1..=2)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Allow push to an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Remove the local manifest list after push
    #[arg(short = 'p', long)]
    pub purge: bool,
    pub list: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    pub lists: Vec<String>,
}

fn parse(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|e| anyhow!("{e}"))
}

fn list_path(root: &Path, list: &Reference) -> PathBuf {
    let name = list.to_string().replace(['/', ':', '@'], "_");
    root.join("manifests").join(format!("{name}.json"))
}

fn load(root: &Path, list: &Reference) -> Result<Option<Value>> {
    match std::fs::read(list_path(root, list)) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn save(root: &Path, list: &Reference, v: &Value) -> Result<()> {
    let p = list_path(root, list);
    std::fs::create_dir_all(p.parent().expect("in manifests/"))?;
    std::fs::write(&p, serde_json::to_vec_pretty(v)?)
        .with_context(|| format!("write {}", p.display()))
}

/// docker prints manifests indented with tabs.
fn print_tabbed(v: &Value) -> Result<()> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser)?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// One image manifest as a list entry: its descriptor with the platform its config names.
fn entry(r: &Reference, creds: &Credentials) -> Result<Value> {
    let m = get_manifest(r, creds).map_err(|e| anyhow!("{e}"))?;
    if m.media_type == DOCKER_LIST || m.media_type == OCI_INDEX {
        bail!("{r} is a manifest list");
    }
    let body: Value = serde_json::from_slice(&m.bytes)?;
    let cfg_digest: Digest = body["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| anyhow!("{r}: config digest: {e}"))?;
    let cfg: Value =
        serde_json::from_slice(&get_blob(r, &cfg_digest, creds).map_err(|e| anyhow!("{e}"))?)?;
    let platform = image::registry::manifests::config_platform(&cfg);
    Ok(json!({
        "Ref": r.to_string(),
        "Descriptor": {
            "mediaType": m.media_type,
            "digest": m.digest.to_string(),
            "size": m.bytes.len(),
            "platform": platform,
        },
        "SchemaV2Manifest": body,
    }))
}

pub fn run(root: &Path, cmd: ManifestCmd) -> Result<i32> {
    let creds = Credentials::from_docker_config();
    match cmd {
        ManifestCmd::Create(a) => {
            let list = parse(&a.list)?;
            let mut v = match load(root, &list)? {
                Some(_) if !a.amend => {
                    bail!("refusing to amend an existing manifest list with no --amend flag")
                }
                Some(v) => v,
                None => json!({"Ref": list.to_string(), "Manifests": []}),
            };
            for m in &a.manifests {
                let r = parse(m)?;
                let e = entry(&r, &creds)?;
                let ms = v["Manifests"].as_array_mut().expect("a list");
                ms.retain(|x| x["Descriptor"]["digest"] != e["Descriptor"]["digest"]);
                ms.push(e);
            }
            save(root, &list, &v)?;
            println!("Created manifest list {list}");
            Ok(0)
        }
        ManifestCmd::Annotate(a) => {
            let list = parse(&a.list)?;
            let m = parse(&a.manifest)?;
            let mut v = load(root, &list)?.ok_or_else(|| anyhow!("No such manifest: {list}"))?;
            let e = v["Manifests"]
                .as_array_mut()
                .and_then(|ms| ms.iter_mut().find(|x| x["Ref"] == m.to_string()))
                .ok_or_else(|| anyhow!("manifest for image {m} does not exist in {list}"))?;
            let p = &mut e["Descriptor"]["platform"];
            for (k, val) in [
                ("os", &a.os),
                ("architecture", &a.arch),
                ("variant", &a.variant),
                ("os.version", &a.os_version),
            ] {
                if let Some(x) = val {
                    p[k] = json!(x);
                }
            }
            if !a.os_features.is_empty() {
                p["os.features"] = json!(a.os_features);
            }
            save(root, &list, &v)?;
            Ok(0)
        }
        ManifestCmd::Inspect(a) => inspect(root, a, &creds),
        ManifestCmd::Push(a) => push(root, a, &creds),
        ManifestCmd::Rm(a) => {
            let mut code = 0;
            for l in &a.lists {
                let list = parse(l)?;
                if std::fs::remove_file(list_path(root, &list)).is_err() {
                    eprintln!("No such manifest: {list}");
                    code = 1;
                }
            }
            Ok(code)
        }
    }
}

/// The list a local one pushes as: the entries' descriptors, an OCI index when they are OCI.
fn list_document(v: &Value) -> (String, Value) {
    let ms = v["Manifests"].as_array().cloned().unwrap_or_default();
    let oci = !ms.is_empty()
        && ms
            .iter()
            .all(|m| m["Descriptor"]["mediaType"] == OCI_MANIFEST);
    let media_type = if oci { OCI_INDEX } else { DOCKER_LIST };
    let manifests: Vec<Value> = ms.iter().map(|m| m["Descriptor"].clone()).collect();
    (
        media_type.to_string(),
        json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}),
    )
}

fn inspect(root: &Path, a: InspectArgs, creds: &Credentials) -> Result<i32> {
    if let [l, m] = a.names.as_slice() {
        let (list, m) = (parse(l)?, parse(m)?);
        let v = load(root, &list)?.ok_or_else(|| anyhow!("No such manifest: {list}"))?;
        let e = v["Manifests"]
            .as_array()
            .and_then(|ms| ms.iter().find(|x| x["Ref"] == m.to_string()))
            .ok_or_else(|| anyhow!("No such manifest: {m}"))?;
        return print_tabbed(if a.verbose { e } else { &e["SchemaV2Manifest"] }).map(|_| 0);
    }
    let r = parse(&a.names[0])?;
    if let Some(v) = load(root, &r)? {
        if a.verbose {
            print_tabbed(&v["Manifests"])?;
        } else {
            print_tabbed(&list_document(&v).1)?;
        }
        return Ok(0);
    }
    let m = get_manifest(&r, creds).map_err(|e| anyhow!("{e}"))?;
    let body: Value = serde_json::from_slice(&m.bytes)?;
    if a.verbose && m.media_type != DOCKER_LIST && m.media_type != OCI_INDEX {
        print_tabbed(&entry(&r, creds)?)?;
    } else {
        print_tabbed(&body)?;
    }
    Ok(0)
}

fn push(root: &Path, a: PushArgs, creds: &Credentials) -> Result<i32> {
    let list = parse(&a.list)?;
    let v = load(root, &list)?.ok_or_else(|| anyhow!("No such manifest: {list}"))?;
    for m in v["Manifests"].as_array().into_iter().flatten() {
        let r = parse(m["Ref"].as_str().unwrap_or_default())?;
        if r.registry != list.registry || r.repository != list.repository {
            bail!(
                "cannot push {list}: {r} is in another repository (push it to {} first)",
                list.name()
            );
        }
    }
    let (media_type, doc) = list_document(&v);
    let body = serde_json::to_vec(&doc)?;
    let d = image::registry::manifests::put_manifest(&list, &media_type, body, creds)
        .map_err(|e| anyhow!("{e}"))?;
    println!("{d}");
    if a.purge {
        let _ = std::fs::remove_file(list_path(root, &list));
    }
    Ok(0)
}
