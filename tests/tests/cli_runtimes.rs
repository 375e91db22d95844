//! `--runtime NAME`: the registered OCI runtimes (berth's own by default, runc and crun when
//! installed, more from `<state root>/daemon.json`) run the container, and inspect's
//! `HostConfig.Runtime` and `info`'s Runtimes say so. Written against docker
//! (`BERTH_TEST_ENGINE=docker`, where runc is built in); needs root.

use berth_e2e::api::which;
use berth_e2e::{berth_only, engine};
use std::process::Command;

/// The runtime's own state lists the container while it runs (which runtime ran it), and
/// exec, top, stop and rm work through it.
fn runs_on(rt: &str) {
    let e = engine!();
    if which(rt).is_none() {
        eprintln!("SKIP: no {rt} on PATH");
        return;
    }
    let img = e.img().to_string();
    let name = e.name(rt);
    let o = e.cmd(&[
        "run",
        "--rm",
        "--runtime",
        rt,
        &img,
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    assert_eq!((o.code, o.stdout.trim()), (4, "ran"), "{o:?}");
    let id = e.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--runtime",
        rt,
        &img,
        "sleep",
        "60",
    ]);
    let id = id.trim();
    assert_eq!(e.inspect_f(&name, "{{.HostConfig.Runtime}}"), rt);
    let o = e.cmd(&["exec", &name, "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!((o.code, o.stdout.trim()), (3, "in-exec"), "{o:?}");
    assert!(e.ok(&["top", &name]).contains("sleep 60"));
    if e.is_berth() {
        // the runtime's state, under its --root in the run root, has the container
        let state_root = e.path().join("root/run/oci").join(rt);
        let out = Command::new(rt)
            .arg("--root")
            .arg(&state_root)
            .args(["state", id])
            .output()
            .unwrap();
        let st = String::from_utf8_lossy(&out.stdout);
        assert!(st.contains("\"running\""), "{rt} state: {st} {out:?}");
    }
    e.ok(&["stop", "-t", "1", &name]);
    assert_eq!(e.inspect_f(&name, "{{.State.Status}}"), "exited");
    e.ok(&["rm", &name]);
}

#[test]
fn run_with_runc() {
    runs_on("runc");
}

#[test]
fn run_with_crun() {
    let e = engine!();
    berth_only!(e, "dockerd needs --add-runtime crun=...");
    drop(e);
    runs_on("crun");
}

/// An unknown name is refused before anything is created (docker: "unknown or invalid runtime
/// name"); info lists what is registered, the built-in as the default.
#[test]
fn unknown_runtime_is_refused_and_info_lists_runtimes() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("nort");
    let o = e.cmd(&[
        "run",
        "--name",
        &name,
        "--runtime",
        "no-such-rt",
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    // dockerd 20.10's words, or newer dockerd's (berth's)
    assert!(
        o.stderr.contains("Unknown runtime specified no-such-rt")
            || o.stderr
                .contains("unknown or invalid runtime name: no-such-rt"),
        "{o:?}"
    );
    assert!(!e.container_names().contains(&name));
    let rts = e.ok(&["info", "--format", "{{json .Runtimes}}"]);
    assert!(rts.contains("\"runc\""), "{rts}");
    if e.is_berth() {
        assert_eq!(
            e.ok(&["info", "--format", "{{.DefaultRuntime}}"]).trim(),
            "berth"
        );
    }
}

/// A runtime added by the state root's daemon.json (dockerd's shape) is registered and runs
/// containers; a broken daemon.json is an error naming the file.
#[test]
fn daemon_json_adds_a_runtime() {
    let e = engine!();
    berth_only!(e, "the state root's daemon.json is berth's");
    let Some(runc) = which("runc") else {
        eprintln!("SKIP: no runc");
        return;
    };
    let img = e.img().to_string();
    let cfg = e.path().join("root/daemon.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"runtimes": {{"myrunc": {{"path": "{}"}}}}}}"#,
            runc.display()
        ),
    )
    .unwrap();
    let o = e.cmd(&["run", "--rm", "--runtime", "myrunc", &img, "echo", "mine"]);
    assert_eq!((o.code, o.stdout.trim()), (0, "mine"), "{o:?}");
    assert!(e.ok(&["info"]).contains("myrunc"));
    std::fs::write(&cfg, "{not json").unwrap();
    let o = e.cmd(&["run", "--rm", &img, "true"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("daemon.json"), "{o:?}");
}
