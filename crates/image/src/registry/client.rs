//! One registry host: requests, auth challenges and tokens, scopes.

use super::*;

/// One registry host, with its auth state.
pub struct Client {
    pub(super) http: reqwest::Client,
    pub(super) registry: String,
    pub(super) base: String,
    pub(super) creds: Option<(String, String)>,
    /// Authorization header per scope (or "" for basic auth).
    pub(super) auth: Mutex<HashMap<String, String>>,
}

pub(super) fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some((k, v)) = s.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (val, next) = if let Some(stripped) = v.strip_prefix('"') {
            match stripped.find('"') {
                Some(e) => (&stripped[..e], &stripped[e + 1..]),
                None => (stripped, ""),
            }
        } else {
            match v.find(',') {
                Some(e) => (&v[..e], &v[e..]),
                None => (v, ""),
            }
        };
        params.insert(k, val.to_string());
        s = next.trim_start_matches(',').trim();
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Client {
    pub fn new(registry: &str, creds: Option<(String, String)>) -> Result<Self> {
        let host = if registry == DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if is_insecure(host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(PARALLEL * 2)
            .build()
            .map_err(|e| reg_err(registry, format!("http client: {e}")))?;
        Ok(Client {
            http,
            registry: registry.to_string(),
            base: format!("{scheme}://{host}"),
            creds,
            auth: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Send with retries on network errors and 5xx, and one re-send after an
    /// auth challenge. `scope` is the token scope the request needs.
    pub(super) async fn send(
        &self,
        scope: &str,
        make: &(dyn Fn() -> RequestBuilder + Sync),
    ) -> Result<Response> {
        let mut last = String::new();
        let mut authed_once = false;
        let mut attempt = 0;
        while attempt < ATTEMPTS {
            attempt += 1;
            let mut rb = make();
            if let Some(h) = self.auth.lock().unwrap().get(scope).cloned() {
                rb = rb.header(header::AUTHORIZATION, h);
            }
            match rb.send().await {
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED && !authed_once => {
                    authed_once = true;
                    attempt -= 1;
                    let ch = r
                        .headers()
                        .get(header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        .ok_or_else(|| Error::Unauthorized {
                            registry: self.registry.clone(),
                            message: "401 without a WWW-Authenticate challenge".into(),
                        })?;
                    self.authenticate(scope, &ch).await?;
                }
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED => {
                    let body = r.text().await.unwrap_or_default();
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: if self.creds.is_some() {
                            format!("credentials rejected: {}", body.trim())
                        } else {
                            format!(
                                "authentication required (berth login {}): {}",
                                self.registry,
                                body.trim()
                            )
                        },
                    });
                }
                Ok(r)
                    if r.status().is_server_error()
                        || r.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    last = format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default().trim()
                    );
                }
                Ok(r) => return Ok(r),
                Err(e) => last = with_causes(&e),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
        }
        Err(reg_err(
            &self.registry,
            format!("giving up after {ATTEMPTS} attempts: {last}"),
        ))
    }

    pub(super) async fn authenticate(&self, scope: &str, challenge: &str) -> Result<()> {
        let (scheme, p) = parse_challenge(challenge);
        let header = match scheme.as_str() {
            "basic" => {
                let (u, pw) = self.creds.clone().ok_or_else(|| Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: format!(
                        "basic authentication required (berth login {})",
                        self.registry
                    ),
                })?;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"))
                )
            }
            "bearer" => {
                let realm = p.get("realm").ok_or_else(|| Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: "bearer challenge without realm".into(),
                })?;
                let mut q: Vec<(&str, String)> = Vec::new();
                if let Some(s) = p.get("service") {
                    q.push(("service", s.clone()));
                }
                // every scope the challenge names plus every one this request
                // needs (a push with a cross-repository mount needs pull on
                // the source repository too), each as its own parameter
                let mut scopes: Vec<String> = Vec::new();
                let challenged = p.get("scope").map(String::as_str).unwrap_or("");
                for sc in challenged.split(' ').chain(scope.split(' ')) {
                    if !sc.is_empty() && !scopes.iter().any(|x| x == sc) {
                        scopes.push(sc.to_string());
                    }
                }
                for sc in scopes {
                    q.push(("scope", sc));
                }
                let mut rb = self.http.get(realm).query(&q);
                if let Some((u, pw)) = &self.creds {
                    rb = rb.basic_auth(u, Some(pw));
                }
                let r = self.send_token_request(rb, realm).await?;
                if !r.status().is_success() {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: if r.status() == StatusCode::UNAUTHORIZED
                            || r.status() == StatusCode::FORBIDDEN
                        {
                            format!(
                                "authentication failed: token server {realm} answered {}{}",
                                r.status(),
                                if self.creds.is_some() {
                                    " (wrong username or password?)".to_string()
                                } else {
                                    format!(" (berth login {})", self.registry)
                                }
                            )
                        } else {
                            format!("token server {realm} answered {}", r.status())
                        },
                    });
                }
                let v: Value = r
                    .json()
                    .await
                    .map_err(|e| reg_err(&self.registry, format!("token response: {e}")))?;
                let t = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| reg_err(&self.registry, "token response without token"))?;
                format!("Bearer {t}")
            }
            other => {
                return Err(Error::Unauthorized {
                    registry: self.registry.clone(),
                    message: format!("unsupported auth scheme {other:?}"),
                })
            }
        };
        self.auth.lock().unwrap().insert(scope.to_string(), header);
        Ok(())
    }

    /// A token request, sent again after a network error: a registry may
    /// close a kept-alive connection just as the request goes out on it.
    async fn send_token_request(&self, rb: RequestBuilder, realm: &str) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let this = rb
                .try_clone()
                .expect("a token request has no streamed body");
            match this.send().await {
                Ok(r) => return Ok(r),
                Err(e) if attempt < ATTEMPTS && !e.is_status() => {
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                }
                Err(e) => {
                    return Err(reg_err(
                        &self.registry,
                        format!("token request to {realm}: {}", with_causes(&e)),
                    ))
                }
            }
        }
    }

    pub(super) async fn check(&self, r: Response, what: &str) -> Result<Response> {
        if r.status().is_success() {
            return Ok(r);
        }
        let st = r.status();
        let body = r.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/errors/0/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or(body);
        if st == StatusCode::NOT_FOUND {
            return Err(reg_err(
                &self.registry,
                format!("{what}: not found: {}", msg.trim()),
            ));
        }
        Err(reg_err(
            &self.registry,
            format!("{what}: {st}: {}", msg.trim()),
        ))
    }

    /// GET /v2/ (used by login to check credentials).
    pub async fn ping(&self) -> Result<()> {
        let url = self.url("/v2/");
        let r = self.send("", &|| self.http.get(&url)).await?;
        self.check(r, "ping /v2/").await?;
        Ok(())
    }

    /// Fetch a manifest; returns bytes, media type and digest (verified).
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
        scope: &str,
    ) -> Result<(Vec<u8>, String, Digest)> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let r = self
            .send(scope, &|| {
                self.http.get(&url).header(header::ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        let r = self
            .check(r, &format!("manifest {repo}:{reference}"))
            .await?;
        let mt = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let hd = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r
            .bytes()
            .await
            .map_err(|e| {
                reg_err(
                    &self.registry,
                    format!("read manifest {repo}:{reference}: {e}"),
                )
            })?
            .to_vec();
        let d = Digest::of(&body);
        let want = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            hd.filter(|h| h.starts_with("sha256:"))
        };
        if let Some(w) = want {
            if w != d.as_str() {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {repo}:{reference}"),
                    expected: w,
                    actual: d.to_string(),
                });
            }
        }
        Ok((body, mt, d))
    }
}

pub(super) fn scope_pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}
pub(super) fn scope_push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// A cross-repository mount needs push on the target and pull on the source.
pub(super) fn scope_mount(repo: &str, from: &str) -> String {
    format!("{} {}", scope_push(repo), scope_pull(from))
}
