use super::*;

// ---------------------------------------------------------------------------
// 5. multi-stage

/// `image inspect -f {{.Size}}`.
fn image_size(e: &Engine, img: &str) -> u64 {
    let s = e.ok(&["image", "inspect", "-f", "{{.Size}}", img]);
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{img}: size {s:?}"))
}

fn layer_count(e: &Engine, img: &str) -> usize {
    let s = e.ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", img]);
    s.trim().parse().unwrap()
}

#[test]
fn multi_stage_final_image_holds_only_the_artifact() {
    let e = engine!();
    let ctx = context(&e, "multistage");
    let fin = e.image_name("final");
    let tool = e.image_name("toolchain");
    let out = build_ok(&e, &["--target", "final", "-t", &fin, p(&ctx)]);
    // The stage after the target (`RUN exit 1`) is not built, and not
    // counted: `Step N/6`.
    let st = steps(&out);
    assert_eq!(st.len(), 6, "steps up to the target only:\n{out}");
    assert!(st.iter().all(|s| s.of == 6), "Step N/6:\n{out}");
    assert!(!out.contains("exit 1"), "the broken stage ran:\n{out}");

    build_ok(&e, &["--target", "toolchain", "-t", &tool, p(&ctx)]);

    assert_eq!(run_out(&e, &fin, &[]), "built\n");
    let o = e.cmd(&["run", "--rm", &fin, "ls", "/toolchain.bin"]);
    assert!(!o.success(), "the final image has the toolchain: {o:?}");
    assert_eq!(
        run_out(&e, &tool, &["stat", "-c", "%s", "/toolchain.bin"]).trim(),
        "31457280"
    );

    let (fin_size, tool_size, base_size) = (
        image_size(&e, &fin),
        image_size(&e, &tool),
        image_size(&e, e.img()),
    );
    assert!(
        tool_size >= base_size + 30 * 1024 * 1024,
        "toolchain image {tool_size} B, base {base_size} B"
    );
    assert!(
        fin_size * 4 < tool_size && fin_size < base_size + 1024 * 1024,
        "final image {fin_size} B should be a fraction of the toolchain's {tool_size} B \
         (base {base_size} B)"
    );
    // Only the final stage's layers: the base's plus the one COPY.
    assert_eq!(layer_count(&e, &fin), layer_count(&e, e.img()) + 1);

    // COPY --from an image by name.
    let from_img_ctx = context_with(
        &e,
        "from-image",
        &[(
            "Dockerfile",
            &format!("ARG BASE\nFROM ${{BASE}}\nCOPY --from={tool} /out/app /from-image/app\n"),
        )],
    );
    let from_img = e.image_name("from-image");
    build_ok(&e, &["-t", &from_img, p(&from_img_ctx)]);
    assert_eq!(
        run_out(&e, &from_img, &["cat", "/from-image/app"]),
        "built\n"
    );
    assert!(image_size(&e, &from_img) < base_size + 1024 * 1024);
}

#[test]
fn multi_stage_skips_stages_the_target_does_not_need() {
    let e = engine!();
    berth_only!(
        e,
        "docker's legacy builder builds every stage before the target (and fails on RUN exit 1)"
    );
    let ctx = context(&e, "multistage");
    let img = e.image_name("unused");
    let dockerfile = ctx.join("Dockerfile.unused");
    let out = build_ok(&e, &["-f", p(&dockerfile), "-t", &img, p(&ctx)]);
    assert!(!out.contains("exit 1"), "the unused stage ran:\n{out}");
    assert_eq!(run_out(&e, &img, &["cat", "/app"]), "built\n");
}

// ---------------------------------------------------------------------------
// 6. cache

