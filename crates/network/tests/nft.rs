//! The nft back end (used when iptables is missing), forced with BERTH_FIREWALL=nft. Its own test
//! binary: the variable is process-wide, and cargo runs test binaries one after another.

mod common;
use common::*;

use network::PortMapping;
use std::net::{Ipv4Addr, TcpListener};

#[test]
fn nft_backend_networks_ports_and_cleanup() {
    require_root!();
    if std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no nft");
        return;
    }
    std::env::set_var("BERTH_FIREWALL", "nft");
    let mut fx = Fixture::new();
    let n1 = fx.net("nft1", "10.231.20.0/24", false);
    let n2 = fx.net("nft2", "10.231.21.0/24", false);
    let (a_ns, b_ns, c_ns) = (Ns::new(), Ns::new(), Ns::new());
    let (a_id, a) = fx.connect(&n1, &a_ns, "a");
    let (_b, b) = fx.connect(&n1, &b_ns, "b");
    let (_c, c) = fx.connect(&n2, &c_ns, "c");
    // an iptables FORWARD policy of DROP (dockerd sets one) drops forwarded traffic whatever
    // berth's own nft table accepts: then only the rules and their cleanup are checked
    let policy = std::process::Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("-P FORWARD DROP"))
        .unwrap_or(false);
    let traffic = !policy;
    if traffic {
        assert!(a_ns.ping(b.ip));
    }
    assert!(!a_ns.ping_once(c.ip), "isolation");
    let rules = ruleset();
    assert!(rules.contains("table ip berth"), "{rules}");
    assert!(rules.contains(&n1.id));
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), format!("nft {}\n", fx.tag)).unwrap();
    let _httpd = Proc(a_ns.spawn_busybox(&[
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        root.path().to_str().unwrap(),
    ]));
    let port = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fx.mgr
        .publish(
            &a_id,
            &a,
            &[PortMapping {
                host_ip: String::new(),
                host_port: port,
                container_port: 80,
                proto: "tcp".into(),
            }],
        )
        .unwrap();
    let want = format!("nft {}", fx.tag);
    if !traffic {
        eprintln!("iptables FORWARD policy is DROP: traffic checks skipped");
        fx.teardown();
        fx.assert_clean();
        return;
    }
    for addr in [format!("127.0.0.1:{port}"), format!("{}:{port}", host_ip())] {
        assert!(
            retry(|| http_get(&addr).ok().filter(|b| b.contains(&want))).is_some(),
            "no page from {addr}"
        );
    }
    // hairpin from the same network and, published ports being public, from the other one
    for ns in [&b_ns, &c_ns] {
        let ok = retry(|| {
            ns.nc(
                &host_ip().to_string(),
                port,
                "GET /index.html HTTP/1.0\r\n\r\n",
            )
            .contains(&want)
            .then_some(())
        });
        assert!(ok.is_some(), "hairpin");
    }
    let _ = Ipv4Addr::LOCALHOST;
    fx.teardown();
    fx.assert_clean();
}
