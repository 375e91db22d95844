//! `--change` instructions (`berth import --change`, `commit --change`, the API's `changes`):
//! Dockerfile instructions applied to an image config's `config` object.

use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

/// The map under `key` of a config, created when absent or null; `None` when it is something
/// else (the config comes from an image or a client: indexing it as a map would panic).
fn object_entry<'a>(
    cfg: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let v = cfg.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
}

/// The list under `key`, created when absent or null; `None` when it is something else.
fn list_entry<'a>(cfg: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let v = cfg.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = json!([]);
    }
    v.as_array_mut()
}

/// Apply one `--change` instruction (Dockerfile syntax) to a config's `config`.
pub fn apply_change(cfg: &mut Map<String, Value>, change: &str) -> Result<()> {
    let bad = |reason: &str| Error::InvalidChange {
        change: change.to_string(),
        reason: reason.to_string(),
    };
    let change = change.trim();
    let (word, rest) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let rest = rest.trim();
    let json_or_shell = |rest: &str| -> Result<Value> {
        if rest.starts_with('[') {
            let v: Vec<String> =
                serde_json::from_str(rest).map_err(|_| bad("expected a JSON array of strings"))?;
            Ok(json!(v))
        } else {
            Ok(json!(["/bin/sh", "-c", rest]))
        }
    };
    match word.to_ascii_uppercase().as_str() {
        "CMD" => {
            cfg.insert("Cmd".into(), json_or_shell(rest)?);
        }
        "ENTRYPOINT" => {
            cfg.insert("Entrypoint".into(), json_or_shell(rest)?);
        }
        "ENV" => {
            let pairs: Vec<(String, String)> = if rest.contains('=') {
                rest.split_whitespace()
                    .map(|kv| {
                        let (k, v) = kv
                            .split_once('=')
                            .ok_or_else(|| bad("expected KEY=VALUE"))?;
                        Ok((k.to_string(), v.trim_matches('"').to_string()))
                    })
                    .collect::<Result<_>>()?
            } else {
                let (k, v) = rest
                    .split_once(char::is_whitespace)
                    .ok_or_else(|| bad("expected KEY VALUE"))?;
                vec![(k.to_string(), v.trim().to_string())]
            };
            let arr = list_entry(cfg, "Env").ok_or_else(|| bad("Env is not a list"))?;
            for (k, v) in pairs {
                arr.retain(|e| {
                    e.as_str().and_then(|s| s.split_once('=')).map(|(ek, _)| ek) != Some(k.as_str())
                });
                arr.push(json!(format!("{k}={v}")));
            }
        }
        "WORKDIR" => {
            cfg.insert("WorkingDir".into(), json!(rest));
        }
        "USER" => {
            cfg.insert("User".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            cfg.insert("StopSignal".into(), json!(rest));
        }
        "EXPOSE" => {
            let ports = object_entry(cfg, "ExposedPorts")
                .ok_or_else(|| bad("ExposedPorts is not a map"))?;
            for p in rest.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_string()
                } else {
                    format!("{p}/tcp")
                };
                ports.insert(p, json!({}));
            }
        }
        "VOLUME" => {
            let vols: Vec<String> = if rest.starts_with('[') {
                serde_json::from_str(rest).map_err(|_| bad("expected a JSON array of strings"))?
            } else {
                rest.split_whitespace().map(str::to_string).collect()
            };
            let v = object_entry(cfg, "Volumes").ok_or_else(|| bad("Volumes is not a map"))?;
            for p in vols {
                v.insert(p, json!({}));
            }
        }
        "LABEL" => {
            let l = object_entry(cfg, "Labels").ok_or_else(|| bad("Labels is not a map"))?;
            for kv in rest.split_whitespace() {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| bad("expected KEY=VALUE"))?;
                l.insert(k.trim_matches('"').to_string(), json!(v.trim_matches('"')));
            }
        }
        "" => return Err(bad("empty instruction")),
        other => {
            return Err(bad(&format!(
                "instruction {other} is not supported by import"
            )))
        }
    }
    if rest.is_empty() {
        return Err(bad("missing arguments"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// Found by fuzz/fuzz_targets/image_json.rs: a config whose ExposedPorts, Volumes or
    /// Labels is not a map (an image's config, a `POST /commit` body) made `--change`
    /// panic on `map[key] = ...`.
    #[test]
    fn change_on_a_config_of_the_wrong_shape_is_an_error() {
        for (key, change) in [
            ("ExposedPorts", "EXPOSE 80"),
            ("Volumes", "VOLUME /data"),
            ("Labels", "LABEL a=b"),
            ("Env", "ENV A=1"),
        ] {
            let other = if key == "Env" {
                json!({"a": 1})
            } else {
                json!([1])
            };
            for wrong in [other, json!("x"), json!(7)] {
                let mut c = Map::new();
                c.insert(key.to_string(), wrong.clone());
                let e = match apply_change(&mut c, change) {
                    Ok(()) => panic!("{change} on {key}={wrong} accepted: {c:?}"),
                    Err(e) => e.to_string(),
                };
                assert!(e.contains(key), "{change} on {key}={wrong}: {e}");
            }
        }
    }

    #[test]
    fn change_on_null_or_absent_fields_creates_them() {
        for start in [
            json!({}),
            json!({"ExposedPorts": null, "Volumes": null, "Labels": null, "Env": null}),
        ] {
            let mut c = cfg(start);
            for ch in ["EXPOSE 80 53/udp", "VOLUME /data", "LABEL a=b", "ENV A=1"] {
                apply_change(&mut c, ch).unwrap();
            }
            assert_eq!(
                Value::Object(c),
                json!({
                    "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
                    "Volumes": {"/data": {}},
                    "Labels": {"a": "b"},
                    "Env": ["A=1"],
                })
            );
        }
    }
}
