//! End-to-end suite of BuildKit's Dockerfile features in `berth build`: RUN
//! `--mount` (cache, secret, bind, tmpfs), `RUN --network`, stages built at
//! the same time, `--output`, COPY `--parents`/`--exclude`, the predefined
//! platform args.
//!
//! Written against dockerd 20.10's BuildKit: `BERTH_TEST_ENGINE=docker
//! DOCKER_HOST=unix:///...` with Debian's `/usr/bin/docker` 20.10 first on
//! PATH (the docker 28 client needs buildx for BuildKit) runs the same tests
//! with `DOCKER_BUILDKIT=1`. No `# syntax` line: dockerd cannot fetch a
//! frontend offline (berth's own handling of it is checked berth-only).

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_e2e::cmd::{Output, Stdin};
use berth_e2e::engine::Engine;
use berth_e2e::{berth_only, engine};

const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// A context directory in the test's temp dir holding `files`.
fn context_with(e: &Engine, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = e.path().join(format!("ctx-{name}"));
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `ENGINE build --build-arg BASE=<busybox> ARGS...`, with BuildKit on docker.
fn build(e: &Engine, args: &[&str]) -> Output {
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "1");
    }
    let base = format!("BASE={}", e.img());
    let mut full = vec!["build", "--build-arg", &base];
    full.extend_from_slice(args);
    e.cmd_with(&full, Stdin::Null, BUILD_TIMEOUT)
}

#[track_caller]
fn build_ok(e: &Engine, args: &[&str]) -> String {
    let o = build(e, args);
    assert!(o.success(), "build failed: {o:?}");
    format!("{}\n{}", o.stdout, o.stderr)
}

/// A name no other test run uses (cache ids are shared by every build of an
/// engine).
fn unique(e: &Engine, what: &str) -> String {
    format!("{}{what}", e.name(""))
}

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_the_image() {
    let e = engine!();
    let id = unique(&e, "cache");
    let df = format!(
        "ARG BASE\nFROM ${{BASE}}\nARG RUN\n\
         RUN --mount=type=cache,id={id},target=/var/cache/app \
         sh -c 'echo run$RUN >> /var/cache/app/log; echo runs=$(wc -l < /var/cache/app/log)'\n"
    );
    let ctx = context_with(&e, "cache", &[("Dockerfile", &df)]);
    let img = e.image_name("cache");
    // a new build arg value makes the step run again (its cache key changes)
    let first = build_ok(&e, &["--build-arg", "RUN=1", "-t", &img, p(&ctx)]);
    assert!(first.contains("runs=1"), "{first}");
    let second = build_ok(&e, &["--build-arg", "RUN=2", "-t", &img, p(&ctx)]);
    assert!(
        second.contains("runs=2"),
        "the cache was not kept: {second}"
    );
    // neither the cache's content is in the image
    let o = e.cmd(&["run", "--rm", &img, "cat", "/var/cache/app/log"]);
    assert!(!o.success(), "the cache's content is in the image: {o:?}");
    // --no-cache: cache mounts start empty too, as BuildKit's
    let fresh = build_ok(&e, &["--no-cache", "--build-arg", "RUN=3", p(&ctx)]);
    assert!(
        fresh.contains("runs=1"),
        "--no-cache used the cache mount: {fresh}"
    );
}

