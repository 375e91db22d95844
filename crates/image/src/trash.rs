//! Directories removed later: moved aside in one rename (microseconds) by whoever must make
//! them disappear now, deleted by the same process when nobody waits for it. Removing a
//! directory tree costs a journal transaction per directory on ext4 (1-5 ms each on a busy
//! disk), which a `run --rm` would otherwise wait for.
//!
//! An entry is named `<pid>-<random>`: a process killed before it emptied its entries leaves
//! them to [`Trash::sweep`], which removes those of processes no longer alive.

use crate::error::{IoContext, Result};
use crate::store::random_suffix;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Trash {
    dir: PathBuf,
    moved: Mutex<Vec<PathBuf>>,
}

impl Trash {
    /// The trash of state root `root` (its directory is created on first use).
    pub fn of_root(root: &Path) -> Trash {
        Trash::new(root.join("trash"))
    }

    /// The trash directory `dir` (created on first use), on the filesystem of what it takes.
    pub fn new(dir: PathBuf) -> Trash {
        Trash {
            dir,
            moved: Mutex::new(Vec::new()),
        }
    }

    /// Make `path` (a directory or a file) disappear from where it is: renamed into the
    /// trash, or removed at once where it cannot be (another filesystem). Missing is fine.
    pub fn take(&self, path: &Path) -> Result<()> {
        if fs::symlink_metadata(path).is_err() {
            return Ok(());
        }
        let entry = self
            .dir
            .join(format!("{}-{}", std::process::id(), random_suffix()));
        let renamed = fs::rename(path, &entry).or_else(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.dir)?;
                fs::rename(path, &entry)
            }
            _ => Err(e),
        });
        match renamed {
            Ok(()) => {
                self.moved.lock().unwrap().push(entry);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(_) => remove(path),
        }
    }

    /// Remove what this process moved in.
    pub fn empty(&self) -> Result<()> {
        let moved = std::mem::take(&mut *self.moved.lock().unwrap());
        moved.iter().try_for_each(|p| remove(p))
    }

    /// Remove the entries of processes that are gone (killed before they emptied them).
    /// Returns how many.
    pub fn sweep(&self) -> Result<usize> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Ok(0);
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name();
            let owner = name
                .to_str()
                .and_then(|n| n.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok());
            let alive = owner.is_some_and(|pid| pid == std::process::id() || alive(pid));
            if !alive {
                remove(&e.path())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Drop for Trash {
    fn drop(&mut self) {
        let _ = self.empty();
    }
}

/// A process `pid` exists and is not a zombie (a killed one its parent has not reaped yet).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // "pid (comm) S ...": the state follows the last ')'
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn remove(p: &Path) -> Result<()> {
    let r = match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => return Ok(()),
    };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).ctx(|| format!("remove {}", p.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_paths_vanish_at_once_and_are_removed_by_empty_or_drop() {
        let d = tempfile::tempdir().unwrap();
        let t = Trash::new(d.path().join("trash"));
        let a = d.path().join("a");
        fs::create_dir_all(a.join("b/c")).unwrap();
        fs::write(a.join("b/f"), b"x").unwrap();
        let f = d.path().join("file");
        fs::write(&f, b"y").unwrap();
        t.take(&a).unwrap();
        t.take(&f).unwrap();
        t.take(&d.path().join("missing")).unwrap();
        assert!(!a.exists() && !f.exists());
        assert_eq!(fs::read_dir(d.path().join("trash")).unwrap().count(), 2);
        t.empty().unwrap();
        assert_eq!(fs::read_dir(d.path().join("trash")).unwrap().count(), 0);
        fs::create_dir(&a).unwrap();
        t.take(&a).unwrap();
        drop(t);
        assert_eq!(fs::read_dir(d.path().join("trash")).unwrap().count(), 0);
    }

    #[test]
    fn sweep_removes_only_entries_of_dead_processes() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("trash");
        let t = Trash::new(dir.clone());
        let mine = d.path().join("mine");
        fs::create_dir(&mine).unwrap();
        t.take(&mine).unwrap();
        // pid 0 never names a process; a name without a pid is nobody's
        fs::create_dir_all(dir.join("0-dead/x")).unwrap();
        fs::create_dir_all(dir.join("garbage")).unwrap();
        assert_eq!(t.sweep().unwrap(), 2);
        let left: Vec<_> = fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "the live process's entry stays");
    }
}
