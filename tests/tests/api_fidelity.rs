//! Docker API answers that clients depend on, where docker-py's own integration suite found berth
//! differing from dockerd 20.10 (issue 16). Raw HTTP on the API socket; each test runs on its
//! own `berth serve` (or a private dockerd with `BERTH_TEST_ENGINE=docker`, the reference).

use berth_e2e::api::{ApiServer, HttpResponse};
use berth_e2e::api_server;
use berth_e2e::fidelity::{call, frames, json, Ctr};
use serde_json::Value;

/// Removes the networks a test made, even when it fails.
struct Networks<'a>(&'a ApiServer, Vec<String>);

impl Drop for Networks<'_> {
    fn drop(&mut self) {
        for n in &self.1 {
            let _ = self.0.http("DELETE", &format!("/networks/{n}"), None);
        }
    }
}

/// Without swarm mode, dockerd answers swarm calls with 503 and these words; docker-py's
/// network tests tear down with `leave_swarm(force=True)`, which takes 503 as "not in one".
#[test]
fn swarm_endpoints_answer_not_in_a_swarm() {
    let s = api_server!();
    let r = call(&s, "POST", "/swarm/leave?force=true", None);
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(json(&r)["message"], "This node is not part of a swarm");
    for path in [
        "/swarm",
        "/nodes",
        "/services",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        let r = call(&s, "GET", path, None);
        assert_eq!(r.status, 503, "GET {path}: {r:?}");
        let m = json(&r)["message"].as_str().unwrap_or("").to_string();
        assert!(
            m.starts_with("This node is not a swarm manager."),
            "GET {path}: {m}"
        );
    }
}

/// dockerd takes any non-blank network name, spaces included, and finds it by that name.
#[test]
fn network_name_with_a_space() {
    let s = api_server!();
    let mut nets = Networks(&s, vec![]);
    let name = format!("test {}", std::process::id());
    let r = call(
        &s,
        "POST",
        "/networks/create",
        Some(&serde_json::json!({"Name": name}).to_string()),
    );
    assert_eq!(r.status, 201, "{r:?}");
    nets.1.push(json(&r)["Id"].as_str().unwrap().to_string());
    let path = format!("/networks/{}", name.replace(' ', "%20"));
    let r = call(&s, "GET", &path, None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json(&r)["Name"], name.as_str());
    let r = call(&s, "DELETE", &path, None);
    assert_eq!(r.status, 204, "{r:?}");
    let r = call(&s, "GET", &path, None);
    assert_eq!(r.status, 404, "{r:?}");
}

/// `AuxiliaryAddresses` are kept, shown by inspect, and never handed to a container.
#[test]
fn network_auxiliary_addresses() {
    let s = api_server!();
    s.busybox();
    let mut nets = Networks(&s, vec![]);
    let name = format!("aux{}", std::process::id());
    let body = serde_json::json!({"Name": name, "IPAM": {"Driver": "default", "Config": [{
        "Subnet": "172.29.0.0/24", "IPRange": "172.29.0.0/30", "Gateway": "172.29.0.254",
        "AuxiliaryAddresses": {"a": "172.29.0.1"}}]}});
    let r = call(&s, "POST", "/networks/create", Some(&body.to_string()));
    assert_eq!(r.status, 201, "{r:?}");
    nets.1.push(name.clone());
    let n = json(&call(&s, "GET", &format!("/networks/{name}"), None));
    assert_eq!(
        n["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        serde_json::json!({"a": "172.29.0.1"}),
        "{n}"
    );
    // the range's first host address is reserved: the container gets the next one
    let c = format!("aux-c{}", std::process::id());
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--network",
        &name,
        s.busybox(),
        "sleep",
        "60",
    ]);
    let ip = s.inspect_f(
        &c,
        &format!("{{{{.NetworkSettings.Networks.{name}.IPAddress}}}}"),
    );
    s.docker(&["rm", "-f", &c]);
    assert_eq!(ip.trim(), "172.29.0.2");
    // and an address outside the subnet is refused (dockerd: 403, berth: 400)
    let bad = serde_json::json!({"Name": format!("{name}b"), "IPAM": {"Config": [{
        "Subnet": "172.29.1.0/24", "AuxiliaryAddresses": {"a": "10.9.9.9"}}]}});
    let r = call(&s, "POST", "/networks/create", Some(&bad.to_string()));
    nets.1.push(format!("{name}b"));
    assert!(matches!(r.status, 400 | 403), "{r:?}");
    let m = json(&r)["message"].as_str().unwrap_or("").to_string();
    assert!(
        m.contains("auxiliary address") && m.contains("10.9.9.9"),
        "{m}"
    );
}

