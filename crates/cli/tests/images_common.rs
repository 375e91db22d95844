#![allow(dead_code)]
//! Helpers for the berth image end-to-end tests: the binary, a busybox OCI
//! layout, a docker-registry on a free port, all cleaned up by Drop guards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn berth(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("--root").arg(root);
    c
}

pub fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn tar_layer(entries: &[(&str, Vec<u8>, u32)], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, mode) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
    }
    for (name, target) in links {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}

/// Build an OCI image layout holding a two-layer busybox-static image tagged `tag`.
pub fn busybox_layout(dir: &Path, tag: &str) {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static at /bin/busybox");
    let l1 = tar_layer(
        &[
            ("bin/", vec![], 0o755),
            ("bin/busybox", bb, 0o755),
            ("etc/", vec![], 0o755),
        ],
        &[("bin/sh", "busybox"), ("bin/ls", "busybox")],
    );
    let l2 = tar_layer(
        &[("etc/hello", b"hello from layer 2\n".to_vec(), 0o644)],
        &[],
    );
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let d = sha256(b);
        std::fs::write(blobs.join(&d[7..]), b).unwrap();
        d
    };
    let mut layers = vec![];
    let mut diff_ids = vec![];
    for l in [&l1, &l2] {
        diff_ids.push(sha256(l));
        let gz = gzip(l);
        layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(&gz), "size": gz.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "created": "2024-05-06T07:08:09Z", "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "busybox-static"}, {"created_by": "hello"}]
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
        "layers": layers
    }))
    .unwrap();
    let md = put(&manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(),
                           "annotations": {"org.opencontainers.image.ref.name": tag}}]
        }))
        .unwrap(),
    )
    .unwrap();
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A docker-registry process on 127.0.0.1; killed and its data removed on drop.
pub struct Registry {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// None (with a message) when docker-registry is not installed.
    pub fn start(auth: Option<(&str, &str)>) -> Option<Registry> {
        if !have("docker-registry") {
            eprintln!("skipped: docker-registry is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((u, p)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .expect("htpasswd (apache2-utils)");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let cfgp = dir.path().join("config.yml");
        std::fs::write(&cfgp, cfg).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfgp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let reg = Registry {
            addr,
            child,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&reg.addr).is_ok() {
                return Some(reg);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("docker-registry did not start on {}", reg.addr);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn skopeo(args: &[&str]) -> String {
    let o = Command::new("skopeo").args(args).output().expect("skopeo");
    ok(o, &format!("skopeo {args:?}"))
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path(p: &Path, s: &str) -> PathBuf {
    p.join(s)
}
