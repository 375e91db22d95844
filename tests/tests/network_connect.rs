//! `network connect`/`disconnect` of a running container with published ports: the ports lead
//! to the container's first endpoint, as dockerd moves them to its new gateway endpoint. After
//! it leaves its only network nothing is published (`port` and `Ports` are empty, the host
//! port refuses); once it joins another, the same host port reaches it again.
//!
//! `BERTH_TEST_ENGINE=docker DOCKER_HOST=unix:///...` runs it against a real docker daemon
//! (the reference; dockerd 20.10 passes). Needs root. [`Nets`] and the engine remove what it made.

use berth_e2e::engine;
use berth_e2e::net::Nets;
use berth_e2e::rootless::{free_port, read_port};
use std::net::TcpStream;

#[test]
fn published_ports_follow_connect_and_disconnect() {
    let e = engine!();
    let nets = Nets::new(&e);
    let (a, b) = (nets.create("pa", &[]), nets.create("pb", &[]));
    let img = e.img().to_string();
    let port = free_port();
    let web = e.name("web");
    let publish = format!("127.0.0.1:{port}:80");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        &a,
        "-p",
        &publish,
        &img,
        "sh",
        "-c",
        "while true; do echo from-web | nc -l -p 80; done",
    ]);
    assert_eq!(read_port(port, "from-web"), "from-web\n", "before");
    let ports = |e: &berth_e2e::engine::Engine| {
        e.ok(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", &web])
            .trim()
            .to_string()
    };

    e.ok(&["network", "disconnect", &a, &web]);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port still answers after the container left its only network"
    );
    assert_eq!(e.ok(&["port", &web]).trim(), "");
    assert_eq!(ports(&e), "{}");

    e.ok(&["network", "connect", &b, &web]);
    assert_eq!(read_port(port, "from-web"), "from-web\n", "after connect");
    let out = e.ok(&["port", &web]);
    assert_eq!(out.trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    assert!(
        ports(&e).contains(&format!("\"HostPort\":\"{port}\"")),
        "{}",
        ports(&e)
    );
    e.ok(&["rm", "-f", &web]);
}
