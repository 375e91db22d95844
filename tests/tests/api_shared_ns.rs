//! `--ipc`, `--pid` and `--network` `container:X` through the docker CLI: the joiner shares
//! the other container's namespaces (a process seen across the PID namespace, shared memory
//! across the IPC one, the network's hostname and /etc files), and is refused with dockerd's
//! words when the other one is missing, stopped, or (IPC) not shareable. Each test runs on
//! its own `berth serve` (or a private dockerd with `BERTH_TEST_ENGINE=docker`, the reference).

use berth_e2e::api::ApiServer;
use berth_e2e::api_server;

/// Removes the named containers, even when the test fails.
struct Names<'a>(&'a ApiServer, Vec<String>);

impl Names<'_> {
    fn name(&mut self, what: &str) -> String {
        let n = format!("shns-{what}-{}", std::process::id());
        self.1.push(n.clone());
        n
    }
}

impl Drop for Names<'_> {
    fn drop(&mut self) {
        for n in &self.1 {
            let _ = self.0.docker(&["rm", "-f", n]);
        }
    }
}

#[test]
fn pid_and_ipc_of_another_container() {
    let s = api_server!();
    let bb = s.busybox().to_string();
    let mut names = Names(&s, vec![]);
    let donor = names.name("donor");
    s.docker_ok(&[
        "run",
        "-d",
        "--name",
        &donor,
        "--ipc",
        "shareable",
        &bb,
        "sh",
        "-c",
        "echo shared > /dev/shm/mark; exec sleep 600",
    ]);
    let donor_ipc = s.docker_ok(&["exec", &donor, "readlink", "/proc/self/ns/ipc"]);
    let donor_pid = s.docker_ok(&["exec", &donor, "readlink", "/proc/self/ns/pid"]);

    // the donor's process is seen from the joiner's PID namespace
    let pid = format!("container:{donor}");
    let ps = s.docker_ok(&["run", "--rm", "--pid", &pid, &bb, "ps", "-o", "pid,args"]);
    assert!(
        ps.lines().any(|l| l.trim() == "1 sleep 600"),
        "the donor's init is not pid 1 of the joiner: {ps}"
    );
    let ns = s.docker_ok(&[
        "run",
        "--rm",
        "--pid",
        &pid,
        &bb,
        "readlink",
        "/proc/self/ns/pid",
    ]);
    assert_eq!(ns, donor_pid);

    // the donor's IPC namespace and its /dev/shm
    let ipc = format!("container:{donor}");
    let out = s.docker_ok(&[
        "run",
        "--rm",
        "--ipc",
        &ipc,
        &bb,
        "sh",
        "-c",
        "cat /dev/shm/mark; readlink /proc/self/ns/ipc; echo back > /dev/shm/answer",
    ]);
    assert_eq!(out, format!("shared\n{donor_ipc}"));
    assert_eq!(
        s.docker_ok(&["exec", &donor, "cat", "/dev/shm/answer"]),
        "back\n"
    );
}

#[test]
fn joining_a_missing_stopped_or_private_container_is_refused() {
    let s = api_server!();
    let bb = s.busybox().to_string();
    let mut names = Names(&s, vec![]);
    let private = names.name("private");
    s.docker_ok(&["run", "-d", "--name", &private, &bb, "sleep", "600"]);
    let private_id = s.inspect_f(&private, "{{.Id}}").trim().to_string();
    let stopped = names.name("stopped");
    s.docker_ok(&["create", "--name", &stopped, &bb, "true"]);
    let stopped_id = s.inspect_f(&stopped, "{{.Id}}").trim().to_string();

    let err = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend([bb.as_str(), "true"]);
        s.docker_fails(&a).stderr
    };
    let e = err(&["--ipc", &format!("container:{private}")]);
    assert!(
        e.contains(&format!("can't join IPC of container {private_id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)")),
        "{e}"
    );
    let e = err(&["--ipc", &format!("container:{stopped}")]);
    assert!(
        e.contains(&format!(
            "can't join IPC of container {stopped_id}: container {stopped_id} is not running"
        )),
        "{e}"
    );
    let e = err(&["--pid", &format!("container:{stopped}")]);
    assert!(
        e.contains(&format!("container {stopped_id} is not running")),
        "{e}"
    );
    let e = err(&["--network", &format!("container:{stopped}")]);
    assert!(
        e.contains(&format!(
            "cannot join network of a non running container: {stopped_id}"
        )),
        "{e}"
    );
    for flag in ["--ipc", "--pid"] {
        let e = err(&[flag, "container:shns-nosuch"]);
        assert!(e.contains("No such container: shns-nosuch"), "{flag}: {e}");
    }
}

/// `--network container:X`: X's hostname, /etc/hosts and resolv.conf, and inspect shows them.
#[test]
fn network_of_another_container() {
    let s = api_server!();
    let bb = s.busybox().to_string();
    let mut names = Names(&s, vec![]);
    let donor = names.name("net");
    s.docker_ok(&["run", "-d", "--name", &donor, &bb, "sleep", "600"]);
    let cat = "hostname; cat /etc/hosts /etc/resolv.conf";
    let want = s.docker_ok(&["exec", &donor, "sh", "-c", cat]);
    let joiner = names.name("joiner");
    let net = format!("container:{donor}");
    let got = s.docker_ok(&[
        "run",
        "--name",
        &joiner,
        "--network",
        &net,
        &bb,
        "sh",
        "-c",
        cat,
    ]);
    assert_eq!(got, want);
    let f = "{{.Config.Hostname}} {{.HostsPath}} {{.ResolvConfPath}} {{json .NetworkSettings.Networks}}";
    let d = s.inspect_f(&donor, f);
    let j = s.inspect_f(&joiner, f);
    let (d, j): (Vec<&str>, Vec<&str>) = (d.split(' ').collect(), j.split(' ').collect());
    assert_eq!(j[..3], d[..3]);
    assert_eq!(j[3].trim(), "{}");
}

/// What dockerd refuses at create with `--network container:X` (the other container's network
/// brings its hostname, DNS, /etc/hosts and ports), with its words and 400.
#[test]
fn network_of_another_container_conflicts() {
    use berth_e2e::fidelity::{call, json};
    let s = api_server!();
    let bb = s.busybox().to_string();
    let mut names = Names(&s, vec![]);
    let donor = names.name("conf");
    s.docker_ok(&["run", "-d", "--name", &donor, &bb, "sleep", "600"]);
    let mode = format!("container:{donor}");
    for (config, host, want) in [
        (
            serde_json::json!({"Hostname": "h"}),
            serde_json::json!({}),
            "conflicting options: hostname and the network mode",
        ),
        (
            serde_json::json!({}),
            serde_json::json!({"Dns": ["1.1.1.1"]}),
            "conflicting options: dns and the network mode",
        ),
        (
            serde_json::json!({}),
            serde_json::json!({"ExtraHosts": ["a:1.2.3.4"]}),
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
        (
            serde_json::json!({}),
            serde_json::json!({"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}),
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            serde_json::json!({"ExposedPorts": {"80/tcp": {}}}),
            serde_json::json!({}),
            "conflicting options: port exposing and the container type network mode",
        ),
    ] {
        let mut body = config.clone();
        body["Image"] = bb.clone().into();
        body["Cmd"] = serde_json::json!(["true"]);
        let mut host = host.clone();
        host["NetworkMode"] = mode.clone().into();
        body["HostConfig"] = host;
        let r = call(&s, "POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(json(&r)["message"], want, "{body}");
    }
}
