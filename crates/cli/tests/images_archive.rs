//! save/load round trips, import, and interop with dockerd's save/load.

mod images_common;
use images_common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn import_busybox(root: &Path, work: &Path, tag: &str) -> String {
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh"));
    let tarball = work.join("rootfs.tar.gz");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-czf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = ok(
        berth(root)
            .arg("import")
            .arg(&tarball)
            .arg(tag)
            .args([
                "--change",
                "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]",
                "--change",
                "ENV FOO=bar",
            ])
            .output()
            .unwrap(),
        "berth import",
    );
    out.trim().to_string()
}

fn inspect(root: &Path, r: &str) -> serde_json::Value {
    let out = ok(
        berth(root).args(["image", "inspect", r]).output().unwrap(),
        "inspect",
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

#[test]
fn import_sets_config_and_history() {
    let work = tmp();
    let root = work.path().join("root");
    let id = import_busybox(&root, work.path(), "imported:1");
    let v = inspect(&root, "imported:1");
    assert_eq!(v["Id"], id);
    assert_eq!(
        v["Config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo hi"])
    );
    assert_eq!(v["Config"]["Env"], serde_json::json!(["FOO=bar"]));
    assert_eq!(v["RepoTags"], serde_json::json!(["imported:1"]));
    let h = ok(
        berth(&root)
            .args(["history", "imported:1"])
            .output()
            .unwrap(),
        "history",
    );
    assert!(h.starts_with("IMAGE") && h.contains("Imported from"), "{h}");
    let q = ok(
        berth(&root).args(["images", "-q"]).output().unwrap(),
        "images -q",
    );
    assert_eq!(q.trim(), &id[7..19]);
    let e = berth(&root)
        .args(["import", "/nonexistent", "x", "--change", "FROM y"])
        .output()
        .unwrap();
    assert!(!e.status.success());
    let bad = berth(&root)
        .args(["tag", "imported:1", "Bad:Name"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid reference"));
}

#[test]
fn save_load_round_trip() {
    let work = tmp();
    let a = work.path().join("a");
    let id = import_busybox(&a, work.path(), "rt:1");
    for fmt in ["docker-archive", "oci-archive"] {
        let b = work.path().join(format!("b-{fmt}"));
        // berth save | berth load
        let mut save = berth(&a)
            .args(["save", "--format", fmt, "rt:1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let load = berth(&b)
            .arg("load")
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        let out = ok(load, "berth load");
        assert!(out.contains("Loaded image: rt:1"), "{out}");
        let v = inspect(&b, "rt:1");
        assert_eq!(v["Id"], id, "{fmt}");
        assert_eq!(v["Config"]["Env"], serde_json::json!(["FOO=bar"]));
    }
}

/// dockerd on a temp data-root and socket; stopped and cleaned up on drop.
struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    sock: String,
}

impl Dockerd {
    fn start() -> Option<Dockerd> {
        if !have("dockerd") || !have("docker") {
            eprintln!("skipped: dockerd/docker not installed");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd")
            .tempdir_in("/tmp")
            .unwrap();
        let sock = format!("unix://{}", dir.path().join("d.sock").display());
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("d.pid"))
            .args([
                "-H",
                &sock,
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn();
        let Ok(child) = child else {
            eprintln!("skipped: dockerd could not start");
            return None;
        };
        let d = Dockerd { child, dir, sock };
        for _ in 0..60 {
            if d.docker(&["info"]).status.success() {
                return Some(d);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let log = std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default();
        eprintln!(
            "skipped: dockerd did not come up: {}",
            log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        );
        None
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(&self.sock)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        // unmount anything dockerd left below its roots, deepest first
        if let Ok(m) = std::fs::read_to_string("/proc/self/mountinfo") {
            let base = self.dir.path().to_string_lossy().into_owned();
            let mut mps: Vec<&str> = m
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.starts_with(&base))
                .collect();
            mps.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in mps {
                let _ = Command::new("umount").args(["-l", p]).status();
            }
        }
    }
}

#[test]
fn docker_save_loads_into_berth_and_berth_save_loads_into_docker() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: dockerd needs root");
        return;
    }
    let Some(d) = Dockerd::start() else { return };
    let work = tmp();
    let root = work.path().join("root");
    let id = import_busybox(&root, work.path(), "berth-made:1");
    // berth save -> docker load
    let arch = work.path().join("berth.tar");
    ok(
        berth(&root)
            .args(["save", "-o"])
            .arg(&arch)
            .arg("berth-made:1")
            .output()
            .unwrap(),
        "berth save",
    );
    ok(
        d.docker(&["load", "-i", arch.to_str().unwrap()]),
        "docker load",
    );
    let did = ok(
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "berth-made:1"]),
        "docker inspect",
    );
    assert_eq!(did.trim(), id, "docker sees another image id");
    // docker save -> berth load (retagged by docker, so the archive is docker's own)
    ok(
        d.docker(&["tag", "berth-made:1", "docker-made:2"]),
        "docker tag",
    );
    let darch = work.path().join("docker.tar");
    ok(
        d.docker(&["save", "-o", darch.to_str().unwrap(), "docker-made:2"]),
        "docker save",
    );
    let root2 = work.path().join("root2");
    let out = ok(
        berth(&root2)
            .args(["load", "-i"])
            .arg(&darch)
            .output()
            .unwrap(),
        "berth load",
    );
    assert!(out.contains("Loaded image: docker-made:2"), "{out}");
    let v = inspect(&root2, "docker-made:2");
    assert_eq!(v["Id"], id);
    assert_eq!(v["Config"]["Env"], serde_json::json!(["FOO=bar"]));
}
