//! Container state kept under `--root/<id>/`: `state.json` (written atomically) and `exec.fifo`
//! (present from create until start). The status is derived, never stored: a crash at any point
//! leaves something `state`, `list` and `delete` can read.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` (clock ticks since boot): tells our init from a recycled pid.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub oci_version: String,
    /// The spec the container was created with (hooks, namespaces, process defaults for exec).
    pub config: serde_json::Value,
    /// Mounts made for a container that shares the runtime's mount namespace, which `delete`
    /// takes away (see `shared_mntns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_mounts: Vec<PathBuf>,
}

/// The OCI state document (runtime-spec runtime.md "State"), with the fields in the order of
/// runc's `state` and `list --format json` (scripts match the text).
#[derive(Debug, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

/// Container ids become directory names: keep them to a safe alphabet.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

pub fn container_dir(root: &Path, id: &str) -> Result<PathBuf> {
    validate_id(id)?;
    Ok(root.join(id))
}

impl ContainerState {
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        let dir = container_dir(root, id)?;
        let text = match std::fs::read(dir.join(STATE_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(e).ctx(|| format!("reading state of {id}")),
        };
        serde_json::from_slice(&text).map_err(|e| {
            Error::Other(format!(
                "corrupt state file {}: {e}",
                dir.join(STATE_FILE).display()
            ))
        })
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let dir = container_dir(root, &self.id)?;
        let data = serde_json::to_vec(self).map_err(|e| Error::Other(e.to_string()))?;
        crate::util::write_atomic(&dir.join(STATE_FILE), &data)
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.id)
    }

    pub fn status(&self, root: &Path) -> Status {
        if !crate::util::process_alive(self.pid, self.pid_start) {
            return Status::Stopped;
        }
        if self.dir(root).join(FIFO).exists() {
            return Status::Created;
        }
        if is_frozen(self.pid) {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn oci(&self, status: Status) -> OciState {
        OciState {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// v1 freezer or v2 cgroup.freeze state of the cgroup holding `pid`.
fn is_frozen(pid: i32) -> bool {
    let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    for line in cg.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctrl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        if ctrl.split(',').any(|c| c == "freezer") {
            if let Ok(s) = std::fs::read_to_string(
                Path::new("/sys/fs/cgroup/freezer")
                    .join(path)
                    .join("freezer.state"),
            ) {
                return s.trim() == "FROZEN";
            }
        } else if ctrl.is_empty() {
            if let Ok(s) = std::fs::read_to_string(
                Path::new("/sys/fs/cgroup").join(path).join("cgroup.freeze"),
            ) {
                if s.trim() == "1" {
                    return true;
                }
            }
        }
    }
    false
}

/// Ids of every container under `root` (directories holding a state file).
pub fn list_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_directory_names() {
        for ok in ["a", "abc-123_x.y", "k8s+pod"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", "..", ".hidden", "a/b", "../x", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stopped_when_the_pid_is_gone() {
        let root = std::env::temp_dir().join(format!("berth-unit-state-{}", std::process::id()));
        std::fs::create_dir_all(root.join("c1")).unwrap();
        let st = ContainerState {
            id: "c1".into(),
            pid: i32::MAX - 1,
            pid_start: 1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: crate::util::now_rfc3339(),
            owner: String::new(),
            annotations: HashMap::new(),
            oci_version: "1.2.0".into(),
            config: serde_json::json!({}),
            shared_mounts: Vec::new(),
        };
        st.save(&root).unwrap();
        let back = ContainerState::load(&root, "c1").unwrap();
        assert_eq!(back.status(&root), Status::Stopped);
        let text = serde_json::to_string(&back.oci(Status::Stopped)).unwrap();
        assert!(
            text.starts_with(r#"{"ociVersion":"1.2.0","id":"c1","pid":0,"status":"stopped","#),
            "{text}"
        );
        let oci: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(oci["status"], "stopped");
        assert_eq!(oci["pid"], 0);
        assert_eq!(list_ids(&root), vec!["c1"]);
        assert!(matches!(
            ContainerState::load(&root, "nope"),
            Err(Error::NotFound(_))
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
