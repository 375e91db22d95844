//! berth pull/push against Debian's docker-registry, with images put there by
//! skopeo from an OCI layout built here, and read back byte-identical.

mod images_common;
use images_common::*;
use std::io::Write;
use std::process::Stdio;

fn roundtrip(auth: Option<(&str, &str)>) {
    if !have("skopeo") {
        eprintln!("skipped: skopeo is not installed");
        return;
    }
    let Some(reg) = Registry::start(auth) else {
        return;
    };
    let work = tmp();
    let layout = work.path().join("layout");
    busybox_layout(&layout, "v1");
    let a = &reg.addr;
    let mut cp = vec!["copy", "--dest-tls-verify=false"];
    let creds = auth.map(|(u, p)| format!("{u}:{p}"));
    if let Some(c) = &creds {
        cp.extend(["--dest-creds", c]);
    }
    let src = format!("docker://{a}/src/busybox:v1");
    let oci = format!("oci:{}:v1", layout.display());
    cp.extend([oci.as_str(), src.as_str()]);
    skopeo(&cp);

    let root = work.path().join("root");
    let docker_config = work.path().join("docker-config");
    let b = || {
        let mut c = berth(&root);
        c.env("DOCKER_CONFIG", &docker_config);
        c
    };
    let r = format!("{a}/src/busybox:v1");
    if let Some((u, p)) = auth {
        // without credentials: a clear error
        let o = b().args(["pull", &r]).output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("basic authentication required") || err.contains("unauthorized"),
            "{err}"
        );
        // a wrong password is refused by login
        let mut ch = b()
            .args(["login", a, "-u", u, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ch.stdin.take().unwrap().write_all(b"wrong\n").unwrap();
        assert!(!ch.wait_with_output().unwrap().status.success());
        let mut ch = b()
            .args(["login", a, "-u", u, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(format!("{p}\n").as_bytes())
            .unwrap();
        let out = ok(ch.wait_with_output().unwrap(), "berth login");
        assert!(out.contains("Login Succeeded"));
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(docker_config.join("config.json")).unwrap())
                .unwrap();
        assert!(cfg["auths"][a.as_str()]["auth"].is_string(), "{cfg}");
    }
    let out = ok(b().args(["pull", &r]).output().unwrap(), "berth pull");
    assert!(out.contains("Status: Downloaded image"), "{out}");
    let imgs = ok(b().args(["images"]).output().unwrap(), "berth images");
    assert!(
        imgs.contains(&format!("{a}/src/busybox")) && imgs.contains("v1"),
        "{imgs}"
    );
    // the pulled rootfs layers are unpacked and usable
    let insp = ok(
        b().args(["image", "inspect", &r]).output().unwrap(),
        "inspect",
    );
    let v: serde_json::Value = serde_json::from_str(&insp).unwrap();
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(v[0]["Config"]["Cmd"][0], "/bin/sh");
    assert!(v[0]["RepoDigests"][0]
        .as_str()
        .unwrap()
        .contains("@sha256:"));

    // push to another repository: the layers are mounted across repos
    let dst = format!("{a}/dst/copy:v2");
    ok(b().args(["tag", &r, &dst]).output().unwrap(), "berth tag");
    let o = b().args(["push", &dst]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let out = ok(o, "berth push");
    assert!(out.contains("digest: sha256:"), "{out}");
    assert!(
        stderr.contains("Mounted from src/busybox"),
        "no cross-repo mount: {stderr}"
    );

    // skopeo reads back byte-identical manifests and blobs
    let mut tls = vec!["--tls-verify=false"];
    if let Some(c) = &creds {
        tls.extend(["--creds", c]);
    }
    let raw = |r: &str| {
        let mut a = vec!["inspect", "--raw"];
        a.extend(tls.iter().copied());
        let r = format!("docker://{r}");
        a.push(&r);
        skopeo(&a)
    };
    assert_eq!(raw(&r), raw(&dst));
    let dirout = work.path().join("dir");
    let mut a2 = vec!["copy", "--src-tls-verify=false"];
    if let Some(c) = &creds {
        a2.extend(["--src-creds", c]);
    }
    let s = format!("docker://{dst}");
    let d = format!("dir:{}", dirout.display());
    a2.extend([s.as_str(), d.as_str()]);
    skopeo(&a2);
    let mut n = 0;
    for e in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let theirs = dirout.join(&name);
        if theirs.exists() {
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(&theirs).unwrap(),
                "blob {name} differs"
            );
            n += 1;
        }
    }
    assert_eq!(n, 3, "two layers and the config read back");
    assert_eq!(
        std::fs::read(dirout.join("manifest.json")).unwrap(),
        raw(&r).into_bytes(),
        "manifest differs"
    );

    // pulling again finds everything present; a pull of a missing tag fails clearly
    let o = b()
        .args(["pull", &format!("{a}/src/busybox:nope")])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    if auth.is_some() {
        let out = ok(b().args(["logout", a]).output().unwrap(), "logout");
        assert!(out.contains("Removing login credentials"), "{out}");
    }
}

#[test]
fn pull_push_anonymous() {
    roundtrip(None);
}

#[test]
fn pull_push_basic_auth() {
    if !have("htpasswd") {
        eprintln!("skipped: htpasswd (apache2-utils) is not installed");
        return;
    }
    roundtrip(Some(("berth", "s3cret")));
}
