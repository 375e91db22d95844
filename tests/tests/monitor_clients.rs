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

/// The content of the executable container `id`'s monitor runs from, which must be a view of
/// it nothing can write through (a read-only overlayfs, CVE-2019-5736).
fn monitor_exe(root: &str, id: &str) -> Vec<u8> {
    let pids = engine::pids_with_cmdline(&format!("{root} __monitor {id}"));
    assert_eq!(pids.len(), 1, "one monitor for {id}: {pids:?}");
    let exe = format!("/proc/{}/exe", pids[0]);
    let st = nix::sys::statfs::statfs(exe.as_str()).unwrap();
    let vfs = nix::sys::statvfs::statvfs(exe.as_str()).unwrap();
    assert_eq!(
        st.filesystem_type().0 as i64,
        0x794c_7630,
        "not on overlayfs"
    );
    assert!(vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    std::fs::read(exe).unwrap()
}

/// berth runs each container's monitor from the small `berth-monitor` next to it, and a lone
/// `berth` (copied without it) from itself; either way the container runs, its output is
/// logged and its exit code recorded. (berth only: docker's shims are its own.)
#[test]
fn monitors_run_from_berth_monitor_or_from_a_lone_berth() {
    let e = engine!();
    if !e.is_berth() {
        return;
    }
    let img = e.img().to_string();
    let root = e.root.as_ref().unwrap().display().to_string();
    let berth = engine::berth_bin();
    let lone_dir = e.path().join("lone");
    std::fs::create_dir_all(&lone_dir).unwrap();
    let lone = lone_dir.join("berth");
    std::fs::copy(&berth, &lone).unwrap();
    let small = std::fs::read(berth.with_file_name("berth-monitor")).unwrap();
    let copied = std::fs::read(&lone).unwrap();
    for (bin, want) in [(&berth, small), (&lone, copied)] {
        let name = e.name(if bin == &berth { "small" } else { "lone" });
        let run = |args: &[&str]| {
            let o = std::process::Command::new(bin)
                .arg("--root")
                .arg(&root)
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{args:?}: {o:?}");
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        // (alive long enough to look at its monitor)
        let script = "echo hi; sleep 3; exit 3";
        let id = run(&["run", "-d", "--name", &name, &img, "sh", "-c", script]);
        assert!(monitor_exe(&root, &id) == want, "{}", bin.display());
        assert_eq!(run(&["wait", &name]), "3");
        assert_eq!(e.ok(&["logs", &name]).trim(), "hi");
        e.ok(&["rm", &name]);
    }
}
