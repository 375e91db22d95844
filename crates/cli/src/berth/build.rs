//! `berth build`: docker's legacy builder command line over the `build` crate.

use super::containers::Exit;
use anyhow::{anyhow, Result};
use clap::Args;
use engine::engine::Engine;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the name:tag format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Set metadata for an image
    #[arg(long)]
    pub label: Vec<String>,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Always attempt to pull a newer version of the image (berth builds from local images)
    #[arg(long)]
    pub pull: bool,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    pub rm: bool,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    #[arg(long)]
    pub network: Option<String>,
    #[arg(long)]
    pub platform: Option<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
    #[arg(long)]
    pub secret: Vec<String>,
    /// SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>]")
    #[arg(long)]
    pub ssh: Vec<String>,
    /// External cache sources: images, or "type=local,src=path/to/dir", "type=registry,ref=REF"
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Cache export destinations (e.g., "type=local,dest=path/to/dir")
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// Set type of progress output ("auto", "plain", "tty", "quiet"): BuildKit's lines, or
    /// its live display ("tty"; "auto" on a terminal); the legacy builder's when not given
    #[arg(long)]
    pub progress: Option<String>,
    /// Output destination (format: "type=local,dest=path", "type=tar,dest=file", "-")
    #[arg(short = 'o', long)]
    pub output: Vec<String>,
    /// Allow extra privileged entitlement (e.g., "network.host", "security.insecure")
    #[arg(long)]
    pub allow: Vec<String>,
    #[command(flatten)]
    pub run: RunStepFlags,
    /// Build context: a directory, or `-` for a tar on stdin
    pub context: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum BuilderCmd {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache (the step cache and RUN cache mounts)
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage")]
    pub keep_storage: Option<String>,
}

/// `berth builder build|prune`.
pub fn builder(engine: &Engine, cmd: BuilderCmd) -> Result<i32> {
    let a = match cmd {
        BuilderCmd::Build(a) => return run(engine, *a),
        BuilderCmd::Prune(a) => a,
    };
    if !a.force {
        print!("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !line.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let p = build::builder::prune_cache(engine).map_err(|e| anyhow!("{e}"))?;
    if !p.steps.is_empty() {
        println!("Deleted build cache objects:");
        for id in &p.steps {
            println!("{}", id.trim_start_matches("sha256:"));
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        build::builder::human(p.reclaimed)
    );
    Ok(0)
}

/// What RUN steps run with, as docker's classic builder takes it.
#[derive(Args, Debug, Default)]
pub struct RunStepFlags {
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set the parent cgroup for the RUN instructions during build
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Compress the build context using gzip (the context is read in place: nothing to send)
    #[arg(long)]
    pub compress: bool,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Skip image verification (content trust is not used: always skipped)
    #[arg(long = "disable-content-trust", default_missing_value = "true", num_args = 0..=1, require_equals = true)]
    pub disable_content_trust: Option<bool>,
    /// Container isolation technology
    #[arg(long)]
    pub isolation: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Security options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Squash newly built layers into a single new layer (refused: experimental in docker)
    #[arg(long)]
    pub squash: bool,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
}

impl RunStepFlags {
    fn host_config(&self) -> Result<engine::types::HostConfig> {
        use super::flags::{parse_bytes, parse_ulimit};
        if self.squash {
            anyhow::bail!(
                "Error response from daemon: squash is only supported with experimental mode"
            );
        }
        let bytes = |v: &Option<String>| -> Result<i64> {
            match v.as_deref() {
                None => Ok(0),
                Some("-1") => Ok(-1),
                Some(s) => parse_bytes(s),
            }
        };
        Ok(engine::types::HostConfig {
            cgroup_parent: self.cgroup_parent.clone().unwrap_or_default(),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            isolation: self.isolation.clone().unwrap_or_default(),
            memory: bytes(&self.memory)?,
            memory_swap: bytes(&self.memory_swap)?,
            security_opt: self.security_opt.clone(),
            shm_size: bytes(&self.shm_size)?,
            ulimits: self
                .ulimit
                .iter()
                .map(|u| parse_ulimit(u))
                .collect::<Result<_>>()?,
            ..Default::default()
        })
    }
}

pub fn run(engine: &Engine, a: BuildArgs) -> Result<i32> {
    let images = engine.images().map_err(super::containers::daemon)?;
    let ctx = if a.context == "-" {
        build::context::Context::from_tar(std::io::stdin().lock(), &images.root.join("tmp"))
    } else {
        build::context::Context::from_dir(Path::new(&a.context))
    }
    .map_err(|e| anyhow!("{e}"))?;
    let df = read_dockerfile(&a, &ctx)?;
    let (opts, outputs, to_stderr) = options(&a)?;
    let quiet = opts.quiet;
    let progress = opts.progress;
    // in quiet mode the step output is kept and shown (on stderr) only if the build fails
    let mut captured: Vec<u8> = Vec::new();
    let result = if quiet {
        build::builder::build(engine, &ctx, &df, &opts, &mut captured, &mut |_| {})
    } else {
        let mut out: Box<dyn Write> = if to_stderr {
            Box::new(std::io::stderr().lock())
        } else {
            Box::new(std::io::stdout().lock())
        };
        if progress == build::builder::ProgressFormat::Legacy {
            let _ = writeln!(out, "{}", build::request::context_line(&ctx));
        }
        build::builder::build(engine, &ctx, &df, &opts, &mut out, &mut |_| {})
    };
    match result {
        Ok(id) => {
            for o in &outputs {
                build::builder::write_output(engine, &id, o).map_err(|e| anyhow!("{e}"))?;
            }
            if quiet {
                println!("{id}");
            }
            if let Some(f) = &a.iidfile {
                std::fs::write(f, &id)?;
            }
            Ok(0)
        }
        Err(e) => {
            if quiet {
                let _ = std::io::stderr().write_all(&captured);
            }
            let msg = e.to_string();
            // a failing RUN: docker exits with the command's code
            let code = build::request::exit_code(&msg);
            Err(anyhow::Error::new(Exit { code, msg }))
        }
    }
}

/// The Dockerfile `--file` names (in the context unless a path; `-` is standard input),
/// parsed.
fn read_dockerfile(
    a: &BuildArgs,
    ctx: &build::context::Context,
) -> Result<build::parser::Dockerfile> {
    let (path, name) = match &a.file {
        Some(f) if f.as_os_str() == "-" => (None, "Dockerfile".to_string()),
        Some(f) if a.context == "-" => (Some(ctx.root.join(f)), f.display().to_string()),
        Some(f) => (
            Some(f.clone()),
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        None => (Some(ctx.root.join("Dockerfile")), "Dockerfile".to_string()),
    };
    let text = match &path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            anyhow!(
                "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: {e}",
                p.display()
            )
        })?,
        None => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s
        }
    };
    build::request::parse(&text, &name).map_err(|e| {
        anyhow::Error::new(Exit {
            code: 1,
            msg: format!("Error response from daemon: {e}"),
        })
    })
}

