//! One function per command.

use super::args::{parse_signal, Cli, Command, CreateArgs, ExecArgs, ListFormat};
use super::{out, seal, specgen};
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Process, Spec};
use runtime::{CreateOptions, ExecOptions, Runtime, Status};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

pub fn run(cli: Cli) -> Result<i32> {
    let rt = Runtime::new(cli.state_root());
    match cli.command {
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let mut spec = specgen::default_spec();
            if cli.rootless.as_deref() == Some("true") {
                // SAFETY: geteuid/getegid have no preconditions.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                spec = specgen::rootless_spec(spec, uid, gid);
            }
            std::fs::write(&path, serde_json::to_string_pretty(&spec)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Command::Create(a) => {
            seal::reexec_sealed()?;
            rt.create(&create_options(&a, false))?;
        }
        Command::Start { id } => rt.start(&id)?,
        Command::Run {
            create,
            detach,
            keep,
        } => {
            seal::reexec_sealed()?;
            if !detach {
                runtime::relay::block_signals();
            }
            let opts = CreateOptions {
                start_here: true,
                ..create_options(&create, !detach)
            };
            let mut started = rt.create(&opts)?;
            let gate = started
                .gate
                .take()
                .expect("create gives a gate with start_here");
            if let Err(e) = rt.start_created(&create.id, gate) {
                let _ = rt.delete(&create.id, true);
                return Err(e.into());
            }
            if detach {
                return Ok(0);
            }
            let code = runtime::relay::forward_and_wait(started.pid, started.console)?;
            fault::mark("rt.exited");
            if !keep {
                rt.delete(&create.id, true)?;
                fault::mark("rt.deleted");
            }
            return Ok(code);
        }
        Command::State { id } => {
            let st = rt.state(&id)?;
            out::line(&serde_json::to_string_pretty(&st)?)?;
        }
        Command::Kill { all, id, signal } => {
            let sig = parse_signal(&signal).map_err(|e| anyhow!(e))?;
            rt.kill(&id, sig, all)?;
        }
        Command::Delete { force, ids } => {
            for id in ids {
                rt.delete(&id, force)?;
            }
        }
        Command::List { format, quiet } => list(&rt, format, quiet)?,
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&rt, format, &id, &ps_args)?,
        Command::Exec(a) => return exec(&rt, a).context("exec failed"),
        Command::Update(a) => rt.update(&a.id, &super::update::resources(&a)?)?,
        Command::Events {
            stats,
            interval,
            id,
        } => return events(&rt, &id, stats, &interval),
        Command::Pause { id } => rt.pause(&id)?,
        Command::Resume { id } => rt.resume(&id)?,
        Command::Features => out::line(&serde_json::to_string_pretty(&specgen::features())?)?,
    }
    Ok(0)
}

/// One line of `events`, with runc's field order (`type`, `id`, `data`): scripts match it.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

/// runc's `events`: `{"type":"stats","id":..,"data":{..}}` lines, and `{"type":"oom"}` on OOM.
fn events(rt: &Runtime, id: &str, once: bool, interval: &str) -> Result<i32> {
    let every = parse_interval(interval)?;
    // watching from before the first line: an OOM right after it is not missed
    let mut oom = match once {
        true => None,
        false => Some(runtime::resources::oom_watcher(&rt.load(id)?)?),
    };
    loop {
        let st = rt.load(id)?;
        if st.status(&rt.root) == Status::Stopped {
            return Ok(0);
        }
        let data = runtime::resources::event_stats(&st)?;
        let stats = Event {
            kind: "stats",
            id,
            data: Some(data),
        };
        out::line(&serde_json::to_string(&stats)?)?;
        let Some(watcher) = oom.as_mut() else {
            return Ok(0);
        };
        match runtime::resources::wait_oom(watcher, every)? {
            Some(true) => {
                let oom = Event {
                    kind: "oom",
                    id,
                    data: None,
                };
                out::line(&serde_json::to_string(&oom)?)?
            }
            Some(false) => {}
            None => return Ok(0),
        }
    }
}

/// `5s`, `500ms`, `1m` or plain seconds.
fn parse_interval(s: &str) -> Result<std::time::Duration> {
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| anyhow!("invalid --interval {s:?}"))?;
    Ok(std::time::Duration::from_secs_f64((v * mult).max(0.001)))
}

