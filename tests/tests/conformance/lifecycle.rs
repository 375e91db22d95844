use super::*;

// ---------------------------------------------------------------- lifecycle

#[test]
fn lifecycle_state_transitions() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("life");
    env.create(&id, &b).ok();
    let st = env.state(&id).unwrap();
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("created container has a pid") as i32;
    assert!(pid > 0);
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} of a created container must exist"
    );
    env.start(&id).ok();
    let st = env.state(&id).unwrap();
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64), "pid changed by start");
    // The pid is the user process: its cmdline is our sh.
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.starts_with("sh\0-c\0"),
        "pid {pid} runs {cmdline:?}"
    );
    release(&b);
    env.wait_status(&id, "stopped", 10 * SEC);
    env.delete(&id).ok();
    let gone = env.state(&id);
    assert!(gone.is_err(), "state after delete must fail: {gone:?}");
}

#[test]
fn start_twice_fails() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("twice");
    env.create_start(&id, &b);
    env.start(&id).fails();
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    release(&b);
    env.wait_status(&id, "stopped", 10 * SEC);
    // Start of a stopped container fails too.
    env.start(&id).fails();
    env.delete(&id).ok();
}

#[test]
fn delete_running_without_force_fails() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("del");
    env.create_start(&id, &b);
    let pid = env.pid(&id);
    env.delete(&id).fails();
    // No effect on the container.
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(env.status(&id).as_deref(), Some("running"));
    // --force removes it.
    env.delete_force(&id).ok();
    assert!(env.state(&id).is_err());
    assert!(TestEnv::wait_for(5 * SEC, || !Path::new(&format!(
        "/proc/{pid}/cmdline"
    ))
    .exists()
        || std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .map(|c| c.is_empty())
            .unwrap_or(true)));
}

#[test]
fn delete_created_without_force_fails() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("delc");
    env.create(&id, &b).ok();
    // runtime.md "delete": "Attempting to delete a container that is not
    // stopped MUST have no effect on the container and MUST generate an
    // error."  runc deliberately deletes (kills) a container that is only
    // created (delete.go: `case libcontainer.Created: killContainer`).
    let del = env.delete(&id);
    runc_known_failure!(
        env,
        "runc deletes a created container without --force",
        || {
            del.fails();
            assert_eq!(env.status(&id).as_deref(), Some("created"));
            // Still startable.
            start_to_end(&env, &id, &b);
        }
    );
}

#[test]
fn kill_stopped_container_fails() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh("true");
    let id = env.id("ks");
    env.create_start(&id, &b);
    env.wait_status(&id, "stopped", 10 * SEC);
    // containerd's shim recognises an exited process by this wording (runc's
    // ErrNotRunning) and reports "process already finished" instead of an error.
    let out = env.kill(&id, "KILL");
    out.fails();
    assert!(
        out.stderr.contains("container not running"),
        "stderr must say \"container not running\": {out:?}"
    );
    env.kill(&id, "TERM").fails();
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
    env.delete(&id).ok();
}

/// containerd's shim runs `kill --all ID 9` after every container exit (to
/// reap what is left in its cgroup) and needs it to succeed, as runc's does,
/// or the CRI keeps the container RUNNING and every stop/remove fails.
#[test]
fn kill_all_of_stopped_container_succeeds() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.sh("true");
    let id = env.id("ka");
    env.create_start(&id, &b);
    env.wait_status(&id, "stopped", 10 * SEC);
    env.rt(&["kill", "--all", &id, "9"]).ok();
    env.rt(&["kill", "--all", &id, "KILL"]).ok();
    assert_eq!(env.status(&id).as_deref(), Some("stopped"));
    env.delete(&id).ok();
    // but not of a container that does not exist
    env.rt(&["kill", "--all", &id, "9"]).fails();
}

#[test]
fn kill_created_container_delivers() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("kc");
    env.create(&id, &b).ok();
    // runtime.md "kill": the container must be created or running.
    env.kill(&id, "KILL").ok();
    env.wait_status(&id, "stopped", 10 * SEC);
    env.delete(&id).ok();
}

#[test]
fn unknown_id_fails() {
    let env = test_env!();
    let id = env.id("nope");
    let st = env.state(&id);
    assert!(st.is_err(), "state of unknown id must fail: {st:?}");
    env.start(&id).fails();
    env.kill(&id, "KILL").fails();
    env.delete(&id).fails();
}

#[test]
fn create_with_existing_id_fails() {
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let b2 = waiting_bundle(&env, "b2");
    let id = env.id("dup");
    env.create(&id, &b).ok();
    let pid = env.pid(&id);
    env.create(&id, &b2).fails();
    // The first container is untouched.
    let st = env.state(&id).unwrap();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64));
    assert_eq!(st["bundle"].as_str(), b.dir.to_str());
    start_to_end(&env, &id, &b);
}

#[test]
fn state_json_fields() {
    let env = test_env!();
    let mut b = waiting_bundle(&env, "b");
    b.annotation("org.example.key", "value-1")
        .annotation("com.berth.test", "x y z");
    b.write();
    let id = env.id("st");
    // Relative bundle path: state must still report it absolute.
    env.track(&id);
    env.rt_in(env.path(), &["create", "--bundle", "b", &id])
        .ok();
    let st = env.state(&id).unwrap();
    assert!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{st}"
    );
    assert_eq!(st["id"], id.as_str(), "{st}");
    assert_eq!(st["status"], "created", "{st}");
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{st}");
    let bundle = st["bundle"].as_str().expect("bundle is a string");
    assert!(bundle.starts_with('/'), "bundle must be absolute: {st}");
    assert_eq!(
        std::fs::canonicalize(bundle).ok(),
        std::fs::canonicalize(&b.dir).ok(),
        "{st}"
    );
    assert_eq!(st["annotations"]["org.example.key"], "value-1", "{st}");
    assert_eq!(st["annotations"]["com.berth.test"], "x y z", "{st}");
    env.start(&id).ok();
    release(&b);
    env.wait_status(&id, "stopped", 10 * SEC);
    let st = env.state(&id).unwrap();
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(st["id"], id.as_str(), "{st}");
    env.delete(&id).ok();
}

/// A reader that went away (`state ID | head -c1`) ends `state` by SIGPIPE, as it ends runc:
/// no panic message, no abort.
#[test]
fn state_to_a_closed_pipe_ends_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let env = test_env!();
    let b = waiting_bundle(&env, "b");
    let id = env.id("pipe");
    env.track(&id);
    env.create(&id, &b).ok();
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(&env.rt.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["state", &id])
        .stdout(std::process::Stdio::from(writer))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}, stderr: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    start_to_end(&env, &id, &b);
}

/// Annotations of any size (Kubernetes' last-applied-configuration can pass 64 KiB) reach the
/// state: the runtime's internal messages carrying the state are not cut at a buffer's size.
#[test]
fn large_annotations_reach_the_state() {
    let env = test_env!();
    let mut b = waiting_bundle(&env, "b");
    let big = "x".repeat(100_000);
    b.annotation("org.example.big", &big);
    let id = env.id("bigann");
    env.track(&id);
    env.create(&id, &b).ok();
    let st = env.state(&id).unwrap();
    assert_eq!(
        st["annotations"]["org.example.big"].as_str().map(str::len),
        Some(100_000)
    );
    start_to_end(&env, &id, &b);
}
