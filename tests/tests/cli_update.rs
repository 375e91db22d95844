//! `update`: a running container's limits change at once (seen from inside its cgroup), the
//! record keeps them, and the restart policy changes. Written against docker
//! (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::engine;

#[test]
fn update_changes_running_limits_and_restart_policy() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("upd");
    e.ok(&[
        "run", "-d", "--name", &name, "-m", "64m", &img, "sleep", "60",
    ]);
    let o = e.ok(&[
        "update",
        "-m",
        "96m",
        "--memory-swap",
        "192m",
        "--pids-limit",
        "33",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:2",
        &name,
    ]);
    assert_eq!(o.trim(), name);
    let read = |f: &str| e.ok(&["exec", &name, "cat", f]).trim().to_string();
    assert_eq!(
        read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        (96 << 20).to_string()
    );
    assert_eq!(read("/sys/fs/cgroup/pids/pids.max"), "33");
    assert_eq!(read("/sys/fs/cgroup/cpu/cpu.shares"), "512");
    assert_eq!(
        e.inspect_f(
            &name,
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        format!("{} 33 on-failure 2", 96 << 20)
    );
    // container update is the same command; a missing container fails with docker's words
    e.ok(&["container", "update", "--cpus", "0.5", &name]);
    assert_eq!(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), "50000");
    let o = e.cmd(&["update", "-m", "32m", &e.name("nope")]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
    e.ok(&["rm", "-f", &name]);
}
