//! `--filter` on `images`/`image ls`, `image prune` and `system prune`. Written against docker
//! (`BERTH_TEST_ENGINE=docker`); needs root.

use berth_e2e::engine;

#[test]
fn images_and_prune_filters() {
    let e = engine!();
    let keep = e.image_name("fkeep");
    let drop = e.image_name("fdrop");
    e.import(&keep, &["LABEL h18test=keep", "CMD [\"sh\"]"]);
    e.import(&drop, &["LABEL h18test=drop", "CMD [\"sh\"]"]);
    let id = |r: &str| {
        e.ok(&["image", "inspect", "-f", "{{.Id}}", r])
            .trim()
            .to_string()
    };
    let (keep_id, drop_id) = (id(&keep), id(&drop));
    let short = |i: &str| i.trim_start_matches("sha256:")[..12].to_string();

    let o = e.ok(&["images", "-q", "--filter", "label=h18test=keep"]);
    assert_eq!(o.trim(), short(&keep_id));
    let o = e.ok(&[
        "image",
        "ls",
        "-q",
        "-f",
        "label=h18test",
        "-f",
        &format!("reference={drop}"),
    ]);
    assert_eq!(o.trim(), short(&drop_id));
    if e.is_berth() {
        // `label!` on images is newer than dockerd 20.10
        let o = e.ok(&[
            "images",
            "-q",
            "--filter",
            "label!=h18test=keep",
            "--filter",
            "label=h18test",
        ]);
        assert_eq!(o.trim(), short(&drop_id));
    }
    let o = e.cmd(&["images", "--filter", "bogus=1"]);
    assert_ne!(o.code, 0, "{o:?}");

    // only the images the filter selects go
    let o = e.ok(&[
        "image",
        "prune",
        "-a",
        "-f",
        "--filter",
        "label=h18test=drop",
    ]);
    assert!(o.contains(&drop_id), "{o}");
    assert!(!o.contains(&keep_id), "{o}");
    assert!(e.cmd(&["image", "inspect", &drop]).code != 0);
    assert_eq!(id(&keep), keep_id);

    let o = e.ok(&[
        "system",
        "prune",
        "-a",
        "-f",
        "--filter",
        "label=h18test=keep",
    ]);
    assert!(o.contains(&keep_id), "{o}");
    assert!(e.cmd(&["image", "inspect", &keep]).code != 0);
}
