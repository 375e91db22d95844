//! `berth search`: a registry's `/v1/search` (Docker Hub's index by default; `HOST/TERM` asks
//! that registry), shown as docker shows it.

use super::output::table;
use anyhow::{anyhow, bail, Result};
use clap::Args;
use image::reference::DEFAULT_REGISTRY;
use image::registry::manifests::{search, SearchResult};

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Filter output based on conditions provided (stars=N, is-official=BOOL)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    pub term: String,
}

/// `HOST/TERM` (a host has a dot or a port, or is localhost) or a Docker Hub term.
fn split_term(t: &str) -> (String, String) {
    if let Some((h, rest)) = t.split_once('/') {
        if h.contains('.') || h.contains(':') || h == "localhost" {
            return (h.to_string(), rest.to_string());
        }
    }
    (DEFAULT_REGISTRY.to_string(), t.to_string())
}

fn keep(r: &SearchResult, f: &engine::filters::Filters) -> Result<bool> {
    if let Some(s) = f.get("stars").and_then(|v| v.last()) {
        let n: i64 = s
            .parse()
            .map_err(|_| anyhow!("invalid filter 'stars={s}'"))?;
        if r.star_count < n {
            return Ok(false);
        }
    }
    for (key, val) in [
        ("is-official", r.is_official),
        ("is-automated", r.is_automated),
    ] {
        if let Some(b) = engine::filters::boolean(f, key)? {
            if b != val {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

pub fn run(a: SearchArgs) -> Result<i32> {
    if !(1..=100).contains(&a.limit) {
        bail!("limit {} is outside the range of [1, 100]", a.limit);
    }
    let f = engine::filters::from_flags(&a.filter)?;
    engine::filters::validate(&f, &["stars", "is-official", "is-automated"])?;
    let (registry, term) = split_term(&a.term);
    let results = search(&registry, &term, a.limit)
        .map_err(|e| anyhow!("Error response from daemon: {e}"))?;
    let mut rows = vec![vec![
        "NAME".to_string(),
        "DESCRIPTION".into(),
        "STARS".into(),
        "OFFICIAL".into(),
    ]];
    for r in results.iter().take(a.limit) {
        if !keep(r, &f)? {
            continue;
        }
        if let Some(t) = &a.format {
            let v = serde_json::json!({
                "Name": r.name, "Description": r.description, "StarCount": r.star_count,
                "IsOfficial": r.is_official, "IsAutomated": r.is_automated,
            });
            println!("{}", super::template::render(t, &v)?);
            continue;
        }
        let desc = r.description.replace('\n', " ");
        let desc = if !a.no_trunc && desc.chars().count() > 45 {
            format!("{}…", desc.chars().take(44).collect::<String>())
        } else {
            desc
        };
        let official = if r.is_official { "[OK]" } else { "" };
        rows.push(vec![
            r.name.clone(),
            desc,
            r.star_count.to_string(),
            official.into(),
        ]);
    }
    if a.format.is_none() {
        print!("{}", table(&rows));
    }
    Ok(0)
}
