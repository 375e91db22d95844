//! Image manifests, indexes (docker manifest lists) and configs as a registry or an
//! `image load` archive hands them over, and `--change` instructions applied to a config.
//!
//! Input: the JSON document; when it contains a line `---`, the part after it is a list of
//! `--change` instructions (one a line) applied to the document's `config` object.
//! Invariants: no panic; whatever parses is consistent (an index is not taken for a
//! manifest, digests and platforms print back to what parses to them again).
#![no_main]

use image::spec::{
    kind_of, parse_config, parse_index, parse_manifest, select_platform, Parsed, Platform,
};
use image::Digest;
use libfuzzer_sys::fuzz_target;

fn digest_round_trip(d: &Digest) {
    assert_eq!(&Digest::parse(&d.to_string()).unwrap(), d);
    assert_eq!(d.hex().len(), 64);
    assert_eq!(d.short().len(), 12);
}

fuzz_target!(|data: &[u8]| {
    let (doc, changes) = match data.windows(5).position(|w| w == b"\n---\n") {
        Some(i) => (&data[..i], Some(&data[i + 5..])),
        None => (data, None),
    };
    for header in [
        None,
        Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
    ] {
        if let Ok((kind, _mt)) = kind_of(doc, header, "fuzz") {
            if kind == Parsed::Index {
                assert!(parse_manifest(doc, "fuzz").is_err() || header.is_some());
            }
        }
    }
    if let Ok(m) = parse_manifest(doc, "fuzz") {
        digest_round_trip(&m.config.digest);
        for l in &m.layers {
            digest_round_trip(&l.digest);
            assert!(image::spec::is_layer_type(&l.media_type));
        }
    }
    if let Ok(entries) = parse_index(doc, "fuzz") {
        for e in &entries {
            digest_round_trip(&e.descriptor.digest);
            if let Some(p) = &e.platform {
                let shown = p.to_string();
                if let Ok(again) = Platform::parse(&shown) {
                    assert_eq!(again.to_string(), shown);
                }
                let _ = select_platform(&entries, p, "fuzz");
            }
        }
        let _ = select_platform(&entries, &Platform::host(), "fuzz");
    }
    if let Ok((_, info)) = parse_config(doc, "fuzz") {
        info.diff_ids.iter().for_each(digest_round_trip);
    }
    if let Some(changes) = changes {
        let mut cfg = match serde_json::from_slice::<serde_json::Value>(doc) {
            Ok(serde_json::Value::Object(mut m)) => match m.remove("config") {
                Some(serde_json::Value::Object(c)) => c,
                _ => m,
            },
            _ => serde_json::Map::new(),
        };
        for change in String::from_utf8_lossy(changes).lines().take(16) {
            let _ = image::change::apply_change(&mut cfg, change);
        }
    }
    if let Ok(s) = std::str::from_utf8(doc) {
        if let Ok(p) = Platform::parse(s) {
            assert_eq!(Platform::parse(&p.to_string()).unwrap(), p);
        }
        if let Ok(d) = Digest::parse(s) {
            digest_round_trip(&d);
        }
    }
});
