use super::*;

// ---------------------------------------------------------------------------
// 7. output, options and errors

#[test]
fn legacy_builder_output_lines() {
    let e = engine!();
    let ctx = context(&e, "basic");
    let img = e.image_name("basic");
    // Without a tag: `Successfully tagged NAME:latest`.
    let untagged = img.strip_suffix(":latest").unwrap();
    let out = build_ok(&e, &["-t", untagged, p(&ctx)]);
    let st = steps(&out);
    let instrs: Vec<(usize, usize, &str)> =
        st.iter().map(|s| (s.n, s.of, s.instr.as_str())).collect();
    assert_eq!(
        instrs,
        [
            (1, 4, "ARG BASE"),
            (2, 4, "FROM ${BASE}"),
            (3, 4, "COPY payload.txt /payload.txt"),
            (
                4,
                4,
                "RUN echo \"built by the default Dockerfile\" > /which"
            ),
        ],
        "{out}"
    );
    // ` ---> <12 hex>` after FROM (the base's id) and after each step.
    let arrows: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix(" ---> "))
        .filter(|r| is_hex(r, 12))
        .collect();
    assert_eq!(arrows.len(), 3, "` ---> <id>` lines:\n{out}");
    let base_id = image_id(&e, e.img());
    assert_eq!(
        arrows[0],
        &base_id[7..19],
        "FROM prints the base id:\n{out}"
    );
    let id = built_id(&out);
    assert_eq!(arrows[2], id);
    assert_eq!(&image_id(&e, &img)[7..19], id);
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            format!("Successfully built {id}"),
            format!("Successfully tagged {img}")
        ],
        "{out}"
    );
    assert_eq!(
        run_out(&e, &img, &["cat", "/which"]),
        "built by the default Dockerfile\n"
    );
}

#[test]
fn build_options() {
    let e = engine!();
    let ctx = context(&e, "basic");

    // -f with another file name, two -t, --label, --iidfile.
    let t1 = e.image_name("alt1");
    let t2 = e.image_name("alt2");
    let iidfile = e.path().join("iid");
    let dockerfile = ctx.join("Dockerfile.alt");
    let out = build_ok(
        &e,
        &[
            "-f",
            p(&dockerfile),
            "-t",
            &t1,
            "-t",
            &t2,
            "--label",
            "a.b=c",
            "--label",
            "empty=",
            "--iidfile",
            p(&iidfile),
            p(&ctx),
        ],
    );
    assert!(
        out.contains(&format!("Successfully tagged {t1}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Successfully tagged {t2}\n")),
        "{out}"
    );
    let id = image_id(&e, &t1);
    assert_eq!(image_id(&e, &t2), id);
    // docker writes the id without a newline.
    assert_eq!(std::fs::read_to_string(&iidfile).unwrap(), id);
    assert!(id.starts_with("sha256:") && is_hex(&id[7..], 64), "{id}");
    assert_eq!(
        config_field(&e, &t1, "Labels"),
        json!({"a.b": "c", "empty": ""})
    );
    assert_eq!(
        run_out(&e, &t1, &["cat", "/which"]),
        "built by Dockerfile.alt\n"
    );

    // -q: only the id on stdout.
    let q = e.image_name("quiet");
    let o = build(&e, &["-q", "-t", &q, p(&ctx)]);
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, format!("{}\n", image_id(&e, &q)), "{o:?}");

    // `-`: the context as a tar on stdin.
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&ctx)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .output()
        .expect("run tar");
    assert!(tar.status.success());
    let stdin_img = e.image_name("stdin");
    let o = build_args(&e, &["-t", &stdin_img, "-"], Stdin::Data(&tar.stdout));
    assert!(o.success(), "{o:?}");
    assert_eq!(
        run_out(&e, &stdin_img, &["cat", "/which", "/payload.txt"]),
        "built by the default Dockerfile\npayload\n"
    );
}

#[test]
fn build_errors() {
    let e = engine!();
    let ctx = context(&e, "errors");
    let df = |name: &str| ctx.join(format!("Dockerfile.{name}"));
    let img = e.image_name("err");

    // Unknown instruction: the line number and the instruction.
    // docker: "dockerfile parse error line 3: unknown instruction: FROBNICATE"
    let (_, all) = build_fails(&e, &["-f", p(&df("unknown")), "-t", &img, p(&ctx)]);
    assert!(
        all.contains("line 3") && all.contains("FROBNICATE"),
        "unknown instruction: {all}"
    );
    assert!(
        all.to_lowercase().contains("unknown instruction"),
        "unknown instruction: {all}"
    );

    // A failing RUN: the command and its exit code; later steps not run.
    let (o, all) = build_fails(&e, &["-f", p(&df("runfail")), "-t", &img, p(&ctx)]);
    assert!(
        all.contains("The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
        "failing RUN: {all}"
    );
    assert!(!all.contains("echo never"), "{all}");
    assert!(all.contains("before"), "RUN output is shown: {all}");
    // docker 20.10 exits with the RUN's code.
    assert_eq!(o.code, 3, "{o:?}");

    // A missing COPY source names the file.
    // docker: "COPY failed: file not found in build context or excluded by
    // .dockerignore: stat no-such-file.txt: file does not exist"
    let (_, all) = build_fails(&e, &["-f", p(&df("missing")), "-t", &img, p(&ctx)]);
    assert!(all.contains("no-such-file.txt"), "missing source: {all}");

    // No FROM at all.
    build_fails(&e, &["-f", p(&df("nofrom")), "-t", &img, p(&ctx)]);

    // None of them produced the image.
    let o = e.cmd(&["image", "inspect", &img]);
    assert!(!o.success(), "a failed build tagged {img}: {o:?}");
}
