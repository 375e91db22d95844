use super::auth::*;
use super::client::*;
use super::*;

#[test]
fn challenges() {
    let (s, p) = parse_challenge(
        r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
    );
    assert_eq!(s, "bearer");
    assert_eq!(p["realm"], "https://auth.example/token");
    assert_eq!(p["service"], "registry.example");
    assert_eq!(p["scope"], "repository:a/b:pull");
    let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
    assert_eq!(s, "basic");
    assert_eq!(p["realm"], "Registry Realm");
}

#[test]
fn registry_auth_header() {
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    let j = r#"{"username":"u","password":"p+/?","serveraddress":"127.0.0.1:5000"}"#;
    for h in [URL_SAFE.encode(j), URL_SAFE_NO_PAD.encode(j)] {
        let c = Credentials::from_registry_auth(&h, "127.0.0.1:5000").unwrap();
        assert_eq!(c.get("127.0.0.1:5000"), Some(("u".into(), "p+/?".into())));
    }
    // `auth` instead of username/password
    let h = URL_SAFE.encode(r#"{"auth":"dTpwdw=="}"#);
    let c = Credentials::from_registry_auth(&h, "docker.io").unwrap();
    assert_eq!(c.get("docker.io"), Some(("u".into(), "pw".into())));
    // anonymous
    for h in ["", "e30=", "e30"] {
        let c = Credentials::from_registry_auth(h, "docker.io").unwrap();
        assert_eq!(c.get("docker.io"), None, "{h:?}");
    }
    assert!(Credentials::from_registry_auth("!!!", "docker.io").is_err());
    assert!(Credentials::from_registry_auth(&URL_SAFE.encode("[1"), "x").is_err());
}

#[test]
fn insecure_hosts_and_keys() {
    assert!(is_insecure("127.0.0.1:5000"));
    assert!(is_insecure("localhost:1"));
    assert!(!is_insecure("quay.io"));
    assert_eq!(config_key("docker.io"), "https://index.docker.io/v1/");
    assert_eq!(normalise_server("https://index.docker.io/v1/"), "docker.io");
    assert_eq!(normalise_server("127.0.0.1:5000"), "127.0.0.1:5000");
}
