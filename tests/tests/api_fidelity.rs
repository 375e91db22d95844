//! Docker API answers that clients depend on, where docker-py's own integration suite found berth
//! differing from dockerd 20.10 (issue 16). Raw HTTP on the API socket; each test runs on its
//! own `berth serve` (or a private dockerd with `BERTH_TEST_ENGINE=docker`, the reference).

use berth_e2e::api::{ApiServer, HttpResponse};
use berth_e2e::api_server;
use serde_json::Value;

fn json(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

fn call(s: &ApiServer, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
    s.http(method, path, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

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
    for (method, path) in [("GET", "/swarm"), ("POST", "/swarm/leave?force=true")] {
        let r = call(&s, method, path, None);
        assert_eq!(r.status, 503, "{method} {path}: {r:?}");
        assert_eq!(
            json(&r)["message"],
            "This node is not part of a swarm",
            "{method} {path}"
        );
    }
    for path in ["/nodes", "/services", "/tasks", "/secrets", "/configs"] {
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
    s.docker_ok(&["run", "-d", "--name", &c, "--network", &name, s.busybox(), "sleep", "60"]);
    let ip = s.inspect_f(&c, &format!("{{{{.NetworkSettings.Networks.{name}.IPAddress}}}}"));
    s.docker(&["rm", "-f", &c]);
    assert_eq!(ip.trim(), "172.29.0.2");
    // and an address outside the subnet is refused
    let bad = serde_json::json!({"Name": format!("{name}b"), "IPAM": {"Config": [{
        "Subnet": "172.29.1.0/24", "AuxiliaryAddresses": {"a": "10.9.9.9"}}]}});
    let r = call(&s, "POST", "/networks/create", Some(&bad.to_string()));
    nets.1.push(format!("{name}b"));
    assert_eq!(r.status, 400, "{r:?}");
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
    assert_eq!(nets_v["bridge"]["DriverOpts"]["com.example.x"], "on", "{nets_v}");
    assert_eq!(nets_v[&name]["MacAddress"], "02:42:ac:11:00:99", "{nets_v}");
}
