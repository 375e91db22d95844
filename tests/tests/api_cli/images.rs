use super::*;

#[test]
fn images_tag_rmi_save_and_load() {
    let s = api_server!();
    let bb = s.busybox();
    let imgs = s.docker_ok(&["images"]);
    assert_eq!(
        header_columns(&imgs),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{imgs}"
    );
    let id = s.inspect_f(bb, "{{.Id}}");
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let r = row(&imgs, "busybox");
    assert!(
        r.starts_with("busybox") && r.contains("latest") && r.contains(short),
        "{imgs}"
    );

    s.docker_ok(&["tag", bb, "e2e/copy:1"]);
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        list.lines().any(|l| l == format!("e2e/copy:1 {short}")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l == format!("busybox:latest {short}")),
        "{list}"
    );

    // save -o / rmi / load -i
    let tar = s.path().join("copy.tar");
    s.docker_ok(&["save", "-o", tar.to_str().unwrap(), "e2e/copy:1"]);
    let members = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    let members = String::from_utf8_lossy(&members.stdout);
    assert!(members.lines().any(|l| l == "manifest.json"), "{members}");
    let o = s.docker_ok(&["rmi", "e2e/copy:1"]);
    assert!(o.contains("Untagged: e2e/copy:1"), "{o}");
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&list), ["busybox:latest"], "busybox must survive");
    let o = s.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(o.contains("Loaded image: e2e/copy:1"), "{o}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", "e2e/copy:1", "echo", "loaded"]),
        "loaded\n"
    );

    // save | load through pipes, into a fresh name.
    s.docker_ok(&["tag", bb, "e2e/piped:2"]);
    let mut sh = s.command("sh");
    sh.args([
        "-c",
        "docker save e2e/piped:2 > piped.tar && docker rmi e2e/piped:2 >/dev/null && docker load < piped.tar",
    ]);
    let o = s.run(sh, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains("Loaded image: e2e/piped:2"), "{o:?}");
    assert_eq!(
        s.inspect_f("e2e/piped:2", "{{.Id}}"),
        id,
        "same image id after the round trip"
    );

    // rmi by id with several tags needs -f; unknown images fail.
    let o = s.docker_fails(&["rmi", "nosuch-image:1"]);
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = s.docker_fails(&["rmi", short]);
    assert!(o.stderr.contains("must be forced"), "{o:?}");
    let o = s.docker_ok(&["rmi", "e2e/copy:1", "e2e/piped:2"]);
    assert!(o.contains("Untagged: e2e/piped:2"), "{o}");
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&list), ["busybox:latest"]);
}

#[test]
fn build_with_the_legacy_builder() {
    let s = api_server!();
    s.busybox();
    let ctx = s.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("msg.txt"), "from-context\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         ENV GREETING=hello-build\n\
         COPY msg.txt /opt/msg.txt\n\
         RUN echo \"built-$GREETING\" > /opt/built.txt && cat /opt/msg.txt >> /opt/built.txt\n\
         WORKDIR /opt\n\
         CMD [\"sh\", \"-c\", \"cat built.txt; echo $GREETING\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("Failing.Dockerfile"), "FROM busybox\nRUN exit 9\n").unwrap();
    let legacy = [("DOCKER_BUILDKIT", "0")];
    let o = s.docker_with(
        &["build", "-t", "e2e-built:1", ctx.to_str().unwrap()],
        &legacy,
        Stdin::Null,
        120 * SEC,
    );
    assert!(o.success(), "{o:?}");
    for want in [
        "Step 1/6 : FROM busybox",
        "Step 4/6 : RUN",
        "Successfully built ",
        "Successfully tagged e2e-built:1",
    ] {
        assert!(
            o.stdout.contains(want),
            "build output lacks {want:?}: {o:?}"
        );
    }
    assert_eq!(
        s.docker_ok(&["run", "--rm", "e2e-built:1"]),
        "built-hello-build\nfrom-context\nhello-build\n"
    );
    let v = s.inspect("e2e-built:1");
    assert_eq!(v["Config"]["WorkingDir"], "/opt");
    assert!(
        v["Config"]["Env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "GREETING=hello-build")),
        "{v}"
    );
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(list.lines().any(|l| l == "e2e-built:1"), "{list}");

    // A failing RUN fails the build with the step's exit code.
    let o = s.docker_with(
        &[
            "build",
            "-t",
            "e2e-fail:1",
            "-f",
            ctx.join("Failing.Dockerfile").to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        &legacy,
        Stdin::Null,
        120 * SEC,
    );
    assert_ne!(o.code, 0, "{o:?}");
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("returned a non-zero code: 9"),
        "{o:?}"
    );
    let o = s.docker(&["image", "inspect", "e2e-fail:1"]);
    assert_ne!(o.code, 0, "a failed build tagged its image: {o:?}");
}

#[test]
fn pull_and_push_with_a_local_registry() {
    let s = api_server!();
    let bb = s.busybox();
    let reg = berth_e2e::api::Registry::start(&s.path().join("registry"));
    let r = format!("{}/e2e/busybox:v1", reg.addr);
    s.docker_ok(&["tag", bb, &r]);
    let o = s.docker(&["push", &r]);
    assert!(o.success(), "{o:?}");
    let digest = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("push output lacks `v1: digest: ...`: {o:?}"))
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // The registry really has it (skopeo, not the server, looks).
    let mut sk = std::process::Command::new("skopeo");
    sk.args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{r}"));
    let o = s.run(sk, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    let si: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(si["Digest"], digest.as_str(), "{si}");

    // Forget it locally, pull it back, run it.
    s.docker_ok(&["rmi", &r]);
    let o = s.docker(&["image", "inspect", &r]);
    assert_ne!(o.code, 0, "{o:?}");
    let o = s.docker(&["pull", &r]);
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&r), "{o:?}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", &r, "echo", "pulled"]),
        "pulled\n"
    );
    let digests = s.inspect_f(&r, "{{json .RepoDigests}}");
    assert!(
        digests.contains(&digest),
        "RepoDigests {digests} lacks {digest}"
    );

    // An image another tool put there: pull by name and run.
    let other = format!("{}/e2e/other:v2", reg.addr);
    let mut sk = std::process::Command::new("skopeo");
    sk.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{r}"))
        .arg(format!("docker://{other}"));
    let o = s.run(sk, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", &other, "echo", "via-skopeo"]),
        "via-skopeo\n",
        "run pulls a missing image"
    );

    // Not in the registry: a clean failure.
    let missing = format!("{}/e2e/nosuch:v1", reg.addr);
    let o = s.docker(&["pull", &missing]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("e2e/nosuch"), "{o:?}");
}
