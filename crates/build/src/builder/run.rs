//! RUN, and the containers and layers every step that changes files works with.

use super::cache::cache_key;
use super::mounts::StepMounts;
use super::progress::Report;
use super::state::State;
use super::{invalid, short, step_err, Builder, Options};
use crate::parser::{run_flags, Command, Heredoc, Instruction, RunFlags, RunNetwork};
use engine::container::create::CreateRequest;
use engine::engine::Engine;
use engine::types::{Config, HostConfig};
use engine::Result;
use image::archive::{derive, derive_stored, NewLayer, Step};
use image::snapshot::SnapshotKind;
use image::Image;
use serde_json::{json, Map};
use std::path::PathBuf;

impl Builder<'_> {
    /// The argv of a RUN: exec form as is; shell form through the stage's shell, with its
    /// here-documents.
    fn run_argv(&self, cmd: &Command, heredocs: &[Heredoc]) -> Vec<String> {
        let sh = match cmd {
            Command::Exec(v) => return v.clone(),
            Command::Shell(sh) => sh,
        };
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
        self.stage.shell().into_iter().chain([script]).collect()
    }

    /// RUN: a container of the current image runs the command; its changes are the layer.
    /// BuildKit's flags: `--mount`s (never in the layer), `--network`, `--security`.
    pub(super) fn run(
        &mut self,
        ins: &Instruction,
        cmd: &Command,
        heredocs: &[Heredoc],
        flags: &[(String, String)],
        args: &str,
    ) -> Result<()> {
        let mut expanded = Vec::new();
        for (k, v) in flags {
            expanded.push((k.clone(), self.ex(ins, v)?));
        }
        let flags = run_flags(&expanded).map_err(|e| step_err(ins, &e))?;
        let host = self.step_host(ins, &flags)?;
        let argv = self.run_argv(cmd, heredocs);
        let engine = self.engine;
        // the step's container first: its mounts are resolved against its rootfs
        let mut env = self.stage.env();
        // build args are in the environment of RUN, not in the image
        for (k, v) in &self.stage.args {
            if let Some(v) = v {
                if !env.iter().any(|e| e.split('=').next() == Some(k)) {
                    env.push(format!("{k}={v}"));
                }
            }
        }
        let mut mounts = match flags.mounts.is_empty() {
            true => StepMounts::default(),
            false => self.step_mounts(ins, &flags.mounts, &self.stage.workdir())?,
        };
        let text = match (flags.network, flags.insecure) {
            (RunNetwork::Default, false) => format!("RUN {}", json!(argv)),
            (n, i) => format!("RUN {} {n:?} {i:?}", json!(argv)),
        };
        let key = cache_key(&self.stage.id(), &text, &format!("{}{args}", mounts.key));
        if self.cached(&key) {
            mounts.release(engine);
            return Ok(());
        }
        if let Err(e) = self.fill_binds(ins, &mut mounts) {
            mounts.release(engine);
            return Err(e);
        }
        let mut host = host;
        host.mounts = mounts.specs.clone();
        env.extend(mounts.env.iter().cloned());
        // as dockerd: the container of a step that worked goes unless `rm=0`, the one of a
        // step that failed stays unless `forcerm`; gone before the build answers
        let goes_if_ok = !self.opts.keep_containers || self.opts.force_rm;
        let c = match container(
            engine,
            &self.stage,
            host,
            Some(argv.clone()),
            env,
            goes_if_ok,
        ) {
            Ok(c) => c,
            Err(e) => {
                mounts.release(engine);
                return Err(e);
            }
        };
        mounts.find_stubs(&rootfs_of(engine, &c));
        self.report
            .container(&format!(" ---> Running in {}", short(&c)));
        let code = run_attached(engine, &c, &mut self.report);
        fault::point("build.step-ran");
        let result = code.and_then(|code| {
            if code != 0 {
                return Err(invalid(format!(
                    "The command '{}' returned a non-zero code: {code}",
                    argv.join(" ")
                )));
            }
            if mounts.has_stubs() {
                let (dir, upper) = changes_dir(engine, &c)?;
                mounts.remove_stubs(&dir, upper);
            }
            layer_from(
                engine,
                &self.stage,
                &c,
                &format!("/bin/sh -c {}", argv.last().cloned().unwrap_or_default()),
                goes_if_ok,
            )
        });
        let remove = if result.is_ok() {
            goes_if_ok
        } else {
            self.opts.force_rm
        };
        if remove && result.is_ok() {
            self.reaper.remove(engine, c.clone());
        } else if remove {
            let _ = engine.remove(&c, true, true);
        } else if goes_if_ok {
            // made for a container that was to go, it stays: its layer must mount again
            if let Ok(images) = engine.images() {
                let _ = images.snapshots.make_durable(&c);
            }
        }
        mounts.release(engine);
        if remove {
            self.report
                .container(&format!("Removing intermediate container {}", short(&c)));
        }
        let img = result?;
        self.done(&key, img);
        // the step is in the cache; its container's removal may be under way
        fault::point("build.step-committed");
        Ok(())
    }

    /// The host side of a RUN step: the build's network unless the step names one, and
    /// privileges only with the entitlement the build was allowed.
    fn step_host(&self, ins: &Instruction, flags: &RunFlags) -> Result<HostConfig> {
        let mut host = base_host(self.opts);
        let allowed = |e: &str| self.opts.allow.iter().any(|a| a == e);
        match flags.network {
            RunNetwork::Default => {}
            RunNetwork::None => host.network_mode = "none".into(),
            RunNetwork::Host if allowed("network.host") => host.network_mode = "host".into(),
            RunNetwork::Host => {
                return Err(step_err(
                    ins,
                    "network.host is not allowed: give the build --allow network.host",
                ))
            }
        }
        if flags.insecure {
            if !allowed("security.insecure") {
                return Err(step_err(
                    ins,
                    "security.insecure is not allowed: give the build --allow security.insecure",
                ));
            }
            host.privileged = true;
        }
        Ok(host)
    }
}