/// The builder's options from the flags; also the `--output`s and whether the progress goes
/// to standard error (a tar on standard output).
fn options(a: &BuildArgs) -> Result<(build::builder::Options, Vec<build::builder::Output>, bool)> {
    let mut build_args = BTreeMap::new();
    for b in &a.build_args {
        match b.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                // docker: `--build-arg NAME` takes the value from the environment
                if let Ok(v) = std::env::var(b) {
                    build_args.insert(b.clone(), v);
                }
            }
        }
    }
    let mut labels = BTreeMap::new();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let outputs = a
        .output
        .iter()
        .map(|o| build::builder::Output::parse(o))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    // a bare image is a cache source of the classic builder's kind (`--cache-from IMAGE`)
    let mut cache_from_images = Vec::new();
    let mut cache =
        |specs: &[String], export: bool| -> Result<Vec<build::builder::CacheLocation>> {
            let mut out = Vec::new();
            for s in specs {
                match build::builder::CacheLocation::parse(s, export).map_err(|e| anyhow!("{e}"))? {
                    Some(l) => out.push(l),
                    None if !export => cache_from_images.push(s.clone()),
                    None => {
                        return Err(anyhow!(
                            "--cache-to {s}: use type=local,dest=DIR or type=registry,ref=REF"
                        ))
                    }
                }
            }
            Ok(out)
        };
    let (cache_from, cache_to) = (cache(&a.cache_from, false)?, cache(&a.cache_to, true)?);
    // a tar on standard output: the progress goes to standard error
    let to_stderr = outputs.contains(&build::builder::Output::Tar(None));
    let (progress, progress_quiet) = match &a.progress {
        Some(p) => {
            // `auto` draws BuildKit's live display when the progress goes to a terminal
            let terminal = runtime::tty::get_size(if to_stderr { 2 } else { 1 });
            build::builder::ProgressFormat::parse(p, terminal).map_err(|e| anyhow!("{e}"))?
        }
        None => (build::builder::ProgressFormat::Legacy, false),
    };
    let quiet = a.quiet || progress_quiet;
    let mut secrets = BTreeMap::new();
    for s in &a.secret {
        let (id, v) = build::request::secret_spec(s).map_err(|e| anyhow!("{e}"))?;
        secrets.insert(id, v);
    }
    let mut ssh = BTreeMap::new();
    for s in &a.ssh {
        let (id, p) = build::request::ssh_spec(s).map_err(|e| anyhow!("{e}"))?;
        ssh.insert(id, p);
    }
    for e in &a.allow {
        if e != "network.host" && e != "security.insecure" {
            return Err(anyhow!(
                "invalid value {e:?} for --allow: expected network.host or security.insecure"
            ));
        }
    }
    let opts = build::builder::Options {
        tags: a.tags.clone(),
        secrets,
        ssh,
        allow: a.allow.clone(),
        platform: a.platform.clone(),
        cache_from,
        cache_to,
        progress,
        network_mode: a
            .network
            .clone()
            .filter(|n| n != "default")
            .unwrap_or_default(),
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        labels,
        quiet,
        cache_from_images,
        keep_containers: !a.rm,
        force_rm: a.force_rm,
        extra_hosts: a.run.add_host.clone(),
        run_host_config: a.run.host_config()?,
    };
    Ok((opts, outputs, to_stderr))
}
