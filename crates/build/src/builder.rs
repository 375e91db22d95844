//! The builder: runs a parsed Dockerfile against the engine, docker's legacy builder style.
//! Every instruction yields an image: metadata instructions change only the config, RUN runs a
//! container of the current image and keeps its changes as a layer, COPY/ADD write into a
//! (never started) container's rootfs and keep those changes. Each step is cached by its
//! parent image, the instruction with its arguments expanded, the build args in effect and,
//! for COPY/ADD, a hash of the copied content.

use crate::context::Context;
use crate::expand::{expand, expand_words};
use crate::parser::{Command, Dockerfile, Heredoc, Instruction, Kind};
use engine::container::create::CreateRequest;
use engine::engine::Engine;
use engine::types::{Config, HostConfig};
use engine::{Error, Result};
use image::archive::{derive, Step};
use image::rootfd::Node;
use image::Image;
use rusqlite::OptionalExtension;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
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
];

fn invalid(m: impl Into<String>) -> Error {
    Error::Invalid(m.into())
}

struct Cache {
    db: Option<rusqlite::Connection>,
}

impl Cache {
    fn open(engine: &Engine) -> Cache {
        let db = rusqlite::Connection::open(engine.root.join("build-cache.db"))
            .and_then(|db| {
                db.busy_timeout(std::time::Duration::from_secs(30))?;
                db.pragma_update(None, "journal_mode", "WAL")?;
                db.execute_batch(
                    "CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, image TEXT NOT NULL)",
                )?;
                Ok(db)
            })
            .ok();
        Cache { db }
    }

