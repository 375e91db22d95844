//! `tcp://` listeners: only with TLS and verified client certificates (`--tlsverify`).

use anyhow::{bail, Result};
use axum::Router;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct TlsListener;

pub async fn bind(addr: &str, _o: &TlsOptions) -> Result<TlsListener> {
    bail!("tcp://{addr}: TLS listener not available in this build")
}

impl TlsListener {
    pub async fn accept_loop(self, _router: Router) {}
}
