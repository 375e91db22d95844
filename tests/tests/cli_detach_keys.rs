//! `--detach-keys` on run/start/attach (docker's ctrl-p,ctrl-q by default): typing the sequence
//! on the terminal leaves the container running and the command exits 0. Written against
//! docker (`BERTH_TEST_ENGINE=docker`); needs root and `script` (util-linux).

use berth_e2e::engine;
use berth_e2e::engine::{Engine, Spawned};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `args` on a terminal (`script`) and types `keys` until the command exits (keys typed
/// before it put the terminal in raw mode are the terminal's: ^Q is flow control there);
/// its exit code.
fn detach_with(e: &Engine, args: &[&str], keys: &[u8]) -> i32 {
    let bin = if e.is_docker() {
        "docker".to_string()
    } else {
        format!(
            "{} --root {}",
            berth_e2e::engine::berth_bin().display(),
            e.root.as_ref().unwrap().display()
        )
    };
    let line = format!("exec {bin} {}", args.join(" "));
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let mut s = Spawned::start(cmd, line.clone(), e.path(), "detach", true);
    let t = Instant::now();
    loop {
        if let Some(code) = s.try_code() {
            eprintln!(
                "`{line}`: exit {code}, output {:?} {:?}",
                s.stdout(),
                s.stderr()
            );
            return code;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "`{line}` did not detach: {:?} {:?}",
            s.stdout(),
            s.stderr()
        );
        s.write_stdin(keys);
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn run_detaches_on_the_default_and_on_custom_keys() {
    let e = engine!();
    let img = e.img().to_string();
    for (keys, typed) in [(None, &b"\x10\x11"[..]), (Some("ctrl-a,x"), &b"\x01x"[..])] {
        let name = e.name(if keys.is_some() { "dk2" } else { "dk1" });
        let mut args = vec!["run", "-it", "--name", &name];
        if let Some(k) = keys {
            args.extend_from_slice(&["--detach-keys", k]);
        }
        args.extend_from_slice(&[&img, "sleep", "60"]);
        assert_eq!(detach_with(&e, &args, typed), 0, "{keys:?}");
        assert_eq!(
            e.inspect_f(&name, "{{.State.Status}}"),
            "running",
            "{keys:?}: {}",
            e.inspect_f(&name, "{{.State.ExitCode}} {{.State.Error}}")
        );
        e.ok(&["rm", "-f", &name]);
    }
    let o = e.cmd(&[
        "run",
        "--rm",
        "--detach-keys",
        "ctrl-pp",
        "-t",
        &img,
        "true",
    ]);
    assert_ne!(o.code, 0, "{o:?}");
    if e.is_berth() {
        // dockerd refuses the attach request (the docker CLI shows "received 400")
        assert!(o.stderr.contains("Invalid detach keys"), "{o:?}");
    }
}

#[test]
fn start_and_attach_detach() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("dks");
    e.ok(&["create", "-it", "--name", &name, &img, "sleep", "60"]);
    let code = detach_with(
        &e,
        &["start", "-ai", "--detach-keys", "ctrl-x", &name],
        b"\x18",
    );
    assert_eq!(code, 0);
    assert_eq!(
        e.inspect_f(&name, "{{.State.Status}}"),
        "running",
        "{}",
        e.inspect_f(&name, "{{.State.ExitCode}} {{.State.Error}}")
    );
    // docker attach reports the detach: "read escape sequence", exit 1
    assert_eq!(detach_with(&e, &["attach", &name], b"\x10\x11"), 1);
    assert_eq!(
        e.inspect_f(&name, "{{.State.Status}}"),
        "running",
        "{}",
        e.inspect_f(&name, "{{.State.ExitCode}} {{.State.Error}}")
    );
    e.ok(&["rm", "-f", &name]);
}

/// `exec -it` detaches on the default and on `--detach-keys`: as docker attach, the command
/// says "read escape sequence" and exits 1, and the exec'd process runs on (nothing hangs up
/// its terminal).
#[test]
fn exec_detaches_and_the_process_runs_on() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("dke");
    e.ok(&["run", "-d", "--name", &name, &img, "sleep", "120"]);
    for (i, (keys, typed)) in [(None, &b"\x10\x11"[..]), (Some("ctrl-a,x"), &b"\x01x"[..])]
        .into_iter()
        .enumerate()
    {
        let script = format!("'echo $$ > /tmp/pid{i}; exec sleep 60'");
        let mut args = vec!["exec", "-it"];
        if let Some(k) = keys {
            args.extend_from_slice(&["--detach-keys", k]);
        }
        args.extend_from_slice(&[&name, "sh", "-c", &script]);
        assert_eq!(detach_with(&e, &args, typed), 1, "{keys:?}");
        let probe = format!(
            "for n in $(seq 50); do [ -s /tmp/pid{i} ] && break; sleep 0.1; done; \
             kill -0 $(cat /tmp/pid{i}) && echo alive"
        );
        let o = e.cmd(&["exec", &name, "sh", "-c", &probe]);
        assert_eq!(o.stdout.trim(), "alive", "{keys:?}: {o:?}");
    }
    let o = e.cmd(&["exec", "--detach-keys", "ctrl-pp", "-t", &name, "true"]);
    assert_ne!(o.code, 0, "{o:?}");
    e.ok(&["rm", "-f", &name]);
}
