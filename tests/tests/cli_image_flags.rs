//! Image flags of issue 18: `push/pull --all-tags`, `--platform` on history/save/rmi/image
//! inspect/import (berth keeps one platform per image: another is refused), `rmi --no-prune`,
//! `--disable-content-trust`; the tags `save` records. Uses a private docker-registry; berth only for the registry part
//! (a private dockerd would need it as an insecure registry); needs root.

use berth_e2e::api::Registry;
use berth_e2e::engine::Engine;
use berth_e2e::{berth_only, engine};

#[test]
fn push_and_pull_all_tags() {
    let e = engine!();
    berth_only!(
        e,
        "the private registry is not in dockerd's insecure-registries"
    );
    let reg = Registry::start(&e.path().join("registry"));
    let img = e.img().to_string();
    let repo = format!("{}/h18/alltags", reg.addr);
    for t in ["a", "b"] {
        e.ok(&["tag", &img, &format!("{repo}:{t}")]);
    }
    e.ok(&["push", "--all-tags", "--disable-content-trust", &repo]);
    e.ok(&["rmi", &format!("{repo}:a"), &format!("{repo}:b")]);
    let o = e.cmd(&["push", "-a", &format!("{repo}:a")]);
    assert_ne!(o.code, 0, "{o:?}");
    e.ok(&["pull", "-a", "-q", &repo]);
    let o = e.ok(&["images", "--format", "json", &repo]);
    let tags: Vec<String> = o
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["Tag"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tags.len(), 2, "{o}");
    assert!(
        tags.contains(&"a".to_string()) && tags.contains(&"b".to_string()),
        "{o}"
    );
}

#[test]
fn platform_selects_or_refuses() {
    let e = engine!();
    berth_only!(
        e,
        "the docker 28 client needs API 1.48 for --platform on these commands"
    );
    let img = e.img().to_string();
    let host = e
        .ok(&["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", &img])
        .trim()
        .to_string();
    let other = if host.ends_with("arm64") {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    e.ok(&["history", "-q", "--platform", &host, &img]);
    e.ok(&["image", "inspect", "--platform", &host, &img]);
    for args in [
        vec!["history", "--platform", other, &img],
        vec!["image", "inspect", "--platform", other, &img],
        vec!["save", "-o", "/dev/null", "--platform", other, &img],
        vec!["rmi", "--platform", other, &img],
    ] {
        let o = e.cmd(&args);
        assert_ne!(o.code, 0, "{args:?}: {o:?}");
        assert!(o.stderr.contains("platform"), "{args:?}: {o:?}");
    }
    // still there after the refused rmi; --no-prune removes as rmi does
    let t = e.image_name("noprune");
    e.ok(&["tag", &img, &t]);
    e.ok(&["rmi", "--no-prune", &t]);
    assert_ne!(e.cmd(&["image", "inspect", &t]).code, 0);
    e.ok(&["image", "inspect", &img]);
}

/// A push sends layers gzipped, as docker does (berth keeps a build's or an import's layers
/// as plain tars): the registry's manifest names gzip layers whose blobs are gzip, skopeo
/// copies them (checking every digest), and a pull of the pushed image runs.
#[test]
fn push_sends_gzipped_layers_that_skopeo_and_a_pull_read() {
    let e = engine!();
    berth_only!(
        e,
        "the private registry is not in dockerd's insecure-registries"
    );
    let reg = Registry::start(&e.path().join("registry"));
    let r = format!("{}/h19/gz:v1", reg.addr);
    e.ok(&["tag", e.img(), &r]);
    e.ok(&["push", "-q", &r]);
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{r}"))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{raw:?}");
    let m: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert!(!layers.is_empty(), "{m}");
    for l in layers {
        let mt = l["mediaType"].as_str().unwrap();
        assert!(mt.ends_with("gzip"), "layer pushed as {mt}: {m}");
    }
    let dir = e.path().join("skopeo-copy");
    let cp = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{r}"))
        .arg(format!("dir:{}", dir.display()))
        .output()
        .unwrap();
    assert!(cp.status.success(), "{cp:?}");
    for l in layers {
        let hex = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let blob = std::fs::read(dir.join(hex)).unwrap();
        assert_eq!(blob[..2], [0x1f, 0x8b], "layer {hex} is not gzip");
    }
    e.ok(&["rmi", &r]);
    e.ok(&["pull", "-q", &r]);
    assert_eq!(e.ok(&["run", "--rm", &r, "echo", "pulled"]), "pulled\n");
}

/// The `RepoTags` of the single image in the archive `save NAME` writes (none: `[]`).
fn saved_tags(e: &Engine, name: &str) -> Vec<String> {
    let tar = e.path().join("saved.tar");
    e.ok(&["save", "-o", tar.to_str().unwrap(), name]);
    let m = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg("manifest.json")
        .output()
        .unwrap();
    assert!(m.status.success(), "{m:?}");
    let m: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    assert_eq!(m.as_array().map(Vec::len), Some(1), "{m}");
    let mut tags: Vec<String> = m[0]["RepoTags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// `save` records the tags docker's does: the tag named, every tag of a repository named
/// without one, none for an image id, so `load` of an image saved by id gives it back
/// untagged (docker-py's `Image.save()` saves by id and expects one image from `load`).
#[test]
fn save_records_the_tags_docker_does() {
    let e = engine!();
    let img = e.img().to_string();
    let (a, b) = (e.image_tag("savetags", "a"), e.image_tag("savetags", "b"));
    e.ok(&["tag", &img, &a]);
    e.ok(&["tag", &img, &b]);
    let id = e.ok(&["image", "inspect", "-f", "{{.Id}}", &a]);
    let id = id.trim();
    assert_eq!(saved_tags(&e, &a), [a.as_str()]);
    let repo = a.trim_end_matches(":a");
    assert_eq!(saved_tags(&e, repo), [a.as_str(), b.as_str()]);
    assert_eq!(saved_tags(&e, id), Vec::<String>::new());
    assert_eq!(
        saved_tags(&e, &id["sha256:".len()..][..12]),
        Vec::<String>::new()
    );
    let out = e.ok(&["load", "-i", e.path().join("saved.tar").to_str().unwrap()]);
    assert_eq!(out.trim(), format!("Loaded image ID: {id}"), "{out}");
}
