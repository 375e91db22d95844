//! Root integration tests on the real kernel: network namespaces made by the test (`unshare -n
//! sleep`), real bridges, veths and firewall rules. Every test uses its own store, network names,
//! container ids and subnet (10.231.N.0/24, N unique per test), and checks at the end that no
//! link, firewall rule or store row of its own is left. Skipped (with a note) when not root.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;

use network::{Endpoint, EndpointRequest, Manager, PortMapping};

mod common;
use common::*;

#[test]
fn two_namespaces_on_one_network_reach_each_other() {
    require_root!();
    let mut fx = Fixture::new();
    let net = fx.net("ping", "10.231.1.0/24", false);
    let (a_ns, b_ns) = (Ns::new(), Ns::new());
    let (a_id, a) = fx.connect(&net, &a_ns, "a");
    let t = std::time::Instant::now();
    let (b_id, b) = fx.connect(&net, &b_ns, "b");
    eprintln!("connect took {:?}", t.elapsed());
    assert_eq!(a.ip, Ipv4Addr::new(10, 231, 1, 2));
    assert_eq!(b.ip, Ipv4Addr::new(10, 231, 1, 3));
    assert_eq!(a.mac, "02:42:0a:e7:01:02");
    assert_eq!(a.gateway, Ipv4Addr::new(10, 231, 1, 1));
    assert_eq!(a.prefix_len, 24);
    assert!(a.host_veth.starts_with("veth") && a.host_veth.len() == 12);
    assert!(a_ns.ping(b.ip), "a cannot ping b");
    assert!(b_ns.ping(a.ip), "b cannot ping a");
    assert!(a_ns.ping(a.gateway), "a cannot ping its gateway");
    assert!(a_ns.has_default_route());
    let link = a_ns.busybox(&["ip", "-o", "link", "show", "eth0"]);
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(link.contains("02:42:0a:e7:01:02"), "{link}");
    assert!(a_ns
        .busybox(&["ip", "-o", "link", "show", "lo"])
        .stdout
        .windows(2)
        .any(|w| w == b"UP"));
    // idempotent per (container, network)
    let again = fx
        .mgr
        .connect(
            &net,
            &a_id,
            "a",
            &[],
            &a_ns.path(),
            "eth0",
            &EndpointRequest::default(),
        )
        .unwrap();
    assert_eq!(again, a);
    // the store as the DNS server sees it
    let eps = fx.mgr.endpoints(&net.id).unwrap();
    assert_eq!(eps.len(), 2);
    assert_eq!(eps[0].aliases, vec!["a-alias".to_string()]);
    // the network cannot go while in use
    let err = fx.mgr.remove(&net.name).unwrap_err().to_string();
    assert!(err.contains("has active endpoints"), "{err}");
    // disconnect removes the veth and frees the address, which is reused
    fx.mgr.disconnect(&net.id, &b_id).unwrap();
    fx.mgr.disconnect(&net.id, &b_id).unwrap(); // already gone: fine
    assert!(!a_ns.ping_once(b.ip));
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&b.host_veth));
    let c_ns = Ns::new();
    let (_c, c) = fx.connect(&net, &c_ns, "c");
    assert_eq!(c.ip, b.ip);
    // requested addresses
    let d_ns = Ns::new();
    let d_id = fx.container();
    let d = fx
        .mgr
        .connect(
            &net,
            &d_id,
            "d",
            &[],
            &d_ns.path(),
            "eth0",
            &ip_req(Ipv4Addr::new(10, 231, 1, 77)),
        )
        .unwrap();
    assert_eq!(d.ip, Ipv4Addr::new(10, 231, 1, 77));
    let e_id = fx.container();
    let err = fx
        .mgr
        .connect(
            &net,
            &e_id,
            "e",
            &[],
            &Ns::new().path(),
            "eth0",
            &ip_req(d.ip),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("already in use"), "{err}");
    assert!(c_ns.ping(d.ip));
    let _ = a_id;
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn two_networks_cannot_reach_each_other() {
    require_root!();
    let mut fx = Fixture::new();
    let n1 = fx.net("iso1", "10.231.2.0/24", false);
    let n2 = fx.net("iso2", "10.231.3.0/24", false);
    let (a_ns, b_ns) = (Ns::new(), Ns::new());
    let (_a, a) = fx.connect(&n1, &a_ns, "a");
    let (_b, b) = fx.connect(&n2, &b_ns, "b");
    assert!(a_ns.ping(a.gateway));
    assert!(b_ns.ping(b.gateway));
    assert!(!a_ns.ping_once(b.ip), "network 1 reaches network 2");
    assert!(!b_ns.ping_once(a.ip), "network 2 reaches network 1");
    // a second interface on the other network makes it reachable
    let a2 = fx
        .mgr
        .connect(
            &n2,
            &_a,
            "a",
            &[],
            &a_ns.path(),
            "eth1",
            &EndpointRequest::default(),
        )
        .unwrap();
    assert!(b_ns.ping(a2.ip));
    assert_eq!(fx.mgr.endpoints_of_container(&_a).unwrap().len(), 2);
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn internal_network_has_no_way_out() {
    require_root!();
    let mut fx = Fixture::new();
    let net = fx.net("int", "10.231.4.0/24", true);
    let (a_ns, b_ns) = (Ns::new(), Ns::new());
    let (_a, a) = fx.connect(&net, &a_ns, "a");
    let (_b, b) = fx.connect(&net, &b_ns, "b");
    assert!(!a_ns.has_default_route());
    assert!(a_ns.ping(b.ip));
    assert!(!a_ns.ping_once(host_ip()));
    let _ = a;
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn published_port_reachable_from_host_and_hairpin() {
    require_root!();
    let mut fx = Fixture::new();
    let net = fx.net("pub", "10.231.5.0/24", false);
    let (web_ns, cli_ns) = (Ns::new(), Ns::new());
    let (web_id, web) = fx.connect(&net, &web_ns, "web");
    let (_cli_id, _cli) = fx.connect(&net, &cli_ns, "cli");
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("index.html"),
        format!("hello from {}\n", fx.tag),
    )
    .unwrap();
    let _httpd = Proc(web_ns.spawn_busybox(&[
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        root.path().to_str().unwrap(),
    ]));
    // a free host port: let the kernel pick one, then release it
    let port = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let got = fx
        .mgr
        .publish(
            &web_id,
            &web,
            &[
                PortMapping {
                    host_ip: String::new(),
                    host_port: port,
                    container_port: 80,
                    proto: "tcp".into(),
                },
                PortMapping {
                    host_ip: "127.0.0.1".into(),
                    host_port: 0,
                    container_port: 80,
                    proto: "tcp".into(),
                },
            ],
        )
        .unwrap();
    assert_eq!(got[0].host_port, port);
    let eph = got[1].host_port;
    assert!((32768..=60999).contains(&eph), "{eph}");
    assert_eq!(fx.mgr.ports_of(&web_id).unwrap().len(), 2);
    let want = format!("hello from {}", fx.tag);
    let fetch = |addr: String| {
        retry(|| http_get(&addr).ok().filter(|b| b.contains(&want)))
            .unwrap_or_else(|| panic!("no page from {addr}"))
    };
    fetch(format!("127.0.0.1:{port}"));
    fetch(format!("{}:{port}", host_ip()));
    fetch(format!("127.0.0.1:{eph}"));
    // hairpin: another container, and the container itself, through the host's address
    for ns in [&cli_ns, &web_ns] {
        // (busybox-static's wget crashes on this host; nc speaks the HTTP request)
        let url = format!("{}:{port}", host_ip());
        let ok = retry(|| {
            let out = ns.nc(
                &host_ip().to_string(),
                port,
                "GET /index.html HTTP/1.0\r\n\r\n",
            );
            out.contains(&want).then_some(())
        });
        assert!(ok.is_some(), "hairpin to {url} failed");
    }
    // publishing the same port again for another container fails and changes nothing
    let other_ns = Ns::new();
    let (other_id, other) = fx.connect(&net, &other_ns, "other");
    let err = fx
        .mgr
        .publish(
            &other_id,
            &other,
            &[PortMapping {
                host_ip: String::new(),
                host_port: port,
                container_port: 80,
                proto: "tcp".into(),
            }],
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("Bind for 0.0.0.0:{port} failed: port is already allocated")
    );
    assert!(fx.mgr.ports_of(&other_id).unwrap().is_empty());
    // the same mapping for the same container is a no-op
    fx.mgr.publish(&web_id, &web, &got[..1]).unwrap();
    assert_eq!(fx.mgr.ports_of(&web_id).unwrap().len(), 2);
    // unpublish takes the rules away
    fx.mgr.unpublish(&web_id).unwrap();
    assert!(http_get(&format!("127.0.0.1:{port}"))
        .map(|b| !b.contains(&want))
        .unwrap_or(true));
    let rules = Command::new("iptables-save").output().unwrap();
    assert!(!String::from_utf8_lossy(&rules.stdout).contains(&web_id));
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn port_taken_on_the_host_fails_before_any_change() {
    require_root!();
    let mut fx = Fixture::new();
    let net = fx.net("busy", "10.231.6.0/24", false);
    let ns = Ns::new();
    let (id, ep) = fx.connect(&net, &ns, "web");
    let holder = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let free = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let before = Command::new("iptables-save").output().unwrap();
    let err = fx
        .mgr
        .publish(
            &id,
            &ep,
            &[
                // a good one first: it must not be published either
                PortMapping {
                    host_ip: String::new(),
                    host_port: free,
                    container_port: 81,
                    proto: "tcp".into(),
                },
                PortMapping {
                    host_ip: String::new(),
                    host_port: busy,
                    container_port: 80,
                    proto: "tcp".into(),
                },
            ],
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains(&busy.to_string()), "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(fx.mgr.ports_of(&id).unwrap().is_empty());
    let after = Command::new("iptables-save").output().unwrap();
    let count = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .matches(id.as_str())
            .count()
    };
    assert_eq!(count(&before), 0);
    assert_eq!(count(&after), 0);
    drop(holder);
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn concurrent_connects_get_distinct_addresses() {
    require_root!();
    let mut fx = Fixture::new();
    let net = fx.net("many", "10.231.7.0/24", false);
    let db = fx.db();
    let nss: Vec<Ns> = (0..50).map(|_| Ns::new()).collect();
    let ids: Vec<String> = (0..50).map(|_| fx.container()).collect();
    let eps: Vec<Endpoint> = std::thread::scope(|s| {
        let handles: Vec<_> = nss
            .iter()
            .zip(&ids)
            .enumerate()
            .map(|(i, (ns, id))| {
                let db = db.clone();
                let net = net.clone();
                s.spawn(move || {
                    // a Manager per thread, as separate `berth run` processes would have
                    let m = Manager::open(&db).unwrap();
                    m.connect(
                        &net,
                        id,
                        &format!("c{i}"),
                        &[],
                        &ns.path(),
                        "eth0",
                        &EndpointRequest::default(),
                    )
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ips: HashSet<Ipv4Addr> = eps.iter().map(|e| e.ip).collect();
    assert_eq!(ips.len(), 50, "duplicate addresses: {eps:?}");
    let veths: HashSet<&str> = eps.iter().map(|e| e.host_veth.as_str()).collect();
    assert_eq!(veths.len(), 50);
    assert_eq!(fx.mgr.endpoints(&net.id).unwrap().len(), 50);
    assert!(nss[0].ping(eps[49].ip));
    // crash recovery: everything not live goes
    let live: HashSet<String> = ids[..10].iter().cloned().collect();
    fx.mgr.reconcile(&live).unwrap();
    assert_eq!(fx.mgr.endpoints(&net.id).unwrap().len(), 10);
    fx.teardown();
    fx.assert_clean();
}

#[test]
fn release_container_and_prune() {
    require_root!();
    let mut fx = Fixture::new();
    let n1 = fx.net("rel1", "10.231.8.0/24", false);
    let n2 = fx.net("rel2", "10.231.9.0/24", false);
    let ns = Ns::new();
    let (id, ep) = fx.connect(&n1, &ns, "x");
    fx.mgr
        .connect(
            &n2,
            &id,
            "x",
            &[],
            &ns.path(),
            "eth1",
            &EndpointRequest::default(),
        )
        .unwrap();
    fx.mgr
        .publish(
            &id,
            &ep,
            &[PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 0,
                container_port: 53,
                proto: "udp".into(),
            }],
        )
        .unwrap();
    let rules = String::from_utf8_lossy(&Command::new("iptables-save").output().unwrap().stdout)
        .to_string();
    assert!(rules.contains(&format!("berth:port:{id}:{}", &n1.id[..12])));
    assert_eq!(fx.mgr.prune().unwrap(), Vec::<String>::new());
    fx.mgr.release_container(&id).unwrap();
    assert!(fx.mgr.endpoints_of_container(&id).unwrap().is_empty());
    let mut pruned = fx.mgr.prune().unwrap();
    pruned.sort();
    assert_eq!(pruned, vec![n1.name.clone(), n2.name.clone()]);
    fx.assert_clean();
}

#[test]
fn private_default_network_is_retired_and_made_again() {
    require_root!();
    let mut fx = Fixture::new();
    let bridge = format!("bt{}", fx.tag);
    fx.mgr = Manager::open(&fx.db())
        .unwrap()
        .with_default_bridge(&bridge);
    let net = fx.mgr.default_network().unwrap();
    fx.nets.push(net.clone());
    assert_eq!(net.name, "bridge");
    assert_eq!(net.bridge, bridge);
    let links = || {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["-o", "link"])
                .output()
                .unwrap()
                .stdout,
        )
        .to_string()
    };
    assert!(
        links().contains(&format!("{bridge}:")),
        "bridge made with the network"
    );
    let a_ns = Ns::new();
    let (a_id, a) = fx.connect(&net, &a_ns, "a");
    assert!(a_ns.ping(a.gateway));
    // the last endpoint goes: the bridge stays for the next container (as docker0 does)...
    fx.mgr.release_container(&a_id).unwrap();
    assert!(links().contains(&format!("{bridge}:")));
    // ...until a prune retires the bridge, its rules and its row
    assert!(fx.mgr.prune().unwrap().is_empty());
    assert!(!links().contains(&format!("{bridge}:")));
    assert!(fx.mgr.list().unwrap().is_empty());
    // a connect holding the network from before brings it back, same id and subnet
    let b_ns = Ns::new();
    let (_b_id, b) = fx.connect(&net, &b_ns, "b");
    assert_eq!(b.network_id, net.id);
    assert!(b_ns.ping(b.gateway));
    assert_eq!(fx.mgr.default_network().unwrap(), net);
    fx.mgr.release_container(&_b_id).unwrap();
    fx.mgr.retire_private_default().unwrap();
    assert!(!links().contains(&format!("{bridge}:")));
    // made but never used (say by `network ls`): prune retires it
    let again = fx.mgr.default_network().unwrap();
    fx.nets.push(again.clone());
    assert!(links().contains(&format!("{bridge}:")));
    assert!(fx.mgr.prune().unwrap().is_empty());
    assert!(!links().contains(&format!("{bridge}:")));
    fx.teardown();
    fx.assert_clean();
}

/// A connect asking for `ip`.
fn ip_req(ip: Ipv4Addr) -> EndpointRequest {
    EndpointRequest {
        ip: Some(ip),
        ..Default::default()
    }
}
