//! `ps` and `port`.

use super::*;

// ------------------------------------------------------------------ ps

pub use engine::query::status_text;

fn command_text(c: &Container, trunc: bool) -> String {
    let mut cmd = engine::query::command_line(c);
    if trunc && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    format!("\"{cmd}\"")
}

/// docker's PORTS column: `0.0.0.0:8080->80/tcp` for published ports, `80/tcp` for exposed ones.
fn ports_text(c: &Container) -> String {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Some(m) = c
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
        .filter(|_| c.state.status.has_process())
    {
        for (p, bs) in m {
            seen.insert(p.clone());
            for b in bs.as_array().into_iter().flatten() {
                out.push(format!(
                    "{}:{}->{p}",
                    b["HostIp"].as_str().unwrap_or("0.0.0.0"),
                    b["HostPort"].as_str().unwrap_or("")
                ));
            }
        }
    }
    for p in c.config.exposed_ports.iter().flat_map(|m| m.keys()) {
        if !seen.contains(p) {
            out.push(p.clone());
        }
    }
    out.join(", ")
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`
pub fn port(engine: &Engine, a: PortArgs) -> Result<i32> {
    let c = engine.find_reconciled(&a.container).map_err(daemon)?;
    let ports = c
        .network_settings
        .get("Ports")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    let want = a.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    for (p, bs) in &ports {
        if want.as_ref().is_some_and(|w| w != p) {
            continue;
        }
        for b in bs.as_array().into_iter().flatten() {
            found = true;
            let ip = b["HostIp"].as_str().unwrap_or("0.0.0.0");
            let hp = b["HostPort"].as_str().unwrap_or("");
            if want.is_some() {
                println!("{ip}:{hp}");
            } else {
                println!("{p} -> {ip}:{hp}");
            }
        }
    }
    if let (Some(w), false) = (&want, found) {
        return Err(daemon(format!(
            "No public port '{w}' published for {}",
            a.container
        )));
    }
    Ok(0)
}

fn ps_row(c: &Container, no_trunc: bool) -> Value {
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .collect();
    let created = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_default();
    json!({
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": if c.internal.image_ref.is_empty() { c.config.image.clone() } else { c.internal.image_ref.clone() },
        "Command": command_text(c, !no_trunc),
        "CreatedAt": created,
        "RunningFor": human_since(&c.created),
        "Ports": ports_text(c),
        "State": c.state.status,
        "Status": status_text(c),
        "Size": "0B",
        "Names": c.short_name(),
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": match c.host_config.network_mode.as_str() { "bridge" | "default" | "" => "none".to_string(), m => m.to_string() },
        "LocalVolumes": c.mounts.iter().filter(|m| m.kind == "volume").count().to_string(),
    })
}

pub const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

pub fn ps(engine: &Engine, a: PsArgs) -> Result<i32> {
    let mut list = engine.list_reconciled().map_err(daemon)?;
    let limit = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n > 0)
    };
    let all = a.all || limit.is_some();
    let filters = engine::query::parse_filter_flags(&a.filter).map_err(daemon)?;
    let mut keep = engine::query::select(std::mem::take(&mut list), all, &filters)
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(n) = limit {
        keep.truncate(n as usize);
    }
    if a.quiet {
        for c in &keep {
            println!("{}", if a.no_trunc { &c.id[..] } else { c.short_id() });
        }
        return Ok(0);
    }
    let rows: Vec<Value> = keep.iter().map(|c| ps_row(c, a.no_trunc)).collect();
    let default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    print!(
        "{}",
        template::format_list(a.format.as_deref(), default, PS_HEADERS, &rows)?
    );
    Ok(0)
}
