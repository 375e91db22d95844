//! `tcp://` listeners: only with TLS and verified client certificates (`--tlsverify`), as
//! dockerd's `--tlsverify`: the client must present a certificate signed by `--tlscacert`.
//! Each connection's client certificate subject is logged when it connects.

use crate::server::{serve_connection, Peer};
use anyhow::{bail, Context, Result};
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
}

/// A client that does not finish its handshake in this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

fn read(what: &str, p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading the {what} {}", p.display()))
}

fn certs(what: &str, p: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(what, p)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the {what} {}", p.display()))?;
    if certs.is_empty() {
        bail!("no certificate in the {what} {}", p.display());
    }
    Ok(certs)
}

/// The server's TLS configuration: its certificate and key, and client certificates required
/// and verified against the CA.
pub fn server_config(o: &TlsOptions) -> Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in certs("CA certificate (--tlscacert)", &o.ca)? {
        roots
            .add(c)
            .with_context(|| format!("CA certificate {}", o.ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("client certificate verifier")?;
    let chain = certs("server certificate (--tlscert)", &o.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read("server key (--tlskey)", &o.key)?)
        .with_context(|| format!("parsing the server key (--tlskey) {}", o.key.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("the server certificate and key (--tlscert, --tlskey)")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

pub async fn bind(addr: &str, o: &TlsOptions) -> Result<TlsListener> {
    let config = server_config(o)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on tcp://{addr}"))?;
    Ok(TlsListener {
        listener,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

impl TlsListener {
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn accept_loop(self, router: Router) {
        loop {
            let (tcp, addr) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor = self.acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let subject = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| subject(c.as_ref()))
                            .unwrap_or_default();
                        tracing::info!(client = %addr, subject = %subject, "TLS client connected");
                        serve_connection(
                            router,
                            Peer {
                                uid: None,
                                pid: None,
                            },
                            tls,
                        );
                    }
                    Ok(Err(e)) => tracing::warn!(client = %addr, "TLS handshake failed: {e}"),
                    Err(_) => tracing::warn!(client = %addr, "TLS handshake timed out"),
                }
            });
        }
    }
}

// ------------------------------------------------------------------ the subject, from DER

/// One DER element: (tag, content, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l, mut b) = b.split_first()?;
    let len = if l < 0x80 {
        l as usize
    } else {
        let n = (l & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, x| (a << 8) | *x as usize);
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// A certificate's subject as `CN=..,O=..` (the attributes berth names), or "" when the DER
/// cannot be read.
pub fn subject(cert: &[u8]) -> String {
    (|| -> Option<String> {
        let (_, cert, _) = der(cert)?;
        let (_, mut tbs, _) = der(cert)?;
        // [0] version (optional), serial, signature, issuer, validity, subject
        if tbs.first() == Some(&0xa0) {
            tbs = der(tbs)?.2;
        }
        for _ in 0..4 {
            tbs = der(tbs)?.2;
        }
        let (_, mut name, _) = der(tbs)?;
        let mut parts = Vec::new();
        while !name.is_empty() {
            let (_, set, rest) = der(name)?;
            name = rest;
            let (_, atv, _) = der(set)?;
            let (_, oid, rest) = der(atv)?;
            let (_, value, _) = der(rest)?;
            let key = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                _ => continue,
            };
            parts.push(format!("{key}={}", String::from_utf8_lossy(value)));
        }
        Some(parts.join(","))
    })()
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(
            der(&[0x30, 0x01, 0xff, 0x00]),
            Some((0x30, &[0xff][..], &[0x00][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        assert_eq!(
            der(&long).map(|(t, c, r)| (t, c.len(), r.len())),
            Some((4, 0x80, 0))
        );
        assert_eq!(der(&[0x30, 0x05, 0x00]), None);
        assert_eq!(subject(b"junk"), "");
    }
}