#[test]
fn secret_is_readable_in_its_step_only_and_never_in_the_image() {
    let e = engine!();
    let value = "s3cret-7f3a9c-value";
    let secret = e.path().join("token.txt");
    std::fs::write(&secret, value).unwrap();
    let df = "ARG BASE\nFROM ${BASE}\n\
              RUN --mount=type=secret,id=tok sh -c 'echo \"got=$(tr a-z A-Z < /run/secrets/tok)\"'\n\
              RUN --mount=type=secret,id=tok,target=/etc/app.key,mode=0440,uid=7 stat -c '%a %u' /etc/app.key\n\
              RUN --mount=type=secret,id=missing echo optional-ok\n";
    let ctx = context_with(&e, "secret", &[("Dockerfile", df)]);
    let img = e.image_name("secret");
    let src = format!("id=tok,src={}", p(&secret));
    let out = build_ok(&e, &["--no-cache", "--secret", &src, "-t", &img, p(&ctx)]);
    assert!(out.contains("got=S3CRET-7F3A9C-VALUE"), "{out}");
    assert!(out.contains("optional-ok"), "{out}");
    assert!(out.contains("440 7"), "mode and owner of a secret: {out}");
    // not in any layer, not in the history, no mountpoint left behind
    let saved = e.path().join("saved.tar");
    e.ok(&["save", "-o", p(&saved), &img]);
    let dir = e.path().join("saved");
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("tar")
        .args(["-xf", p(&saved), "-C", p(&dir)])
        .status()
        .unwrap();
    assert!(st.success());
    // the value anywhere: configs, manifests, and inside every (uncompressed) layer
    let grep = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && {{ grep -rl {value} . ; find . -type f | while read f; do tar -xOf \"$f\" 2>/dev/null; done | grep -c {value}; }}",
            p(&dir)
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&grep.stdout).trim(),
        "0",
        "the secret's value is in the saved image"
    );
    let history = e.ok(&["history", "--no-trunc", &img]);
    assert!(!history.contains(value), "{history}");
    // (BuildKit leaves the empty /run/secrets directory; berth removes it too)
    for gone in ["/run/secrets/tok", "/etc/app.key"] {
        let o = e.cmd(&["run", "--rm", &img, "ls", gone]);
        assert!(!o.success(), "{gone} is in the image: {o:?}");
    }
}

#[test]
fn a_required_secret_that_is_not_given_fails_the_build() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=nope,required=true true\n";
    let ctx = context_with(&e, "required", &[("Dockerfile", df)]);
    let o = build(&e, &["--no-cache", p(&ctx)]);
    assert!(!o.success(), "{o:?}");
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("nope"),
        "{o:?}"
    );
}

#[test]
fn bind_mount_of_the_context_is_read_only_and_filtered() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE}\n\
              RUN --mount=type=bind,target=/ctx ls /ctx > /listing && cat /ctx/src/a.txt\n\
              RUN --mount=type=bind,source=src,target=/src sh -c 'touch /src/new 2>/dev/null && echo writable || echo read-only'\n\
              RUN --mount=type=bind,source=src,target=/src,rw sh -c 'echo changed > /src/a.txt && cat /src/a.txt'\n";
    let ctx = context_with(
        &e,
        "bind",
        &[
            ("Dockerfile", df),
            ("src/a.txt", "from-context"),
            ("secret.env", "x"),
            (".dockerignore", "secret.env\n"),
        ],
    );
    let img = e.image_name("bind");
    let out = build_ok(&e, &["--no-cache", "-t", &img, p(&ctx)]);
    assert!(out.contains("from-context"), "{out}");
    // a line of the step's output (BuildKit's plain progress prefixes `#N 0.123 `)
    let line = |l: &str| {
        out.lines()
            .any(|x| x.trim() == l || x.ends_with(&format!(" {l}")))
    };
    assert!(line("read-only") && !line("writable"), "{out}");
    assert!(out.contains("changed"), "{out}");
    // rw writes are thrown away; .dockerignore'd files are not there
    assert_eq!(
        std::fs::read_to_string(ctx.join("src/a.txt")).unwrap(),
        "from-context"
    );
    let listing = e.ok(&["run", "--rm", &img, "cat", "/listing"]);
    assert!(
        listing.contains("src") && !listing.contains("secret.env"),
        "{listing}"
    );
    let o = e.cmd(&["run", "--rm", &img, "ls", "/ctx/src"]);
    assert!(!o.success(), "the context is in the image: {o:?}");
}

