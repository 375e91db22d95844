//! Network answers of the Docker API that docker-py's integration suite checks (issue 16):
//! dual-stack bridge networks, endpoint link-local addresses, links and MAC addresses, legacy
//! links, and the short id among the aliases before API 1.45. Raw HTTP on the API socket; each
//! test runs on its own `berth serve` (or a private dockerd with `BERTH_TEST_ENGINE=docker`).

use berth_e2e::api::{ApiServer, HttpResponse};
use berth_e2e::api_server;
use berth_e2e::fidelity::{self, json as json_of};
use serde_json::{json, Value};

/// One request with a JSON body (the shared [`fidelity::call`]).
fn call(s: &ApiServer, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
    fidelity::call(s, method, path, body.map(|b| b.to_string()).as_deref())
}

/// Networks and containers a test made, removed even when it fails (containers first).
struct Made<'a> {
    s: &'a ApiServer,
    nets: Vec<String>,
    ctrs: Vec<String>,
}

impl<'a> Made<'a> {
    fn new(s: &'a ApiServer) -> Made<'a> {
        Made {
            s,
            nets: vec![],
            ctrs: vec![],
        }
    }

    fn network(&mut self, body: Value) -> String {
        let r = call(self.s, "POST", "/networks/create", Some(body));
        assert_eq!(r.status, 201, "{r:?}");
        let id = json_of(&r)["Id"].as_str().unwrap().to_string();
        self.nets.push(id.clone());
        id
    }

    /// Create (as `name`) and optionally start a container from a create body.
    fn container(&mut self, name: &str, body: Value, start: bool) -> String {
        let r = call(
            self.s,
            "POST",
            &format!("/containers/create?name={name}"),
            Some(body),
        );
        assert_eq!(r.status, 201, "{r:?}");
        self.ctrs.push(name.to_string());
        if start {
            let r = call(self.s, "POST", &format!("/containers/{name}/start"), None);
            assert_eq!(r.status, 204, "{r:?}");
        }
        json_of(&r)["Id"].as_str().unwrap().to_string()
    }

    fn inspect(&self, name: &str) -> Value {
        json_of(&call(
            self.s,
            "GET",
            &format!("/containers/{name}/json"),
            None,
        ))
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        for c in &self.ctrs {
            let _ = self
                .s
                .http("DELETE", &format!("/containers/{c}?force=1&v=1"), None);
        }
        for n in &self.nets {
            let _ = self.s.http("DELETE", &format!("/networks/{n}"), None);
        }
    }
}

fn sleeper(s: &ApiServer) -> Value {
    json!({"Image": s.busybox(), "Cmd": ["sleep", "120"]})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// A v6 prefix of the documentation range, different for each test process.
fn v6_prefix(n: u32) -> String {
    format!("2001:db8:{:x}:{n:x}", std::process::id() & 0xffff)
}

/// `EnableIPv6` with a v6 pool: inspect shows it beside the v4 pool; a container gets the
/// address it asks for (and one from the v6 range otherwise), its default v6 route through the
/// gateway, its v6 address in /etc/hosts and in DNS answers, and inspect's v6 fields, as
/// dockerd 20.10.
#[test]
fn ipv6_network_gives_containers_v6_addresses() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let p = v6_prefix(1);
    let name = format!("v6n{}", std::process::id());
    let body = json!({"Name": name, "EnableIPv6": true, "IPAM": {"Driver": "default", "Config": [
        {"Subnet": format!("{p}::/64"), "IPRange": format!("{p}::/96"), "Gateway": format!("{p}::ffff")}]}});
    m.network(body);
    let n = json_of(&call(&s, "GET", &format!("/networks/{name}"), None));
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let configs = n["IPAM"]["Config"].as_array().unwrap();
    assert_eq!(configs.len(), 2, "{n}");
    assert!(configs
        .iter()
        .any(|c| c["Subnet"].as_str().unwrap().contains('.')));
    let v6 = configs
        .iter()
        .find(|c| c["Subnet"] == format!("{p}::/64").as_str())
        .unwrap_or_else(|| panic!("{n}"));
    assert_eq!(v6["IPRange"], format!("{p}::/96").as_str());
    assert_eq!(v6["Gateway"], format!("{p}::ffff").as_str());

    let a = format!("v6a{}", std::process::id());
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"NetworkMode": name}, "NetworkingConfig": {"EndpointsConfig": {
            &name: {"IPAMConfig": {"IPv6Address": format!("{p}::f00d")}}}}}),
    );
    m.container(&a, body, true);
    let ep = &m.inspect(&a)["NetworkSettings"]["Networks"][&name];
    assert_eq!(
        ep["IPAMConfig"],
        json!({"IPv6Address": format!("{p}::f00d")}),
        "{ep}"
    );
    assert_eq!(
        ep["GlobalIPv6Address"],
        format!("{p}::f00d").as_str(),
        "{ep}"
    );
    assert_eq!(ep["GlobalIPv6PrefixLen"], 64, "{ep}");
    assert_eq!(ep["IPv6Gateway"], format!("{p}::ffff").as_str(), "{ep}");
    let addr = s.docker_ok(&["exec", &a, "ip", "-6", "addr", "show", "eth0"]);
    // usable at once: no duplicate address detection holding it "tentative"
    let line = addr.lines().find(|l| l.contains(&format!("{p}::f00d/64")));
    assert!(line.is_some_and(|l| !l.contains("tentative")), "{addr}");
    let route = s.docker_ok(&["exec", &a, "ip", "-6", "route"]);
    assert!(
        route.contains(&format!("default via {p}::ffff dev eth0")),
        "{route}"
    );
    let hosts = s.docker_ok(&["exec", &a, "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{p}::f00d\t")), "{hosts}");

    // without a request: the lowest free address of the v6 range; the two reach each other
    let b = format!("v6b{}", std::process::id());
    let body = with(sleeper(&s), json!({"HostConfig": {"NetworkMode": name}}));
    m.container(&b, body, true);
    let ep = &m.inspect(&b)["NetworkSettings"]["Networks"][&name];
    assert_eq!(ep["GlobalIPv6Address"], format!("{p}::1").as_str(), "{ep}");
    s.docker_ok(&[
        "exec",
        &b,
        "ping6",
        "-c",
        "1",
        "-W",
        "5",
        &format!("{p}::f00d"),
    ]);
    // the network's DNS answers AAAA queries with the v6 address
    let out = s.docker_ok(&["exec", &b, "nslookup", &a]);
    assert!(out.contains(&format!("{p}::f00d")), "{out}");
    let n = json_of(&call(&s, "GET", &format!("/networks/{name}"), None));
    let shown: Vec<&str> = n["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["IPv6Address"].as_str().unwrap())
        .collect();
    assert!(shown.contains(&format!("{p}::f00d/64").as_str()), "{n}");
}

