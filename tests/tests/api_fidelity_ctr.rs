//! Container, build and exec answers of the Docker API where docker-py's own integration suite
//! found berth differing from dockerd 20.10 (issue 16). Raw HTTP on the API socket; each test
//! runs on its own `berth serve` (or a private dockerd with `BERTH_TEST_ENGINE=docker`, the
//! reference).

use berth_e2e::api::ApiServer;
use berth_e2e::api_server;
use berth_e2e::fidelity::{call, json, Ctr};
use serde_json::Value;
use std::process::{Command, Stdio};

/// A tar of the files `(name, content)`, made by tar(1).
fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let o = Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        // 512-byte records: nothing after the end blocks, which dockerd leaves unread (and then
        // resets the connection, losing its answer)
        .args(["-b", "1", "-cf", "-", "."])
        .output()
        .unwrap();
    assert!(o.status.success(), "tar: {o:?}");
    o.stdout
}

/// The names and contents of the regular files of a tar, by tar(1).
fn untar(data: &[u8]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .arg("-xf")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), data).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            let c = std::fs::read_to_string(e.path()).unwrap();
            out.push((e.file_name().to_string_lossy().into_owned(), c));
        }
    }
    out
}

/// docker's `X-Docker-Container-Path-Stat` header (base64 of a JSON PathStat), decoded.
fn path_stat(r: &berth_e2e::api::HttpResponse) -> Value {
    let h = r
        .header("X-Docker-Container-Path-Stat")
        .unwrap_or_else(|| panic!("no path stat: {r:?}"));
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), h.as_bytes()).unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {h}"))
}

/// Starts `c` and waits for its exit; its exit code.
fn run_to_exit(c: &Ctr) -> i64 {
    assert_eq!(c.post("start").status, 204);
    let r = c.post("wait");
    assert_eq!(r.status, 200, "{r:?}");
    json(&r)["StatusCode"].as_i64().unwrap()
}

/// Is anything of `path` mounted in the host's mount namespace?
fn mounted_under(path: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(path))
        .map(str::to_string)
        .collect()
}

/// The archive endpoints on a created or stopped container see its volumes, as dockerd's: a
/// file written into a volume is found by HEAD and GET, a tar PUT into a volume path lands in
/// the volume (the container then reads it); nothing stays mounted (docker-py's ArchiveTest).
#[test]
fn archive_of_a_stopped_container_sees_its_volumes() {
    let s = api_server!();
    let vol = serde_json::json!({"/vol1": {}});
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Volumes": vol,
            "Cmd": ["sh", "-c", "echo -n some data > /vol1/data.txt"]}),
    );
    assert_eq!(run_to_exit(&c), 0);
    let at = format!("/containers/{}/archive?path=/vol1/data.txt", c.1);
    let r = call(&s, "HEAD", &at, None);
    assert_eq!(r.status, 200, "{r:?}");
    let st = path_stat(&r);
    assert_eq!(st["name"], "data.txt", "{st}");
    assert_eq!(st["size"], 9, "{st}");
    let r = call(&s, "GET", &at, None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        untar(&r.body),
        [("data.txt".to_string(), "some data".to_string())]
    );

    // a created container: the tar lands in its volume
    let c2 = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Volumes": vol,
            "Cmd": ["cat", "/vol1/put.txt", "/vol1/sub/deep.txt"]}),
    );
    let tar = tar_of(&[("put.txt", "from the tar\n"), ("sub/deep.txt", "deep\n")]);
    let r = s
        .http_bytes(
            "PUT",
            &format!("/containers/{}/archive?path=/vol1", c2.1),
            Some(("application/x-tar", &tar)),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let m = &c2.inspect()["Mounts"][0];
    assert_eq!(m["Destination"], "/vol1", "{m}");
    let src = m["Source"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(format!("{src}/put.txt")).unwrap(),
        "from the tar\n"
    );
    assert_eq!(run_to_exit(&c2), 0);
    assert_eq!(c2.logs(), "from the tar\ndeep\n");
    for id in [&c.1, &c2.1] {
        assert_eq!(mounted_under(id), Vec::<String>::new());
    }
    assert_eq!(mounted_under(&src), Vec::<String>::new());
}