/// The HostConfig every build container starts from (the build's `--network`, `--add-host`,
/// and its RUN-step limits: `--memory`, `--cpu-*`, `--cgroup-parent`, `--ulimit`...).
pub(super) fn base_host(opts: &Options) -> HostConfig {
    HostConfig {
        network_mode: opts.network_mode.clone(),
        extra_hosts: opts.extra_hosts.clone(),
        ..opts.run_host_config.clone()
    }
}

/// Where the changes of stopped container `id` are: its overlay's upper dir (not mounted again:
/// a step's overlay is `volatile`, mounted once), or its copied rootfs; whether it is an upper dir.
fn changes_dir(engine: &Engine, id: &str) -> Result<(PathBuf, bool)> {
    let images = engine.images()?;
    Ok(match images.snapshot_kind(id)?.1 {
        SnapshotKind::Overlay => (images.snapshots.upper_dir(id), true),
        kind => (images.snapshots.rootfs(id, kind), false),
    })
}

/// The rootfs path of container `id` (mounted while it exists).
fn rootfs_of(engine: &Engine, id: &str) -> PathBuf {
    PathBuf::from(
        engine
            .store
            .get(id)
            .ok()
            .flatten()
            .map(|c| c.internal.rootfs)
            .unwrap_or_default(),
    )
}

/// A container of the stage's image (created, not started) for RUN or COPY; `throwaway`: it
/// goes once its layer is committed (no syncs for its layer).
pub(super) fn container(
    engine: &Engine,
    s: &State,
    host_config: HostConfig,
    cmd: Option<Vec<String>>,
    env: Vec<String>,
    throwaway: bool,
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
        host_config,
        network_aliases: vec![],
        ip: None,
        throwaway_layer: throwaway,
        ..Default::default()
    })?;
    Ok(c.id)
}

/// An empty image to start a `FROM scratch` stage's first layer from.
pub(super) fn scratch_image(engine: &Engine) -> Result<String> {
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
fn run_attached(engine: &Engine, id: &str, report: &mut Report) -> Result<i64> {
    engine.start(id, true)?;
    let mut a = engine::monitor::Attach::connect(engine, id)?;
    let (code, error) = a.follow(&mut |kind, d| {
        fault::point("build.mid-step");
        report.output(kind == engine::monitor::STDERR, d);
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

/// The container's changes as a layer on the stage's image: the layer tar goes straight into
/// the content store, hashed as it is written; `going` (the container is removed next) lets its
/// upper dir become the layer's unpacked dir instead of unpacking the tar again. A stage that
/// may keep its layers without blobs (see `image::kept`) makes no tar at all.
pub(super) fn layer_from(
    engine: &Engine,
    s: &State,
    cid: &str,
    created_by: &str,
    going: bool,
) -> Result<Image> {
    let images = engine.images()?;
    let kept = match s.keep_layers && going {
        true => images.keep_snapshot_layer(cid)?,
        false => None,
    };
    let layer = match kept {
        Some(l) => NewLayer::kept(l),
        None => NewLayer::stored(images.commit_snapshot_layer(cid, going)?),
    };
    fault::mark("build.layer-stored");
    Ok(derive_stored(
        images,
        s.image.as_ref(),
        Some(layer),
        Step {
            config: s.config.clone(),
            comment: "",
            author: "",
            created_by,
        },
        None,
    )?)
}
