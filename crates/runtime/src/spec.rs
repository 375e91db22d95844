//! Loading config.json the way runc does: unknown fields are ignored, unknown capability names are
//! dropped with a warning (instead of failing the whole spec), relative root paths are resolved
//! against the bundle.

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Capability names this runtime (and the kernel headers it was built for) knows.
pub const KNOWN_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Index of a capability name in the kernel's numbering (`CAP_CHOWN` = 0), if known.
pub fn cap_number(name: &str) -> Option<u8> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    KNOWN_CAPS.iter().position(|c| *c == full).map(|i| i as u8)
}

/// Remove capability names we do not know from every set of a process JSON value, returning
/// warnings. runc does the same: a newer spec must not stop an older runtime.
pub fn sanitize_process(process: &mut Value) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(caps) = process
        .get_mut("capabilities")
        .and_then(Value::as_object_mut)
    {
        for (set, list) in caps.iter_mut() {
            if let Some(arr) = list.as_array_mut() {
                arr.retain(|v| match v.as_str() {
                    Some(name) if cap_number(name).is_some() => true,
                    other => {
                        warnings.push(format!(
                            "ignoring unknown capability {other:?} in {set} set"
                        ));
                        false
                    }
                });
            }
        }
    }
    warnings
}

/// Parse a spec from JSON text. `origin` names the file in errors.
pub fn parse_spec(text: &str, origin: &Path) -> Result<(Spec, Vec<String>)> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| Error::InvalidSpec {
        path: origin.to_path_buf(),
        msg: e.to_string(),
    })?;
    let mut warnings = Vec::new();
    if let Some(p) = value.get_mut("process") {
        warnings.extend(sanitize_process(p));
    }
    let spec: Spec = serde_json::from_value(value).map_err(|e| Error::InvalidSpec {
        path: origin.to_path_buf(),
        msg: e.to_string(),
    })?;
    Ok((spec, warnings))
}

/// Parse a process JSON (for `exec --process`).
pub fn parse_process(text: &str, origin: &Path) -> Result<oci_spec::runtime::Process> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| Error::InvalidSpec {
        path: origin.to_path_buf(),
        msg: e.to_string(),
    })?;
    sanitize_process(&mut value);
    // runc reads a missing `user` as uid 0, gid 0 (Go's zero value); containerd's and the
    // runc suite's process files leave it out.
    if let Some(p) = value.as_object_mut() {
        p.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    serde_json::from_value(value).map_err(|e| Error::InvalidSpec {
        path: origin.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Read `<bundle>/config.json`, validate what the runtime depends on and return the spec together
/// with the absolute rootfs path.
pub fn load_bundle(bundle: &Path) -> Result<(Spec, PathBuf, Vec<String>)> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadSpec {
        path: path.clone(),
        source,
    })?;
    let (spec, warnings) = parse_spec(&text, &path)?;
    let root = spec.root().as_ref().ok_or_else(|| Error::InvalidSpec {
        path: path.clone(),
        msg: "root: missing".into(),
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = crate::util::real_path(&rootfs).map_err(|e| Error::InvalidSpec {
        path: path.clone(),
        msg: format!("root.path {}: {e}", rootfs.display()),
    })?;
    let process = spec.process().as_ref();
    if let Some(p) = process {
        if p.args().as_ref().map(|a| a.is_empty()).unwrap_or(true) {
            return Err(Error::InvalidSpec {
                path,
                msg: "process.args: must not be empty".into(),
            });
        }
        if !p.cwd().is_absolute() {
            return Err(Error::InvalidSpec {
                path,
                msg: format!("process.cwd {:?}: must be an absolute path", p.cwd()),
            });
        }
    } else {
        return Err(Error::InvalidSpec {
            path,
            msg: "process: missing".into(),
        });
    }
    Ok((spec, rootfs, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_caps_are_dropped_not_fatal() {
        let json = r#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"someFutureField":{"x":1},
            "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_CHOWN","CAP_FROM_THE_FUTURE"],"effective":["CAP_KILL"]}}}"#;
        let (spec, warnings) = parse_spec(json, Path::new("config.json")).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("CAP_FROM_THE_FUTURE"));
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn process_without_user_runs_as_root() {
        let p = parse_process(r#"{"args":["sh"],"cwd":"/"}"#, Path::new("p.json")).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    }

    #[test]
    fn malformed_json_names_the_file() {
        let err = parse_spec("{", Path::new("/b/config.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/b/config.json"), "{err}");
    }

    #[test]
    fn cap_numbers_follow_the_kernel() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("CAP_SYS_RESOURCE"), Some(24));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("CAP_NOPE"), None);
    }
}
