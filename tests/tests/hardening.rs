//! Runtime hardening that runc has: a rootfs that tries to redirect /proc or /sys, --no-pivot
//! leaving the host's proc reachable, recursive read-only mounts, security settings the host
//! cannot apply, seccomp for startContainer hooks, stdio ownership, frozen cgroups.
//!
//! Validated against runc: BERTH_TEST_RUNTIME=runc cargo test -p berth-e2e --test hardening
//! (every check passes on runc 1.1.5 except the berth-only engine test, which says why).

use berth_e2e::{berth_only, engine, test_env, TestEnv};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);

/// CVE-2019-19921 class: /proc (or /sys) of the rootfs is a symlink, so proc would be mounted
/// (and the masked/read-only paths applied) somewhere else. runc refuses the rootfs.
#[test]
fn proc_or_sys_symlink_in_rootfs_is_refused() {
    let env = test_env!();
    for dir in ["proc", "sys"] {
        let mut b = env.bundle(&format!("b-{dir}"));
        let p = b.rootfs().join(dir);
        std::fs::remove_dir(&p).unwrap();
        std::fs::create_dir(b.rootfs().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("/elsewhere", &p).unwrap();
        b.sh("echo RAN");
        let out = env.run_once(&b);
        out.fails();
        assert!(!out.out().contains("RAN"), "{out:?}");
        assert!(
            out.stderr.contains(&format!("/{dir}")),
            "the error names /{dir}: {out:?}"
        );
        assert_eq!(
            std::fs::read_dir(b.rootfs().join("elsewhere"))
                .unwrap()
                .count(),
            0,
            "nothing was mounted through the symlink"
        );
    }
}

/// With --no-pivot the container is chrooted into a mount namespace that still has the host's
/// (unmasked) proc; the kernel lets a nested user+pid namespace mount a fresh proc as long as
/// one fully visible proc is mounted there, which is exactly what masked paths must prevent.
/// runc unmounts every host proc/sysfs before moving the rootfs.
#[test]
fn no_pivot_leaves_no_host_proc_for_a_nested_namespace() {
    let env = test_env!();
    let script = "unshare -Urpf --mount-proc true 2>/dev/null && echo MOUNTED || echo REFUSED";
    // Baseline with pivot_root: the container's proc has masked paths, so it is refused.
    let mut b = env.bundle("pivot");
    let out = env.sh(&mut b, script);
    out.ok();
    assert_eq!(out.out(), "REFUSED", "{out:?}");
    // Without masked/read-only paths the nested mount works: the probe can see a difference.
    let mut b = env.bundle("unmasked");
    b.edit(|v| {
        v["linux"]["maskedPaths"] = serde_json::json!([]);
        v["linux"]["readonlyPaths"] = serde_json::json!([]);
    });
    b.sh(script);
    let out = env.run_once(&b);
    out.ok();
    assert_eq!(out.out(), "MOUNTED", "{out:?}");

    let mut b = env.bundle("nopivot");
    b.sh(script);
    let id = env.id("np");
    let out = env.run_with(&id, &b, &["--no-pivot"]);
    out.ok();
    assert_eq!(out.out(), "REFUSED", "{out:?}");
}

fn mount_tmpfs(at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(at)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount tmpfs on {}", at.display());
}

/// `rro` (runtime-spec 1.1, runc 1.2): recursive read-only via mount_setattr(AT_RECURSIVE), so
/// the submounts of an rbind are read-only too; plain `ro` leaves them writable.
#[test]
fn rro_makes_submounts_read_only() {
    let env = test_env!();
    let src = env.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    mount_tmpfs(&src.join("sub"));
    let script = "touch /data/top 2>/dev/null && echo top-rw || echo top-ro; \
                  touch /data/sub/x 2>/dev/null && echo sub-rw || echo sub-ro";
    let mut b = env.bundle("ro");
    b.bind("/data", &src, &["rbind", "ro"]);
    let out = env.sh(&mut b, script);
    out.ok();
    assert_eq!(
        out.out(),
        "top-ro\nsub-rw",
        "plain ro is not recursive: {out:?}"
    );
    std::fs::remove_file(src.join("sub/x")).unwrap();

    let mut b = env.bundle("rro");
    b.bind("/data", &src, &["rbind", "rro"]);
    b.sh(script);
    let out = env.run_once(&b);
    out.ok();
    assert_eq!(out.out(), "top-ro\nsub-ro", "{out:?}");
    assert!(!src.join("sub/x").exists());
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// A confinement the host cannot apply fails the create with an error naming it, instead of
/// the container running unconfined.
#[test]
fn apparmor_or_selinux_the_host_lacks_fails_create() {
    let env = test_env!();
    if apparmor_enabled() {
        eprintln!("SKIP: AppArmor is enabled on this host");
    } else {
        let mut b = env.bundle("aa");
        b.edit(|v| v["process"]["apparmorProfile"] = "berth-test-profile".into());
        b.sh("echo RAN");
        let out = env.run_once(&b);
        out.fails();
        assert!(!out.out().contains("RAN"), "{out:?}");
        assert!(out.stderr.to_lowercase().contains("apparmor"), "{out:?}");
    }
    if selinux_enabled() {
        eprintln!("SKIP: SELinux is enabled on this host");
        return;
    }
    let mut b = env.bundle("se");
    b.edit(|v| v["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0".into());
    b.sh("echo RAN");
    let out = env.run_once(&b);
    out.fails();
    assert!(!out.out().contains("RAN"), "{out:?}");
    assert!(out.stderr.to_lowercase().contains("selinux"), "{out:?}");
}

/// startContainer hooks run in the container after the seccomp filter is loaded (runc 1.1.5
/// loads it before them, with or without no_new_privileges): a hook cannot do what the profile
/// denies.
#[test]
fn start_container_hooks_run_under_seccomp() {
    let env = test_env!();
    for nnp in [false, true] {
        let mut b = env.bundle(&format!("b-{nnp}"));
        b.no_new_privileges(nnp);
        b.edit(|v| {
            v["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            })
        });
        b.hook(
            "startContainer",
            serde_json::json!({"path": "/bin/mkdir", "args": ["mkdir", "/hook-made-this"]}),
        );
        b.sh("echo RAN");
        let id = env.id(&format!("h{nnp}"));
        env.create(&id, &b).ok();
        let _ = env.start(&id);
        TestEnv::wait_for(10 * SEC, || env.status(&id).as_deref() != Some("running"));
        assert!(
            !b.rootfs().join("hook-made-this").exists(),
            "no_new_privileges={nnp}: the hook ran without the container's seccomp filter"
        );
    }
}

/// Runs the bundle's process as uid 1000 with stdio that are pipes made by the caller, and
/// returns (stdout, stderr).
fn run_with_pipes(env: &TestEnv, b: &berth_e2e::Bundle, id: &str) -> (String, String) {
    b.write();
    env.track(id);
    let out = Command::new(&env.rt.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The process user owns its pty and its stdio pipes (it can reopen /dev/stdout), but the
/// runtime never chowns a host node it was handed: /dev/null, or a file stdout is redirected to.
#[test]
fn stdio_is_owned_by_the_process_user_host_nodes_untouched() {
    let env = test_env!();
    let mut b = env.bundle("pipes");
    b.user(1000, 1000);
    b.sh("echo via-reopen > /proc/self/fd/1 && echo ok >&2");
    let (out, err) = run_with_pipes(&env, &b, &env.id("p"));
    assert_eq!(out.trim(), "via-reopen", "{err}");

    // stdout redirected to a host file owned by root: it stays root's (runc chowns it).
    let file = env.path().join("host-file");
    std::fs::write(&file, "").unwrap();
    let mut b = env.bundle("file");
    b.user(1000, 1000);
    b.sh("echo hello");
    b.write();
    let id = env.id("f");
    env.track(&id);
    let st = Command::new(&env.rt.bin)
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle"])
        .arg(&b.dir)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&file).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello\n");
    // (runc 1.1.5 passes too: a foreground `runc run` relays stdio through pipes of its own.)
    assert_eq!(
        std::fs::metadata(&file).unwrap().uid(),
        0,
        "host file chowned"
    );
    assert_eq!(std::fs::metadata("/dev/null").unwrap().uid(), 0);
}

/// With a terminal the pty slave belongs to the process user, who can reopen it.
#[test]
fn terminal_is_owned_by_the_process_user() {
    let env = test_env!();
    let mut b = env.bundle("b");
    b.user(1000, 1000)
        .terminal(true)
        .sh("echo owner=$(stat -c %u $(readlink /proc/self/fd/0)); \
         echo reopen > /dev/stdout && echo REOPENED; echo END");
    let sock = berth_e2e::ConsoleSocket::bind(env.path());
    let id = env.id("t");
    env.create_with(&id, &b, &["--console-socket", sock.path_str()])
        .ok();
    let master = sock.master(10 * SEC);
    env.start(&id).ok();
    let out = master.read_until("END", 10 * SEC);
    assert!(out.contains("owner=1000"), "{out:?}");
    assert!(out.contains("REOPENED"), "{out:?}");
}

/// The container's freezer cgroup, made and frozen before `run`; thawed at drop, and removed
/// from every hierarchy (the runtime makes it in each one for the cgroupsPath).
struct FrozenCgroup {
    name: String,
    freezer: std::path::PathBuf,
}

impl FrozenCgroup {
    fn new(name: &str) -> Option<FrozenCgroup> {
        let freezer = Path::new("/sys/fs/cgroup/freezer");
        if !freezer.join("tasks").exists() {
            return None;
        }
        let dir = freezer.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
        Some(FrozenCgroup {
            name: name.to_string(),
            freezer: dir,
        })
    }
}

impl Drop for FrozenCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.freezer.join("freezer.state"), "THAWED");
        // let a thawed process left behind exit before its cgroup goes
        TestEnv::wait_for(5 * SEC, || {
            std::fs::read_to_string(self.freezer.join("cgroup.procs"))
                .map_or(true, |p| p.trim().is_empty())
        });
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(h.path().join(&self.name));
        }
    }
}

/// `run` into a cgroup that is already frozen must never hang: runc fails with "container's
/// cgroup unexpectedly frozen".
#[test]
fn run_into_a_frozen_cgroup_does_not_hang() {
    let env = test_env!();
    let name = format!("berth-e2e-frozen-{}", env.id("c"));
    let Some(_cg) = FrozenCgroup::new(&name) else {
        eprintln!("SKIP: no cgroup v1 freezer");
        return;
    };
    let mut b = env.bundle("b");
    b.edit(|v| v["linux"]["cgroupsPath"] = format!("/{name}").into());
    b.sh("echo RAN");
    let id = env.id("fz");
    b.write();
    env.track(&id);
    let out = env.rt_with(
        &["run", "--bundle", b.dir.to_str().unwrap(), &id],
        berth_e2e::cmd::Stdin::Null,
        20 * SEC,
    );
    assert!(
        out.success() && out.out().contains("RAN")
            || !out.success() && out.stderr.contains("frozen"),
        "{out:?}"
    );
}

/// `berth run --security-opt apparmor=PROFILE` on a host without AppArmor is refused before
/// anything runs (docker 20.10 drops the option in silence there: a divergence on purpose),
/// and a plain `berth run` asks for no profile, so it works on such a host.
#[test]
fn engine_refuses_apparmor_the_host_lacks() {
    let e = engine!();
    berth_only!(
        e,
        "dockerd ignores --security-opt apparmor= on a host without AppArmor"
    );
    if apparmor_enabled() {
        eprintln!("SKIP: AppArmor is enabled on this host");
        return;
    }
    let img = e.img().to_string();
    let o = e.cmd(&[
        "run",
        "--rm",
        "--security-opt",
        "apparmor=berth-test",
        &img,
        "echo",
        "RAN",
    ]);
    o.fails();
    assert!(!o.out().contains("RAN"), "{o:?}");
    assert!(o.stderr.contains("AppArmor is not enabled"), "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--security-opt",
        "label=type:x_t",
        &img,
        "echo",
        "RAN",
    ]);
    o.fails();
    assert!(o.stderr.contains("SELinux"), "{o:?}");
    let out = e.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "apparmor=unconfined",
        &img,
        "echo",
        "RAN",
    ]);
    assert_eq!(out.trim(), "RAN");
}

