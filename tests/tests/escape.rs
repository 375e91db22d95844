//! Escape battery: what a process inside a container tries in order to reach
//! the host, each attempt asserting that it was stopped with the expected
//! error and that the host is untouched.
//!
//! Inside containers the attempts are made by the probe (a static C program
//! built at test time from `tests/escape/probe.c`, bind-mounted at `/probe`),
//! under two profiles: a default `run`, and the seeds' pod security context
//! (`--user 1000 --cap-drop ALL --cap-add NET_BIND_SERVICE --read-only`).
//! From outside, the tests drive `cp`, volumes, image layers and networks as
//! an attacker controlling a container or an image would.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same battery
//! against dockerd, the reference: every attempt must fail there too (the
//! network tests want a daemon with its iptables rules, e.g. one in its own
//! network namespace).  Needs root and gcc (build-essential).

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_e2e::engine;
use berth_e2e::engine::{berth_bin, busybox_tar, Engine};
use berth_e2e::escape::{
    assert_all_stopped, attempt, dir_entries, fingerprint, image_archive, parse_results,
    probe_mount, run_probe, Attempt, HostSleeper, HostileTar, Profile, PROFILES,
};
use berth_e2e::net::{ip_on, Nets};

/// A write that the container must not get through: a read-only mount, no
/// permission, or no such file on this kernel.
const WRITE: &[&str] = &["EROFS", "EACCES", "ENOENT"];
/// A masked file: reads as empty, or is not there.
const MASKED: &[&str] = &["empty", "ENOENT", "EACCES"];
const EPERM: &[&str] = &["EPERM"];
/// A host pid seen from a container: there is no such process.
const NO_PROCESS: &[&str] = &["ESRCH"];

/// The container's writable places are not the host's.
#[test]
fn proc_sys_and_cgroup_writes_are_refused() {
    let e = engine!();
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let watched = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/overcommit_memory",
        "/proc/sys/net/ipv4/ip_forward",
    ];
    let before: Vec<_> = watched.iter().map(|p| read(p)).collect();
    let mut attempts = vec![
        attempt("sysrq", WRITE),
        attempt("read_masked=/proc/keys", MASKED),
        attempt("read_masked=/proc/timer_list", MASKED),
        attempt("read_masked=/proc/kcore", MASKED),
        attempt("read_masked=/proc/sched_debug", MASKED),
        attempt("cgroup_mkdir", WRITE),
        attempt("cgroup_release_agent", WRITE),
        attempt("cgroup_notify", WRITE),
        attempt("cgroup_procs", WRITE),
    ];
    for p in [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/vm/overcommit_memory",
        "/proc/sys/net/ipv4/ip_forward",
        "/sys/kernel/uevent_helper",
        "/sys/kernel/mm/ksm/run",
        "/sys/class/net/lo/mtu",
    ] {
        attempts.push(attempt(format!("write={p}"), WRITE));
    }
    assert_all_stopped(&e, &[], &attempts);
    let after: Vec<_> = watched.iter().map(|p| read(p)).collect();
    assert_eq!(before, after, "host sysctls changed: {watched:?}");
}

#[test]
fn mounts_namespaces_and_chroot_are_refused() {
    let e = engine!();
    // a host file a chroot escape would find
    let marker = e.path().join("chroot-marker");
    std::fs::write(&marker, "host").unwrap();
    let me = std::process::id();
    let attempts = [
        attempt("mount_proc", EPERM),
        attempt("mount_bind_root", EPERM),
        attempt("remount_root_rw", EPERM),
        attempt("mount_cgroup", EPERM),
        attempt("fsopen", EPERM),
        attempt("umount=/proc/sys", EPERM),
        attempt("umount=/proc/keys", EPERM),
        attempt("pivot_root", EPERM),
        attempt("userns_proc", EPERM),
        attempt("clone_newuser", EPERM),
        attempt("setns=/proc/1/ns/mnt", EPERM),
        attempt("setns=/proc/1/ns/net", EPERM),
        attempt("setns=/proc/1/ns/pid", EPERM),
        attempt(format!("setns=/proc/{me}/ns/mnt"), &["ENOENT"]),
        // the default capabilities include SYS_CHROOT: the climb works, but
        // ends at the container's root
        attempt(
            format!("chroot_escape={}", marker.display()),
            &["contained", "EPERM"],
        ),
    ];
    assert_all_stopped(&e, &[], &attempts);
}

