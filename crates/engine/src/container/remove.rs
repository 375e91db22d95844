//! `docker rename` and `docker rm`.

use crate::container::leftovers::Leftovers;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use crate::types::Status;
use crate::{names, volumes};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

impl Engine {
    pub fn rename(&self, key: &str, new: &str) -> Result<()> {
        let c = self.find_reconciled(key)?;
        if !names::valid_container_name(new) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if c.short_name() == new {
            return Err(Error::Conflict(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        self.store.rename(&c.id, new)?;
        let names = [("name", new.to_string()), ("oldName", c.name.clone())];
        crate::events::container(self, &c, "rename", &names);
        Ok(())
    }

    /// docker rm [-f] [-v].
    pub fn remove(&self, key: &str, force: bool, remove_volumes: bool) -> Result<()> {
        self.remove_into(key, force, remove_volumes, &mut Leftovers::new(self))
    }

    /// [`Engine::remove`], what can wait left in `later` (see [`Engine::destroy_into`]).
    pub fn remove_into(
        &self,
        key: &str,
        force: bool,
        remove_volumes: bool,
        later: &mut Leftovers,
    ) -> Result<()> {
        let c = self.find_reconciled(key)?;
        if c.state.status.is_live() {
            if !force {
                return Err(Error::Conflict(if c.state.status == Status::Paused {
                    format!("You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove", c.id)
                } else {
                    format!("You cannot remove a running container {}. Stop the container before attempting removal or force remove", c.id)
                }));
            }
            self.store.update(&c.id, |c| {
                c.internal.manually_stopped = true;
                c.internal.removing = true;
            })?;
            fault::point("rm.marked");
            let _ = self.runtime.kill(&c.id, Signal::SIGKILL, true);
            let _ = self.runtime.resume(&c.id);
            self.wait_not_live(&c.id, Duration::from_secs(30))?;
        }
        // the monitor records the exit before it unmounts and says goodbye to its clients: let
        // it finish, so nothing of the container outlives its removal
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.monitor_alive(&c.id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let c = self.store.get(&c.id)?.unwrap_or(c);
        self.destroy_into(&c, remove_volumes, later)
    }

    /// Remove every trace of a stopped container: runtime state, cgroup, rootfs, dirs, record.
    pub fn destroy(&self, c: &Container, remove_volumes: bool) -> Result<()> {
        self.destroy_into(c, remove_volumes, &mut Leftovers::new(self))
    }

    /// [`Engine::destroy`], its directories, host veths and runtime state left in `later` for
    /// the caller to clear when nobody waits for it; the container is gone for everyone on
    /// return.
    pub fn destroy_into(
        &self,
        c: &Container,
        remove_volumes: bool,
        later: &mut Leftovers,
    ) -> Result<()> {
        // (its processes are gone: its runtime state and cgroups may go after the record)
        later.add_runtime_state(&c.id);
        // (none, host, container:X join no network: nothing to release)
        if !crate::net::is_special(&c.host_config.network_mode) {
            if let Ok(m) = self.networks() {
                if let Ok(links) = m.release_stopped_container(&c.id) {
                    later.add_links(links);
                }
            }
        }
        fault::point("destroy.runtime-deleted");
        self.unmount_rootfs(c);
        fault::mark("destroy.unmounted");
        if let Ok(i) = self.images() {
            fault::mark("destroy.images-opened");
            match i.remove_snapshot_into(&c.id, later.trash()) {
                Ok(()) => {}
                Err(image::Error::Snapshot(..)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        fault::mark("destroy.snapshot-deleted");
        let _ = later.trash().take(&self.monitor_dir(&c.id));
        let dir = self.container_dir(&c.id);
        later.trash().take(&dir)?;
        fault::point("destroy.snapshot-removed");
        self.store.remove(&c.id)?;
        crate::events::container(self, c, "destroy", &[]);
        if remove_volumes {
            for v in &c.internal.anonymous_volumes {
                if let Err(e) = volumes::remove(&self.store, &self.root, v, true) {
                    // in use by another container: keep it, as docker does
                    if !matches!(e, Error::Conflict(_)) {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}
