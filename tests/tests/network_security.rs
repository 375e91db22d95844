//! Holes in berth's networking found from outside (issue 13), each closed and kept closed here.
//! Validated against dockerd with `BERTH_TEST_ENGINE=docker` where docker has the same thing
//! (its embedded DNS lives inside the container, so the DNS server's lifecycle is berth's own).
//!
//! - A container (NET_RAW is a default capability) sending to 127.0.0.1 through the gateway's
//!   MAC does not reach the host's loopback-only services (CVE-2020-8558: the bridges have
//!   `route_localnet` for published ports on 127.0.0.1).
//! - The bridges do not take IPv6 router advertisements from containers (CVE-2020-13401).
//! - The embedded DNS server stops with its network (`network rm`, `network prune`, `system
//!   prune`), so that a network made next on the same subnet serves its names (`compose down &&
//!   up`); a server that cannot bind is an error for `run`; a container of another network gets
//!   no answer about this network's names.

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use berth_e2e::engine::{pids_with_cmdline, Engine};
use berth_e2e::net::{exec_sh, free_subnet, host_sh, ip_on, net_inspect, run_sleeper, Nets};
use berth_e2e::{berth_only, engine};

// ---------------------------------------------------------------------------
// raw frames from inside a container

/// The Internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet carrying one UDP datagram (no UDP checksum, which IPv4 allows).
fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 17, 0, 0]); // id, DF, ttl, udp, checksum
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let sum = checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Sends `packets` (IPv4) out of `eth0` of the network namespace of `pid` to the Ethernet
/// address `dst_mac`, with a packet socket, as a process in the container with NET_RAW can:
/// the kernel adds the Ethernet header, nothing else checks the addresses.
fn send_from_container(pid: i32, dst_mac: [u8; 6], packets: &[Vec<u8>]) {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).expect("container netns");
    let packets = packets.to_vec();
    std::thread::spawn(move || {
        // this thread only: it ends right after
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        // SAFETY: a fresh socket, owned right away.
        let fd = unsafe {
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                (libc::ETH_P_IP as u16).to_be() as i32,
            );
            assert!(
                fd >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            OwnedFd::from_raw_fd(fd)
        };
        let ifname = std::ffi::CString::new("eth0").unwrap();
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
        assert!(ifindex > 0, "no eth0 in the container");
        // SAFETY: sockaddr_ll is plain old data.
        let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        to.sll_family = libc::AF_PACKET as u16;
        to.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        to.sll_ifindex = ifindex as i32;
        to.sll_halen = 6;
        to.sll_addr[..6].copy_from_slice(&dst_mac);
        for p in &packets {
            // SAFETY: sendto with a valid buffer and a sockaddr_ll of the given size.
            let n = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    p.as_ptr().cast(),
                    p.len(),
                    0,
                    (&to as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(n, p.len() as isize, "{}", std::io::Error::last_os_error());
        }
    })
    .join()
    .expect("sender thread");
}

/// The host interface holding address `ip` (an engine's bridge, for a gateway).
#[track_caller]
fn host_dev_with(ip: &str) -> String {
    let out = host_sh("ip", &["-o", "-4", "addr", "show"]);
    out.lines()
        .find(|l| l.contains(&format!(" inet {ip}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no host interface has {ip}:\n{out}"))
}

#[track_caller]
fn mac_of(dev: &str) -> [u8; 6] {
    let text = std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).unwrap();
    let b: Vec<u8> = text
        .trim()
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    b.try_into().unwrap()
}

/// `.NetworkSettings.Networks[key].Gateway` of a container.
#[track_caller]
fn gateway_on(e: &Engine, name: &str, key: &str) -> String {
    let v = e.inspect(name);
    let gw = v["NetworkSettings"]["Networks"][key]["Gateway"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        gw.parse::<Ipv4Addr>().is_ok(),
        "{name}: no gateway on {key}"
    );
    gw
}