#[test]
fn device_nodes_and_kernel_keyring_are_refused() {
    let e = engine!();
    let attempts = [
        // CAP_MKNOD is a default capability: the node may be made, the
        // device cgroup refuses the open
        attempt("mknod_mem", &["EPERM", "EROFS"]),
        attempt("mknod_disk", &["EPERM", "EROFS"]),
        attempt("open_rw=/dev/mem", &["ENOENT"]),
        attempt("open_rw=/dev/kmsg", &["ENOENT"]),
        attempt("open_rw=/dev/port", &["ENOENT"]),
        attempt("add_key", EPERM),
        attempt("keyctl_join", EPERM),
        attempt("request_key", EPERM),
    ];
    assert_all_stopped(&e, &[], &attempts);
}

#[test]
fn host_and_sibling_processes_are_out_of_reach() {
    let e = engine!();
    let mut host = HostSleeper::start();
    let sib = e.name("sibling");
    e.ok(&["run", "-d", "--name", &sib, e.img(), "sleep", "300"]);
    let sib_pid = e.inspect_f(&sib, "{{.State.Pid}}");
    let h = host.pid();
    let attempts = [
        attempt(format!("ptrace={h}"), NO_PROCESS),
        attempt(format!("ptrace={sib_pid}"), NO_PROCESS),
        attempt(format!("vm_read={h}"), &["EPERM", "ESRCH"]),
        attempt(format!("proc_mem={h}"), &["ENOENT"]),
        attempt(format!("proc_mem={sib_pid}"), &["ENOENT"]),
        attempt(format!("kill={h}"), NO_PROCESS),
        attempt(format!("kill={sib_pid}"), NO_PROCESS),
        // every process the container may signal: only its own
        attempt("kill_all", &["ok", "ESRCH"]),
    ];
    assert_all_stopped(&e, &[], &attempts);
    assert!(host.alive(), "a container killed host process {h}");
    assert_eq!(
        e.status(&sib).as_deref(),
        Some("running"),
        "a container killed its sibling"
    );
}

#[test]
fn privileged_syscalls_are_refused() {
    let e = engine!();
    let hostname = nix::unistd::gethostname().unwrap();
    let attempts = [
        // shocker: open_by_handle_at to the host filesystem's root inode
        attempt("shocker", EPERM),
        attempt("bpf", EPERM),
        attempt("perf_event_open", &["EPERM", "EACCES"]),
        attempt("kexec_load", EPERM),
        attempt("kexec_file_load", EPERM),
        attempt("init_module", EPERM),
        attempt("finit_module", EPERM),
        attempt("delete_module", EPERM),
        attempt("sethostname", EPERM),
        attempt("settime", EPERM),
        attempt("adjtimex", EPERM),
        attempt("swapon", EPERM),
        attempt("reboot", EPERM),
        attempt("iopl", EPERM),
        attempt("ioperm", EPERM),
        attempt("acct", EPERM),
        attempt("userfaultfd", EPERM),
    ];
    assert_all_stopped(&e, &[], &attempts);
    assert_eq!(nix::unistd::gethostname().unwrap(), hostname);
}

/// CVE-2024-21626 class: no engine or runtime fd reaches the container
/// process, through `run` or `exec`.
#[test]
fn only_stdio_reaches_run_and_exec() {
    let e = engine!();
    let fds = vec!["fds".to_string()];
    for profile in PROFILES {
        let r = run_probe(&e, profile, &[], &fds);
        assert_eq!(r.map.get("fds").map(String::as_str), Some("0,1,2"), "{r:?}");
        let c = e.name(&format!("fds-{profile:?}").to_lowercase());
        let mount = probe_mount();
        let mut args = vec!["run", "-d", "--name", &c, "-v", &mount];
        args.extend(profile.args());
        args.extend([e.img(), "sleep", "300"]);
        e.ok(&args);
        let r = parse_results(profile, e.cmd(&["exec", &c, "/probe", "fds"]));
        assert_eq!(r.map.get("fds").map(String::as_str), Some("0,1,2"), "{r:?}");
        e.ok(&["rm", "-f", &c]);
    }
}

