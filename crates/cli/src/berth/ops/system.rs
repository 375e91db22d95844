//! `system df` and `system prune`.

use super::*;

// ------------------------------------------------------------------ system df, prune

fn pct(part: u64, total: u64) -> String {
    match (part * 100).checked_div(total) {
        None => human_size(part),
        Some(p) => format!("{} ({p}%)", human_size(part)),
    }
}

/// The summary rows of `system df`.
pub fn df_rows(d: &Value) -> Vec<Value> {
    let arr = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let images = arr("Images");
    let total = u(d, "LayersSize");
    let active = images.iter().filter(|i| u(i, "Containers") > 0).count();
    let used: u64 = images
        .iter()
        .filter(|i| u(i, "Containers") > 0)
        .map(|i| u(i, "Size").saturating_sub(u(i, "SharedSize")))
        .sum();
    let cs = arr("Containers");
    let c_size: u64 = cs.iter().map(|c| u(c, "SizeRw")).sum();
    let running = |c: &Value| matches!(c["State"].as_str(), Some("running" | "paused"));
    let c_active = cs.iter().filter(|c| running(c)).count();
    let c_recl: u64 = cs
        .iter()
        .filter(|c| !running(c))
        .map(|c| u(c, "SizeRw"))
        .sum();
    let vs = arr("Volumes");
    let v_size: u64 = vs.iter().map(|v| u(&v["UsageData"], "Size")).sum();
    let v_active = vs
        .iter()
        .filter(|v| u(&v["UsageData"], "RefCount") > 0)
        .count();
    let v_recl: u64 = vs
        .iter()
        .filter(|v| u(&v["UsageData"], "RefCount") == 0)
        .map(|v| u(&v["UsageData"], "Size"))
        .sum();
    let row = |t: &str, n: usize, a: usize, size: u64, recl: String| {
        json!({"Type": t, "TotalCount": n.to_string(), "Active": a.to_string(),
               "Size": human_size(size), "Reclaimable": recl})
    };
    vec![
        row(
            "Images",
            images.len(),
            active,
            total,
            pct(total.saturating_sub(used), total),
        ),
        row(
            "Containers",
            cs.len(),
            c_active,
            c_size,
            pct(c_recl, c_size),
        ),
        row(
            "Local Volumes",
            vs.len(),
            v_active,
            v_size,
            pct(v_recl, v_size),
        ),
        row("Build Cache", 0, 0, 0, human_size(0)),
    ]
}

pub fn df(engine: &Engine, a: DfArgs) -> Result<i32> {
    let d = engine.df().map_err(daemon)?;
    if a.verbose && a.format.is_none() {
        print!("{}", df_verbose(&d));
        return Ok(0);
    }
    let rows = df_rows(&d);
    let out = template::format_list(
        a.format.as_deref(),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
        &rows,
    )?;
    print!("{out}");
    Ok(0)
}

fn df_verbose(d: &Value) -> String {
    use crate::berth::output::{human_since, table};
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let since = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| human_since(&t.to_rfc3339()))
            .unwrap_or_default()
    };
    let mut o = String::from("Images space usage:\n\n");
    let mut rows = vec![[
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ]
    .map(String::from)
    .to_vec()];
    for i in d["Images"].as_array().into_iter().flatten() {
        let id = i["Id"].as_str().unwrap_or("");
        let short = id.trim_start_matches("sha256:");
        let tags: Vec<&str> = i["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>"]
        } else {
            tags
        };
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "<none>"));
            rows.push(vec![
                repo.into(),
                tag.into(),
                short[..12.min(short.len())].into(),
                since(i["Created"].as_i64().unwrap_or(0)),
                human_size(u(i, "Size")),
                human_size(u(i, "SharedSize")),
                human_size(u(i, "Size").saturating_sub(u(i, "SharedSize"))),
                u(i, "Containers").to_string(),
            ]);
        }
    }
    o.push_str(&table(&rows));
    o.push_str("\nContainers space usage:\n\n");
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for c in d["Containers"].as_array().into_iter().flatten() {
        let id = c["Id"].as_str().unwrap_or("");
        let vols = c["Mounts"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["Type"] == "volume").count())
            .unwrap_or(0);
        let cmd = c["Command"].as_str().unwrap_or("");
        let cmd = if cmd.chars().count() > 20 {
            format!("{}…", cmd.chars().take(19).collect::<String>())
        } else {
            cmd.to_string()
        };
        rows.push(vec![
            id[..12.min(id.len())].into(),
            c["Image"].as_str().unwrap_or("").into(),
            format!("\"{cmd}\""),
            vols.to_string(),
            human_size(u(c, "SizeRw")),
            since(c["Created"].as_i64().unwrap_or(0)),
            c["State"].as_str().unwrap_or("").into(),
            c["Names"][0]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
                .into(),
        ]);
    }
    o.push_str(&table(&rows));
    o.push_str("\nLocal Volumes space usage:\n\n");
    let mut rows = vec![["VOLUME NAME", "LINKS", "SIZE"].map(String::from).to_vec()];
    for v in d["Volumes"].as_array().into_iter().flatten() {
        rows.push(vec![
            v["Name"].as_str().unwrap_or("").into(),
            u(&v["UsageData"], "RefCount").to_string(),
            human_size(u(&v["UsageData"], "Size")),
        ]);
    }
    o.push_str(&table(&rows));
    o.push_str("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE   CREATED   LAST USED   USAGE   SHARED\n");
    o
}

pub fn system_prune(engine: &Engine, a: SystemPruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        let mut w = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if a.all {
            "  - all images without at least one container associated to them\n"
        } else {
            "  - all dangling images\n"
        });
        w.push_str("  - unused build cache\n\nAre you sure you want to continue? [y/N] ");
        eprint!("{w}");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let mut total = 0u64;
    // docker's system prune filters: `label`/`label!` for every kind, `until` but for volumes
    let f = engine::filters::from_flags(&a.filter)?;
    engine::filters::validate(&f, &["until", "label", "label!"])?;
    let mut volume_filters = f.clone();
    volume_filters.remove("until");
    let (ids, bytes) = engine.prune_containers(&f).map_err(daemon)?;
    total += bytes;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    let nets = engine::net::prune(engine, &f).map_err(daemon)?;
    if !nets.is_empty() {
        println!("Deleted Networks:");
        for n in &nets {
            println!("{n}");
        }
        println!();
    }
    if a.volumes {
        let (names, bytes) =
            engine::volumes::prune(&engine.store, &engine.root, &volume_filters).map_err(daemon)?;
        total += bytes;
        if !names.is_empty() {
            println!("Deleted Volumes:");
            for n in &names {
                println!("{n}");
            }
            println!();
        }
    }
    let store = engine.images().map_err(daemon)?;
    let r = if f.is_empty() {
        store.prune(a.all).map_err(daemon)?
    } else {
        api::images::prune_filtered(store, a.all, &f).map_err(|e| anyhow!(e.message))?
    };
    total += r.reclaimed;
    if !r.untagged.is_empty() || !r.deleted.is_empty() {
        println!("Deleted Images:");
        for u in &r.untagged {
            println!("untagged: {u}");
        }
        for d in &r.deleted {
            println!("deleted: {d}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(total));
    Ok(0)
}
