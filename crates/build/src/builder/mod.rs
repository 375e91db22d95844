//! The builder: runs a parsed Dockerfile against the engine, docker's legacy builder style.
//! Every instruction yields an image: metadata instructions change only the config, RUN runs a
//! container of the current image and keeps its changes as a layer, COPY/ADD write into a
//! (never started) container's rootfs and keep those changes. Each step is cached by its
//! parent image, the instruction with its arguments expanded, the build args in effect and,
//! for COPY/ADD, a hash of the copied content.
//!
//! A [`Builder`] holds what a build works with (engine, context, Dockerfile, options, cache,
//! output) and its state (the stage being built, the stages done, the build args used); one
//! method per instruction: metadata ones in `instructions.rs`, RUN in `run.rs`, COPY and ADD
//! (one [`copy::CopyRequest`]) in `copy.rs`.

mod cache;
mod cache_io;
mod copy;
mod frontend;
mod inline_cache;
mod instructions;
mod live;
mod mounts;
mod output;
mod progress;
mod reaper;
mod run;
mod schedule;
mod snap;
mod state;

use crate::context::Context;
use crate::expand::expand;
use crate::parser::{Dockerfile, Instruction, Kind};
use cache::{cache_key, Cache};
pub use cache_io::CacheLocation;
use engine::engine::Engine;
use engine::{Error, Result};
use frontend::{frontend, platform_args};
use image::archive::{derive, Step};
use image::Image;
pub use mounts::Secret;
pub use output::{write_output, Output};
pub use progress::ProgressFormat;
use progress::Report;
use schedule::{image_stages, needed_stages, waves};
use serde_json::{json, Value};
use state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

#[derive(Default, Clone, Debug)]
pub struct Options {
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: BTreeMap<String, String>,
    pub quiet: bool,
    /// RUN steps' network (`--network`): "" for the default bridge, "host", "none", a name
    pub network_mode: String,
    /// RUN steps' extra /etc/hosts lines (`--add-host name:ip`)
    pub extra_hosts: Vec<String>,
    /// `--secret id=ID,...`: what `RUN --mount=type=secret,id=ID` reads
    pub secrets: BTreeMap<String, Secret>,
    /// `--ssh ID=SOCKET`: agent sockets `RUN --mount=type=ssh,id=ID` reaches
    pub ssh: BTreeMap<String, std::path::PathBuf>,
    /// `--allow` entitlements: `network.host`, `security.insecure`
    pub allow: Vec<String>,
    /// `--platform`: the host's own (berth does not emulate others)
    pub platform: Option<String>,
    /// `--cache-from type=local,src=DIR`: step caches to import first
    pub cache_from: Vec<CacheLocation>,
    /// `--cache-to type=local,dest=DIR`: where to export the steps this build used
    pub cache_to: Vec<CacheLocation>,
    /// how progress is written (docker's legacy lines unless `--progress` says otherwise)
    pub progress: ProgressFormat,
    /// `--cache-from IMAGE` (the classic builder's): when given, a cached step is taken only if
    /// its image is one of these images or an ancestor of one (dockerd's rule); names that are
    /// not there are skipped
    pub cache_from_images: Vec<String>,
    /// `--rm=false`: the container of each RUN that succeeded is kept (`docker ps -a` shows it)
    pub keep_containers: bool,
    /// `--force-rm`: the container of a RUN that failed is removed too (else it is kept)
    pub force_rm: bool,
    /// RUN steps' limits and security (`--memory`, `--cpu-*`, `--cgroup-parent`, `--shm-size`,
    /// `--ulimit`, `--security-opt`, `--isolation`): the HostConfig each step's container
    /// starts from
    pub run_host_config: engine::types::HostConfig,
}

/// Args docker passes to every build without a declaration.
const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    inline_cache::ARG,
];

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

