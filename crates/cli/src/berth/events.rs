//! `berth events` (and `system events`): the state root's event journal, which every berth
//! process writes (the CLI, the monitors, `berth serve`), shown as `docker events` shows it and
//! followed until interrupted or until `--until` passes.

use anyhow::Result;
use chrono::{DateTime, Local, Utc};
use clap::Args;
use engine::engine::Engine;
use engine::events::window::{follow, parse_bound, window};
use engine::events::{self, Event, Follower};
use std::io::Write;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json': one JSON object per line)
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
}

/// docker's line: `<time> <type> <action> <actor id> (<k=v>, ...)`, the time in local time
/// with nanoseconds.
fn line(ev: &Event) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(ev.time_nano).with_timezone(&Local);
    let mut s = format!(
        "{} {} {} {}",
        t.format("%Y-%m-%dT%H:%M:%S%.9f%:z"),
        ev.kind,
        ev.action,
        ev.actor.id
    );
    if !ev.actor.attributes.is_empty() {
        let attrs: Vec<String> = ev
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!(" ({})", attrs.join(", ")));
    }
    s
}

fn render(format: Option<&str>, ev: &Event) -> Result<String> {
    match format {
        None | Some("") => Ok(line(ev)),
        Some("json") => Ok(serde_json::to_string(ev)?),
        Some(f) => super::template::render(f, &serde_json::to_value(ev)?),
    }
}

pub fn run(engine: &Engine, a: EventsArgs) -> Result<i32> {
    let now = Utc::now();
    let since = parse_bound("since", a.since.as_deref(), now)?;
    let until = parse_bound("until", a.until.as_deref(), now)?;
    let w = window(since, until, now.timestamp_nanos_opt().unwrap_or(0))?;
    let f = engine::filters::from_flags(&a.filter)?;
    events::validate_filters(&f)?;
    let format = a.format.as_deref();
    // a bad template fails before anything streams
    if let Some(t) = format.filter(|t| !t.is_empty() && *t != "json") {
        let probe = Event::new(events::Type::Daemon, "probe", "", Default::default());
        super::template::render(t, &serde_json::to_value(&probe)?)?;
    }
    let send = |ev: &Event| -> bool {
        let Ok(text) = render(format, ev) else {
            return false;
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
    };
    let (past, mut follower) = Follower::open(&engine.run_root, w.history);
    for ev in past
        .iter()
        .filter(|ev| w.within(ev) && events::matches(&f, ev))
    {
        if !send(ev) {
            return Ok(0);
        }
    }
    if w.follow {
        // until interrupted (SIGINT ends the process) or until `until` passes
        follow(&mut follower, &w, &f, &send, || false);
    }
    Ok(0)
}
