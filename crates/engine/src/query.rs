//! Listing containers as `docker ps` and `GET /containers/json` do: which containers a set of
//! filters selects (same key OR-ed, different keys AND-ed), and the list entry's API shape.

use crate::error::{Error, Result};
use crate::types::Container;
use crate::types::Status;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `busybox` → `busybox:latest`, as docker prints and compares references.
pub fn qualified(image: &str) -> String {
    match image::Reference::parse(image) {
        Ok(r) => r.familiar(),
        Err(_) => image.to_string(),
    }
}

/// Does container `c` pass filter `k=v`?
pub fn matches(c: &Container, k: &str, v: &str) -> Result<bool> {
    Ok(match k {
        "id" => c.id.starts_with(v),
        "name" => c.short_name().contains(v.trim_start_matches('/')),
        "label" => match v.split_once('=') {
            Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
            None => c.config.labels.contains_key(v),
        },
        "status" => {
            let want: Status = v
                .parse()
                .map_err(|()| Error::Invalid(format!("invalid filter 'status={v}'")))?;
            c.state.status == want
        }
        "exited" => c.state.status == Status::Exited && c.state.exit_code.to_string() == v,
        "ancestor" => {
            c.internal.image_ref == v
                || c.config.image == v
                || c.image
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
                || qualified(&c.internal.image_ref) == qualified(v)
        }
        "volume" => c
            .mounts
            .iter()
            .any(|m| m.name == v || m.destination == v || m.source == v),
        "health" => {
            c.state
                .health
                .as_ref()
                .map(|h| h.status.as_str())
                .unwrap_or("none")
                == v
        }
        "network" => {
            c.host_config.network_mode == v
                || c.network_settings
                    .get("Networks")
                    .and_then(|n| n.as_object())
                    .is_some_and(|n| n.contains_key(v))
        }
        "is-task" => v == "false",
        _ => return Err(Error::Invalid(format!("invalid filter '{k}'"))),
    })
}

/// The containers `ps` shows: running ones unless `all` (or a status filter is given), those
/// passing every filter key (values of one key OR-ed, except labels, which must all match),
/// newest first as the store lists them.
pub fn select(
    list: Vec<Container>,
    all: bool,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Container>> {
    let status_filter = filters.contains_key("status") || filters.contains_key("exited");
    let mut keep = Vec::new();
    for c in list {
        if !all
            && !status_filter
            && !matches!(
                c.state.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        {
            continue;
        }
        let mut ok = true;
        for (k, vs) in filters {
            let mut hits = 0;
            for v in vs {
                if matches(&c, k, v)? {
                    hits += 1;
                }
            }
            // labels must all match (docker's rule: compose selects its containers by several);
            // other keys any
            ok &= if k == "label" {
                hits == vs.len()
            } else {
                hits > 0 || vs.is_empty()
            };
        }
        if ok {
            keep.push(c);
        }
    }
    Ok(keep)
}

/// Parse `k=v` filter flags into the map `select` takes.
pub fn parse_filter_flags(flags: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("invalid filter '{f}'")))?;
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(m)
}

/// The command as dockerd lists it: path and args joined, args with a space in single quotes.
pub fn command_line(c: &Container) -> String {
    let mut cmd = c.path.clone();
    for a in &c.args {
        cmd.push(' ');
        if a.contains(' ') {
            cmd.push('\'');
            cmd.push_str(a);
            cmd.push('\'');
        } else {
            cmd.push_str(a);
        }
    }
    cmd
}

