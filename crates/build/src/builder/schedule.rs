//! Which stages a build needs and in what order they can run: a stage depends on the stage it
//! is built FROM, the stages it COPYs from and the stages its RUN steps mount from. Stages with
//! no dependency between them form a wave and are built at the same time.

use crate::parser::{parse_mount, Dockerfile, Kind};
use std::collections::BTreeSet;

/// The earlier stages stage `i` uses.
pub(super) fn deps(df: &Dockerfile, i: usize) -> BTreeSet<usize> {
    let st = &df.stages[i];
    let mut names: Vec<&str> = vec![st.base.as_str()];
    let mut mount_froms = Vec::new();
    for ins in &st.instructions {
        match &ins.kind {
            Kind::Copy { from: Some(f), .. } => names.push(f),
            Kind::Run { flags, .. } => {
                for (k, v) in flags {
                    if k == "mount" {
                        if let Some(f) = parse_mount(v).ok().and_then(|m| m.from) {
                            mount_froms.push(f);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    names
        .into_iter()
        .chain(mount_froms.iter().map(String::as_str))
        .filter_map(|n| df.stage_index(n).filter(|j| *j < i))
        .collect()
}

/// The stages the target needs: itself and, transitively, the stages it uses.
pub(super) fn needed_stages(df: &Dockerfile, target: usize) -> BTreeSet<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if need.insert(i) {
            todo.extend(deps(df, i));
        }
    }
    need
}

/// The stages whose layers the target's image is made of: the target and, transitively, the
/// stage each is built FROM. The other stages a build needs are only copied or mounted from:
/// their layers may be kept without blobs (see `image::kept`).
pub(super) fn image_stages(df: &Dockerfile, target: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut next = Some(target);
    while let Some(i) = next.take() {
        if out.insert(i) {
            next = df.stage_index(&df.stages[i].base).filter(|j| *j < i);
        }
    }
    out
}

/// The needed stages in waves: each wave's stages use only stages of earlier waves.
pub(super) fn waves(df: &Dockerfile, need: &BTreeSet<usize>) -> Vec<Vec<usize>> {
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < need.len() {
        let wave: Vec<usize> = need
            .iter()
            .copied()
            .filter(|i| !done.contains(i) && deps(df, *i).is_subset(&done))
            .collect();
        if wave.is_empty() {
            // cannot happen (dependencies point to earlier stages); never loop forever
            out.push(need.iter().copied().filter(|i| !done.contains(i)).collect());
            break;
        }
        done.extend(wave.iter().copied());
        out.push(wave);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_stages_share_a_wave() {
        let df = crate::parse(
            "FROM busybox AS a\nRUN a\nFROM busybox AS b\nRUN b\nFROM busybox AS c\n\
             RUN --mount=type=bind,from=b,target=/b true\nFROM a\nCOPY --from=c /x /x\n\
             FROM busybox AS unused\n",
            "Dockerfile",
        )
        .unwrap();
        let need = needed_stages(&df, 3);
        assert_eq!(need, BTreeSet::from([0, 1, 2, 3]));
        assert_eq!(waves(&df, &need), vec![vec![0, 1], vec![2], vec![3]]);
        // the target is built FROM a, which it takes its layers from; b and c are only used
        assert_eq!(image_stages(&df, 3), BTreeSet::from([0, 3]));
        assert_eq!(image_stages(&df, 2), BTreeSet::from([2]));
    }
}
