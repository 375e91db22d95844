//! `.dockerignore` parsing and matching.
//!
//! Input: the file's text, then a line `---`, then paths (one a line) to match.
//! Invariants: no panic; the cleaned patterns parse back to the same patterns and the same
//! decisions; a directory the context walker would skip (`may_include_below` false) has no
//! included path below it.
#![no_main]

use build::ignore::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, paths) = text
        .split_once("\n---\n")
        .unwrap_or((text, "a/b/c\nx\n.git/HEAD"));
    let ig = parse(rules);
    // round trip: each cleaned pattern on its own line (a leading space keeps `#` a pattern)
    let again = parse(
        &ig.patterns()
            .iter()
            .map(|p| format!(" {p}\n"))
            .collect::<String>(),
    );
    // `/!x` (or `./!x`) is the literal pattern `!x`, which `patterns()` prints like the
    // exception `!x`; `/ x` is the pattern ` x`, whose edge spaces a line of its own loses
    // (lines are trimmed, as docker does): no round trip for those
    let exact = !rules.contains("/!")
        && ig.patterns().iter().all(|p| {
            let p = p.strip_prefix('!').unwrap_or(p);
            p.trim() == p
        });
    if exact {
        assert_eq!(ig.patterns(), again.patterns());
    }
    for path in paths.lines().take(32) {
        let path = path.trim_matches('/');
        let excluded = ig.excluded(path);
        if exact {
            assert_eq!(excluded, again.excluded(path), "{path:?}");
        }
        // the walker only asks about clean paths (no empty, `.` or `..` components)
        if excluded || path.split('/').any(|c| matches!(c, "" | "." | "..")) {
            continue;
        }
        // every parent of an included path must be walked into
        for (i, c) in path.char_indices() {
            if c == '/' && i > 0 {
                let dir = &path[..i];
                assert!(
                    ig.may_include_below(dir),
                    "{dir:?} would be skipped, but {path:?} is included by {:?}",
                    ig.patterns()
                );
            }
        }
    }
});
