//! `GET /version` and the host facts it shares with `info`.

use crate::container::archive::fs_magic;
use crate::engine::Engine;
use serde_json::{json, Value};
use std::path::Path;

pub const API_VERSION: &str = "1.47";

pub const MIN_API_VERSION: &str = "1.24";

pub(crate) fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(crate) fn os_name() -> String {
    let s = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    get("PRETTY_NAME")
        .or_else(|| get("NAME"))
        .unwrap_or_else(|| "Linux".into())
}

pub(crate) fn os_version() -> String {
    let s = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// Go's GOARCH name of this machine.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// cgroup version of the host: "2" on a unified hierarchy, "1" otherwise (hybrid included).
pub fn cgroup_version() -> &'static str {
    match fs_magic(Path::new("/sys/fs/cgroup")) {
        Some(0x6367_7270) => "2",
        _ => "1",
    }
}

impl Engine {
    /// `GET /version`'s server part.
    pub fn version(&self) -> Value {
        let v = env!("CARGO_PKG_VERSION");
        json!({
            "Platform": {"Name": "berth"},
            "Components": [{"Name": "Engine", "Version": v, "Details": {
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux", "Arch": go_arch(), "KernelVersion": kernel_version(),
                "GoVersion": "rustc", "GitCommit": "", "Experimental": "false",
            }}],
            "Version": v,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "rustc",
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": kernel_version(),
            "BuildTime": "",
        })
    }
}
