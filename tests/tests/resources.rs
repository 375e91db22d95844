//! Resource limits through cgroups, as a user sees them: a memory limit ends in an OOM kill,
//! a paused container makes no progress, and nothing of the container's cgroup is left after
//! `delete`. Runtime under test: `BERTH_TEST_RUNTIME` (unset → berth-runtime, `runc` → runc).

use berth_e2e::test_env;
use std::time::{Duration, Instant};

fn cgroup_dirs(id: &str) -> Vec<String> {
    let mut found = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let mut stack = vec![h.path()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    if e.file_name().to_string_lossy() == id {
                        found.push(e.path().display().to_string());
                    }
                    if dir.components().count() < 7 {
                        stack.push(e.path());
                    }
                }
            }
        }
    }
    found
}

#[test]
fn memory_limit_ends_in_an_oom_kill() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.edit(|v| {
        v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 32 * 1024 * 1024}})
    });
    // The shell keeps 100 MB in a variable: far over the 32 MiB limit.
    let out = env.sh(
        &mut b,
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
    );
    assert_eq!(out.code, 137, "expected SIGKILL by the OOM killer: {out:?}");
    assert!(!out.out().contains("survived"), "{out:?}");
}

#[test]
fn paused_container_makes_no_progress_and_cgroup_is_removed() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done");
    let id = env.id("pause");
    env.create(&id, &b).ok();
    env.start(&id).ok();
    let count = b.rootfs().join("tmp/count");
    let read = || {
        std::fs::read_to_string(&count)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while read().is_none() {
        assert!(Instant::now() < deadline, "counter never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !cgroup_dirs(&id).is_empty(),
        "the container has no cgroup of its own"
    );
    env.rt(&["pause", &id]).ok();
    assert_eq!(env.state(&id).unwrap()["status"], "paused");
    std::thread::sleep(Duration::from_millis(100));
    let frozen = read().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(read().unwrap(), frozen, "the counter moved while paused");
    env.rt(&["resume", &id]).ok();
    assert_eq!(env.state(&id).unwrap()["status"], "running");
    let deadline = Instant::now() + Duration::from_secs(5);
    while read().unwrap_or(0) <= frozen {
        assert!(
            Instant::now() < deadline,
            "the counter did not move after resume"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    env.delete_force(&id).ok();
    assert_eq!(
        cgroup_dirs(&id),
        Vec::<String>::new(),
        "cgroup directories left after delete"
    );
}

#[test]
fn update_changes_limits_and_events_reports_stats() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh("sleep 30");
    let id = env.id("upd");
    env.create(&id, &b).ok();
    env.start(&id).ok();
    env.rt(&["update", "--pids-limit", "20", &id]).ok();
    let pids_dir = cgroup_dirs(&id)
        .into_iter()
        .find(|d| d.contains("/pids/"))
        .expect("no pids cgroup");
    let max = std::fs::read_to_string(format!("{pids_dir}/pids.max")).unwrap();
    assert_eq!(max.trim(), "20");
    let out = env.rt(&["events", "--stats", &id]);
    out.ok();
    let ev: serde_json::Value = serde_json::from_str(out.out().lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(ev["type"], "stats", "{ev}");
    assert_eq!(ev["id"], id.as_str(), "{ev}");
    assert!(
        ev["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "{ev}"
    );
    assert_eq!(ev["data"]["pids"]["limit"].as_u64(), Some(20), "{ev}");
    env.delete_force(&id).ok();
}
