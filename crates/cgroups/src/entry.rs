//! How a container's first process enters its cgroup without its parent writing the pid to
//! `cgroup.procs`.
//!
//! Moving a whole process (a `cgroup.procs` write, v1 or v2) takes the kernel's global
//! threadgroup lock for writing, and taking it waits for an RCU grace period: 5-15 ms on a
//! quiet 2-CPU VM, more under load, on every container start (measured: a parent writing a
//! child's pid into nine v1 hierarchies, 10-11 ms median; the child writing `0` into their
//! `tasks` files, 0.2-2 ms). A single thread moving itself does not take that lock, and a
//! process cloned straight into a cgroup never needs moving. So:
//! - v1: the new process, still single-threaded, writes `0` (itself) to each hierarchy's
//!   `tasks` file, opened by the parent and handed to it (the kernel checks the opener's
//!   rights): [`Entry::tasks`] in the parent, [`Entry::from_tasks`] in the process;
//! - v2 (a pure v2 host, or the unified hierarchy of a hybrid one): the process is cloned into
//!   the cgroup (`clone3` with `CLONE_INTO_CGROUP`); where that is not possible the parent
//!   writes the pid as before ([`Entry::apply_v2`]).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The cgroup's handles for its first process, opened by the runtime before it clones it.
#[derive(Debug, Default)]
pub struct Entry {
    /// Each v1 hierarchy's `tasks` file, open for writing.
    tasks: Vec<(PathBuf, File)>,
    /// The v2 cgroup directory.
    v2: Option<V2Dir>,
}

#[derive(Debug)]
struct V2Dir {
    path: PathBuf,
    fd: OwnedFd,
    /// A pure v2 host's cgroup (a failure is an error), not a hybrid host's unified hierarchy
    /// (a failure is a warning, as when the runtime writes the pid there).
    required: bool,
}

impl Entry {
    /// Opens the `tasks` file of every v1 hierarchy directory; None if one cannot be opened
    /// (not a real cgroupfs, e.g. the fake trees of tests: the runtime then uses `apply`).
    pub(crate) fn v1(dirs: &[&Path], unified: Option<&Path>) -> Option<Entry> {
        let mut tasks = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if crate::fs::is_fake(dir) {
                return None;
            }
            let path = dir.join("tasks");
            let f = std::fs::OpenOptions::new().write(true).open(&path).ok()?;
            tasks.push((path, f));
        }
        let v2 = unified.and_then(|u| V2Dir::open(u, false));
        Some(Entry { tasks, v2 })
    }

    /// A hybrid host's unified hierarchy directory alone (see
    /// `CgroupManager::create_clone_target`); None if it is not a cgroup2 directory.
    pub(crate) fn unified(dir: &Path) -> Option<Entry> {
        Some(Entry {
            tasks: Vec::new(),
            v2: Some(V2Dir::open(dir, false)?),
        })
    }

    /// The v1 hierarchies' `tasks` files (path, fd), to hand to the new process.
    pub fn tasks(&self) -> impl Iterator<Item = (&Path, RawFd)> {
        self.tasks.iter().map(|(p, f)| (p.as_path(), f.as_raw_fd()))
    }

    /// In the new process: the `tasks` files its parent handed over ([`tasks`](Self::tasks)),
    /// for [`join_v1`](Self::join_v1).
    pub fn from_tasks(tasks: Vec<(PathBuf, File)>) -> Entry {
        Entry { tasks, v2: None }
    }

    /// A pure v2 host's cgroup directory; None if it is not a cgroup2 directory.
    pub(crate) fn v2(dir: &Path) -> Option<Entry> {
        let v2 = Some(V2Dir::open(dir, true)?);
        Some(Entry {
            tasks: Vec::new(),
            v2,
        })
    }

    /// The v2 directory's fd, for `clone3`'s `cgroup` with `CLONE_INTO_CGROUP`.
    pub fn v2_fd(&self) -> Option<RawFd> {
        self.v2.as_ref().map(|d| d.fd.as_raw_fd())
    }

    /// In the new process (single-threaded): moves itself into every v1 hierarchy. An error
    /// names the file. (The files are close-on-exec.)
    pub fn join_v1(&self) -> Result<()> {
        for (path, f) in &self.tasks {
            (&*f).write_all(b"0").map_err(|source| Error::Write {
                path: path.clone(),
                value: "0".into(),
                source,
            })?;
        }
        Ok(())
    }

    /// In the runtime, when the process could not be cloned into the v2 cgroup: moves `pid`
    /// there by writing it to `cgroup.procs` (a hybrid host's unified hierarchy: a warning).
    pub fn apply_v2(&self, pid: i32) -> Result<()> {
        let Some(d) = &self.v2 else { return Ok(()) };
        match crate::fs::write(&d.path, "cgroup.procs", &pid.to_string()) {
            Err(e) if !d.required => {
                crate::warn(&format!("hybrid unified hierarchy: {e}"));
                Ok(())
            }
            r => r,
        }
    }
}

impl V2Dir {
    fn open(path: &Path, required: bool) -> Option<V2Dir> {
        let st = nix::sys::statfs::statfs(path).ok()?;
        if st.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return None;
        }
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
            .ok()?;
        Some(V2Dir {
            path: path.to_path_buf(),
            fd: dir.into(),
            required,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_tree_has_no_entry() {
        let d = crate::tests_fake::TempDir::new("entry");
        std::fs::write(d.0.join("tasks"), "").unwrap();
        assert!(Entry::v1(&[&d.0], None).is_none());
        assert!(Entry::v2(&d.0).is_none());
    }
}