/// CVE-2024-21626 ("leaky vessels"): a working directory given as
/// `/proc/self/fd/N` must never be a host directory an fd of the engine or
/// runtime points to, with `run -w` or `exec -w`; from there `../..` would
/// walk the host's tree.
#[test]
fn workdir_through_a_leaked_fd_stays_inside() {
    let e = engine!();
    let marker = e.path().join("leaky-marker");
    std::fs::write(&marker, "host-marker").unwrap();
    let read = format!(
        "cat ../../../../../../../..{} 2>/dev/null; true",
        marker.display()
    );
    let c = e.name("leaky");
    e.ok(&["run", "-d", "--name", &c, e.img(), "sleep", "300"]);
    for n in 3..=10 {
        let wd = format!("/proc/self/fd/{n}");
        for args in [
            vec!["run", "--rm", "-w", &wd, e.img(), "sh", "-c", &read],
            vec!["exec", "-w", &wd, &c, "sh", "-c", &read],
        ] {
            let o = e.cmd(&args);
            assert!(
                !o.stdout.contains("host-marker"),
                "a host file read from a leaked fd: {o:?}"
            );
        }
    }
}

/// The binaries that run containers, as they are on the host.
fn host_binaries(e: &Engine) -> Vec<PathBuf> {
    let names: &[&str] = if e.is_docker() {
        &[
            "dockerd",
            "containerd",
            "containerd-shim-runc-v2",
            "runc",
            "docker-init",
        ]
    } else {
        &[]
    };
    let mut v: Vec<PathBuf> = names
        .iter()
        .filter_map(|n| berth_e2e::api::which(n))
        .collect();
    if e.is_berth() {
        let b = berth_bin();
        v.push(b.with_file_name("berth-runtime"));
        v.push(b);
    }
    v.retain(|p| p.is_file());
    v
}

/// CVE-2019-5736: the container's /bin/sh becomes `#!/proc/self/exe`, so a
/// runtime that `exec`s it runs itself inside the container, where a
/// watcher tries to open that executable for writing; the host's binaries
/// must come out unchanged.
#[test]
fn runtime_binaries_survive_proc_self_exe_overwrite() {
    let e = engine!();
    let bins = host_binaries(&e);
    let before: Vec<_> = bins.iter().map(|b| fingerprint(b)).collect();
    let c = e.name("exe");
    let mount = probe_mount();
    // (seccomp unconfined: the watcher may also make a user namespace of its own, where it may
    // clear a detached mount's read-only flag, see probe.c's userns_write)
    e.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        &mount,
        e.img(),
        "sh",
        "-c",
        "rm /bin/sh && printf '#!/proc/self/exe\\n' > /bin/sh && chmod 755 /bin/sh \
         && echo armed && exec /probe exewatch=5",
    ]);
    e.wait_status(&c, "running", Duration::from_secs(20));
    for _ in 0..40 {
        if e.cmd(&["logs", &c]).stdout.contains("armed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..4 {
        // fails (the "shell" is the runtime itself); the watcher gets a go
        e.cmd(&["exec", &c, "/bin/sh"]);
        e.cmd(&["exec", &c, "/probe", "fds"]);
    }
    e.cmd_with(
        &["wait", &c],
        berth_e2e::cmd::Stdin::Null,
        Duration::from_secs(30),
    );
    let logs = e.ok(&["logs", &c]);
    let line = logs
        .lines()
        .find(|l| l.starts_with("exewatch"))
        .unwrap_or_else(|| panic!("no watcher result: {logs}"));
    eprintln!("watcher: {line}");
    // a sealed in-memory copy of the runtime may take the write harmlessly
    assert!(
        !line.contains("wrote") || line.contains("/memfd:"),
        "the container wrote to a runtime binary: {line}"
    );
    let after: Vec<_> = bins.iter().map(|b| fingerprint(b)).collect();
    assert_eq!(before, after, "host binaries changed: {bins:?}");
}

