//! Finding containers, and reconciliation: the explicit step that makes the store true again
//! after berth processes were killed or the host rebooted.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use std::os::fd::AsRawFd;
use std::path::Path;

impl Engine {
    /// Find a container by id, id prefix or name, as stored: a lookup never changes anything.
    pub fn find(&self, key: &str) -> Result<Container> {
        self.store.find(key)
    }

    /// Every container as stored, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = self.store.all()?;
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// `find`, then `reconcile`: the container as it really is now (what every command that
    /// acts on or shows a container's state looks it up with). A --rm container whose monitor
    /// died is removed here and reported as not found.
    pub fn find_reconciled(&self, key: &str) -> Result<Container> {
        let c = self.find(key)?;
        let id = c.id.clone();
        self.reconcile(c)?.ok_or(Error::NoSuchContainer(id))
    }

    /// `list`, then `reconcile` on each: every container as it really is now (--rm
    /// containers whose monitor died are removed and left out).
    pub fn list_reconciled(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for c in self.list()? {
            match self.reconcile(c) {
                Ok(Some(c)) => out.push(c),
                // removed meanwhile, or a --rm container whose monitor died
                Ok(None) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `reconcile` every container (before a step that trusts the store's view of which
    /// containers exist and run, such as volume prune).
    pub fn reconcile_all(&self) -> Result<()> {
        self.list_reconciled().map(drop)
    }

    /// Is the container's monitor alive? It holds an exclusive lock for as long as it lives.
    pub fn monitor_alive(&self, id: &str) -> bool {
        let Ok(f) = std::fs::File::open(self.lock_path(id)) else {
            return false;
        };
        // SAFETY: flock on an fd we own.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        r != 0
    }

    /// A container whose monitor died (killed, or the host rebooted) is recorded as exited:
    /// its process, if still alive, is killed (nothing could collect its output or exit code),
    /// its cgroup and runtime state are removed and its rootfs unmounted.
    ///
    /// A container that is not live but has runtime state lost its monitor in the middle of a
    /// start (a monitor removes that state whenever a start fails or a process exits): its
    /// init, or even its process, is left with nobody to collect it. It is killed and its
    /// network released, and the record stays as it was (created or exited).
    ///
    /// Returns the container as recorded afterwards, or None when it was a --rm container and
    /// is now removed. A container whose monitor is alive is returned unchanged.
    pub fn reconcile(&self, c: Container) -> Result<Option<Container>> {
        let live = c.state.status.is_live();
        let orphan = !live && self.runtime.has_state(&c.id);
        if !(live || orphan) || self.monitor_alive(&c.id) {
            return Ok(Some(c));
        }
        if orphan {
            let _ = self.runtime.delete(&c.id, true);
            crate::net::teardown(self, &c);
            self.unmount_rootfs(&c);
            return Ok(Some(c));
        }
        let mut killed = false;
        if let Ok(st) = self.runtime.load(&c.id) {
            if runtime::util::process_alive(st.pid, st.pid_start) {
                killed = true;
            }
            let _ = self.runtime.delete(&c.id, true);
        }
        self.unmount_rootfs(&c);
        crate::net::teardown(self, &c);
        if c.host_config.auto_remove {
            // --rm: nobody is left to remove it but us (its volatile layer cannot be mounted
            // again after a crash anyway)
            let _ = self.destroy(&c, true);
            return Ok(None);
        }
        self.store
            .update(&c.id, |c| c.state.set_monitor_lost(killed))
            .map(Some)
    }

    pub fn unmount_rootfs(&self, c: &Container) {
        let p = Path::new(&c.internal.rootfs);
        if c.driver == "overlay2" && image::snapshot::is_mountpoint(p) {
            let _ = image::snapshot::unmount(p);
        }
        // a shareable container's /dev/shm (containers that joined it keep their binds)
        let shm = self.shm_dir(&c.id);
        if image::snapshot::is_mountpoint(&shm) {
            let _ = image::snapshot::unmount(&shm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::now;
    use crate::types::Status;

    /// A container recorded as running whose monitor is gone (never started here).
    fn orphaned(e: &Engine, id: &str, auto_remove: bool) {
        let mut c = Container {
            id: id.into(),
            name: format!("/{id}"),
            created: now(),
            ..Default::default()
        };
        c.state.set_running(1);
        c.host_config.auto_remove = auto_remove;
        e.store.insert(&c).unwrap();
    }

    #[test]
    fn lookups_never_change_state_reconcile_does() {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(dir.path()).unwrap();
        orphaned(&e, "aaaa0001", false);
        orphaned(&e, "bbbb0002", true);

        // find and list report what is stored, however stale, and leave it so
        assert_eq!(e.find("aaaa0001").unwrap().state.status, Status::Running);
        assert_eq!(e.list().unwrap().len(), 2);
        assert_eq!(e.find("bbbb0002").unwrap().state.status, Status::Running);

        // the reconciling lookups make it true: exited with 255, and --rm removed
        let c = e.find_reconciled("aaaa0001").unwrap();
        assert_eq!(
            (c.state.status, c.state.exit_code, c.state.pid),
            (Status::Exited, 255, 0)
        );
        let all = e.list_reconciled().unwrap();
        assert_eq!(
            all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["aaaa0001"]
        );
        assert!(matches!(e.find("bbbb0002"), Err(Error::NoSuchContainer(_))));
        assert_eq!(e.find("aaaa0001").unwrap().state.status, Status::Exited);
    }
}
