//! Query strings of the API: `filters` in both of docker's forms (`{"k":{"v":true}}` and
//! `{"k":["v"]}`), the engine's use of them (keys, booleans, labels), booleans, integers and
//! `detachKeys`.
//!
//! Input: a raw query string (`filters=...&all=1&detachKeys=...`).
//! Invariants: no panic; the two forms of a parsed filter mean the same; label matching
//! of a filter's own values holds.
#![no_main]

use api::containers::parse_detach_keys;
use api::http::{parse_filters, Q};
use engine::filters;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let q = Q::parse(s);
    let _ = (
        q.bool("all"),
        q.bool_or("stream", true),
        q.int("limit"),
        q.all("filters"),
    );
    if let Some(k) = q.get("detachKeys") {
        if let Ok(keys) = parse_detach_keys(k) {
            assert_eq!(keys.len(), k.split(',').count());
        }
    }
    // the raw input as a filters value too (what the fuzzer mutates most easily)
    for raw in [q.get("filters").unwrap_or(""), s] {
        let Ok(f) = parse_filters(raw) else {
            continue;
        };
        // the map form and the list form of the same filters parse to the same thing
        let as_map: serde_json::Map<String, serde_json::Value> = f
            .iter()
            .map(|(k, vs)| {
                (
                    k.clone(),
                    vs.iter()
                        .map(|v| (v.clone(), serde_json::Value::Bool(true)))
                        .collect(),
                )
            })
            .collect();
        let as_list = serde_json::to_string(&f).unwrap();
        let from_map = parse_filters(&serde_json::Value::Object(as_map).to_string()).unwrap();
        let from_list = parse_filters(&as_list).unwrap();
        assert_eq!(from_list, f);
        for (k, vs) in &from_map {
            let mut want = f[k].clone();
            want.sort();
            want.dedup();
            let mut got = vs.clone();
            got.sort();
            assert_eq!(got, want, "{k}");
        }
        let _ = filters::validate(&f, &["label", "name", "id", "status", "dangling"]);
        for key in f.keys() {
            let _ = filters::boolean(&f, key);
            let _ = (filters::exact(&f, key, "x"), filters::fuzzy(&f, key, "x"));
            // labels built from a filter's own `k=v` / `k` values satisfy it
            let labels: BTreeMap<String, String> = f[key]
                .iter()
                .map(|w| match w.split_once('=') {
                    Some((a, b)) => (a.to_string(), b.to_string()),
                    None => (w.clone(), String::new()),
                })
                .collect();
            let consistent = f[key].iter().all(|w| match w.split_once('=') {
                Some((a, b)) => labels.get(a).is_some_and(|x| x == b),
                None => true,
            });
            if consistent {
                assert!(filters::labels(&f, key, &labels), "{key}: {:?}", f[key]);
            }
        }
    }
});
