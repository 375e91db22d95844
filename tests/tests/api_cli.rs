//! The docker CLI (v28) through the Docker Engine API: `berth serve`, or a
//! private dockerd with `BERTH_TEST_ENGINE=docker` (the reference the suite is
//! validated against).  Every test starts its own server on its own socket and
//! state root (see `berth_e2e::api`), types what a user types and checks what
//! a user sees: exit codes, output, files, reachability.  Needs root.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use berth_e2e::api::{free_port, group_gid, group_name, ApiServer, ServerOptions};
use berth_e2e::cmd::Stdin;
use berth_e2e::{api_berth_only, api_server};
use serde_json::Value;

const SEC: Duration = Duration::from_secs(1);

/// A container that says `ready` once it traps SIGTERM (exit 0, printing
/// `got-term`) and USR1 (exit 42), then idles.
const TRAPPER: &str = "trap 'echo got-term; exit 0' TERM; trap 'exit 42' USR1; echo ready; \
                       while true; do sleep 0.1; done";

/// An httpd on port 80 serving `index.html` = TOKEN.
fn httpd_script(token: &str) -> String {
    format!("mkdir -p /www && echo {token} > /www/index.html && exec httpd -f -p 80 -h /www")
}

/// The columns of a table header (`CONTAINER ID   IMAGE ...`): split on runs
/// of two or more spaces.
fn header_columns(out: &str) -> Vec<String> {
    let first = out.lines().next().unwrap_or("");
    first
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The table line that mentions `needle`.
#[track_caller]
fn row<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .skip(1)
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in:\n{out}"))
}

