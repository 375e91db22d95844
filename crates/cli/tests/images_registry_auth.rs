//! The registry client against a fake registry + bearer-token server written
//! here: the token flow with basic credentials from `berth login`, token scopes
//! for cross-repository mounts, and blob downloads that break midway (resumed
//! with a Range request, or restarted, within bounded retries).

mod images_common;
use images_common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

struct Env {
    work: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env { work: tmp() }
    }
    fn b(&self, root: &str) -> Command {
        let mut c = berth(&self.work.path().join(root));
        c.env("DOCKER_CONFIG", self.work.path().join("docker-config"));
        c
    }
    fn login(&self, addr: &str, user: &str, pass: &str) -> std::process::Output {
        let mut ch = self
            .b("root")
            .args(["login", addr, "-u", user, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(format!("{pass}\n").as_bytes())
            .unwrap();
        ch.wait_with_output().unwrap()
    }
}

fn err_of(o: &std::process::Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    String::from_utf8_lossy(&o.stderr).to_lowercase()
}

fn serve_busybox(reg: &FakeRegistry, layout: &Path, repo: &str, tag: &str) -> String {
    let (m, d) = write_image(layout, &[busybox_layer()], "amd64", "/bin/sh");
    reg.state.lock().unwrap().add_image(layout, repo, tag, &m);
    d
}

#[test]
fn bearer_token_pull_push_mount_and_wrong_password() {
    let reg = FakeRegistry::start("berth", "s3cret");
    let env = Env::new();
    let layout = env.work.path().join("layout");
    let mdigest = serve_busybox(&reg, &layout, "team/bb", "v1");
    let a = &reg.addr;
    let r = format!("{a}/team/bb:v1");

    // anonymous: the token server refuses, a clear error and no image
    let e = err_of(&env.b("root").args(["pull", &r]).output().unwrap());
    assert!(e.contains("authentication"), "{e}");

    // a wrong password: login refused, and a config.json holding it fails the pull
    let e = err_of(&env.login(a, "berth", "wrong"));
    assert!(
        e.contains("authentication") || e.contains("unauthorized"),
        "{e}"
    );
    let cfg = env.work.path().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        serde_json::to_vec(&serde_json::json!({"auths": {a.as_str(): {
            "auth": base64_of("berth:wrong")}}}))
        .unwrap(),
    )
    .unwrap();
    let e = err_of(&env.b("root").args(["pull", &r]).output().unwrap());
    assert!(
        e.contains("authentication failed") && e.contains("401"),
        "{e}"
    );
    let imgs = ok(
        env.b("root").args(["images", "-q"]).output().unwrap(),
        "images",
    );
    assert!(imgs.trim().is_empty(), "an image was left behind: {imgs}");

    // the right one: login stores it, pull works with the bearer token
    let out = ok(env.login(a, "berth", "s3cret"), "berth login");
    assert!(out.contains("Login Succeeded"), "{out}");
    let out = ok(env.b("root").args(["pull", &r]).output().unwrap(), "pull");
    assert!(out.contains("Status: Downloaded image"), "{out}");
    let insp = ok(
        env.b("root")
            .args(["image", "inspect", &r])
            .output()
            .unwrap(),
        "inspect",
    );
    let v: serde_json::Value = serde_json::from_str(&insp).unwrap();
    assert_eq!(v[0]["Architecture"], "amd64");
    assert!(
        v[0]["RepoDigests"][0].as_str().unwrap().ends_with(&mdigest),
        "{insp}"
    );
    {
        let st = reg.state.lock().unwrap();
        assert!(
            st.token_requests
                .iter()
                .any(|q| q.contains("repository:team/bb:pull")),
            "{:?}",
            st.token_requests
        );
    }

    // push to another repository: the mount needs a token that also grants
    // pull on the source repository
    let dst = format!("{a}/team/copy:v2");
    ok(
        env.b("root").args(["tag", &r, &dst]).output().unwrap(),
        "tag",
    );
    let o = env.b("root").args(["push", &dst]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let out = ok(o, "berth push");
    assert!(out.contains("digest: sha256:"), "{out}");
    assert!(stderr.contains("Mounted from team/bb"), "{stderr}");
    let st = reg.state.lock().unwrap();
    // a mount is idempotent: a client may resend one whose answer a busy machine lost
    let distinct: std::collections::BTreeSet<&String> = st.mounts.iter().collect();
    assert_eq!(distinct.len(), 2, "{:?}", st.mounts);
    assert!(st
        .manifests
        .contains_key(&("team/copy".to_string(), "v2".to_string())));
}

fn base64_of(s: &str) -> String {
    use std::process::Command;
    let mut ch = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ch.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(ch.wait_with_output().unwrap().stdout).unwrap()
}

/// An image with the busybox layer and a ~6 MiB layer of noise; returns the
/// big layer's blob digest.
fn serve_big(reg: &FakeRegistry, layout: &Path, repo: &str) -> String {
    let big = layer_tar(&[("big", noise(6 << 20, 7), 0o644)]);
    let (m, _) = write_image(layout, &[busybox_layer(), big], "amd64", "/bin/sh");
    reg.state.lock().unwrap().add_image(layout, repo, "v1", &m);
    let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
    v["layers"][1]["digest"].as_str().unwrap().to_string()
}

#[test]
fn broken_blob_download_resumes_with_range() {
    let reg = FakeRegistry::start("berth", "s3cret");
    let env = Env::new();
    let big = serve_big(&reg, &env.work.path().join("layout"), "big");
    ok(env.login(&reg.addr, "berth", "s3cret"), "login");
    reg.state.lock().unwrap().cut.insert(big.clone(), Cut::Once);
    let r = format!("{}/big:v1", reg.addr);
    let out = ok(env.b("root").args(["pull", &r]).output().unwrap(), "pull");
    assert!(out.contains("Status: Downloaded image"), "{out}");
    let st = reg.state.lock().unwrap();
    assert_eq!(st.range_requests.len(), 1, "{:?}", st.log);
    assert!(
        st.range_requests[0].starts_with(&big),
        "{:?}",
        st.range_requests
    );
    let gets = st
        .log
        .iter()
        .filter(|l| l.starts_with(&format!("GET /v2/big/blobs/{big}")))
        .count();
    assert_eq!(gets, 2, "{:?}", st.log);
}

#[test]
fn broken_blob_download_restarts_without_ranges_and_gives_up() {
    let reg = FakeRegistry::start("berth", "s3cret");
    let env = Env::new();
    let big = serve_big(&reg, &env.work.path().join("layout"), "big");
    ok(env.login(&reg.addr, "berth", "s3cret"), "login");
    {
        let mut st = reg.state.lock().unwrap();
        st.advertise_ranges = false;
        st.cut.insert(big.clone(), Cut::Once);
    }
    let r = format!("{}/big:v1", reg.addr);
    ok(env.b("root").args(["pull", &r]).output().unwrap(), "pull");
    {
        let st = reg.state.lock().unwrap();
        assert!(st.range_requests.is_empty(), "{:?}", st.range_requests);
        assert!(st.log.iter().all(|l| !l.contains("bytes=")), "{:?}", st.log);
    }
    // a blob that always breaks: bounded retries, a clear final error, no image
    let env2 = Env::new();
    ok(env2.login(&reg.addr, "berth", "s3cret"), "login");
    {
        let mut st = reg.state.lock().unwrap();
        st.advertise_ranges = true;
        st.cut.insert(big.clone(), Cut::Always);
        st.log.clear();
    }
    let e = err_of(&env2.b("root").args(["pull", &r]).output().unwrap());
    assert!(e.contains("giving up after"), "{e}");
    assert!(e.contains("broke after"), "{e}");
    let imgs = ok(
        env2.b("root").args(["images", "-q"]).output().unwrap(),
        "images",
    );
    assert!(imgs.trim().is_empty(), "{imgs}");
    let st = reg.state.lock().unwrap();
    let gets = st
        .log
        .iter()
        .filter(|l| l.starts_with(&format!("GET /v2/big/blobs/{big}")))
        .count();
    assert!((2..=4).contains(&gets), "{:?}", st.log);
}

#[test]
fn large_blob_is_pushed_in_chunks() {
    let src = FakeRegistry::start("berth", "s3cret");
    let dst = FakeRegistry::start("other", "pw2");
    let env = Env::new();
    let big = layer_tar(&[("big", noise(17 << 20, 11), 0o644)]);
    let layout = env.work.path().join("layout");
    let (m, _) = write_image(&layout, &[big], "amd64", "/bin/sh");
    src.state
        .lock()
        .unwrap()
        .add_image(&layout, "big", "v1", &m);
    let layer = serde_json::from_slice::<serde_json::Value>(&m).unwrap()["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    ok(env.login(&src.addr, "berth", "s3cret"), "login src");
    ok(env.login(&dst.addr, "other", "pw2"), "login dst");
    let r = format!("{}/big:v1", src.addr);
    ok(env.b("root").args(["pull", &r]).output().unwrap(), "pull");
    let t = format!("{}/copy/big:v1", dst.addr);
    ok(env.b("root").args(["tag", &r, &t]).output().unwrap(), "tag");
    ok(env.b("root").args(["push", &t]).output().unwrap(), "push");
    let st = dst.state.lock().unwrap();
    assert!(st.patches >= 3, "{} PATCHes: {:?}", st.patches, st.log);
    let want = std::fs::read(layout.join("blobs/sha256").join(&layer[7..])).unwrap();
    assert_eq!(st.blobs["copy/big"][&layer], want);
    assert!(st
        .manifests
        .contains_key(&("copy/big".to_string(), "v1".to_string())));
}

/// A token server that hangs up on a request (as a registry closing a
/// kept-alive connection just as the request goes out) costs a retry, not
/// the pull.
#[test]
fn token_request_hung_up_on_is_sent_again() {
    let reg = FakeRegistry::start("berth", "s3cret");
    let env = Env::new();
    let layout = env.work.path().join("layout");
    serve_busybox(&reg, &layout, "team/bb", "v1");
    let a = &reg.addr;
    ok(env.login(a, "berth", "s3cret"), "berth login");
    reg.state.lock().unwrap().hang_up_tokens = 1;
    let r = format!("{a}/team/bb:v1");
    let out = ok(env.b("root").args(["pull", &r]).output().unwrap(), "pull");
    assert!(out.contains("Status: Downloaded image"), "{out}");
    let st = reg.state.lock().unwrap();
    assert_eq!(st.hang_up_tokens, 0, "the hang-up was not exercised");
    assert!(st.token_requests.len() >= 2, "{:?}", st.token_requests);
}