#[test]
fn bind_mount_from_a_stage_and_tmpfs() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE} AS tools\nRUN mkdir /out && echo tool-v1 > /out/version\n\
              FROM ${BASE}\n\
              RUN --mount=type=bind,from=tools,source=/out,target=/tools cat /tools/version\n\
              RUN --mount=type=bind,from=tools,source=/out/version,target=/v.txt sed s/tool/file/ /v.txt\n\
              RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f && grep -c scratch /proc/mounts'\n";
    let ctx = context_with(&e, "stage", &[("Dockerfile", df)]);
    let img = e.image_name("stage");
    let out = build_ok(&e, &["--no-cache", "-t", &img, p(&ctx)]);
    assert!(out.contains("tool-v1"), "{out}");
    // a file of a stage: the mount is that file
    assert!(out.contains("file-v1"), "{out}");
    for gone in ["/tools/version", "/v.txt", "/scratch/f"] {
        let o = e.cmd(&["run", "--rm", &img, "ls", gone]);
        assert!(!o.success(), "{gone} is in the image: {o:?}");
    }
}

#[test]
fn run_network_none_has_only_loopback() {
    let e = engine!();
    berth_only!(
        e,
        "dockerd 20.10's built-in Dockerfile frontend predates RUN --network"
    );
    let df = "ARG BASE\nFROM ${BASE}\nRUN --network=none sh -c 'echo nets: $(ls /sys/class/net)'\n";
    let ctx = context_with(&e, "netnone", &[("Dockerfile", df)]);
    let out = build_ok(&e, &["--no-cache", p(&ctx)]);
    assert!(
        out.contains("nets: lo\n"),
        "a --network=none step has more than lo: {out}"
    );
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let e = engine!();
    // each stage waits for the other's mark in a shared cache mount: built one
    // after the other, the first would give up and fail the build
    let id = unique(&e, "rendezvous");
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id={id},target=/sync sh -c 'touch /sync/{me}; \
             i=0; while [ ! -e /sync/{other} ]; do i=$((i+1)); [ $i -gt 300 ] && exit 7; sleep 0.1; done; \
             echo {me} > /{me}'\n"
        )
    };
    let df = format!(
        "ARG BASE\nFROM ${{BASE}} AS a\n{}FROM ${{BASE}} AS b\n{}FROM ${{BASE}}\n\
         COPY --from=a /a /a\nCOPY --from=b /b /b\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let ctx = context_with(&e, "parallel", &[("Dockerfile", &df)]);
    let img = e.image_name("parallel");
    build_ok(&e, &["--no-cache", "-t", &img, p(&ctx)]);
    assert_eq!(e.ok(&["run", "--rm", &img, "cat", "/a", "/b"]), "a\nb\n");
}

#[test]
fn output_local_and_tar() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE} AS build\nRUN mkdir /dist && echo artifact > /dist/app\n\
              FROM scratch\nCOPY --from=build /dist/app /app\n";
    let ctx = context_with(&e, "output", &[("Dockerfile", df)]);
    let dir = e.path().join("out-dir");
    build_ok(
        &e,
        &["-o", &format!("type=local,dest={}", p(&dir)), p(&ctx)],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("app")).unwrap(),
        "artifact\n"
    );
    let tar = e.path().join("out.tar");
    build_ok(
        &e,
        &["--output", &format!("type=tar,dest={}", p(&tar)), p(&ctx)],
    );
    let list = std::process::Command::new("tar")
        .args(["-tf", p(&tar)])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_eq!(names.trim(), "app", "{names}");
}

#[test]
fn copy_parents_and_exclude() {
    let e = engine!();
    berth_only!(
        e,
        "dockerd 20.10's built-in Dockerfile frontend predates COPY --parents and --exclude"
    );
    let df = "ARG BASE\nFROM ${BASE}\n\
              COPY --parents src/app/m.rs docs/x.md /p/\n\
              COPY --exclude=*.md --exclude=Dockerfile . /e/\n\
              RUN find /p /e -type f | sort\n";
    let ctx = context_with(
        &e,
        "parents",
        &[
            ("Dockerfile", df),
            ("src/app/m.rs", "m"),
            ("docs/x.md", "x"),
            ("top.md", "t"),
            ("keep.txt", "k"),
        ],
    );
    let img = e.image_name("parents");
    build_ok(&e, &["--no-cache", "-t", &img, p(&ctx)]);
    let files = e.ok(&["run", "--rm", &img, "sh", "-c", "find /p /e -type f | sort"]);
    assert_eq!(
        files,
        "/e/docs/x.md\n/e/keep.txt\n/e/src/app/m.rs\n/p/docs/x.md\n/p/src/app/m.rs\n"
    );
}

