//! `run`/`create` limit flags whose checks were kept in two places that had drifted apart:
//! the `--ulimit` names (the CLI's table had `as`, the engine's and docker's do not) and the swap
//! accounting probe (create's warning and `info`'s SwapLimit read different files).
//! Written against docker (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::engine;

/// `--ulimit as=...` is refused before anything is created, as docker refuses it ("invalid
/// ulimit type: as", exit 125: go-units leaves RLIMIT_AS out of its table). berth's CLI had
/// its own table with `as` and let the flag through to the engine, whose table refused it
/// only at start. A name in the table (`nofile`) reaches the process.
#[test]
fn ulimit_as_is_refused_like_docker_and_nofile_applies() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("as");
    let o = e.cmd(&[
        "run",
        "--name",
        &name,
        "--ulimit",
        "as=200000000:300000000",
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("invalid ulimit type: as"), "{o:?}");
    assert!(
        !e.container_names().contains(&name),
        "a refused run left a container: {:?}",
        e.container_names()
    );

    let o = e.cmd(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:1024",
        &img,
        "sh",
        "-c",
        "grep 'Max open files' /proc/self/limits",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    let fields: Vec<&str> = o.stdout.split_whitespace().collect();
    assert_eq!(
        fields,
        ["Max", "open", "files", "512", "1024", "files"],
        "{o:?}"
    );
}

/// `create --memory` without `--memory-swap` warns that swap is not limited exactly when `info`
/// says the host has no swap limit support: both ask the one probe.
#[test]
fn create_swap_warning_agrees_with_info_swap_limit() {
    let e = engine!();
    let img = e.img().to_string();
    let swap_limit = e.ok(&["info", "--format", "{{.SwapLimit}}"]);
    let swap_limit = match swap_limit.trim() {
        "true" => true,
        "false" => false,
        other => panic!("info SwapLimit is {other:?}"),
    };
    let name = e.name("mem");
    let o = e.cmd(&["create", "--name", &name, "--memory", "16m", &img, "true"]);
    assert_eq!(o.code, 0, "{o:?}");
    let warned = o.stderr.contains("does not support swap limit");
    assert_eq!(
        warned, !swap_limit,
        "info SwapLimit={swap_limit} but create warned={warned}: {o:?}"
    );
    e.ok(&["rm", &name]);
}
