//! The front-end corpus under `tests/corpus/`:
//!
//! - `NAME.Dockerfile` with `NAME.expected`: the parse result as pretty JSON, or
//!   `error: {ParseError}` (the file is named `Dockerfile` in messages). `UPDATE_CORPUS=1`
//!   rewrites the expectations (review the diff before committing).
//! - `expand.table`: tab-separated `word|words`, input, expected (a JSON string, a JSON list, or
//!   `error: message`), with the variables of [`env`].
//! - `ignore/NAME.dockerignore` with `ignore/NAME.cases`: lines `excluded PATH`,
//!   `included PATH`, `descend DIR` (may_include_below is true), `skip DIR` (false).

use std::fs;
use std::path::{Path, PathBuf};

use build::expand::{expand, expand_words};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn render(text: &str) -> String {
    match build::parse(text, "Dockerfile") {
        Ok(df) => serde_json::to_string_pretty(&df).unwrap() + "\n",
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn dockerfiles() {
    let update = std::env::var_os("UPDATE_CORPUS").is_some_and(|v| v == "1");
    let cases = files(&corpus(), "Dockerfile");
    assert!(cases.len() >= 25, "only {} Dockerfiles", cases.len());
    let mut failures = Vec::new();
    let (mut ok, mut errors) = (0, 0);
    for path in &cases {
        let text = fs::read_to_string(path).unwrap();
        let got = render(&text);
        if got.starts_with("error: ") {
            errors += 1;
        } else {
            ok += 1;
        }
        let expected_path = path.with_extension("expected");
        if update {
            fs::write(&expected_path, &got).unwrap();
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n--- expected\n{want}\n--- got\n{got}",
                path.display()
            )),
            Err(_) => failures.push(format!("{}: no .expected file", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ok >= 15 && errors >= 10, "{ok} parse, {errors} errors");
}

/// Every instruction keyword appears somewhere in the corpus's successful parses.
#[test]
fn every_instruction_covered() {
    let mut seen = std::collections::BTreeSet::new();
    for path in files(&corpus(), "Dockerfile") {
        let Ok(df) = build::parse(&fs::read_to_string(&path).unwrap(), "Dockerfile") else {
            continue;
        };
        seen.insert("FROM".to_string());
        for i in df
            .global_args
            .iter()
            .chain(df.stages.iter().flat_map(|s| &s.instructions))
        {
            seen.insert(i.keyword.clone());
            if let build::Kind::Onbuild(t) = &i.kind {
                seen.insert(format!("ONBUILD {}", t.keyword));
            }
        }
    }
    for k in [
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "MAINTAINER",
    ] {
        assert!(seen.contains(k), "no {k} in the corpus");
    }
}

fn env(name: &str) -> Option<String> {
    let v = match name {
        "A" => "a",
        "EMPTY" => "",
        "SP" => "x  y",
        "FILE" => "dir/name.tar.gz",
        "PORTS" => "80/tcp 443",
        "HOME" => "/root",
        _ => return None,
    };
    Some(v.to_string())
}

#[test]
fn expand_table() {
    let text = fs::read_to_string(corpus().join("expand.table")).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "expand.table:{}: want 3 columns", n + 1);
        let (mode, input, want) = (cols[0], cols[1], cols[2]);
        let got = match mode {
            "word" => expand(input, &env, '\\').map(|s| serde_json::to_string(&s).unwrap()),
            "words" => expand_words(input, &env, '\\').map(|w| serde_json::to_string(&w).unwrap()),
            m => panic!("expand.table:{}: unknown mode {m}", n + 1),
        };
        let got = got.unwrap_or_else(|e| format!("error: {e}"));
        count += 1;
        if got != want {
            failures.push(format!(
                "expand.table:{}: {mode} {input}: got {got}, want {want}",
                n + 1
            ));
        }
    }
    assert!(count >= 30);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dockerignore() {
    let dir = corpus().join("ignore");
    let cases = files(&dir, "dockerignore");
    assert!(cases.len() >= 5);
    let mut failures = Vec::new();
    for path in cases {
        let ig = build::ignore::parse(&fs::read_to_string(&path).unwrap());
        let cases_path = path.with_extension("cases");
        let text = fs::read_to_string(&cases_path)
            .unwrap_or_else(|_| panic!("{} missing", cases_path.display()));
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (what, p) = line.split_once(' ').unwrap();
            let ok = match what {
                "excluded" => ig.excluded(p),
                "included" => !ig.excluded(p),
                "descend" => ig.may_include_below(p),
                "skip" => !ig.may_include_below(p),
                w => panic!("{}:{}: unknown {w}", cases_path.display(), n + 1),
            };
            if !ok {
                failures.push(format!("{}:{}: {line}", cases_path.display(), n + 1));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