/// A v6 pool without `EnableIPv6` is kept and shown as given (no gateway of the engine's), and
/// a requested v6 address stays in the endpoint's IPAMConfig without being given; `EnableIPv6`
/// without a v6 pool is refused.
#[test]
fn ipv6_pool_without_enable_ipv6_is_only_kept() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let p = v6_prefix(2);
    // EnableIPv6 without a v6 pool: dockerd 20.10 has no default one
    let r = call(
        &s,
        "POST",
        "/networks/create",
        Some(json!({"Name": format!("v6none{}", std::process::id()), "EnableIPv6": true})),
    );
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        json_of(&r)["message"],
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
    );
    let name = format!("v6off{}", std::process::id());
    m.network(json!({"Name": name, "IPAM": {"Config": [{"Subnet": format!("{p}::/64")}]}}));
    let n = json_of(&call(&s, "GET", &format!("/networks/{name}"), None));
    assert_eq!(n["EnableIPv6"], false, "{n}");
    let configs = n["IPAM"]["Config"].as_array().unwrap();
    assert!(
        configs.contains(&json!({"Subnet": format!("{p}::/64")})),
        "{n}"
    );
    let c = format!("v6off-c{}", std::process::id());
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"NetworkMode": name}, "NetworkingConfig": {"EndpointsConfig": {
            &name: {"IPAMConfig": {"IPv6Address": format!("{p}::f00d")}}}}}),
    );
    m.container(&c, body, true);
    let ep = &m.inspect(&c)["NetworkSettings"]["Networks"][&name];
    assert_eq!(
        ep["IPAMConfig"]["IPv6Address"],
        format!("{p}::f00d").as_str()
    );
    assert_eq!(ep["GlobalIPv6Address"], "", "{ep}");
    assert_ne!(ep["IPAddress"], "", "{ep}");
}

