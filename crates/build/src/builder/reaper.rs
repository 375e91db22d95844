//! The removal of the containers of the RUN steps that worked, behind the build: a thread of
//! its own (with an engine of its own: a store connection is not shared) removes each once its
//! layer is committed, while the next steps run. Removing one costs tens of ms (the runtime's
//! state, the network's endpoint, the overlay unmounted, the dirs and the record), most of it
//! waiting on the kernel; the build no longer waits for it step by step, only at its end: the
//! containers are still all gone before the build answers (as dockerd's), the reaper is joined
//! when the builder goes.
//!
//! A build killed meanwhile leaves the containers it had not removed yet, as a kill during a
//! step leaves that step's: stopped containers `berth rm` (and `container prune`) remove.

use engine::engine::Engine;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

#[derive(Default)]
pub(super) struct Reaper {
    worker: Option<(Sender<String>, JoinHandle<()>)>,
}

impl Reaper {
    /// Remove container `id` of `engine` (stopped, its layer committed), soon.
    pub(super) fn remove(&mut self, engine: &Engine, id: String) {
        if self.worker.is_none() {
            let (tx, rx) = channel::<String>();
            let root = engine.root.clone();
            let spawned = std::thread::Builder::new()
                .name("build-reaper".into())
                .spawn(move || {
                    let engine = Engine::open(&root).ok();
                    for id in rx {
                        if let Some(e) = &engine {
                            let _ = e.remove(&id, true, true);
                        }
                    }
                });
            match spawned {
                Ok(h) => self.worker = Some((tx, h)),
                // no thread: removed here and now
                Err(_) => {
                    let _ = engine.remove(&id, true, true);
                    return;
                }
            }
        }
        if let Some((tx, _)) = &self.worker {
            let _ = tx.send(id);
        }
    }

    /// Wait until every container handed over is removed.
    pub(super) fn finish(&mut self) {
        if let Some((tx, h)) = self.worker.take() {
            drop(tx);
            let _ = h.join();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.finish();
    }
}
