//! Shell completions and man pages generated from the command line's definitions: bash
//! completes berth's commands and flags, zsh and fish scripts parse where those shells are
//! installed, and every command has a man page that renders. berth only; no root needed.

use berth_e2e::api::which;
use berth_e2e::engine::berth_bin;
use std::process::Command;

/// What bash's completion offers for `words` (the last one being completed).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = format!(
        "source <('{}' completion bash) && COMP_WORDS=({}) && COMP_CWORD={} && _berth berth '{}' '{}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        berth_bin().display(),
        words.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_and_flags() {
    if which("bash").is_none() {
        eprintln!("SKIP: no bash");
        return;
    }
    assert_eq!(bash_complete(&["berth", "ru"]), ["run"]);
    assert_eq!(bash_complete(&["berth", "run", "--runt"]), ["--runtime"]);
    assert!(bash_complete(&["berth", "system", "b"]).contains(&"boot".to_string()));
}

#[test]
fn zsh_and_fish_scripts_parse() {
    for (shell, check) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        let out = Command::new(berth_bin())
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{shell}: {out:?}"
        );
        if which(shell).is_none() {
            eprintln!("SKIP: no {shell} to parse its script");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("script");
        std::fs::write(&f, &out.stdout).unwrap();
        let st = Command::new(shell).args(check).arg(&f).output().unwrap();
        assert!(st.status.success(), "{shell} rejects its script: {st:?}");
    }
}

#[test]
fn every_command_has_a_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(berth_bin())
        .arg("manpages")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for page in [
        "berth",
        "berth-run",
        "berth-container-update",
        "berth-system-boot",
        "berth-events",
    ] {
        let p = dir.path().join(format!("{page}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: not roff"
        );
    }
    let run = std::fs::read_to_string(dir.path().join("berth-run.1")).unwrap();
    assert!(run.contains("runtime"), "berth-run.1 lacks --runtime");
    if which("man").is_some() {
        let o = Command::new("man")
            .arg("-l")
            .arg(dir.path().join("berth-system-boot.1"))
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("restart policies"),
            "{o:?}"
        );
    }
}
