//! The Dockerfile parser and the variable expansion of the words it hands to the builder.
//!
//! Invariants: no panic; a parsed file has at least one stage and line numbers inside the
//! file; the result does not depend on CRLF line ends or a leading BOM; every word the
//! builder would expand expands (or fails with an error) with either escape character.
#![no_main]

use build::expand::{expand, expand_words, expands};
use build::parser::{parse, parse_duration, Instruction, Kind};
use libfuzzer_sys::fuzz_target;

fn lookup(name: &str) -> Option<String> {
    match name {
        "EMPTY" => Some(String::new()),
        "SPACE" => Some("a b  c".into()),
        "QUOTE" => Some("'\"\\$X".into()),
        "DOLLAR" => Some("${SPACE}$EMPTY".into()),
        "LONG" => Some("x".repeat(300)),
        _ if name.len() == 1 => Some(name.to_lowercase()),
        _ => None,
    }
}

/// Expands the words the builder expands for this instruction (and an ONBUILD trigger's).
fn expand_instruction(i: &Instruction, escape: char) {
    let words: Vec<&str> = match &i.kind {
        Kind::Onbuild(inner) => return expand_instruction(inner, escape),
        Kind::Env(kv) | Kind::Label(kv) => kv
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .collect(),
        Kind::Arg(kv) => kv.iter().filter_map(|(_, v)| v.as_deref()).collect(),
        Kind::Expose(w) | Kind::Volume(w) => w.iter().map(String::as_str).collect(),
        Kind::User(w) | Kind::Workdir(w) | Kind::StopSignal(w) => vec![w.as_str()],
        Kind::Add {
            srcs, dest, chown, ..
        }
        | Kind::Copy {
            srcs, dest, chown, ..
        } => srcs
            .iter()
            .map(String::as_str)
            .chain([dest.as_str()])
            .chain(chown.as_deref())
            .collect(),
        _ => Vec::new(),
    };
    if !expands(&i.keyword) {
        return;
    }
    for w in words {
        let one = expand(w, &lookup, escape);
        let many = expand_words(w, &lookup, escape);
        // both read the word the same way: both succeed or both fail
        assert_eq!(one.is_ok(), many.is_ok(), "{w:?}: {one:?} vs {many:?}");
        if let Ok(many) = many {
            assert!(
                many.iter().all(|s| !s.is_empty()),
                "{w:?}: empty word in {many:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(text, "Dockerfile");
    if let Ok(df) = &parsed {
        assert!(!df.stages.is_empty());
        let lines = text.split('\n').count();
        for s in &df.stages {
            assert!(
                s.line >= 1 && s.line <= lines,
                "stage line {} of {lines}",
                s.line
            );
            for i in &s.instructions {
                assert!(
                    i.line >= s.line && i.line <= lines,
                    "line {} of {lines}",
                    i.line
                );
                expand_instruction(i, df.escape);
            }
            for w in [s.base.as_str()].into_iter().chain(s.platform.as_deref()) {
                let _ = expand(w, &lookup, df.escape);
            }
        }
        for a in &df.global_args {
            expand_instruction(a, df.escape);
        }
    }
    if !text.contains('\r') {
        let crlf = parse(&text.replace('\n', "\r\n"), "Dockerfile");
        assert_eq!(parsed, crlf, "CRLF line ends change the parse");
    }
    if !text.starts_with('\u{feff}') {
        let bom = parse(&format!("\u{feff}{text}"), "Dockerfile");
        assert_eq!(parsed, bom, "a BOM changes the parse");
    }
    // raw words and durations straight from the input, both escape characters
    for line in text.lines().take(64) {
        for escape in ['\\', '`'] {
            let _ = expand(line, &lookup, escape);
            let _ = expand_words(line, &lookup, escape);
        }
        let _ = parse_duration(line);
    }
});