#[test]
fn platform_args_are_predefined() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE}\nARG TARGETPLATFORM\nARG TARGETOS\nARG TARGETARCH\n\
              RUN echo \"plat=$TARGETPLATFORM os=$TARGETOS arch=$TARGETARCH undeclared=$BUILDARCH\"\n";
    let ctx = context_with(&e, "platform", &[("Dockerfile", df)]);
    let out = build_ok(&e, &["--no-cache", p(&ctx)]);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let want = format!("os=linux arch={arch} undeclared=");
    assert!(out.contains(&want), "want {want:?} in {out}");
    assert!(out.contains(&format!("plat=linux/{arch}")), "{out}");
}

#[test]
fn syntax_line_takes_the_built_in_frontend_only() {
    let e = engine!();
    berth_only!(e, "dockerd cannot fetch a frontend image offline");
    let ok = "# syntax=docker/dockerfile:1.7\nARG BASE\nFROM ${BASE}\nRUN true\n";
    let ctx = context_with(&e, "syntax-ok", &[("Dockerfile", ok)]);
    build_ok(&e, &[p(&ctx)]);
    let bad = "# syntax=example.com/frontend:2\nARG BASE\nFROM ${BASE}\n";
    let ctx = context_with(&e, "syntax-bad", &[("Dockerfile", bad)]);
    let o = build(&e, &[p(&ctx)]);
    assert!(!o.success());
    assert!(o.stderr.contains("example.com/frontend:2"), "{o:?}");
}

#[test]
fn entitlements_are_needed_for_host_network_and_insecure_steps() {
    let e = engine!();
    berth_only!(
        e,
        "dockerd 20.10 needs its own --allow-insecure-entitlement config for these"
    );
    let df = "ARG BASE\nFROM ${BASE}\nRUN --security=insecure true\n";
    let ctx = context_with(&e, "insecure", &[("Dockerfile", df)]);
    let o = build(&e, &["--no-cache", p(&ctx)]);
    assert!(!o.success());
    assert!(o.stderr.contains("security.insecure"), "{o:?}");
    build_ok(&e, &["--no-cache", "--allow", "security.insecure", p(&ctx)]);
    let df = "ARG BASE\nFROM ${BASE}\nRUN --network=host true\n";
    let ctx = context_with(&e, "hostnet", &[("Dockerfile", df)]);
    let o = build(&e, &["--no-cache", p(&ctx)]);
    assert!(o.stderr.contains("network.host"), "{o:?}");
    build_ok(&e, &["--no-cache", "--allow", "network.host", p(&ctx)]);
}

#[test]
fn builder_prune_clears_cache_mounts() {
    let e = engine!();
    // (passes against dockerd run alone; on the daemon the suite shares, the prune would
    // take the other tests' cache mounts)
    berth_only!(
        e,
        "builder prune empties the shared daemon's whole build cache"
    );
    let id = unique(&e, "prunable");
    let df = format!(
        "ARG BASE\nFROM ${{BASE}}\nARG RUN\nRUN --mount=type=cache,id={id},target=/c sh -c 'echo $RUN >> /c/log; echo n=$(wc -l < /c/log)'\n"
    );
    let ctx = context_with(&e, "prune", &[("Dockerfile", &df)]);
    build_ok(&e, &["--build-arg", "RUN=1", p(&ctx)]);
    let kept = build_ok(&e, &["--build-arg", "RUN=2", p(&ctx)]);
    assert!(kept.contains("n=2"), "the cache mount was not kept: {kept}");
    e.ok(&["builder", "prune", "-f"]);
    let out = build_ok(&e, &["--build-arg", "RUN=3", p(&ctx)]);
    assert!(
        out.contains("n=1"),
        "the cache mount survived the prune: {out}"
    );
}

