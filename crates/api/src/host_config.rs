//! `HostConfig` of a create request: its keys read as Go reads them ([`ci_json`]), and the
//! fields of the Docker API (v1.41) that berth has no setting for either meaning nothing here
//! (accepted) or refused with dockerd's words: never dropped in silence, as a setting the host
//! cannot apply must not be.

use crate::ci_json;
use crate::http::ApiError;
use engine::types::HostConfig;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, ApiError>;

/// The engine's `HostConfig` from the API's.
pub fn host_config_of(v: Value) -> Result<HostConfig> {
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("invalid HostConfig: {e}"));
    let Value::Object(mut m) = v else {
        return ci_json::from_value(v).map_err(bad);
    };
    let unconfined = refuse_unsupported(&mut m)?;
    let mut hc: HostConfig = ci_json::from_value(Value::Object(m)).map_err(bad)?;
    if unconfined {
        hc.security_opt.push("systempaths=unconfined".into());
    }
    Ok(hc)
}

fn refused(msg: String) -> ApiError {
    ApiError::bad_request(msg)
}

/// Takes out the fields berth has no setting for; an error for a value that would mean
/// something. True when `MaskedPaths` and `ReadonlyPaths` are both empty: the docker CLI's
/// `--security-opt systempaths=unconfined`.
fn refuse_unsupported(m: &mut Map<String, Value>) -> Result<bool> {
    let mut take = |k: &str| ci_json::take(m, k).map_err(|e| refused(e.to_string()));
    match take("UsernsMode")? {
        None => {}
        Some(Value::String(s)) if s.is_empty() || s == "host" => {}
        Some(v) => return Err(refused(format!("invalid USER NS mode: {}", text(&v)))),
    }
    if let Some(v) = take("DeviceRequests")?.filter(|v| !is_empty(v)) {
        let r = v.get(0).cloned().unwrap_or(Value::Null);
        let driver = r.get("Driver").and_then(Value::as_str).unwrap_or("");
        let caps = text(r.get("Capabilities").unwrap_or(&Value::Array(Vec::new())));
        return Err(refused(format!(
            "could not select device driver \"{driver}\" with capabilities: {caps}"
        )));
    }
    if take("StorageOpt")?.is_some_and(|v| !is_empty(&v)) {
        return Err(refused(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                .into(),
        ));
    }
    for k in ["KernelMemory", "KernelMemoryTCP"] {
        if take(k)?.is_some_and(|v| !is_empty(&v)) {
            return Err(refused(format!(
                "{k} is not supported: kernel memory limits are not applied by this engine"
            )));
        }
    }
    if let Some(v) = take("Cgroup")?.filter(|v| !is_empty(v)) {
        return Err(refused(format!(
            "Cgroup {}: joining another container's cgroup is not supported",
            text(&v)
        )));
    }
    let masked = take("MaskedPaths")?;
    let readonly = take("ReadonlyPaths")?;
    match (&masked, &readonly) {
        (None, None) => Ok(false),
        (Some(a), Some(b)) if is_empty(a) && is_empty(b) => Ok(true),
        _ => Err(refused(format!(
            "MaskedPaths {} and ReadonlyPaths {}: only the default paths, or none of either \
             (--security-opt systempaths=unconfined), are supported",
            masked.as_ref().map_or("(default)".into(), text),
            readonly.as_ref().map_or("(default)".into(), text)
        ))),
    }
}

/// A value that asks for nothing: "", 0, false, [] or {}.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// As Go's `%v` prints it: strings bare, lists as `[a b]`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(" ")),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: Value) -> std::result::Result<HostConfig, String> {
        host_config_of(v).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn settings_that_mean_nothing_here_are_accepted() {
        let h = status(
            json!({"UsernsMode": "host", "DeviceRequests": [], "StorageOpt": {},
            "KernelMemory": 0, "Cgroup": "", "CPURealtimePeriod": 1000}),
        )
        .unwrap();
        assert_eq!(h.cpu_realtime_period, 1000);
        assert!(status(json!({"usernsmode": ""})).is_ok());
        let h = status(json!({"MaskedPaths": [], "ReadonlyPaths": []})).unwrap();
        assert_eq!(h.security_opt, ["systempaths=unconfined"]);
    }

    #[test]
    fn settings_that_cannot_be_applied_are_refused() {
        for (v, words) in [
            (
                json!({"UsernsMode": "private"}),
                "invalid USER NS mode: private",
            ),
            (json!({"usernsmode": "x"}), "USER NS"),
            (
                json!({"DeviceRequests": [{"Driver": "nvidia", "Capabilities": [["gpu"]]}]}),
                "could not select device driver \\\"nvidia\\\" with capabilities: [[gpu]]",
            ),
            (json!({"StorageOpt": {"size": "1G"}}), "storage-opt"),
            (
                json!({"KernelMemory": 1048576}),
                "KernelMemory is not supported",
            ),
            (json!({"Cgroup": "container:abc"}), "Cgroup container:abc"),
            (json!({"MaskedPaths": ["/proc/kcore"]}), "MaskedPaths"),
            (json!({"MaskedPaths": []}), "ReadonlyPaths (default)"),
        ] {
            let e = status(v.clone()).unwrap_err();
            assert!(e.contains(words), "{v}: {e}");
            assert!(e.contains("400"), "{v}: {e}");
        }
    }
}
