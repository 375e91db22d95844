use super::*;

// ---------------------------------------------------------------------------
// 4. COPY / ADD

/// `data.tar` and `data.tar.gz` in `ctx`, each holding `d/f.txt` ("intar").
fn make_archives(ctx: &Path) {
    let src = ctx.parent().unwrap().join("archive-src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f.txt"), "intar\n").unwrap();
    for (name, flag) in [("data.tar", "-cf"), ("data.tar.gz", "-czf")] {
        let st = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(&src)
            .arg(flag)
            .arg(ctx.join(name))
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar {name} failed");
    }
}

/// Sorted `find` of paths inside an image.
fn find_sorted(e: &Engine, img: &str, script: &str) -> Vec<String> {
    let out = run_out(e, img, &["sh", "-c", script]);
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn copy_and_add_with_dockerignore() {
    let e = engine!();
    let ctx = context(&e, "copy");
    make_archives(&ctx);
    let img = e.image_name("copy");
    build_ok(&e, &["-t", &img, p(&ctx)]);

    // .dockerignore: *.log (but !important.log), secret.txt, **/*.tmp (also
    // at the top), build (but !build/keep.txt).  The Dockerfile and
    // .dockerignore themselves are part of the context.
    assert_eq!(
        find_sorted(&e, &img, "cd /ctx && find ."),
        [
            ".",
            "./.dockerignore",
            "./Dockerfile",
            "./Dockerfile.chmod",
            "./Dockerfile.url",
            "./app",
            "./app/main.txt",
            "./app/sub",
            "./app/sub/keep.txt",
            "./build",
            "./build/keep.txt",
            "./data.tar",
            "./data.tar.gz",
            "./docs",
            "./docs/readme.md",
            "./hello.txt",
            "./important.log",
            "./other.txt",
        ]
    );
    assert_eq!(
        find_sorted(
            &e,
            &img,
            "find /app-dir /dest /wild /extract /extract-gz /not-extracted"
        ),
        [
            "/app-dir",
            "/app-dir/main.txt",
            "/app-dir/sub",
            "/app-dir/sub/keep.txt",
            "/dest",
            "/dest/main.txt",
            "/dest/readme.md",
            "/extract",
            "/extract-gz",
            "/extract-gz/d",
            "/extract-gz/d/f.txt",
            "/extract/d",
            "/extract/d/f.txt",
            "/not-extracted",
            "/not-extracted/data.tar",
            "/wild",
            "/wild/hello.txt",
            "/wild/other.txt",
        ]
    );
    assert_eq!(
        run_out(
            &e,
            &img,
            &[
                "cat",
                "/extract/d/f.txt",
                "/extract-gz/d/f.txt",
                "/dest/main.txt"
            ]
        ),
        "intar\nintar\nmain\n"
    );
    // --chown by ids and by name (looked up in the image's /etc/passwd);
    // without it files are root's.
    assert_eq!(
        run_out(
            &e,
            &img,
            &[
                "stat",
                "-c",
                "%n %u %g",
                "/owned/main.txt",
                "/owned-dir",
                "/owned-dir/keep.txt",
                "/ctx/hello.txt",
                "/app-dir",
                "/extract/d/f.txt",
            ]
        ),
        "/owned/main.txt 1000 1000\n\
         /owned-dir 1000 1000\n\
         /owned-dir/keep.txt 1000 1000\n\
         /ctx/hello.txt 0 0\n\
         /app-dir 0 0\n\
         /extract/d/f.txt 0 0\n"
    );

    // --chmod (BuildKit-only on docker 20.10).
    let chmod_img = e.image_name("chmod");
    let dockerfile = ctx.join("Dockerfile.chmod");
    if e.is_docker() {
        let (_, all) = build_fails(&e, &["-f", p(&dockerfile), "-t", &chmod_img, p(&ctx)]);
        assert!(
            all.contains("the --chmod option requires BuildKit"),
            "docker 20.10: {all}"
        );
    } else {
        build_ok(&e, &["-f", p(&dockerfile), "-t", &chmod_img, p(&ctx)]);
        assert_eq!(
            run_out(
                &e,
                &chmod_img,
                &[
                    "stat",
                    "-c",
                    "%u %g %a",
                    "/moded/main.txt",
                    "/moded/hello.txt"
                ]
            ),
            "0 0 750\n1000 1000 640\n"
        );
    }

    // ADD of a URL that cannot be fetched: a clear error naming it.
    let url_img = e.image_name("url");
    let dockerfile = ctx.join("Dockerfile.url");
    let (_, all) = build_fails(&e, &["-f", p(&dockerfile), "-t", &url_img, p(&ctx)]);
    assert!(
        all.contains("http://127.0.0.1:9/berth-offline.txt"),
        "the error should name the URL: {all}"
    );
}