/// An entry of `GET /containers/json`.
pub fn summary(c: &Container) -> Value {
    let live = c.state.status.has_process();
    let mut ports = Vec::new();
    if let Some(m) = c
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
        .filter(|_| live)
    {
        for (p, bs) in m {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let private: u16 = port.parse().unwrap_or(0);
            let bs = bs.as_array().cloned().unwrap_or_default();
            if bs.is_empty() {
                ports.push(json!({"PrivatePort": private, "Type": proto}));
            }
            for b in bs {
                ports.push(json!({
                    "IP": b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                    "PrivatePort": private,
                    "PublicPort": b["HostPort"].as_str().and_then(|x| x.parse::<u16>().ok()).unwrap_or(0),
                    "Type": proto,
                }));
            }
        }
    } else {
        for p in c.config.exposed_ports.iter().flat_map(|m| m.keys()) {
            let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            ports.push(json!({"PrivatePort": port.parse::<u16>().unwrap_or(0), "Type": proto}));
        }
    }
    let created = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let networks = c
        .network_settings
        .get("Networks")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
        .collect();
    json!({
        "Id": c.id,
        "Names": [c.name.clone()],
        "Image": if c.internal.image_ref.is_empty() { c.config.image.clone() } else { c.internal.image_ref.clone() },
        "ImageID": c.image,
        "Command": command_line(c),
        "Created": created,
        "Ports": ports,
        "Labels": c.config.labels,
        "State": c.state.status,
        "Status": crate::query::status_text(c),
        "HostConfig": {"NetworkMode": if c.host_config.network_mode.is_empty() { "default" } else { c.host_config.network_mode.as_str() }},
        "NetworkSettings": {"Networks": networks},
        "Mounts": mounts,
    })
}

/// docker's STATUS column.
pub fn status_text(c: &Container) -> String {
    let s = &c.state;
    let ago = |t: &str| human_since(t);
    let up = |t: &str| human_since(t).trim_end_matches(" ago").to_string();
    match s.status {
        Status::Running | Status::Paused => {
            let mut t = format!("Up {}", up(&s.started_at));
            if s.status == Status::Paused {
                t.push_str(" (Paused)");
            } else if let Some(h) = &s.health {
                match h.status.as_str() {
                    "starting" => t.push_str(" (health: starting)"),
                    "" | "none" => {}
                    other => t.push_str(&format!(" ({other})")),
                }
            }
            t
        }
        Status::Restarting => format!("Restarting ({}) {}", s.exit_code, ago(&s.finished_at)),
        Status::Exited => format!("Exited ({}) {}", s.exit_code, ago(&s.finished_at)),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
    }
}

/// docker's `units.HumanDuration` + " ago".
pub fn human_since(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return "N/A".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    let d = if secs < 1 {
        "Less than a second".to_string()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".into()
    } else if secs < 3600 {
        format!("{} minutes", secs / 60)
    } else if (secs as f64 / 3600.0).round() == 1.0 {
        "About an hour".into()
    } else if secs < 48 * 3600 {
        format!("{} hours", (secs as f64 / 3600.0).round())
    } else if secs < 7 * 24 * 3600 * 2 {
        format!("{} days", secs / 86400)
    } else if secs < 30 * 24 * 3600 * 3 {
        format!("{} weeks", secs / (7 * 86400))
    } else if secs < 365 * 24 * 3600 * 2 {
        format!("{} months", secs / (30 * 86400))
    } else {
        format!("{} years", secs / (365 * 86400))
    };
    format!("{d} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, labels: &[(&str, &str)]) -> Container {
        let mut c = Container {
            id: format!("{name}0123"),
            name: format!("/{name}"),
            ..Default::default()
        };
        c.state.status = Status::Running;
        for (k, v) in labels {
            c.config.labels.insert(k.to_string(), v.to_string());
        }
        c
    }

    #[test]
    fn labels_all_match_other_keys_any() {
        let cs = vec![
            container("a", &[("p", "x"), ("n", "1")]),
            container("b", &[("p", "x"), ("n", "2")]),
        ];
        let f = parse_filter_flags(&["label=p=x".into(), "label=n=2".into()]).unwrap();
        let got: Vec<String> = select(cs.clone(), true, &f)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(got, vec!["/b"]);
        let f = parse_filter_flags(&["name=a".into(), "name=b".into()]).unwrap();
        assert_eq!(select(cs, true, &f).unwrap().len(), 2);
    }
}
