//! Which runc-compatible binary the suites drive.

use std::path::{Path, PathBuf};

/// The kind of runtime selected with `BERTH_TEST_RUNTIME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Our own `berth-runtime`.
    Berth,
    /// `runc` from PATH.
    Runc,
    /// Any other runc-compatible binary given by path.
    Other,
}

/// The runtime binary under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub kind: RuntimeKind,
    pub bin: PathBuf,
}

/// Root of the cargo workspace (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent dir")
        .to_path_buf()
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(name);
        if cand.is_file() {
            return Some(cand);
        }
    }
    // runc lives in /usr/sbin on Debian, which is not always on a user's PATH.
    for dir in ["/usr/sbin", "/usr/local/sbin", "/sbin"] {
        let cand = Path::new(dir).join(name);
        if cand.is_file() {
            return Some(cand);
        }
    }
    None
}

/// Our `berth-runtime`: `BERTH_RUNTIME_BIN`, else
/// `<workspace>/target/debug/berth-runtime`.
pub fn berth_runtime_bin() -> PathBuf {
    std::env::var_os("BERTH_RUNTIME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/berth-runtime"))
}

impl Runtime {
    /// Pick the runtime from `BERTH_TEST_RUNTIME`:
    /// unset or `berth` → `<workspace>/target/debug/berth-runtime`
    /// (or `BERTH_RUNTIME_BIN`), `runc` → runc from PATH, anything else → a
    /// path to a runc-compatible binary.
    pub fn from_env() -> Runtime {
        let sel = std::env::var("BERTH_TEST_RUNTIME").unwrap_or_default();
        match sel.as_str() {
            "" | "berth" => Runtime {
                kind: RuntimeKind::Berth,
                bin: berth_runtime_bin(),
            },
            "runc" => Runtime {
                kind: RuntimeKind::Runc,
                bin: which("runc").expect("BERTH_TEST_RUNTIME=runc but no runc on PATH"),
            },
            other => {
                let bin = PathBuf::from(other);
                let kind = if bin.file_name().is_some_and(|n| n == "runc") {
                    RuntimeKind::Runc
                } else {
                    RuntimeKind::Other
                };
                Runtime { kind, bin }
            }
        }
    }

    pub fn is_runc(&self) -> bool {
        self.kind == RuntimeKind::Runc
    }

    pub fn is_berth(&self) -> bool {
        self.kind == RuntimeKind::Berth
    }

    /// Short name for messages.
    pub fn name(&self) -> String {
        match self.kind {
            RuntimeKind::Berth => "berth-runtime".into(),
            RuntimeKind::Runc => "runc".into(),
            RuntimeKind::Other => self.bin.display().to_string(),
        }
    }

    /// Panic with a clear message if the binary is missing.
    pub fn ensure_exists(&self) {
        assert!(
            self.bin.is_file(),
            "runtime binary {} not found (BERTH_TEST_RUNTIME={:?}); build it with `cargo build --workspace` or set BERTH_RUNTIME_BIN",
            self.bin.display(),
            std::env::var("BERTH_TEST_RUNTIME").unwrap_or_default()
        );
    }
}
