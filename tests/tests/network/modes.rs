use super::*;

// ---------------------------------------------------------------------------
// 5. --network none / host

#[test]
fn network_none_has_only_lo_and_host_sees_host_links() {
    let e = engine!();
    let o = run_sh(&e, &["--network", "none"], "ls /sys/class/net");
    assert!(o.success(), "{o:?}");
    assert_eq!(
        o.stdout.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{o:?}"
    );
    let o = run_sh(
        &e,
        &["--network", "none"],
        "ip -o link | wc -l; ip -o -4 addr",
    );
    assert!(o.success(), "{o:?}");
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next().map(str::trim), Some("1"), "{o:?}");
    assert!(
        lines.all(|l| l.contains(" lo ") && l.contains("127.0.0.1")),
        "{o:?}"
    );
    let n = run_sleeper(&e, "none", &["--network", "none"]);
    assert_eq!(
        e.inspect_f(&n, "{{.NetworkSettings.IPAddress}}"),
        "",
        "--network none has no address"
    );
    assert_eq!(e.inspect_f(&n, "{{.HostConfig.NetworkMode}}"), "none");

    let before = host_links();
    let o = run_sh(&e, &["--network", "host"], "ls /sys/class/net");
    let after = host_links();
    assert!(o.success(), "{o:?}");
    let inside: BTreeSet<String> = o.stdout.split_whitespace().map(str::to_string).collect();
    // Links that existed all along (other tests add and remove veths).
    let stable: BTreeSet<String> = before.intersection(&after).cloned().collect();
    let missing: Vec<&String> = stable.difference(&inside).collect();
    assert!(
        missing.is_empty(),
        "--network host misses host links {missing:?}; inside: {inside:?}"
    );
    assert!(inside.len() > 1, "{inside:?}");
    // The host's address is configured inside.
    let host = host_addr();
    let o = run_sh(&e, &["--network", "host"], "ip -o -4 addr");
    assert!(o.stdout.contains(&format!("inet {host}/")), "{o:?}");
    let h = run_sleeper(&e, "host", &["--network", "host"]);
    assert_eq!(e.inspect_f(&h, "{{.HostConfig.NetworkMode}}"), "host");
}

// ---------------------------------------------------------------------------
// 6. default bridge

#[test]
fn default_bridge_address_gateway_hosts_and_dns() {
    let e = engine!();
    let n = run_sleeper(&e, "br", &["--add-host", "foo:1.2.3.4", "--dns", "9.9.9.9"]);
    let ip = e.inspect_f(&n, "{{.NetworkSettings.IPAddress}}");
    assert!(ip.parse::<Ipv4Addr>().is_ok(), "IPAddress {ip:?}");
    assert_eq!(ip_on(&e, &n, "bridge"), ip);
    let gw = e.inspect_f(&n, "{{.NetworkSettings.Gateway}}");
    assert!(gw.parse::<Ipv4Addr>().is_ok(), "Gateway {gw:?}");
    let subnet = net_subnet(&e, "bridge");
    assert!(in_subnet(&ip, &subnet), "{ip} not in {subnet}");
    assert!(in_subnet(&gw, &subnet), "{gw} not in {subnet}");
    let v = net_inspect(&e, "bridge");
    assert_eq!(v["Driver"], "bridge", "{v}");

    // The address is configured on eth0, with a default route to the gateway.
    let o = exec_sh(&e, &n, "ip -o -4 addr show eth0; ip route");
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&format!("inet {ip}/")), "{o:?}");
    assert!(
        o.stdout.contains(&format!("default via {gw}")),
        "no default route via {gw}: {o:?}"
    );
    let o = exec_sh(&e, &n, &format!("ping -c1 -W2 {gw}"));
    assert!(o.success(), "ping the bridge gateway: {o:?}");

    // Outbound to the host's own address (the default route's interface).
    let srv = HostHttp::start("host-says-hi");
    let host = host_addr();
    let mut o = exec_sh(&e, &n, &http_sh(&host, srv.port, 8));
    if !o.success() {
        // Seen twice under dockerd driving berth-runtime (CI and a local run, ~1 in 3 full
        // runs there): the container's SYNs to the host got no answer for 25 s while it could
        // ping the gateway. What the container and the host see then, and whether it passes:
        // a black hole that ends is told on stderr, one that does not fails the test.
        let inside = exec_sh(
            &e,
            &n,
            &format!(
                "ip link show eth0; ip route; ip neigh; cat /proc/net/snmp | grep -i tcp; \
                 ping -c1 -W2 {host}; nc -w 3 {gw} {port} </dev/null && echo tcp-to-gateway-ok",
                port = srv.port
            ),
        );
        let diag = format!("inside: {inside:?}\n{}", host_net_diag());
        let later = exec_sh(&e, &n, &http_sh(&host, srv.port, 20));
        assert!(
            later.success(),
            "bridge container -> host {host}: {o:?}\nthen: {later:?}\n{diag}"
        );
        eprintln!("WARNING: bridge container -> host {host} failed, then passed: {o:?}\n{diag}");
        o = later;
    }
    assert_eq!(o.stdout.trim(), "host-says-hi", "{o:?}");

    // /etc/hosts: localhost, the container's hostname with its IP, --add-host.
    let hostname = exec_sh(&e, &n, "hostname").stdout.trim().to_string();
    assert!(!hostname.is_empty());
    let hosts = exec_sh(&e, &n, "cat /etc/hosts").stdout;
    let has = |a: &str, name: &str| {
        hosts.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&a) && f[1..].contains(&name)
        })
    };
    assert!(has("127.0.0.1", "localhost"), "{hosts}");
    assert!(
        has(&ip, &hostname),
        "/etc/hosts lacks `{ip} {hostname}`:\n{hosts}"
    );
    assert!(
        has("1.2.3.4", "foo"),
        "/etc/hosts lacks --add-host:\n{hosts}"
    );
    let o = exec_sh(&e, &n, "cat /etc/hostname");
    assert_eq!(o.stdout.trim(), hostname, "{o:?}");
    let resolv = exec_sh(&e, &n, "cat /etc/resolv.conf").stdout;
    assert!(
        resolv.lines().any(|l| l.trim() == "nameserver 9.9.9.9"),
        "--dns: {resolv}"
    );
    let dns = e.inspect_f(&n, "{{json .HostConfig.Dns}}");
    assert_eq!(dns, "[\"9.9.9.9\"]");
    let eh = e.inspect_f(&n, "{{json .HostConfig.ExtraHosts}}");
    assert_eq!(eh, "[\"foo:1.2.3.4\"]");

    // Two containers on the default bridge get different addresses and reach
    // each other by IP (not by name: docker's default bridge has no DNS).
    let m = run_sleeper(&e, "br2", &[]);
    let ip2 = e.inspect_f(&m, "{{.NetworkSettings.IPAddress}}");
    assert_ne!(ip, ip2);
    let o = exec_sh(&e, &m, &format!("ping -c1 -W2 {ip}"));
    assert!(o.success(), "{o:?}");
}