#[test]
fn cache_hits_and_invalidation() {
    let e = engine!();
    let ctx = context(&e, "cache");
    let img = e.image_name("cache");
    let args = ["-t", img.as_str(), p(&ctx)];

    // Cold: nothing cached (the base image is this test's own import).
    let out = build_ok(&e, &args);
    let st = steps(&out);
    assert_eq!(st.len(), 11, "11 steps (ARG BASE + 10):\n{out}");
    for (i, s) in st.iter().enumerate() {
        assert_eq!((s.n, s.of), (i + 1, 11), "{out}");
    }
    assert_eq!(st[0].instr, "ARG BASE");
    assert_eq!(st[1].instr, "FROM ${BASE}");
    assert_eq!(st[7].instr, "COPY f2.txt /f2.txt");
    assert!(
        st.iter().all(|s| !s.cached),
        "cold build used the cache:\n{out}"
    );
    let id1 = image_id(&e, &img);
    assert_eq!(&id1["sha256:".len().."sha256:".len() + 12], built_id(&out));
    assert_eq!(run_out(&e, &img, &[]), "first-file\nsecond-file\n");

    // Unchanged: every step after FROM is `Using cache`, same image id.
    let o = build(&e, &args);
    assert!(o.success(), "{o:?}");
    let st = steps(&o.stdout);
    assert_eq!(st.len(), 11);
    for s in &st[2..] {
        assert!(
            s.cached,
            "step {} `{}` not cached:\n{}",
            s.n, s.instr, o.stdout
        );
    }
    assert_eq!(image_id(&e, &img), id1);
    assert!(
        o.elapsed < Duration::from_secs(10),
        "a fully cached build took {:?}",
        o.elapsed
    );

    // Touching a copied file does not change its content hash: still all
    // cached (docker hashes contents, not mtimes).
    let f2 = ctx.join("f2.txt");
    let st = Command::new("touch")
        .arg("-d")
        .arg("2001-02-03 04:05:06")
        .arg(&f2)
        .status()
        .unwrap();
    assert!(st.success());
    let out = build_ok(&e, &args);
    assert!(steps(&out)[2..].iter().all(|s| s.cached), "{out}");
    assert_eq!(image_id(&e, &img), id1);

    // Changing f2.txt re-runs from its COPY (step 8) on.
    std::fs::write(&f2, "changed\n").unwrap();
    let out = build_ok(&e, &args);
    let st = steps(&out);
    for s in &st[2..7] {
        assert!(
            s.cached,
            "step {} `{}` should be cached:\n{out}",
            s.n, s.instr
        );
    }
    for s in &st[7..] {
        assert!(
            !s.cached,
            "step {} `{}` should re-run:\n{out}",
            s.n, s.instr
        );
    }
    let id2 = image_id(&e, &img);
    assert_ne!(id2, id1);
    assert_eq!(run_out(&e, &img, &[]), "first-file\nchanged\n");

    // --no-cache re-runs everything.
    let out = build_ok(&e, &["--no-cache", "-t", &img, p(&ctx)]);
    let st = steps(&out);
    assert_eq!(st.len(), 11);
    assert!(
        st.iter().all(|s| !s.cached),
        "--no-cache used the cache:\n{out}"
    );
    assert_eq!(run_out(&e, &img, &[]), "first-file\nchanged\n");

    // And a plain rebuild afterwards is all cache hits again.
    let out = build_ok(&e, &args);
    assert!(steps(&out)[2..].iter().all(|s| s.cached), "{out}");
}

/// The blobs of the content store of berth's root, by size.
fn blob_sizes(e: &Engine) -> Vec<u64> {
    fn walk(dir: &Path, out: &mut Vec<u64>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let md = std::fs::symlink_metadata(&path).unwrap();
            if md.is_dir() {
                walk(&path, out);
            } else if md.is_file() && path.parent().is_some_and(|d| d.ends_with("blobs/sha256")) {
                out.push(md.len());
            }
        }
    }
    let mut out = Vec::new();
    walk(e.root.as_deref().expect("berth's root"), &mut out);
    out
}