fn create_options(a: &CreateArgs, own_terminal: bool) -> CreateOptions {
    CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        own_terminal,
        ..Default::default()
    }
}

fn list(rt: &Runtime, format: ListFormat, quiet: bool) -> Result<()> {
    let all = rt.list();
    // written at once, at the end (see `out::bytes`)
    let mut text = Vec::new();
    if quiet {
        for (st, _) in &all {
            writeln!(text, "{}", st.id)?;
        }
        return Ok(out::bytes(&text)?);
    }
    match format {
        ListFormat::Json => {
            let v: Vec<_> = all.iter().map(|(st, s)| st.oci(*s)).collect();
            writeln!(text, "{}", serde_json::to_string(&v)?)?;
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = all
                .iter()
                .map(|(st, s)| {
                    let pid = if *s == Status::Stopped { 0 } else { st.pid };
                    [
                        st.id.clone(),
                        pid.to_string(),
                        s.to_string(),
                        st.bundle.display().to_string(),
                        st.created.clone(),
                        st.owner.clone(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = [0usize; 6];
            for r in std::iter::once(&header).chain(rows.iter()) {
                for (i, c) in r.iter().enumerate() {
                    widths[i] = widths[i].max(c.len()).max(9);
                }
            }
            for r in std::iter::once(&header).chain(rows.iter()) {
                let line: Vec<String> = r
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = widths[i] + 3))
                    .collect();
                writeln!(text, "{}", line.concat().trim_end())?;
            }
        }
    }
    Ok(out::bytes(&text)?)
}

fn ps(rt: &Runtime, format: ListFormat, id: &str, ps_args: &[String]) -> Result<()> {
    let pids = rt.pids(id)?;
    if format == ListFormat::Json {
        out::line(&serde_json::to_string(&pids)?)?;
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("ps output has no PID column"))?;
    let mut text = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            text.push_str(l);
            text.push('\n');
        }
    }
    Ok(out::bytes(text.as_bytes())?)
}

/// The process to exec: --process FILE, or the container's own process with the flags applied.
fn exec_process(rt: &Runtime, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(runtime::spec::parse_process(&text, path)?);
    }
    if a.command.is_empty() {
        bail!("exec: give a command to run or --process FILE");
    }
    let st = rt.load(&a.id)?;
    let spec: Spec = serde_json::from_value(st.config.clone())?;
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| anyhow!("container has no process"))?;
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (u.parse()?, 0),
        };
        user.set_uid(uid);
        user.set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut v = serde_json::to_value(p.capabilities().clone().unwrap_or_default())?;
        for set in ["bounding", "effective", "permitted", "inheritable"] {
            let arr = v[set].as_array().cloned().unwrap_or_default();
            let mut arr: Vec<serde_json::Value> = arr;
            for c in &a.cap {
                arr.push(serde_json::Value::String(c.clone()));
            }
            v[set] = serde_json::Value::Array(arr);
        }
        let mut pv = serde_json::to_value(&p)?;
        pv["capabilities"] = v;
        runtime::spec::sanitize_process(&mut pv);
        p = serde_json::from_value(pv)?;
    }
    Ok(p)
}

fn exec(rt: &Runtime, a: ExecArgs) -> Result<i32> {
    // Re-execute first: a --process given as a pipe (`-p <(...)`) can be read only once.
    seal::reexec_sealed()?;
    let process = exec_process(rt, &a)?;
    if !a.detach {
        runtime::relay::block_signals();
    }
    let opts = ExecOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        own_terminal: !a.detach,
        ignore_paused: a.ignore_paused,
        sub_cgroups: a.cgroup.clone(),
        ..Default::default()
    };
    let started = rt.exec(&a.id, &process, &opts)?;
    if a.detach {
        return Ok(0);
    }
    runtime::relay::forward_and_wait(started.pid, started.console)
}

/// Open the `--log` file (append, like runc) before anything else can fail.
pub fn open_log(path: Option<&Path>) -> Result<Option<std::fs::File>> {
    path.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("opening log file {}", p.display()))
    })
    .transpose()
}