/// An endpoint's `DriverOpts` and a requested `MacAddress` (on connect, before start) are
/// kept and shown by container inspect.
#[test]
fn endpoint_driver_opts_and_mac() {
    let s = api_server!();
    s.busybox();
    let mut nets = Networks(&s, vec![]);
    let name = format!("ep{}", std::process::id());
    let r = call(
        &s,
        "POST",
        "/networks/create",
        Some(&serde_json::json!({"Name": name}).to_string()),
    );
    assert_eq!(r.status, 201, "{r:?}");
    nets.1.push(name.clone());
    let c = format!("ep-c{}", std::process::id());
    let body = serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "60"],
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkingConfig": {"EndpointsConfig": {"bridge": {"DriverOpts": {"com.example.x": "on"}}}}});
    let r = call(
        &s,
        "POST",
        &format!("/containers/create?name={c}"),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let connect = serde_json::json!({"Container": c,
        "EndpointConfig": {"MacAddress": "02:42:ac:11:00:99"}});
    let r = call(
        &s,
        "POST",
        &format!("/networks/{name}/connect"),
        Some(&connect.to_string()),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let v = json(&call(&s, "GET", &format!("/containers/{c}/json"), None));
    s.docker(&["rm", "-f", &c]);
    let nets_v = &v["NetworkSettings"]["Networks"];
    assert_eq!(
        nets_v["bridge"]["DriverOpts"]["com.example.x"], "on",
        "{nets_v}"
    );
    assert_eq!(nets_v[&name]["MacAddress"], "02:42:ac:11:00:99", "{nets_v}");
}

/// HostConfig fields docker-py sets and reads back: `UTSMode` (docker's spelling, applied),
/// `CgroupnsMode`, `DeviceCgroupRules`, `Isolation`, `MemorySwappiness`; and a log config
/// with `max-file` alone, which dockerd takes.
#[test]
fn host_config_fields_round_trip() {
    let s = api_server!();
    s.busybox();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["hostname"], "HostConfig": {
            "UTSMode": "host", "CgroupnsMode": "private", "DeviceCgroupRules": ["c 7:128 rwm"],
            "Isolation": "default", "MemorySwappiness": 40,
            "LogConfig": {"Type": "json-file", "Config": {"max-file": "100"}}}}),
    );
    let hc = c.inspect()["HostConfig"].clone();
    assert_eq!(hc["UTSMode"], "host", "{hc}");
    assert_eq!(hc["CgroupnsMode"], "private", "{hc}");
    assert_eq!(
        hc["DeviceCgroupRules"],
        serde_json::json!(["c 7:128 rwm"]),
        "{hc}"
    );
    assert_eq!(hc["Isolation"], "default", "{hc}");
    assert_eq!(hc["MemorySwappiness"], 40, "{hc}");
    assert_eq!(hc["LogConfig"]["Config"]["max-file"], "100", "{hc}");
    // --uts=host: the container sees the host's name (started on its own: runc cannot start a
    // private cgroup namespace on this cgroup v1 hybrid host, so dockerd fails that start)
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["hostname"], "HostConfig": {
            "UTSMode": "host", "LogConfig": {"Type": "json-file", "Config": {"max-file": "100"}}}}),
    );
    let r = c.post("start");
    assert_eq!(r.status, 204, "{r:?}");
    let r = c.post("wait");
    assert_eq!(json(&r)["StatusCode"], 0, "{r:?}");
    let logs = s.docker_ok(&["logs", &c.1]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(logs.trim(), host.trim());
}

/// `POST /kill` (SIGKILL) answers once the container is stopped: inspect right after says so.
#[test]
fn kill_answers_once_the_container_is_stopped() {
    let s = api_server!();
    s.busybox();
    for _ in 0..3 {
        let c = Ctr::create(
            &s,
            serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "9999"]}),
        );
        assert_eq!(c.post("start").status, 204);
        assert_eq!(c.post("kill").status, 204);
        let st = c.inspect()["State"].clone();
        assert_eq!(st["Running"], false, "{st}");
        assert_ne!(st["ExitCode"], 0, "{st}");
    }
}

/// A restart right after the container stops (its monitor still finishing) starts it again.
#[test]
fn restart_right_after_stop() {
    let s = api_server!();
    s.busybox();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "9999"]}),
    );
    assert_eq!(c.post("start").status, 204);
    for _ in 0..3 {
        let r = call(
            &s,
            "POST",
            &format!("/containers/{}/restart?t=1", c.1),
            None,
        );
        assert_eq!(r.status, 204, "{r:?}");
        assert_eq!(c.inspect()["State"]["Running"], true);
    }
}

