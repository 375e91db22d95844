//! What removing a stopped container may leave for later, when someone waits for the removal
//! (the `run --rm` caller, an API `wait?condition=removed`): its directories, moved into the
//! state root's trash in one rename each (removing them costs a journal transaction per
//! directory), and its host veths (unregistering a network device waits for RCU grace
//! periods). Both are done by [`Leftovers::clear`], or when it is dropped; a process killed
//! first leaves the trash to the next sweep and the veths to the kernel, which removes them
//! with the container's network namespace.

use crate::engine::Engine;
use image::trash::Trash;

pub struct Leftovers<'e> {
    engine: &'e Engine,
    trash: Trash,
    links: Vec<String>,
}

impl<'e> Leftovers<'e> {
    pub fn new(engine: &'e Engine) -> Leftovers<'e> {
        Leftovers {
            engine,
            trash: engine.trash(),
            links: Vec::new(),
        }
    }

    pub fn trash(&self) -> &Trash {
        &self.trash
    }

    /// Host veths to delete later (see `network::Manager::release_stopped_container`).
    pub fn add_links(&mut self, links: Vec<String>) {
        self.links.extend(links);
    }

    /// Remove it all now.
    pub fn clear(&mut self) {
        let links = std::mem::take(&mut self.links);
        if !links.is_empty() {
            if let Ok(m) = self.engine.networks() {
                let _ = m.delete_host_links(&links);
            }
        }
        let _ = self.trash.empty();
        // and what processes killed before their clear left
        let _ = self.trash.sweep();
    }
}

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}
