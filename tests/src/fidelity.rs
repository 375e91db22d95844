//! Helpers of the raw-HTTP API fidelity suites (tests/tests/api_fidelity*.rs): calls, a
//! container removed at drop, docker's multiplexed frames.

use crate::api::{ApiServer, HttpResponse};
use serde_json::Value;

/// The body as JSON (a panic naming the response when it is not).
pub fn json(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

/// One request; a panic when it cannot be made at all.
pub fn call(s: &ApiServer, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
    s.http(method, path, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A container made through the API, removed (with its volumes) at drop.
pub struct Ctr<'a>(pub &'a ApiServer, pub String);

impl<'a> Ctr<'a> {
    pub fn create(s: &'a ApiServer, body: Value) -> Ctr<'a> {
        let r = call(s, "POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(r.status, 201, "{r:?}");
        Ctr(s, json(&r)["Id"].as_str().unwrap().to_string())
    }
    pub fn post(&self, verb: &str) -> HttpResponse {
        call(
            self.0,
            "POST",
            &format!("/containers/{}/{verb}", self.1),
            None,
        )
    }
    pub fn inspect(&self) -> Value {
        json(&call(
            self.0,
            "GET",
            &format!("/containers/{}/json", self.1),
            None,
        ))
    }
    /// stdout and stderr of the container's logs, in order.
    pub fn logs(&self) -> String {
        let r = call(
            self.0,
            "GET",
            &format!("/containers/{}/logs?stdout=1&stderr=1", self.1),
            None,
        );
        assert_eq!(r.status, 200, "{r:?}");
        let data: Vec<u8> = frames(&r.body).into_iter().flat_map(|(_, d)| d).collect();
        String::from_utf8_lossy(&data).into_owned()
    }
}

impl Drop for Ctr<'_> {
    fn drop(&mut self) {
        let _ = self.0.http(
            "DELETE",
            &format!("/containers/{}?force=1&v=1", self.1),
            None,
        );
    }
}

/// The payloads of docker's multiplexed frames, with their stream numbers.
pub fn frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 8, "a cut frame header: {b:?}");
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        assert!(b.len() >= 8 + n, "a cut frame: {b:?}");
        out.push((b[0], b[8..8 + n].to_vec()));
        b = &b[8 + n..];
    }
    out
}