fn step_err(ins: &Instruction, e: &str) -> Error {
    invalid(format!("Dockerfile:{}: {}: {e}", ins.line, ins.keyword))
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// What `prune_cache` removed.
pub struct Pruned {
    /// the images the forgotten steps made (they stay in the store, for `image prune` to take
    /// when unused and untagged)
    pub steps: Vec<String>,
    /// the bytes the removed RUN cache mounts held
    pub reclaimed: u64,
}

/// Forget the step cache and remove the RUN cache mounts (`POST /build/prune`,
/// `builder prune`).
pub fn prune_cache(engine: &Engine) -> Result<Pruned> {
    snap::sweep(engine)?;
    let dir = mounts::cache_root(engine);
    let mut reclaimed = 0;
    if dir.exists() {
        reclaimed = engine::volumes::du(&dir);
        std::fs::remove_dir_all(&dir)
            .map_err(|e| invalid(format!("remove {}: {e}", dir.display())))?;
    }
    Ok(Pruned {
        steps: Cache::open(engine).clear()?,
        reclaimed,
    })
}

fn from_line(st: &crate::parser::Stage) -> String {
    let mut s = String::new();
    if let Some(p) = &st.platform {
        s.push_str(&format!("--platform={p} "));
    }
    s.push_str(&st.base);
    if let Some(n) = &st.name {
        s.push_str(&format!(" AS {n}"));
    }
    s
}

/// Build; returns the final image id (`sha256:...`). Progress goes to `out` as dockerd's
/// legacy builder writes it (the client's "Sending build context" line is the caller's), or
/// in BuildKit's format `opts.progress` names; `stage_built` gets the image id of each stage
/// as it is done (dockerd's `aux` message; with the tty display, all at the end).
pub fn build(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    out: &mut dyn Write,
    stage_built: &mut dyn FnMut(&str),
) -> Result<String> {
    match opts.progress {
        ProgressFormat::Tty { rows, cols } if !opts.quiet => {
            build_live(engine, ctx, df, opts, out, (rows, cols), stage_built)
        }
        format => {
            let report = Report::new(out, format, opts.quiet);
            Builder::start(engine, ctx, df, opts, report)?.build(stage_built)
        }
    }
}

/// `--progress=tty`: the build in a thread of its own (with an engine of its own: a store
/// connection is not shared), its progress drawn live on `out` by this one.
fn build_live(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    out: &mut dyn Write,
    size: (u16, u16),
    stage_built: &mut dyn FnMut(&str),
) -> Result<String> {
    let root = engine.root.clone();
    let mut ids = Vec::new();
    let r = live::show(out, size, |tx| {
        let mut sink = std::io::sink();
        let r = Engine::open(&root).and_then(|engine| {
            let report = Report::live(&mut sink, opts.quiet, tx);
            Builder::start(&engine, ctx, df, opts, report)?
                .build(&mut |id| ids.push(id.to_string()))
        });
        let ok = r.is_ok();
        (r, ok)
    });
    for id in &ids {
        stage_built(id);
    }
    r
}

/// Whether a step changes files (BuildKit shows only those, and FROM).
fn changes(k: &Kind) -> bool {
    matches!(k, Kind::Run { .. } | Kind::Copy { .. } | Kind::Add { .. })
}

/// How many steps of stage `st` BuildKit shows: its FROM and the steps that change files.
fn shown_steps(st: &crate::parser::Stage) -> usize {
    1 + st.instructions.iter().filter(|i| changes(&i.kind)).count()
}

/// The images `cache_from` names and all their ancestors (by `parent`); None when it names
/// none, so every cached step counts.
fn cache_sources(engine: &Engine, cache_from: &[String]) -> Option<BTreeSet<String>> {
    if cache_from.is_empty() {
        return None;
    }
    let mut ids = BTreeSet::new();
    let Ok(images) = engine.images() else {
        return Some(ids);
    };
    for name in cache_from {
        let mut next = images.get(name).ok();
        while let Some(img) = next.take() {
            if !ids.insert(img.id().to_string()) {
                break;
            }
            next = img.config["parent"]
                .as_str()
                .and_then(|p| images.get(p).ok());
        }
    }
    Some(ids)
}

/// One build: what it works with, and where it is.
struct Builder<'a> {
    engine: &'a Engine,
    ctx: &'a Context,
    df: &'a Dockerfile,
    opts: &'a Options,
    cache: Cache,
    report: Report<'a>,
    /// the ARGs before the first FROM: usable in FROM lines
    global: BTreeMap<String, Option<String>>,
    /// the --build-arg names consumed so far
    used_args: BTreeSet<String>,
    /// the image of each stage built (None: FROM scratch with nothing in it)
    results: BTreeMap<usize, Option<Image>>,
    /// the stage being built
    stage: State,
    /// names what this build keeps for itself (a `--no-cache` build's cache mounts)
    build_id: String,
    /// with `cache_from`: the images a cached step may be (the sources and their ancestors)
    cache_sources: Option<BTreeSet<String>>,
    /// removes the containers of the steps done, behind the build
    reaper: reaper::Reaper,
    /// the stages whose layers may be kept without blobs (no image this build exports is
    /// made of them: see `image::kept`)
    keep: BTreeSet<usize>,
}