fn lines(out: &str) -> Vec<String> {
    out.lines().map(|l| l.trim().to_string()).collect()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A busybox `sh` script that GETs `http://HOST/` with `nc` (Debian's static
/// busybox `wget` segfaults resolving names without glibc's NSS libraries in
/// the image), up to `tries` times 0.2 s apart, printing the body of a 200
/// answer; exit 1 if none came.
fn http_get_sh(host: &str, tries: u32) -> String {
    format!(
        "get() {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80 > /tmp/.resp 2>/dev/null \
         && grep -q '^HTTP/1.[01] 200' /tmp/.resp && tr -d '\\r' < /tmp/.resp | sed '1,/^$/d'; }}; \
         i=0; while [ $i -lt {tries} ]; do get && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
    )
}

/// curl http://127.0.0.1:PORT/ until it answers (or `timeout`); the body.
fn curl_until(s: &ApiServer, port: u16, timeout: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        let mut c = std::process::Command::new("curl");
        c.args(["-sS", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/"));
        let o = s.run(c, Stdin::Null, Duration::from_secs(10));
        if o.success() {
            return Some(o.stdout);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wait until `docker logs NAME` contains `needle`.
#[track_caller]
fn wait_logs(s: &ApiServer, name: &str, needle: &str) {
    let start = Instant::now();
    loop {
        let o = s.docker(&["logs", name]);
        if o.stdout.contains(needle) {
            return;
        }
        if start.elapsed() > 15 * SEC {
            panic!("`docker logs {name}` never showed {needle:?}: {o:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ping_version_and_info() {
    let s = api_server!();
    // The handshake every client starts with.
    let ping = s.http("GET", "/_ping", None).unwrap();
    assert_eq!(ping.status, 200, "{ping:?}");
    assert_eq!(ping.text(), "OK");
    let api = ping.header("api-version").unwrap_or("").to_string();
    assert!(
        api.starts_with("1.") && api[2..].parse::<u32>().is_ok(),
        "API-Version header: {ping:?}"
    );
    assert_eq!(ping.header("ostype"), Some("linux"), "{ping:?}");
    let head = s.http("HEAD", "/_ping", None).unwrap();
    assert_eq!(head.status, 200, "{head:?}");

    // docker version: the server part, and the client speaks the server's API.
    let v = s.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}}|{{.Server.Os}}|{{.Client.APIVersion}}|{{.Server.Version}}",
    ]);
    let f: Vec<&str> = v.trim().split('|').collect();
    assert_eq!(f.len(), 4, "{v}");
    assert_eq!(f[0], api, "server API version vs the ping header: {v}");
    assert_eq!(f[1], "linux", "{v}");
    assert_eq!(
        f[2], api,
        "the CLI did not negotiate the server's version: {v}"
    );
    assert!(!f[3].is_empty(), "{v}");
    let plain = s.docker_ok(&["version"]);
    assert!(
        plain.contains("Server:") && plain.contains("Engine:"),
        "{plain}"
    );

    // docker info: counts follow what runs.
    let info: Value = serde_json::from_str(&s.docker_ok(&["info", "--format", "{{json .}}"]))
        .expect("info is JSON");
    assert_eq!(info["OSType"], "linux", "{info}");
    assert_eq!(info["Containers"], 0, "{info}");
    assert!(
        info["ServerVersion"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{info}"
    );
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "info-c", bb, "sleep", "300"]);
    let out = s.docker_ok(&["info"]);
    for want in [
        "Containers: 1",
        "Running: 1",
        "Images: 1",
        "Server Version:",
    ] {
        assert!(out.contains(want), "`docker info` lacks {want:?}:\n{out}");
    }
}

#[test]
fn run_rm_output_stdin_and_exit_code() {
    let s = api_server!();
    let bb = s.busybox();
    let o = s.docker(&[
        "run",
        "--rm",
        "--name",
        "rm-me",
        "-e",
        "FOO=bar",
        bb,
        "sh",
        "-c",
        "echo out-$FOO; echo err-line >&2; exit 7",
    ]);
    assert_eq!(o.code, 7, "exit code of the container: {o:?}");
    assert_eq!(o.stdout, "out-bar\n", "{o:?}");
    assert!(o.stderr.contains("err-line"), "{o:?}");
    // --rm: gone once the CLI returned.
    let names = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.contains("rm-me"), "--rm left the container: {names}");

    let o = s.docker(&["run", "--rm", bb, "true"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");

    // -i: stdin reaches the container, EOF ends it.
    let o = s.docker_with(
        &["run", "--rm", "-i", bb, "tr", "a-z", "A-Z"],
        &[],
        Stdin::Data(b"hello stdin\n"),
        60 * SEC,
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "HELLO STDIN\n"), "{o:?}");

    // No command: the image's CMD (sh) reads the script from stdin.
    let o = s.docker_with(
        &["run", "--rm", "-i", bb],
        &[],
        Stdin::Data(b"echo from-default-cmd\nexit 3\n"),
        60 * SEC,
    );
    assert_eq!(o.code, 3, "{o:?}");
    assert_eq!(o.stdout, "from-default-cmd\n", "{o:?}");

    // Many lines, nothing lost between start and attach.
    let o = s.docker_ok(&["run", "--rm", bb, "seq", "1", "2000"]);
    assert_eq!(o.lines().count(), 2000, "output truncated");
    assert_eq!(o.lines().last(), Some("2000"));
}

#[test]
fn run_detached_ps_logs_stop_rm() {
    let s = api_server!();
    let bb = s.busybox();
    let id = s
        .docker_ok(&["run", "-d", "--name", "det", bb, "sh", "-c", TRAPPER])
        .trim()
        .to_string();
    assert!(is_hex64(&id), "run -d prints the full id: {id:?}");
    wait_logs(&s, "det", "ready");

    let ps = s.docker_ok(&["ps"]);
    assert_eq!(
        header_columns(&ps),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{ps}"
    );
    let r = row(&ps, "det");
    assert!(r.starts_with(&id[..12]), "short id first: {r}");
    assert!(r.contains(" busybox "), "image column: {r}");
    assert!(r.contains("\"sh -c 'trap"), "command column: {r}");
    assert!(r.contains(" Up "), "status column: {r}");
    assert!(r.trim_end().ends_with("det"), "names column last: {r}");
    assert_eq!(s.docker_ok(&["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(s.docker_ok(&["ps", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(
        s.docker_ok(&["ps", "--format", "{{.Names}} {{.Image}} {{.State}}"])
            .trim(),
        "det busybox running"
    );

    // stop: SIGTERM, which the container traps and exits 0 on.
    let t = Instant::now();
    assert_eq!(s.docker_ok(&["stop", "det"]).trim(), "det");
    assert!(
        t.elapsed() < 8 * SEC,
        "stop waited for the timeout: {:?}",
        t.elapsed()
    );
    assert!(s.docker_ok(&["logs", "det"]).contains("got-term"));
    let ps = s.docker_ok(&["ps"]);
    assert!(!ps.contains("det"), "stopped container in `ps`: {ps}");
    let psa = s.docker_ok(&["ps", "-a"]);
    assert!(row(&psa, "det").contains("Exited (0)"), "{psa}");
    assert_eq!(s.inspect_f("det", "{{.State.Status}}"), "exited");

    assert_eq!(s.docker_ok(&["rm", "det"]).trim(), "det");
    let psa = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!psa.contains("det"), "{psa}");
    let o = s.docker_fails(&["rm", "det"]);
    assert!(o.stderr.contains("No such container: det"), "{o:?}");
}

#[test]
fn ps_filters() {
    let s = api_server!();
    let bb = s.busybox();
    let make = |name: &str, labels: &[&str], cmd: &[&str], run: bool| {
        let mut a = vec![if run { "run" } else { "create" }, "--name", name];
        if run {
            a.push("-d");
        }
        for l in labels {
            a.push("-l");
            a.push(l);
        }
        a.push(bb);
        a.extend_from_slice(cmd);
        s.docker_ok(&a);
    };
    make("f-web", &["proj=x", "svc=web"], &["sleep", "300"], true);
    make("f-client", &["proj=x", "svc=client"], &["true"], false);
    make("f-other", &["proj=y"], &["true"], false);
    let names = |filters: &[&str]| {
        let mut a = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            a.push("--filter");
            a.push(f);
        }
        let mut v = lines(&s.docker_ok(&a));
        v.sort();
        v
    };
    assert_eq!(names(&["label=proj=x"]), ["f-client", "f-web"]);
    // Several label filters must all match (docker ANDs labels; compose
    // relies on it to number its containers).
    assert_eq!(names(&["label=proj=x", "label=svc=client"]), ["f-client"]);
    assert_eq!(names(&["label=proj"]), ["f-client", "f-other", "f-web"]);
    assert_eq!(
        names(&["label=proj=x", "label=svc=nope"]),
        Vec::<String>::new()
    );
    // Several values of another key: any may match.
    assert_eq!(names(&["name=f-web", "name=f-other"]), ["f-other", "f-web"]);
    assert_eq!(names(&["status=running"]), ["f-web"]);
    assert_eq!(names(&["status=created", "label=proj=x"]), ["f-client"]);
    let running = lines(&s.docker_ok(&["ps", "--format", "{{.Names}}"]));
    assert_eq!(running, ["f-web"], "ps without -a");
}

#[test]
fn logs_and_logs_follow_end_when_the_container_exits() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        bb,
        "sh",
        "-c",
        "echo one; echo two >&2; sleep 1; echo three; sleep 1; echo four",
    ]);
    let mut f = s.docker_bg(&["logs", "-f", "talker"]);
    f.wait_stdout(10 * SEC, "the first line", |o| o.contains("one"));
    let code = f.wait_code(20 * SEC);
    assert_eq!(
        code,
        Some(0),
        "logs -f must end (exit 0) when the container exits; stdout {:?} stderr {:?}",
        f.stdout(),
        f.stderr()
    );
    assert_eq!(lines(&f.stdout()), ["one", "three", "four"]);
    assert!(f.stderr().contains("two"), "stderr line: {:?}", f.stderr());

    // Plain logs, split by stream; --tail.
    let o = s.docker(&["logs", "talker"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(lines(&o.stdout), ["one", "three", "four"], "{o:?}");
    assert_eq!(o.stderr.trim(), "two", "{o:?}");
    let o = s.docker(&["logs", "--tail", "1", "talker"]);
    assert_eq!(o.stdout.trim(), "four", "{o:?}");
    // -f on an exited container prints everything and returns at once.
    let o = s.docker(&["logs", "-f", "talker"]);
    assert_eq!(lines(&o.stdout), ["one", "three", "four"], "{o:?}");
    assert!(o.elapsed < 10 * SEC, "{o:?}");
}

#[test]
fn exec_exit_codes_env_stdin_and_tty() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "ex", bb, "sleep", "300"]);

    let o = s.docker(&["exec", "ex", "sh", "-c", "exit 3"]);
    assert_eq!(o.code, 3, "exec exit code: {o:?}");
    let o = s.docker(&["exec", "ex", "sh", "-c", "echo to-out; echo to-err >&2"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "to-out\n"), "{o:?}");
    assert!(o.stderr.contains("to-err"), "{o:?}");
    assert_eq!(
        s.docker_ok(&["exec", "-e", "XV=42", "ex", "sh", "-c", "echo $XV"])
            .trim(),
        "42"
    );
    assert_eq!(
        s.docker_ok(&["exec", "-w", "/tmp", "ex", "pwd"]).trim(),
        "/tmp"
    );
    assert_eq!(
        s.docker_ok(&["exec", "-u", "1000", "ex", "id", "-u"])
            .trim(),
        "1000"
    );
    let o = s.docker_with(
        &["exec", "-i", "ex", "cat"],
        &[],
        Stdin::Data(b"piped-in\n"),
        30 * SEC,
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, "piped-in\n"), "{o:?}");
    // docker 20.10 exits 126 here; newer dockers exit 127 (as `run` does).
    let o = s.docker(&["exec", "ex", "no-such-binary"]);
    assert!(o.code == 126 || o.code == 127, "missing executable: {o:?}");

    // -it on a terminal: a tty inside, and the shell's exit code out.
    let o = s.docker_pty(
        &["exec", "-it", "ex", "sh"],
        b"echo tty-$((6*7)); tty; exit 4\n",
        30 * SEC,
    );
    assert_eq!(o.code, 4, "exec -it exit code: {o:?}");
    assert!(o.stdout.contains("tty-42"), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "no tty inside: {o:?}");

    s.docker_ok(&["kill", "ex"]);
    let o = s.docker_fails(&["exec", "ex", "true"]);
    assert!(o.stderr.contains("is not running"), "{o:?}");
}