/// Creates an exec of `cmd` in `c`; the create's answer.
fn exec_create(c: &Ctr, body: Value) -> berth_e2e::api::HttpResponse {
    call(
        c.0,
        "POST",
        &format!("/containers/{}/exec", c.1),
        Some(&body.to_string()),
    )
}

/// dockerd 20.10 (API 1.41) records 126 for an exec of a missing executable, as for any exec
/// its runtime cannot start (docker-py's test_exec_run_failed asserts 126); and refuses an
/// exec whose detach keys cannot be typed at create, with 500 and these words.
#[test]
fn exec_start_failure_is_126_and_bad_detach_keys_are_refused() {
    let s = api_server!();
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["sleep", "9999"]}),
    );
    assert_eq!(c.post("start").status, 204);
    for cmd in ["/no/such/thing", "/etc"] {
        let r = exec_create(
            &c,
            serde_json::json!({"Cmd": [cmd], "AttachStdout": true, "AttachStderr": true}),
        );
        assert_eq!(r.status, 201, "{r:?}");
        let id = json(&r)["Id"].as_str().unwrap().to_string();
        let r = call(
            &s,
            "POST",
            &format!("/exec/{id}/start"),
            Some(r#"{"Detach":false,"Tty":false}"#),
        );
        assert_eq!(r.status, 200, "{r:?}");
        let r = call(&s, "GET", &format!("/exec/{id}/json"), None);
        assert_eq!(json(&r)["ExitCode"], 126, "{cmd}: {r:?}");
    }
    for keys in ["ctrl-", "foo", "ctrl-p,", "ctrl-1"] {
        let r = exec_create(&c, serde_json::json!({"Cmd": ["true"], "DetachKeys": keys}));
        assert_eq!(r.status, 500, "{keys}: {r:?}");
        assert_eq!(
            json(&r)["message"],
            format!("Invalid escape keys ({keys}) provided")
        );
    }
    let r = exec_create(
        &c,
        serde_json::json!({"Cmd": ["true"], "DetachKeys": "ctrl-a,x"}),
    );
    assert_eq!(r.status, 201, "{r:?}");
}

/// A hijacked stream starts only once the client has read the `101` head: docker-py reads the
/// head with one buffered read and the stream from the socket under it, so output sent with
/// the head was lost (test_attach_no_stream: an attach with `logs=1` right after the container
/// ended answered nothing, a third of the time). dockerd only wins that race by being slower,
/// so this holds for berth alone.
#[test]
fn attach_stream_waits_for_the_head_to_be_read() {
    use std::io::{Read, Write};
    let s = api_server!();
    berth_e2e::api_berth_only!(s, "dockerd sends the stream right behind the head");
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["echo", "hello"]}),
    );
    assert_eq!(run_to_exit(&c), 0);
    let mut sock = std::os::unix::net::UnixStream::connect(&s.sock).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        sock,
        "POST /containers/{}/attach?logs=1&stream=0&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
        c.1
    )
    .unwrap();
    // a slow client: everything the server sends unasked is there by now
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut head = vec![0u8; 8192];
    let n = sock.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "the stream came with the head: {head:?}"
    );
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).unwrap();
    let out: Vec<u8> = berth_e2e::fidelity::frames(&rest)
        .into_iter()
        .flat_map(|(_, d)| d)
        .collect();
    assert_eq!(String::from_utf8_lossy(&out), "hello\n");
}

/// The ids of every container (`ps -a`).
fn container_ids(s: &ApiServer) -> std::collections::BTreeSet<String> {
    let r = call(s, "GET", "/containers/json?all=1", None);
    assert_eq!(r.status, 200, "{r:?}");
    json(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Id"].as_str().unwrap().to_string())
        .collect()
}

/// Removes the images a test tagged, even when it fails.
struct Tags<'a>(&'a ApiServer, Vec<&'static str>);

impl Drop for Tags<'_> {
    fn drop(&mut self) {
        for t in &self.1 {
            let _ = self.0.http("DELETE", &format!("/images/{t}?force=1"), None);
        }
    }
}