/// In a fresh root holding `a`'s base image (as a pull would give it), build `ctx` as `tag`
/// with `--cache-from from`: every step must hit (`hits` of them) and the image be `a`'s `id`.
fn rebuild_from_cache(
    a: &Engine,
    ctx: &Path,
    from: &str,
    tag: &str,
    hits: usize,
    id: &str,
) -> Engine {
    let base = a.path().join("base.tar");
    a.ok(&["save", "-o", p(&base), a.img()]);
    let b = Engine::new();
    b.ok(&["load", "-i", p(&base)]);
    let arg = format!("BASE={}", a.img());
    let args = [
        "build",
        "--build-arg",
        &arg,
        "-t",
        tag,
        "--cache-from",
        from,
        p(ctx),
    ];
    let o = b.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        o.stdout.matches(" ---> Using cache").count(),
        hits,
        "{}",
        o.stdout
    );
    assert_eq!(b.ok(&["image", "inspect", "-f", "{{.Id}}", tag]), id);
    b
}

#[test]
fn step_cache_travels_to_a_fresh_root() {
    let a = engine!();
    berth_only!(
        a,
        "docker 20.10's build has no --cache-to (buildx's); berth's local cache export"
    );
    let df = "ARG BASE\nFROM ${BASE} AS tools\nRUN echo tool > /tool\n\
              FROM ${BASE}\nCOPY --from=tools /tool /tool\nRUN echo built >> /tool\n";
    let ctx = context_with(&a, "carry", &[("Dockerfile", df)]);
    let dir = a.path().join("cache-dir");
    let to = format!("type=local,dest={}", p(&dir));
    let out = build_ok(&a, &["-t", "carried:1", "--cache-to", &to, p(&ctx)]);
    assert!(!out.contains("Using cache"), "{out}");
    let id = a.ok(&["image", "inspect", "-f", "{{.Id}}", "carried:1"]);
    let from = format!("type=local,src={}", p(&dir));
    let b = rebuild_from_cache(&a, &ctx, &from, "carried:2", 3, &id);
    // the imported steps were trusted by that build only: the next one runs them
    let arg = format!("BASE={}", a.img());
    let o = b.cmd_with(
        &["build", "--build-arg", &arg, p(&ctx)],
        Stdin::Null,
        BUILD_TIMEOUT,
    );
    assert!(o.success(), "{o:?}");
    assert_eq!(
        o.stdout.matches(" ---> Using cache").count(),
        0,
        "{}",
        o.stdout
    );
    // no cache there yet (a first CI run) is not an error
    let none = format!("type=local,src={}", p(&a.path().join("nothing")));
    build_ok(&a, &["--cache-from", &none, p(&ctx)]);
}

#[test]
fn step_cache_round_trip_through_a_registry() {
    let a = engine!();
    berth_only!(
        a,
        "docker 20.10's build has no --cache-to (buildx's); berth's registry cache export"
    );
    let reg = berth_e2e::api::Registry::start(&a.path().join("registry"));
    let df = "ARG BASE\nFROM ${BASE}\nRUN echo one > /one\nRUN echo two > /two\n";
    let ctx = context_with(&a, "regcache", &[("Dockerfile", df)]);
    let reference = format!("{}/app:buildcache", reg.addr);
    let to = format!("type=registry,ref={reference}");
    build_ok(&a, &["-t", "regcached:1", "--cache-to", &to, p(&ctx)]);
    let id = a.ok(&["image", "inspect", "-f", "{{.Id}}", "regcached:1"]);
    let from = format!("type=registry,ref={reference}");
    let b = rebuild_from_cache(&a, &ctx, &from, "regcached:2", 2, &id);
    // a cache that is not there: a warning, and the build goes on
    let missing = format!("type=registry,ref={}/nothing:here", reg.addr);
    let out = build_ok(&b, &["--no-cache", "--cache-from", &missing, p(&ctx)]);
    assert!(out.contains("WARNING: failed to import cache"), "{out}");
}

