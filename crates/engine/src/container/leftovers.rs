//! What removing a stopped container may leave for later, when someone waits for the removal
//! (the `run --rm` caller, an API `wait?condition=removed`): its directories, moved into the
//! state root's trash in one rename each (removing them costs a journal transaction per
//! directory), its host veths (unregistering a network device waits for RCU grace periods) and
//! its runtime state and cgroups (a cgroup's removal waits for its controllers to let go). All
//! go in [`Leftovers::clear`], or when it is dropped. A process killed first leaves the veths
//! to the kernel, which removes them with the container's network namespace, and the rest to
//! the next clear: the trash entries of a dead process are evidence of it, and then the runtime
//! states of containers no longer recorded are deleted too.

use crate::engine::Engine;
use image::trash::Trash;

pub struct Leftovers<'e> {
    engine: &'e Engine,
    trash: Trash,
    links: Vec<String>,
    runtime_states: Vec<String>,
}

impl<'e> Leftovers<'e> {
    pub fn new(engine: &'e Engine) -> Leftovers<'e> {
        Leftovers {
            engine,
            trash: engine.trash(),
            links: Vec::new(),
            runtime_states: Vec::new(),
        }
    }

    pub fn trash(&self) -> &Trash {
        &self.trash
    }

    /// Host veths to delete later (see `network::Manager::release_stopped_container`).
    pub fn add_links(&mut self, links: Vec<String>) {
        self.links.extend(links);
    }

    /// The runtime state (and cgroups) of a removed container, whose processes are gone.
    pub fn add_runtime_state(&mut self, id: &str) {
        self.runtime_states.push(id.to_string());
    }

    /// Remove it all now.
    pub fn clear(&mut self) {
        for id in std::mem::take(&mut self.runtime_states) {
            let _ = self.engine.runtime.delete(&id, true);
        }
        let links = std::mem::take(&mut self.links);
        if !links.is_empty() {
            if let Ok(m) = self.engine.networks() {
                let _ = m.delete_host_links(&links);
            }
        }
        let _ = self.trash.empty();
        // and what processes killed before their clear left
        if self.trash.sweep().is_ok_and(|n| n > 0) {
            self.delete_unrecorded_runtime_states();
        }
    }

    /// Delete the runtime state of every container the store no longer records (its record
    /// goes before its runtime state; records are made before runtime states).
    fn delete_unrecorded_runtime_states(&self) {
        for id in self.engine.runtime.state_ids() {
            if matches!(self.engine.store.get(&id), Ok(None)) {
                let _ = self.engine.runtime.delete(&id, true);
            }
        }
    }
}

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}
