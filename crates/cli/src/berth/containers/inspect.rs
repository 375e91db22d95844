//! `logs`, `attach` and `inspect`.

use super::*;

// ------------------------------------------------------------------ logs

pub fn logs(engine: &Engine, a: LogsArgs) -> Result<i32> {
    let c = engine.find_reconciled(&a.container).map_err(daemon)?;
    if c.log_path.is_empty() {
        bail!("Error response from daemon: configured logging driver does not support reading");
    }
    let now = chrono::Utc::now();
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| anyhow!("invalid value for \"tail\": {n}"))?,
        )
        .filter(|n| *n >= 0)
        .map(|n| n as usize),
    };
    let opts = engine::logs::ReadOptions {
        follow: a.follow,
        tail,
        since: a
            .since
            .as_deref()
            .map(|s| engine::logs::parse_time(s, now))
            .transpose()
            .map_err(daemon)?,
        until: a
            .until
            .as_deref()
            .map(|s| engine::logs::parse_time(s, now))
            .transpose()
            .map_err(daemon)?,
        stdout: true,
        stderr: true,
    };
    let path = std::path::PathBuf::from(&c.log_path);
    let id = c.id.clone();
    let mut running = || {
        engine
            .store
            .get(&id)
            .ok()
            .flatten()
            .is_some_and(|c| c.state.status.is_live())
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let ts = a.timestamps;
    let mut emit = |e: &engine::logs::LogEntry| -> bool {
        let w: &mut dyn Write = match e.stream {
            engine::logs::Stream::Stdout => &mut out,
            engine::logs::Stream::Stderr => &mut err,
        };
        if ts {
            let t = e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            if w.write_all(format!("{t} ").as_bytes()).is_err() {
                return false;
            }
        }
        let ok = w.write_all(&e.line).is_ok();
        let _ = w.flush();
        ok
    };
    if !path.exists() {
        return Ok(0);
    }
    engine::logs::read(&path, &opts, &mut running, &mut emit).map_err(daemon)?;
    Ok(0)
}

// ------------------------------------------------------------------ attach

pub fn attach(engine: &Engine, a: AttachArgs) -> Result<i32> {
    let c = engine.find_reconciled(&a.container).map_err(daemon)?;
    match c.state.status {
        Status::Running => {}
        Status::Paused => bail!("You cannot attach to a paused container, unpause it first"),
        _ => bail!("You cannot attach to a stopped container, start it first"),
    }
    let att = Attach::connect(engine, &c.id).map_err(daemon)?;
    relay(
        engine,
        &c.id,
        att,
        c.config.tty,
        !a.no_stdin && c.config.open_stdin,
        a.sig_proxy && !c.config.tty,
        RelayOpts {
            from_run: false,
            detach_keys: a.detach_keys.as_deref(),
            escape_is_error: true,
        },
    )
}

// ------------------------------------------------------------------ inspect

pub fn inspect(engine: &Engine, a: InspectArgs) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for n in &a.names {
        let kind = a.kind.as_deref().unwrap_or("");
        let mut found = None;
        if kind.is_empty() || kind == "container" {
            if let Ok(c) = engine.find_reconciled(n) {
                let mut v = c.inspect_json();
                if a.size {
                    if let Ok(i) = engine.images() {
                        v["SizeRw"] = json!(engine::volumes::du(&i.snapshots.upper_dir(&c.id)));
                    }
                }
                found = Some(v);
            }
        }
        if found.is_none() && (kind.is_empty() || kind == "image") {
            if let Ok(i) = engine.images() {
                if let Ok(img) = i.get(n) {
                    found = Some(crate::berth::images::inspect_json(i, &img)?);
                }
            }
        }
        if found.is_none() && (kind.is_empty() || kind == "volume") {
            if let Ok(Some(v)) = engine.store.volume(n) {
                found = Some(serde_json::to_value(&v)?);
            }
        }
        match found {
            Some(v) => out.push(v),
            None => {
                eprintln!("Error: No such object: {n}");
                code = 1;
            }
        }
    }
    print_inspect(&out, a.format.as_deref())?;
    Ok(code)
}

pub fn print_inspect(out: &[Value], format: Option<&str>) -> Result<()> {
    match format {
        None => println!("{}", serde_json::to_string_pretty(out)?),
        Some(f) => {
            for v in out {
                println!("{}", template::render(f, v)?);
            }
        }
    }
    Ok(())
}
