//! Image commands.

use super::output::{human_since, human_size, table};
use super::{Cli, Cmd, ImageCmd};
use anyhow::{bail, Context, Result};
use clap::Args;
use engine::events;
use engine::image_removal::ImageDelete;
use image::archive::{self, ArchiveFormat};
use image::registry::{self, Progress};
use image::spec::Platform;
use image::views;
use image::{ImageStore, Reference};
use serde_json::json;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PullArgs {
    pub reference: String,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    #[command(flatten)]
    pub trust: super::image_flags::TrustFlag,
    /// Platform as os/arch[/variant]
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    pub reference: String,
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    #[command(flatten)]
    pub trust: super::image_flags::TrustFlag,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show images of this repository[:tag]
    pub repository: Option<String>,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (by default untagged images of build steps are hidden)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling, label, label!, reference,
    /// before, since, until)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,

    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format: "table" or "json"
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Force removal (untag every name, remove snapshots using it)
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (berth's images have no parent chain: nothing to keep)
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    pub image: String,
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    #[arg(long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to a file instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format: docker-archive (default) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file instead of STDIN
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    #[arg(short, long)]
    pub quiet: bool,
    /// Platform to load from a multi-platform OCI archive
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A tarball file, or "-" for STDIN
    pub file: String,
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, ...)
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long, default_value = "")]
    pub message: String,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    pub server: Option<String>,
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    #[arg(short, long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub plat: super::image_flags::PlatformFlag,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all images without a container, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=k=v")
    #[arg(long)]
    pub filter: Vec<String>,
}

fn progress_mode(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bars
    } else {
        Progress::Plain
    }
}

fn platform(p: &Option<String>) -> Result<Platform> {
    Ok(match p {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    })
}

pub fn run(cli: Cli) -> Result<i32> {
    let root = cli.root.clone().unwrap_or_else(engine::paths::default_root);
    let open =
        || ImageStore::open(&root).with_context(|| format!("open state root {}", root.display()));
    match cli.cmd {
        Cmd::Pull(a)
        | Cmd::Image {
            cmd: ImageCmd::Pull(a),
        } => pull(&open()?, a),
        Cmd::Push(a)
        | Cmd::Image {
            cmd: ImageCmd::Push(a),
        } => push(&open()?, a),
        Cmd::Images(a)
        | Cmd::Image {
            cmd: ImageCmd::Ls(a),
        } => images(&open()?, a),
        Cmd::Tag(a)
        | Cmd::Image {
            cmd: ImageCmd::Tag(a),
        } => {
            let store = open()?;
            let r = store.tag(&a.source, &a.target)?;
            let id = store.get(&a.source)?.id().to_string();
            events::image(&store, "tag", &id, &r.familiar());
            Ok(0)
        }
        Cmd::Rmi(a)
        | Cmd::Image {
            cmd: ImageCmd::Rm(a),
        } => {
            let engine = engine::engine::Engine::open(&root)
                .with_context(|| format!("open state root {}", root.display()))?;
            rmi(&engine, a)
        }
        Cmd::History(a)
        | Cmd::Image {
            cmd: ImageCmd::History(a),
        } => history(&open()?, a),
        Cmd::Save(a)
        | Cmd::Image {
            cmd: ImageCmd::Save(a),
        } => save(&open()?, a),
        Cmd::Load(a)
        | Cmd::Image {
            cmd: ImageCmd::Load(a),
        } => load(&open()?, a),
        Cmd::Import(a)
        | Cmd::Image {
            cmd: ImageCmd::Import(a),
        } => import(&open()?, a),
        Cmd::Image {
            cmd: ImageCmd::Inspect(a),
        } => inspect(&open()?, a),
        Cmd::Image {
            cmd: ImageCmd::Prune(a),
        } => prune(&open()?, a),
        Cmd::Login(a) => login(a),
        Cmd::Logout(a) => logout(a),
        other => bail!("not an image command: {other:?}"),
    }
}