/// The API's exec runs in the engine's typed `__exec` helper, never by re-running the CLI's
/// public `berth exec` (issue 15): while an exec runs, the server's root has an `__exec`
/// process and no `exec` command line. What the user sees (exit codes, arguments that look like
/// flags, a user, `-t` without `-i`) is validated against dockerd with BERTH_TEST_ENGINE=docker,
/// where the process check is skipped.
#[test]
fn exec_runs_through_the_engine_helper() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "hx", bb, "sleep", "300"]);

    let mut bg = s.docker_bg(&["exec", "hx", "sh", "-c", "touch /tmp/started; sleep 60"]);
    let started = berth_e2e::api::wait_until(30 * SEC, || {
        s.docker(&["exec", "hx", "test", "-f", "/tmp/started"]).code == 0
    });
    assert!(started, "the background exec never ran");
    if s.is_berth() {
        let root = s.root.display().to_string();
        let helpers = berth_e2e::engine::pids_with_cmdline(&format!("{root} __exec "));
        assert!(!helpers.is_empty(), "no __exec helper while an exec runs");
        let public = berth_e2e::engine::pids_with_cmdline(&format!("{root} exec "));
        assert!(public.is_empty(), "the API re-ran `berth exec`: {public:?}");
    }
    bg.kill();

    let o = s.docker(&["exec", "hx", "sh", "-c", "exit 7"]);
    assert_eq!(o.code, 7, "exec exit code: {o:?}");
    // arguments that look like flags belong to the command
    assert_eq!(
        s.docker_ok(&["exec", "hx", "echo", "-u", "--", "-t"]),
        "-u -- -t\n"
    );
    assert_eq!(
        s.docker_ok(&["exec", "-u", "1000:1000", "hx", "id", "-g"])
            .trim(),
        "1000"
    );
    // -t without -i: a terminal inside, nothing read from ours, the exit code out
    let o = s.docker_pty(
        &["exec", "-t", "hx", "sh", "-c", "tty; exit 5"],
        b"",
        30 * SEC,
    );
    assert_eq!(o.code, 5, "exec -t exit code: {o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "no tty inside: {o:?}");
}

