//! The metadata instructions: each is a [`Change`] of the stage's config, with the text its
//! cache key and history line are made of.

use super::state::State;
use super::{step_err, Builder};
use crate::expand::{expand, expand_words};
use crate::parser::{Command, Health, Instruction, Kind};
use engine::Result;
use serde_json::{json, Value};

/// What a metadata instruction does to the config.
pub(super) struct Change {
    /// the instruction with its arguments expanded
    pub(super) text: String,
    pub(super) apply: Box<dyn FnOnce(&mut State)>,
}

impl Change {
    fn new(text: String, apply: impl FnOnce(&mut State) + 'static) -> Change {
        Change {
            text,
            apply: Box::new(apply),
        }
    }
}

/// `k=v` pairs as ENV and LABEL print them.
fn pairs_text(keyword: &str, vals: &[(String, String)]) -> String {
    let list: Vec<String> = vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{keyword} {}", list.join(" "))
}

/// Adds each of `keys` to the config's object `field` (`ExposedPorts`, `Volumes`).
fn add_keys(s: &mut State, field: &str, keys: &[String]) {
    let mut e = s.object(field);
    for p in keys {
        e.insert(p.clone(), json!({}));
    }
    s.config.insert(field.into(), Value::Object(e));
}

fn healthcheck(h: &Option<Health>) -> Value {
    let Some(h) = h else {
        return json!({"Test": ["NONE"]});
    };
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

impl Builder<'_> {
    /// A word of `ins` with the stage's variables expanded.
    pub(super) fn ex(&self, ins: &Instruction, w: &str) -> Result<String> {
        expand(w, &|k| self.stage.lookup(k), self.df.escape).map_err(|e| step_err(ins, &e))
    }

    /// Words of `ins` with the stage's variables expanded (one may become several).
    pub(super) fn ex_words(&self, ins: &Instruction, w: &str) -> Result<Vec<String>> {
        expand_words(w, &|k| self.stage.lookup(k), self.df.escape).map_err(|e| step_err(ins, &e))
    }

    /// The change a metadata instruction makes (ARG's values are set right away).
    pub(super) fn metadata(&mut self, ins: &Instruction) -> Result<Change> {
        Ok(match &ins.kind {
            Kind::Arg(list) => {
                for (k, d) in list {
                    let v = match (self.take_build_arg(k), d) {
                        (Some(v), _) => Some(v),
                        (None, Some(d)) => Some(self.ex(ins, d)?),
                        (None, None) => self.stage.global.get(k).cloned().flatten(),
                    };
                    self.stage.args.insert(k.clone(), v);
                }
                Change::new(ins.original.clone(), |_| {})
            }
            Kind::Env(pairs) => self.env(ins, pairs)?,
            Kind::Label(pairs) => self.label(ins, pairs)?,
            Kind::Expose(ports) => {
                let mut list = Vec::new();
                for p in ports {
                    for w in self.ex_words(ins, p)? {
                        list.push(if w.contains('/') {
                            w
                        } else {
                            format!("{w}/tcp")
                        });
                    }
                }
                Change::new(format!("EXPOSE {}", list.join(" ")), move |s| {
                    add_keys(s, "ExposedPorts", &list)
                })
            }
            Kind::Volume(vols) => {
                let mut list = Vec::new();
                for v in vols {
                    list.extend(self.ex_words(ins, v)?);
                }
                Change::new(format!("VOLUME {list:?}"), move |s| {
                    add_keys(s, "Volumes", &list)
                })
            }
            Kind::User(u) => {
                let u = self.ex(ins, u)?;
                Change::new(format!("USER {u}"), move |s| {
                    s.config.insert("User".into(), json!(u));
                })
            }
            Kind::Workdir(w) => self.workdir(ins, w)?,
            Kind::StopSignal(sig) => {
                let sig = self.ex(ins, sig)?;
                engine::container::signal::parse_signal(&sig)
                    .map_err(|e| step_err(ins, &e.to_string()))?;
                Change::new(format!("STOPSIGNAL {sig}"), move |s| {
                    s.config.insert("StopSignal".into(), json!(sig));
                })
            }
            Kind::Cmd(c) | Kind::Entrypoint(c) => self.cmd_or_entrypoint(ins, c),
            Kind::Shell(v) => {
                let v = v.clone();
                Change::new(format!("SHELL {}", json!(v)), move |s| {
                    s.config.insert("Shell".into(), json!(v));
                })
            }
            Kind::Healthcheck(h) => {
                let hc = healthcheck(h);
                Change::new(format!("HEALTHCHECK {hc}"), move |s| {
                    s.config.insert("Healthcheck".into(), hc);
                })
            }
            Kind::Onbuild(inner) => {
                let text = inner.original.clone();
                Change::new(format!("ONBUILD {text}"), move |s| {
                    let mut l = s
                        .config
                        .get("OnBuild")
                        .and_then(|l| l.as_array().cloned())
                        .unwrap_or_default();
                    l.push(json!(text));
                    s.config.insert("OnBuild".into(), json!(l));
                })
            }
            Kind::Maintainer(m) => Change::new(format!("MAINTAINER {m}"), |_| {}),
            #[allow(unreachable_patterns)]
            _ => return Err(step_err(ins, "not supported")),
        })
    }

    fn env(&self, ins: &Instruction, pairs: &[(String, String)]) -> Result<Change> {
        let mut vals = Vec::new();
        for (k, v) in pairs {
            vals.push((k.clone(), self.ex(ins, v)?));
        }
        Ok(Change::new(pairs_text("ENV", &vals), move |s| {
            let set: Vec<String> = vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let env = engine::spec::replace_or_append_env(s.env(), &set);
            s.config.insert("Env".into(), json!(env));
        }))
    }

    fn label(&self, ins: &Instruction, pairs: &[(String, String)]) -> Result<Change> {
        let mut vals = Vec::new();
        for (k, v) in pairs {
            vals.push((self.ex(ins, k)?, self.ex(ins, v)?));
        }
        Ok(Change::new(pairs_text("LABEL", &vals), move |s| {
            let mut l = s.object("Labels");
            for (k, v) in &vals {
                l.insert(k.clone(), json!(v));
            }
            s.config.insert("Labels".into(), Value::Object(l));
        }))
    }

    fn workdir(&self, ins: &Instruction, w: &str) -> Result<Change> {
        let w = self.ex(ins, w)?;
        let abs = if w.starts_with('/') {
            engine::volumes::clean(&w)
        } else {
            engine::volumes::clean(&format!("{}/{w}", self.stage.workdir()))
        };
        Ok(Change::new(format!("WORKDIR {abs}"), move |s| {
            s.config.insert("WorkingDir".into(), json!(abs));
        }))
    }

    fn cmd_or_entrypoint(&self, ins: &Instruction, c: &Command) -> Change {
        let v: Vec<String> = match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(sh) => self.stage.shell().into_iter().chain([sh.clone()]).collect(),
        };
        let is_cmd = matches!(ins.kind, Kind::Cmd(_));
        let text = format!("{} {}", if is_cmd { "CMD" } else { "ENTRYPOINT" }, json!(v));
        Change::new(text, move |s| {
            if is_cmd {
                s.config.insert("Cmd".into(), json!(v));
            } else {
                s.config.insert("Entrypoint".into(), json!(v));
                // docker: a new ENTRYPOINT resets a CMD inherited from the base image
                s.config.insert("Cmd".into(), Value::Null);
            }
        })
    }
}
