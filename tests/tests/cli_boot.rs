//! `berth system boot` after a simulated host reboot (every process of the state root killed,
//! the containers' processes with them): the `always` and `unless-stopped` containers run
//! again, a stopped `unless-stopped` one, an `on-failure` one and one without a policy do not.
//! berth only (dockerd restarts its containers itself when it starts); needs root.

use berth_e2e::engine::{pid_alive, pids_with_cmdline};
use berth_e2e::{berth_only, engine};
use std::time::{Duration, Instant};

fn kill_and_wait(pids: &[i32]) {
    for p in pids {
        unsafe {
            libc::kill(*p, libc::SIGKILL);
        }
    }
    let t = Instant::now();
    while pids.iter().any(|p| pid_alive(*p)) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{pids:?} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn system_boot_starts_what_restart_policies_say() {
    let e = engine!();
    berth_only!(e, "dockerd restarts its containers when it starts");
    let img = e.img().to_string();
    let root = e.root.clone().unwrap();
    let names: Vec<String> = ["always", "unless", "stopped", "onfail", "none"]
        .iter()
        .map(|n| e.name(n))
        .collect();
    let policies = [
        "always",
        "unless-stopped",
        "unless-stopped",
        "on-failure:3",
        "no",
    ];
    for (n, p) in names.iter().zip(policies) {
        e.ok(&[
            "run",
            "-d",
            "--name",
            n,
            "--restart",
            p,
            &img,
            "sleep",
            "600",
        ]);
    }
    e.ok(&["stop", "-t", "0", &names[2]]);
    let pids: Vec<i32> = names
        .iter()
        .filter_map(|n| e.inspect_f(n, "{{.State.Pid}}").parse().ok())
        .filter(|p| *p > 0)
        .collect();
    assert_eq!(pids.len(), 4);

    // the reboot: nothing of the state root survives, the containers' processes neither
    let mut victims = pids_with_cmdline(root.to_str().unwrap());
    victims.extend(&pids);
    kill_and_wait(&victims);

    let out = e.ok(&["system", "boot"]);
    let mut started: Vec<&str> = out.lines().collect();
    started.sort();
    let mut want = vec![names[0].as_str(), names[1].as_str()];
    want.sort();
    assert_eq!(started, want, "{out}");
    for (i, n) in names.iter().enumerate() {
        let st = e.inspect_f(n, "{{.State.Status}}");
        let pid: i32 = e.inspect_f(n, "{{.State.Pid}}").parse().unwrap();
        if i < 2 {
            assert_eq!(st, "running", "{n}");
            assert!(pid_alive(pid), "{n}: pid {pid}");
            assert!(!pids.contains(&pid), "{n} kept its old pid");
        } else {
            assert_eq!(st, "exited", "{n}");
        }
    }
    // a second boot has nothing to do
    assert_eq!(e.ok(&["system", "boot"]).trim(), "");
    e.ok(&[
        "rm", "-f", &names[0], &names[1], &names[2], &names[3], &names[4],
    ]);
}
