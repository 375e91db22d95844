//! `run`/`create` flags of issue 18 beyond devices: `--volumes-from`, `--cidfile`,
//! `--cgroup-parent`, `--annotation`, `--cgroupns`, `-q`, and the flags docker refuses on Linux.
//! Written against docker (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::{berth_only, engine};
use std::path::Path;

/// `--volumes-from NAME[:ro]`: the other container's volumes and binds, read-only with `:ro`.
#[test]
fn volumes_from_shares_volumes_and_binds() {
    let e = engine!();
    let img = e.img().to_string();
    let src = e.name("vsrc");
    let host = e.path().join("bind");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from-host\n").unwrap();
    let bind = format!("{}:/bind", host.display());
    e.ok(&[
        "create", "--name", &src, "-v", "/data", "-v", &bind, &img, "true",
    ]);
    let o = e.cmd(&[
        "run",
        "--rm",
        "--volumes-from",
        &src,
        &img,
        "sh",
        "-c",
        "cat /bind/f; echo shared > /data/x && echo rw",
    ]);
    assert_eq!((o.code, o.stdout.trim()), (0, "from-host\nrw"), "{o:?}");
    let ro = format!("{src}:ro");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--volumes-from",
        &ro,
        &img,
        "sh",
        "-c",
        "cat /data/x; touch /data/y 2>/dev/null || echo read-only",
    ]);
    assert_eq!((o.code, o.stdout.trim()), (0, "shared\nread-only"), "{o:?}");
    let o = e.cmd(&[
        "run",
        "--rm",
        "--volumes-from",
        &e.name("nope"),
        &img,
        "true",
    ]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
}

/// `--cidfile`: the id is written; an existing file is refused before anything is created.
#[test]
fn cidfile_written_and_existing_refused() {
    let e = engine!();
    let img = e.img().to_string();
    let cid = e.path().join("cid");
    let cid_s = cid.to_str().unwrap();
    let name = e.name("cid");
    e.ok(&["run", "--name", &name, "--cidfile", cid_s, &img, "true"]);
    let id = e.inspect_f(&name, "{{.Id}}");
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id);
    let o = e.cmd(&["run", "--rm", "--cidfile", cid_s, &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("container ID file found"), "{o:?}");
}

/// Removes a cgroup made under every v1 hierarchy, also on failure.
struct CgroupGuard(String);
impl Drop for CgroupGuard {
    /// Removes the parent from every cgroup hierarchy mounted, wherever it is (crun's hosts
    /// mount hugetlb's outside /sys/fs/cgroup).
    fn drop(&mut self) {
        for h in berth_e2e::cgroup_mount_points() {
            let _ = std::fs::remove_dir(h.join(&self.0));
        }
    }
}

/// `--cgroup-parent`: the container's cgroup goes under it; annotations are kept.
#[test]
fn cgroup_parent_and_annotation() {
    let e = engine!();
    let img = e.img().to_string();
    let parent = e.name("cgp");
    let _guard = CgroupGuard(parent.clone());
    let name = e.name("cgpc");
    // --annotation needs API 1.43 (dockerd 20.10 has 1.41)
    let parent_path = format!("/{parent}");
    let mut args = vec!["run", "--name", &name, "--cgroup-parent", &parent_path];
    if e.is_berth() {
        args.extend_from_slice(&["--annotation", "org.example.k=v"]);
    }
    args.extend_from_slice(&[&img, "cat", "/proc/self/cgroup"]);
    let o = e.cmd(&args);
    assert_eq!(o.code, 0, "{o:?}");
    let pids = o
        .stdout
        .lines()
        .find(|l| l.contains(":pids:"))
        .unwrap_or_default();
    assert!(pids.contains(&format!(":/{parent}/")), "{o:?}");
    if e.is_berth() {
        assert_eq!(
            e.inspect_f(&name, "{{index .HostConfig.Annotations \"org.example.k\"}}"),
            "v"
        );
    }
    e.ok(&["rm", &name]);
}

/// In the host's cgroup namespace on a v1 host, each /sys/fs/cgroup/<hierarchy> of the
/// container is its own cgroup (the runtime binds it from the host), not the runtime's: the
/// memory limit set shows there.
#[test]
fn host_cgroupns_shows_the_containers_own_cgroup() {
    let e = engine!();
    if !Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        eprintln!("skipped: no cgroup v1 memory hierarchy");
        return;
    }
    let img = e.img().to_string();
    let limit = e.ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "host",
        "--memory",
        "64m",
        &img,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    assert_eq!(limit.trim(), "67108864");
}

