//! User-defined networks of a rootless engine (podman's rootless netns): a plain user can make
//! no bridge on the host, so the user's networks live in a network namespace of the user's
//! own, owned by the pause process's user namespace (see `crate::rootless`) and held by a bind
//! mount in its mount namespace (no process keeps it). berth's bridge networks work there as
//! on the host -- the same manager makes the bridges, veths, firewall rules and runs the DNS
//! servers, only inside that namespace (`network::Manager::in_netns`) -- and:
//! - pasta (as for the default network) connects the namespace to the outside while a
//!   container is on one of the networks: its masqueraded traffic leaves through pasta's tap;
//! - published ports are relayed from the host's namespace by `__ports` (see `proxy`).
//!
//! The namespace is made when the first network is, pasta is stopped when the last endpoint
//! goes, and the namespace itself is let go when no network is left. A lock file serialises
//! the three.

use super::usermode::{pasta_bin, stop_pasta, unavailable};
use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use network::Manager;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The dir of the namespace file, pasta's pid file, the rules markers and the locks.
pub(super) fn dir(engine: &Engine) -> PathBuf {
    engine.run_root.join("rootless-netns")
}

pub(super) fn ns_file(engine: &Engine) -> PathBuf {
    dir(engine).join("net")
}

fn pasta_pid_file(engine: &Engine) -> PathBuf {
    dir(engine).join("pasta.pid")
}

/// Held while the namespace, its pasta or a container's endpoints in it change.
pub(super) fn lock(engine: &Engine) -> Result<Flock<File>> {
    let d = dir(engine);
    crate::paths::ensure_private_dir(&d).ctx(|| format!("create {}", d.display()))?;
    let f = File::create(d.join("lock")).ctx(|| format!("create {}/lock", d.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::Other(format!("lock {}/lock: {e}", d.display())))
}

pub(super) fn exists(engine: &Engine) -> bool {
    network::netns::is_namespace(&ns_file(engine))
}

/// The engine's network manager, working in the user's namespace. Reading the networks needs
/// no namespace; whatever changes them calls [`ensure`] first.
pub(super) fn manager(engine: &Engine) -> Result<Manager> {
    let db = super::db_path(&engine.root);
    Ok(Manager::open(&db)?.in_netns(&ns_file(engine), &dir(engine)))
}

/// Make the namespace unless it is there. Not with [`lock`] held (it takes it).
pub(super) fn ensure(engine: &Engine) -> Result<()> {
    if crate::paths::rootless_uid().is_none() || exists(engine) {
        return Ok(());
    }
    let _lock = lock(engine)?;
    if !exists(engine) {
        create(engine)?;
    }
    Ok(())
}

/// A fresh namespace: a thread unshares one and binds it to the namespace file, `lo` up.
/// What went with an earlier one (its rules markers, DNS servers serving a namespace gone with
/// a killed pause process) is cleared first.
fn create(engine: &Engine) -> Result<()> {
    let d = dir(engine);
    let _ = std::fs::remove_dir_all(d.join("rules"));
    if let Ok(m) = Manager::open(&super::db_path(&engine.root)) {
        for net in m.list().unwrap_or_default() {
            let _ = network::dns::stop(&engine.run_root, &net.id);
        }
    }
    let ns = ns_file(engine);
    std::fs::write(&ns, b"").ctx(|| format!("create {}", ns.display()))?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> nix::Result<()> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
            nix::mount::mount(
                Some("/proc/thread-self/ns/net"),
                &ns,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
        })
        .join()
        .unwrap_or(Err(nix::Error::EIO))
    });
    made.map_err(|e| Error::Other(format!("rootless network namespace {}: {e}", ns.display())))?;
    super::plumbing::lo_up(&ns)
}

/// pasta serving the namespace, started unless it runs: containers on the user's networks
/// reach the outside through it.
pub(super) fn ensure_outside(engine: &Engine) -> Result<()> {
    let (ns, pf) = (ns_file(engine), pasta_pid_file(engine));
    if pasta_running(&pf) {
        return Ok(());
    }
    if let Some(why) = unavailable() {
        return Err(Error::Invalid(format!(
            "rootless user networks reach the outside through pasta: {why}"
        )));
    }
    let out = std::process::Command::new(pasta_bin().unwrap_or_else(|| "pasta".into()))
        .args(["--config-net", "--quiet", "--netns"])
        .arg(&ns)
        .arg("--pid")
        .arg(&pf)
        .args(["-t", "none", "-u", "none", "-T", "none", "-U", "none"])
        .stdin(std::process::Stdio::null())
        .output()
        .ctx(|| "run pasta".into())?;
    if !out.status.success() {
        stop_pasta(&pf, &ns);
        return Err(Error::Other(format!(
            "rootless network namespace (pasta): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn pasta_running(pf: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(pf)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return false;
    };
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|b| *b == 0)
            .next()
            .is_some_and(|a| a.ends_with(b"pasta"))
    })
}

/// After a container left (or a network went): without endpoints pasta stops; without
/// networks the namespace goes too.
pub(super) fn release_if_unused(engine: &Engine, mgr: &Manager) -> Result<()> {
    let _lock = lock(engine)?;
    let nets = mgr.list()?;
    for n in &nets {
        if !mgr.endpoints(&n.id)?.is_empty() {
            return Ok(());
        }
    }
    let ns = ns_file(engine);
    stop_pasta(&pasta_pid_file(engine), &ns);
    if nets.is_empty() {
        let _ = nix::mount::umount2(&ns, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&ns);
        let _ = std::fs::remove_dir_all(dir(engine).join("rules"));
        let _ = std::fs::remove_file(dir(engine).join("firewall.lock"));
    }
    Ok(())
}