/// An unknown volume driver is 404 (clients map it to NotFound); before API 1.42 prune removes
/// every unused volume, named ones too.
#[test]
fn volume_driver_and_prune_by_version() {
    let s = api_server!();
    let name = format!("fid{}", std::process::id());
    let body = serde_json::json!({"Name": name, "Driver": "invalid.driver"});
    let r = call(&s, "POST", "/volumes/create", Some(&body.to_string()));
    assert_eq!(r.status, 404, "{r:?}");
    let body = serde_json::json!({"Name": name});
    let r = call(&s, "POST", "/v1.41/volumes/create", Some(&body.to_string()));
    assert_eq!(r.status, 201, "{r:?}");
    let r = call(&s, "POST", "/v1.41/volumes/prune", None);
    assert_eq!(r.status, 200, "{r:?}");
    let gone = json(&r)["VolumesDeleted"].clone();
    let _ = s.http("DELETE", &format!("/volumes/{name}"), None);
    assert!(
        gone.as_array()
            .is_some_and(|a| a.iter().any(|v| v == name.as_str())),
        "{gone}"
    );
}

/// A volume created without a name: before API 1.42 as any other (dockerd 20.10: no label,
/// and prune then removes every unused volume anyway); from 1.42 labelled anonymous, so the
/// default prune removes it and keeps named ones (moby 23+, docker-py's test_prune_volumes).
#[test]
fn nameless_volume_create_is_anonymous_from_api_1_42() {
    let s = api_server!();
    let anon = "com.docker.volume.anonymous";
    let create = |prefix: &str, body: Value| {
        let r = call(
            &s,
            "POST",
            &format!("{prefix}/volumes/create"),
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 201, "{r:?}");
        json(&r)
    };
    let old = create("/v1.41", serde_json::json!({}));
    let old_name = old["Name"].as_str().unwrap().to_string();
    let _old = Vol(&s, old_name.clone());
    assert!(old["Labels"].get(anon).is_none(), "{old}");
    let version = json(&call(&s, "GET", "/version", None))["ApiVersion"].clone();
    let (major, minor) = version.as_str().unwrap().split_once('.').unwrap();
    if (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap()) < (1, 42) {
        eprintln!("the engine speaks API {version}: no 1.42 behaviour to check");
        return;
    }
    let named = format!("fidnamed{}", std::process::id());
    let _named = Vol(&s, named.clone());
    create("/v1.42", serde_json::json!({"Name": named}));
    let new = create("/v1.42", serde_json::json!({"Name": ""}));
    let new_name = new["Name"].as_str().unwrap().to_string();
    let _new = Vol(&s, new_name.clone());
    assert_eq!(new["Labels"][anon], "", "{new}");
    let r = call(&s, "POST", "/v1.42/volumes/prune", None);
    assert_eq!(r.status, 200, "{r:?}");
    let gone = json(&r)["VolumesDeleted"].clone();
    assert_eq!(gone, serde_json::json!([new_name]));
    for (name, status) in [(&new_name, 404), (&named, 200), (&old_name, 200)] {
        let r = call(&s, "GET", &format!("/volumes/{name}"), None);
        assert_eq!(r.status, status, "{name}: {r:?}");
    }
}

/// A volume removed at drop.
struct Vol<'a>(&'a ApiServer, String);

impl Drop for Vol<'_> {
    fn drop(&mut self) {
        let _ = self.0.http("DELETE", &format!("/volumes/{}", self.1), None);
    }
}

/// A bad archive on `/images/load` is a 200 whose stream ends with an `errorDetail`.
#[test]
fn image_load_bad_archive_is_an_error_message() {
    let s = api_server!();
    let r = call(&s, "POST", "/images/load", Some("abc"));
    assert_eq!(r.status, 200, "{r:?}");
    let last = r.text().lines().last().unwrap_or("").to_string();
    let v: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert!(v["errorDetail"]["message"].is_string(), "{v}");
}

