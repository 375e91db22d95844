//! Embedded DNS server for user-defined networks.
//!
//! Containers on a user network resolve each other by container name, `--network-alias` and
//! short container id (also as `NAME.NETWORK`); every other name is forwarded to the host's
//! resolvers. berth has no daemon, so the server is a small process per network
//! (`berth __dns --root R NETWORK_ID`, see [`run`]) listening on the network's gateway
//! address, port 53, UDP and TCP, in the host's network namespace. It reads the names from the
//! engine's sqlite db (tables `networks` and `endpoints`), answers only clients on the network's
//! subnet, exits on its own once the network has had no endpoints for a while, and is stopped
//! by the engine when the network is removed (see `helper.rs` for the lifecycle).
//!
//! The wire format is RFC 1035 (with the EDNS OPT record of RFC 6891 understood and echoed),
//! decoded and encoded by hickory-proto (`wire.rs` holds the pure functions that turn a query
//! into its answer on top of it).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

mod helper;
mod names;
mod server;
mod wire;

pub use helper::{
    log_file, pid_file, run, run_with_idle, running, stop, wait_ready, Lock, STOP_GRACE,
};
pub use names::{lookup, upstreams};
pub use server::{bind, serve, serve_on, serve_sockets, Sockets};
pub use wire::{
    answer_a, answer_addrs, answer_ptr, fit_udp, formerr, formerr_raw, notimp, nxdomain,
    parse_query, parse_reverse, refused, servfail, Query,
};

/// Record type A (IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type PTR (reverse lookup).
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA (IPv6 address).
pub const TYPE_AAAA: u16 = 28;
/// EDNS OPT pseudo-record.
pub const TYPE_OPT: u16 = 41;
/// Query type ANY.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Query class ANY.
pub const CLASS_ANY: u16 = 255;

/// TTL of the answers for names on the network: short, containers come and go.
pub const TTL: u32 = 10;
/// How long one upstream resolver gets to answer a forwarded query.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`run`] keeps serving a network without endpoints before exiting.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

/// UDP payload size announced in our own OPT records.
const EDNS_PAYLOAD: u16 = 1232;
/// Forwarded queries in flight at once (a thread each); beyond that, SERVFAIL.
const MAX_INFLIGHT: usize = 256;
/// TCP connections served at once; beyond that, new ones are closed.
const MAX_TCP: usize = 64;
/// Idle timeout of a TCP connection between queries.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);
/// A cached snapshot of the db is reused at most this long even when the files look unchanged.
const CACHE_MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("malformed DNS message: {0}")]
    Malformed(&'static str),
    #[error("database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("network {0} not found")]
    NoNetwork(String),
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> DnsError {
    let context = context.into();
    move |source| DnsError::Io { context, source }
}