    fn get(&self, key: &str) -> Option<String> {
        self.db
            .as_ref()?
            .query_row("SELECT image FROM steps WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ok()
            .flatten()
    }

    /// Forget every step; the images the steps made.
    fn clear(&self) -> Result<Vec<String>> {
        let Some(db) = &self.db else {
            return Ok(Vec::new());
        };
        let tx = db.unchecked_transaction()?;
        let ids = {
            let mut st = tx.prepare("SELECT DISTINCT image FROM steps")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.execute("DELETE FROM steps", [])?;
        tx.commit()?;
        Ok(ids)
    }

    fn put(&self, key: &str, image: &str) {
        if let Some(db) = &self.db {
            let _ = db.execute(
                "INSERT INTO steps (key, image) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET image = ?2",
                [key, image],
            );
        }
    }
}

/// Forget the step cache (`POST /build/prune`): the ids of the images the forgotten steps
/// made (they stay in the store, for `image prune` to take when unused and untagged).
pub fn prune_cache(engine: &Engine) -> Result<Vec<String>> {
    Cache::open(engine).clear()
}

/// The state of one stage while it is built.
struct State {
    /// the current image (None: FROM scratch and nothing built yet)
    image: Option<Image>,
    /// the image's runtime config (`config` of the image config)
    config: Map<String, Value>,
    /// ARGs declared in this stage and their values
    args: BTreeMap<String, Option<String>>,
    /// the ARGs before the first FROM: a stage's `ARG NAME` without a default takes its value
    global: BTreeMap<String, Option<String>>,
}

impl State {
    fn id(&self) -> String {
        self.image
            .as_ref()
            .map(|i| i.id().to_string())
            .unwrap_or_else(|| "scratch".into())
    }

    fn env(&self) -> Vec<String> {
        self.config
            .get("Env")
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn env_get(&self, k: &str) -> Option<String> {
        self.env().iter().find_map(|e| {
            e.split_once('=')
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Variables for expansion: ENV wins over ARG, as docker's scoping does.
    fn lookup(&self, name: &str) -> Option<String> {
        self.env_get(name)
            .or_else(|| self.args.get(name).cloned().flatten())
    }

    fn shell(&self) -> Vec<String> {
        self.config
            .get("Shell")
            .and_then(|s| serde_json::from_value::<Vec<String>>(s.clone()).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    fn workdir(&self) -> String {
        self.config
            .get("WorkingDir")
            .and_then(|w| w.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string()
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The stages the target needs: itself, the stages it is built FROM and the ones it copies from.
fn needed_stages(df: &Dockerfile, target: usize) -> BTreeSet<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !need.insert(i) {
            continue;
        }
        let st = &df.stages[i];
        if let Some(j) = df.stage_index(&st.base).filter(|j| *j < i) {
            todo.push(j);
        }
        for ins in &st.instructions {
            if let Kind::Copy { from: Some(f), .. } = &ins.kind {
                if let Some(j) = df.stage_index(f).filter(|j| *j < i) {
                    todo.push(j);
                }
            }
        }
    }
    need
}

/// Build; returns the final image id (`sha256:...`). Progress goes to `out` as dockerd's
/// legacy builder writes it (the client's "Sending build context" line is the caller's);
/// `stage_built` gets the image id of each stage as it is done (dockerd's `aux` message).
pub fn build(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    out: &mut dyn Write,
    stage_built: &mut dyn FnMut(&str),
) -> Result<String> {
    let images = engine.images()?;
    let cache = Cache::open(engine);
    let say = |out: &mut dyn Write, s: &str| {
        if !opts.quiet {
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    };
    // global ARGs: usable in FROM lines
    let mut global: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut used_args: BTreeSet<String> = BTreeSet::new();
    for ins in &df.global_args {
        if let Kind::Arg(list) = &ins.kind {
            for (k, d) in list {
                let v = match opts.build_args.get(k) {
                    Some(v) => {
                        used_args.insert(k.clone());
                        Some(v.clone())
                    }
                    None => match d {
                        Some(d) => Some(
                            expand(d, &|n| global.get(n).cloned().flatten(), df.escape)
                                .map_err(|e| step_err(ins, &e))?,
                        ),
                        None => None,
                    },
                };
                global.insert(k.clone(), v);
            }
        }
    }
    let target = match &opts.target {
        Some(t) => df
            .stage_index(t)
            .ok_or_else(|| invalid(format!("failed to reach build target {t} in Dockerfile")))?,
        None => df.stages.len() - 1,
    };
    let need = needed_stages(df, target);
    let total: usize = df.global_args.len()
        + need
            .iter()
            .map(|i| 1 + df.stages[*i].instructions.len())
            .sum::<usize>();
    let mut n = 0usize;
    // docker prints the ARGs before the first FROM as steps (with no image of their own)
    for ins in &df.global_args {
        n += 1;
        say(out, &format!("Step {n}/{total} : {}", ins.original));
    }
    let mut results: BTreeMap<usize, Option<Image>> = BTreeMap::new();
    let mut last = String::new();
    for &si in &need {
        let st = &df.stages[si];
        n += 1;
        say(out, &format!("Step {n}/{total} : FROM {}", from_line(st)));
        let base = expand(&st.base, &|k| global.get(k).cloned().flatten(), df.escape)
            .map_err(|e| invalid(format!("Dockerfile:{}: FROM: {e}", st.line)))?;
        let image = if base == "scratch" {
            None
        } else if let Some(j) = df.stage_index(&base).filter(|j| *j < si) {
            results.get(&j).cloned().flatten()
        } else {
            Some(images.get(&base).map_err(|_| {
                invalid(format!(
                    "pull access denied for {base}, repository does not exist or may require 'docker login' (berth builds offline: load or import the image first)"
                ))
            })?)
        };
        let config = image
            .as_ref()
            .and_then(|i| i.config.get("config"))
            .and_then(|c| c.as_object().cloned())
            .unwrap_or_default();
        let mut s = State {
            image,
            config,
            args: BTreeMap::new(),
            global: global.clone(),
        };
        // docker's builder gives an image without PATH the default one
        if !s.env().iter().any(|e| e.starts_with("PATH=")) {
            let mut env = vec![format!("PATH={}", engine::spec::DEFAULT_PATH)];
            env.extend(s.env());
            s.config.insert("Env".into(), json!(env));
        }
        say(out, &format!(" ---> {}", short(&s.id())));
        // ONBUILD triggers of the base image run first (docker: "Executing N build triggers")
        let triggers: Vec<String> = s
            .config
            .get("OnBuild")
            .and_then(|o| o.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if !triggers.is_empty() {
            say(
                out,
                &format!(
                    " ---> Executing {} build trigger{}",
                    triggers.len(),
                    if triggers.len() == 1 { "" } else { "s" }
                ),
            );
            s.config.insert("OnBuild".into(), Value::Null);
            for t in triggers {
                let parsed = crate::parser::parse(&format!("FROM scratch\n{t}\n"), "ONBUILD")
                    .map_err(|e| invalid(e.to_string()))?;
                for ins in &parsed.stages[0].instructions {
                    step(
                        engine,
                        ctx,
                        df,
                        opts,
                        &cache,
                        &mut s,
                        ins,
                        &results,
                        &mut used_args,
                        &say,
                        out,
                    )?;
                }
            }
        }
        for ins in &st.instructions {
            n += 1;
            say(out, &format!("Step {n}/{total} : {}", ins.original));
            step(
                engine,
                ctx,
                df,
                opts,
                &cache,
                &mut s,
                ins,
                &results,
                &mut used_args,
                &say,
                out,
            )?;
        }
        // labels given with --label go on the final image
        if si == target && !opts.labels.is_empty() {
            let mut labels = s
                .config
                .get("Labels")
                .and_then(|l| l.as_object().cloned())
                .unwrap_or_default();
            for (k, v) in &opts.labels {
                labels.insert(k.clone(), json!(v));
            }
            s.config.insert("Labels".into(), Value::Object(labels));
            s.image = Some(meta_image(engine, &s, "LABEL (from --label)")?);
        }
        if s.image.is_none() {
            // FROM scratch with only metadata: an image with no layers
            s.image = Some(meta_image(engine, &s, "FROM scratch")?);
        }
        last = s.id();
        stage_built(&last);
        results.insert(si, s.image.clone());
    }
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let _ = writeln!(
            out,
            "[Warning] One or more build-args {:?} were not consumed",
            unused
        );
    }
    say(out, &format!("Successfully built {}", short(&last)));
    for t in &opts.tags {
        let r = images.tag(&last, t)?;
        say(out, &format!("Successfully tagged {}", r.familiar()));
    }
    Ok(last)
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

fn step_err(ins: &Instruction, e: &str) -> Error {
    invalid(format!("Dockerfile:{}: {}: {e}", ins.line, ins.keyword))
}

fn cache_key(parent: &str, text: &str, extra: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.update([0]);
    h.update(extra.as_bytes());
    format!("{:x}", h.finalize())
}

/// Try the cache for a step; on a hit the state moves to the cached image.
fn cached(
    engine: &Engine,
    cache: &Cache,
    s: &mut State,
    key: &str,
    no_cache: bool,
    say: &dyn Fn(&mut dyn Write, &str),
    out: &mut dyn Write,
) -> bool {
    if no_cache {
        return false;
    }
    let Some(id) = cache.get(key) else {
        return false;
    };
    let Ok(img) = engine
        .images()
        .and_then(|i| i.get(&id).map_err(Error::from))
    else {
        return false;
    };
    say(out, " ---> Using cache");
    say(out, &format!(" ---> {}", short(&id)));
    s.config = img
        .config
        .get("config")
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    s.image = Some(img);
    true
}

/// A metadata-only step: the current config as a new image on the current one, with docker's
/// `#(nop)` history line.
fn meta_image(engine: &Engine, s: &State, text: &str) -> Result<Image> {
    Ok(derive::<std::io::Empty>(
        engine.images()?,
        s.image.as_ref(),
        None,
        Step {
            config: s.config.clone(),
            comment: "",
            author: "",
            created_by: &format!("/bin/sh -c #(nop)  {text}"),
        },
        None,
    )?)
}

#[allow(clippy::too_many_arguments)]
fn step(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    cache: &Cache,
    s: &mut State,
    ins: &Instruction,
    results: &BTreeMap<usize, Option<Image>>,
    used_args: &mut BTreeSet<String>,
    say: &dyn Fn(&mut dyn Write, &str),
    out: &mut dyn Write,
) -> Result<()> {
    let esc = df.escape;
    let ex = |w: &str, s: &State| -> Result<String> {
        expand(w, &|k| s.lookup(k), esc).map_err(|e| step_err(ins, &e))
    };
    // the build args in effect take part in every cache key (docker: for RUN)
    let args_in_effect: String = s
        .args
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}\n")))
        .collect();
    let mut meta = |s: &mut State, text: String, f: &dyn Fn(&mut State)| -> Result<()> {
        let key = cache_key(&s.id(), &text, &args_in_effect);
        if cached(engine, cache, s, &key, opts.no_cache, say, out) {
            return Ok(());
        }
        f(s);
        let img = meta_image(engine, s, &text)?;
        cache.put(&key, &img.id().to_string());
        say(out, &format!(" ---> {}", short(&img.id().to_string())));
        s.image = Some(img);
        Ok(())
    };
    match &ins.kind {
        Kind::Arg(list) => {
            for (k, d) in list {
                let v = match opts.build_args.get(k) {
                    Some(v) => {
                        used_args.insert(k.clone());
                        Some(v.clone())
                    }
                    None => match d {
                        Some(d) => Some(ex(d, s)?),
                        None => s.global.get(k).cloned().flatten(),
                    },
                };
                s.args.insert(k.clone(), v);
            }
            let text = ins.original.clone();
            meta(s, text, &|_| {})
        }
        Kind::Env(pairs) => {
            let mut vals = Vec::new();
            for (k, v) in pairs {
                vals.push((k.clone(), ex(v, s)?));
            }
            let text = format!(
                "ENV {}",
                vals.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            meta(s, text, &|s| {
                let set: Vec<String> = vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let env = engine::spec::replace_or_append_env(s.env(), &set);
                s.config.insert("Env".into(), json!(env));
            })
        }
        Kind::Label(pairs) => {
            let mut vals = Vec::new();
            for (k, v) in pairs {
                vals.push((ex(k, s)?, ex(v, s)?));
            }
            let text = format!(
                "LABEL {}",
                vals.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            meta(s, text, &|s| {
                let mut l = s
                    .config
                    .get("Labels")
                    .and_then(|l| l.as_object().cloned())
                    .unwrap_or_default();
                for (k, v) in &vals {
                    l.insert(k.clone(), json!(v));
                }
                s.config.insert("Labels".into(), Value::Object(l));
            })
        }
        Kind::Expose(ports) => {
            let mut list = Vec::new();
            for p in ports {
                for w in expand_words(p, &|k| s.lookup(k), esc).map_err(|e| step_err(ins, &e))? {
                    list.push(if w.contains('/') {
                        w
                    } else {
                        format!("{w}/tcp")
                    });
                }
            }
            let text = format!("EXPOSE {}", list.join(" "));
            meta(s, text, &|s| {
                let mut e = s
                    .config
                    .get("ExposedPorts")
                    .and_then(|l| l.as_object().cloned())
                    .unwrap_or_default();
                for p in &list {
                    e.insert(p.clone(), json!({}));
                }
                s.config.insert("ExposedPorts".into(), Value::Object(e));
            })
        }
        Kind::Volume(vols) => {
            let mut list = Vec::new();
            for v in vols {
                list.extend(expand_words(v, &|k| s.lookup(k), esc).map_err(|e| step_err(ins, &e))?);
            }
            let text = format!("VOLUME {list:?}");
            meta(s, text, &|s| {
                let mut e = s
                    .config
                    .get("Volumes")
                    .and_then(|l| l.as_object().cloned())
                    .unwrap_or_default();
                for p in &list {
                    e.insert(p.clone(), json!({}));
                }
                s.config.insert("Volumes".into(), Value::Object(e));
            })
        }
        Kind::User(u) => {
            let u = ex(u, s)?;
            meta(s, format!("USER {u}"), &|s| {
                s.config.insert("User".into(), json!(u));
            })
        }
        Kind::Workdir(w) => {
            let w = ex(w, s)?;
            let abs = if w.starts_with('/') {
                engine::volumes::clean(&w)
            } else {
                engine::volumes::clean(&format!("{}/{w}", s.workdir()))
            };
            meta(s, format!("WORKDIR {abs}"), &|s| {
                s.config.insert("WorkingDir".into(), json!(abs));
            })
        }
        Kind::StopSignal(sig) => {
            let sig = ex(sig, s)?;
            engine::container::signal::parse_signal(&sig)
                .map_err(|e| step_err(ins, &e.to_string()))?;
            meta(s, format!("STOPSIGNAL {sig}"), &|s| {
                s.config.insert("StopSignal".into(), json!(sig));
            })
        }
        Kind::Cmd(c) | Kind::Entrypoint(c) => {
            let shell = s.shell();
            let v: Vec<String> = match c {
                Command::Exec(v) => v.clone(),
                Command::Shell(sh) => shell.iter().cloned().chain([sh.clone()]).collect(),
            };
            let is_cmd = matches!(ins.kind, Kind::Cmd(_));
            let text = format!("{} {}", if is_cmd { "CMD" } else { "ENTRYPOINT" }, json!(v));
            meta(s, text, &|s| {
                if is_cmd {
                    s.config.insert("Cmd".into(), json!(v));
                } else {
                    s.config.insert("Entrypoint".into(), json!(v));
                    // docker: a new ENTRYPOINT resets a CMD inherited from the base image
                    s.config.insert("Cmd".into(), Value::Null);
                }
            })
        }
        Kind::Shell(v) => {
            let v = v.clone();
            meta(s, format!("SHELL {}", json!(v)), &|s| {
                s.config.insert("Shell".into(), json!(v));
            })
        }
        Kind::Healthcheck(h) => {
            let hc = match h {
                None => json!({"Test": ["NONE"]}),
                Some(h) => {
                    let mut m = json!({"Test": h.test});
                    for (k, v) in [
                        ("Interval", h.interval),
                        ("Timeout", h.timeout),
                        ("StartPeriod", h.start_period),
                        ("StartInterval", h.start_interval),
                        ("Retries", h.retries),
                    ] {
                        if let Some(v) = v {
                            m[k] = json!(v);
                        }
                    }
                    m
                }
            };
            meta(s, format!("HEALTHCHECK {hc}"), &|s| {
                s.config.insert("Healthcheck".into(), hc.clone());
            })
        }
        Kind::Onbuild(inner) => {
            let text = inner.original.clone();
            meta(s, format!("ONBUILD {text}"), &|s| {
                let mut l = s
                    .config
                    .get("OnBuild")
                    .and_then(|l| l.as_array().cloned())
                    .unwrap_or_default();
                l.push(json!(text));
                s.config.insert("OnBuild".into(), json!(l));
            })
        }
        Kind::Maintainer(m) => {
            let m = m.clone();
            meta(s, format!("MAINTAINER {m}"), &|_| {})
        }
        Kind::Run {
            cmd,
            heredocs,
            flags,
        } => {
            if let Some((f, _)) = flags.iter().find(|(f, _)| f != "network") {
                return Err(step_err(
                    ins,
                    &format!("--{f} needs BuildKit, which berth's builder does not implement"),
                ));
            }
            let argv: Vec<String> = match cmd {
                Command::Exec(v) => v.clone(),
                Command::Shell(sh) => {
                    let only_heredoc = heredocs.len() == 1
                        && sh
                            .trim()
                            .trim_start_matches("<<")
                            .trim_start_matches('-')
                            .trim_matches(['\'', '"'])
                            == heredocs[0].name;
                    let script = if only_heredoc {
                        // `RUN <<EOF`: the document is the script
                        heredocs[0].body()
                    } else {
                        // otherwise they are the shell's own here-documents
                        let mut script = sh.clone();
                        for h in heredocs {
                            script.push('\n');
                            script.push_str(&h.body());
                            script.push_str(&h.name);
                        }
                        script
                    };
                    s.shell().into_iter().chain([script]).collect()
                }
            };
            let key = cache_key(&s.id(), &format!("RUN {}", json!(argv)), &args_in_effect);
            if cached(engine, cache, s, &key, opts.no_cache, say, out) {
                return Ok(());
            }
            // build args are in the environment of RUN, not in the image
            let mut env = s.env();
            for (k, v) in &s.args {
                if let Some(v) = v {
                    if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                        env.push(format!("{k}={v}"));
                    }
                }
            }
            let c = container(engine, s, Some(argv.clone()), env)?;
            say(out, &format!(" ---> Running in {}", short(&c)));
            let code = run_attached(engine, &c, opts.quiet, out);
            fault::point("build.step-ran");
            let result = code.and_then(|code| {
                if code != 0 {
                    return Err(invalid(format!(
                        "The command '{}' returned a non-zero code: {code}",
                        argv.join(" ")
                    )));
                }
                layer_from(
                    engine,
                    s,
                    &c,
                    &format!("/bin/sh -c {}", argv.last().cloned().unwrap_or_default()),
                )
            });
            let _ = engine.remove(&c, true, true);
            say(
                out,
                &format!("Removing intermediate container {}", short(&c)),
            );
            let img = result?;
            cache.put(&key, &img.id().to_string());
            say(out, &format!(" ---> {}", short(&img.id().to_string())));
            s.image = Some(img);
            Ok(())
        }
        Kind::Copy {
            srcs,
            dest,
            from,
            chown,
            chmod,
            heredocs,
        } => copy_like(
            engine,
            ctx,
            df,
            opts,
            cache,
            s,
            ins,
            results,
            used_args,
            srcs,
            dest,
            from.as_deref(),
            chown.as_deref(),
            chmod.as_deref(),
            heredocs,
            false,
            &args_in_effect,
            say,
            out,
        ),
        Kind::Add {
            srcs,
            dest,
            chown,
            chmod,
            heredocs,
        } => copy_like(
            engine,
            ctx,
            df,
            opts,
            cache,
            s,
            ins,
            results,
            used_args,
            srcs,
            dest,
            None,
            chown.as_deref(),
            chmod.as_deref(),
            heredocs,
            true,
            &args_in_effect,
            say,
            out,
        ),
        #[allow(unreachable_patterns)]
        _ => Err(step_err(ins, "not supported")),
    }
}

#[allow(clippy::too_many_arguments)]
fn copy_like(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    cache: &Cache,
    s: &mut State,
    ins: &Instruction,
    results: &BTreeMap<usize, Option<Image>>,
    _used_args: &mut BTreeSet<String>,
    srcs: &[String],
    dest: &str,
    from: Option<&str>,
    chown: Option<&str>,
    chmod: Option<&str>,
    heredocs: &[Heredoc],
    is_add: bool,
    args_in_effect: &str,
    say: &dyn Fn(&mut dyn Write, &str),
    out: &mut dyn Write,
) -> Result<()> {
    let esc = df.escape;
    let ex = |w: &str, s: &State| -> Result<String> {
        expand(w, &|k| s.lookup(k), esc).map_err(|e| step_err(ins, &e))
    };
    {
        let dest = ex(dest, s)?;
        let chown = chown.as_ref().map(|c| ex(c, s)).transpose()?;
        let chmod = chmod
            .as_ref()
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .map_err(|_| step_err(ins, &format!("invalid chmod value {m}")))
            })
            .transpose()?;
        let mut sources = Vec::new();
        for src in srcs {
            for w in expand_words(src, &|k| s.lookup(k), esc).map_err(|e| step_err(ins, &e))? {
                sources.push(w);
            }
        }
        copy(
            engine,
            ctx,
            df,
            opts,
            cache,
            s,
            ins,
            results,
            &sources,
            &dest,
            from,
            chown.as_deref(),
            chmod,
            heredocs,
            is_add,
            args_in_effect,
            say,
            out,
        )
    }
}

/// A container of the current image (created, not started) for RUN or COPY.
fn container(
    engine: &Engine,
    s: &State,
    cmd: Option<Vec<String>>,
    env: Vec<String>,
) -> Result<String> {
    let image = match &s.image {
        Some(i) => i.id().to_string(),
        None => scratch_image(engine)?,
    };
    let cfg = Config {
        image,
        cmd: Some(cmd.unwrap_or_else(|| vec!["/bin/true".into()])),
        entrypoint: Some(vec![]),
        env,
        working_dir: s.workdir(),
        user: s
            .config
            .get("User")
            .and_then(|u| u.as_str())
            .unwrap_or("")
            .to_string(),
        ..Default::default()
    };
    let (c, _) = engine.create(CreateRequest {
        name: None,
        config: cfg,
        host_config: HostConfig::default(),
        network_aliases: vec![],
        ip: None,
    })?;
    Ok(c.id)
}

/// An empty image to start a `FROM scratch` stage's first layer from.
fn scratch_image(engine: &Engine) -> Result<String> {
    let img = derive::<std::io::Empty>(
        engine.images()?,
        None,
        None,
        Step {
            config: Map::new(),
            comment: "",
            author: "",
            created_by: "",
        },
        None,
    )?;
    Ok(img.id().to_string())
}

/// Start `id` attached and relay its output; its exit code.
fn run_attached(engine: &Engine, id: &str, quiet: bool, out: &mut dyn Write) -> Result<i64> {
    engine.start(id, true)?;
    let mut a = engine::monitor::Attach::connect(engine, id)?;
    let (code, error) = a.follow(&mut |_, d| {
        fault::point("build.mid-step");
        if !quiet {
            let _ = out.write_all(d);
            let _ = out.flush();
        }
    });
    let code = code.map(i64::from);
    if let Some(e) = error {
        return Err(invalid(e));
    }
    Ok(code.unwrap_or_else(|| {
        engine
            .store
            .get(id)
            .ok()
            .flatten()
            .map(|c| c.state.exit_code)
            .unwrap_or(1)
    }))
}

/// The container's changes as a layer on the current image.
fn layer_from(engine: &Engine, s: &State, cid: &str, created_by: &str) -> Result<Image> {
    let images = engine.images()?;
    let tmp = images.root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| invalid(format!("create {}: {e}", tmp.display())))?;
    let path = tmp.join(format!("build-layer-{cid}.tar"));
    let f = std::fs::File::create(&path)
        .map_err(|e| invalid(format!("create {}: {e}", path.display())))?;
    let r = (|| {
        let f = images.diff_snapshot(cid, std::io::BufWriter::new(f))?;
        drop(f);
        let f = std::fs::File::open(&path)
            .map_err(|e| invalid(format!("open {}: {e}", path.display())))?;
        let base = s.image.clone();
        Ok(derive(
            images,
            base.as_ref(),
            Some(std::io::BufReader::new(f)),
            Step {
                config: s.config.clone(),
                comment: "",
                author: "",
                created_by,
            },
            None,
        )?)
    })();
    let _ = std::fs::remove_file(&path);
    r
}

#[allow(clippy::too_many_arguments)]
fn copy(
    engine: &Engine,
    ctx: &Context,
    df: &Dockerfile,
    opts: &Options,
    cache: &Cache,
    s: &mut State,
    ins: &Instruction,
    results: &BTreeMap<usize, Option<Image>>,
    sources: &[String],
    dest: &str,
    from: Option<&str>,
    chown: Option<&str>,
    chmod: Option<u32>,
    heredocs: &[Heredoc],
    is_add: bool,
    args_in_effect: &str,
    say: &dyn Fn(&mut dyn Write, &str),
    out: &mut dyn Write,
) -> Result<()> {
    let what = if is_add { "ADD" } else { "COPY" };
    for src in sources {
        if is_add && (src.starts_with("http://") || src.starts_with("https://")) {
            return Err(invalid(format!(
                "ADD failed: failed to GET {src}: berth builds offline and cannot download URLs (fetch the file into the build context and ADD it from there)"
            )));
        }
    }
    // where the files come from: the context, another stage, or an image
    let mut from_container: Option<String> = None;
    let mut hash_part = String::new();
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut from_nodes: Vec<(String, Node)> = Vec::new();
    if let Some(f) = from {
        let img_id = match df.stage_index(f) {
            Some(j) => match results.get(&j) {
                Some(Some(i)) => i.id().to_string(),
                Some(None) => scratch_image(engine)?,
                None => {
                    return Err(step_err(
                        ins,
                        &format!("stage {f} is not built before this one"),
                    ))
                }
            },
            None => engine
                .images()?
                .get(f)
                .map_err(|_| {
                    step_err(
                        ins,
                        &format!(
                            "invalid from flag value {f}: no such image (berth builds offline)"
                        ),
                    )
                })?
                .id()
                .to_string(),
        };
        let tmp = State {
            image: Some(engine.images()?.get(&img_id)?),
            config: Map::new(),
            args: BTreeMap::new(),
            global: BTreeMap::new(),
        };
        let c = container(engine, &tmp, None, vec![])?;
        let root = std::path::PathBuf::from(
            engine
                .store
                .get(&c)?
                .map(|c| c.internal.rootfs)
                .unwrap_or_default(),
        );
        from_container = Some(c);
        hash_part.push_str(&img_id);
        // resolved and opened inside the stage's rootfs, read by fds
        let src_root = image::rootfd::Root::open(&root);
        for src in sources {
            let Some(r) = src_root
                .as_ref()
                .ok()
                .and_then(|sr| engine::container::archive::resolve_path(sr, src).ok())
            else {
                if let Some(c) = &from_container {
                    let _ = engine.remove(c, true, true);
                }
                return Err(invalid(format!(
                    "{what} failed: stat {src}: file does not exist"
                )));
            };
            from_nodes.push((src.trim_start_matches('/').to_string(), r.node));
        }
    } else {
        for src in sources {
            files.extend(ctx.resolve(src)?);
        }
        hash_part.push_str(&ctx.hash(&files));
    }
    for h in heredocs {
        hash_part.push_str(&h.name);
        hash_part.push_str(&h.content);
    }
    let key = cache_key(
        &s.id(),
        &format!("{what} {:?} {dest} {chown:?} {chmod:?}", sources),
        &format!("{hash_part}\n{args_in_effect}"),
    );
    let cleanup_from = |engine: &Engine| {
        if let Some(c) = &from_container {
            let _ = engine.remove(c, true, true);
        }
    };
    if cached(engine, cache, s, &key, opts.no_cache, say, out) {
        cleanup_from(engine);
        return Ok(());
    }
    let c = match container(engine, s, None, vec![]) {
        Ok(c) => c,
        Err(e) => {
            cleanup_from(engine);
            return Err(e);
        }
    };
    let result = (|| -> Result<Image> {
        let root = std::path::PathBuf::from(
            engine
                .store
                .get(&c)?
                .map(|c| c.internal.rootfs)
                .unwrap_or_default(),
        );
        let (uid, gid) = match chown {
            Some(u) => {
                let (u, g, _) = engine::spec::resolve_user(&root, u, &[])?;
                (u as u64, g as u64)
            }
            None => (0, 0),
        };
        let abs = if dest.starts_with('/') {
            dest.to_string()
        } else {
            format!("{}/{dest}", s.workdir())
        };
        let dest_root = image::rootfd::Root::open(&root)
            .map_err(|e| invalid(format!("{what}: open {}: {e}", root.display())))?;
        let dest_dir_like = dest.ends_with('/')
            || dest == "."
            || files.len() + from_nodes.len() + heredocs.len() > 1
            || files.iter().any(|(rel, _)| rel.contains(['*', '?']))
            || dest_root.node(&abs, true).is_ok_and(|n| n.is_dir());
        let abs = engine::volumes::clean(&abs);
        let mut tarbuf: Vec<u8> = Vec::new();
        {
            let mut b = tar::Builder::new(&mut tarbuf);
            let mut made: BTreeSet<String> = BTreeSet::new();
            let mut add_parents =
                |b: &mut tar::Builder<&mut Vec<u8>>, path: &str, own: bool| -> Result<()> {
                    let mut cur = String::new();
                    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
                    for (i, p) in parts.iter().enumerate() {
                        cur = format!("{cur}/{p}");
                        if made.contains(&cur) {
                            continue;
                        }
                        let exists = dest_root.node(&cur, true).is_ok();
                        if !exists {
                            let mut h = tar::Header::new_gnu();
                            h.set_entry_type(tar::EntryType::Directory);
                            h.set_mode(0o755);
                            let last = i + 1 == parts.len();
                            let (u, g) = if own && last { (uid, gid) } else { (0, 0) };
                            h.set_uid(u);
                            h.set_gid(g);
                            h.set_size(0);
                            h.set_mtime(0);
                            h.set_cksum();
                            b.append_data(&mut h, cur.trim_start_matches('/'), std::io::empty())
                                .map_err(|e| invalid(format!("{what}: {e}")))?;
                        }
                        made.insert(cur.clone());
                    }
                    Ok(())
                };
            let append_file =
                |b: &mut tar::Builder<&mut Vec<u8>>, node: &Node, name: &str| -> Result<()> {
                    let md = &node.md;
                    let mut h = tar::Header::new_gnu();
                    h.set_metadata(md);
                    h.set_uid(uid);
                    h.set_gid(gid);
                    h.set_username("").ok();
                    h.set_groupname("").ok();
                    if let Some(m) = chmod {
                        h.set_mode(m);
                    }
                    let name = name.trim_start_matches('/');
                    if md.is_dir() {
                        h.set_size(0);
                        h.set_cksum();
                        b.append_data(&mut h, name, std::io::empty())
                    } else if md.file_type().is_symlink() {
                        let t = node
                            .read_link()
                            .map_err(|e| invalid(format!("{what}: {name}: {e}")))?;
                        h.set_size(0);
                        b.append_link(&mut h, name, t)
                    } else if md.is_file() {
                        let f = node
                            .open_file()
                            .map_err(|e| invalid(format!("{what}: {name}: {e}")))?;
                        h.set_cksum();
                        b.append_data(&mut h, name, std::io::Read::take(f, md.len()))
                    } else {
                        Ok(())
                    }
                    .map_err(|e| invalid(format!("{what}: {e}")))
                };
            if dest_dir_like {
                add_parents(&mut b, &abs, true)?;
            } else if let Some((parent, _)) = abs.rsplit_once('/') {
                add_parents(&mut b, parent, false)?;
            }
            // every source as a node (the context's by its host path, the user's own files;
            // another stage's resolved in its root), read by fds
            let mut srcs: Vec<(String, Node, Option<&std::path::Path>)> = Vec::new();
            for (rel, host) in &files {
                let n = Node::open_host(host)
                    .map_err(|e| invalid(format!("{what}: {}: {e}", host.display())))?;
                srcs.push((rel.clone(), n, Some(host.as_path())));
            }
            srcs.extend(from_nodes.drain(..).map(|(rel, n)| (rel, n, None)));
            for (rel, node, host) in &srcs {
                if node.is_dir() {
                    // a directory source: its content goes into the destination
                    let mut entries: Vec<(String, Node)> = Vec::new();
                    match host {
                        None => walk_all(node, "", &mut entries),
                        Some(host) => {
                            let mut paths = Vec::new();
                            ctx.walk(host, rel, &mut |r, p| {
                                let sub = r
                                    .strip_prefix(rel.as_str())
                                    .unwrap_or(r)
                                    .trim_start_matches('/')
                                    .to_string();
                                paths.push((sub, p.to_path_buf()));
                            });
                            for (sub, p) in paths {
                                let n = Node::open_host(&p).map_err(|e| {
                                    invalid(format!("{what}: {}: {e}", p.display()))
                                })?;
                                entries.push((sub, n));
                            }
                        }
                    }
                    add_parents(&mut b, &abs, true)?;
                    for (sub, n) in entries {
                        append_file(&mut b, &n, &format!("{abs}/{sub}"))?;
                    }
                } else if let Some(host) = host.filter(|h| is_add && is_archive(h)) {
                    // ADD of a local archive: its content is extracted into the destination
                    add_parents(&mut b, &abs, true)?;
                    let f = std::fs::File::open(host).map_err(|e| invalid(format!("ADD: {e}")))?;
                    let r =
                        image::layer::decompress(f).map_err(|e| invalid(format!("ADD: {e}")))?;
                    let mut a = tar::Archive::new(r);
                    for e in a.entries().map_err(|e| invalid(format!("ADD: {e}")))? {
                        let mut e = e.map_err(|e| invalid(format!("ADD: {e}")))?;
                        let name = e
                            .path()
                            .map_err(|e| invalid(format!("ADD: {e}")))?
                            .to_string_lossy()
                            .into_owned();
                        let mut h = e.header().clone();
                        let target = format!(
                            "{}/{}",
                            abs.trim_end_matches('/'),
                            name.trim_start_matches("./")
                        );
                        if let Ok(Some(l)) = e.link_name() {
                            let l = l.into_owned();
                            b.append_link(&mut h, target.trim_start_matches('/'), l)
                                .map_err(|e| invalid(format!("ADD: {e}")))?;
                        } else {
                            b.append_data(&mut h, target.trim_start_matches('/'), &mut e)
                                .map_err(|e| invalid(format!("ADD: {e}")))?;
                        }
                    }
                } else {
                    let base = std::path::Path::new(rel)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let target = if dest_dir_like {
                        format!("{}/{base}", abs.trim_end_matches('/'))
                    } else {
                        abs.clone()
                    };
                    append_file(&mut b, node, &target)?;
                }
            }
            for h in heredocs {
                let content = if h.expand {
                    expand(&h.body(), &|k| s.lookup(k), df.escape).unwrap_or_else(|_| h.body())
                } else {
                    h.body()
                };
                let target = if dest_dir_like {
                    format!("{}/{}", abs.trim_end_matches('/'), h.name)
                } else {
                    abs.clone()
                };
                let mut hd = tar::Header::new_gnu();
                hd.set_entry_type(tar::EntryType::Regular);
                hd.set_mode(chmod.unwrap_or(0o644));
                hd.set_uid(uid);
                hd.set_gid(gid);
                hd.set_size(content.len() as u64);
                hd.set_mtime(0);
                hd.set_cksum();
                b.append_data(&mut hd, target.trim_start_matches('/'), content.as_bytes())
                    .map_err(|e| invalid(format!("{what}: {e}")))?;
            }
            b.finish().map_err(|e| invalid(format!("{what}: {e}")))?;
        }
        engine.archive_put(&c, "/", std::io::Cursor::new(tarbuf), true)?;
        layer_from(
            engine,
            s,
            &c,
            &format!(
                "/bin/sh -c #(nop) {} {}",
                what,
                ins.original.split_once(' ').map(|x| x.1).unwrap_or("")
            ),
        )
    })();
    let _ = engine.remove(&c, true, true);
    cleanup_from(engine);
    let img = result?;
    cache.put(&key, &img.id().to_string());
    say(out, &format!(" ---> {}", short(&img.id().to_string())));
    s.image = Some(img);
    Ok(())
}

/// Everything below `dir` (not following symlinks), by fds, with paths relative to it.
fn walk_all(dir: &Node, rel: &str, out: &mut Vec<(String, Node)>) {
    let Ok(names) = dir.names() else {
        return;
    };
    for name in names {
        let Ok(n) = dir.child(&name) else {
            continue;
        };
        let name = String::from_utf8_lossy(&name);
        let r = if rel.is_empty() {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        let mut below = Vec::new();
        if n.is_dir() {
            walk_all(&n, &r, &mut below);
        }
        out.push((r, n));
        out.append(&mut below);
    }
}

/// A tar archive, possibly compressed (ADD extracts those).
fn is_archive(p: &std::path::Path) -> bool {
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let mut head = [0u8; 512];
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    let h = &head[..n];
    h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(b"BZh")
        || h.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &h[257..262] == b"ustar")
}

/// docker's HumanSize for the context size line.
pub(crate) fn human(n: u64) -> String {
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