/// Image inspect has `Container` and `ContainerConfig` (compose 1.29 reads them); a commit's
/// `Parent` is its base image, and a commit right after the container exits works.
#[test]
fn image_inspect_container_config_and_commit_parent() {
    let s = api_server!();
    s.busybox();
    let base = json(&call(
        &s,
        "GET",
        &format!("/images/{}/json", s.busybox()),
        None,
    ));
    assert!(base["ContainerConfig"].is_object(), "{base}");
    assert!(base["Container"].is_string(), "{base}");
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["touch", "/made"]}),
    );
    assert_eq!(c.post("start").status, 204);
    let tag = format!("fid-commit-{}", std::process::id());
    let r = call(
        &s,
        "POST",
        &format!("/commit?container={}&repo={tag}&pause=true", c.1),
        None,
    );
    assert_eq!(r.status, 201, "{r:?}");
    let img = json(&call(&s, "GET", &format!("/images/{tag}/json"), None));
    let _ = s.http("DELETE", &format!("/images/{tag}"), None);
    assert_eq!(img["Parent"], base["Id"], "{img}");
}

/// A build context (`Dockerfile` = `dockerfile`, plus `other`) as a tar, as text (all ASCII).
fn context_tar(dockerfile: &str, other: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("other.dockerfile"), other).unwrap();
    let o = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        // 512-byte records: nothing after the end blocks, which dockerd leaves unread (and then
        // resets the connection, losing its answer)
        .args(["-b", "1", "-cf", "-", "Dockerfile", "other.dockerfile"])
        .output()
        .unwrap();
    assert!(o.status.success(), "tar: {o:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// `/build` streams as dockerd's classic builder does: one message per write (the last one is
/// "Successfully tagged ..." whole), a RUN step's stderr wrapped in `\x1b[91m`..`\x1b[0m`;
/// a repeated query parameter takes its first value (docker-py sends `dockerfile` twice);
/// `extrahosts` reach the RUN steps.
#[test]
fn build_stream_and_options() {
    let s = api_server!();
    s.busybox();
    let tag = format!("fid-build-{}", std::process::id());
    let df = format!(
        "FROM {}\nRUN sh -c '>&2 echo oops'\nRUN grep -q 'extra.test' /etc/hosts\n",
        s.busybox()
    );
    let tar = context_tar("FROM scratch\nRUN false\n", &df);
    let path = format!(
        "/build?t={tag}&nocache=1&extrahosts=extra.test:127.0.0.1&dockerfile=other.dockerfile&dockerfile=Dockerfile"
    );
    let r = call(&s, "POST", &path, Some(&tar));
    let _ = s.http("DELETE", &format!("/images/{tag}"), None);
    assert_eq!(r.status, 200, "{r:?}");
    let msgs: Vec<Value> = r
        .text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let streams: Vec<&str> = msgs.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert!(msgs.iter().all(|m| m.get("error").is_none()), "{msgs:?}");
    assert!(streams.contains(&"\x1b[91moops\n\x1b[0m"), "{streams:?}");
    let last = streams.last().copied().unwrap_or("");
    assert!(
        last.starts_with("Successfully tagged") && last.ends_with('\n'),
        "{streams:?}"
    );
}

/// A container with a health check shows `State.Health` from its start on ("starting"), then
/// the checks' verdict.
#[test]
fn health_is_shown_from_the_start() {
    let s = api_server!();
    s.busybox();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "60"],
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000u64,
                "Timeout": 1_000_000_000u64, "Retries": 1}}),
    );
    assert_eq!(c.post("start").status, 204);
    let st = c.inspect()["State"]["Health"]["Status"].clone();
    assert!(st == "starting" || st == "healthy", "{st}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while c.inspect()["State"]["Health"]["Status"] != "healthy" {
        assert!(std::time::Instant::now() < deadline, "never healthy");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `POST /wait` on a `restart=always` container answers when its process exits, though the
/// policy starts it again; removing it then wants a stop first.
#[test]
fn wait_answers_at_each_exit_of_a_restarting_container() {
    let s = api_server!();
    s.busybox();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "1"],
            "HostConfig": {"RestartPolicy": {"Name": "always"}, "NetworkMode": "none"}}),
    );
    assert_eq!(c.post("start").status, 204);
    let r = c.post("wait");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json(&r)["StatusCode"], 0, "{r:?}");
    let r = call(&s, "DELETE", &format!("/containers/{}", c.1), None);
    assert_eq!(r.status, 409, "{r:?}");
    let m = json(&r)["message"].as_str().unwrap_or("").to_lowercase();
    assert!(m.contains("stop the container before"), "{m}");
}

