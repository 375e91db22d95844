//! The monitor outlives attach clients that leave while the container writes: a client gone
//! mid-round used to be removed by the output broadcast while the round still indexed the
//! client list, and the monitor panicked (index out of bounds), killing the container. Written
//! against docker (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::engine;
use std::time::{Duration, Instant};

#[test]
fn monitor_survives_attach_clients_killed_mid_output() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("chatty");
    e.ok(&[
        "run",
        "-dit",
        "--name",
        &name,
        &img,
        "sh",
        "-c",
        "while :; do echo line; done",
    ]);
    for _ in 0..30 {
        let mut a = e.spawn(&["attach", "--no-stdin", &name], false);
        a.wait_stdout(Duration::from_secs(20), "output", |o| o.contains("line"));
        a.kill();
    }
    // the monitor (and so the container) is still there: a stop finds it running
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        assert_eq!(
            e.inspect_f(&name, "{{.State.Status}}"),
            "running",
            "{}",
            e.inspect_f(&name, "{{.State.ExitCode}} {{.State.Error}}")
        );
    }
    e.ok(&["rm", "-f", &name]);
}

/// `run -d` of a process that never stops writing returns: the monitor relays what was
/// written before it reports the start, but only so much (it used to relay until the output
/// paused, which `yes` never does, and the run hung).
#[test]
fn run_detached_returns_while_the_process_keeps_writing() {
    let e = engine!();
    let img = e.img().to_string();
    for tty in [false, true] {
        let name = e.name(if tty { "yes-tty" } else { "yes" });
        let mut args = vec!["run", "-d", "--name", &name];
        if tty {
            args.push("-t");
        }
        args.extend([img.as_str(), "yes"]);
        e.ok(&args);
        assert_eq!(e.inspect_f(&name, "{{.State.Status}}"), "running");
        e.ok(&["rm", "-f", &name]);
    }
}