/// `--cgroupns private`: the container has its own cgroup namespace, rooted at its cgroup so
/// /proc/self/cgroup shows `/` (`host`: the host's namespace and the full path).
#[test]
fn cgroupns_private() {
    let e = engine!();
    berth_only!(
        e,
        "runc cannot mount /sys/fs/cgroup in a private cgroupns on this hybrid host (hugetlb-v1)"
    );
    let img = e.img().to_string();
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let host_ns = host_ns.to_string_lossy();
    let ns = |mode: &str| {
        e.ok(&[
            "run",
            "--rm",
            "--cgroupns",
            mode,
            &img,
            "readlink",
            "/proc/self/ns/cgroup",
        ])
        .trim()
        .to_string()
    };
    assert_ne!(ns("private"), host_ns);
    assert_eq!(ns("host"), host_ns);
    let paths = |mode: &str| {
        let out = e.ok(&[
            "run",
            "--rm",
            "--cgroupns",
            mode,
            &img,
            "cat",
            "/proc/self/cgroup",
        ]);
        out.lines()
            .map(|l| l.splitn(3, ':').nth(2).unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let private = paths("private");
    assert!(private.iter().all(|p| p == "/"), "{private:?}");
    let host = paths("host");
    assert!(host.iter().any(|p| p != "/"), "{host:?}");
    let o = e.cmd(&["run", "--rm", "--cgroupns", "bogus", &img, "true"]);
    assert_ne!(o.code, 0, "{o:?}");
    // no flag: dockerd's default mode, as inspect shows it (private on a cgroup v2 host)
    let name = e.name("cgns-default");
    e.ok(&["create", "--name", &name, &img, "true"]);
    let mode = e.ok(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", &name]);
    let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    assert_eq!(mode.trim(), if v2 { "private" } else { "host" });
    e.ok(&["rm", &name]);
}

/// What docker refuses on Linux is refused, with nothing created.
#[test]
fn linux_refusals() {
    let e = engine!();
    let img = e.img().to_string();
    for args in [
        &["--cpu-count", "2"][..],
        &["--io-maxiops", "10"][..],
        &["--storage-opt", "size=1G"][..],
    ] {
        let name = e.name("refused");
        let mut a = vec!["run", "--name", &name];
        a.extend_from_slice(args);
        a.extend_from_slice(&[&img, "true"]);
        let o = e.cmd(&a);
        assert_ne!(o.code, 0, "{args:?} accepted: {o:?}");
        assert!(!e.container_names().contains(&name), "{args:?}");
    }
}

/// `create -a STREAM`: only the named streams are attached (Config.Attach*).
#[test]
fn create_attach_streams() {
    let e = engine!();
    let img = e.img().to_string();
    let name = e.name("att");
    e.ok(&["create", "-a", "stdout", "--name", &name, &img, "true"]);
    assert_eq!(
        e.inspect_f(
            &name,
            "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}"
        ),
        "false true false"
    );
    let o = e.cmd(&["create", "-a", "bogus", &img, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr
            .contains("valid streams are STDIN, STDOUT and STDERR"),
        "{o:?}"
    );
}

/// A tmpfs mounted at a path for the test, with a propagation mode, unmounted at drop.
struct TestMount(std::path::PathBuf);

impl TestMount {
    fn new(path: std::path::PathBuf, propagation: &str) -> TestMount {
        std::fs::create_dir_all(&path).unwrap();
        let sh = |args: &[&str]| {
            let st = std::process::Command::new("mount")
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "mount {args:?}");
        };
        let p = path.to_str().unwrap();
        sh(&["-t", "tmpfs", "tmpfs", p]);
        let m = TestMount(path.clone());
        sh(&[&format!("--make-{propagation}"), p]);
        m
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// `:rshared`/`:rslave` binds need a source on a shared (or slave) mount, as dockerd checks at
/// start: on a private one the propagation could not happen, so the start is refused with the
/// path named, and nothing is left running.
#[test]
fn shared_propagation_needs_a_shared_source() {
    let e = engine!();
    let img = e.img().to_string();
    let private = TestMount::new(e.path().join("private"), "private");
    let shared = TestMount::new(e.path().join("shared"), "shared");
    let bind = |m: &TestMount, mode: &str| format!("{}:/x:{mode}", m.0.display());
    let o = e.cmd(&[
        "run",
        "--rm",
        "-v",
        &bind(&private, "rshared"),
        &img,
        "true",
    ]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains("is mounted on") && o.stderr.contains("not a shared mount"),
        "{o:?}"
    );
    let o = e.cmd(&["run", "--rm", "-v", &bind(&private, "rslave"), &img, "true"]);
    assert!(o.stderr.contains("not a shared or slave mount"), "{o:?}");
    for mode in ["rshared", "rslave"] {
        let o = e.cmd(&["run", "--rm", "-v", &bind(&shared, mode), &img, "true"]);
        assert_eq!(o.code, 0, "{mode}: {o:?}");
    }
    let o = e.cmd(&["ps", "-aq"]);
    assert!(o.stdout.trim().is_empty(), "{o:?}");
}