/// `POST /build` of `dockerfile` with `query`: the text of its stream messages, and the
/// containers it left (removed when the returned guards drop).
fn build<'a>(s: &'a ApiServer, dockerfile: &str, query: &str) -> (String, Vec<Ctr<'a>>) {
    build_of(s, &[("Dockerfile", dockerfile)], query)
}

/// [`build`] of a context of `files` (`(name, content)`, with the Dockerfile).
fn build_of<'a>(s: &'a ApiServer, files: &[(&str, &str)], query: &str) -> (String, Vec<Ctr<'a>>) {
    let before = container_ids(s);
    let tar = tar_of(files);
    let r = s
        .http_bytes(
            "POST",
            &format!("/build?{query}"),
            Some(("application/x-tar", &tar)),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let mut text = String::new();
    for line in r.text().lines().filter(|l| !l.trim().is_empty()) {
        let m: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        text.push_str(m["stream"].as_str().or(m["error"].as_str()).unwrap_or(""));
    }
    let left = container_ids(s)
        .difference(&before)
        .map(|id| Ctr(s, id.clone()))
        .collect();
    (text, left)
}

/// The legacy builder's `rm` (default true: the containers of the RUN steps that worked are
/// removed), `rm=0` (kept), `forcerm` (the failed step's too, which `rm` keeps), all settled
/// before the build answers; and `cachefrom`: a cached step counts only when its image is a
/// cache source or an ancestor of one (docker-py's test_build_with_cache_from).
#[test]
fn build_rm_forcerm_and_cache_from() {
    let s = api_server!();
    let _tags = Tags(&s, vec!["h16-build1:latest", "h16-build2:latest"]);
    let bb = s.busybox().to_string();
    let good = format!("FROM {bb}\nRUN echo a\nRUN echo b\n");
    let bad = format!("FROM {bb}\nRUN echo a\nRUN exit 3\n");
    let removing = |t: &str| t.matches("Removing intermediate container").count();
    for (df, query, left, removed) in [
        (&good, "nocache=1&rm=0", 2, 0),
        (&good, "nocache=1&rm=False", 2, 0),
        (&good, "nocache=1", 0, 2),
        (&good, "nocache=1&rm=0&forcerm=1", 0, 2),
        (&bad, "nocache=1", 1, 1),
        (&bad, "nocache=1&rm=0", 2, 0),
        (&bad, "nocache=1&forcerm=1", 0, 2),
    ] {
        let (text, kept) = build(&s, df, query);
        assert_eq!(kept.len(), left, "{query}: {text}");
        assert_eq!(removing(&text), removed, "{query}: {text}");
        for c in &kept {
            let st = &c.inspect()["State"];
            assert_eq!(st["Status"], "exited", "{query}: {st}");
        }
    }

    let df = format!("FROM {bb}\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n");
    let using_cache = |t: &str| t.matches("Using cache").count();
    let (text, _) = build(&s, &df, "t=h16-build1");
    assert!(
        text.contains("Successfully tagged h16-build1:latest"),
        "{text}"
    );
    let q = |from: &str| format!("t=h16-build2&cachefrom={}", from.replace('"', "%22"));
    let (text, _) = build(&s, &df, &q(r#"["h16-build1"]"#));
    assert_eq!(using_cache(&text), 3, "{text}");
    let (text, _) = build(&s, &df, &q(r#"["h16-nosuchtag"]"#));
    assert_eq!(using_cache(&text), 0, "{text}");
    // without cachefrom the local cache counts
    let (text, _) = build(&s, &df, "t=h16-build2");
    assert_eq!(using_cache(&text), 3, "{text}");
}

/// docker-py's `create_container(runtime="runc")` puts `Runtime` beside the config, not in
/// HostConfig: the container is runc's (dockerd ignores it there and runs its default, which
/// it names runc, so inspect says runc on both).
#[test]
fn runtime_beside_the_config_is_the_runtime() {
    let s = api_server!();
    if berth_e2e::api::which("runc").is_none() {
        eprintln!("SKIP: no runc on PATH");
        return;
    }
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["true"], "Runtime": "runc"}),
    );
    assert_eq!(c.inspect()["HostConfig"]["Runtime"], "runc");
    assert_eq!(run_to_exit(&c), 0);
}

/// An image that ships `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`: the container's
/// changes do not list them (dockerd's are bind mounts over its init layer), only what the
/// container did (docker-py's test_diff: `touch /test` is the one change).
#[test]
fn changes_do_not_list_the_files_the_engine_mounts() {
    let s = api_server!();
    let _tags = Tags(&s, vec!["h16-etc:latest"]);
    let df = format!("FROM {}\nCOPY etc /etc/\n", s.busybox());
    let files = [
        ("Dockerfile", df.as_str()),
        ("etc/hostname", "image\n"),
        ("etc/hosts", "127.0.0.1 localhost\n"),
        ("etc/resolv.conf", "nameserver 127.0.0.1\n"),
    ];
    let (text, _) = build_of(&s, &files, "t=h16-etc");
    assert!(
        text.contains("Successfully tagged h16-etc:latest"),
        "{text}"
    );
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": "h16-etc", "Cmd": ["touch", "/test"]}),
    );
    assert_eq!(run_to_exit(&c), 0);
    let r = call(&s, "GET", &format!("/containers/{}/changes", c.1), None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json(&r), serde_json::json!([{"Path": "/test", "Kind": 1}]));
}

/// Go reads JSON keys whatever their case: docker-py's `CPURealtimePeriod` and
/// `CPURealtimeRuntime` are the container's `CpuRealtimePeriod`/`CpuRealtimeRuntime`
/// (docker-py's test_create_with_cpu_rt_options), and a lower-case `hostconfig` is the
/// HostConfig. HostConfig settings berth cannot apply are refused at create, 400, naming
/// them; those meaning nothing here are accepted. (dockerd 20.10 accepts `UsernsMode`
/// "private" and `Cgroup` and ignores them, and fails a `DeviceRequests` only at start: the
/// refusals are berth's stricter rule, checked on berth only.)
#[test]
fn host_config_keys_any_case_and_settings_not_applied_refused() {
    let s = api_server!();
    let hc = serde_json::json!({"CPURealtimePeriod": 1000, "CPURealtimeRuntime": 500});
    let c = Ctr::create(
        &s,
        serde_json::json!({"Image": s.busybox(), "Cmd": ["true"], "HostConfig": hc}),
    );
    let h = &c.inspect()["HostConfig"];
    assert_eq!(h["CpuRealtimePeriod"], 1000, "{h}");
    assert_eq!(h["CpuRealtimeRuntime"], 500, "{h}");
    let c = Ctr::create(
        &s,
        serde_json::json!({"image": s.busybox(), "cmd": ["true"],
            "hostconfig": {"memory": 64 << 20, "UsernsMode": "host", "DeviceRequests": [],
                "StorageOpt": {}}}),
    );
    let h = &c.inspect()["HostConfig"];
    assert_eq!(h["Memory"], 64 << 20, "{h}");
    if !s.is_berth() {
        return;
    }
    for (hc, words) in [
        (serde_json::json!({"UsernsMode": "private"}), "USER NS mode"),
        (
            serde_json::json!({"DeviceRequests": [{"Driver": "nvidia", "Count": -1,
                "Capabilities": [["gpu"]]}]}),
            "could not select device driver \"nvidia\" with capabilities: [[gpu]]",
        ),
        (
            serde_json::json!({"StorageOpt": {"size": "1G"}}),
            "storage-opt",
        ),
        (serde_json::json!({"Cgroup": "container:abc"}), "Cgroup"),
        (serde_json::json!({"KernelMemory": 1 << 20}), "KernelMemory"),
        (serde_json::json!({"MaskedPaths": ["/x"]}), "MaskedPaths"),
    ] {
        let before = container_ids(&s);
        let body = serde_json::json!({"Image": s.busybox(), "HostConfig": hc});
        let r = call(&s, "POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(r.status, 400, "{hc}: {r:?}");
        assert!(
            json(&r)["message"].as_str().unwrap().contains(words),
            "{r:?}"
        );
        assert_eq!(container_ids(&s), before, "{hc}");
    }
}