#[test]
fn run_it_through_a_pty() {
    let s = api_server!();
    let bb = s.busybox();
    let o = s.docker_pty(
        &["run", "-it", "--rm", "--name", "ttyc", bb, "sh"],
        b"echo in-$((2+3)); tty; exit 5\n",
        30 * SEC,
    );
    assert_eq!(o.code, 5, "run -it exit code: {o:?}");
    assert!(o.stdout.contains("in-5"), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "no tty inside: {o:?}");
    let names = s.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.contains("ttyc"), "--rm left the container: {names}");
    // A TTY container's logs are the raw terminal stream.
    s.docker_ok(&["run", "-t", "--name", "ttylog", bb, "echo", "tty-log"]);
    let o = s.docker_ok(&["logs", "ttylog"]);
    assert_eq!(o, "tty-log\r\n", "tty output keeps its CRLF");
}

#[test]
fn kill_wait_and_rm_force() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "sig", bb, "sh", "-c", TRAPPER]);
    wait_logs(&s, "sig", "ready");
    assert_eq!(s.docker_ok(&["kill", "-s", "USR1", "sig"]).trim(), "sig");
    assert_eq!(s.docker_ok(&["wait", "sig"]).trim(), "42");
    assert_eq!(s.inspect_f("sig", "{{.State.ExitCode}}"), "42");
    let o = s.docker_fails(&["kill", "sig"]);
    assert!(o.stderr.contains("is not running"), "{o:?}");

    s.docker_ok(&["run", "-d", "--name", "victim", bb, "sleep", "300"]);
    s.docker_ok(&["kill", "victim"]);
    assert_eq!(s.docker_ok(&["wait", "victim"]).trim(), "137");
    let psa = s.docker_ok(&["ps", "-a"]);
    assert!(row(&psa, "victim").contains("Exited (137)"), "{psa}");

    s.docker_ok(&["run", "-d", "--name", "busy", bb, "sleep", "300"]);
    let pid: i32 = s.inspect_f("busy", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let o = s.docker_fails(&["rm", "busy"]);
    assert!(o.stderr.contains("running"), "{o:?}");
    assert_eq!(s.docker_ok(&["rm", "-f", "busy"]).trim(), "busy");
    let o = s.docker_fails(&["inspect", "busy"]);
    assert!(o.stderr.contains("No such object"), "{o:?}");
    assert!(
        berth_e2e::api::wait_until(5 * SEC, || !berth_e2e::engine::pid_alive(pid)),
        "the container's process {pid} survived rm -f"
    );
}