/// A host directory that must stay empty, and the container path that
/// would reach it through an escape.
fn host_dir(e: &Engine, name: &str) -> PathBuf {
    let d = e.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn assert_empty(dir: &Path) {
    assert_eq!(
        dir_entries(dir),
        Vec::<String>::new(),
        "{} was written from a container",
        dir.display()
    );
}

/// `cp` into a container resolves every path inside it: absolute and
/// relative symlinks to a host directory (also in a volume), `..`, and a
/// tar stream whose entries climb out or go through a symlink.
#[test]
fn cp_into_a_container_stays_inside() {
    let e = engine!();
    let target = host_dir(&e, "target");
    let t = target.display().to_string();
    let src = e.path().join("payload");
    std::fs::write(&src, "payload").unwrap();
    let s = src.display().to_string();
    let c = e.name("cpin");
    let script = format!(
        "mkdir -p /d {t} && ln -s {t} /abs && ln -s ../../../../../../../..{t} /d/rel \
         && ln -s / /root-link && ln -s {t} /vol/link && sleep 300"
    );
    // (a volume holding a symlink: resolved through the container's mounts)
    let vol = format!("{}:/vol", e.name("cpvol"));
    e.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &vol,
        e.img(),
        "sh",
        "-c",
        &script,
    ]);
    e.wait_status(&c, "running", Duration::from_secs(20));
    for dest in [
        "/abs/f1".to_string(),
        "/vol/link/f5".to_string(),
        "/abs/".to_string(),
        "/d/rel/f2".to_string(),
        format!("/root-link{t}/f3"),
        format!("/../../../../../..{t}/f4"),
    ] {
        e.cmd(&["cp", &s, &format!("{c}:{dest}")]);
    }
    let mut tar = HostileTar::new();
    tar.file(&format!("../../../../../../../..{t}/dotdot"), b"x")
        .symlink("lnk", &t)
        .file("lnk/through", b"x");
    e.cmd_stdin(&["cp", "-", &format!("{c}:/tmp")], &tar.bytes());
    assert_empty(&target);
    // the copies that went through landed in the container's own copy of
    // the path
    let inside = e.ok(&["exec", &c, "ls", &t]);
    assert!(
        inside.contains("f1") && inside.contains("f4") && inside.contains("f5"),
        "{inside}"
    );
}

/// `cp` out of a container never reads a host file through the container's
/// symlinks, and a second copy never writes through a symlink the first
/// one made on the host.
#[test]
fn cp_out_of_a_container_never_reaches_the_host() {
    let e = engine!();
    let secret_dir = host_dir(&e, "secret");
    let secret = secret_dir.join("s.txt");
    std::fs::write(&secret, "host-secret").unwrap();
    let target = host_dir(&e, "target");
    let (s, t, sd) = (secret.display(), target.display(), secret_dir.display());
    let c = e.name("cpout");
    let script = format!(
        "mkdir -p {sd} && echo container-side > {s} \
         && ln -s {s} /leak && ln -s ../../../../../../../..{s} /leak-rel \
         && mkdir /x && ln -s {t} /x/link && sleep 300"
    );
    e.ok(&["run", "-d", "--name", &c, e.img(), "sh", "-c", &script]);
    e.wait_status(&c, "running", Duration::from_secs(20));
    let out = host_dir(&e, "out");
    let cases: [(&[&str], String); 4] = [
        (&[], format!("{c}:/leak")),
        (&["-L"], format!("{c}:/leak")),
        (&["-L"], format!("{c}:/leak-rel")),
        (&[], format!("{c}:/../../../../../..{s}")),
    ];
    for (i, (flags, from)) in cases.iter().enumerate() {
        let dest = out.join(format!("copy{i}"));
        let mut args = vec!["cp"];
        args.extend(*flags);
        args.extend([from.as_str(), dest.to_str().unwrap()]);
        e.cmd(&args);
        // a symlink copied as a symlink is fine; a file must not hold the secret
        if let Ok(m) = std::fs::symlink_metadata(&dest) {
            if !m.file_type().is_symlink() {
                let got = std::fs::read_to_string(&dest).unwrap_or_default();
                assert!(
                    !got.contains("host-secret"),
                    "cp {flags:?} {from}: read the host file"
                );
            }
        }
    }
    // /x/link -> the host dir: copied out as a symlink; then the container
    // makes it a directory with a file, and the same copy again must replace
    // the host symlink, not write through it
    let xdest = out.join("x");
    e.ok(&["cp", &format!("{c}:/x"), xdest.to_str().unwrap()]);
    e.ok(&[
        "exec",
        &c,
        "sh",
        "-c",
        "rm /x/link && mkdir /x/link && echo pwn > /x/link/f",
    ]);
    e.cmd(&["cp", &format!("{c}:/x"), xdest.to_str().unwrap()]);
    e.cmd(&["cp", &format!("{c}:/x/."), xdest.to_str().unwrap()]);
    assert_empty(&target);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host-secret");
}

