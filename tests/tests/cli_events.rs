//! `events` for the daemonless CLI: the journal every berth process writes, streamed until
//! interrupted, with `--since/--until/--filter/--format`. Written against docker
//! (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::engine;
use std::time::Duration;

/// A stream started before a container's life shows its events as they happen, in docker's
/// line shape, and runs until interrupted.
#[test]
fn events_stream_until_interrupted() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("ev");
    let filter = format!("container={name}");
    // --since without --until: the past since then, then new events (no race with the start)
    let since = (chrono_now_secs() - 1).to_string();
    let mut s = e.spawn(&["events", "--since", &since, "--filter", &filter], false);
    e.ok(&["run", "--name", &name, &img, "true"]);
    let out = s.wait_stdout(Duration::from_secs(20), "the die event", |o| {
        o.contains(" die ")
    });
    for action in ["create", "start", "die"] {
        let l = out
            .lines()
            .find(|l| l.split(' ').nth(2) == Some(action))
            .unwrap_or_else(|| panic!("no {action} in {out:?}"));
        // 2024-01-02T03:04:05.123456789+00:00 container create <id> (image=..., name=...)
        assert_eq!(l.split(' ').nth(1), Some("container"), "{l}");
        assert!(l.contains(&format!("name={name}")), "{l}");
        assert!(l.as_bytes()[4] == b'-' && l.as_bytes()[10] == b'T', "{l}");
    }
    assert_eq!(s.try_code(), None, "events ended by itself: {}", s.stderr());
    let pid = s.pid().unwrap();
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let code = s.wait_code(Duration::from_secs(10));
    assert!(code.is_some(), "events survived SIGINT");
    e.ok(&["rm", &name]);
}

/// `--since/--until` replay the past and end; `--filter event=` and `--format` apply.
#[test]
fn events_since_until_filter_format() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("evp");
    let since = chrono_now_secs() - 1;
    e.ok(&["run", "--name", &name, &img, "true"]);
    e.ok(&["rm", &name]);
    let until = chrono_now_secs() + 1;
    let (s, u) = (since.to_string(), until.to_string());
    let filter = format!("container={name}");
    let o = e.ok(&[
        "events",
        "--since",
        &s,
        "--until",
        &u,
        "--filter",
        &filter,
        "--filter",
        "event=destroy",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(o.trim(), format!("container destroy {name}"));
    let o = e.ok(&[
        "events",
        "--since",
        &s,
        "--until",
        &u,
        "--filter",
        &filter,
        "--format",
        "{{json .}}",
    ]);
    let actions: Vec<String> = o
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for a in ["create", "start", "die", "destroy"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    if e.is_berth() {
        // dockerd 20.10 ignores an unknown events filter; berth's journal reader refuses it
        let o = e.cmd(&["events", "--filter", "bogus=1", "--until", &u]);
        assert_ne!(o.code, 0, "{o:?}");
    }
    let o = e.cmd(&["events", "--since", &u, "--until", &s]);
    assert_ne!(o.code, 0, "{o:?}");
}

fn chrono_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
