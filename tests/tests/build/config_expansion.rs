use super::*;

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