/// Pull for `run`/`create` when the image is missing (docker's progress on stderr).
pub fn pull_quiet(
    store: &ImageStore,
    image: &str,
    platform_s: Option<&str>,
    show: bool,
) -> Result<()> {
    let r = Reference::parse(image)?;
    let opts = registry::PullOptions {
        platform: platform(&platform_s.map(str::to_string))?,
        progress: progress_mode(!show),
        credentials: registry::Credentials::from_docker_config(),
    };
    let img = registry::pull(store, &r, &opts)?;
    pulled(store, &r);
    if show {
        if let Some((_, d)) = store.index.repo_digests_of(&img.record.manifest)?.first() {
            eprintln!("Digest: {d}");
        }
        eprintln!("Status: Downloaded newer image for {}", r.familiar());
    }
    Ok(())
}

/// docker's pull event: the reference as `Actor.ID`, its name as `name`.
fn pulled(store: &ImageStore, r: &Reference) {
    events::image(store, "pull", &r.familiar(), &r.familiar_name());
}

fn pull(store: &ImageStore, a: PullArgs) -> Result<i32> {
    if a.all_tags {
        super::image_flags::no_tag(&a.reference)?;
        let repo = Reference::parse(&a.reference)?;
        let creds = registry::Credentials::from_docker_config();
        for t in registry::manifests::get_tags(&repo, &creds)? {
            pull(
                store,
                PullArgs {
                    reference: format!("{}:{t}", repo.name()),
                    all_tags: false,
                    trust: Default::default(),
                    platform: a.platform.clone(),
                    quiet: a.quiet,
                },
            )?;
        }
        return Ok(0);
    }
    let r = Reference::parse(&a.reference)?;
    let opts = registry::PullOptions {
        platform: platform(&a.platform)?,
        progress: progress_mode(a.quiet),
        credentials: registry::Credentials::from_docker_config(),
    };
    let img = registry::pull(store, &r, &opts)?;
    pulled(store, &r);
    if a.quiet {
        println!("{}", r.familiar());
    } else {
        if let Some((_, d)) = store.index.repo_digests_of(&img.record.manifest)?.first() {
            println!("Digest: {d}");
        }
        println!("Status: Downloaded image for {}", r.familiar());
        println!("{}", r);
    }
    Ok(0)
}

fn push(store: &ImageStore, a: PushArgs) -> Result<i32> {
    if a.all_tags {
        for t in super::image_flags::local_tags(store, &a.reference)? {
            push(
                store,
                PushArgs {
                    reference: t,
                    all_tags: false,
                    trust: Default::default(),
                    plat: a.plat.clone(),
                    quiet: a.quiet,
                },
            )?;
        }
        return Ok(0);
    }
    a.plat.check(store, &a.reference)?;
    let r = Reference::parse(&a.reference)?;
    let creds = registry::Credentials::from_docker_config();
    let d = registry::push(store, &a.reference, &r, progress_mode(a.quiet), &creds)?;
    events::image(store, "push", &r.familiar(), &r.familiar_name());
    let size = store.content.size(&d).unwrap_or(0);
    println!(
        "{}: digest: {d} size: {size}",
        r.tag.as_deref().unwrap_or("latest")
    );
    Ok(0)
}

struct Row {
    repo: String,
    tag: String,
    digest: String,
    img: image::index::ImageRecord,
}

/// One row per tag (`<none>` for an untagged image; build steps' images only with `all`);
/// `filter` is docker's reference pattern.
/// The rows `images` shows: the API's selection (`--filter`, the repository as a `reference`
/// filter), one per tag.
fn rows(
    store: &ImageStore,
    all: bool,
    repository: Option<&str>,
    filter: &[String],
) -> Result<Vec<Row>> {
    let mut f = engine::filters::from_flags(filter)?;
    if let Some(r) = repository {
        f.entry("reference".into()).or_default().push(r.to_string());
    }
    let selected = api::images::select(store, all, &f).map_err(|e| anyhow::anyhow!(e.message))?;
    let mut out = Vec::new();
    for s in selected {
        let names: Vec<(String, String)> = if s.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            s.tags
                .iter()
                .map(|r| (r.familiar_name(), r.tag.clone().unwrap_or_default()))
                .collect()
        };
        for (repo, tag) in names {
            let digest = s
                .digest_of(&repo)
                .map(|d| d.to_string())
                .unwrap_or_else(|| "<none>".into());
            out.push(Row {
                repo,
                tag,
                digest,
                img: s.record.clone(),
            });
        }
    }
    Ok(out)
}