#[test]
fn plain_progress_numbers_and_times_each_step() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE} AS first\nENV A=1\nRUN echo out-line && echo err-line >&2\n";
    let ctx = context_with(&e, "progress", &[("Dockerfile", df)]);
    let o = build(&e, &["--no-cache", "--progress=plain", p(&ctx)]);
    assert!(o.success(), "{o:?}");
    let all = format!("{}{}", o.stdout, o.stderr);
    let lines: Vec<&str> = all.lines().collect();
    // `#N [2/2] RUN ...` (one stage: not named; ENV is no step there), its output as
    // `#N 0.123 out-line`, then `#N DONE 0.4s`
    let start = lines
        .iter()
        .position(|l| l.starts_with('#') && l.contains(" [2/2] RUN echo out-line"))
        .unwrap_or_else(|| panic!("no step line: {all}"));
    let n = lines[start].split(' ').next().unwrap();
    let timed = |text: &str| {
        lines.iter().any(|l| {
            let mut w = l.splitn(3, ' ');
            w.next() == Some(n)
                && w.next().is_some_and(|t| t.parse::<f64>().is_ok())
                && w.next() == Some(text)
        })
    };
    assert!(timed("out-line") && timed("err-line"), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{n} DONE ")) && l.ends_with('s')),
        "{all}"
    );
    assert!(
        !all.contains("Step 1/"),
        "legacy lines in plain progress: {all}"
    );
}

#[test]
fn tty_progress_draws_the_steps_in_place_on_a_terminal() {
    let e = engine!();
    if e.is_docker() {
        std::env::set_var("DOCKER_BUILDKIT", "1");
    }
    let df = "ARG BASE\nFROM ${BASE}\nRUN sleep 0.5 && echo tty-line\nCOPY Dockerfile /df\n";
    let ctx = context_with(&e, "tty", &[("Dockerfile", df)]);
    let base = format!("BASE={}", e.img());
    let img = e.image_name("tty");
    // `tty`, and `auto` on a terminal: BuildKit's live display, not its plain lines
    for mode in ["--progress=tty", "--progress=auto"] {
        let args = [
            "build",
            "--no-cache",
            mode,
            "--build-arg",
            &base,
            "-t",
            &img,
            p(&ctx),
        ];
        let o = e.cmd_pty(&args, b"", 30, 100);
        assert!(o.success(), "{mode}: {o:?}");
        let screen = o.stdout.replace('\r', "");
        assert!(screen.contains("[+] Building "), "{mode}: {screen:?}");
        assert!(screen.contains(" FINISHED"), "{mode}: {screen:?}");
        // frames drawn over each other: the cursor goes up
        assert!(
            screen.contains("\x1b[")
                && screen.split("\x1b[").any(|s| s
                    .split_once('A')
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))),
            "{mode}: no redraw in {screen:?}"
        );
        // the last frame lists each step that changes files with its time
        let last = screen.rsplit("[+] Building ").next().unwrap();
        for step in [
            "[2/3] RUN sleep 0.5 && echo tty-line",
            "[3/3] COPY Dockerfile /df",
        ] {
            assert!(
                last.lines()
                    .any(|l| l.contains(step) && l.trim_end().ends_with('s')),
                "{mode}: no timed {step} in {last:?}"
            );
        }
        assert!(
            !screen.contains(" DONE "),
            "{mode}: plain lines: {screen:?}"
        );
    }
    let o = e.cmd(&["run", "--rm", &img, "cat", "/df"]);
    assert!(o.stdout.contains("FROM ${BASE}"), "{o:?}");
}

#[test]
fn ssh_mount_brings_the_agent_socket() {
    let e = engine!();
    let sock = e.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let df = "ARG BASE\nFROM ${BASE}\n\
              RUN --mount=type=ssh sh -c 'test -S \"$SSH_AUTH_SOCK\" && echo agent-at-$SSH_AUTH_SOCK'\n\
              RUN --mount=type=ssh,id=other,required=true true\n";
    let ctx = context_with(&e, "ssh", &[("Dockerfile", df)]);
    let ssh = format!("default={}", p(&sock));
    let other = format!("other={}", p(&sock));
    let out = build_ok(&e, &["--no-cache", "--ssh", &ssh, "--ssh", &other, p(&ctx)]);
    assert!(out.contains("agent-at-/run/buildkit/ssh_agent."), "{out}");
    // a required agent that is not forwarded fails the step
    let o = build(&e, &["--no-cache", "--ssh", &ssh, p(&ctx)]);
    assert!(!o.success(), "{o:?}");
}

