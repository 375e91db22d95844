use super::*;

// ---------------------------------------------------------------------------
// 3. user network: names, aliases, DNS

#[test]
fn user_network_reach_by_name_and_alias() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net = nets.create("net", &[]);
    let alias = e.name("alias");
    let web = run_httpd(
        &e,
        &img,
        "web",
        "by-name",
        &["--network", &net, "--network-alias", &alias],
    );
    let web_ip = ip_on(&e, &web, &net);
    let subnet = net_subnet(&e, &net);
    assert!(in_subnet(&web_ip, &subnet), "{web_ip} not in {subnet}");
    let client = run_sleeper(&e, "client", &["--network", &net]);

    // httpd may still be starting: retry for a while inside.
    let fetch = |host: &str| -> Output { exec_sh(&e, &client, &http_sh(host, 80, 50)) };
    let o = fetch(&web);
    assert!(o.success(), "GET by container name: {o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");
    let o = fetch(&alias);
    assert!(o.success(), "GET by --network-alias: {o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");

    for name in [web.as_str(), alias.as_str()] {
        let o = exec_sh(&e, &client, &format!("nslookup {name}"));
        assert!(o.success(), "nslookup {name}: {o:?}");
        assert!(
            o.stdout.contains(&web_ip),
            "nslookup {name} -> {web_ip}: {o:?}"
        );
    }
    // A one-shot `run --rm` on the network resolves too.
    let o = run_sh(&e, &["--network", &net], &http_sh(&web, 80, 25));
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "by-name\n", "{o:?}");
    // Unknown names do not resolve.
    let o = exec_sh(&e, &client, &format!("nslookup {}", e.name("nosuch")));
    assert!(!o.success(), "unknown name resolved: {o:?}");
}

// ---------------------------------------------------------------------------
// 4. isolation between user networks

#[test]
fn separate_user_networks_cannot_reach_each_other() {
    let e = engine!();
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net1 = nets.create("net1", &[]);
    let net2 = nets.create("net2", &[]);
    let s1 = net_subnet(&e, &net1);
    let s2 = net_subnet(&e, &net2);
    assert_ne!(s1, s2, "two networks got the same subnet");
    let web = run_httpd(&e, &img, "web", "net1-page", &["--network", &net1]);
    let ip = ip_on(&e, &web, &net1);

    // Control: from net1 it answers (by IP).
    let o = run_sh(
        &e,
        &["--network", &net1],
        &format!(
            "ping -c1 -W2 {ip} >/dev/null || exit 1; {}",
            http_sh(&ip, 80, 25)
        ),
    );
    assert!(o.success(), "same network, by IP: {o:?}");
    assert_eq!(o.stdout, "net1-page\n", "{o:?}");

    // From net2: no ping, no HTTP.
    let o = run_sh(
        &e,
        &["--network", &net2],
        &format!(
            "ping -c1 -W1 {ip} >/dev/null 2>&1 && echo PING-OK; ({}) && echo HTTP-OK; true",
            http_sh(&ip, 80, 1)
        ),
    );
    assert!(o.success(), "{o:?}");
    assert!(
        !o.stdout.contains("PING-OK") && !o.stdout.contains("HTTP-OK"),
        "a container on {net2} reached {ip} on {net1}: {o:?}"
    );
    // Nor by name (names are per network).
    let o = run_sh(&e, &["--network", &net2], &http_sh(&web, 80, 1));
    assert!(!o.success(), "{o:?}");
}