/// A stage only copied from keeps its RUN layers as snapshots, without a blob (no tar, no
/// hash, no write): no image the build exports is made of them. Its steps stay cached; built
/// as the target later, the stage gets real layers (its cached steps are not taken), which
/// can be saved.
#[test]
fn a_stage_only_copied_from_makes_no_blob() {
    let e = engine!();
    berth_only!(e, "berth's content store");
    let df = "ARG BASE\nFROM ${BASE} AS tool\n\
              RUN head -c 3000000 /dev/zero > /big && echo built > /art\n\
              FROM ${BASE} AS final\nCOPY --from=tool /art /art\nCMD [\"cat\", \"/art\"]\n";
    let ctx = context_with(&e, "kept", &[("Dockerfile", df)]);
    let fin = e.image_name("kept-final");
    let big = |e: &Engine| {
        blob_sizes(e)
            .into_iter()
            .filter(|s| *s >= 3_000_000)
            .count()
    };

    let out = build_ok(&e, &["-t", &fin, p(&ctx)]);
    assert!(steps(&out).iter().all(|s| !s.cached), "{out}");
    assert_eq!(
        big(&e),
        0,
        "the tool stage's 3 MB layer was stored as a blob"
    );
    let kept_id = step_image(&out, "RUN");
    // the COPY's snapshots, removed behind the build, are gone when it answers
    assert_eq!(e.mounts_under_root(), Vec::<String>::new());
    let root = e.root.as_deref().unwrap();
    let left: Vec<_> = std::fs::read_dir(root.join("snapshots/active"))
        .unwrap()
        .chain(std::fs::read_dir(root.join("trash")).into_iter().flatten())
        .map(|d| d.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(run_out(&e, &fin, &[]), "built\n");
    let saved = e.path().join("kept-final.tar");
    e.ok(&["save", "-o", p(&saved), &fin]);

    // unchanged: every step hits, the same image
    let id = image_id(&e, &fin);
    let out = build_ok(&e, &["-t", &fin, p(&ctx)]);
    for s in steps(&out)
        .iter()
        .filter(|s| !s.instr.starts_with("FROM") && s.n > 1)
    {
        assert!(s.cached, "step {} `{}` not cached:\n{out}", s.n, s.instr);
    }
    assert_eq!(image_id(&e, &fin), id);

    // the stage as the target: its RUN runs again, into a blob; the image can be saved
    let tool = e.image_name("kept-tool");
    let out = build_ok(&e, &["--target", "tool", "-t", &tool, p(&ctx)]);
    let run = steps(&out)
        .into_iter()
        .find(|s| s.instr.starts_with("RUN"))
        .unwrap();
    assert!(
        !run.cached,
        "the kept step was taken for an exported image:\n{out}"
    );
    assert_eq!(big(&e), 1);
    e.ok(&["save", "-o", p(&e.path().join("kept-tool.tar")), &tool]);
    assert_eq!(run_out(&e, &tool, &["cat", "/art"]), "built\n");

    // the tool stage's first image itself cannot be saved: it has no blobs
    let o = e.fails(&["save", "-o", p(&e.path().join("kept.tar")), &kept_id]);
    assert!(o.stderr.contains("intermediate build stage"), "{o:?}");
    // nor be the base of an image a build makes
    let df = format!("FROM {kept_id}\nRUN true\n");
    let on_kept = context_with(&e, "on-kept", &[("Dockerfile", &df)]);
    let (_, err) = build_fails(&e, &[p(&on_kept)]);
    assert!(err.contains("kept without blobs"), "{err}");
}

/// The image a step made, from legacy-builder output: the ` ---> ID` line of the first step
/// whose instruction starts with `instr`.
fn step_image(out: &str, instr: &str) -> String {
    out.lines()
        .skip_while(|l| {
            !l.split_once(" : ")
                .is_some_and(|(_, i)| i.starts_with(instr))
        })
        .skip(1)
        .take_while(|l| !l.starts_with("Step "))
        .filter_map(|l| l.strip_prefix(" ---> "))
        .find(|x| is_hex(x.trim(), 12))
        .unwrap_or_else(|| panic!("no image of the {instr} step in\n{out}"))
        .trim()
        .to_string()
}