#[test]
fn inspect_fields_format_and_missing_objects() {
    let s = api_server!();
    let bb = s.busybox();
    let id = s
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "insp",
            "-e",
            "FOO=bar",
            "-l",
            "e2e.label=yes",
            bb,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let v = s.inspect("insp");
    assert_eq!(v["Id"], id.as_str(), "{v}");
    assert_eq!(v["Name"], "/insp");
    assert_eq!(v["Config"]["Image"], "busybox");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sleep", "300"]));
    assert!(
        v["Config"]["Env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "FOO=bar")),
        "{v}"
    );
    assert_eq!(v["Config"]["Labels"]["e2e.label"], "yes");
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["State"]["Running"], true);
    assert!(
        v["Image"]
            .as_str()
            .is_some_and(|i| i.starts_with("sha256:")),
        "{v}"
    );
    assert!(
        v["Created"].as_str().is_some_and(|c| c.contains('T')),
        "{v}"
    );
    assert!(
        v["HostConfig"].is_object() && v["NetworkSettings"].is_object(),
        "{v}"
    );
    assert!(v["Mounts"].is_array(), "{v}");
    // The pid is the container's process on the host.
    let pid = v["State"]["Pid"].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert_eq!(cmdline, b"sleep\x00300\x00", "State.Pid {pid}");

    assert_eq!(
        s.inspect_f(
            "insp",
            "{{.State.Status}} {{.Config.Image}} {{index .Config.Labels \"e2e.label\"}}"
        ),
        "running busybox yes"
    );
    assert_eq!(
        s.inspect_f("insp", "{{json .Config.Cmd}}"),
        r#"["sleep","300"]"#
    );
    assert_eq!(
        s.docker_ok(&["container", "inspect", "--format", "{{.Name}}", &id[..12]])
            .trim(),
        "/insp",
        "lookup by id prefix"
    );

    let img = s.docker_ok(&["image", "inspect", "busybox"]);
    let img: Value = serde_json::from_str(&img).unwrap();
    let img = &img[0];
    assert!(
        img["Id"].as_str().is_some_and(|i| i.starts_with("sha256:")),
        "{img}"
    );
    assert_eq!(img["Id"], v["Image"], "the container's image");
    assert_eq!(img["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Os"], "linux");

    let o = s.docker(&["inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such object: nosuch"), "{o:?}");
    let o = s.docker(&["image", "inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = s.docker(&["container", "inspect", "nosuch"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
}

#[test]
fn publish_port_reaches_the_container() {
    let s = api_server!();
    let bb = s.busybox();
    let port = free_port();
    let p = format!("{port}:80");
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &p,
        bb,
        "sh",
        "-c",
        &httpd_script("published-ok"),
    ]);
    let body = curl_until(&s, port, 15 * SEC);
    assert_eq!(
        body.as_deref(),
        Some("published-ok\n"),
        "curl http://127.0.0.1:{port}/ via -p {p}"
    );
    let o = s.docker_ok(&["port", "web"]);
    assert!(
        o.lines().any(|l| l == format!("80/tcp -> 0.0.0.0:{port}")),
        "docker port: {o}"
    );
    let ports = s.docker_ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(
        ports.contains(&format!("0.0.0.0:{port}->80/tcp")),
        "ps PORTS: {ports}"
    );
    assert_eq!(
        s.inspect_f(
            "web",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}"
        ),
        port.to_string()
    );
    s.docker_ok(&["rm", "-f", "web"]);
    assert!(
        berth_e2e::api::wait_until(10 * SEC, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        }),
        "port {port} still open after rm -f"
    );
}

#[test]
fn volumes_named_and_bind_mounts() {
    let s = api_server!();
    let bb = s.busybox();
    assert_eq!(s.docker_ok(&["volume", "create", "data1"]).trim(), "data1");
    let ls = s.docker_ok(&["volume", "ls"]);
    assert_eq!(header_columns(&ls), ["DRIVER", "VOLUME NAME"], "{ls}");
    assert!(row(&ls, "data1").starts_with("local"), "{ls}");
    let v = s.inspect("data1");
    assert_eq!(v["Name"], "data1");
    assert_eq!(v["Driver"], "local");
    let mp = v["Mountpoint"].as_str().unwrap().to_string();

    s.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "data1:/data",
        bb,
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    assert_eq!(
        s.docker_ok(&["run", "--rm", "-v", "data1:/data", bb, "cat", "/data/f"]),
        "persisted\n"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{mp}/f")).unwrap_or_default(),
        "persisted\n",
        "the volume's Mountpoint on the host"
    );

    // Bind mounts, read-write and read-only.
    let dir = s.path().join("bind");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in"), "from-host\n").unwrap();
    let b = format!("{}:/b", dir.display());
    let o = s.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &b,
        bb,
        "sh",
        "-c",
        "cat /b/in; echo from-container > /b/out",
    ]);
    assert_eq!(o, "from-host\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out")).unwrap(),
        "from-container\n"
    );
    let ro = format!("{}:/b:ro", dir.display());
    let o = s.docker(&["run", "--rm", "-v", &ro, bb, "sh", "-c", "echo x > /b/nope"]);
    assert_ne!(o.code, 0, "write to a :ro bind succeeded: {o:?}");
    assert!(!dir.join("nope").exists());

    // In use: refused; then removed.
    s.docker_ok(&[
        "create",
        "--name",
        "holder",
        "-v",
        "data1:/data",
        bb,
        "true",
    ]);
    let o = s.docker_fails(&["volume", "rm", "data1"]);
    assert!(o.stderr.contains("in use"), "{o:?}");
    s.docker_ok(&["rm", "holder"]);
    assert_eq!(s.docker_ok(&["volume", "rm", "data1"]).trim(), "data1");
    let names = s.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(!names.contains("data1"), "{names}");
    let o = s.docker_fails(&["volume", "inspect", "data1"]);
    assert!(o.stderr.contains("no such volume"), "{o:?}");
}