/// Creates an exec in `c` and starts it with `start` as the body; the start's answer.
fn exec_start(c: &Ctr, create: Value, start: Value) -> HttpResponse {
    let r = call(
        c.0,
        "POST",
        &format!("/containers/{}/exec", c.1),
        Some(&create.to_string()),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let id = json(&r)["Id"].as_str().unwrap().to_string();
    call(
        c.0,
        "POST",
        &format!("/exec/{id}/start"),
        Some(&start.to_string()),
    )
}

/// An exec created with a TTY and started with `Tty: false` runs on a terminal (one `\r\n`
/// per line, not `\r\r\n`) and its output comes in multiplexed frames, as the start body
/// says (docker-py's demux tests); a detached start answers 200 with an empty body.
#[test]
fn exec_start_body_decides_framing_and_detach_is_empty() {
    let s = api_server!();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "9999"]}),
    );
    assert_eq!(c.post("start").status, 204);
    let sh = serde_json::json!(["sh", "-c", "echo hello out; sleep 0.2; echo hello err >&2"]);
    let r = exec_start(
        &c,
        serde_json::json!({"Cmd": sh, "Tty": true, "AttachStdout": true, "AttachStderr": true}),
        serde_json::json!({"Detach": false, "Tty": false}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let got = frames(&r.body);
    assert!(got.iter().all(|(k, _)| *k == 1), "not all stdout: {got:?}");
    let text: Vec<u8> = got.into_iter().flat_map(|(_, d)| d).collect();
    assert_eq!(
        String::from_utf8_lossy(&text),
        "hello out\r\nhello err\r\n",
        "{r:?}"
    );
    let r = exec_start(
        &c,
        serde_json::json!({"Cmd": ["true"]}),
        serde_json::json!({"Detach": true, "Tty": false}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.is_empty(), "{r:?}");
}

/// The detach sequence on an attached exec (default ctrl-p,ctrl-q; `detachKeys` as docker-py
/// spells it in the create body) closes the client's stream instead of reaching the process.
#[test]
fn exec_detach_keys_close_the_stream() {
    use std::io::{Read, Write};
    let s = api_server!();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "9999"]}),
    );
    assert_eq!(c.post("start").status, 204);
    for (keys, typed) in [(None, vec![16u8, 17]), (Some("ctrl-x"), vec![24u8])] {
        let mut create = serde_json::json!({"Cmd": ["cat"], "AttachStdin": true,
            "AttachStdout": true, "Tty": true});
        if let Some(k) = keys {
            create["detachKeys"] = k.into();
        }
        let r = call(
            &s,
            "POST",
            &format!("/containers/{}/exec", c.1),
            Some(&create.to_string()),
        );
        assert_eq!(r.status, 201, "{r:?}");
        let id = json(&r)["Id"].as_str().unwrap().to_string();
        let body = r#"{"Detach":false,"Tty":true}"#;
        let mut sock = std::os::unix::net::UnixStream::connect(&s.sock).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        write!(
            sock,
            "POST /exec/{id}/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(
                sock.read(&mut b).unwrap(),
                1,
                "closed in the head: {head:?}"
            );
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        sock.write_all(&typed).unwrap();
        // the stream ends (EOF), it does not hang until the read timeout
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("keys {keys:?}: the stream did not end: {e}"));
    }
}

/// `GET /distribution/{name}/json` answers the registry's descriptor of the name's manifest
/// and the platform its config names (docker-py's `inspect_distribution`); a name the
/// registry lacks is an error.
#[test]
fn distribution_inspect_asks_the_registry() {
    let s = api_server!();
    let bb = s.busybox();
    let reg = berth_e2e::api::Registry::start(&s.path().join("registry"));
    let r = format!("{}/e2e/busybox:v1", reg.addr);
    s.docker_ok(&["tag", bb, &r]);
    let out = s.docker_ok(&["push", &r]);
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest: {out}"))
        .to_string();
    let got = call(&s, "GET", &format!("/distribution/{r}/json"), None);
    assert_eq!(got.status, 200, "{got:?}");
    let v = json(&got);
    let d = &v["Descriptor"];
    assert_eq!(d["digest"], digest.as_str(), "{v}");
    assert!(d["mediaType"].as_str().unwrap().contains("manifest"), "{v}");
    assert!(d["size"].as_u64().unwrap() > 0, "{v}");
    let arch = s.docker_ok(&["image", "inspect", "-f", "{{.Architecture}}", bb]);
    assert_eq!(
        v["Platforms"],
        serde_json::json!([{"architecture": arch.trim(), "os": "linux"}]),
        "{v}"
    );
    let missing = format!("/distribution/{}/e2e/nosuch:v1/json", reg.addr);
    let got = call(&s, "GET", &missing, None);
    assert!(got.status >= 400, "{got:?}");
    assert!(json(&got)["message"].is_string(), "{got:?}");
}