#[test]
fn inline_cache_travels_with_the_image() {
    let a = engine!();
    berth_only!(
        a,
        "needs two engines and a registry; berth's inline cache (dockerd 20.10's is its own)"
    );
    let reg = berth_e2e::api::Registry::start(&a.path().join("registry"));
    let df = "ARG BASE\nFROM ${BASE}\nRUN echo one > /one\nENV STAGE=two\nRUN echo two > /two\n";
    let ctx = context_with(&a, "inline", &[("Dockerfile", df)]);
    let app = format!("{}/app:inline", reg.addr);
    build_ok(
        &a,
        &[
            "--build-arg",
            "BUILDKIT_INLINE_CACHE=1",
            "-t",
            &app,
            p(&ctx),
        ],
    );
    a.ok(&["push", &app]);
    // a fresh root with the base (as a pull would give it), nothing else: the build pulls
    // the cache source itself
    let base = a.path().join("base.tar");
    a.ok(&["save", "-o", p(&base), a.img()]);
    let b = Engine::new();
    b.ok(&["load", "-i", p(&base)]);
    let arg = format!("BASE={}", a.img());
    let args = [
        "build",
        "--build-arg",
        &arg,
        "--cache-from",
        &app,
        "-t",
        "rebuilt",
        p(&ctx),
    ];
    let o = b.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        o.stdout.matches(" ---> Using cache").count(),
        3,
        "{}",
        o.stdout
    );
    assert_eq!(
        b.ok(&["run", "--rm", "rebuilt", "cat", "/one", "/two"]),
        "one\ntwo\n"
    );
    // a cache source that cannot be pulled: a warning, and the build goes on
    let missing = format!("{}/nothing:here", reg.addr);
    let args = [
        "build",
        "--build-arg",
        &arg,
        "--cache-from",
        &missing,
        p(&ctx),
    ];
    let o = b.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert!(o.success(), "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("WARNING: failed to import cache {missing}")),
        "{o:?}"
    );
    // without the image as a cache source the steps run
    let args = ["build", "--build-arg", &arg, "--no-cache", p(&ctx)];
    let o = b.cmd_with(&args, Stdin::Null, BUILD_TIMEOUT);
    assert_eq!(
        o.stdout.matches(" ---> Using cache").count(),
        0,
        "{}",
        o.stdout
    );
}

/// A RUN whose bind mounts did not change is a cache hit without copying their sources (the
/// key needs their hash only): berth marks each copy in its `BERTH_PHASES` file.
#[test]
fn bind_sources_are_copied_only_when_the_step_runs() {
    let e = engine!();
    berth_only!(e, "counts berth's own phase marks (BERTH_PHASES)");
    let df = "ARG BASE\nFROM ${BASE} AS tools\nRUN echo tool > /v\n\
              FROM ${BASE}\n\
              RUN --mount=type=bind,source=src,target=/src --mount=type=bind,from=tools,source=/v,target=/v \
              cat /src/a /v > /both\n";
    let ctx = context_with(&e, "bindcopy", &[("Dockerfile", df), ("src/a", "a1\n")]);
    let img = e.image_name("bindcopy");
    let base = format!("BASE={}", e.img());
    let copies = |run: &str| -> usize {
        let phases = e.path().join(format!("phases-{run}"));
        let mut cmd = std::process::Command::new(berth_e2e::engine::berth_bin());
        cmd.arg("--root").arg(e.path().join("root"));
        cmd.args(["build", "--build-arg", &base, "-t", &img, p(&ctx)]);
        cmd.env("BERTH_PHASES", &phases);
        let io = e.path().join("io");
        let o = berth_e2e::cmd::run_with_timeout(cmd, &io, run, Stdin::Null, BUILD_TIMEOUT);
        assert!(o.success(), "{run} build: {o:?}");
        std::fs::read_to_string(&phases)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(" build.bind-source-copied"))
            .count()
    };
    assert_eq!(copies("cold"), 2, "the step ran: both sources copied");
    assert_eq!(copies("cached"), 0, "a cache hit copies nothing");
    std::fs::write(ctx.join("src/a"), "a2\n").unwrap();
    assert_eq!(copies("changed"), 2, "a changed source runs the step");
    assert_eq!(e.ok(&["run", "--rm", &img, "cat", "/both"]), "a2\ntool\n");
}

