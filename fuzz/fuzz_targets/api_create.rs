//! `POST /containers/create` bodies, mapped the way the API maps them and taken on to the
//! OCI spec the runtime would get (`engine::spec::generate`), without an engine or an image.
//!
//! Input: the request body (JSON); a first line `name=NAME` is the `?name=` query.
//! Invariants: no panic anywhere from the body to the spec; an accepted request names an
//! image; the primary network is not among the extra networks to connect.
#![no_main]

use api::containers::create_request;
use api::http::parse_json;
use engine::spec::{adapt_host_config, generate, path_and_args, SpecContext};
use engine::types::Container;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A rootfs with the /etc/passwd and /etc/group that `--user` lookups read.
fn rootfs() -> &'static std::path::Path {
    static R: OnceLock<tempfile::TempDir> = OnceLock::new();
    R.get_or_init(|| {
        let d = tempfile::Builder::new()
            .prefix("berth-fuzz-create.")
            .tempdir()
            .unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nweb:x:1000:root\n").unwrap();
        d
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    let (name, body) = match data.strip_prefix(b"name=") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let body = rest.get(end + 1..).unwrap_or_default();
            (
                Some(String::from_utf8_lossy(&rest[..end]).into_owned()),
                body,
            )
        }
        None => (None, data),
    };
    let Ok(v) = parse_json::<serde_json::Value>(body) else {
        return;
    };
    let Ok((req, extra)) = create_request(name, v) else {
        return;
    };
    assert!(!req.config.image.is_empty());
    let mode = &req.host_config.network_mode;
    assert!(
        extra.iter().all(|(n, _)| n != mode || mode.is_empty()),
        "primary network {mode:?} also in the extra networks"
    );
    let mut hc = req.host_config.clone();
    adapt_host_config(&mut hc);
    if engine::logs::validate_opts(&hc.log_config.config).is_err() {
        return;
    }
    let Ok((path, args)) = path_and_args(&req.config) else {
        return;
    };
    let c = Container {
        id: "0".repeat(64),
        path,
        args,
        config: req.config,
        host_config: hc,
        ..Default::default()
    };
    let ctx = SpecContext {
        rootfs: rootfs().to_path_buf(),
        cgroups_path: "/berth/fuzz".into(),
        ..Default::default()
    };
    let _ = generate(&c, &ctx);
});
