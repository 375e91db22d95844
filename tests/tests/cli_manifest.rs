//! `manifest`: inspect a registry's manifest, create and annotate a list locally, push it (an
//! OCI index or docker list the registry then serves), rm. Uses a private docker-registry
//! (Debian's docker-registry package); berth only (dockerd 20.10's client-side manifest
//! command needs ~/.docker, shared by all tests); needs root.

use berth_e2e::api::Registry;
use berth_e2e::{berth_only, engine};

#[test]
fn manifest_create_annotate_push_inspect_rm() {
    let e = engine!();
    berth_only!(e, "docker's manifest lists live in the shared ~/.docker");
    let reg = Registry::start(&e.path().join("registry"));
    let img = e.img().to_string();
    let one = format!("{}/h18/multi:one", reg.addr);
    let list = format!("{}/h18/multi:list", reg.addr);
    e.ok(&["tag", &img, &one]);
    e.ok(&["push", &one]);

    // a single image's manifest, and -v with its platform
    let o = e.ok(&["manifest", "inspect", &one]);
    let m: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(m["schemaVersion"], 2, "{o}");
    let o = e.ok(&["manifest", "inspect", "-v", &one]);
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["Descriptor"]["platform"]["os"], "linux", "{o}");

    let o = e.ok(&["manifest", "create", &list, &one]);
    assert!(o.contains("Created manifest list"), "{o}");
    let o = e.cmd(&["manifest", "create", &list, &one]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("--amend"), "{o:?}");
    e.ok(&["manifest", "annotate", "--variant", "v9", &list, &one]);
    let o = e.ok(&["manifest", "inspect", &list]);
    let l: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(l["manifests"][0]["platform"]["variant"], "v9", "{o}");

    let digest = e.ok(&["manifest", "push", "--purge", &list]);
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    // now the registry serves it, and the local copy is gone
    let o = e.ok(&["manifest", "inspect", &list]);
    let l: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(l["manifests"][0]["platform"]["variant"], "v9", "{o}");
    let o = e.cmd(&["manifest", "rm", &list]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("No such manifest"), "{o:?}");
}
