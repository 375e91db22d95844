//! Image references (`[registry/]repo[:tag][@digest]`) as users, compose files, API
//! clients and registries' answers give them.
//!
//! Invariants: no panic; a parsed reference prints (`to_string`, `familiar`) to a string
//! that parses back to the same reference; its parts are within docker's limits.
#![no_main]

use image::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(s) else {
        return;
    };
    let full = r.to_string();
    assert_eq!(
        Reference::parse(&full).as_ref().ok(),
        Some(&r),
        "{s:?} -> {full:?}"
    );
    let familiar = r.familiar();
    assert_eq!(
        Reference::parse(&familiar).as_ref().ok(),
        Some(&r),
        "{s:?} -> {familiar:?}"
    );
    if let Some(t) = r.tagged() {
        let again = Reference::parse(&t).expect("name:tag parses");
        assert_eq!((again.name(), again.tag.clone()), (r.name(), r.tag.clone()));
    }
    assert!(r.name().len() <= 255);
    let _ = (r.familiar_name(), r.registry_ref());
});
