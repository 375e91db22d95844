use super::*;

// ---------------------------------------------------------------------------
// 7. network create/inspect/ls/connect/disconnect/rm/prune, --ip, --internal

#[test]
fn user_network_subnet_ip_inspect_and_ls() {
    let e = engine!();
    let nets = Nets::new(&e);
    let subnet = free_subnet(0);
    let (base, _) = parse_cidr(&subnet);
    let o = base.octets();
    let want_ip = format!("{}.{}.{}.50", o[0], o[1], o[2]);
    let net = nets.create("sub", &["--subnet", &subnet]);
    let c = run_sleeper(&e, "fixed", &["--network", &net, "--ip", &want_ip]);
    assert_eq!(ip_on(&e, &c, &net), want_ip);
    let out = exec_sh(&e, &c, "ip -o -4 addr show eth0").stdout;
    assert!(
        out.contains(&format!("inet {want_ip}/24")),
        "--ip not configured: {out:?}"
    );
    assert_eq!(
        e.inspect_f(&c, "{{.HostConfig.NetworkMode}}"),
        net,
        "NetworkMode"
    );

    let v = net_inspect(&e, &net);
    assert_eq!(v["Name"], net.as_str(), "{v}");
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "Id {id:?}"
    );
    assert_eq!(v["Driver"], "bridge", "{v}");
    assert_eq!(v["Scope"], "local", "{v}");
    assert_eq!(v["Internal"], false, "{v}");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.as_str(), "{v}");
    let label = e.test_label();
    let (lk, lv) = label.split_once('=').unwrap();
    assert_eq!(v["Labels"][lk], lv, "{v}");
    let cid = e.inspect_f(&c, "{{.Id}}");
    let ent = &v["Containers"][&cid];
    assert_eq!(ent["Name"], c.as_str(), "Containers: {}", v["Containers"]);
    assert_eq!(
        ent["IPv4Address"],
        format!("{want_ip}/24").as_str(),
        "{ent}"
    );
    // Same by name, by full id and by short id; -f works on networks.
    assert_eq!(
        e.ok(&["network", "inspect", "-f", "{{.Name}}", &id]).trim(),
        net
    );
    assert_eq!(
        e.ok(&["network", "inspect", "-f", "{{.Id}}", &id[..12]])
            .trim(),
        id
    );

    // network ls: docker's header and a row for the network.
    let ls = e.ok(&["network", "ls"]);
    let mut lines = ls.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(header, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], "{ls}");
    let row: Vec<&str> = ls
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(net.as_str()))
        .unwrap_or_else(|| panic!("{net} not in `network ls`:\n{ls}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, [&id[..12], net.as_str(), "bridge", "local"], "{ls}");
    for builtin in ["bridge", "host", "none"] {
        assert!(
            ls.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(builtin)),
            "`network ls` lacks {builtin}:\n{ls}"
        );
    }
    let q = e.ok(&["network", "ls", "-q", "--filter", &format!("name={net}")]);
    assert_eq!(q.trim(), &id[..12], "{q:?}");

    // A taken --ip and an --ip outside the subnet fail.
    let img = e.img().to_string();
    let d = e.name("dup");
    let o = e.fails(&[
        "run",
        "-d",
        "--name",
        &d,
        "--network",
        &net,
        "--ip",
        &want_ip,
        &img,
        "sleep",
        "100",
    ]);
    // docker 20.10 says only "Address already in use".
    assert!(
        o.stderr.contains(&want_ip) || o.stderr.contains("already in use"),
        "{o:?}"
    );
    if let Some(st) = e.status(&d) {
        assert_ne!(st, "running");
    }
    // Creating the same name twice fails.
    let label_arg = e.test_label();
    let o = e.fails(&["network", "create", "--label", &label_arg, &net]);
    assert!(o.stderr.contains(&net), "{o:?}");
}

