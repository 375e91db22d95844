//! The removal of what the steps that worked leave, behind the build: the containers of the RUN
//! steps and the builder's own snapshots (a COPY's source and destination). A thread of its own
//! (with an engine of its own: a store connection is not shared) removes each once its step is
//! committed, while the next steps run. Removing one costs tens of ms (a container's runtime
//! state, its network's endpoint; the overlay unmounted, the dirs and the record: a journal
//! transaction per directory on a busy ext4), most of it waiting on the kernel; the build no
//! longer waits for it step by step, only at its end: all of it is gone before the build
//! answers (as dockerd's containers), the reaper is joined when the builder goes.
//!
//! A build killed meanwhile leaves the containers it had not removed yet, as a kill during a
//! step leaves that step's: stopped containers `berth rm` (and `container prune`) remove; and
//! its snapshots, which the next build or `builder prune` sweeps (see `snap`).

use engine::engine::Engine;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

/// What the reaper removes.
enum Job {
    Container(String),
    Snapshot(String),
}

impl Job {
    fn run(self, engine: &Engine) {
        match self {
            Job::Container(id) => {
                let _ = engine.remove(&id, true, true);
            }
            Job::Snapshot(id) => {
                if let Ok(images) = engine.images() {
                    let _ = images.remove_snapshot(&id);
                }
            }
        }
    }
}

#[derive(Default)]
pub(super) struct Reaper {
    worker: Option<(Sender<Job>, JoinHandle<()>)>,
}

/// A handle on a reaper for what is removed later (a snapshot dropped by the step that made it).
pub(super) struct Remover(Option<Sender<Job>>);

impl Remover {
    /// Remove snapshot `id` soon; false when there is no reaper (remove it now).
    pub(super) fn snapshot(&self, id: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|tx| tx.send(Job::Snapshot(id.to_string())).is_ok())
    }
}

impl Reaper {
    /// The worker's queue, started on first use; None when no thread can be made.
    fn queue(&mut self, engine: &Engine) -> Option<&Sender<Job>> {
        if self.worker.is_none() {
            let (tx, rx) = channel::<Job>();
            let root = engine.root.clone();
            let spawned = std::thread::Builder::new()
                .name("build-reaper".into())
                .spawn(move || {
                    let engine = Engine::open(&root).ok();
                    for job in rx {
                        if let Some(e) = &engine {
                            job.run(e);
                        }
                    }
                });
            self.worker = Some((tx, spawned.ok()?));
        }
        self.worker.as_ref().map(|(tx, _)| tx)
    }

    /// Remove container `id` of `engine` (stopped, its layer committed), soon.
    pub(super) fn remove(&mut self, engine: &Engine, id: String) {
        let job = Job::Container(id);
        match self.queue(engine) {
            Some(tx) => {
                if let Err(e) = tx.send(job) {
                    e.0.run(engine);
                }
            }
            // no thread: removed here and now
            None => job.run(engine),
        }
    }

    /// A handle removing later with this reaper.
    pub(super) fn remover(&mut self, engine: &Engine) -> Remover {
        Remover(self.queue(engine).cloned())
    }

    /// Wait until everything handed over is removed.
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
