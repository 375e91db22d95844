//! The `Engine`: where a state root keeps its things (paths) and the handles shared by every
//! operation (metadata store, runtime, image store, network manager). What the engine does to
//! containers lives in `container/`, image removal in `image_removal`, info and df in `system/`.

use crate::error::{IoContext, Result};
use crate::store::Store;
use image::images::ImageStore;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use crate::paths::{run_root_of, DEFAULT_ROOT, DEFAULT_RUN_ROOT};

pub struct Engine {
    /// persistent state: the metadata store, container dirs, volumes, images
    pub root: PathBuf,
    /// volatile state (gone after a reboot): runtime state, monitor sockets and locks
    pub run_root: PathBuf,
    pub store: Store,
    /// the OCI runtimes: the built-in one and the external ones (`--runtime`)
    pub runtime: crate::runtimes::Runtimes,
    images: OnceLock<ImageStore>,
    pub(crate) nets: std::sync::Mutex<Option<std::sync::Arc<network::Manager>>>,
}

impl Engine {
    pub fn open(root: &Path) -> Result<Engine> {
        let root = std::path::absolute(root).ctx(|| format!("state root {}", root.display()))?;
        let run_root = run_root_of(&root);
        std::fs::create_dir_all(&root).ctx(|| format!("create {}", root.display()))?;
        if crate::paths::rootless_uid().is_some() {
            // a user's run dir may be a /tmp fallback: ours and closed to others, or refused
            crate::paths::ensure_private_dir(&run_root)
                .ctx(|| format!("run dir {}", run_root.display()))?;
        } else {
            std::fs::create_dir_all(&run_root).ctx(|| format!("create {}", run_root.display()))?;
        }
        let store = Store::open(&root.join("engine.db"))?;
        Ok(Engine {
            runtime: crate::runtimes::Runtimes::new(&root, &run_root),
            root,
            run_root,
            store,
            images: OnceLock::new(),
            nets: std::sync::Mutex::new(None),
        })
    }

    pub fn images(&self) -> Result<&ImageStore> {
        if let Some(i) = self.images.get() {
            return Ok(i);
        }
        let i = ImageStore::open(&self.root)?;
        Ok(self.images.get_or_init(|| i))
    }

    /// Keep the WAL of each database this process has open short (`metadb::tidy_wal`),
    /// where nobody waits for it: the next process to open one alone reads its whole WAL.
    pub fn tidy_databases(&self) {
        self.store.tidy();
        if let Some(i) = self.images.get() {
            i.index.tidy();
        }
        let nets = self.nets.lock().ok().and_then(|n| n.clone());
        if let Some(m) = nets {
            m.tidy();
        }
    }

    /// The state root's trash: what a removal moved aside for later (see `image::trash`).
    pub fn trash(&self) -> image::trash::Trash {
        image::trash::Trash::of_root(&self.root)
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn monitor_dir(&self, id: &str) -> PathBuf {
        self.run_root.join("containers").join(id)
    }

    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.monitor_dir(id).join("attach.sock")
    }

    pub fn lock_path(&self, id: &str) -> PathBuf {
        self.monitor_dir(id).join("monitor.lock")
    }
}

impl crate::events::Journal for Engine {
    fn run_root(&self) -> &Path {
        &self.run_root
    }
}