#[test]
fn networks_by_name_connect_disconnect() {
    let s = api_server!();
    let bb = s.busybox();
    let id = s
        .docker_ok(&["network", "create", "e2enet"])
        .trim()
        .to_string();
    assert!(is_hex64(&id), "network create prints the id: {id}");
    let ls = s.docker_ok(&["network", "ls"]);
    assert_eq!(
        header_columns(&ls),
        ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
        "{ls}"
    );
    let r = row(&ls, "e2enet");
    assert!(
        r.starts_with(&id[..12]) && r.contains("bridge") && r.contains("local"),
        "{ls}"
    );
    let v = s.inspect("e2enet");
    assert_eq!(v["Name"], "e2enet");
    assert_eq!(v["Driver"], "bridge");
    assert!(
        v["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .is_some_and(|x| x.contains('/')),
        "{v}"
    );

    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "e2enet",
        bb,
        "sh",
        "-c",
        &httpd_script("srv-ok"),
    ]);
    // Reachable by name from another container on the network.
    let fetch = http_get_sh("srv", 50);
    let fetch = fetch.as_str();
    let o = s.docker(&["run", "--rm", "--network", "e2enet", bb, "sh", "-c", fetch]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "srv-ok\n"), "{o:?}");

    // A container on the default bridge cannot, until connected.
    s.docker_ok(&["run", "-d", "--name", "outsider", bb, "sleep", "300"]);
    let once_sh = http_get_sh("srv", 1);
    let once = ["exec", "outsider", "sh", "-c", once_sh.as_str()];
    let o = s.docker(&once);
    assert_ne!(o.code, 0, "reached srv before being connected: {o:?}");
    s.docker_ok(&["network", "connect", "e2enet", "outsider"]);
    let o = s.docker(&["exec", "outsider", "sh", "-c", fetch]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "srv-ok\n"), "{o:?}");
    let nets = s.inspect_f("outsider", "{{json .NetworkSettings.Networks}}");
    let nets: Value = serde_json::from_str(&nets).unwrap();
    assert!(
        nets.get("e2enet").is_some() && nets.get("bridge").is_some(),
        "{nets}"
    );
    let members = s.inspect_f("e2enet", "{{range .Containers}}{{.Name}} {{end}}");
    assert!(
        members.contains("outsider") && members.contains("srv"),
        "network inspect .Containers: {members}"
    );

    s.docker_ok(&["network", "disconnect", "e2enet", "outsider"]);
    let o = s.docker(&once);
    assert_ne!(o.code, 0, "reached srv after disconnect: {o:?}");
    let nets = s.inspect_f("outsider", "{{json .NetworkSettings.Networks}}");
    assert!(!nets.contains("e2enet"), "{nets}");

    // In use: refused; then removed.
    let o = s.docker_fails(&["network", "rm", "e2enet"]);
    assert!(o.stderr.contains("active endpoints"), "{o:?}");
    s.docker_ok(&["rm", "-f", "srv"]);
    assert_eq!(s.docker_ok(&["network", "rm", "e2enet"]).trim(), "e2enet");
    let ls = s.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.contains("e2enet"), "{ls}");
    let o = s.docker_fails(&["network", "inspect", "e2enet"]);
    assert!(o.stderr.contains("e2enet"), "{o:?}");
}

#[test]
fn images_tag_rmi_save_and_load() {
    let s = api_server!();
    let bb = s.busybox();
    let imgs = s.docker_ok(&["images"]);
    assert_eq!(
        header_columns(&imgs),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{imgs}"
    );
    let id = s.inspect_f(bb, "{{.Id}}");
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let r = row(&imgs, "busybox");
    assert!(
        r.starts_with("busybox") && r.contains("latest") && r.contains(short),
        "{imgs}"
    );

    s.docker_ok(&["tag", bb, "e2e/copy:1"]);
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        list.lines().any(|l| l == format!("e2e/copy:1 {short}")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l == format!("busybox:latest {short}")),
        "{list}"
    );

    // save -o / rmi / load -i
    let tar = s.path().join("copy.tar");
    s.docker_ok(&["save", "-o", tar.to_str().unwrap(), "e2e/copy:1"]);
    let members = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    let members = String::from_utf8_lossy(&members.stdout);
    assert!(members.lines().any(|l| l == "manifest.json"), "{members}");
    let o = s.docker_ok(&["rmi", "e2e/copy:1"]);
    assert!(o.contains("Untagged: e2e/copy:1"), "{o}");
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&list), ["busybox:latest"], "busybox must survive");
    let o = s.docker_ok(&["load", "-i", tar.to_str().unwrap()]);
    assert!(o.contains("Loaded image: e2e/copy:1"), "{o}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", "e2e/copy:1", "echo", "loaded"]),
        "loaded\n"
    );

    // save | load through pipes, into a fresh name.
    s.docker_ok(&["tag", bb, "e2e/piped:2"]);
    let mut sh = s.command("sh");
    sh.args([
        "-c",
        "docker save e2e/piped:2 > piped.tar && docker rmi e2e/piped:2 >/dev/null && docker load < piped.tar",
    ]);
    let o = s.run(sh, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains("Loaded image: e2e/piped:2"), "{o:?}");
    assert_eq!(
        s.inspect_f("e2e/piped:2", "{{.Id}}"),
        id,
        "same image id after the round trip"
    );

    // rmi by id with several tags needs -f; unknown images fail.
    let o = s.docker_fails(&["rmi", "nosuch-image:1"]);
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = s.docker_fails(&["rmi", short]);
    assert!(o.stderr.contains("must be forced"), "{o:?}");
    let o = s.docker_ok(&["rmi", "e2e/copy:1", "e2e/piped:2"]);
    assert!(o.contains("Untagged: e2e/piped:2"), "{o}");
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&list), ["busybox:latest"]);
}