/// `process.cwd` of `/proc/self/fd/N` resolves through whatever fd N of the runtime's child
/// is when it enters the cwd; one that still names a host directory (its /proc, say) put the
/// process outside the container, free to walk up to the host's root (CVE-2024-21626). berth
/// ran `echo ran` with fd 4 there and listed the host's / from `..`. Whatever N, the process
/// never runs outside the root: the start is refused, or its cwd is inside the container.
#[test]
fn cwd_through_a_leaked_fd_never_leaves_the_root() {
    let env = test_env!();
    let marker = format!("host-only-{}", std::process::id());
    let host_file = Path::new("/").join(&marker);
    std::fs::write(&host_file, "x").unwrap();
    struct Rm<'a>(&'a Path);
    impl Drop for Rm<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    let _rm = Rm(&host_file);
    for n in 3..=16 {
        let mut b = env.bundle(&format!("b{n}"));
        b.cwd(&format!("/proc/self/fd/{n}"));
        // from any cwd outside the root, some number of `..` reaches the host's /
        let script = format!(
            "echo ran; for i in 1 2 3 4 5 6 7 8; do [ -e {marker} ] && echo ESCAPED; cd ..; done"
        );
        let out = env.sh(&mut b, &script);
        assert!(!out.out().contains("ESCAPED"), "fd {n}: {out:?}");
    }
}