/// An image whose mount destination is a symlink to a host path, and a
/// volume holding such a symlink under which another mount goes
/// (CVE-2021-30465 class): the mounts land inside the container.
#[test]
fn mounts_through_symlinks_stay_inside() {
    let e = engine!();
    let target = host_dir(&e, "target");
    let t = target.display().to_string();
    let bind = host_dir(&e, "bind");
    // the busybox image with /data -> the host dir
    let img = if e.is_docker() {
        e.image_name("linkdata")
    } else {
        "escape-linkdata:latest".to_string()
    };
    let mut evil = HostileTar::new();
    evil.symlink("data", &t);
    let layer = evil.write(&e.path().join("linkdata.tar"));
    let archive = image_archive(e.path(), &img, &[busybox_tar(), &layer]);
    e.ok(&["load", "-i", archive.to_str().unwrap()]);
    let vol = e.name("vol");
    let bind_spec = format!("{}:/data", bind.display());
    for spec in [format!("{vol}:/data"), bind_spec] {
        // the write goes to the mount, in the container
        e.ok(&[
            "run",
            "--rm",
            "-v",
            &spec,
            &img,
            "sh",
            "-c",
            "echo pwn > /data/f",
        ]);
        assert_empty(&target);
    }
    // a volume with a symlink to the host dir, and a mount below it
    let v1 = e.name("v1");
    let v2 = e.name("v2");
    let a = format!("{v1}:/a");
    e.ok(&["run", "--rm", "-v", &a, e.img(), "ln", "-s", &t, "/a/link"]);
    let below = format!("{v2}:/a/link/sub");
    e.ok(&[
        "run",
        "--rm",
        "-v",
        &a,
        "-v",
        &below,
        e.img(),
        "sh",
        "-c",
        "echo pwn > /a/link/sub/f",
    ]);
    assert_empty(&target);
}

/// Layer tarballs with entries that climb out (`../`), absolute names,
/// files through absolute and relative symlinks, hard links to host files,
/// and /proc and /sys as symlinks to a host dir: `import` and `load` write
/// nothing outside the image, and a container of it cannot write the host
/// file nor get a mount on the host dir.
#[test]
fn hostile_layers_write_nothing_outside() {
    let e = engine!();
    let target = host_dir(&e, "target");
    let t = target.display().to_string();
    let secret_dir = host_dir(&e, "secret");
    let secret = secret_dir.join("s.txt");
    std::fs::write(&secret, "host-secret").unwrap();
    let s = secret.display().to_string();
    let up = "../../../../../../../..";
    let mut layers: Vec<(&str, HostileTar)> = Vec::new();
    let mut l = HostileTar::new();
    l.file(&format!("{up}{t}/dotdot"), b"x");
    layers.push(("dotdot", l));
    let mut l = HostileTar::new();
    l.file(&format!("{t}/absolute"), b"x");
    layers.push(("absolute", l));
    let mut l = HostileTar::new();
    l.symlink("lnk", &t).file("lnk/through-abs", b"x");
    layers.push(("abs-link", l));
    let mut l = HostileTar::new();
    l.symlink("rlnk", &format!("{up}{t}"))
        .file("rlnk/through-rel", b"x");
    layers.push(("rel-link", l));
    let mut l = HostileTar::new();
    l.hardlink("hard", &s)
        .hardlink("hard-rel", &format!("{up}{s}"));
    layers.push(("hardlink", l));
    // CVE-2019-19921 class: the runtime mounts proc and sysfs over a host dir
    let mut l = HostileTar::new();
    l.symlink("proc", &t).symlink("sys", &t);
    layers.push(("proc-sys-links", l));
    let before = fingerprint(&secret);
    for (name, tar) in &layers {
        let path = tar.write(&e.path().join(format!("{name}.tar")));
        let (imported, loaded) = if e.is_docker() {
            (
                e.image_name(&format!("imp-{name}")),
                e.image_name(&format!("load-{name}")),
            )
        } else {
            (
                format!("escape-imp-{name}:latest"),
                format!("escape-load-{name}:latest"),
            )
        };
        e.cmd(&["import", path.to_str().unwrap(), &imported]);
        let archive = image_archive(e.path(), &loaded, &[busybox_tar(), &path]);
        if e.cmd(&["load", "-i", archive.to_str().unwrap()]).success() {
            e.cmd(&[
                "run",
                "--rm",
                &loaded,
                "sh",
                "-c",
                "for f in /hard /hard-rel; do [ -e $f ] && echo pwn > $f; done; true",
            ]);
        }
        assert_empty(&target);
        assert!(
            !e.mounts_under_root().contains(&t),
            "layer {name}: something was mounted on the host's {t}"
        );
        assert_eq!(
            fingerprint(&secret),
            before,
            "layer {name}: the host file changed"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().nlink(),
            1,
            "layer {name}: the host file was hard-linked into an image"
        );
    }
}

