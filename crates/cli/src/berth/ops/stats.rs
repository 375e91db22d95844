//! `stats`: docker's resource usage table.

use super::*;

// ------------------------------------------------------------------ stats

/// Go's `%.Ng` for the magnitudes sizes have (no exponent form below 1e21).
pub(super) fn go_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (prec - 1 - exp).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

/// docker's `units.BytesSize`: binary units, four significant digits.
pub fn bytes_size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), units[i])
}

/// One row of `stats` for the template: docker's field names.
pub fn stats_row(v: &Value, given: Option<&str>, no_trunc: bool, running: bool) -> Value {
    let id = v["id"].as_str().unwrap_or("");
    let name = v["name"].as_str().unwrap_or("").trim_start_matches('/');
    let short = if no_trunc {
        id
    } else {
        &id[..12.min(id.len())]
    };
    let (cpu, usage, mem) = if running {
        (
            format!("{:.2}%", engine::container::stats::cpu_percent(v)),
            format!(
                "{} / {}",
                bytes_size(engine::container::stats::mem_usage(v)),
                bytes_size(engine::container::stats::mem_limit(v))
            ),
            format!("{:.2}%", engine::container::stats::mem_percent(v)),
        )
    } else {
        ("0.00%".into(), "0B / 0B".into(), "0.00%".into())
    };
    let (r, w) = engine::container::stats::blkio(v);
    let (rx, tx) = engine::container::stats::net_io(v);
    json!({
        "Container": given.unwrap_or(short),
        "ID": short,
        "Name": if running { name } else { "--" },
        "CPUPerc": cpu,
        "MemUsage": usage,
        "MemPerc": mem,
        "NetIO": format!("{} / {}", human_size(rx), human_size(tx)),
        "BlockIO": format!("{} / {}", human_size(r), human_size(w)),
        "PIDs": engine::container::stats::pids_current(v).to_string(),
    })
}

const STATS_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn stats(engine: &Engine, a: StatsArgs) -> Result<i32> {
    let mut prev: std::collections::HashMap<String, Value> = Default::default();
    let mut first = true;
    loop {
        // the containers to show: the ones named, or the running ones (all with -a)
        let mut targets: Vec<(engine::types::Container, Option<String>)> = Vec::new();
        if a.containers.is_empty() {
            for c in engine.list_reconciled().map_err(daemon)? {
                if a.all || c.state.status.is_live() {
                    targets.push((c, None));
                }
            }
            targets.reverse();
        } else {
            let mut code = 0;
            for n in &a.containers {
                match engine.find_reconciled(n) {
                    Ok(c) => targets.push((c, Some(n.clone()))),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
            }
            if code != 0 {
                return Ok(code);
            }
        }
        // detected once a round: it reads the host's mountinfo, a line per container
        let layout = engine::container::stats::cgroup_layout();
        if first {
            // the CPU % needs two samples: take a first one a moment before
            for (c, _) in &targets {
                prev.insert(
                    c.id.clone(),
                    engine.stats_sample_on(layout.as_ref(), c, None),
                );
            }
            std::thread::sleep(Duration::from_millis(if a.no_stream { 600 } else { 300 }));
            first = false;
        }
        let mut rows = Vec::new();
        for (c, given) in &targets {
            let v = engine.stats_sample_on(layout.as_ref(), c, prev.get(&c.id));
            rows.push(stats_row(
                &v,
                given.as_deref(),
                a.no_trunc,
                c.state.status.is_live(),
            ));
            prev.insert(c.id.clone(), v);
        }
        let out = template::format_list(a.format.as_deref(), STATS_TABLE, STATS_HEADERS, &rows)?;
        let mut so = std::io::stdout().lock();
        if !a.no_stream {
            // docker clears the screen and moves the cursor home before each frame
            write!(so, "\x1b[2J\x1b[H")?;
        }
        write!(so, "{out}")?;
        so.flush()?;
        if a.no_stream {
            return Ok(0);
        }
        drop(so);
        std::thread::sleep(Duration::from_secs(1));
    }
}
