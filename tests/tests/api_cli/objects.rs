use super::*;

#[test]
fn inspect_fields_format_and_missing_objects() {
    let s = api_server!();
    let bb = s.busybox();
    let id = s
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "insp",
            "-e",
            "FOO=bar",
            "-l",
            "e2e.label=yes",
            bb,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let v = s.inspect("insp");
    assert_eq!(v["Id"], id.as_str(), "{v}");
    assert_eq!(v["Name"], "/insp");
    assert_eq!(v["Config"]["Image"], "busybox");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sleep", "300"]));
    assert!(
        v["Config"]["Env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "FOO=bar")),
        "{v}"
    );
    assert_eq!(v["Config"]["Labels"]["e2e.label"], "yes");
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["State"]["Running"], true);
    assert!(
        v["Image"]
            .as_str()
            .is_some_and(|i| i.starts_with("sha256:")),
        "{v}"
    );
    assert!(
        v["Created"].as_str().is_some_and(|c| c.contains('T')),
        "{v}"
    );
    assert!(
        v["HostConfig"].is_object() && v["NetworkSettings"].is_object(),
        "{v}"
    );
    assert!(v["Mounts"].is_array(), "{v}");
    // The pid is the container's process on the host.
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(cmdline, b"sleep\x00300\x00", "State.Pid {pid}");

    assert_eq!(
        s.inspect_f(
            "insp",
            "{{.State.Status}} {{.Config.Image}} {{index .Config.Labels \"e2e.label\"}}"
        ),
        "running busybox yes"
    );
    assert_eq!(
        s.inspect_f("insp", "{{json .Config.Cmd}}"),
        r#"["sleep","300"]"#
    );
    assert_eq!(
        s.docker_ok(&["container", "inspect", "--format", "{{.Name}}", &id[..12]])
            .trim(),
        "/insp",
        "lookup by id prefix"
    );

    let img = s.docker_ok(&["image", "inspect", "busybox"]);
    let img: Value = serde_json::from_str(&img).unwrap();
    let img = &img[0];
    assert!(
        img["Id"].as_str().is_some_and(|i| i.starts_with("sha256:")),
        "{img}"
    );
    assert_eq!(img["Id"], v["Image"], "the container's image");
    assert_eq!(img["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Os"], "linux");

    let o = s.docker(&["inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such object: nosuch"), "{o:?}");
    let o = s.docker(&["image", "inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = s.docker(&["container", "inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
}

#[test]
fn publish_port_reaches_the_container() {
    let s = api_server!();
    let bb = s.busybox();
    let port = free_port();
    let p = format!("{port}:80");
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &p,
        bb,
        "sh",
        "-c",
        &httpd_script("published-ok"),
    ]);
    let body = curl_until(&s, port, 15 * SEC);
    assert_eq!(
        body.as_deref(),
        Some("published-ok\n"),
        "curl http://127.0.0.1:{port}/ via -p {p}"
    );
    let o = s.docker_ok(&["port", "web"]);
    assert!(
        o.lines().any(|l| l == format!("80/tcp -> 0.0.0.0:{port}")),
        "docker port: {o}"
    );
    let ports = s.docker_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(
        ports.contains(&format!("0.0.0.0:{port}->80/tcp")),
        "ps PORTS: {ports}"
    );
    assert_eq!(
        s.inspect_f(
            "web",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}"
        ),
        port.to_string()
    );
    s.docker_ok(&["rm", "-f", "web"]);
    assert!(
        berth_e2e::api::wait_until(10 * SEC, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        }),
        "port {port} still open after rm -f"
    );
}

