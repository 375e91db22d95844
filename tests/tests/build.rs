//! End-to-end suite of `berth build`, written against docker's legacy
//! builder (`DOCKER_BUILDKIT=0`, docker 20.10): every test builds an image
//! from a Dockerfile in `tests/build-fixtures/<case>/` (or one it writes into
//! its temp dir), then inspects or runs the result as a user would.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same suite
//! against a real docker daemon (the reference); unset/`berth` runs
//! `$BERTH_BIN` (default `$CARGO_TARGET_DIR/debug/berth`) with a private
//! `--root` per test.  Needs root.  No registry: every Dockerfile starts
//! `ARG BASE` / `FROM ${BASE}` and gets `--build-arg BASE=<the harness's
//! imported busybox image>`.
//!
//! What docker's legacy builder cannot do (heredocs, `COPY --chmod`, skipping
//! stages the target does not need) is checked on berth only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_e2e::cmd::{Output, Stdin};
use berth_e2e::engine::Engine;
use berth_e2e::runtime::workspace_root;
use berth_e2e::{berth_only, engine};
use serde_json::{json, Value};

/// Timeout of one `build`.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// `tests/build-fixtures/<case>`.
fn fixture(case: &str) -> PathBuf {
    workspace_root().join("tests/build-fixtures").join(case)
}

/// A private copy of a fixture's context in the test's temp dir (tests
/// change files in it and add generated ones).
fn context(e: &Engine, case: &str) -> PathBuf {
    let dst = e.path().join(format!("ctx-{case}"));
    let st = Command::new("cp")
        .arg("-a")
        .arg(fixture(case))
        .arg(&dst)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {case} fixture failed");
    dst
}