/// A host service bound to 127.0.0.1 (UDP) gets nothing from a container that sends to
/// 127.0.0.1 through its gateway's MAC, on the default bridge and on a user network; the same
/// sender reaches the host through the gateway's own address (the control: the frames do go
/// out, and that datagram is sent last, so the earlier ones were handled by then).
#[test]
fn raw_frames_to_the_host_loopback_are_dropped() {
    let e = engine!();
    let nets = Nets::new(&e);
    let net = nets.create("lo", &[]);
    let secret = UdpSocket::bind("127.0.0.1:0").unwrap();
    secret.set_nonblocking(true).unwrap();
    let secret_port = secret.local_addr().unwrap().port();
    for (short, key) in [("def", "bridge"), ("usr", net.as_str())] {
        let extra: Vec<&str> = if key == "bridge" {
            vec![]
        } else {
            vec!["--network", key]
        };
        let c = run_sleeper(&e, short, &extra);
        let pid: i32 = e.inspect_f(&c, "{{.State.Pid}}").parse().unwrap();
        let ip: Ipv4Addr = ip_on(&e, &c, key).parse().unwrap();
        let gw = gateway_on(&e, &c, key);
        let mac = mac_of(&host_dev_with(&gw));
        let control = UdpSocket::bind((gw.as_str(), 0)).unwrap();
        control
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let cport = control.local_addr().unwrap().port();
        let lo = Ipv4Addr::LOCALHOST;
        let gwa: Ipv4Addr = gw.parse().unwrap();
        let mut packets = vec![udp_packet(ip, lo, secret_port, b"leak"); 3];
        packets.push(udp_packet(ip, gwa, cport, b"control"));
        send_from_container(pid, mac, &packets);

        let mut buf = [0u8; 64];
        let (n, from) = control.recv_from(&mut buf).unwrap_or_else(|err| {
            panic!("{key}: the control datagram to {gw} did not arrive: {err}")
        });
        assert_eq!(&buf[..n], b"control", "{key}: from {from}");
        match secret.recv_from(&mut buf) {
            Ok((n, from)) => panic!(
                "{key}: a container reached the host's 127.0.0.1:{secret_port}: {:?} from {from}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}"),
        }
    }
}

/// The bridges of the default and of a user network do not accept router advertisements, as
/// docker's.
#[test]
fn bridges_do_not_accept_router_advertisements() {
    let e = engine!();
    if !std::path::Path::new("/proc/sys/net/ipv6/conf/all").exists() {
        eprintln!("SKIP: no IPv6 on this host");
        return;
    }
    let nets = Nets::new(&e);
    let net = nets.create("ra", &[]);
    for (short, key) in [("def", "bridge"), ("usr", net.as_str())] {
        let extra: Vec<&str> = if key == "bridge" {
            vec![]
        } else {
            vec!["--network", key]
        };
        let c = run_sleeper(&e, short, &extra);
        let dev = host_dev_with(&gateway_on(&e, &c, key));
        let path = format!("/proc/sys/net/ipv6/conf/{dev}/accept_ra");
        let v = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        assert_eq!(v.trim(), "0", "{path} ({key})");
    }
}

// ---------------------------------------------------------------------------
// the embedded DNS server

/// `exec NAME nslookup NAME`: the container's own name resolves to `ip`.
#[track_caller]
fn assert_resolves(e: &Engine, c: &str, ip: &str) {
    let o = exec_sh(e, c, &format!("nslookup {c}"));
    assert!(
        o.success() && o.stdout.contains(ip),
        "nslookup {c} -> {ip}: {o:?}"
    );
}

/// The `berth __dns` processes of network `id`.
fn dns_servers(id: &str) -> Vec<i32> {
    pids_with_cmdline(&format!("__dns {id}"))
}

#[track_caller]
fn net_id(e: &Engine, net: &str) -> String {
    net_inspect(e, net)["Id"].as_str().unwrap().to_string()
}

