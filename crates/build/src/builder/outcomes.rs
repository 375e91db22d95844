//! The stages' images as they are built, shared by the threads that build them. Every stage a
//! build needs starts at once; a stage that uses another (FROM it, COPY --from, RUN
//! --mount=from) waits for that one where it uses it, not for a whole wave of stages: the
//! target's `COPY --from=a` runs while an unrelated stage b is still building.

use super::{invalid, Builder};
use engine::{Error, Result};
use image::Image;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};

/// What became of a stage (one per stage: the size of an `Image` does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Outcome {
    /// Its image (None: FROM scratch with nothing in it).
    Built(Option<Image>),
    Failed,
}

/// What a stage that waited for another got.
#[allow(clippy::large_enum_variant)]
pub(super) enum Waited {
    Built(Option<Image>),
    /// The stage failed: its own error is the build's.
    Failed,
    /// The build does not build that stage.
    NotBuilt,
}

/// The error of a stage whose dependency failed: the build reports the dependency's own.
pub(super) const DEPENDENCY_FAILED: &str = "a stage this one uses failed";

#[derive(Default)]
pub(super) struct Outcomes {
    scheduled: BTreeSet<usize>,
    done: Mutex<BTreeMap<usize, Outcome>>,
    changed: Condvar,
}

impl Outcomes {
    /// For a build of `stages`.
    pub(super) fn new(stages: &BTreeSet<usize>) -> Outcomes {
        Outcomes {
            scheduled: stages.clone(),
            ..Default::default()
        }
    }

    /// Stage `si` is done: `Some(image)` built, `None` failed.
    pub(super) fn set(&self, si: usize, built: Option<Option<Image>>) {
        let outcome = built.map_or(Outcome::Failed, Outcome::Built);
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(si, outcome);
        self.changed.notify_all();
    }

    /// Stage `si`'s outcome, once it has one. Callers wait only for earlier stages (a stage
    /// uses only earlier ones), so no two stages wait for each other.
    pub(super) fn wait(&self, si: usize) -> Waited {
        if !self.scheduled.contains(&si) {
            return Waited::NotBuilt;
        }
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match done.get(&si) {
                Some(Outcome::Built(img)) => return Waited::Built(img.clone()),
                Some(Outcome::Failed) => return Waited::Failed,
                None => done = self.changed.wait(done).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

impl Builder<'_> {
    /// The image of stage `j` (None: scratch), an earlier stage, once it is built.
    pub(super) fn stage_image(&self, j: usize) -> Result<Option<Image>> {
        match self.results.wait(j) {
            Waited::Built(img) => Ok(img),
            Waited::Failed => Err(invalid(DEPENDENCY_FAILED)),
            Waited::NotBuilt => Err(invalid(format!(
                "stage {} is not built before this one",
                self.df.stages[j].name.as_deref().unwrap_or("?")
            ))),
        }
    }
}

/// The error of a build whose stages failed with `errs`: the first stage's own, not a
/// stage's that only waited for a failed one.
pub(super) fn build_error(mut errs: Vec<Error>) -> Option<Error> {
    let own = errs.iter().position(|e| e.to_string() != DEPENDENCY_FAILED);
    let i = own.or((!errs.is_empty()).then_some(0))?;
    Some(errs.swap_remove(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiter_gets_the_outcome_set_later_and_unscheduled_stages_are_not_waited_for() {
        let o = Arc::new(Outcomes::new(&BTreeSet::from([0, 1])));
        assert!(matches!(o.wait(5), Waited::NotBuilt));
        let o2 = o.clone();
        let waiter = std::thread::spawn(move || matches!(o2.wait(0), Waited::Built(None)));
        std::thread::sleep(std::time::Duration::from_millis(20));
        o.set(0, Some(None));
        assert!(waiter.join().unwrap());
        o.set(1, None);
        assert!(matches!(o.wait(1), Waited::Failed));
    }
}