/// `IPAMConfig.LinkLocalIPs` are kept, shown, and configured on the interface.
#[test]
fn endpoint_link_local_ips() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let c = format!("ll{}", std::process::id());
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"NetworkMode": "bridge"}, "NetworkingConfig": {"EndpointsConfig": {
            "bridge": {"IPAMConfig": {"LinkLocalIPs": ["169.254.8.8"]}}}}}),
    );
    m.container(&c, body, true);
    let ep = &m.inspect(&c)["NetworkSettings"]["Networks"]["bridge"];
    assert_eq!(
        ep["IPAMConfig"]["LinkLocalIPs"],
        json!(["169.254.8.8"]),
        "{ep}"
    );
    let addr = s.docker_ok(&["exec", &c, "ip", "addr", "show", "eth0"]);
    assert!(addr.contains("169.254.8.8/16"), "{addr}");
}

/// An endpoint's `Links` (create and connect) are shown, and the alias resolves to the target
/// by the network's DNS for the linking container, the target made after the link.
#[test]
fn endpoint_links_resolve_for_the_linking_container() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let pid = std::process::id();
    let name = format!("lnk{pid}");
    m.network(json!({"Name": name}));
    let target = format!("lnk-up{pid}");
    let a = format!("lnk-a{pid}");
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"NetworkMode": name}, "NetworkingConfig": {"EndpointsConfig": {
            &name: {"Links": [format!("{target}:bar")]}}}}),
    );
    m.container(&a, body, true);
    let ep = &m.inspect(&a)["NetworkSettings"]["Networks"][&name];
    assert_eq!(ep["Links"], json!([format!("{target}:bar")]), "{ep}");
    // connect with links (after a disconnect) shows them too
    let b = format!("lnk-b{pid}");
    let body = with(sleeper(&s), json!({"HostConfig": {"NetworkMode": name}}));
    m.container(&b, body, true);
    let r = call(
        &s,
        "POST",
        &format!("/networks/{name}/disconnect"),
        Some(json!({"Container": b})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = call(
        &s,
        "POST",
        &format!("/networks/{name}/connect"),
        Some(json!({"Container": b, "EndpointConfig": {"Links": [format!("{target}:baz")]}})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let ep = &m.inspect(&b)["NetworkSettings"]["Networks"][&name];
    assert_eq!(ep["Links"], json!([format!("{target}:baz")]), "{ep}");

    let body = with(sleeper(&s), json!({"HostConfig": {"NetworkMode": name}}));
    m.container(&target, body, true);
    let ip = m.inspect(&target)["NetworkSettings"]["Networks"][&name]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let out = s.docker_ok(&["exec", &a, "nslookup", "bar"]);
    assert!(out.contains(&ip), "{out}");
    let out = s.docker_ok(&["exec", &b, "nslookup", "baz"]);
    assert!(out.contains(&ip), "{out}");
}

/// `Config.MacAddress` is the default-bridge endpoint's MAC. An endpoint `MacAddress` given to
/// connect on a running container is its interface's MAC on berth, as on docker from API 1.54
/// (dockerd 20.10 shows the address-derived one).
#[test]
fn mac_addresses_are_applied() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let pid = std::process::id();
    let c = format!("mac{pid}");
    let body = with(sleeper(&s), json!({"MacAddress": "02:42:ac:11:00:0a"}));
    m.container(&c, body, true);
    let v = m.inspect(&c);
    assert_eq!(v["NetworkSettings"]["MacAddress"], "02:42:ac:11:00:0a");
    let mac = s.docker_ok(&["exec", &c, "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac.trim(), "02:42:ac:11:00:0a");
    // a malformed MAC: berth refuses the create, dockerd 20.10 the start
    let bad = format!("mac-bad{pid}");
    let body = with(sleeper(&s), json!({"MacAddress": "zz:11"}));
    let r = call(
        &s,
        "POST",
        &format!("/containers/create?name={bad}"),
        Some(body),
    );
    let r = if s.is_docker() {
        m.ctrs.push(bad.clone());
        let r = call(&s, "POST", &format!("/containers/{bad}/start"), None);
        assert_eq!(r.status, 500, "{r:?}");
        r
    } else {
        assert_eq!(r.status, 400, "{r:?}");
        r
    };
    let msg = json_of(&r)["message"].as_str().unwrap_or("").to_string();
    assert!(
        msg.contains("zz:11") && msg.contains("invalid MAC address"),
        "{msg}"
    );
    if s.is_docker() {
        return;
    }
    let name = format!("macn{pid}");
    m.network(json!({"Name": name}));
    let r = call(
        &s,
        "POST",
        &format!("/networks/{name}/connect"),
        Some(json!({"Container": c, "EndpointConfig": {"MacAddress": "02:42:ac:11:00:0b"}})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let ep = &m.inspect(&c)["NetworkSettings"]["Networks"][&name];
    assert_eq!(ep["MacAddress"], "02:42:ac:11:00:0b", "{ep}");
    let mac = s.docker_ok(&["exec", &c, "cat", "/sys/class/net/eth1/address"]);
    assert_eq!(mac.trim(), "02:42:ac:11:00:0b");
}

/// Legacy links: stored as "/target:/container/alias", docker's variables and /etc/hosts entry
/// in the linking container, removed by `DELETE /containers/{container}/{alias}?link=1`.
#[test]
fn legacy_links() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let pid = std::process::id();
    let (t, c) = (format!("lk-t{pid}"), format!("lk-c{pid}"));
    let body = with(
        sleeper(&s),
        json!({"Env": ["FOO=bar"], "ExposedPorts": {"80/tcp": {}}}),
    );
    m.container(&t, body, true);
    let ip = m.inspect(&t)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"Links": [format!("{t}:my-l")]}}),
    );
    m.container(&c, body, true);
    let v = m.inspect(&c);
    assert_eq!(
        v["HostConfig"]["Links"],
        json!([format!("/{t}:/{c}/my-l")]),
        "{}",
        v["HostConfig"]
    );
    let env = s.docker_ok(&["exec", &c, "env"]);
    for want in [
        format!("MY_L_NAME=/{c}/my-l"),
        "MY_L_ENV_FOO=bar".to_string(),
        format!("MY_L_PORT=tcp://{ip}:80"),
        format!("MY_L_PORT_80_TCP_ADDR={ip}"),
        "MY_L_PORT_80_TCP_PORT=80".to_string(),
        "MY_L_PORT_80_TCP_PROTO=tcp".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in:\n{env}");
    }
    let hosts = s.docker_ok(&["exec", &c, "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&format!("{ip}\tmy-l ")) && l.ends_with(&format!(" {t}"))),
        "{hosts}"
    );
    // dockerd answers a link name without a container part with a 500
    let r = call(&s, "DELETE", &format!("/containers/{c}?link=1"), None);
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(
        json_of(&r)["message"],
        "Conflict, cannot remove the default link name of the container"
    );
    let r = call(&s, "DELETE", &format!("/containers/{c}/my-l?link=1"), None);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(m.inspect(&c)["HostConfig"]["Links"], Value::Null);
    assert_eq!(m.inspect(&t)["State"]["Running"], true);
}

/// At API 1.41 (docker-py's) a user-network endpoint lists the container's short id among its
/// aliases once it runs, on dockerd 20.10 as on docker 25+; berth, as docker 25+, from the
/// create on, and from API 1.45 lists the aliases as given.
#[test]
fn short_id_among_aliases_before_api_1_45() {
    let s = api_server!();
    let mut m = Made::new(&s);
    let pid = std::process::id();
    let name = format!("al{pid}");
    m.network(json!({"Name": name}));
    let c = format!("al-c{pid}");
    let body = with(
        sleeper(&s),
        json!({"HostConfig": {"NetworkMode": name}, "NetworkingConfig": {"EndpointsConfig": {
            &name: {"Aliases": ["hello"]}}}}),
    );
    let id = m.container(&c, body, false);
    let aliases = |version: &str| {
        let v = json_of(&call(
            &s,
            "GET",
            &format!("/{version}/containers/{c}/json"),
            None,
        ));
        v["NetworkSettings"]["Networks"][&name]["Aliases"].clone()
    };
    if s.is_berth() {
        assert_eq!(aliases("v1.41"), json!(["hello", &id[..12]]));
        assert_eq!(aliases("v1.45"), json!(["hello"]));
    }
    let r = call(&s, "POST", &format!("/containers/{c}/start"), None);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(aliases("v1.41"), json!(["hello", &id[..12]]));
}
