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

/// Pseudo-random bytes (xorshift), for layers gzip cannot shrink.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// A layer tar from `(path, contents, mode)` entries (a name ending in `/` is a directory).
pub fn layer_tar(entries: &[(&str, Vec<u8>, u32)]) -> Vec<u8> {
    tar_layer(entries, &[])
}

/// Write an image (gzipped `layers`, a config for `arch`) into `dir/blobs/sha256`;
/// returns the manifest bytes and digest.
pub fn write_image(dir: &Path, layers: &[Vec<u8>], arch: &str, cmd: &str) -> (Vec<u8>, String) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let d = sha256(b);
        std::fs::write(blobs.join(&d[7..]), b).unwrap();
        d
    };
    let mut descs = vec![];
    let mut diff_ids = vec![];
    for l in layers {
        diff_ids.push(sha256(l));
        let gz = gzip(l);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(&gz), "size": gz.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "created": "2024-05-06T07:08:09Z", "architecture": arch, "os": "linux",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
        "layers": descs
    }))
    .unwrap();
    let d = put(&manifest);
    (manifest, d)
}

/// The busybox-static layer alone (as in `busybox_layout`).
pub fn busybox_layer() -> Vec<u8> {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static at /bin/busybox");
    tar_layer(
        &[
            ("bin/", vec![], 0o755),
            ("bin/busybox", bb, 0o755),
            ("etc/", vec![], 0o755),
        ],
        &[("bin/sh", "busybox"), ("bin/true", "busybox")],
    )
}

/// How the fake registry breaks a blob download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// the first GET of the blob is closed after half its bytes
    Once,
    /// every GET of the blob is closed after half the bytes it should send
    Always,
}

/// What the fake registry holds and what it saw.
#[derive(Default)]
pub struct FakeState {
    pub user: String,
    pub pass: String,
    /// token -> the scopes it grants
    pub tokens: std::collections::HashMap<String, Vec<String>>,
    /// repo -> digest -> bytes
    pub blobs: std::collections::HashMap<String, std::collections::HashMap<String, Vec<u8>>>,
    /// (repo, tag or digest) -> (media type, bytes)
    pub manifests: std::collections::HashMap<(String, String), (String, Vec<u8>)>,
    /// upload id -> (repo, bytes so far)
    pub uploads: std::collections::HashMap<String, (String, Vec<u8>)>,
    pub cut: std::collections::HashMap<String, Cut>,
    pub advertise_ranges: bool,
    /// every request: "METHOD path [range]"
    pub log: Vec<String>,
    pub token_requests: Vec<String>,
    pub range_requests: Vec<String>,
    pub mounts: Vec<String>,
    pub patches: usize,
    /// hang up on this many token requests without answering (a registry
    /// closing a kept-alive connection just as a request goes out on it)
    pub hang_up_tokens: usize,
}

impl FakeState {
    /// Serve every blob of the image whose manifest is `manifest` from `layout` as `repo:tag`.
    pub fn add_image(&mut self, layout: &Path, repo: &str, tag: &str, manifest: &[u8]) {
        let m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        let blobs = self.blobs.entry(repo.to_string()).or_default();
        let mut ds = vec![m["config"]["digest"].as_str().unwrap().to_string()];
        for l in m["layers"].as_array().unwrap() {
            ds.push(l["digest"].as_str().unwrap().to_string());
        }
        for d in ds {
            let b = std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap();
            blobs.insert(d, b);
        }
        let mt = m["mediaType"].as_str().unwrap().to_string();
        self.manifests.insert(
            (repo.to_string(), tag.to_string()),
            (mt.clone(), manifest.to_vec()),
        );
        self.manifests.insert(
            (repo.to_string(), sha256(manifest)),
            (mt, manifest.to_vec()),
        );
    }
}

/// A registry plus bearer-token server in this process, speaking just enough
/// HTTP/1.1: `/v2/` answers 401 with a Bearer challenge whose realm is
/// `/token` here; `/token` hands out a token only for the right basic
/// credentials; manifests and blobs need `Authorization: Bearer <token>` with
/// the repository's scope. Blob GETs honour `Range: bytes=N-`.
pub struct FakeRegistry {
    pub addr: String,
    pub state: std::sync::Arc<std::sync::Mutex<FakeState>>,
}

