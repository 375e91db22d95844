//! IPv6 on user networks: the firewall keeps v6 networks apart and internal ones inside, as it
//! does for IPv4 (dockerd with `--ip6tables`, docker 27's default); containers of networks
//! without IPv6 have none on their interface (docker 26+), so hundreds of them on a bridge do
//! not flood it with link-local announcements (issue 20).
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs the same tests against a real docker
//! daemon (the reference; the isolation test needs dockerd `--experimental --ip6tables`).
//! Needs root. Every test removes what it made ([`Nets`], [`Outside`], the engine's drop).

use std::process::Command;

use berth_e2e::engine::Engine;
use berth_e2e::net::{exec_sh, host_sh, run_sh, run_sleeper, Nets};
use berth_e2e::{berth_only, engine};

/// A ULA /48 of this test process: `fd00:bXXX:N::/64` are its networks.
fn ula(n: u32) -> String {
    format!("fd00:b{:03x}:{n:x}", std::process::id() & 0xfff)
}

fn have_ipv6() -> bool {
    std::path::Path::new("/proc/sys/net/ipv6/conf/all").exists()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

/// "The outside": a network namespace behind a veth from the host, `PREFIX::2` in there,
/// `PREFIX::1` on the host's end, a route back to the containers' v6 networks. Removed at drop.
struct Outside {
    ns: String,
    host_if: String,
}

impl Outside {
    fn new(prefix: &str) -> Outside {
        let tag = format!("{:04x}", std::process::id() & 0xffff);
        let o = Outside {
            ns: format!("bt6o{tag}"),
            host_if: format!("bt6o{tag}"),
        };
        let (ns, h) = (&o.ns, &o.host_if);
        let script = format!(
            "set -e; ip netns add {ns}; ip link add {h} type veth peer name eth0 netns {ns}; \
             ip addr add {prefix}::1/64 dev {h} nodad; ip link set {h} up; \
             ip -n {ns} link set lo up; ip -n {ns} addr add {prefix}::2/64 dev eth0 nodad; \
             ip -n {ns} link set eth0 up; ip -n {ns} -6 route add default via {prefix}::1"
        );
        assert!(sh(&script), "setting up the outside namespace: {script}");
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        sh(&format!(
            "ip link del {} 2>/dev/null; ip netns del {}",
            self.host_if, self.ns
        ));
    }
}

/// `ping6` from inside container `c`: whether `dst` answered.
fn ping6(e: &Engine, c: &str, dst: &str) -> bool {
    exec_sh(e, c, &format!("ping6 -c 1 -W 3 {dst}")).success()
}

/// The rules of berth's firewall (both families, either back end) carrying `tag`.
fn rules_tagged(tag: &str) -> Vec<String> {
    let mut all = host_sh("iptables-save", &[]);
    all.push_str(&host_sh("ip6tables-save", &[]));
    all.push_str(&host_sh("nft", &["list", "ruleset"]));
    all.lines()
        .filter(|l| l.contains(tag))
        .map(str::to_string)
        .collect()
}

/// Containers on two IPv6 networks do not reach each other over IPv6 through the host; a
/// container of an internal IPv6 network (given a route by NET_ADMIN) reaches neither another
/// network nor the outside; a container of a v6 network reaches the outside (the control:
/// forwarding works) and a neighbour on its own network. The rules go with `network rm`.
#[test]
fn ipv6_networks_are_isolated_and_internal_stays_inside() {
    let e = engine!();
    if !have_ipv6() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let nets = Nets::new(&e);
    let (pa, pb, pi, po) = (ula(1), ula(2), ula(3), ula(0x99));
    let _outside = Outside::new(&po);
    let v6 = |p: &str| vec!["--ipv6".to_string(), "--subnet".into(), format!("{p}::/64")];
    let na = nets.create("v6a", &args(&v6(&pa)));
    let nb = nets.create("v6b", &args(&v6(&pb)));
    let mut internal = v6(&pi);
    internal.push("--internal".into());
    let ni = nets.create("v6i", &args(&internal));

    let a = run_sleeper(&e, "a", &["--network", &na, "--ip6", &format!("{pa}::42")]);
    let a2 = run_sleeper(&e, "a2", &["--network", &na]);
    let b = run_sleeper(&e, "b", &["--network", &nb]);
    let i = run_sleeper(
        &e,
        "i",
        &[
            "--network",
            &ni,
            "--cap-add",
            "NET_ADMIN",
            "--ip6",
            &format!("{pi}::42"),
        ],
    );
    // the internal container routes through its bridge anyway: only the firewall stops it
    let o = exec_sh(&e, &i, &format!("ip -6 route replace default via {pi}::1"));
    assert!(o.success(), "{o:?}");

    let target = format!("{pa}::42");
    let out = format!("{po}::2");
    assert!(ping6(&e, &a2, &target), "same network over IPv6");
    assert!(ping6(&e, &a, &out), "a v6 network reaches the outside");
    assert!(
        !ping6(&e, &b, &target),
        "a container of {nb} reached {na}'s {target} over IPv6"
    );
    assert!(
        !ping6(&e, &i, &target),
        "a container of internal {ni} reached {na}'s {target} over IPv6"
    );
    assert!(
        !ping6(&e, &i, &out),
        "a container of internal {ni} reached the outside {out} over IPv6"
    );
    // and nothing comes in from the outside to the internal network
    assert!(
        !sh(&format!(
            "ip netns exec {} ping -6 -c 1 -W 3 {pi}::42 >/dev/null 2>&1",
            _outside.ns
        )),
        "the outside reached internal {ni}'s container"
    );

    berth_only!(e, "docker's rules carry no tag of berth's");
    let ids: Vec<String> = [&na, &nb, &ni]
        .iter()
        .map(|n| {
            e.ok(&["network", "inspect", "-f", "{{.Id}}", n])
                .trim()
                .to_string()
        })
        .collect();
    e.ok(&["rm", "-f", &a, &a2, &b, &i]);
    e.ok(&["network", "rm", &na, &nb, &ni]);
    for id in ids {
        let left = rules_tagged(&format!("berth:net:{id}"));
        assert!(left.is_empty(), "rules of network {id} left: {left:#?}");
    }
}

/// `ip -6 addr show dev eth0` inside a new container with `extra` arguments.
fn v6_addrs_of_eth0(e: &Engine, extra: &[&str]) -> String {
    let o = run_sh(e, extra, "ip -6 addr show dev eth0");
    assert!(o.success(), "{o:?}");
    o.stdout
}

/// On the default bridge and on a user network without IPv6, the container's interface has no
/// IPv6 address at all, not even a link-local one (dockerd turns IPv6 off there), nor has the
/// host's end of its veth (berth's own: a bridge port needs none); on an IPv6 network the
/// container has its address and a link-local one that a neighbour reaches.
#[test]
fn interfaces_of_networks_without_ipv6_have_no_ipv6() {
    let e = engine!();
    if !have_ipv6() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let nets = Nets::new(&e);
    let p = ula(4);
    let n6 = nets.create(
        "d6",
        &args(&["--ipv6".into(), "--subnet".into(), format!("{p}::/64")]),
    );
    let a = run_sleeper(&e, "a", &["--network", &n6, "--ip6", &format!("{p}::42")]);
    let o = exec_sh(&e, &a, "ip -6 addr show dev eth0 scope link");
    assert!(o.success(), "{o:?}");
    let ll = o
        .stdout
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|w| w.split('/').next())
        .unwrap_or_else(|| panic!("no link-local address on eth0 of {a}: {o:?}"))
        .to_string();
    assert!(ll.starts_with("fe80:"), "{ll}");
    let o = run_sh(
        &e,
        &["--network", &n6],
        // (a new link-local address is usable once duplicate address detection is done)
        &format!(
            "for i in $(seq 50); do ip -6 addr show dev eth0 | grep -q tentative || break; \
             sleep 0.1; done; ip -6 addr show dev eth0; ping6 -c 1 -W 5 {ll}%eth0"
        ),
    );
    assert!(o.success(), "link-local ping on {n6}: {o:?}");
    assert!(o.stdout.contains(&format!("{p}::")), "{o:?}");

    berth_only!(
        e,
        "dockerd before 26 leaves IPv6 on (a link-local address) everywhere"
    );
    let n4 = nets.create("d4", &[]);
    for extra in [vec![], vec!["--network", n4.as_str()]] {
        let addrs = v6_addrs_of_eth0(&e, &extra);
        assert!(!addrs.contains("inet6"), "{extra:?}: {addrs}");
    }
    // nor has the host's end of its veth
    let c = run_sleeper(&e, "c", &["--network", &n4]);
    let o = exec_sh(&e, &c, "cat /sys/class/net/eth0/iflink");
    let iflink = o.stdout.trim().to_string();
    let host_if = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .find(|d| {
            std::fs::read_to_string(d.path().join("ifindex")).is_ok_and(|i| i.trim() == iflink)
        })
        .map(|d| d.file_name().to_string_lossy().to_string())
        .unwrap_or_else(|| panic!("no host link of index {iflink}"));
    let v =
        std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6")).unwrap();
    assert_eq!(v.trim(), "1", "{host_if}");
}

/// The embedded DNS server answers reverse lookups of a container's IPv6 address with its name,
/// as of its IPv4 address.
#[test]
fn ipv6_addresses_resolve_back_to_names() {
    let e = engine!();
    if !have_ipv6() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let nets = Nets::new(&e);
    let p = ula(5);
    let net = nets.create(
        "ptr",
        &args(&["--ipv6".into(), "--subnet".into(), format!("{p}::/64")]),
    );
    let a = run_sleeper(&e, "a", &["--network", &net, "--ip6", &format!("{p}::42")]);
    let o = run_sh(&e, &["--network", &net], &format!("nslookup {p}::42"));
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&format!("name = {a}")), "{o:?}");
}
