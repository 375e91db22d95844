//! The escape battery run rootless (issue 17): the probes of tests/tests/escape.rs that apply to
//! a plain user's containers, run as a real unprivileged user (see tests/src/rootless.rs) under
//! both profiles; every attempt must be stopped. Besides, a rootless container's root cannot
//! touch a host file the user cannot (root's 0600 file bound in), nor signal host processes.
//! Validated against rootless podman with `BERTH_TEST_ENGINE=podman`.
//! Needs root, uidmap, busybox-static and gcc.

use berth_e2e::escape::{
    assert_stopped_in, attempt, parse_results, probe_bin, Attempt, HostSleeper, Profile,
};
use berth_e2e::rootless::{podman, User};
use std::os::unix::fs::PermissionsExt;

const WRITE: &[&str] = &["EROFS", "EACCES", "ENOENT", "EPERM"];
const MASKED: &[&str] = &["empty", "ENOENT", "EACCES"];
const EPERM: &[&str] = &["EPERM"];
/// In a user namespace some refusals come as EACCES or ENOSYS (seccomp) too.
const DENIED: &[&str] = &["EPERM", "EACCES", "ENOSYS"];

/// Runs the probe as `u` with `-v PROBE:/probe:ro` and `extra`.
fn run_as(
    u: &User,
    probe: &str,
    extra: &[&str],
    img: &str,
    p: Profile,
    specs: &[String],
) -> berth_e2e::escape::Results {
    let mount = format!("{probe}:/probe:ro");
    let mut args = vec!["run", "--rm", "--network", "none", "-v", &mount];
    args.extend(p.args());
    args.extend(extra);
    args.extend([img, "/probe"]);
    args.extend(specs.iter().map(String::as_str));
    let o = u.run(&args, None);
    let out = berth_e2e::cmd::Output {
        cmdline: format!("{args:?}"),
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        stdout_path: Default::default(),
        stderr_path: Default::default(),
        elapsed: Default::default(),
    };
    assert!(o.status.success(), "probe as {}: {out:?}", u.name);
    parse_results(p, out)
}

fn battery(host_pid: i32) -> Vec<Attempt> {
    // podman's seccomp profile lets a container make a nested user namespace and join a new
    // session keyring (both confined to the user's namespace); berth keeps docker's, which
    // refuses them
    let (nested, keyring): (&'static [&'static str], &'static [&'static str]) = if podman() {
        (&["ok", "EPERM"], &["ok", "EPERM", "ENOSYS"])
    } else {
        (EPERM, EPERM)
    };
    let mut a = vec![
        attempt("sysrq", WRITE),
        attempt("read_masked=/proc/keys", MASKED),
        attempt("read_masked=/proc/kcore", MASKED),
        attempt("read_masked=/proc/timer_list", MASKED),
        attempt("mount_proc", EPERM),
        attempt("mount_bind_root", EPERM),
        attempt("remount_root_rw", EPERM),
        attempt("fsopen", EPERM),
        attempt("umount=/proc/sys", EPERM),
        attempt("pivot_root", EPERM),
        attempt("clone_newuser", nested),
        attempt("setns=/proc/1/ns/mnt", EPERM),
        attempt("mknod_mem", &["EPERM", "EROFS"]),
        attempt("open_rw=/dev/mem", &["ENOENT"]),
        attempt("open_rw=/dev/kmsg", &["ENOENT"]),
        attempt("add_key", keyring),
        attempt("keyctl_join", keyring),
        attempt(format!("ptrace={host_pid}"), &["ESRCH"]),
        attempt(format!("kill={host_pid}"), &["ESRCH"]),
        attempt(format!("proc_mem={host_pid}"), &["ENOENT"]),
        attempt("kill_all", &["ok", "ESRCH"]),
        // a root-owned 0600 file bound in: the user's root cannot open it
        attempt("open_rw=/secret", &["EACCES"]),
        attempt("read_masked=/secret", &["EACCES"]),
    ];
    for p in [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/vm/overcommit_memory",
        "/sys/kernel/uevent_helper",
        "/sys/kernel/mm/ksm/run",
    ] {
        a.push(attempt(format!("write={p}"), WRITE));
    }
    for s in [
        "shocker",
        "bpf",
        "kexec_load",
        "init_module",
        "finit_module",
        "delete_module",
        "settime",
        "adjtimex",
        "swapon",
        "reboot",
        "iopl",
        "ioperm",
        "acct",
    ] {
        a.push(attempt(s, DENIED));
    }
    a
}

#[test]
fn rootless_escape_battery_is_contained() {
    let mut u = User::new("esc");
    let img = u.import_busybox();
    let probe = u.reachable(probe_bin()).display().to_string();
    // a secret of root's, bound into the containers
    let dir = std::env::temp_dir().join(format!("berth-rootless-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, "root-only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(dir.clone());
    let bind = format!("{}:/secret", secret.display());
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let mut host = HostSleeper::start();
    let attempts = battery(host.pid());
    let extra = ["-v", bind.as_str()];
    let all = assert_stopped_in(
        |p, specs| run_as(&u, &probe, &extra, &img, p, specs),
        &attempts,
    );
    // only stdio reaches the container
    for r in &all {
        let fds = run_as(&u, &probe, &[], &img, r.profile, &["fds".to_string()]);
        assert_eq!(
            fds.map.get("fds").map(String::as_str),
            Some("0,1,2"),
            "{fds:?}"
        );
    }
    assert!(host.alive(), "a rootless container killed a host process");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root-only");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
}
