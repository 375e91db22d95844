//! Busybox bundles and the base spec every test edits.

use serde_json::{json, Value};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::caps::DOCKER_DEFAULT_CAPS;

/// The base config.json, in the shape `runc spec` produces, with docker's
/// default capabilities, no terminal, no linux.resources and no cgroupsPath.
pub fn base_spec() -> Value {
    let caps: Vec<&str> = DOCKER_DEFAULT_CAPS.to_vec();
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps
            },
            "noNewPrivileges": false
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "berth-test",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Create a busybox rootfs at `rootfs`.
pub fn make_rootfs(rootfs: &Path) {
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "root",
        "home/user",
    ] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs dir");
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod tmp");
    let bb = rootfs.join("bin/busybox");
    std::fs::copy("/bin/busybox", &bb).expect("copy /bin/busybox (is busybox-static installed?)");
    std::fs::set_permissions(&bb, std::fs::Permissions::from_mode(0o755)).expect("chmod busybox");
    for applet in applets() {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = rootfs.join("bin").join(&applet);
        if !link.exists() {
            symlink("busybox", &link).expect("symlink applet");
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
    let home = rootfs.join("home/user");
    nix::unistd::chown(&home, Some(1000.into()), Some(1000.into())).unwrap();
}

fn applets() -> Vec<String> {
    use std::sync::OnceLock;
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        let out = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("run busybox --list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    })
    .clone()
}

/// A bundle directory: `config.json` + `rootfs/`.  The spec is kept in memory
/// and written by [`Bundle::write`] (the `TestEnv` helpers call it before each
/// create/run).
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Value,
}

impl Bundle {
    /// Make a new bundle at `dir` (must not exist yet).
    pub fn new(dir: &Path) -> Bundle {
        std::fs::create_dir_all(dir).expect("mkdir bundle");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        make_rootfs(&dir.join("rootfs"));
        let b = Bundle {
            dir: dir.to_path_buf(),
            spec: base_spec(),
        };
        b.write();
        b
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Write config.json.
    pub fn write(&self) {
        std::fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .expect("write config.json");
    }

    /// Edit the spec in place.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.spec);
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.spec["process"]["args"] = json!(args);
        self
    }

    /// `sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn terminal(&mut self, on: bool) -> &mut Self {
        self.spec["process"]["terminal"] = json!(on);
        self
    }

    pub fn user(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.spec["process"]["user"] = json!({ "uid": uid, "gid": gid });
        self
    }

    pub fn additional_gids(&mut self, gids: &[u32]) -> &mut Self {
        self.spec["process"]["user"]["additionalGids"] = json!(gids);
        self
    }

    pub fn umask(&mut self, umask: u32) -> &mut Self {
        self.spec["process"]["user"]["umask"] = json!(umask);
        self
    }

    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.spec["hostname"] = json!(name);
        self
    }

    pub fn domainname(&mut self, name: &str) -> &mut Self {
        self.spec["domainname"] = json!(name);
        self
    }

    pub fn readonly_root(&mut self, ro: bool) -> &mut Self {
        self.spec["root"]["readonly"] = json!(ro);
        self
    }

    pub fn env(&mut self, var: &str) -> &mut Self {
        self.spec["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!(var));
        self
    }

    pub fn cwd(&mut self, cwd: &str) -> &mut Self {
        self.spec["process"]["cwd"] = json!(cwd);
        self
    }

    pub fn no_new_privileges(&mut self, on: bool) -> &mut Self {
        self.spec["process"]["noNewPrivileges"] = json!(on);
        self
    }

    pub fn rlimit(&mut self, kind: &str, soft: u64, hard: u64) -> &mut Self {
        let p = &mut self.spec["process"];
        if p.get("rlimits").is_none() {
            p["rlimits"] = json!([]);
        }
        p["rlimits"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": kind, "soft": soft, "hard": hard }));
        self
    }

    /// Set one capability set (`bounding`, `effective`, `permitted`,
    /// `inheritable`, `ambient`).
    pub fn caps(&mut self, set: &str, caps: &[&str]) -> &mut Self {
        self.spec["process"]["capabilities"][set] = json!(caps);
        self
    }

    /// Namespace entries of the spec.
    fn namespaces(&mut self) -> &mut Vec<Value> {
        self.spec["linux"]["namespaces"].as_array_mut().unwrap()
    }

    /// Add (or replace) a namespace; `path` joins an existing one.
    pub fn namespace(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        let ns = self.namespaces();
        ns.retain(|n| n["type"] != kind);
        match path {
            Some(p) => ns.push(json!({ "type": kind, "path": p })),
            None => ns.push(json!({ "type": kind })),
        }
        self
    }

    pub fn remove_namespace(&mut self, kind: &str) -> &mut Self {
        self.namespaces().retain(|n| n["type"] != kind);
        self
    }

    pub fn mount(&mut self, dest: &str, typ: &str, source: &str, options: &[&str]) -> &mut Self {
        self.spec["mounts"].as_array_mut().unwrap().push(json!({
            "destination": dest, "type": typ, "source": source, "options": options
        }));
        self
    }

    /// Add a bind mount (`options` should include `bind` or `rbind`).
    pub fn bind(&mut self, dest: &str, source: &Path, options: &[&str]) -> &mut Self {
        let src = source.to_str().unwrap().to_string();
        self.mount(dest, "bind", &src, options)
    }

    /// Append a hook to `hooks.<stage>`.
    pub fn hook(&mut self, stage: &str, hook: Value) -> &mut Self {
        if self.spec.get("hooks").is_none() {
            self.spec["hooks"] = json!({});
        }
        let hooks = &mut self.spec["hooks"];
        if hooks.get(stage).is_none() {
            hooks[stage] = json!([]);
        }
        hooks[stage].as_array_mut().unwrap().push(hook);
        self
    }

    pub fn annotation(&mut self, key: &str, val: &str) -> &mut Self {
        if self.spec.get("annotations").is_none() {
            self.spec["annotations"] = json!({});
        }
        self.spec["annotations"][key] = json!(val);
        self
    }

    pub fn sysctl(&mut self, key: &str, val: &str) -> &mut Self {
        if self.spec["linux"].get("sysctl").is_none() {
            self.spec["linux"]["sysctl"] = json!({});
        }
        self.spec["linux"]["sysctl"][key] = json!(val);
        self
    }

    pub fn oom_score_adj(&mut self, v: i32) -> &mut Self {
        self.spec["process"]["oomScoreAdj"] = json!(v);
        self
    }

    pub fn uid_mapping(&mut self, container: u32, host: u32, size: u32) -> &mut Self {
        self.spec["linux"]["uidMappings"] =
            json!([{ "containerID": container, "hostID": host, "size": size }]);
        self
    }

    pub fn gid_mapping(&mut self, container: u32, host: u32, size: u32) -> &mut Self {
        self.spec["linux"]["gidMappings"] =
            json!([{ "containerID": container, "hostID": host, "size": size }]);
        self
    }
}