/// `COPY --from` of a source that is a symlink copies what it points to, resolved inside the
/// source stage (as BuildKit): an absolute target or one climbing with `..` names the stage's
/// file, never the host's.
#[test]
fn copy_from_follows_a_source_symlink_inside_the_stage() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE} AS s\n\
              RUN echo stage > /etc/os-release && mkdir /data && echo inside > /data/f && \
              ln -s /etc/os-release /abs && ln -s ../../../../../etc/os-release /up && \
              ln -s /data /dlink\n\
              FROM ${BASE}\nCOPY --from=s /abs /abs-copy\nCOPY --from=s /up /up-copy\n\
              COPY --from=s /dlink /d\n";
    let ctx = context_with(&e, "from-symlink", &[("Dockerfile", df)]);
    let img = e.image_name("from-symlink");
    build_ok(&e, &["-t", &img, p(&ctx)]);
    let out = e.ok(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "cat /abs-copy /up-copy /d/f; for f in /abs-copy /up-copy /d; do \
         [ -L $f ] && echo $f is a link; done; true",
    ]);
    assert_eq!(out, "stage\nstage\ninside\n");
}

/// `COPY --from` of a directory puts each file in place as the stage has it, its data copied
/// file to file: modes (setuid too) and times kept, symlinks copied as links (an absolute
/// target, or one climbing out with `..`, is never followed: nothing outside the stage is
/// read), what a later step of the stage deleted left out, `--chown` applied to every kind.
#[test]
fn copy_from_of_a_directory_keeps_each_kind_and_never_follows_its_links() {
    let e = engine!();
    let df = "ARG BASE\nFROM ${BASE} AS s\n\
              RUN mkdir -p /d/sub /d/gone && echo one > /d/f && echo two > /d/gone/g && \
              head -c 1048577 /dev/urandom > /d/big && chmod 4751 /d/f && chmod 0700 /d/sub && \
              touch -d '2001-09-09 01:46:40' /d/f && ln -s /etc /d/abs && \
              ln -s ../../../../../etc/passwd /d/sub/up && sha256sum /d/big > /big.sum\n\
              RUN rm -rf /d/gone\n\
              FROM ${BASE}\nCOPY --from=s /d /out\nCOPY --from=s --chown=7:8 /d /own\n\
              COPY --from=s /big.sum /big.sum\n";
    let ctx = context_with(&e, "from-dir", &[("Dockerfile", df)]);
    let img = e.image_name("from-dir");
    build_ok(&e, &["-t", &img, p(&ctx)]);
    let out = e.ok(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "cd / && stat -c '%n %A %u:%g %s %Y' out/f own/f && \
         stat -c '%n %A %u:%g' out/sub own/sub out/abs own/abs own/sub/up && \
         for l in out/abs out/sub/up own/sub/up; do readlink $l; done && ls out && \
         sed 's#/d/#/out/#' big.sum | sha256sum -c -",
    ]);
    assert_eq!(
        out,
        "out/f -rwsr-x--x 0:0 4 1000000000\nown/f -rwsr-x--x 7:8 4 1000000000\n\
         out/sub drwx------ 0:0\nown/sub drwx------ 7:8\n\
         out/abs lrwxrwxrwx 0:0\nown/abs lrwxrwxrwx 7:8\nown/sub/up lrwxrwxrwx 7:8\n\
         /etc\n../../../../../etc/passwd\n../../../../../etc/passwd\n\
         abs\nbig\nf\nsub\n/out/big: OK\n"
    );
}