#[test]
fn build_with_the_legacy_builder() {
    let s = api_server!();
    s.busybox();
    let ctx = s.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("msg.txt"), "from-context\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         ENV GREETING=hello-build\n\
         COPY msg.txt /opt/msg.txt\n\
         RUN echo \"built-$GREETING\" > /opt/built.txt && cat /opt/msg.txt >> /opt/built.txt\n\
         WORKDIR /opt\n\
         CMD [\"sh\", \"-c\", \"cat built.txt; echo $GREETING\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("Failing.Dockerfile"), "FROM busybox\nRUN exit 9\n").unwrap();
    let legacy = [("DOCKER_BUILDKIT", "0")];
    let o = s.docker_with(
        &["build", "-t", "e2e-built:1", ctx.to_str().unwrap()],
        &legacy,
        Stdin::Null,
        120 * SEC,
    );
    assert!(o.success(), "{o:?}");
    for want in [
        "Step 1/6 : FROM busybox",
        "Step 4/6 : RUN",
        "Successfully built ",
        "Successfully tagged e2e-built:1",
    ] {
        assert!(
            o.stdout.contains(want),
            "build output lacks {want:?}: {o:?}"
        );
    }
    assert_eq!(
        s.docker_ok(&["run", "--rm", "e2e-built:1"]),
        "built-hello-build\nfrom-context\nhello-build\n"
    );
    let v = s.inspect("e2e-built:1");
    assert_eq!(v["Config"]["WorkingDir"], "/opt");
    assert!(
        v["Config"]["Env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "GREETING=hello-build")),
        "{v}"
    );
    let list = s.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(list.lines().any(|l| l == "e2e-built:1"), "{list}");

    // A failing RUN fails the build with the step's exit code.
    let o = s.docker_with(
        &[
            "build",
            "-t",
            "e2e-fail:1",
            "-f",
            ctx.join("Failing.Dockerfile").to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        &legacy,
        Stdin::Null,
        120 * SEC,
    );
    assert_ne!(o.code, 0, "{o:?}");
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("returned a non-zero code: 9"),
        "{o:?}"
    );
    let o = s.docker(&["image", "inspect", "e2e-fail:1"]);
    assert_ne!(o.code, 0, "a failed build tagged its image: {o:?}");
}

#[test]
fn pull_and_push_with_a_local_registry() {
    let s = api_server!();
    let bb = s.busybox();
    let reg = berth_e2e::api::Registry::start(&s.path().join("registry"));
    let r = format!("{}/e2e/busybox:v1", reg.addr);
    s.docker_ok(&["tag", bb, &r]);
    let o = s.docker(&["push", &r]);
    assert!(o.success(), "{o:?}");
    let digest = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("push output lacks `v1: digest: ...`: {o:?}"))
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // The registry really has it (skopeo, not the server, looks).
    let mut sk = std::process::Command::new("skopeo");
    sk.args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{r}"));
    let o = s.run(sk, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    let si: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(si["Digest"], digest.as_str(), "{si}");

    // Forget it locally, pull it back, run it.
    s.docker_ok(&["rmi", &r]);
    let o = s.docker(&["image", "inspect", &r]);
    assert_ne!(o.code, 0, "{o:?}");
    let o = s.docker(&["pull", &r]);
    assert!(o.success(), "{o:?}");
    assert!(o.stdout.contains(&r), "{o:?}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", &r, "echo", "pulled"]),
        "pulled\n"
    );
    let digests = s.inspect_f(&r, "{{json .RepoDigests}}");
    assert!(
        digests.contains(&digest),
        "RepoDigests {digests} lacks {digest}"
    );

    // An image another tool put there: pull by name and run.
    let other = format!("{}/e2e/other:v2", reg.addr);
    let mut sk = std::process::Command::new("skopeo");
    sk.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{r}"))
        .arg(format!("docker://{other}"));
    let o = s.run(sk, Stdin::Null, 60 * SEC);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        s.docker_ok(&["run", "--rm", &other, "echo", "via-skopeo"]),
        "via-skopeo\n",
        "run pulls a missing image"
    );

    // Not in the registry: a clean failure.
    let missing = format!("{}/e2e/nosuch:v1", reg.addr);
    let o = s.docker(&["pull", &missing]);
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("e2e/nosuch"), "{o:?}");
}

#[test]
fn stats_no_stream() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "statme", bb, "sleep", "300"]);
    let o = s.docker_with(&["stats", "--no-stream"], &[], Stdin::Null, 30 * SEC);
    assert!(o.success(), "{o:?}");
    assert_eq!(
        header_columns(&o.stdout),
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{o:?}"
    );
    let r = row(&o.stdout, "statme");
    assert!(r.trim_end().ends_with(" 1"), "one process (PIDS 1): {r}");
    let o = s.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.PIDs}}|{{.MemUsage}}",
        "statme",
    ]);
    let f: Vec<&str> = o.trim().split('|').collect();
    assert_eq!(f[..2], ["statme", "1"], "{o}");
    let usage = f[2].split(" / ").next().unwrap_or("");
    assert!(
        !usage.is_empty() && usage != "0B",
        "memory usage of a running container: {o}"
    );
}

