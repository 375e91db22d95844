use super::*;

#[test]
fn stats_no_stream() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "statme", bb, "sleep", "300"]);
    let o = s.docker_with(&["stats", "--no-stream"], &[], Stdin::Null, 30 * SEC);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        header_columns(&o.stdout),
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{o:?}"
    );
    let r = row(&o.stdout, "statme");
    assert!(r.trim_end().ends_with(" 1"), "one process (PIDS 1): {r}");
    let o = s.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.PIDs}}|{{.MemUsage}}",
        "statme",
    ]);
    let f: Vec<&str> = o.trim().split('|').collect();
    assert_eq!(f[..2], ["statme", "1"], "{o}");
    let usage = f[2].split(" / ").next().unwrap_or("");
    assert!(
        !usage.is_empty() && usage != "0B",
        "memory usage of a running container: {o}"
    );
}

#[test]
fn cp_both_ways() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "cpc", bb, "sleep", "300"]);
    let host_in = s.path().join("in.txt");
    std::fs::write(&host_in, "to-container\n").unwrap();
    s.docker_ok(&["cp", host_in.to_str().unwrap(), "cpc:/tmp/in.txt"]);
    assert_eq!(
        s.docker_ok(&["exec", "cpc", "cat", "/tmp/in.txt"]),
        "to-container\n"
    );

    s.docker_ok(&[
        "exec",
        "cpc",
        "sh",
        "-c",
        "mkdir -p /tmp/d/sub && echo deep > /tmp/d/sub/f",
    ]);
    let out = s.path().join("out");
    s.docker_ok(&["cp", "cpc:/tmp/d", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("sub/f")).unwrap_or_default(),
        "deep\n",
        "directory copied out"
    );

    let o = s.docker_fails(&["cp", "cpc:/nope", s.path().join("x").to_str().unwrap()]);
    assert!(o.stderr.contains("/nope"), "{o:?}");

    // A stopped container's files can still be copied out.
    s.docker_ok(&["kill", "cpc"]);
    let back = s.path().join("back.txt");
    s.docker_ok(&["cp", "cpc:/tmp/in.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "to-container\n");
}

#[test]
fn errors_are_reported_cleanly() {
    let s = api_server!();
    let bb = s.busybox();
    // A missing image and no registry to pull it from.
    let o = s.docker(&["run", "--rm", "e2e-nosuch-image:latest", "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr
            .contains("Unable to find image 'e2e-nosuch-image:latest' locally"),
        "{o:?}"
    );
    assert!(o.stderr.contains("Error response from daemon"), "{o:?}");
    assert!(o.elapsed < 30 * SEC, "took {:?}", o.elapsed);
    let closed = format!("127.0.0.1:{}/e2e/nosuch:1", free_port());
    let o = s.docker(&["run", "--rm", &closed, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("Error response from daemon"), "{o:?}");
    let o = s.docker(&["pull", "e2e-nosuch-image"]);
    assert_eq!(o.code, 1, "{o:?}");
    let psa = s.docker_ok(&["ps", "-aq"]);
    assert_eq!(psa.trim(), "", "failed runs left containers");

    for args in [
        &["rm", "nosuch"][..],
        &["logs", "nosuch"],
        &["exec", "nosuch", "true"],
        &["stop", "nosuch"],
        &["start", "nosuch"],
    ] {
        let o = s.docker(args);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(o.stderr.contains("No such container: nosuch"), "{o:?}");
    }

    // Name conflicts.
    s.docker_ok(&["create", "--name", "dup", bb, "true"]);
    let o = s.docker(&["run", "--name", "dup", bb, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("is already in use"), "{o:?}");
    // A command that does not exist in the image.
    let o = s.docker(&["run", "--rm", bb, "no-such-binary"]);
    assert_eq!(o.code, 127, "{o:?}");
}

#[test]
fn socket_is_0660_root_and_group_berth() {
    let s = api_server!();
    let meta = std::fs::metadata(&s.sock).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.uid(), 0, "socket owner");
    assert_eq!(
        group_name(meta.gid()).as_deref(),
        Some("berth"),
        "socket group"
    );
}

#[test]
fn socket_group_override_and_access_control() {
    let group = format!("e2eg{}", std::process::id() % 100000);
    let s = api_server!(ServerOptions {
        group: Some(group.clone()),
    });
    let gid = group_gid(&group).expect("the server made its --group");
    let meta = std::fs::metadata(&s.sock).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.gid(), gid, "socket group");
    let as_nobody = |groups: &[&str]| {
        let mut c = s.command("setpriv");
        c.args(["--reuid=65534", "--regid=65534"])
            .args(groups)
            .args(["docker", "-H", &s.host, "ps"]);
        s.run(c, Stdin::Null, 30 * SEC)
    };
    let o = as_nobody(&["--clear-groups"]);
    assert_ne!(o.code, 0, "a user outside the group got in: {o:?}");
    assert!(o.stderr.contains("permission denied"), "{o:?}");
    let g = format!("--groups={gid}");
    let o = as_nobody(&[&g]);
    assert!(o.success(), "a member of the group was refused: {o:?}");
    assert!(o.stdout.starts_with("CONTAINER ID"), "{o:?}");
}

#[test]
fn berth_cli_and_api_share_containers() {
    let s = api_server!();
    api_berth_only!(s, "the berth CLI on the server's own root");
    let bb = s.busybox();
    s.berth_ok(&["run", "-d", "--name", "from-cli", bb, "sleep", "300"]);
    let names = s.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        names.lines().any(|l| l == "from-cli running"),
        "a container started by `berth run -d` is missing from `docker ps`: {names}"
    );
    s.docker_ok(&["run", "-d", "--name", "from-api", bb, "sleep", "300"]);
    let ps = s.berth_ok(&["ps"]);
    assert!(
        ps.contains("from-api"),
        "a container started by `docker run -d` is missing from `berth ps`: {ps}"
    );
    assert_eq!(s.docker_ok(&["exec", "from-cli", "echo", "x"]), "x\n");
    assert_eq!(s.berth_ok(&["exec", "from-api", "echo", "y"]), "y\n");
    s.docker_ok(&["rm", "-f", "from-cli"]);
    let psa = s.berth_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!psa.contains("from-cli"), "{psa}");
}