/// `compose down && up`: the network goes and comes back on the same subnet; its DNS server
/// goes with it, and the new network's names resolve.
#[test]
fn dns_stops_with_network_rm_and_a_new_network_on_the_subnet_resolves() {
    let e = engine!();
    let nets = Nets::new(&e);
    let subnet = free_subnet(61);
    let net = nets.create("re1", &["--subnet", &subnet]);
    let id = net_id(&e, &net);
    let a = run_sleeper(&e, "a", &["--network", &net]);
    assert_resolves(&e, &a, &ip_on(&e, &a, &net));
    if e.is_berth() {
        assert_eq!(dns_servers(&id).len(), 1, "one DNS server for {net}");
    }
    e.ok(&["rm", "-f", &a]);
    e.ok(&["network", "rm", &net]);
    if e.is_berth() {
        let left = dns_servers(&id);
        assert!(left.is_empty(), "DNS server of {net} left: {left:?}");
    }

    let net2 = nets.create("re2", &["--subnet", &subnet]);
    let b = run_sleeper(&e, "b", &["--network", &net2]);
    assert_resolves(&e, &b, &ip_on(&e, &b, &net2));
}

/// `network prune` and `system prune` stop the DNS servers of the networks they remove.
#[test]
fn dns_stops_with_network_prune_and_system_prune() {
    let e = engine!();
    let nets = Nets::new(&e);
    let label = e.test_label();
    let net = nets.create("pr", &[]);
    let id = net_id(&e, &net);
    let a = run_sleeper(&e, "a", &["--network", &net]);
    assert_resolves(&e, &a, &ip_on(&e, &a, &net));
    e.ok(&["rm", "-f", &a]);
    let filter = format!("label={label}");
    let out = e.ok(&["network", "prune", "-f", "--filter", &filter]);
    assert!(out.contains(&net), "{out}");
    berth_only!(e, "docker's DNS server is not a process per network");
    let left = dns_servers(&id);
    assert!(left.is_empty(), "DNS server of {net} left: {left:?}");

    // the test's own root: system prune touches nothing else
    let net = nets.create("sys", &[]);
    let id = net_id(&e, &net);
    let b = run_sleeper(&e, "b", &["--network", &net]);
    assert_resolves(&e, &b, &ip_on(&e, &b, &net));
    assert_eq!(dns_servers(&id).len(), 1);
    e.ok(&["rm", "-f", &b]);
    e.ok(&["system", "prune", "-f"]);
    let left = dns_servers(&id);
    assert!(left.is_empty(), "DNS server of {net} left: {left:?}");
}

/// A container of network B asking network A's gateway for a name on A learns nothing.
#[test]
fn dns_does_not_answer_other_networks() {
    let e = engine!();
    let nets = Nets::new(&e);
    let net_a = nets.create("dnsa", &[]);
    let net_b = nets.create("dnsb", &[]);
    let a = run_sleeper(&e, "a", &["--network", &net_a]);
    let a_ip = ip_on(&e, &a, &net_a);
    let gw_a = gateway_on(&e, &a, &net_a);
    if e.is_berth() {
        // control: A's server answers A's containers (docker's listens inside the container)
        let o = exec_sh(&e, &a, &format!("nslookup {a} {gw_a}"));
        assert!(o.success() && o.stdout.contains(&a_ip), "{o:?}");
    }
    let b = run_sleeper(&e, "b", &["--network", &net_b]);
    let o = exec_sh(&e, &b, &format!("nslookup {a} {gw_a}"));
    assert!(
        !o.success() && !o.stdout.contains(&a_ip),
        "a container on {net_b} resolved {a} of {net_a} through {gw_a}: {o:?}"
    );
}

/// A DNS server that cannot bind the gateway's port 53 makes `run` fail with the reason,
/// instead of a container whose names never resolve; once the port is free, it works.
#[test]
fn dns_bind_conflict_is_an_error() {
    let e = engine!();
    berth_only!(e, "docker's DNS server listens inside the container");
    let nets = Nets::new(&e);
    let net = nets.create("bind", &[]);
    let gw = net_inspect(&e, &net)["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let squatter = UdpSocket::bind((gw.as_str(), 53)).expect("the bridge has its gateway");
    let img = e.img().to_string();
    let o = e.cmd(&["run", "--rm", "--network", &net, &img, "true"]);
    assert!(!o.success(), "run with the DNS port taken: {o:?}");
    assert!(
        o.stderr.contains("DNS") && o.stderr.contains(&format!("{gw}:53")),
        "the error names the DNS server and its address: {o:?}"
    );
    drop(squatter);
    let c = run_sleeper(&e, "ok", &["--network", &net]);
    assert_resolves(&e, &c, &ip_on(&e, &c, &net));
}
