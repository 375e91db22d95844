//! `spec` and `features` output.

use serde_json::{json, Value};

/// The runtime-spec version we implement (what `spec` writes and `--version` reports).
pub const SPEC_VERSION: &str = "1.2.0";

/// runc's `--version` text: dockerd reads the runtime's name and version from the first line
/// and the commit from `commit:` (`docker info`).
pub fn version_text() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let commit = option_env!("BERTH_COMMIT").unwrap_or(version);
    format!("berth-runtime version {version}\ncommit: {commit}\nspec: {SPEC_VERSION}\n")
}

pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The starting config.json `spec` writes: a shell on a terminal in a rootfs/ directory, with
/// the namespaces, mounts and masked paths a container needs.
///
/// As runc's: a cgroup namespace only on a cgroup v2 host (on v1 the container sees its own
/// cgroup bound at its host path), and every device denied but the ones every container gets.
pub fn default_spec() -> Value {
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "network"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if cgroups::pure_v2_host() {
        namespaces.push(json!({"type": "cgroup"}));
    }
    json!({
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "namespaces": namespaces,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// `spec --rootless`, as runc's: a user namespace mapping container uid/gid 0 to the caller
/// (a plain user can write that single mapping itself), the host's network (no network
/// namespace: a plain user cannot give it connectivity), /sys bound from the host (sysfs needs
/// a network namespace of its own), devpts without `gid=5` (unmapped) and no resources (a
/// plain user may create no cgroup; the runtime then runs the container without one).
pub fn rootless_spec(mut spec: Value, uid: u32, gid: u32) -> Value {
    let linux = &mut spec["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(l) = linux.as_object_mut() {
        l.remove("resources");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    spec
}

pub fn features() -> Value {
    let caps: Vec<&str> = runtime::spec::KNOWN_CAPS.to_vec();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev",
            "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
            "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime",
            "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"org.opencontainers.runtime-spec.features": "berth-runtime"}
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rootless_spec_is_runcs() {
        let s = super::rootless_spec(super::default_spec(), 1000, 1001);
        let text = s.to_string();
        let (spec, _) =
            runtime::spec::parse_spec(&text, std::path::Path::new("config.json")).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let ns: Vec<String> = linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| format!("{:?}", n.typ()))
            .collect();
        assert!(ns.contains(&"User".to_string()), "{ns:?}");
        assert!(!ns.contains(&"Network".to_string()), "{ns:?}");
        let u = &linux.uid_mappings().as_ref().unwrap()[0];
        assert_eq!((u.container_id(), u.host_id(), u.size()), (0, 1000, 1));
        let g = &linux.gid_mappings().as_ref().unwrap()[0];
        assert_eq!((g.container_id(), g.host_id(), g.size()), (0, 1001, 1));
        assert!(linux.resources().is_none());
        assert!(!text.contains("gid=5"));
        assert!(text.contains(r#""source":"/sys""#));
    }

    #[test]
    fn default_spec_is_a_valid_spec() {
        let text = super::default_spec().to_string();
        let (spec, warnings) =
            runtime::spec::parse_spec(&text, std::path::Path::new("config.json")).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap(),
            &vec!["sh".to_string()]
        );
    }
}
