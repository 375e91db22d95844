//! A registry client for the OCI distribution API: anonymous, basic and
//! bearer-token auth, docker-compatible credentials in config.json, parallel
//! streaming layer downloads verified by digest (and unpacked as soon as each
//! one lands, resumed with a Range request when a transfer breaks),
//! cross-repository blob mounts and chunked uploads on push, retries, progress
//! bars.
//!
//! Written on reqwest rather than oci-client because berth needs to stream
//! blobs straight into its own verifying content store, overlap unpacking with
//! downloading, report per-layer progress, reuse docker's config.json and talk
//! plain HTTP to local registries (127.0.0.0/8, localhost) as docker does.

mod auth;
mod client;
pub mod manifests;
mod progress;
mod pull;
mod push;

pub use auth::{check_login, config_path, login, logout, Credentials};
pub use client::Client;
pub use pull::pull;
pub use push::push;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::{Image, ImageStore};
use crate::reference::{Reference, DEFAULT_REGISTRY};
use crate::spec::{self, Platform, MANIFEST_ACCEPT};
use base64::Engine as _;
use futures_util::StreamExt;
use reqwest::{header, Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ATTEMPTS: u32 = 4;
const PARALLEL: usize = 4;
/// Blobs larger than this are pushed in PATCH chunks of this size.
const CHUNK: usize = 8 << 20;

/// How to show progress.
#[derive(Clone)]
pub enum Progress {
    /// One indicatif bar per layer (a terminal).
    Bars,
    /// Plain status lines (not a terminal).
    Plain,
    Quiet,
    /// Every step as an [`Event`] (the API's JSON progress stream).
    Events(EventSink),
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Progress::Bars => "Bars",
            Progress::Plain => "Plain",
            Progress::Quiet => "Quiet",
            Progress::Events(_) => "Events",
        })
    }
}

/// One progress message in the terms of docker's JSON messages: `status` about the layer `id`
/// (or the whole transfer), with `current`/`total` bytes while data moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub status: String,
    pub progress: Option<(u64, u64)>,
}

/// Where [`Progress::Events`] go (called from the transfer's threads).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

pub struct PullOptions {
    pub platform: Platform,
    pub progress: Progress,
    pub credentials: Credentials,
}

/// An error with its causes ("error sending request: connection closed
/// before message completed"), since the top one alone rarely says what
/// went wrong on the wire.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn reg_err(registry: &str, message: impl Into<String>) -> Error {
    Error::Registry {
        registry: registry.to_string(),
        message: message.into(),
    }
}

fn is_insecure(host: &str) -> bool {
    let h = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    if h == "localhost" || h.starts_with("127.") || h == "[::1]" {
        return true;
    }
    std::env::var("BERTH_INSECURE_REGISTRIES")
        .map(|v| v.split(',').any(|x| x.trim() == host))
        .unwrap_or(false)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "start async runtime".into(),
            source,
        })
}

/// Shared so tests can build a client with explicit credentials.
pub fn client(registry: &str, creds: Option<(String, String)>) -> Result<Arc<Client>> {
    Ok(Arc::new(Client::new(registry, creds)?))
}

#[cfg(test)]
mod tests;
