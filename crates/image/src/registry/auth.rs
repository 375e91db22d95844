//! docker-compatible credentials (config.json), login and logout.

use super::client::*;
use super::*;

/// Registry credentials from docker's config.json (`auths.<host>.auth`).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    auths: HashMap<String, (String, String)>,
}

/// `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`.
pub fn config_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    dir.join("config.json")
}

/// docker keys Docker Hub as its v1 index URL.
pub(super) fn config_key(registry: &str) -> String {
    if registry == DEFAULT_REGISTRY {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_string()
    }
}

pub(super) fn normalise_server(s: &str) -> String {
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DEFAULT_REGISTRY.into(),
        h => h.to_string(),
    }
}

impl Credentials {
    pub fn from_docker_config() -> Self {
        let mut c = Credentials::default();
        let Ok(b) = std::fs::read(config_path()) else {
            return c;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&b) else {
            return c;
        };
        if let Some(auths) = v.get("auths").and_then(Value::as_object) {
            for (k, e) in auths {
                let Some(a) = e.get("auth").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(a) else {
                    continue;
                };
                let dec = String::from_utf8_lossy(&dec).into_owned();
                if let Some((u, p)) = dec.split_once(':') {
                    c.auths
                        .insert(normalise_server(k), (u.to_string(), p.to_string()));
                }
            }
        }
        c
    }

    pub fn with(mut self, registry: &str, user: &str, pass: &str) -> Self {
        self.auths
            .insert(registry.to_string(), (user.to_string(), pass.to_string()));
        self
    }

    pub fn get(&self, registry: &str) -> Option<(String, String)> {
        self.auths.get(registry).cloned()
    }

    /// The API's `X-Registry-Auth` header: base64url of the JSON `{username, password,
    /// serveraddress, identitytoken}` (or `auth`: base64 of `user:pass`), padded or not;
    /// empty or `{}` means anonymous. The credentials are for `registry`, the image's
    /// registry (which `serveraddress` may spell differently, or leave out).
    pub fn from_registry_auth(header: &str, registry: &str) -> Result<Credentials> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let bad = |reason: String| crate::error::invalid("X-Registry-Auth header", reason);
        let h = header.trim();
        if h.is_empty() {
            return Ok(Credentials::default());
        }
        let raw = URL_SAFE
            .decode(h)
            .or_else(|_| URL_SAFE_NO_PAD.decode(h))
            .or_else(|_| STANDARD.decode(h))
            .map_err(|e| bad(format!("not base64: {e}")))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(format!("not JSON: {e}")))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (mut user, mut pass) = (field("username"), field("password"));
        if user.is_empty() {
            if let Some((u, p)) = STANDARD
                .decode(field("auth"))
                .ok()
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .and_then(|d| {
                    d.split_once(':')
                        .map(|(u, p)| (u.to_string(), p.to_string()))
                })
            {
                (user, pass) = (u, p);
            }
        }
        if user.is_empty() {
            return Ok(Credentials::default());
        }
        Ok(Credentials::default().with(registry, &user, &pass))
    }
}

/// Check credentials against the registry (`GET /v2/` with them), storing nothing. Rejected
/// credentials are [`Error::Unauthorized`] with dockerd's message.
pub fn check_login(server: &str, user: &str, pass: &str) -> Result<()> {
    let registry = normalise_server(server);
    let rt = runtime()?;
    rt.block_on(async {
        let c = Client::new(&registry, Some((user.to_string(), pass.to_string())))?;
        c.ping().await.map_err(|e| match e {
            Error::Unauthorized { registry, message } if message.starts_with("credentials") => {
                Error::Unauthorized {
                    registry,
                    message: format!(
                        "login attempt to {}/v2/ failed with status: 401 Unauthorized",
                        c.base
                    ),
                }
            }
            e => e,
        })
    })
}

/// Check credentials against the registry and store them in config.json.
pub fn login(server: &str, user: &str, pass: &str) -> Result<()> {
    check_login(server, user, pass)?;
    let registry = normalise_server(server);
    let path = config_path();
    let mut v = read_config(&path)?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    v["auths"][config_key(&registry)] = serde_json::json!({ "auth": auth });
    write_config(&path, &v)
}

/// Remove stored credentials; returns whether there were any.
pub fn logout(server: &str) -> Result<bool> {
    let registry = normalise_server(server);
    let path = config_path();
    let mut v = read_config(&path)?;
    let removed = v
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .map(|a| {
            let keys: Vec<String> = a
                .keys()
                .filter(|k| normalise_server(k) == registry)
                .cloned()
                .collect();
            for k in &keys {
                a.remove(k);
            }
            !keys.is_empty()
        })
        .unwrap_or(false);
    if removed {
        write_config(&path, &v)?;
    }
    Ok(removed)
}

pub(super) fn read_config(path: &std::path::Path) -> Result<Value> {
    match std::fs::read(path) {
        Ok(b) => {
            let mut v: Value = serde_json::from_slice(&b).map_err(|e| Error::Credentials {
                path: path.to_path_buf(),
                reason: format!("invalid json: {e}"),
            })?;
            if !v.get("auths").is_some_and(Value::is_object) {
                v["auths"] = serde_json::json!({});
            }
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({"auths": {}})),
        Err(e) => Err(Error::Credentials {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

pub(super) fn write_config(path: &std::path::Path, v: &Value) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let cerr = |e: std::io::Error| Error::Credentials {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(cerr)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(cerr)?;
    f.write_all(serde_json::to_string_pretty(v).expect("json").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(cerr)?;
    std::fs::rename(&tmp, path).map_err(cerr)
}
