//! The layers a build commits: berth writes a step's changes once, as an uncompressed layer
//! tar, and keeps the step container's upper dir as the layer's unpacked copy (instead of
//! unpacking the tar it just wrote). What the next steps see must be what the layer holds:
//! what a fresh root that loads the saved image sees.
//!
//! Written against docker too (`BERTH_TEST_ENGINE=docker`).

use std::time::Duration;

use berth_e2e::cmd::Stdin;
use berth_e2e::engine;
use berth_e2e::engine::Engine;

const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// What the last step lists and a container of the image lists again: kinds, sizes, link
/// counts and modification times (a layer tar keeps whole seconds) of what the steps made,
/// changed and removed.
const LISTING: &str = "cd / && for f in d d/keep d/keep/f d/gone o o/new o/old h1 h2 t \
                       bin/yes fifo; do stat -c '%n %F %s %h %y' $f 2>&1; done; true";

#[test]
fn a_steps_layer_is_what_later_steps_and_a_fresh_root_see() {
    let e = engine!();
    let df = format!(
        "ARG BASE\nFROM ${{BASE}}\n\
         RUN mkdir -p /d/keep /d/gone /o && echo 1 > /d/keep/f && echo 2 > /d/gone/f \
             && echo x > /o/old && echo h > /h1 && touch -d '2001-09-09 01:46:40' /t\n\
         RUN rm -rf /d/gone /o /bin/yes && mkdir /o && echo new > /o/new && ln /h1 /h2 \
             && mkfifo /fifo && touch -d '2002-01-01 00:00:00' /d/keep/f\n\
         RUN ( {LISTING} ) > /listing\n"
    );
    let ctx = e.path().join("ctx-layers");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), df).unwrap();
    let img = e.image_name("layers");
    let base = format!("BASE={}", e.img());
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "0");
    }
    let args = [
        "build",
        "--build-arg",
        &base,
        "-t",
        &img,
        ctx.to_str().unwrap(),
    ];
    let o = e.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(o.success(), "{o:?}");

    let seen_by_the_build = e.ok(&["run", "--rm", &img, "cat", "/listing"]);
    // what the build saw: removals and the opaque dir hid what the first step made
    for want in [
        "d/keep/f regular file 2 1 2002-01-01 00:00:00",
        "h2 regular file 2 2 ",
        "o/new regular file 4 1 ",
        "t regular empty file 0 1 2001-09-09 01:46:40",
        "fifo fifo 0 1 ",
    ] {
        assert!(
            seen_by_the_build.contains(want),
            "{want:?} in\n{seen_by_the_build}"
        );
    }
    for gone in ["d/gone", "o/old", "bin/yes"] {
        assert!(
            !seen_by_the_build.contains(&format!("\n{gone} ")),
            "{gone} was removed:\n{seen_by_the_build}"
        );
    }
    // the layer tars hold the same: a fresh root loading the image sees what the build saw
    let saved = e.path().join("layers.tar");
    e.ok(&["save", "-o", saved.to_str().unwrap(), &img]);
    let fresh = Engine::new();
    fresh.ok(&["load", "-i", saved.to_str().unwrap()]);
    let seen_fresh = fresh.ok(&["run", "--rm", &img, "sh", "-c", LISTING]);
    assert_eq!(seen_by_the_build, seen_fresh);
}

/// The container of a step that failed stays (docker's `--force-rm=false`) and can be started
/// again: berth makes step containers without syncs for their layers (overlayfs `volatile`,
/// which refuses a second mount) and turns the one it keeps into an ordinary snapshot.
#[test]
fn a_failed_steps_container_stays_and_starts_again() {
    let e = engine!();
    let ctx = e.path().join("ctx-failed");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\nRUN echo ran >> /count; cat /count; exit 3\n",
    )
    .unwrap();
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "0");
    }
    let base = format!("BASE={}", e.img());
    let args = ["build", "--build-arg", &base, ctx.to_str().unwrap()];
    let o = e.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(!o.success(), "{o:?}");
    let short = o
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("---> Running in "))
        .unwrap_or_else(|| panic!("no step container in {o:?}"))
        .trim()
        .to_string();
    let again = e.cmd(&["start", "-a", &short]);
    e.ok(&["rm", "-f", &short]);
    assert_eq!(again.code, 3, "{again:?}");
    assert_eq!(
        again.stdout, "ran\nran\n",
        "the step's layer is kept: {again:?}"
    );
}

/// A RUN's layer holds what its command changed, not the mountpoints of the files every
/// container gets (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`) that the runtime made
/// because the image has none (docker keeps them in a layer of its own, BuildKit removes them),
/// nor the image's `/etc` directory they were made in.
#[test]
fn a_run_layer_has_no_mountpoints_of_the_engines_files() {
    let e = engine!();
    let ctx = e.path().join("ctx-stubs");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\nRUN echo hi > /x\n",
    )
    .unwrap();
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "0");
    }
    let img = e.image_name("stubs");
    let base = format!("BASE={}", e.img());
    let args = [
        "build",
        "--build-arg",
        &base,
        "-t",
        &img,
        ctx.to_str().unwrap(),
    ];
    let o = e.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(o.success(), "{o:?}");
    let saved = e.path().join("stubs.tar");
    e.ok(&["save", "-o", saved.to_str().unwrap(), &img]);
    let dir = e.path().join("stubs");
    std::fs::create_dir_all(&dir).unwrap();
    let untar = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&saved)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(untar.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    let top = dir.join(layers.last().unwrap().as_str().unwrap());
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&top)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    // nothing but the step's file: not the stubs, nor the image's etc/ they were made in
    let entries: Vec<&str> = names.lines().map(|l| l.trim_end_matches('/')).collect();
    assert_eq!(entries, ["x"], "the layer:\n{names}");
}