#[test]
fn network_connect_disconnect_rm_and_prune() {
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("cd", &[]);
    let subnet = net_subnet(&e, &net);
    let c = run_sleeper(&e, "c", &[]);
    let links = |c: &str| -> Vec<String> {
        let o = exec_sh(&e, c, "ls /sys/class/net");
        assert!(o.success(), "{o:?}");
        o.stdout.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(links(&c), ["eth0", "lo"]);

    assert_eq!(e.ok(&["network", "connect", &net, &c]).trim(), "");
    assert_eq!(links(&c), ["eth0", "eth1", "lo"]);
    let ip = ip_on(&e, &c, &net);
    assert!(in_subnet(&ip, &subnet), "{ip} not in {subnet}");
    let o = exec_sh(&e, &c, "ip -o -4 addr show eth1");
    assert!(o.stdout.contains(&format!("inet {ip}/")), "{o:?}");
    let v = net_inspect(&e, &net);
    let cid = e.inspect_f(&c, "{{.Id}}");
    assert_eq!(v["Containers"][&cid]["Name"], c.as_str(), "{v}");
    // Connecting twice fails.
    e.fails(&["network", "connect", &net, &c]);

    // rm of a network with a running container fails.
    let o = e.fails(&["network", "rm", &net]);
    assert!(
        o.stderr.contains(&net) && o.stderr.contains("active endpoints"),
        "docker: `error while removing network: network NAME id ID has active endpoints`: {o:?}"
    );

    assert_eq!(e.ok(&["network", "disconnect", &net, &c]).trim(), "");
    assert_eq!(links(&c), ["eth0", "lo"]);
    let v = net_inspect(&e, &net);
    assert!(
        v["Containers"].as_object().is_none_or(|m| m.is_empty()),
        "{v}"
    );
    let net_id = v["Id"].as_str().unwrap_or_default().to_string();
    assert_eq!(e.ok(&["network", "rm", &net]).trim(), net);
    if e.is_berth() {
        // nothing of the network stays in /run (berth marks the rules it wrote for a bridge)
        let marker = std::path::Path::new("/run/berth-network/rules").join(&net_id);
        assert!(!marker.exists(), "{} left", marker.display());
    }
    let o = e.fails(&["network", "inspect", &net]);
    assert!(o.stderr.contains(&net), "{o:?}");
    let ls = e.ok(&["network", "ls"]);
    assert!(!ls.contains(&net), "{ls}");

    // rm with a container attached (stopped or running) after the container
    // goes: succeeds.
    let net2 = nets.create("busy", &[]);
    let d = run_sleeper(&e, "d", &["--network", &net2]);
    e.fails(&["network", "rm", &net2]);
    e.ok(&["rm", "-f", &d]);
    assert_eq!(e.ok(&["network", "rm", &net2]).trim(), net2);

    // prune -f removes unused networks (filtered on this test's label so
    // other tests' networks on a shared daemon are left alone) and keeps the
    // ones in use.
    let unused = nets.create("unused", &[]);
    let used = nets.create("used", &[]);
    let u = run_sleeper(&e, "u", &["--network", &used]);
    let filter = format!("label={}", e.test_label());
    let out = e.ok(&["network", "prune", "-f", "--filter", &filter]);
    assert!(
        out.starts_with("Deleted Networks:\n"),
        "docker prints `Deleted Networks:` then the names: {out:?}"
    );
    assert!(out.lines().any(|l| l == unused), "{out:?}");
    assert!(!out.lines().any(|l| l == used), "{out:?}");
    e.fails(&["network", "inspect", &unused]);
    net_inspect(&e, &used);
    e.ok(&["rm", "-f", &u]);

    // Built-in networks cannot be removed.
    let o = e.fails(&["network", "rm", "bridge"]);
    assert!(o.stderr.contains("bridge"), "{o:?}");
}

/// The gateway of the host's default route, when the host itself can
/// ping it (something outside this host that answers).
fn outside_addr() -> Option<String> {
    let route = host_sh("ip", &["-4", "-o", "route", "show", "default"]);
    let gw = route
        .split_whitespace()
        .skip_while(|w| *w != "via")
        .nth(1)?
        .to_string();
    let ok = Command::new("busybox")
        .args(["ping", "-c1", "-W2", &gw])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(gw)
}

/// `--internal`: nothing outside the host is reachable (docker drops the
/// forwarded traffic); containers on it still reach each other by name.
/// The host's own non-bridge address: unreachable for berth, as with
/// docker >= 25 (no default route on internal networks); docker 20.10
/// still gave them a default route and answered from the host's INPUT, so
/// that part is berth-only.
#[test]
fn internal_network_cannot_reach_outside() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let internal = nets.create("int", &["--internal"]);
    let normal = nets.create("ext", &[]);
    assert_eq!(net_inspect(&e, &internal)["Internal"], true);
    assert_eq!(net_inspect(&e, &normal)["Internal"], false);

    match outside_addr() {
        Some(gw) => {
            let ping = format!("ping -c1 -W2 {gw} >/dev/null 2>&1 && echo REACHED; true");
            // Control: a normal user network reaches it (NAT).
            let o = run_sh(&e, &["--network", &normal], &ping);
            assert!(
                o.stdout.contains("REACHED"),
                "normal network -> {gw}: {o:?}"
            );
            let o = run_sh(&e, &["--network", &internal], &ping);
            assert!(
                !o.stdout.contains("REACHED"),
                "a container on an --internal network reached {gw} outside the host: {o:?}"
            );
        }
        None => eprintln!("SKIP (part): the host cannot ping its default gateway"),
    }

    let srv = HostHttp::start("host-ok");
    let host = host_addr();
    // Control: a normal user network reaches the host's address.
    let o = run_sh(&e, &["--network", &normal], &http_sh(&host, srv.port, 5));
    assert!(o.success(), "normal network -> host: {o:?}");
    assert_eq!(o.stdout.trim(), "host-ok", "{o:?}");
    let o = run_sh(
        &e,
        &["--network", &internal],
        &format!("({}) && echo REACHED; true", http_sh(&host, srv.port, 1)),
    );
    if e.is_berth() {
        assert!(
            !o.stdout.contains("REACHED"),
            "a container on an --internal network reached the host's {host}: {o:?}"
        );
    } else if o.stdout.contains("REACHED") {
        eprintln!("NOTE: this docker lets --internal containers reach the host's {host}");
    }

    // But containers on the internal network reach each other by name.
    let web = run_httpd(&e, &img, "web", "inside", &["--network", &internal]);
    let o = run_sh(&e, &["--network", &internal], &http_sh(&web, 80, 25));
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "inside\n", "{o:?}");
}
