//! start, stop, restart, kill, rm, pause, unpause, wait, rename, prune.

use super::*;

// ------------------------------------------------------------------ start / stop / kill / rm

pub fn start(engine: &Engine, a: StartArgs) -> Result<i32> {
    if a.checkpoint.is_some() || a.checkpoint_dir.is_some() {
        bail!("--checkpoint: checkpoints are not supported (docker has them only on a daemon with experimental features enabled)");
    }
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let c = engine.find_reconciled(&a.containers[0]).map_err(daemon)?;
        if c.state.status == Status::Running {
            let att = Attach::connect(engine, &c.id).map_err(daemon)?;
            return relay(
                engine,
                &c.id,
                att,
                c.config.tty,
                a.interactive,
                !c.config.tty,
                RelayOpts {
                    from_run: false,
                    detach_keys: a.detach_keys.as_deref(),
                    escape_is_error: false,
                },
            );
        }
        // connected before the process starts, and returning once it runs: a detach sequence
        // typed at once leaves a running container
        let (_, att) = engine.start_connected(&c.id).map_err(daemon)?;
        let att = match att {
            Some(a) => a,
            None => Attach::connect(engine, &c.id).map_err(daemon)?,
        };
        return relay(
            engine,
            &c.id,
            att,
            c.config.tty,
            a.interactive && c.config.open_stdin,
            !c.config.tty,
            RelayOpts {
                from_run: false,
                detach_keys: a.detach_keys.as_deref(),
                escape_is_error: false,
            },
        );
    }
    each(&a.containers, |k| {
        engine.start(k, false)?;
        Ok(())
    })
}

/// Apply `f` to each name, printing the name on success and docker's error otherwise.
fn each(names: &[String], mut f: impl FnMut(&str) -> engine::Result<()>) -> Result<i32> {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn stop(engine: &Engine, a: StopArgs) -> Result<i32> {
    each(&a.containers, |k| {
        if let Some(s) = &a.signal {
            let c = engine.find_reconciled(k)?;
            if c.state.status.is_live() {
                engine.kill(k, s)?;
                let t = a.timeout.unwrap_or(10);
                if engine
                    .wait_not_live(&c.id, std::time::Duration::from_secs(t.max(0) as u64))
                    .is_ok()
                {
                    return Ok(());
                }
            }
        }
        engine.stop(k, a.timeout).map(|_| ())
    })
}

pub fn restart(engine: &Engine, a: StopArgs) -> Result<i32> {
    each(&a.containers, |k| {
        engine.stop(k, a.timeout)?;
        engine.start(k, false).map(|_| ())
    })
}

pub fn kill(engine: &Engine, a: KillArgs) -> Result<i32> {
    each(&a.containers, |k| engine.kill(k, &a.signal).map(|_| ()))
}

pub fn rm(engine: &Engine, a: RmArgs) -> Result<i32> {
    each(&a.containers, |k| engine.remove(k, a.force, a.volumes))
}

pub fn pause(engine: &Engine, a: NamesArgs) -> Result<i32> {
    each(&a.containers, |k| engine.pause(k))
}

pub fn unpause(engine: &Engine, a: NamesArgs) -> Result<i32> {
    each(&a.containers, |k| engine.unpause(k))
}

pub fn wait(engine: &Engine, a: NamesArgs) -> Result<i32> {
    let mut code = 0;
    for n in &a.containers {
        match engine.wait(n) {
            Ok(c) => println!("{c}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn rename(engine: &Engine, a: RenameArgs) -> Result<i32> {
    engine.rename(&a.container, &a.new_name).map_err(daemon)?;
    Ok(0)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> Result<i32> {
    if !a.force && std::io::stdin().is_terminal() {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut l = String::new();
        std::io::stdin().read_line(&mut l)?;
        if !l.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let filters = engine::query::parse_filter_flags(&a.filter).map_err(daemon)?;
    let (ids, bytes) = engine.prune_containers(&filters).map_err(daemon)?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for i in &ids {
            println!("{i}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}
