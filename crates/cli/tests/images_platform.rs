//! `berth pull --platform` against a multi-platform image (an OCI index with
//! linux/amd64 and linux/arm64) that skopeo pushes to a docker-registry.

mod images_common;
use images_common::*;

/// An OCI layout whose `tag` is an index of an amd64 busybox image and an
/// arm64 image with a different layer and config.
fn multi_layout(dir: &std::path::Path, tag: &str) {
    let (am, ad) = write_image(dir, &[busybox_layer()], "amd64", "/bin/sh");
    let arm = layer_tar(&[
        ("etc/", vec![], 0o755),
        ("etc/arch", b"arm64\n".to_vec(), 0o644),
    ]);
    let (rm, rd) = write_image(dir, &[arm], "arm64", "/bin/true");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ad, "size": am.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": rd, "size": rm.len(),
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
        ]
    }))
    .unwrap();
    let id = sha256(&index);
    std::fs::write(dir.join("blobs/sha256").join(&id[7..]), &index).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id, "size": index.len(),
                           "annotations": {"org.opencontainers.image.ref.name": tag}}]
        }))
        .unwrap(),
    )
    .unwrap();
}

fn inspect(b: &dyn Fn() -> std::process::Command, r: &str) -> serde_json::Value {
    let out = ok(
        b().args(["image", "inspect", r]).output().unwrap(),
        "inspect",
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

#[test]
fn pull_selects_platform_from_index() {
    if !have("skopeo") {
        eprintln!("skipped: skopeo is not installed");
        return;
    }
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let work = tmp();
    let layout = work.path().join("layout");
    multi_layout(&layout, "v1");
    let a = &reg.addr;
    let dst = format!("docker://{a}/multi:v1");
    let src = format!("oci:{}:v1", layout.display());
    skopeo(&["copy", "--all", "--dest-tls-verify=false", &src, &dst]);

    let root = work.path().join("root");
    let b = || {
        let mut c = berth(&root);
        c.env("DOCKER_CONFIG", work.path().join("docker-config"));
        c
    };
    let r = format!("{a}/multi:v1");
    ok(b().args(["pull", &r]).output().unwrap(), "pull (default)");
    let amd = inspect(&b, &r);
    assert_eq!(amd["Architecture"], "amd64", "{amd}");
    assert_eq!(amd["Os"], "linux");

    let out = ok(
        b().args(["pull", "--platform", "linux/arm64", &r])
            .output()
            .unwrap(),
        "pull --platform linux/arm64",
    );
    assert!(out.contains("Status: Downloaded"), "{out}");
    let arm = inspect(&b, &r);
    assert_eq!(arm["Architecture"], "arm64", "{arm}");
    assert_eq!(arm["Config"]["Cmd"][0], "/bin/true");
    assert_ne!(arm["Id"], amd["Id"]);
    // both index entries resolve to the same repo digest (the index's)
    assert_eq!(arm["RepoDigests"][0], amd["RepoDigests"][0]);

    let o = b()
        .args(["pull", "--platform", "linux/s390x", &r])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{e}"
    );
    assert!(
        e.contains("linux/amd64") && e.contains("linux/arm64"),
        "{e}"
    );
    // the failed pull left the arm64 image tagged
    assert_eq!(inspect(&b, &r)["Architecture"], "arm64");
}