fn images(store: &ImageStore, a: ImagesArgs) -> Result<i32> {
    let rows = rows(store, a.all, a.repository.as_deref(), &a.filter)?;
    let id = |r: &Row| {
        if a.no_trunc {
            r.img.config.to_string()
        } else {
            r.img.config.short().to_string()
        }
    };
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            if seen.insert(r.img.config.clone()) {
                println!("{}", id(r));
            }
        }
        return Ok(0);
    }
    match a.format.as_deref() {
        Some("json") | Some("{{json .}}") => {
            for r in &rows {
                let v = json!({
                    "Containers": "N/A",
                    "CreatedAt": created_at(&r.img.created),
                    "CreatedSince": human_since(&r.img.created),
                    "Digest": r.digest,
                    "ID": r.img.config.short(),
                    "Repository": r.repo,
                    "SharedSize": "N/A",
                    "Size": human_size(r.img.size),
                    "Tag": r.tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(r.img.size),
                });
                println!("{}", serde_json::to_string(&v)?);
            }
        }
        None | Some("table") => {
            let mut t = vec![];
            let mut head = vec!["REPOSITORY".to_string(), "TAG".into()];
            if a.digests {
                head.push("DIGEST".into());
            }
            head.extend(["IMAGE ID".into(), "CREATED".into(), "SIZE".into()]);
            t.push(head);
            for r in &rows {
                let mut row = vec![r.repo.clone(), r.tag.clone()];
                if a.digests {
                    row.push(r.digest.clone());
                }
                row.extend([id(r), human_since(&r.img.created), human_size(r.img.size)]);
                t.push(row);
            }
            print!("{}", table(&t));
        }
        Some(other) => bail!("unsupported --format {other:?}: use \"table\" or \"json\""),
    }
    Ok(0)
}

/// docker prints CreatedAt as "2024-01-02 03:04:05 +0000 UTC".
fn created_at(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_default()
}