/// A context directory in the test's temp dir holding just `files`.
fn context_with(e: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = e.path().join(format!("ctx-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// `ENGINE build --build-arg BASE=<busybox> ARGS...` (the context is among
/// `args`).  Against docker the legacy builder is forced.
fn build_args(e: &Engine, args: &[&str], stdin: Stdin<'_>) -> Output {
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "0");
    }
    let base = format!("BASE={}", e.img());
    let mut full = vec!["build", "--build-arg", &base];
    full.extend_from_slice(args);
    e.cmd_with(&full, stdin, BUILD_TIMEOUT)
}

fn build(e: &Engine, args: &[&str]) -> Output {
    build_args(e, args, Stdin::Null)
}

/// Build, assert exit 0, return stdout.
#[track_caller]
fn build_ok(e: &Engine, args: &[&str]) -> String {
    let o = build(e, args);
    assert!(o.success(), "build failed: {o:?}");
    o.stdout
}

/// Build, assert a non-zero exit, return stdout + stderr.
#[track_caller]
fn build_fails(e: &Engine, args: &[&str]) -> (Output, String) {
    let o = build(e, args);
    assert!(!o.success(), "build should have failed: {o:?}");
    let all = format!("{}\n{}", o.stdout, o.stderr);
    (o, all)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `image inspect -f {{json .Config.FIELD}}` parsed.
#[track_caller]
fn config_field(e: &Engine, image: &str, field: &str) -> Value {
    let f = format!("{{{{json .Config.{field}}}}}");
    let out = e.ok(&["image", "inspect", "-f", &f, image]);
    serde_json::from_str(out.trim())
        .unwrap_or_else(|err| panic!("{image}: .Config.{field} is not JSON ({err}): {out:?}"))
}

/// `run --rm IMAGE ARGS...` stdout, asserting exit 0.
#[track_caller]
fn run_out(e: &Engine, image: &str, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm", image];
    a.extend_from_slice(args);
    e.ok(&a)
}

/// The full image id (`sha256:...`).
#[track_caller]
fn image_id(e: &Engine, image: &str) -> String {
    e.ok(&["image", "inspect", "-f", "{{.Id}}", image])
        .trim()
        .to_string()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `Successfully built <12 hex>` from build output.
#[track_caller]
fn built_id(out: &str) -> String {
    let id = out
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("Successfully built "))
        .next_back()
        .unwrap_or_else(|| panic!("no `Successfully built <id>` line in:\n{out}"));
    assert!(is_hex(id, 12), "`Successfully built {id}`: not a 12-hex id");
    id.to_string()
}

/// One `Step N/M : INSTRUCTION` block of legacy-builder output.
#[derive(Debug)]
struct Step {
    n: usize,
    of: usize,
    instr: String,
    cached: bool,
}

/// The steps in build output, each with whether it printed
/// ` ---> Using cache`.
fn steps(out: &str) -> Vec<Step> {
    let mut v: Vec<Step> = Vec::new();
    for line in out.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("Step ") {
            let (nm, instr) = rest
                .split_once(" : ")
                .unwrap_or_else(|| panic!("malformed step line {line:?}"));
            let (n, of) = nm
                .split_once('/')
                .unwrap_or_else(|| panic!("malformed step line {line:?}"));
            v.push(Step {
                n: n.parse().unwrap(),
                of: of.parse().unwrap(),
                instr: instr.to_string(),
                cached: false,
            });
        } else if line == " ---> Using cache" {
            v.last_mut()
                .unwrap_or_else(|| panic!("`Using cache` before any step:\n{out}"))
                .cached = true;
        }
    }
    v
}

// ---------------------------------------------------------------------------
// 1. config fields

#[test]
fn config_instructions_set_the_image_config() {
    let e = engine!();
    let ctx = context(&e, "config");
    let img = e.image_name("config");
    build_ok(&e, &["--build-arg", "FROM_CLI=cli", "-t", &img, p(&ctx)]);

    // Expected values as docker 20.10's legacy builder writes them.  The
    // imported busybox has no Env: the builder adds the default PATH.
    let want: &[(&str, Value)] = &[
        (
            "Env",
            json!([
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "PLAIN_FORM=value with  spaces",
                "K1=v1",
                "K2=two words",
                "K3=hello-cli"
            ]),
        ),
        (
            "Cmd",
            json!([
                "/bin/sh",
                "-e",
                "-c",
                "echo \"K1=$K1 K3=$K3 pwd=$(pwd) uid=$(id -u) files=$(ls)\""
            ]),
        ),
        ("Entrypoint", json!(["/bin/env"])),
        ("WorkingDir", json!("/srv/app")),
        ("User", json!("app")),
        (
            "ExposedPorts",
            json!({"443/tcp": {}, "53/udp": {}, "8080/tcp": {}}),
        ),
        ("Volumes", json!({"/cache": {}, "/data": {}, "/logs": {}})),
        (
            "Labels",
            json!({
                "from.cli": "cli",
                "org.example.title": "config test",
                "quoted key": "yes",
                "version": "1.0"
            }),
        ),
        ("StopSignal", json!("SIGUSR1")),
        (
            "Healthcheck",
            json!({
                "Test": ["CMD", "/bin/true"],
                "Interval": 30_000_000_000u64,
                "Timeout": 5_000_000_000u64,
                "StartPeriod": 2_000_000_000u64,
                "Retries": 4
            }),
        ),
        ("OnBuild", json!(["RUN echo triggered > /tmp/onbuild"])),
        ("Shell", json!(["/bin/sh", "-e", "-c"])),
    ];
    let mut bad = Vec::new();
    for (field, want) in want {
        let got = config_field(&e, &img, field);
        if &got != want {
            bad.push(format!("  .Config.{field}: got {got}, want {want}"));
        }
    }
    assert!(bad.is_empty(), "config of {img}:\n{}", bad.join("\n"));

    // ENTRYPOINT ["/bin/env"] + the shell-form CMD under SHELL: env, workdir
    // and user are in effect; RUN before USER ran in the WORKDIR as root.
    assert_eq!(
        run_out(&e, &img, &[]).trim(),
        "K1=v1 K3=hello-cli pwd=/srv/app uid=1000 files=made-in-workdir"
    );
    let owner = run_out(
        &e,
        &img,
        &["stat", "-c", "%u %g", "/srv/app/made-in-workdir"],
    );
    assert_eq!(owner.trim(), "0 0");

    // A child image: the ONBUILD trigger runs in it and is not inherited;
    // an exec-form CMD replaces the Cmd; the Entrypoint stays.
    let child_ctx = context_with(
        &e,
        "child",
        &[(
            "Dockerfile",
            &format!("FROM {img}\nCMD [\"echo\", \"exec\", \"form\"]\n"),
        )],
    );
    let child = e.image_name("child");
    build_ok(&e, &["-t", &child, p(&child_ctx)]);
    assert_eq!(
        config_field(&e, &child, "Cmd"),
        json!(["echo", "exec", "form"])
    );
    assert_eq!(config_field(&e, &child, "Entrypoint"), json!(["/bin/env"]));
    assert_eq!(config_field(&e, &child, "OnBuild"), Value::Null);
    assert_eq!(config_field(&e, &child, "User"), json!("app"));
    assert_eq!(run_out(&e, &child, &[]).trim(), "exec form");
    assert_eq!(
        e.ok(&["run", "--rm", "--entrypoint", "cat", &child, "/tmp/onbuild"])
            .trim(),
        "triggered"
    );
}

// ---------------------------------------------------------------------------
// 2. variable expansion

#[test]
fn variable_expansion_and_arg_scoping() {
    let e = engine!();
    let ctx = context(&e, "expand");
    let img = e.image_name("expand");
    let base = e.img().to_string();
    let (repo, tag) = base.rsplit_once(':').unwrap();
    let repo_arg = format!("REPO={repo}");
    assert_eq!(tag, "latest", "the Dockerfile's TAG default");
    build_ok(
        &e,
        &[
            "--build-arg",
            &repo_arg,
            "--build-arg",
            "FROM_CLI=given",
            "-t",
            &img,
            p(&ctx),
        ],
    );
    // ARG TAG re-declared after FROM takes the global default; GLOBAL_ONLY
    // (not re-declared) is empty in the stage.
    assert_eq!(
        run_out(&e, &img, &["cat", "/vars"]),
        "tag=latest global=[] cli=given\n\
         a=new b=alpha-beta c=alpha and alpha\n\
         d=fallback e=alpha f=alt g=[]\n\
         a_old=alpha lit=$A esc=${A}\n\
         pwd=/w/new\n"
    );
    assert_eq!(
        config_field(&e, &img, "Env"),
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "A=new",
            "B=alpha-beta",
            "C=alpha and alpha",
            "D=fallback",
            "E=alpha",
            "F=alt",
            "G=",
            "A_OLD=alpha",
            "LIT=$A",
            "ESC=${A}"
        ])
    );
    assert_eq!(
        config_field(&e, &img, "Labels"),
        json!({"combined": "new/alpha-beta"})
    );
    assert_eq!(config_field(&e, &img, "WorkingDir"), json!("/w/new"));
}

// ---------------------------------------------------------------------------
// 3. heredocs (BuildKit syntax: berth only)

#[test]
fn heredoc_run_and_copy() {
    let e = engine!();
    berth_only!(e, "docker 20.10's legacy builder has no heredocs");
    let ctx = context(&e, "heredoc");
    let img = e.image_name("heredoc");
    build_ok(&e, &["-t", &img, p(&ctx)]);
    assert_eq!(
        run_out(&e, &img, &["cat", "/etc/greeting"]),
        "hello from a heredoc\n  indented line kept\n"
    );
    assert_eq!(
        run_out(&e, &img, &["cat", "/out/run.txt"]),
        "line one\nloop 1\nloop 2\nloop 3\nhello from a heredoc\n  indented line kept\n"
    );
}

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
