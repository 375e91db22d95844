//! End-to-end tests of cp, diff, commit, export, top, stats, info, version and system prune
//! (root only: they run containers). Each test has its own state root with a busybox image
//! built here from /bin/busybox, and removes its containers and mounts even when it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn berth(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("--root").arg(root);
    c
}

fn out(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A state root with a `bb` busybox image; containers and mounts go away on drop.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Option<Env> {
        if !is_root() || !Path::new("/bin/busybox").exists() {
            eprintln!("skipped: needs root and /bin/busybox");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let e = Env { dir };
        let rootfs = e.work("rootfs");
        for d in ["bin", "etc", "tmp", "dev", "proc", "sys"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for a in String::from_utf8_lossy(&list.stdout).lines() {
            if a != "busybox" && !a.is_empty() {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a));
            }
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        let tarball = e.work("rootfs.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            // old mtimes, as a real image has: docker's diff compares directory mtimes in
            // whole seconds when one side has no nanoseconds (tar has none)
            .arg("--mtime=@1700000000")
            .arg("-cf")
            .arg(&tarball)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        out(
            e.berth()
                .args([
                    "import",
                    "--change",
                    "CMD [\"sh\"]",
                    "--change",
                    "ENV PATH=/bin",
                ])
                .arg(&tarball)
                .arg("bb:latest")
                .output()
                .unwrap(),
            "import",
        );
        Some(e)
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn work(&self, name: &str) -> PathBuf {
        let w = self.dir.path().join("work");
        std::fs::create_dir_all(&w).unwrap();
        w.join(name)
    }

    fn berth(&self) -> Command {
        berth(&self.root())
    }

    fn ok(&self, args: &[&str]) -> String {
        out(
            self.berth().args(args).output().unwrap(),
            &format!("berth {args:?}"),
        )
    }

    fn run(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().unwrap()
    }

    /// Overlay (or other) mounts left below the state root.
    fn mounts(&self) -> Vec<String> {
        let root = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&root))
            .collect()
    }

    fn mounts_of(&self, id: &str) -> usize {
        self.mounts().iter().filter(|m| m.contains(id)).count()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(o) = self.berth().args(["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self
                    .berth()
                    .args(["rm", "-f", id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // the test root's own default bridge (and any user network)
        let _ = self
            .berth()
            .args(["network", "prune", "-f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let mut ms = self.mounts();
        ms.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ms {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

#[test]
fn cp_in_and_out_of_running_and_stopped_containers() {
    let Some(e) = Env::new() else { return };
    let id = e.ok(&["run", "-d", "--name", "cpx", "bb", "sleep", "1000"]);
    let id = id.trim();
    let src = e.work("in.txt");
    std::fs::write(&src, "copied in\n").unwrap();
    let srcdir = e.work("tree");
    std::fs::create_dir_all(srcdir.join("sub")).unwrap();
    std::fs::write(srcdir.join("sub/f"), "deep\n").unwrap();

    // running: file in, read back with exec and with cp out
    e.ok(&["cp", src.to_str().unwrap(), "cpx:/tmp/"]);
    assert_eq!(e.ok(&["exec", "cpx", "cat", "/tmp/in.txt"]), "copied in\n");
    e.ok(&["cp", src.to_str().unwrap(), "cpx:/tmp/renamed"]);
    let back = e.work("back.txt");
    e.ok(&["cp", "cpx:/tmp/renamed", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");
    // a directory in, and its content (SRC/.) into an existing dir
    e.ok(&["cp", srcdir.to_str().unwrap(), "cpx:/tmp/"]);
    assert_eq!(e.ok(&["exec", "cpx", "cat", "/tmp/tree/sub/f"]), "deep\n");
    e.ok(&["exec", "cpx", "mkdir", "/opt"]);
    e.ok(&["cp", &format!("{}/.", srcdir.display()), "cpx:/opt"]);
    assert_eq!(e.ok(&["exec", "cpx", "cat", "/opt/sub/f"]), "deep\n");
    // a directory out to a new name
    let outdir = e.work("etc-copy");
    e.ok(&["cp", "cpx:/etc", outdir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(outdir.join("passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    // tar stream out
    let o = e.run(&["cp", "cpx:/tmp/in.txt", "-"]);
    assert!(o.status.success());
    let mut a = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .map(|x| x.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["in.txt"]);
    // errors worded as docker's
    let o = e.run(&["cp", "cpx:/nope", e.work("x").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("Could not find the file /nope"));
    let o = e.run(&["cp", src.to_str().unwrap(), "cpx:/nodir/"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such directory"));

    // stopped: the rootfs is mounted for the copy only
    e.ok(&["stop", "-t", "1", "cpx"]);
    assert_eq!(
        e.mounts_of(id),
        0,
        "rootfs of a stopped container stays unmounted"
    );
    std::fs::write(&src, "copied in while stopped\n").unwrap();
    e.ok(&["cp", src.to_str().unwrap(), "cpx:/tmp/stopped.txt"]);
    let back2 = e.work("back2.txt");
    e.ok(&["cp", "cpx:/tmp/stopped.txt", back2.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&back2).unwrap(),
        "copied in while stopped\n"
    );
    assert_eq!(e.mounts_of(id), 0, "cp unmounts what it mounted");
    e.ok(&["start", "cpx"]);
    assert_eq!(
        e.ok(&["exec", "cpx", "cat", "/tmp/stopped.txt"]),
        "copied in while stopped\n"
    );
}

#[test]
fn cp_never_leaves_the_container_through_symlinks() {
    let Some(e) = Env::new() else { return };
    let secret = e.work("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    let hostdir = e.work("hostdir");
    std::fs::create_dir_all(&hostdir).unwrap();
    e.ok(&["run", "-d", "--name", "esc", "bb", "sleep", "1000"]);
    let s = secret.to_str().unwrap();
    let h = hostdir.to_str().unwrap();
    e.ok(&[
        "exec",
        "esc",
        "sh",
        "-c",
        &format!(
            "ln -s {s} /abs; ln -s ../../../../../../../../..{s} /rel; ln -s {h} /evil; ln -s / /up"
        ),
    ]);
    let dst = e.work("got");
    for p in [
        "/abs",
        "/rel",
        &format!("/up{s}"),
        &format!("/evil/../../../..{s}"),
    ] {
        let o = e.run(&["cp", "-L", &format!("esc:{p}"), dst.to_str().unwrap()]);
        assert!(!o.status.success(), "cp -L esc:{p} must fail");
        assert!(!dst.exists(), "cp -L esc:{p} read the host");
    }
    // without -L a symlink is copied as a symlink
    e.ok(&["cp", "esc:/abs", dst.to_str().unwrap()]);
    assert!(std::fs::symlink_metadata(&dst)
        .unwrap()
        .file_type()
        .is_symlink());
    // writes through a planted symlink land inside the container
    let payload = e.work("payload");
    std::fs::write(&payload, "payload\n").unwrap();
    let _ = e.run(&["cp", payload.to_str().unwrap(), "esc:/evil/"]);
    let _ = e.run(&["cp", payload.to_str().unwrap(), "esc:/evil/x"]);
    let _ = e.run(&["cp", payload.to_str().unwrap(), &format!("esc:/up{h}/../")]);
    assert_eq!(
        std::fs::read_dir(&hostdir).unwrap().count(),
        0,
        "cp wrote into the host directory"
    );
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "host secret\n",
        "host file changed"
    );
    // a tar with an escaping entry is refused
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(4);
    hd.set_mode(0o644);
    hd.set_entry_type(tar::EntryType::Regular);
    {
        let name = b"../../../../../../tmp/berth-escape-test";
        let old = hd.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
    }
    hd.set_cksum();
    b.append(&hd, &b"evil"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let mut child = e
        .berth()
        .args(["cp", "-", "esc:/tmp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let st = child.wait().unwrap();
    assert!(!st.success());
    assert!(!Path::new("/tmp/berth-escape-test").exists());
}

#[test]
fn diff_commit_and_export() {
    let Some(e) = Env::new() else { return };
    e.ok(&["run", "-d", "--name", "dx", "bb", "sleep", "1000"]);
    e.ok(&[
        "exec",
        "dx",
        "sh",
        "-c",
        "echo new > /newfile; rm /etc/group",
    ]);
    let d = e.ok(&["diff", "dx"]);
    let lines: Vec<&str> = d.lines().collect();
    assert_eq!(lines, vec!["C /etc", "D /etc/group", "A /newfile"], "{d}");

    let id = e.ok(&[
        "commit",
        "-m",
        "added newfile",
        "-c",
        "ENV COMMITTED=yes",
        "dx",
        "bbnew:v1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let o = e.ok(&[
        "run",
        "--rm",
        "bbnew:v1",
        "sh",
        "-c",
        "cat /newfile; echo $COMMITTED; test -e /etc/group || echo nogroup",
    ]);
    assert_eq!(o, "new\nyes\nnogroup\n");
    let h = e.ok(&["history", "bbnew:v1"]);
    assert!(h.contains("added newfile"), "{h}");

    let tarball = e.work("export.tar");
    e.ok(&["export", "-o", tarball.to_str().unwrap(), "dx"]);
    let f = std::fs::File::open(&tarball).unwrap();
    let mut a = tar::Archive::new(f);
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .map(|x| x.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "newfile"), "{names:?}");
    assert!(!names.iter().any(|n| n == "etc/group"), "{names:?}");
    // export to stdout, of a stopped container
    e.ok(&["stop", "-t", "1", "dx"]);
    let o = e.run(&["export", "dx"]);
    assert!(o.status.success());
    let mut a = tar::Archive::new(&o.stdout[..]);
    assert!(a
        .entries()
        .unwrap()
        .any(|x| x.unwrap().path().unwrap().to_string_lossy() == "newfile"));
}

#[test]
fn top_and_stats() {
    let Some(e) = Env::new() else { return };
    let id = e.ok(&[
        "run", "-d", "--name", "tx", "--memory", "64m", "bb", "sleep", "1000",
    ]);
    let t = e.ok(&["top", "tx"]);
    let mut l = t.lines();
    let hdr: Vec<&str> = l.next().unwrap().split_whitespace().collect();
    assert_eq!(
        hdr,
        vec!["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert!(t.contains("sleep 1000"), "{t}");
    let s = e.ok(&["stats", "--no-stream"]);
    let mut l = s.lines();
    let hdr = l.next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(hdr.contains(col), "{hdr}");
    }
    let row = l.next().unwrap();
    assert!(row.starts_with(&id.trim()[..12]), "{row}");
    assert!(row.contains(" tx "), "{row}");
    assert!(row.contains("/ 64MiB"), "{row}");
    assert!(row.contains("0B / 0B"), "{row}");
    let f = e.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemPerc}}",
        "tx",
    ]);
    assert!(f.starts_with("tx 1 "), "{f}");
}

#[test]
fn info_version_and_system_prune() {
    let Some(e) = Env::new() else { return };
    let root = e.root();
    let i = e.ok(&["info"]);
    for want in [
        "Client:",
        "Server:",
        " Containers: 0",
        "  Running: 0",
        " Images: 1",
        " Logging Driver: json-file",
        " Cgroup Driver: cgroupfs",
        " OSType: linux",
        &format!(" Docker Root Dir: {}", root.display()),
    ] {
        assert!(i.contains(want), "missing {want:?} in\n{i}");
    }
    let j: serde_json::Value =
        serde_json::from_str(&e.ok(&["info", "--format", "{{json .}}"])).unwrap();
    for k in [
        "ID",
        "Containers",
        "ContainersRunning",
        "Images",
        "Driver",
        "MemTotal",
        "NCPU",
        "KernelVersion",
        "OperatingSystem",
        "CgroupVersion",
        "ServerVersion",
        "SecurityOptions",
    ] {
        assert!(j.get(k).is_some(), "info json lacks {k}");
    }
    assert_eq!(j["DockerRootDir"], root.to_string_lossy().as_ref());
    assert_eq!(j["OSType"], "linux");
    let v = e.ok(&["version"]);
    assert!(v.contains("API version:       1.47"), "{v}");
    assert!(v.contains("Go version:        rustc"), "{v}");
    let sv = e.ok(&["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(sv.trim(), env!("CARGO_PKG_VERSION"));
    let vj: serde_json::Value =
        serde_json::from_str(&e.ok(&["version", "--format", "{{json .}}"])).unwrap();
    assert_eq!(vj["Server"]["ApiVersion"], "1.47");

    let df = e.ok(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
    assert!(df.contains("Images "), "{df}");

    let c = e.ok(&["create", "--name", "gone", "bb", "true"]);
    e.ok(&["run", "-d", "--name", "stays", "bb", "sleep", "1000"]);
    let p = e.ok(&["system", "prune", "-f"]);
    assert!(p.contains("Deleted Containers:"), "{p}");
    assert!(p.contains(c.trim()), "{p}");
    assert!(p.contains("Total reclaimed space:"), "{p}");
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "stays");
}