#[test]
fn volumes_named_and_bind_mounts() {
    let s = api_server!();
    let bb = s.busybox();
    assert_eq!(s.docker_ok(&["volume", "create", "data1"]).trim(), "data1");
    let ls = s.docker_ok(&["volume", "ls"]);
    assert_eq!(header_columns(&ls), ["DRIVER", "VOLUME NAME"], "{ls}");
    assert!(row(&ls, "data1").starts_with("local"), "{ls}");
    let v = s.inspect("data1");
    assert_eq!(v["Name"], "data1");
    assert_eq!(v["Driver"], "local");
    let mp = v["Mountpoint"].as_str().unwrap().to_string();

    s.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data1:/data",
        bb,
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    assert_eq!(
        s.docker_ok(&["run", "--rm", "-v", "data1:/data", bb, "cat", "/data/f"]),
        "persisted\n"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{mp}/f")).unwrap_or_default(),
        "persisted\n",
        "the volume's Mountpoint on the host"
    );

    // Bind mounts, read-write and read-only.
    let dir = s.path().join("bind");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in"), "from-host\n").unwrap();
    let b = format!("{}:/b", dir.display());
    let o = s.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &b,
        bb,
        "sh",
        "-c",
        "cat /b/in; echo from-container > /b/out",
    ]);
    assert_eq!(o, "from-host\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).unwrap(),
        "from-container\n"
    );
    let ro = format!("{}:/b:ro", dir.display());
    let o = s.docker(&["run", "--rm", "-v", &ro, bb, "sh", "-c", "echo x > /b/nope"]);
    assert_ne!(o.code, 0, "write to a :ro bind succeeded: {o:?}");
    assert!(!dir.join("nope").exists());

    // In use: refused; then removed.
    s.docker_ok(&[
        "create",
        "--name",
        "holder",
        "-v",
        "data1:/data",
        bb,
        "true",
    ]);
    let o = s.docker_fails(&["volume", "rm", "data1"]);
    assert!(o.stderr.contains("in use"), "{o:?}");
    s.docker_ok(&["rm", "holder"]);
    assert_eq!(s.docker_ok(&["volume", "rm", "data1"]).trim(), "data1");
    let names = s.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!names.contains("data1"), "{names}");
    let o = s.docker_fails(&["volume", "inspect", "data1"]);
    assert!(o.stderr.contains("no such volume"), "{o:?}");
}

#[test]
fn networks_by_name_connect_disconnect() {
    let s = api_server!();
    let bb = s.busybox();
    let id = s
        .docker_ok(&["network", "create", "e2enet"])
        .trim()
        .to_string();
    assert!(is_hex64(&id), "network create prints the id: {id}");
    let ls = s.docker_ok(&["network", "ls"]);
    assert_eq!(
        header_columns(&ls),
        ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
        "{ls}"
    );
    let r = row(&ls, "e2enet");
    assert!(
        r.starts_with(&id[..12]) && r.contains("bridge") && r.contains("local"),
        "{ls}"
    );
    let v = s.inspect("e2enet");
    assert_eq!(v["Name"], "e2enet");
    assert_eq!(v["Driver"], "bridge");
    assert!(
        v["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .is_some_and(|x| x.contains('/')),
        "{v}"
    );

    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "e2enet",
        bb,
        "sh",
        "-c",
        &httpd_script("srv-ok"),
    ]);
    // Reachable by name from another container on the network.
    let fetch = http_get_sh("srv", 50);
    let fetch = fetch.as_str();
    let o = s.docker(&["run", "--rm", "--network", "e2enet", bb, "sh", "-c", fetch]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "srv-ok\n"), "{o:?}");

    // A container on the default bridge cannot, until connected.
    s.docker_ok(&["run", "-d", "--name", "outsider", bb, "sleep", "300"]);
    let once_sh = http_get_sh("srv", 1);
    let once = ["exec", "outsider", "sh", "-c", once_sh.as_str()];
    let o = s.docker(&once);
    assert_ne!(o.code, 0, "reached srv before being connected: {o:?}");
    s.docker_ok(&["network", "connect", "e2enet", "outsider"]);
    let o = s.docker(&["exec", "outsider", "sh", "-c", fetch]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "srv-ok\n"), "{o:?}");
    let nets = s.inspect_f("outsider", "{{json .NetworkSettings.Networks}}");
    let nets: Value = serde_json::from_str(&nets).unwrap();
    assert!(
        nets.get("e2enet").is_some() && nets.get("bridge").is_some(),
        "{nets}"
    );
    let members = s.inspect_f("e2enet", "{{range .Containers}}{{.Name}} {{end}}");
    assert!(
        members.contains("outsider") && members.contains("srv"),
        "network inspect .Containers: {members}"
    );

    s.docker_ok(&["network", "disconnect", "e2enet", "outsider"]);
    let o = s.docker(&once);
    assert_ne!(o.code, 0, "reached srv after disconnect: {o:?}");
    let nets = s.inspect_f("outsider", "{{json .NetworkSettings.Networks}}");
    assert!(!nets.contains("e2enet"), "{nets}");

    // In use: refused; then removed.
    let o = s.docker_fails(&["network", "rm", "e2enet"]);
    assert!(o.stderr.contains("active endpoints"), "{o:?}");
    s.docker_ok(&["rm", "-f", "srv"]);
    assert_eq!(s.docker_ok(&["network", "rm", "e2enet"]).trim(), "e2enet");
    let ls = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains("e2enet"), "{ls}");
    let o = s.docker_fails(&["network", "inspect", "e2enet"]);
    assert!(o.stderr.contains("e2enet"), "{o:?}");
}
