//! `berth run --pid/--ipc/--network container:X` on the command line: the joiner sees the
//! other container's processes, shared memory and hostname; a stopped or private one is
//! refused with docker's words. Validated against docker with `BERTH_TEST_ENGINE=docker`.

use berth_e2e::engine;

#[test]
fn run_in_another_containers_namespaces() {
    let e = engine!();
    let img = e.img().to_string();
    let donor = e.name("donor");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &donor,
        "--ipc",
        "shareable",
        &img,
        "sh",
        "-c",
        "echo shared > /dev/shm/mark; exec sleep 600",
    ]);
    let other = format!("container:{donor}");
    let ps = e.ok(&["run", "--rm", "--pid", &other, &img, "ps", "-o", "pid,args"]);
    assert!(ps.lines().any(|l| l.trim() == "1 sleep 600"), "{ps}");
    let shm = e.ok(&["run", "--rm", "--ipc", &other, &img, "cat", "/dev/shm/mark"]);
    assert_eq!(shm, "shared\n");
    let host = e.ok(&["run", "--rm", "--network", &other, &img, "hostname"]);
    assert_eq!(host, e.ok(&["exec", &donor, "hostname"]));

    let stopped = e.name("stopped");
    e.ok(&["create", "--name", &stopped, &img, "true"]);
    let o = e.fails(&[
        "run",
        "--rm",
        "--pid",
        &format!("container:{stopped}"),
        &img,
        "true",
    ]);
    assert!(o.stderr.contains("is not running"), "{o:?}");
    let private = e.name("private");
    e.ok(&["run", "-d", "--name", &private, &img, "sleep", "600"]);
    let o = e.fails(&[
        "run",
        "--rm",
        "--ipc",
        &format!("container:{private}"),
        &img,
        "true",
    ]);
    assert!(o.stderr.contains("non-shareable IPC"), "{o:?}");
}