/// Network A with a web server `a1` that a container on A reaches by
/// address and by name (so the checks from elsewhere can fail).
struct NetA {
    a1: String,
    a_ip: String,
    a_gw: String,
    /// A shell pipeline GETting a1's page.
    get: String,
}

fn network_with_server(e: &Engine, nets: &Nets) -> NetA {
    let na = nets.create("na", &[]);
    let a1 = e.name("a1");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &a1,
        "--network",
        &na,
        e.img(),
        "sh",
        "-c",
        "mkdir /www && echo hello-a > /www/index.html && exec httpd -f -p 8080 -h /www",
    ]);
    let a_ip = ip_on(e, &a1, &na);
    // (busybox's static wget needs NSS libraries the image lacks)
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {a_ip} 8080");
    let same = e.ok(&[
        "run",
        "--rm",
        "--network",
        &na,
        e.img(),
        "sh",
        "-c",
        &format!(
            "ip route | sed -n 's/^default via \\([0-9.]*\\).*/gw=\\1/p'; \
                  for i in $(seq 50); do {get} | grep hello-a && break; sleep 0.2; done; \
                  nslookup {a1}"
        ),
    ]);
    assert!(same.contains("hello-a") && same.contains(&a_ip), "{same}");
    let a_gw = same
        .lines()
        .find_map(|l| l.strip_prefix("gw="))
        .unwrap_or_else(|| panic!("no default route: {same}"))
        .to_string();
    NetA {
        a1,
        a_ip,
        a_gw,
        get,
    }
}

/// A container on network B reaches nothing on network A, and cannot ask
/// network A's DNS (at A's gateway, berth's embedded resolver) for the names
/// on A (issue 13 hole 3; docker's resolver lives in each container's
/// namespace).
#[test]
fn user_networks_are_isolated_traffic_and_dns() {
    let e = engine!();
    let nets = Nets::new(&e);
    let a = network_with_server(&e, &nets);
    let nb = nets.create("nb", &[]);
    let other = e.cmd(&[
        "run",
        "--rm",
        "--network",
        &nb,
        e.img(),
        "sh",
        "-c",
        &format!(
            "{} | grep -q hello-a && echo REACHED-TCP; \
             ping -c 1 -W 2 {} >/dev/null 2>&1 && echo REACHED-PING; \
             timeout 6 nslookup {} {} 2>&1; true",
            a.get, a.a_ip, a.a1, a.a_gw
        ),
    ]);
    other.ok();
    assert!(
        !other.stdout.contains("REACHED"),
        "crossed networks: {other:?}"
    );
    assert!(
        !other.stdout.contains(&a.a_ip),
        "network B's container resolved {} through network A's DNS: {other:?}",
        a.a1
    );
}

/// CVE-2020-8558 class: a datagram to 127.0.0.1 sent to the gateway's MAC
/// over AF_PACKET (NET_RAW is a default capability) must not reach a host
/// service bound to the host's loopback (issue 13 hole 1).
#[test]
fn raw_packets_never_reach_host_loopback() {
    let e = engine!();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = format!("raw_localhost={port}");
    let attempts: [Attempt; 1] = [attempt(spec.clone(), &["sent", "EPERM"])];
    let res = assert_all_stopped(&e, &[], &attempts);
    assert_eq!(
        res[0].map[&spec], "sent",
        "the default profile has NET_RAW: {res:?}"
    );
    assert_eq!(res[1].profile, Profile::Pod);
    listener
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 64];
    if let Ok((n, from)) = listener.recv_from(&mut buf) {
        panic!(
            "the host's 127.0.0.1:{port} got {:?} from {from}, sent by a container",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}
