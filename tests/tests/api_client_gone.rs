//! A server outlives its clients: a client that goes away while a stream is still being
//! written (logs -f, attach, events, stats, build, export, archive, image save, pull progress)
//! ends that stream only. `berth serve` used to die of SIGPIPE (rc 141) on the first write to
//! such a closed socket. Each case opens the stream on the raw socket, reads its first bytes,
//! closes, makes the server write again, then checks that `/_ping` still answers and the
//! server process is alive. Nor does a server keep its containers' processes as children, or
//! leave a zombie of what it started to run them. Validated against dockerd
//! (`BERTH_TEST_ENGINE=docker`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_e2e::api::ApiServer;
use berth_e2e::api_server;
use berth_e2e::cmd::Stdin;

/// Lines every 20 ms, for ever.
const CHATTY: &str = "while true; do echo chatty-line-of-output; usleep 20000; done";

/// Send a request for a stream, read at least `want` bytes of the answer (headers included),
/// then drop the connection without reading the rest.
#[track_caller]
fn open_and_drop(s: &ApiServer, head: &str, body: &[u8], want: usize) {
    let mut c = UnixStream::connect(&s.sock).expect("connect to the API socket");
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{head}\r\nHost: api\r\nUser-Agent: berth-e2e\r\n").into_bytes();
    if !body.is_empty() {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    c.write_all(&req).expect("send the request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{head}: reading the stream: {e}; got {got:?}"),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.1 101"),
        "{head}: not a stream: {text}"
    );
    assert!(got.len() >= want, "{head}: the stream ended early: {text}");
    // dropped with unread data: the server's next writes hit a closed socket
}

/// The server still answers, some time after the client left (the stream kept writing).
#[track_caller]
fn still_serving(s: &ApiServer, what: &str) {
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        s.ping(),
        "the server stopped answering after a {what} client went away; its log:\n{}",
        s.server_log_tail(30)
    );
}

/// A tar of a build context whose Dockerfile has one long, chatty RUN step.
fn build_context(dir: &Path, image: &str) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {image}\nRUN for i in $(seq 1 150); do echo build-step-line-$i; usleep 20000; done\n"
        ),
    )
    .unwrap();
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["-cf", "-", "Dockerfile"])
        .output()
        .expect("run tar");
    assert!(out.status.success(), "tar of the build context failed");
    out.stdout
}

#[test]
fn the_server_survives_clients_leaving_every_stream() {
    let s = api_server!();
    let bb = s.busybox().to_string();
    s.docker_ok(&["run", "-d", "--name", "chatty", &bb, "sh", "-c", CHATTY]);
    let id = s.inspect_f("chatty", "{{.Id}}");
    let v = "/v1.41";

    open_and_drop(
        &s,
        &format!("GET {v}/containers/{id}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1"),
        b"",
        4096,
    );
    still_serving(&s, "logs --follow");

    open_and_drop(
        &s,
        &format!(
            "POST {v}/containers/{id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp"
        ),
        b"",
        1024,
    );
    still_serving(&s, "attach");

    open_and_drop(
        &s,
        &format!("GET {v}/containers/{id}/stats?stream=1 HTTP/1.1"),
        b"",
        2048,
    );
    still_serving(&s, "stats --stream");

    // events: the first event comes from a container made while the client listens; the
    // next ones are written after it left
    let mut c = UnixStream::connect(&s.sock).unwrap();
    c.write_all(format!("GET {v}/events HTTP/1.1\r\nHost: api\r\n\r\n").as_bytes())
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = [0u8; 64];
    let n = c.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    drop(c);
    for i in 0..3 {
        s.docker_ok(&["create", "--name", &format!("ev{i}"), &bb, "true"]);
    }
    still_serving(&s, "events");

    for (what, path) in [
        ("export", format!("GET {v}/containers/{id}/export HTTP/1.1")),
        (
            "archive",
            format!("GET {v}/containers/{id}/archive?path=/bin HTTP/1.1"),
        ),
        ("image save", format!("GET {v}/images/{bb}/get HTTP/1.1")),
    ] {
        open_and_drop(&s, &path, b"", 1024);
        still_serving(&s, what);
    }

    let ctx = build_context(&s.path().join("build-ctx"), &bb);
    open_and_drop(
        &s,
        &format!("POST {v}/build?t=e2e-gone:1 HTTP/1.1\r\nContent-Type: application/x-tar"),
        &ctx,
        2048,
    );
    still_serving(&s, "build");

    // pull progress, from a local registry (the pull of a small image may be over before the
    // client leaves: this case is best effort, the others are not)
    let reg = berth_e2e::api::Registry::start(&s.path().join("registry"));
    let r = format!("{}/e2e/gone:v1", reg.addr);
    s.docker_ok(&["tag", &bb, &r]);
    let o = s.docker(&["push", &r]);
    assert!(o.success(), "{o:?}");
    s.docker_ok(&["rmi", &r]);
    open_and_drop(
        &s,
        &format!(
            "POST {v}/images/create?fromImage={}/e2e/gone&tag=v1 HTTP/1.1",
            reg.addr
        ),
        b"",
        64,
    );
    still_serving(&s, "pull");

    // and the streams still work for the next client
    let mut logs = s.command("docker");
    logs.args(["logs", "--tail", "1", "chatty"]);
    let o = s.run(logs, Stdin::Null, Duration::from_secs(60));
    assert!(
        o.success() && o.stdout.contains("chatty-line"),
        "after the dropped clients: {o:?}"
    );
}

/// The containers' processes are not the server's descendants (berth's monitors, as
/// containerd's shims, run on as nobody's children), and what the server started on the way
/// was reaped: after a few runs it has no zombie child.
#[test]
fn the_server_keeps_no_child_of_its_containers() {
    let s = api_server!();
    let bb = s.busybox().to_string();
    for _ in 0..3 {
        s.docker_ok(&["run", "--rm", &bb, "true"]);
    }
    s.docker_ok(&["run", "-d", "--name", "sleeper", &bb, "sleep", "60"]);
    let pid: i32 = s.inspect_f("sleeper", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0, "the container's pid");
    let up = berth_e2e::engine::ancestors(pid);
    assert!(
        !up.contains(&s.pid()),
        "the container's process {pid} descends from the server {}: {up:?}",
        s.pid()
    );
    s.docker_ok(&["rm", "-f", "sleeper"]);
    let zombies = berth_e2e::engine::zombie_children(s.pid());
    assert!(
        zombies.is_empty(),
        "the server's zombie children: {zombies:?}"
    );
}