impl<'a> Builder<'a> {
    /// A builder of `df`, its step cache open (with the caches `--cache-from IMAGE` brings).
    fn start(
        engine: &'a Engine,
        ctx: &'a Context,
        df: &'a Dockerfile,
        opts: &'a Options,
        mut report: Report<'a>,
    ) -> Result<Builder<'a>> {
        snap::sweep(engine)?;
        let mut cache = Cache::open(engine);
        inline_cache::pull_missing(engine, &opts.cache_from_images, &mut report);
        // images with an inline cache (BUILDKIT_INLINE_CACHE) bring their steps' images back
        let rebuilt = inline_cache::import(engine, &mut cache, &opts.cache_from_images);
        let mut sources = cache_sources(engine, &opts.cache_from_images);
        if let Some(s) = &mut sources {
            s.extend(rebuilt);
        }
        Ok(Builder {
            engine,
            ctx,
            df,
            opts,
            cache,
            report,
            global: BTreeMap::new(),
            used_args: BTreeSet::new(),
            results: BTreeMap::new(),
            stage: State::on(None, BTreeMap::new()),
            build_id: engine::names::random_id(),
            cache_sources: sources,
            reaper: Default::default(),
            keep: BTreeSet::new(),
        })
    }
}

impl Builder<'_> {
    /// The --build-arg `k`, if given (it counts as used then).
    fn take_build_arg(&mut self, k: &str) -> Option<String> {
        let v = self.opts.build_args.get(k)?;
        self.used_args.insert(k.to_string());
        Some(v.clone())
    }

    fn build(mut self, stage_built: &mut dyn FnMut(&str)) -> Result<String> {
        self.import_caches()?;
        let r = self.build_all(stage_built);
        if r.is_ok() {
            self.export_caches()?;
        }
        if self.opts.no_cache {
            let _ = std::fs::remove_dir_all(self.fresh_caches());
        }
        self.reaper.finish();
        r
    }

    /// `--cache-from`: the caches to import before the build.
    fn import_caches(&mut self) -> Result<()> {
        for c in &self.opts.cache_from {
            let (name, got) = match c {
                CacheLocation::Local(dir) => (
                    dir.display().to_string(),
                    Ok(cache_io::import(self.engine, &mut self.cache, dir)?),
                ),
                CacheLocation::Registry(r) => (
                    r.clone(),
                    cache_io::import_registry(self.engine, &mut self.cache, r)?,
                ),
            };
            match got {
                Ok(n) => self
                    .report
                    .note(&format!("importing cache from {name}: {n} steps")),
                Err(e) => self
                    .report
                    .warn(&format!("WARNING: failed to import cache {name}: {e}")),
            }
        }
        Ok(())
    }

    /// `--cache-to`: export the steps this build used.
    fn export_caches(&mut self) -> Result<()> {
        for c in &self.opts.cache_to {
            match c {
                CacheLocation::Local(dir) => {
                    cache_io::export(self.engine, &self.cache.used, dir)?;
                    self.report
                        .note(&format!("exported cache to {}", dir.display()));
                }
                CacheLocation::Registry(r) => {
                    cache_io::export_registry(self.engine, &self.cache.used, r)?;
                    self.report.note(&format!("exported cache to {r}"));
                }
            }
        }
        Ok(())
    }

    fn build_all(&mut self, stage_built: &mut dyn FnMut(&str)) -> Result<String> {
        let df = self.df;
        if let Some(s) = &df.syntax {
            frontend(s)?;
        }
        let images = self.engine.images()?;
        // BuildKit's platform args: usable in FROM lines, and in a stage once declared
        for (k, v) in platform_args(self.opts.platform.as_deref())? {
            self.global.insert(k, Some(v));
        }
        for ins in &df.global_args {
            if let Kind::Arg(list) = &ins.kind {
                for (k, d) in list {
                    let v = match (self.take_build_arg(k), d) {
                        (Some(v), _) => Some(v),
                        (None, Some(d)) => Some(
                            expand(d, &|n| self.global.get(n).cloned().flatten(), df.escape)
                                .map_err(|e| step_err(ins, &e))?,
                        ),
                        // the platform args keep their values
                        (None, None) => self.global.get(k).cloned().flatten(),
                    };
                    self.global.insert(k.clone(), v);
                }
            }
        }
        let target = match &self.opts.target {
            Some(t) => df.stage_index(t).ok_or_else(|| {
                invalid(format!("failed to reach build target {t} in Dockerfile"))
            })?,
            None => df.stages.len() - 1,
        };
        let need = needed_stages(df, target);
        self.keep = self.kept_stages(&need, target);
        let total: usize = df.global_args.len()
            + need
                .iter()
                .map(|i| 1 + df.stages[*i].instructions.len())
                .sum::<usize>();
        // the steps BuildKit shows: each stage's FROM and its steps that change files
        self.report.total(
            need.iter()
                .map(|i| shown_steps(&df.stages[*i]))
                .sum::<usize>()
                + 1,
        );
        let mut n = 0usize;
        // docker prints the ARGs before the first FROM as steps (with no image of their own)
        let globals = df.global_args.len();
        for (k, ins) in df.global_args.iter().enumerate() {
            n += 1;
            let _ = (k, globals);
            self.report.step(n, total, None, &ins.original);
            self.report.no_image();
        }
        // steps are numbered in stage order, whichever stage runs first
        let mut start = BTreeMap::new();
        for &si in &need {
            start.insert(si, n + 1);
            n += 1 + df.stages[si].instructions.len();
        }
        let mut last = String::new();
        for wave in waves(df, &need) {
            let built = self.build_wave(&wave, &start, total, target)?;
            for (si, image) in wave.iter().zip(built) {
                self.results.insert(*si, image.clone());
                last = image.map(|i| i.id().to_string()).unwrap_or_default();
                stage_built(&last);
            }
        }
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            self.report.warn(&format!(
                "[Warning] One or more build-args {:?} were not consumed",
                unused
            ));
        }
        let inline = self.opts.build_args.get(inline_cache::ARG);
        if inline.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
            let img = images.get(&last)?;
            last = inline_cache::embed(images, &img, &self.cache.used)?
                .id()
                .to_string();
        }
        let mut names = Vec::new();
        for t in &self.opts.tags {
            names.push(images.tag(&last, t)?.familiar());
        }
        self.report.built(total + 1, &last, &names);
        Ok(last)
    }

    /// One stage, its steps numbered from `n`; the image it made is the stage's.
    fn build_stage(&mut self, si: usize, mut n: usize, total: usize, target: usize) -> Result<()> {
        let st = &self.df.stages[si];
        // BuildKit's place of a step: `[stage k/m]` (the stage named only when there are
        // several), counting the steps that change files; metadata steps are not shown
        let label = match (self.df.stages.len(), &st.name) {
            (1, _) => String::new(),
            (_, Some(name)) => format!("{name} "),
            (_, None) => format!("stage-{si} "),
        };
        let m = shown_steps(st);
        let from = format!("FROM {}", from_line(st));
        self.report.step(n, total, Some((&label, 1, m)), &from);
        self.start_stage(si)?;
        let mut k = 1;
        for ins in &st.instructions {
            n += 1;
            let place = changes(&ins.kind).then(|| {
                k += 1;
                (label.as_str(), k, m)
            });
            self.report.step(n, total, place, &ins.original);
            self.step(ins)?;
        }
        self.finish_stage(si == target)
    }

    /// The stages of a wave, at the same time: the first here, writing its progress as it
    /// goes; each other in a thread of its own with a builder of its own, its progress written
    /// after the first's. The images they made, in the wave's order.
    fn build_wave(
        &mut self,
        wave: &[usize],
        start: &BTreeMap<usize, usize>,
        total: usize,
        target: usize,
    ) -> Result<Vec<Option<Image>>> {
        let (first, others) = wave.split_first().ok_or_else(|| invalid("empty wave"))?;
        let (ctx, df, opts) = (self.ctx, self.df, self.opts);
        let (global, results, root) = (
            self.global.clone(),
            self.results.clone(),
            self.engine.root.clone(),
        );
        let (global, results, root) = (&global, &results, &root);
        let build_id = &self.build_id.clone();
        let imported = &self.cache.imported.clone();
        let cache_sources = &self.cache_sources.clone();
        let keep = &self.keep.clone();
        let mut outcome = Vec::new();
        let r0 = std::thread::scope(|sc| {
            let handles: Vec<_> = others
                .iter()
                .map(|&si| {
                    let like = self.report.like();
                    sc.spawn(move || {
                        let mut buf: Vec<u8> = Vec::new();
                        let report = like.report(&mut buf);
                        // an engine of its own: its store's connection is not shared
                        let engine = match Engine::open(root) {
                            Ok(e) => e,
                            Err(e) => return (buf, Err(e)),
                        };
                        let engine = &engine;
                        let mut b = Builder {
                            engine,
                            ctx,
                            df,
                            opts,
                            cache: Cache::with_imported(engine, imported.clone()),
                            report,
                            global: global.clone(),
                            used_args: BTreeSet::new(),
                            results: results.clone(),
                            stage: State::on(None, BTreeMap::new()),
                            build_id: build_id.clone(),
                            cache_sources: cache_sources.clone(),
                            reaper: Default::default(),
                            keep: keep.clone(),
                        };
                        let r = b.build_stage(si, start[&si], total, target);
                        let img = b.stage.image.take();
                        let used = (
                            std::mem::take(&mut b.used_args),
                            std::mem::take(&mut b.cache.used),
                        );
                        drop(b);
                        (buf, r.map(|_| (img, used)))
                    })
                })
                .collect();
            let r0 = self.build_stage(*first, start[first], total, target);
            for h in handles {
                outcome.push(h.join().unwrap_or_else(|_| {
                    (Vec::new(), Err(invalid("a build stage's thread panicked")))
                }));
            }
            r0
        });
        let mut images = vec![self.stage.image.clone()];
        let mut err = r0.err();
        for (buf, r) in outcome {
            let _ = self.report.out.write_all(&buf);
            let _ = self.report.out.flush();
            match r {
                Ok((img, (used, steps))) => {
                    self.used_args.extend(used);
                    self.cache.used.extend(steps);
                    images.push(img);
                }
                Err(e) => {
                    err.get_or_insert(e);
                }
            }
        }
        err.map_or(Ok(images), Err)
    }

    /// The needed stages whose layers may be kept without blobs: those no image this build
    /// exports is made of, unless the build exports its steps (`--cache-to`, an inline cache)
    /// or keeps its RUN containers (whose upper dirs cannot become layers).
    fn kept_stages(&self, need: &BTreeSet<usize>, target: usize) -> BTreeSet<usize> {
        let inline = self.opts.build_args.contains_key(inline_cache::ARG);
        if !self.opts.cache_to.is_empty() || inline || self.opts.keep_containers {
            return BTreeSet::new();
        }
        need.difference(&image_stages(self.df, target))
            .copied()
            .collect()
    }

    /// FROM: the stage's base image (scratch, an earlier stage, or an image in the store), the
    /// default PATH, and the base's ONBUILD triggers run.
    fn start_stage(&mut self, si: usize) -> Result<()> {
        let st = &self.df.stages[si];
        let global = &self.global;
        let base = expand(
            &st.base,
            &|k| global.get(k).cloned().flatten(),
            self.df.escape,
        )
        .map_err(|e| invalid(format!("Dockerfile:{}: FROM: {e}", st.line)))?;
        let image = if base == "scratch" {
            None
        } else if let Some(j) = self.df.stage_index(&base).filter(|j| *j < si) {
            self.results.get(&j).cloned().flatten()
        } else {
            Some(self.engine.images()?.get(&base).map_err(|_| {
                invalid(format!(
                    "pull access denied for {base}, repository does not exist or may require 'docker login' (berth builds offline: load or import the image first)"
                ))
            })?)
        };
        self.stage = State::on(image, self.global.clone());
        self.stage.keep_layers = self.keep.contains(&si);
        if !self.stage.keep_layers && self.stage.image.as_ref().is_some_and(image::kept::has_kept) {
            return Err(invalid(format!(
                "Dockerfile:{}: FROM {base}: an image of a stage only copied from, whose \
                 layers were kept without blobs: build that stage as the target, or name the \
                 stage in FROM (not through a variable)",
                st.line
            )));
        }
        // docker's builder gives an image without PATH the default one
        if !self.stage.env().iter().any(|e| e.starts_with("PATH=")) {
            let mut env = vec![format!("PATH={}", engine::spec::DEFAULT_PATH)];
            env.extend(self.stage.env());
            self.stage.config.insert("Env".into(), json!(env));
        }
        self.report.image(&short(&self.stage.id()));
        self.run_triggers()
    }

    /// The ONBUILD triggers of the base image run first (docker: "Executing N build triggers").
    fn run_triggers(&mut self) -> Result<()> {
        let triggers = self.stage.strings("OnBuild");
        if triggers.is_empty() {
            return Ok(());
        }
        self.report.note(&format!(
            " ---> Executing {} build trigger{}",
            triggers.len(),
            if triggers.len() == 1 { "" } else { "s" }
        ));
        self.stage.config.insert("OnBuild".into(), Value::Null);
        for t in triggers {
            let parsed = crate::parser::parse(&format!("FROM scratch\n{t}\n"), "ONBUILD")
                .map_err(|e| invalid(e.to_string()))?;
            for ins in &parsed.stages[0].instructions {
                self.step(ins)?;
            }
        }
        Ok(())
    }

    /// The end of a stage: labels given with --label go on the final image; a stage of only
    /// metadata on scratch gets an image with no layers.
    fn finish_stage(&mut self, is_target: bool) -> Result<()> {
        if is_target && !self.opts.labels.is_empty() {
            let mut labels = self.stage.object("Labels");
            for (k, v) in &self.opts.labels {
                labels.insert(k.clone(), json!(v));
            }
            self.stage
                .config
                .insert("Labels".into(), Value::Object(labels));
            self.stage.image = Some(self.meta_image("LABEL (from --label)")?);
        }
        if self.stage.image.is_none() {
            self.stage.image = Some(self.meta_image("FROM scratch")?);
        }
        Ok(())
    }

    /// One instruction of the current stage.
    fn step(&mut self, ins: &Instruction) -> Result<()> {
        // the build args in effect before the step take part in its cache key
        let args = self.stage.args_in_effect();
        if let Kind::Run {
            cmd,
            heredocs,
            flags,
        } = &ins.kind
        {
            return self.run(ins, cmd, heredocs, flags, &args);
        }
        if let Some(req) = copy::CopyRequest::of(&ins.kind) {
            return self.copy(ins, &req, &args);
        }
        let change = self.metadata(ins)?;
        self.commit_meta(change, &args)
    }

    /// Try the cache for a step; on a hit the stage moves to the cached image.
    fn cached(&mut self, key: &str) -> bool {
        if self.opts.no_cache {
            return false;
        }
        let Some(id) = self.cache.get(key) else {
            return false;
        };
        if self
            .cache_sources
            .as_ref()
            .is_some_and(|s| !s.contains(&id))
        {
            return false;
        }
        let Ok(images) = self.engine.images() else {
            return false;
        };
        let Ok(img) = images.get(&id) else {
            return false;
        };
        // a step kept without a blob: only for a stage that may keep them, while it lasts
        let kept = image::kept::has_kept(&img);
        if kept && !(self.stage.keep_layers && images.kept_usable(&img)) {
            return false;
        }
        self.report.cached(&short(&id));
        self.stage.config = img
            .config
            .get("config")
            .and_then(|c| c.as_object().cloned())
            .unwrap_or_default();
        self.stage.image = Some(img);
        true
    }

    /// The image a step made: into the cache under `key`, and the stage moves to it.
    fn done(&mut self, key: &str, img: Image) {
        self.cache.put(key, &img.id().to_string());
        self.report.image(&short(&img.id().to_string()));
        self.stage.image = Some(img);
    }

    /// A metadata-only step: the current config as a new image on the current one, with
    /// docker's `#(nop)` history line.
    fn meta_image(&self, text: &str) -> Result<Image> {
        Ok(derive::<std::io::Empty>(
            self.engine.images()?,
            self.stage.image.as_ref(),
            None,
            Step {
                config: self.stage.config.clone(),
                comment: "",
                author: "",
                created_by: &format!("/bin/sh -c #(nop)  {text}"),
            },
            None,
        )?)
    }

    /// A metadata step's change, from the cache or applied to the config as a new image.
    fn commit_meta(&mut self, change: instructions::Change, args: &str) -> Result<()> {
        let key = cache_key(&self.stage.id(), &change.text, args);
        if self.cached(&key) {
            return Ok(());
        }
        (change.apply)(&mut self.stage);
        let img = self.meta_image(&change.text)?;
        self.done(&key, img);
        Ok(())
    }
}

/// docker's HumanSize for the context size line.
pub fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.4}{}", units[i])
        .replace(".0000", "")
        .trim_end_matches('0')
        .to_string()
}
