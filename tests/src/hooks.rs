//! Hook scripts that log their name and the state JSON they got on stdin.

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Script body: `$1` = hook name, `$2` = log file; appends
/// `NAME<TAB>STDIN` as one line.  Works with dash and busybox sh.
const HOOK_SCRIPT: &str =
    "#!/bin/sh\nstdin=$(cat)\nprintf '%s\\t%s\\n' \"$1\" \"$stdin\" >> \"$2\"\nexit ${3:-0}\n";

/// One hook-log setup inside a bundle.
///
/// The script and the log live in the bundle's rootfs (`/hook.sh`,
/// `/hooks.log`) so that hooks run on the host and hooks run in the container
/// (startContainer: "path MUST resolve in the container namespace") append to
/// the same file.
pub struct HookLog {
    /// Host path of the script.
    pub script: PathBuf,
    /// Host path of the log.
    pub log: PathBuf,
}

/// One line of the log.
#[derive(Debug, Clone)]
pub struct HookEntry {
    pub name: String,
    pub stdin: String,
}

impl HookEntry {
    /// The stdin parsed as JSON (panics with the raw text otherwise).
    #[track_caller]
    pub fn state(&self) -> Value {
        serde_json::from_str(&self.stdin).unwrap_or_else(|e| {
            panic!(
                "hook {} got non-JSON stdin {:?}: {e}",
                self.name, self.stdin
            )
        })
    }
}

impl HookLog {
    pub fn new(rootfs: &Path) -> HookLog {
        let script = rootfs.join("hook.sh");
        std::fs::write(&script, HOOK_SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        HookLog {
            script,
            log: rootfs.join("hooks.log"),
        }
    }

    /// A hook that runs on the host (paths are host paths).
    pub fn host_hook(&self, name: &str) -> Value {
        json!({
            "path": "/bin/sh",
            "args": ["sh", self.script.to_str().unwrap(), name, self.log.to_str().unwrap()],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        })
    }

    /// A host hook that logs and then exits with `code`.
    pub fn failing_host_hook(&self, name: &str, code: i32) -> Value {
        json!({
            "path": "/bin/sh",
            "args": ["sh", self.script.to_str().unwrap(), name, self.log.to_str().unwrap(), code.to_string()],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        })
    }

    /// A hook whose paths resolve inside the container's rootfs.
    pub fn container_hook(&self, name: &str) -> Value {
        json!({
            "path": "/bin/sh",
            "args": ["sh", "/hook.sh", name, "/hooks.log"],
            "env": ["PATH=/bin"]
        })
    }

    /// Entries logged so far.
    pub fn entries(&self) -> Vec<HookEntry> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (name, stdin) = l.split_once('\t')?;
                Some(HookEntry {
                    name: name.to_string(),
                    stdin: stdin.to_string(),
                })
            })
            .collect()
    }

    /// Just the names, in order.
    pub fn names(&self) -> Vec<String> {
        self.entries().into_iter().map(|e| e.name).collect()
    }
}