struct Req {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn read_req(r: &mut impl std::io::BufRead) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut it = line.split_whitespace();
    let method = it.next()?.to_string();
    let target = it.next()?.to_string();
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let (path, qs) = target.split_once('?').unwrap_or((&target, ""));
    let query = qs
        .split('&')
        .filter(|x| !x.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect();
    let mut req = Req {
        method,
        path: path.to_string(),
        query,
        headers,
        body: vec![],
    };
    if let Some(n) = req.header("content-length") {
        let n: usize = n.parse().ok()?;
        let mut body = vec![0; n];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    }
    Some(req)
}

struct Resp {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// close the connection after this many body bytes
    cut_at: Option<usize>,
    /// a HEAD answer: Content-Length without a body
    head_len: Option<usize>,
    /// close the connection without answering
    hang_up: bool,
}

fn resp(status: &'static str) -> Resp {
    Resp {
        status,
        headers: vec![],
        body: vec![],
        cut_at: None,
        head_len: None,
        hang_up: false,
    }
}

impl Resp {
    fn h(mut self, k: &str, v: impl Into<String>) -> Resp {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    fn body(mut self, b: Vec<u8>) -> Resp {
        self.body = b;
        self
    }
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut o = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

impl FakeRegistry {
    pub fn start(user: &str, pass: &str) -> FakeRegistry {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let state = std::sync::Arc::new(std::sync::Mutex::new(FakeState {
            user: user.into(),
            pass: pass.into(),
            advertise_ranges: true,
            ..Default::default()
        }));
        let st = state.clone();
        let a = addr.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let a = a.clone();
                std::thread::spawn(move || serve_conn(conn, &st, &a));
            }
        });
        FakeRegistry { addr, state }
    }
}