/// `rmi` with dockerd's rules (a container's image stays; see `Engine::remove_image`).
fn rmi(engine: &engine::engine::Engine, a: RmiArgs) -> Result<i32> {
    let mut code = 0;
    for i in &a.images {
        if let Ok(s) = engine.images() {
            if let Err(e) = a.plat.check(s, i) {
                eprintln!("{e}");
                code = 1;
                continue;
            }
        }
        match engine.remove_image(i, a.force) {
            Ok(r) => {
                for d in r {
                    match d {
                        ImageDelete::Untagged(u) => println!("Untagged: {u}"),
                        ImageDelete::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn prune(store: &ImageStore, a: PruneArgs) -> Result<i32> {
    let _ = a.force;
    let f = engine::filters::from_flags(&a.filter)?;
    let r =
        api::images::prune_filtered(store, a.all, &f).map_err(|e| anyhow::anyhow!(e.message))?;
    if !r.untagged.is_empty() || !r.deleted.is_empty() {
        println!("Deleted Images:");
        for u in r.untagged {
            println!("untagged: {u}");
        }
        for d in r.deleted {
            println!("deleted: {d}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(r.reclaimed));
    Ok(0)
}

pub use image::views::inspect_json;

fn inspect(store: &ImageStore, a: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for i in &a.images {
        if let Err(e) = a.plat.check(store, i) {
            eprintln!("{e}");
            code = 1;
            continue;
        }
        match store.get(i) {
            Ok(img) => out.push(inspect_json(store, &img)?),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    match a.format.as_deref() {
        None => println!("{}", serde_json::to_string_pretty(&out)?),
        Some("json") | Some("{{json .}}") => {
            for v in &out {
                println!("{}", serde_json::to_string(v)?);
            }
        }
        Some(f) => {
            // minimal Go-template support: {{.Field}} / {{.A.B}} / {{json .A}}
            for v in &out {
                println!("{}", super::template::render(f, v)?);
            }
        }
    }
    Ok(code)
}

fn history(store: &ImageStore, a: HistoryArgs) -> Result<i32> {
    a.plat.check(store, &a.image)?;
    let img = store.get(&a.image)?;
    let rows = views::history(store, &img)?;
    if a.quiet {
        println!("{}", img.id().short());
        return Ok(0);
    }
    let mut t = vec![vec![
        "IMAGE".to_string(),
        "CREATED".into(),
        "CREATED BY".into(),
        "SIZE".into(),
        "COMMENT".into(),
    ]];
    for h in &rows {
        let id = match &h.id {
            Some(id) if a.no_trunc => id.to_string(),
            Some(id) => id.short().to_string(),
            None => "<missing>".to_string(),
        };
        let mut by = h.created_by.replace('\t', " ");
        if !a.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        let comment = h.comment.clone();
        let created = if a.human {
            human_since(&h.created)
        } else {
            h.created.clone()
        };
        let size = if a.human {
            human_size(h.size)
        } else {
            h.size.to_string()
        };
        t.push(vec![id, created, by, size, comment]);
    }
    if a.format.as_deref() == Some("json") {
        for r in t.iter().skip(1) {
            println!(
                "{}",
                json!({"ID": r[0], "CreatedSince": r[1], "CreatedBy": r[2], "Size": r[3], "Comment": r[4]})
            );
        }
    } else {
        print!("{}", table(&t));
    }
    Ok(0)
}

fn save(store: &ImageStore, a: SaveArgs) -> Result<i32> {
    for i in &a.images {
        for (img, _) in archive::save_targets(store, i)? {
            a.plat.check_image(&img, i)?;
            events::image(store, "save", &img.id().to_string(), i);
        }
    }
    let fmt = match a.format.as_str() {
        "docker-archive" | "docker" => ArchiveFormat::Docker,
        "oci-archive" | "oci" => ArchiveFormat::Oci,
        other => bail!("unknown archive format {other:?}: use docker-archive or oci-archive"),
    };
    match &a.output {
        Some(p) => {
            let tmp = p.with_extension(format!("tmp-{}", std::process::id()));
            let f =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let res = archive::save(store, &a.images, fmt, std::io::BufWriter::new(f));
            match res {
                Ok(mut w) => {
                    w.flush()?;
                    std::fs::rename(&tmp, p)
                        .with_context(|| format!("rename to {}", p.display()))?;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            }
        }
        None => {
            let out = std::io::stdout();
            if out.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut w = archive::save(store, &a.images, fmt, std::io::BufWriter::new(out.lock()))?;
            w.flush()?;
        }
    }
    Ok(0)
}

fn load(store: &ImageStore, a: LoadArgs) -> Result<i32> {
    let p = platform(&a.platform)?;
    let r: Box<dyn Read> = match &a.input {
        Some(f) => {
            Box::new(std::fs::File::open(f).with_context(|| format!("open {}", f.display()))?)
        }
        None => Box::new(std::io::stdin().lock()),
    };
    let loaded = archive::load(store, r, &p)?;
    for (img, names) in &loaded {
        let id = img.id().to_string();
        events::image(store, "load", &id, names.first().unwrap_or(&id));
    }
    for m in archive::loaded_messages(&loaded) {
        println!("{m}");
    }
    Ok(0)
}

fn import(store: &ImageStore, a: ImportArgs) -> Result<i32> {
    a.plat.check_host()?;
    let reference = a.reference.as_deref().map(Reference::parse).transpose()?;
    let (r, source): (Box<dyn Read>, String) = if a.file == "-" {
        (Box::new(std::io::stdin().lock()), "-".into())
    } else {
        (
            Box::new(std::fs::File::open(&a.file).with_context(|| format!("open {}", a.file))?),
            a.file.clone(),
        )
    };
    let img = archive::import(store, r, reference.as_ref(), &a.change, &a.message, &source)?;
    let id = img.id().to_string();
    let name = reference.map(|r| r.familiar()).unwrap_or(id.clone());
    events::image(store, "import", &id, &name);
    println!("{}", img.id());
    Ok(0)
}

fn login(a: LoginArgs) -> Result<i32> {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let user = match a.username {
        Some(u) => u,
        None => bail!("username required: use -u"),
    };
    let pass = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        bail!("password required: use --password-stdin or -p");
    };
    registry::login(&server, &user, &pass)?;
    println!("Login Succeeded");
    Ok(0)
}

fn logout(a: LogoutArgs) -> Result<i32> {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    if registry::logout(&server)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
