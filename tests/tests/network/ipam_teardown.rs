use super::*;

// ---------------------------------------------------------------------------
// 8. concurrent IPAM

#[test]
fn fifty_concurrent_runs_get_distinct_addresses() {
    const N: usize = 50;
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("many", &[]);
    let subnet = net_subnet(&e, &net);
    let img = e.img().to_string();
    let names: Vec<String> = (0..N).map(|i| e.name(&format!("m{i}"))).collect();
    let out_dir = e.path().join("many");
    std::fs::create_dir_all(&out_dir).unwrap();

    let results: Vec<(String, Option<i32>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let (bin, root) = (e.bin.clone(), e.root.clone());
                let (img, net, dir) = (img.clone(), net.clone(), out_dir.clone());
                s.spawn(move || {
                    let mut cmd = Command::new(&bin);
                    if let Some(r) = &root {
                        cmd.arg("--root").arg(r);
                    }
                    cmd.args(["run", "-d", "--name", n, "--network", &net, &img])
                        .args(["sleep", "1000"]);
                    // Files, not pipes: a container may inherit them.
                    let so = dir.join(format!("{i}.out"));
                    let se = dir.join(format!("{i}.err"));
                    cmd.stdin(Stdio::null())
                        .stdout(std::fs::File::create(&so).unwrap())
                        .stderr(std::fs::File::create(&se).unwrap());
                    let mut child = cmd.spawn().expect("spawn engine");
                    let start = Instant::now();
                    let code = loop {
                        if let Some(st) = child.try_wait().unwrap() {
                            break st.code();
                        }
                        if start.elapsed() > Duration::from_secs(240) {
                            let _ = child.kill();
                            let _ = child.wait();
                            break None;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    };
                    let err = std::fs::read_to_string(&se).unwrap_or_default();
                    (n.clone(), code, err)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<_> = results.iter().filter(|r| r.1 != Some(0)).collect();
    assert!(failed.is_empty(), "concurrent runs failed: {failed:#?}");

    let mut args = vec!["inspect"];
    args.extend(names.iter().map(String::as_str));
    let out = e.ok(&args);
    let v: Value = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), N);
    let mut ips = HashSet::new();
    for c in arr {
        assert_eq!(c["State"]["Status"], "running", "{}", c["Name"]);
        let ip = c["NetworkSettings"]["Networks"][&net]["IPAddress"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            in_subnet(&ip, &subnet),
            "{}: {ip:?} not in {subnet}",
            c["Name"]
        );
        assert!(ips.insert(ip.clone()), "duplicate address {ip}");
    }
    assert_eq!(ips.len(), N);
    let v = net_inspect(&e, &net);
    assert_eq!(v["Containers"].as_object().map(|m| m.len()), Some(N), "{v}");

    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    e.cmd_with(&args, berth_e2e::cmd::Stdin::Null, Duration::from_secs(240))
        .ok();
    let v = net_inspect(&e, &net);
    assert!(
        v["Containers"].as_object().is_none_or(|m| m.is_empty()),
        "{v}"
    );
}

// ---------------------------------------------------------------------------
// 9. teardown (berth only)

/// Lines of the firewall rulesets (iptables-save, ip6tables-save, nft) mentioning `needle`.
fn firewall_lines(needle: &str) -> Vec<String> {
    let mut text = host_sh("iptables-save", &[]);
    text.push_str(&host_sh("ip6tables-save", &[]));
    text.push_str(&host_sh("nft", &["list", "ruleset"]));
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// `ip -o link` lines mentioning `needle`.
fn link_lines(needle: &str) -> Vec<String> {
    host_sh("ip", &["-o", "link"])
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn teardown_leaves_no_bridge_veth_or_firewall_rule() {
    let e = engine!();
    berth_only!(e, "docker's own names and chains differ");
    let nets = Nets::new(&e);
    let img = e.img().to_string();
    let net = nets.create("td", &[]);
    let id = net_inspect(&e, &net)["Id"].as_str().unwrap().to_string();
    let br = format!("br-{}", &id[..12]);
    let port = free_port();
    let p = format!("{port}:80");
    let web = run_httpd(&e, &img, "web", "td", &["--network", &net, "-p", &p]);
    let other = run_sleeper(&e, "def", &["-p", &format!("{}:80", free_port())]);
    assert_eq!(wait_http("127.0.0.1", port), "td\n");
    let ip = ip_on(&e, &web, &net);
    let ip_def = e.inspect_f(&other, "{{.NetworkSettings.IPAddress}}");

    assert!(
        !link_lines(&br).is_empty(),
        "berth names a user network's bridge br-<id[..12]>; no {br} in `ip -o link`"
    );
    let veths: Vec<String> = host_sh("ip", &["-o", "link", "show", "master", &br])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .collect();
    assert_eq!(veths.len(), 1, "one veth on {br}: {veths:?}");
    assert!(!firewall_lines(&ip).is_empty() || !firewall_lines(&br).is_empty());

    e.ok(&["rm", "-f", &web, &other]);
    assert_eq!(e.ok(&["network", "rm", &net]).trim(), net);

    for needle in [br.as_str(), &veths[0]] {
        let l = link_lines(needle);
        assert!(l.is_empty(), "left after rm: {l:?}");
    }
    for needle in [
        id[..12].to_string(),
        br.clone(),
        format!("{ip}/"),
        format!("{ip}:"),
        format!("{ip_def}/"),
        format!("{ip_def}:"),
        format!("dport {port} "),
    ] {
        let l = firewall_lines(&needle);
        assert!(l.is_empty(), "firewall rules left with {needle:?}: {l:#?}");
    }
    let ls = e.ok(&["network", "ls"]);
    assert!(!ls.contains(&net), "{ls}");
}

/// A user network's bridge taken down on the host, its gateway address removed, is up with the
/// address again once the next container starts on it, and that container reaches the gateway.
/// (A container's start puts the address again and brings the bridge up only when it is down.)
#[test]
fn a_bridge_taken_down_on_the_host_is_repaired_by_the_next_start() {
    let e = engine!();
    berth_only!(
        e,
        "dockerd does not repair its bridges when a container starts"
    );
    let nets = Nets::new(&e);
    let net = nets.create("repair", &[]);
    let v = net_inspect(&e, &net);
    let id = v["Id"].as_str().unwrap().to_string();
    let gw = v["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let br = format!("br-{}", &id[..12]);
    // the bridge is made with the network; down and without its address now
    host_sh("ip", &["link", "set", &br, "down"]);
    host_sh("ip", &["addr", "flush", "dev", &br]);
    assert!(!host_sh("ip", &["-o", "-4", "addr", "show", "dev", &br]).contains(&gw));

    let o = run_sh(&e, &["--network", &net], &format!("ping -c 1 -W 5 {gw}"));
    assert!(o.success(), "ping of the gateway {gw}: {o:?}");
    let link = link_lines(&format!("{br}:"));
    assert!(
        link.iter().any(|l| l.contains(",UP")),
        "{br} not up again: {link:?}"
    );
    let addr = host_sh("ip", &["-o", "-4", "addr", "show", "dev", &br]);
    assert!(
        addr.contains(&format!("{gw}/")),
        "{br} has no {gw} again: {addr}"
    );
}
