use super::*;

// ---------------------------------------------------------------------------
// 1. published ports

/// The seeds' example: two busybox httpd, both on port 80 inside,
/// published as A and B; the host gets a different page from each, on
/// 127.0.0.1 and on its own address; other containers reach them through
/// the host's address (hairpin); `port` prints docker's lines; `-P`
/// publishes the image's EXPOSE to a high port.
#[test]
fn two_httpd_on_port_80_published_fetch_different_pages() {
    let e = engine!();
    let img = e.img().to_string();
    let (a, b) = (free_port(), free_port());
    let pa = format!("{a}:80");
    let pb = format!("{b}:80");
    let one = run_httpd(&e, &img, "web1", "page-one", &["-p", &pa]);
    let two = run_httpd(&e, &img, "web2", "page-two", &["-p", &pb]);

    let host = host_addr();
    for addr in ["127.0.0.1", host.as_str()] {
        assert_eq!(wait_http(addr, a), "page-one\n", "via {addr}:{a}");
        assert_eq!(wait_http(addr, b), "page-two\n", "via {addr}:{b}");
    }

    // `port NAME`: `80/tcp -> 0.0.0.0:A` (docker adds `80/tcp -> [::]:A`).
    let out = e.ok(&["port", &one]);
    check_port_line(&out, "80/tcp", "0.0.0.0", Some(a));
    let out = e.ok(&["port", &two]);
    check_port_line(&out, "80/tcp", "0.0.0.0", Some(b));
    // `port NAME 80`: just `0.0.0.0:A` (and maybe `[::]:A`).
    let out = e.ok(&["port", &one, "80"]);
    assert!(
        out.lines().any(|l| l == format!("0.0.0.0:{a}")),
        "`port NAME 80` must print `0.0.0.0:{a}`: {out:?}"
    );
    assert!(
        out.lines()
            .all(|l| l == format!("0.0.0.0:{a}") || l == format!("[::]:{a}")),
        "{out:?}"
    );
    let o = e.fails(&["port", &one, "81"]);
    assert!(o.stderr.contains("81"), "{o:?}");

    // inspect: NetworkSettings.Ports {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "A"}, ...]}
    let v = e.inspect(&one);
    let binds = v["NetworkSettings"]["Ports"]["80/tcp"]
        .as_array()
        .unwrap_or_else(|| panic!("NetworkSettings.Ports: {}", v["NetworkSettings"]["Ports"]));
    assert!(
        binds
            .iter()
            .any(|x| x["HostIp"] == "0.0.0.0" && x["HostPort"] == a.to_string().as_str()),
        "{binds:?}"
    );
    let hb = &v["HostConfig"]["PortBindings"]["80/tcp"][0];
    assert_eq!(hb["HostPort"], a.to_string().as_str(), "{hb}");

    // Hairpin: a container on the default bridge through the host address.
    let o = run_sh(&e, &[], &http_sh(&host, a, 25));
    assert!(o.success(), "container -> host:{a}: {o:?}");
    assert_eq!(o.stdout, "page-one\n", "{o:?}");

    // -P publishes the image's EXPOSE 80 to some high port.
    let exposed = e.image_name("expose");
    e.import(&exposed, &["CMD [\"sh\"]", "EXPOSE 80"]);
    let three = run_httpd(&e, &exposed, "web3", "page-three", &["-P"]);
    let out = e.ok(&["port", &three]);
    let p = check_port_line(&out, "80/tcp", "0.0.0.0", None);
    assert!(p >= 1024, "-P picked a privileged port: {out:?}");
    assert!(p != a && p != b, "{out:?}");
    assert_eq!(wait_http("127.0.0.1", p), "page-three\n");
    assert_eq!(wait_http(&host, p), "page-three\n");
}

/// `-p IP:HOST:CONTAINER` binds only that address; `/udp` is listed as
/// such; several `-p` on one container.
#[test]
fn publish_on_loopback_only_and_udp() {
    let e = engine!();
    let img = e.img().to_string();
    let (c, u) = (free_port(), free_port());
    let pc = format!("127.0.0.1:{c}:80");
    let pu = format!("{u}:5353/udp");
    let n = run_httpd(&e, &img, "lo", "loop", &["-p", &pc, "-p", &pu]);
    assert_eq!(wait_http("127.0.0.1", c), "loop\n");
    let host = host_addr();
    let r = http_get(&host, c);
    assert!(
        r.is_err(),
        "published on 127.0.0.1 only, yet {host}:{c} answered: {r:?}"
    );

    let out = e.ok(&["port", &n]);
    check_port_line(&out, "80/tcp", "127.0.0.1", Some(c));
    assert!(
        !out.contains(&format!("0.0.0.0:{c}")),
        "`port` shows a wildcard binding for 127.0.0.1: {out:?}"
    );
    check_port_line(&out, "5353/udp", "0.0.0.0", Some(u));
    let out = e.ok(&["port", &n, "5353/udp"]);
    assert!(
        out.lines().any(|l| l == format!("0.0.0.0:{u}")),
        "`port NAME 5353/udp`: {out:?}"
    );
}

// ---------------------------------------------------------------------------
// 2. port already taken

/// A host port held by a host listener: `run -d -p PORT:80` fails with a
/// message naming the port, and the container does not run.
#[test]
fn published_port_taken_by_host_listener_fails() {
    let e = engine!();
    let img = e.img().to_string();
    let (l, port) = bind_below_ephemeral();
    let n = e.name("taken");
    let p = format!("{port}:80");
    let o = e.fails(&["run", "-d", "--name", &n, "-p", &p, &img, "sleep", "1000"]);
    assert!(
        o.stderr.contains(&port.to_string()),
        "the error must name port {port}: {o:?}"
    );
    // docker leaves it Created; it must not be running.
    if let Some(st) = e.status(&n) {
        assert_ne!(st, "running", "{n} runs despite the failed publish");
    }
    let ps = e.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(!ps.lines().any(|x| x.trim() == n), "{ps}");
    // The listener is untouched.
    assert_eq!(l.local_addr().unwrap().port(), port);
    drop(l);
}
