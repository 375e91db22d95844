//! `berth serve`: the Docker Engine API over a unix socket, on the same engine (and the same
//! state root) as the `berth` CLI, so the real docker CLI, docker-compose and docker-py drive
//! berth unchanged and see the CLI's containers.

pub mod build;
pub mod ci_json;
pub mod containers;
pub mod distribution;
pub mod events;
pub mod exec;
pub mod host_config;
pub mod http;
pub mod images;
pub mod networks;
pub mod ops;
pub mod server;
pub mod streams;
pub mod swarm;
pub mod system;
pub mod tls;
mod upgraded;
pub mod volumes;

use anyhow::{bail, Context, Result};
use axum::Router;
use std::path::PathBuf;

/// What `berth serve` listens on. (Here, not in `server`, so that `server` does not need
/// `tls`, which serves its connections through `server`.)
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// state root shared with the CLI
    pub root: PathBuf,
    /// `unix:///path` (default unix:///run/berth.sock, $XDG_RUNTIME_DIR/berth.sock rootless) or `tcp://host:port` (TLS only)
    pub hosts: Vec<String>,
    /// the group that may use the socket (created when missing)
    pub group: String,
    pub tls: Option<tls::TlsOptions>,
}

/// Every route of the API (paths without the `/vX.Y` prefix, which the server strips).
pub fn router() -> Router {
    Router::new()
        .merge(system::routes())
        .merge(containers::routes())
        .merge(exec::routes())
        .merge(images::routes())
        .merge(distribution::routes())
        .merge(build::routes())
        .merge(volumes::routes())
        .merge(networks::routes())
        .merge(ops::routes())
        .merge(events::routes())
        .merge(swarm::routes())
        .fallback(server::not_found)
}

/// Run the server until SIGINT/SIGTERM; the unix sockets are removed on the way out.
pub fn serve(opts: ServeOptions) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let root = std::path::absolute(&opts.root).context("state root")?;
    // the state root exists and its store opens before we listen
    engine::engine::Engine::open(&root).context("opening the engine")?;
    http::set_root(root);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(1024)
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(opts))
}

async fn run(opts: ServeOptions) -> Result<()> {
    let hosts = if opts.hosts.is_empty() {
        vec![format!(
            "unix://{}",
            engine::paths::default_socket().display()
        )]
    } else {
        opts.hosts.clone()
    };
    let router = router();
    let mut sockets = Vec::new();
    let mut tasks = Vec::new();
    for h in &hosts {
        if let Some(path) = h.strip_prefix("unix://") {
            let path = PathBuf::from(path);
            if engine::paths::rootless_uid().is_some() {
                // a plain user's socket is the user's alone, in its private run dir
                if let Some(dir) = path.parent() {
                    engine::paths::ensure_private_dir(dir)
                        .with_context(|| format!("socket dir {}", dir.display()))?;
                }
                let l = server::bind_unix(&path, None)?;
                tracing::info!("API listening on {h} (rootless: mode 0600, the user's)");
                sockets.push(path);
                tasks.push(tokio::spawn(server::accept_unix(l, router.clone())));
                continue;
            }
            let gid = server::ensure_group(&opts.group)?;
            let l = server::bind_unix(&path, Some(gid))?;
            tracing::info!("API listening on {h} (mode 0660, group {})", opts.group);
            sockets.push(path);
            tasks.push(tokio::spawn(server::accept_unix(l, router.clone())));
        } else if let Some(addr) = h.strip_prefix("tcp://") {
            let Some(tls) = &opts.tls else {
                bail!(
                    "refusing to listen on {h} without TLS: give --tlsverify with --tlscacert, --tlscert and --tlskey (client certificates are required)"
                );
            };
            let l = tls::bind(addr, tls).await?;
            tracing::info!("API listening on {h} (TLS, client certificates required)");
            tasks.push(tokio::spawn(l.accept_loop(router.clone())));
        } else {
            bail!("invalid host {h:?}: expected unix:///path or tcp://host:port");
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
    Ok(())
}