fn serve_conn(conn: std::net::TcpStream, st: &std::sync::Mutex<FakeState>, addr: &str) {
    let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    while let Some(req) = read_req(&mut r) {
        let res = handle(&req, st, addr);
        if res.hang_up {
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        }
        let len = res.head_len.unwrap_or(res.body.len());
        let mut head = format!("HTTP/1.1 {}\r\nContent-Length: {len}\r\n", res.status);
        for (k, v) in &res.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if w.write_all(head.as_bytes()).is_err() {
            return;
        }
        let n = res.cut_at.unwrap_or(res.body.len());
        if w.write_all(&res.body[..n]).is_err() {
            return;
        }
        let _ = w.flush();
        if res.cut_at.is_some() {
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

fn granted(st: &FakeState, req: &Req, repo: &str, action: &str) -> bool {
    let Some(t) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return false;
    };
    let Some(scopes) = st.tokens.get(t) else {
        return false;
    };
    scopes.iter().any(|s| {
        let mut p = s.splitn(3, ':');
        p.next() == Some("repository")
            && p.next() == Some(repo)
            && p.next()
                .is_some_and(|acts| acts.split(',').any(|x| x == action))
    })
}

fn challenge(addr: &str, scope: Option<&str>) -> Resp {
    let mut c = format!("Bearer realm=\"http://{addr}/token\",service=\"fake-registry\"");
    if let Some(s) = scope {
        c.push_str(&format!(",scope=\"{s}\""));
    }
    resp("401 Unauthorized")
        .h("WWW-Authenticate", c)
        .h("Content-Type", "application/json")
        .body(
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
        )
}

fn handle(req: &Req, st: &std::sync::Mutex<FakeState>, addr: &str) -> Resp {
    let mut st = st.lock().unwrap();
    let range = req.header("range").map(str::to_string);
    st.log.push(format!(
        "{} {} {}",
        req.method,
        req.path,
        range.clone().unwrap_or_default()
    ));
    if req.path == "/token" {
        st.token_requests.push(format!("{:?}", req.query));
        if st.hang_up_tokens > 0 {
            st.hang_up_tokens -= 1;
            let mut r = resp("000 Hung up");
            r.hang_up = true;
            return r;
        }
        let want = format!("Basic {}", b64(&format!("{}:{}", st.user, st.pass)));
        if req.header("authorization") != Some(want.as_str()) {
            return resp("401 Unauthorized")
                .body(br#"{"details":"incorrect username or password"}"#.to_vec());
        }
        let scopes: Vec<String> = req
            .query
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .collect();
        let t = format!("tok{}", st.tokens.len() + 1);
        st.tokens.insert(t.clone(), scopes);
        // half the clients read `token`, the others `access_token`
        let body = serde_json::json!({"access_token": t, "expires_in": 300});
        return resp("200 OK")
            .h("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
    }
    if req.path == "/v2/" || req.path == "/v2" {
        let ok = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| st.tokens.contains_key(t));
        return if ok {
            resp("200 OK").body(b"{}".to_vec())
        } else {
            challenge(addr, None)
        };
    }
    let Some(rest) = req.path.strip_prefix("/v2/") else {
        return resp("404 Not Found");
    };
    let not_found = || {
        resp("404 Not Found")
            .h("Content-Type", "application/json")
            .body(br#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#.to_vec())
    };
    let read = req.method == "GET" || req.method == "HEAD";
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let action = if read { "pull" } else { "push" };
        if !granted(&st, req, repo, action) {
            let s = format!(
                "repository:{repo}:{}",
                if read { "pull" } else { "pull,push" }
            );
            return challenge(addr, Some(&s));
        }
        if req.method == "PUT" {
            let mt = req.header("content-type").unwrap_or("").to_string();
            let d = sha256(&req.body);
            st.manifests.insert(
                (repo.into(), reference.into()),
                (mt.clone(), req.body.clone()),
            );
            st.manifests
                .insert((repo.into(), d.clone()), (mt, req.body.clone()));
            return resp("201 Created").h("Docker-Content-Digest", d);
        }
        let Some((mt, b)) = st.manifests.get(&(repo.to_string(), reference.to_string())) else {
            return not_found();
        };
        let mut r = resp("200 OK")
            .h("Content-Type", mt.clone())
            .h("Docker-Content-Digest", sha256(b));
        if req.method == "HEAD" {
            r.head_len = Some(b.len());
        } else {
            r.body = b.clone();
        }
        return r;
    }
    if let Some((repo, id)) = rest.split_once("/blobs/uploads/") {
        if !granted(&st, req, repo, "push") {
            return challenge(addr, Some(&format!("repository:{repo}:pull,push")));
        }
        let id = id.trim_end_matches('/').to_string();
        if req.method == "POST" {
            if let (Some(d), Some(from)) = (req.q("mount"), req.q("from")) {
                let has = st.blobs.get(from).and_then(|b| b.get(d)).cloned();
                if let Some(b) = has.filter(|_| granted(&st, req, from, "pull")) {
                    st.mounts.push(format!("{d} from {from}"));
                    st.blobs.entry(repo.into()).or_default().insert(d.into(), b);
                    return resp("201 Created")
                        .h("Location", format!("/v2/{repo}/blobs/{d}"))
                        .h("Docker-Content-Digest", d);
                }
            }
            let id = format!("u{}", st.uploads.len() + 1);
            st.uploads.insert(id.clone(), (repo.into(), vec![]));
            return resp("202 Accepted")
                .h("Location", format!("/v2/{repo}/blobs/uploads/{id}"))
                .h("Range", "0-0");
        }
        let Some((urepo, mut data)) = st.uploads.remove(&id) else {
            return not_found();
        };
        assert_eq!(urepo, repo);
        if req.method == "PATCH" {
            if let Some(cr) = req.header("content-range") {
                let start: usize = cr.split('-').next().unwrap().parse().unwrap();
                if start != data.len() {
                    st.uploads.insert(id, (urepo, data));
                    return resp("416 Range Not Satisfiable");
                }
            }
            st.patches += 1;
        }
        data.extend_from_slice(&req.body);
        if req.method == "PATCH" {
            let n = data.len();
            st.uploads.insert(id.clone(), (urepo, data));
            return resp("202 Accepted")
                .h("Location", format!("/v2/{repo}/blobs/uploads/{id}"))
                .h("Range", format!("0-{}", n.saturating_sub(1)));
        }
        let d = req.q("digest").unwrap_or("").to_string();
        if sha256(&data) != d {
            return resp("400 Bad Request").body(
                br#"{"errors":[{"code":"DIGEST_INVALID","message":"digest invalid"}]}"#.to_vec(),
            );
        }
        st.blobs
            .entry(repo.into())
            .or_default()
            .insert(d.clone(), data);
        return resp("201 Created")
            .h("Location", format!("/v2/{repo}/blobs/{d}"))
            .h("Docker-Content-Digest", d);
    }
    if let Some((repo, d)) = rest.rsplit_once("/blobs/") {
        if !granted(&st, req, repo, "pull") {
            return challenge(addr, Some(&format!("repository:{repo}:pull")));
        }
        let Some(b) = st.blobs.get(repo).and_then(|m| m.get(d)).cloned() else {
            return not_found();
        };
        let mut r = resp("200 OK").h("Content-Type", "application/octet-stream");
        if st.advertise_ranges {
            r = r.h("Accept-Ranges", "bytes");
        }
        if req.method == "HEAD" {
            r.head_len = Some(b.len());
            return r;
        }
        let mut body = b.clone();
        if let Some(n) = range
            .as_deref()
            .and_then(|x| x.strip_prefix("bytes="))
            .and_then(|x| x.strip_suffix('-'))
            .and_then(|x| x.parse::<usize>().ok())
            .filter(|_| st.advertise_ranges)
        {
            st.range_requests.push(format!("{d} bytes={n}-"));
            r.status = "206 Partial Content";
            r = r.h(
                "Content-Range",
                format!("bytes {n}-{}/{}", b.len() - 1, b.len()),
            );
            body = b[n..].to_vec();
        }
        match st.cut.get(d).copied() {
            Some(Cut::Once) => {
                st.cut.remove(d);
                r.cut_at = Some(body.len() / 2);
            }
            Some(Cut::Always) => r.cut_at = Some(body.len() / 2),
            None => {}
        }
        return r.body(body);
    }
    not_found()
}
