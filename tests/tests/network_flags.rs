//! The network flags of `run` and `network create` that docker-py's suite reaches through the
//! API (issue 16), on the command line: `network create --ipv6` with a v6 `--subnet`, `run
//! --ip6`, `--mac-address`, `--link-local-ip` and `--link`.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same tests against a real
//! docker daemon (the reference). Needs root. Every test removes what it made ([`Nets`], the engine's drop).

use berth_e2e::engine;
use berth_e2e::net::{exec_sh, run_sh, run_sleeper, Nets};

/// A v6 prefix of the documentation range, different for each test process.
fn v6_prefix(n: u32) -> String {
    format!(
        "2001:db8:{:x}:{n:x}",
        (std::process::id() & 0xffff) ^ 0x8000
    )
}

#[test]
fn ipv6_network_and_run_ip6() {
    let e = engine!();
    let nets = Nets::new(&e);
    let p = v6_prefix(1);
    let net = nets.create("v6", &["--ipv6", "--subnet", &format!("{p}::/64")]);
    let inspect = e.ok(&["network", "inspect", "-f", "{{.EnableIPv6}}", &net]);
    assert_eq!(inspect.trim(), "true");
    let a = run_sleeper(&e, "a", &["--network", &net, "--ip6", &format!("{p}::42")]);
    let ip6 = e.ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").GlobalIPv6Address}}}}"),
        &a,
    ]);
    assert_eq!(ip6.trim(), format!("{p}::42"));
    // the gateway is the subnet's first address, the default v6 route goes through it
    let o = exec_sh(&e, &a, "ip -6 addr show eth0; ip -6 route");
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&format!("{p}::42/64")), "{o:?}");
    assert!(
        o.stdout.contains(&format!("default via {p}::1 dev eth0")),
        "{o:?}"
    );
    // network connect --ip6 on a running container
    let b = run_sleeper(&e, "b", &[]);
    e.ok(&["network", "connect", "--ip6", &format!("{p}::43"), &net, &b]);
    let o = exec_sh(
        &e,
        &b,
        &format!("ip -6 addr show eth1; ping6 -c 1 -W 5 {p}::42"),
    );
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&format!("{p}::43/64")), "{o:?}");
    // a second container (lowest free address) reaches the first over IPv6
    let o = run_sh(
        &e,
        &["--network", &net],
        &format!("ping6 -c 1 -W 5 {p}::42"),
    );
    assert!(o.success(), "{o:?}");
}

#[test]
fn run_mac_address_and_link_local_ip() {
    let e = engine!();
    // docker 28's CLI sends --mac-address per network, which needs API 1.44: against
    // dockerd 20.10 only the API suite (api_network_fidelity) checks Config.MacAddress
    if e.is_berth() {
        let o = run_sh(
            &e,
            &["--mac-address", "02:42:ac:11:00:42"],
            "cat /sys/class/net/eth0/address",
        );
        assert!(o.success(), "{o:?}");
        assert_eq!(o.stdout, "02:42:ac:11:00:42\n", "{o:?}");
    }
    let o = run_sh(
        &e,
        &["--link-local-ip", "169.254.9.9"],
        "ip -4 addr show eth0",
    );
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains("inet 169.254.9.9/16"), "{o:?}");
}

#[test]
fn run_link_sets_variables_and_hosts() {
    let e = engine!();
    let t = run_sleeper(&e, "target", &["-e", "FOO=bar", "--expose", "80"]);
    let ip = e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &t]);
    let ip = ip.trim();
    let c = e.name("linker");
    let out = e.ok(&[
        "run",
        "--rm",
        "--name",
        &c,
        "--link",
        &format!("{t}:db"),
        e.img(),
        "sh",
        "-c",
        "env; cat /etc/hosts",
    ]);
    for want in [
        format!("DB_NAME=/{c}/db"),
        "DB_ENV_FOO=bar".to_string(),
        format!("DB_PORT_80_TCP_ADDR={ip}"),
    ] {
        assert!(out.lines().any(|l| l == want), "{want} not in:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{ip}\tdb ")) && l.ends_with(&format!(" {t}"))),
        "{out}"
    );
}

/// On a user network `--link` is the endpoint's: the alias resolves by the network's DNS, and
/// no legacy variables are set.
#[test]
fn run_link_on_a_user_network_is_a_dns_alias() {
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("lnk", &[]);
    let t = run_sleeper(&e, "target", &["--network", &net]);
    let o = run_sh(
        &e,
        &["--network", &net, "--link", &format!("{t}:db")],
        "nslookup db; env",
    );
    assert!(o.success(), "{o:?}");
    let ip = e.ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        &t,
    ]);
    assert!(o.stdout.contains(ip.trim()), "{o:?}");
    assert!(!o.stdout.contains("DB_NAME="), "{o:?}");
}