#[test]
fn cp_both_ways() {
    let s = api_server!();
    let bb = s.busybox();
    s.docker_ok(&["run", "-d", "--name", "cpc", bb, "sleep", "300"]);
    let host_in = s.path().join("in.txt");
    std::fs::write(&host_in, "to-container\n").unwrap();
    s.docker_ok(&["cp", host_in.to_str().unwrap(), "cpc:/tmp/in.txt"]);
    assert_eq!(
        s.docker_ok(&["exec", "cpc", "cat", "/tmp/in.txt"]),
        "to-container\n"
    );

    s.docker_ok(&[
        "exec",
        "cpc",
        "sh",
        "-c",
        "mkdir -p /tmp/d/sub && echo deep > /tmp/d/sub/f",
    ]);
    let out = s.path().join("out");
    s.docker_ok(&["cp", "cpc:/tmp/d", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("sub/f")).unwrap_or_default(),
        "deep\n",
        "directory copied out"
    );

    let o = s.docker_fails(&["cp", "cpc:/nope", s.path().join("x").to_str().unwrap()]);
    assert!(o.stderr.contains("/nope"), "{o:?}");

    // A stopped container's files can still be copied out.
    s.docker_ok(&["kill", "cpc"]);
    let back = s.path().join("back.txt");
    s.docker_ok(&["cp", "cpc:/tmp/in.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "to-container\n");
}

#[test]
fn errors_are_reported_cleanly() {
    let s = api_server!();
    let bb = s.busybox();
    // A missing image and no registry to pull it from.
    let o = s.docker(&["run", "--rm", "e2e-nosuch-image:latest", "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr
            .contains("Unable to find image 'e2e-nosuch-image:latest' locally"),
        "{o:?}"
    );
    assert!(o.stderr.contains("Error response from daemon"), "{o:?}");
    assert!(o.elapsed < 30 * SEC, "took {:?}", o.elapsed);
    let closed = format!("127.0.0.1:{}/e2e/nosuch:1", free_port());
    let o = s.docker(&["run", "--rm", &closed, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("Error response from daemon"), "{o:?}");
    let o = s.docker(&["pull", "e2e-nosuch-image"]);
    assert_eq!(o.code, 1, "{o:?}");
    let psa = s.docker_ok(&["ps", "-aq"]);
    assert_eq!(psa.trim(), "", "failed runs left containers");

    for args in [
        &["rm", "nosuch"][..],
        &["logs", "nosuch"],
        &["exec", "nosuch", "true"],
        &["stop", "nosuch"],
        &["start", "nosuch"],
    ] {
        let o = s.docker(args);
        assert_eq!(o.code, 1, "{o:?}");
        assert!(o.stderr.contains("No such container: nosuch"), "{o:?}");
    }

    // Name conflicts.
    s.docker_ok(&["create", "--name", "dup", bb, "true"]);
    let o = s.docker(&["run", "--name", "dup", bb, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(o.stderr.contains("is already in use"), "{o:?}");
    // A command that does not exist in the image.
    let o = s.docker(&["run", "--rm", bb, "no-such-binary"]);
    assert_eq!(o.code, 127, "{o:?}");
}

#[test]
fn socket_is_0660_root_and_group_berth() {
    let s = api_server!();
    let meta = std::fs::metadata(&s.sock).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.uid(), 0, "socket owner");
    assert_eq!(
        group_name(meta.gid()).as_deref(),
        Some("berth"),
        "socket group"
    );
}

#[test]
fn socket_group_override_and_access_control() {
    let group = format!("e2eg{}", std::process::id() % 100000);
    let s = api_server!(ServerOptions {
        group: Some(group.clone()),
    });
    let gid = group_gid(&group).expect("the server made its --group");
    let meta = std::fs::metadata(&s.sock).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.gid(), gid, "socket group");
    let as_nobody = |groups: &[&str]| {
        let mut c = s.command("setpriv");
        c.args(["--reuid=65534", "--regid=65534"])
            .args(groups)
            .args(["docker", "-H", &s.host, "ps"]);
        s.run(c, Stdin::Null, 30 * SEC)
    };
    let o = as_nobody(&["--clear-groups"]);
    assert_ne!(o.code, 0, "a user outside the group got in: {o:?}");
    assert!(o.stderr.contains("permission denied"), "{o:?}");
    let g = format!("--groups={gid}");
    let o = as_nobody(&[&g]);
    assert!(o.success(), "a member of the group was refused: {o:?}");
    assert!(o.stdout.starts_with("CONTAINER ID"), "{o:?}");
}

#[test]
fn berth_cli_and_api_share_containers() {
    let s = api_server!();
    api_berth_only!(s, "the berth CLI on the server's own root");
    let bb = s.busybox();
    s.berth_ok(&["run", "-d", "--name", "from-cli", bb, "sleep", "300"]);
    let names = s.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        names.lines().any(|l| l == "from-cli running"),
        "a container started by `berth run -d` is missing from `docker ps`: {names}"
    );
    s.docker_ok(&["run", "-d", "--name", "from-api", bb, "sleep", "300"]);
    let ps = s.berth_ok(&["ps"]);
    assert!(
        ps.contains("from-api"),
        "a container started by `docker run -d` is missing from `berth ps`: {ps}"
    );
    assert_eq!(s.docker_ok(&["exec", "from-cli", "echo", "x"]), "x\n");
    assert_eq!(s.berth_ok(&["exec", "from-api", "echo", "y"]), "y\n");
    s.docker_ok(&["rm", "-f", "from-cli"]);
    let psa = s.berth_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!psa.contains("from-cli"), "{psa}");
}
