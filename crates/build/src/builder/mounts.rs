//! RUN `--mount`s: what each brings into the step's container, and what must never reach the
//! step's layer (the mounts' contents, and the empty mountpoints the runtime made for them).
//!
//! - `cache`: a directory of the state root (`build-mounts/`) kept across builds, keyed by
//!   `id` (default the target); `sharing=locked` holds a lock for the step, `private` takes a
//!   fresh directory when another step holds it; `from`/`source` seed a new cache.
//! - `bind`: a copy of the source (the build context minus `.dockerignore`d files, or a path of
//!   a stage or an image), read-only unless `rw` (whose writes are then thrown away). The copy
//!   is made only when the step runs ([`Builder::fill_binds`]): a cache hit needs its hash.
//! - `tmpfs`, `secret` (a file in a private tmpfs-backed directory, `0400` by default, or an
//!   environment variable), `ssh` (the agent socket given with `--ssh`).
//!
//! A step's cache key includes the mounts as written and the content of bound sources, never a
//! secret's value.

use super::{invalid, step_err, Builder};
use crate::parser::{Instruction, MountType, RunMount, Sharing};
use engine::engine::Engine;
use engine::types::{MountSpec, TmpfsOptions};
use engine::Result;
use image::rootfd::Root;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};

/// A build secret's value (`--secret id=ID,src=FILE|env=VAR`); never printed.
#[derive(Clone, Default)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The cache mounts' directory in the state root.
pub(super) fn cache_root(engine: &Engine) -> PathBuf {
    engine.root.join("build-mounts")
}

/// The files the engine mounts in every container (its own hostname, hosts and resolv.conf):
/// where the image has none the runtime makes them, as for a mount's target.
const ENGINE_FILES: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// What a RUN step's mounts became; [`StepMounts::release`] undoes what is temporary.
#[derive(Default)]
pub(super) struct StepMounts {
    pub(super) specs: Vec<MountSpec>,
    /// variables for the step's process only (secrets as env, SSH_AUTH_SOCK)
    pub(super) env: Vec<String>,
    /// the part of the step's cache key that stands for the mounts
    pub(super) key: String,
    /// mount targets (container paths) that did not exist in the image, deepest last
    stubs: Vec<String>,
    /// the image's directories stubs are made in (not stubs themselves, not `/`): mode, uid, gid
    stub_parents: Vec<(String, (u32, u32, u32))>,
    containers: Vec<String>,
    /// bind sources to copy (to the path, where their mount's source is) if the step runs
    pending: Vec<(PathBuf, BindSource)>,
    tmp: Vec<PathBuf>,
    locks: Vec<nix::fcntl::Flock<File>>,
}

/// Where a bind mount's copy comes from.
enum BindSource {
    /// the build context's `rel`, at `path`
    Context { rel: String, path: PathBuf },
    /// the mount's `source` in its `from` stage or image
    Stage(RunMount),
}

fn hex(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> engine::Error {
    invalid(format!("{what} {}: {e}", p.display()))
}

/// `p` made absolute against the step's working directory.
fn absolute(p: &str, workdir: &str) -> String {
    let p = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", workdir.trim_end_matches('/'))
    };
    engine::volumes::clean(&p)
}

impl StepMounts {
    /// Remove the temporary copies and helper containers, and let go of the locks.
    pub(super) fn release(&mut self, engine: &Engine) {
        for c in self.containers.drain(..) {
            let _ = engine.remove(&c, true, true);
        }
        for t in self.tmp.drain(..) {
            let _ = std::fs::remove_dir_all(&t);
        }
        self.locks.clear();
    }

    /// Note the mount targets (and parents) missing in the step's rootfs (its container
    /// created, not started), the engine's own files' too: the runtime will make them.
    pub(super) fn find_stubs(&mut self, rootfs: &Path) {
        let targets = self.specs.iter().map(|s| s.target.as_str());
        self.stubs = missing_paths(rootfs, targets.chain(ENGINE_FILES));
        let Ok(r) = Root::open(rootfs) else { return };
        for stub in &self.stubs {
            let parent = stub.rsplit_once('/').map_or("", |(p, _)| p);
            if parent.is_empty()
                || self.stubs.iter().any(|s| s == parent)
                || self.stub_parents.iter().any(|(p, _)| p == parent)
            {
                continue;
            }
            let Some((dir, name)) = dir_of(&r, parent) else {
                continue;
            };
            if let Some(st) = stat_at(&dir, name) {
                let meta = (st.st_mode, st.st_uid, st.st_gid);
                self.stub_parents.push((parent.to_string(), meta));
            }
        }
    }

    pub(super) fn has_stubs(&self) -> bool {
        !self.stubs.is_empty()
    }

    /// Remove from the step's changes (its overlay's upper dir, or its copied rootfs, at `root`)
    /// the mountpoints the runtime made for mounts whose target was not in the image, when they
    /// are still empty: they are not the step's doing and must not be in its layer. Not being
    /// in the image, they are plain new entries of an upper dir (no whiteouts to leave).
    ///
    /// In an upper dir (`upper`), the image's directory a stub was made in (`/etc` for
    /// `/etc/hosts`) was copied up only to hold it: it goes too when it is left empty, is not
    /// opaque and has the image's mode and owner, as BuildKit's and docker's layers do not
    /// have it. (An entry the step made there and removed again leaves no trace either; it
    /// would only have changed the directory's mtime.)
    pub(super) fn remove_stubs(&self, root: &Path, upper: bool) {
        let Ok(r) = Root::open(root) else { return };
        for stub in self.stubs.iter().rev() {
            let Some((dir, name)) = dir_of(&r, stub) else {
                continue;
            };
            let Some(st) = stat_at(&dir, name) else {
                continue;
            };
            let flag = match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => libc::AT_REMOVEDIR,
                libc::S_IFREG if st.st_size == 0 => 0,
                _ => continue,
            };
            let Ok(cname) = std::ffi::CString::new(name) else {
                continue;
            };
            // SAFETY: a valid fd and a NUL-terminated name; unlinkat acts on the name relative
            // to the directory fd (rmdir refuses a directory that is not empty).
            unsafe { libc::unlinkat(dir.as_raw_fd(), cname.as_ptr(), flag) };
        }
        if upper {
            for (parent, meta) in &self.stub_parents {
                remove_copied_up_dir(&r, parent, *meta);
            }
        }
    }
}

/// The directory holding `path` (a container path, `/a/b`), opened inside the root, and the
/// last name of `path`.
fn dir_of<'p>(r: &Root, path: &'p str) -> Option<(std::os::fd::OwnedFd, &'p str)> {
    let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = r
        .open_path(if parent.is_empty() { "/" } else { parent }, false)
        .ok()?;
    Some((dir, name))
}

/// `name` in `dir`, not followed.
fn stat_at(dir: &impl AsRawFd, name: &str) -> Option<libc::stat> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd, a NUL-terminated name and a stat buffer of the right size.
    let ok = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } == 0;
    ok.then_some(st)
}

/// Remove the upper dir's copy of the image's directory `path` when it only held stubs: empty
/// now, not opaque, with the image's mode and owner `meta`.
fn remove_copied_up_dir(r: &Root, path: &str, meta: (u32, u32, u32)) {
    let Some((dir, name)) = dir_of(r, path) else {
        return;
    };
    let Some(st) = stat_at(&dir, name) else {
        return;
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR || (st.st_mode, st.st_uid, st.st_gid) != meta {
        return;
    }
    let Ok(d) = r.open_path(path, false) else {
        return;
    };
    // the directory itself through its O_PATH fd (getxattr follows the magic link)
    let (Ok(at), Ok(opaque)) = (
        std::ffi::CString::new(format!("/proc/self/fd/{}", d.as_raw_fd())),
        std::ffi::CString::new(image::overlay_xattr::opaque_name()),
    ) else {
        return;
    };
    // SAFETY: NUL-terminated path and name; a zero-sized query writes nothing.
    let n = unsafe { libc::getxattr(at.as_ptr(), opaque.as_ptr(), std::ptr::null_mut(), 0) };
    if n >= 0 {
        return;
    }
    let Ok(cname) = std::ffi::CString::new(name) else {
        return;
    };
    // SAFETY: as in remove_stubs; rmdir refuses a directory that is not empty.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cname.as_ptr(), libc::AT_REMOVEDIR) };
}

impl Builder<'_> {
    /// The mounts of a RUN step; `workdir` makes relative targets absolute.
    pub(super) fn step_mounts(
        &self,
        ins: &Instruction,
        mounts: &[RunMount],
        workdir: &str,
    ) -> Result<StepMounts> {
        let mut out = StepMounts::default();
        let r = (|| {
            for (n, m) in mounts.iter().enumerate() {
                self.one_mount(ins, m, n, workdir, &mut out)?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            out.release(self.engine);
            return Err(e);
        }
        Ok(out)
    }

    fn one_mount(
        &self,
        ins: &Instruction,
        m: &RunMount,
        n: usize,
        workdir: &str,
        out: &mut StepMounts,
    ) -> Result<()> {
        out.key.push_str(&format!("{m:?}\n"));
        let target = m.target.as_deref().map(|t| absolute(t, workdir));
        let (source, readonly) = match m.kind {
            MountType::Tmpfs => {
                out.specs.push(MountSpec {
                    kind: "tmpfs".into(),
                    target: target.unwrap_or_default(),
                    tmpfs_options: m.size.map(|s| TmpfsOptions {
                        size_bytes: s as i64,
                        mode: 0,
                    }),
                    ..Default::default()
                });
                return Ok(());
            }
            MountType::Cache => (self.cache_dir(ins, m, out)?, m.readonly),
            MountType::Bind => {
                let (dir, hash) = self.bind_source(ins, m, out)?;
                out.key.push_str(&hash);
                (dir, m.readonly)
            }
            MountType::Secret => match self.secret_file(ins, m, out)? {
                Some(p) => (p, true),
                None => return Ok(()),
            },
            MountType::Ssh => {
                let id = m.id.as_deref().unwrap_or("default");
                let Some(sock) = self.opts.ssh.get(id) else {
                    if m.required {
                        return Err(step_err(ins, &format!("no SSH key {id:?} forwarded from the client (use --ssh {id}[=SOCKET])")));
                    }
                    return Ok(());
                };
                let t = target
                    .clone()
                    .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{n}"));
                out.env.push(format!("SSH_AUTH_SOCK={t}"));
                out.specs.push(bind(sock.display().to_string(), t, false));
                return Ok(());
            }
        };
        let t = match (m.kind, target) {
            (_, Some(t)) => t,
            (MountType::Secret, None) => {
                format!("/run/secrets/{}", m.id.as_deref().unwrap_or_default())
            }
            (_, None) => return Err(step_err(ins, "mount needs a target")),
        };
        out.specs
            .push(bind(source.display().to_string(), t, readonly));
        Ok(())
    }

    /// A cache mount's directory (made with `mode`/`uid`/`gid`, or seeded from `from`).
    fn cache_dir(&self, ins: &Instruction, m: &RunMount, out: &mut StepMounts) -> Result<PathBuf> {
        let id =
            m.id.clone()
                .or_else(|| m.target.clone())
                .unwrap_or_default();
        // --no-cache: this build's own caches, as BuildKit's (removed when the build ends)
        let base = match self.opts.no_cache {
            false => cache_root(self.engine),
            true => self.fresh_caches(),
        };
        std::fs::create_dir_all(&base).map_err(|e| io_err("create", &base, e))?;
        let dir = base.join(hex(&id));
        let lock_path = base.join(format!("{}.lock", hex(&id)));
        let lock = File::create(&lock_path).map_err(|e| io_err("create", &lock_path, e))?;
        let dir = match m.sharing {
            Sharing::Shared => dir,
            Sharing::Locked => {
                let l = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
                    .map_err(|(_, e)| invalid(format!("lock cache {id}: {e}")))?;
                out.locks.push(l);
                dir
            }
            Sharing::Private => {
                match nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                    Ok(l) => {
                        out.locks.push(l);
                        dir
                    }
                    // in use: a fresh one, for this step only
                    Err(_) => {
                        let d = base.join(format!("private-{}", engine::names::random_id()));
                        out.tmp.push(d.clone());
                        d
                    }
                }
            }
        };
        if !dir.exists() {
            let new = base.join(format!("new-{}", engine::names::random_id()));
            let made = (|| {
                if m.from.is_some() {
                    self.copy_from_stage(ins, m, &new, out)?;
                } else {
                    std::fs::create_dir(&new).map_err(|e| io_err("create", &new, e))?;
                }
                let mode = m.mode.unwrap_or(0o755);
                std::fs::set_permissions(&new, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| io_err("chmod", &new, e))?;
                chown(&new, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
                    .map_err(|e| io_err("chown", &new, e))?;
                std::fs::rename(&new, &dir).map_err(|e| io_err("create", &dir, e))
            })();
            if let Err(e) = made {
                let _ = std::fs::remove_dir_all(&new);
                // another build made it first: use theirs
                if !dir.is_dir() {
                    return Err(e);
                }
            }
        }
        Ok(dir)
    }

    /// Copy the bind mounts' sources (a step that runs: after its cache lookup missed).
    pub(super) fn fill_binds(&self, ins: &Instruction, out: &mut StepMounts) -> Result<()> {
        for (dst, src) in std::mem::take(&mut out.pending) {
            fault::mark("build.bind-source-copied");
            match src {
                BindSource::Context { rel, path } => copy_context(self.ctx, &rel, &path, &dst)?,
                BindSource::Stage(m) => {
                    self.copy_from_stage(ins, &m, &dst, out)?;
                }
            }
        }
        Ok(())
    }

    /// Where a bind mount's source will be copied (by [`Builder::fill_binds`]), and what
    /// stands for its content in the step's key: the context's hash, or the image's id.
    fn bind_source(
        &self,
        ins: &Instruction,
        m: &RunMount,
        out: &mut StepMounts,
    ) -> Result<(PathBuf, String)> {
        let tmp = self.step_tmp(out)?;
        let dst = tmp.join("src");
        if let Some(from) = &m.from {
            let img = self.image_of(ins, from)?;
            out.pending
                .push((dst.clone(), BindSource::Stage(m.clone())));
            return Ok((dst, img));
        }
        let src = m.source.as_deref().unwrap_or(".");
        let found = self.ctx.resolve(src).map_err(|e| {
            step_err(
                ins,
                &e.to_string()
                    .replace("COPY failed", "failed to mount source"),
            )
        })?;
        let Some((rel, path)) = found.into_iter().next() else {
            return Err(step_err(ins, &format!("mount source {src} not found")));
        };
        let hash = self.ctx.hash(&[(rel.clone(), path.clone())]);
        out.pending
            .push((dst.clone(), BindSource::Context { rel, path }));
        Ok((dst, hash))
    }

    /// `source` of stage or image `from`, copied (owners kept) as `dst` (a directory's content
    /// below it, a file as it); the image id.
    fn copy_from_stage(
        &self,
        ins: &Instruction,
        m: &RunMount,
        dst: &Path,
        out: &mut StepMounts,
    ) -> Result<String> {
        let from = m.from.as_deref().unwrap_or_default();
        let (img, c) = self.container_of(ins, from)?;
        out.containers.push(c.clone());
        let src = m.source.as_deref().unwrap_or("/");
        let tar_path = self.step_tmp(out)?.join("from.tar");
        let f = File::create(&tar_path).map_err(|e| io_err("create", &tar_path, e))?;
        let (Some(parent), Some(name)) = (dst.parent(), dst.file_name()) else {
            return Err(invalid(format!("no place to copy to: {}", dst.display())));
        };
        // named as `dst` in the tar: a file source is a file (an empty name is only for the
        // content of a directory)
        let name = name.to_string_lossy();
        self.engine
            .archive_get_as(&c, src, true, Some(&name), std::io::BufWriter::new(f))
            .map_err(|e| step_err(ins, &format!("mount source {src} of {from}: {e}")))?;
        std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
        let f = File::open(&tar_path).map_err(|e| io_err("open", &tar_path, e))?;
        let mut a = tar::Archive::new(std::io::BufReader::new(f));
        a.set_preserve_ownerships(true);
        a.set_preserve_permissions(true);
        a.set_overwrite(true);
        for e in a.entries().map_err(|e| io_err("read", &tar_path, e))? {
            let mut e = e.map_err(|e| io_err("read", &tar_path, e))?;
            e.unpack_in(parent)
                .map_err(|e| io_err("extract into", parent, e))?;
        }
        Ok(img)
    }

    /// A secret's file (a private copy, owner and mode as asked); None when not given and not
    /// required. `env=` puts it in the step's environment instead (and as a file only with a
    /// target).
    fn secret_file(
        &self,
        ins: &Instruction,
        m: &RunMount,
        out: &mut StepMounts,
    ) -> Result<Option<PathBuf>> {
        let id =
            m.id.clone()
                .or_else(|| {
                    m.target
                        .as_deref()
                        .and_then(|t| t.rsplit('/').next())
                        .map(str::to_string)
                })
                .unwrap_or_default();
        let Some(secret) = self.opts.secrets.get(&id) else {
            if m.required {
                return Err(step_err(
                    ins,
                    &format!("secret {id} not found (give it with --secret id={id},src=FILE)"),
                ));
            }
            return Ok(None);
        };
        if let Some(var) = &m.env {
            out.env
                .push(format!("{var}={}", String::from_utf8_lossy(&secret.0)));
            if m.target.is_none() {
                return Ok(None);
            }
        }
        let dir = self.step_tmp(out)?;
        let p = dir.join("secret");
        std::fs::write(&p, &secret.0).map_err(|e| io_err("write", &p, e))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m.mode.unwrap_or(0o400)))
            .map_err(|e| io_err("chmod", &p, e))?;
        chown(&p, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))
            .map_err(|e| io_err("chown", &p, e))?;
        Ok(Some(p))
    }

    /// Where a `--no-cache` build keeps its cache mounts.
    pub(super) fn fresh_caches(&self) -> PathBuf {
        cache_root(self.engine).join(format!("nocache-{}", self.build_id))
    }

    /// A private (0700) temporary directory for this step.
    fn step_tmp(&self, out: &mut StepMounts) -> Result<PathBuf> {
        let base = self.engine.root.join("tmp");
        std::fs::create_dir_all(&base).map_err(|e| io_err("create", &base, e))?;
        let d = base.join(format!("run-mount-{}", engine::names::random_id()));
        std::fs::create_dir(&d).map_err(|e| io_err("create", &d, e))?;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("chmod", &d, e))?;
        out.tmp.push(d.clone());
        Ok(d)
    }
}

fn bind(source: String, target: String, readonly: bool) -> MountSpec {
    MountSpec {
        kind: "bind".into(),
        source,
        target,
        read_only: readonly,
        ..Default::default()
    }
}

/// The context's `rel` (at `path`) copied to `dst` without what `.dockerignore` excludes;
/// symlinks are copied as links, never followed.
fn copy_context(ctx: &crate::context::Context, rel: &str, path: &Path, dst: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(path).map_err(|e| io_err("stat", path, e))?;
    if !md.is_dir() {
        std::fs::create_dir_all(dst).map_err(|e| io_err("create", dst, e))?;
        let name = path.file_name().unwrap_or_default();
        return copy_entry(path, &dst.join(name));
    }
    std::fs::create_dir_all(dst).map_err(|e| io_err("create", dst, e))?;
    let mut err = None;
    ctx.walk(path, rel, &mut |r, p| {
        let sub = r
            .strip_prefix(rel)
            .unwrap_or(r)
            .trim_start_matches('/')
            .to_string();
        if err.is_none() {
            err = copy_entry(p, &dst.join(sub)).err();
        }
    });
    err.map_or(Ok(()), Err)
}

fn copy_entry(src: &Path, dst: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(src).map_err(|e| io_err("stat", src, e))?;
    let t = md.file_type();
    if t.is_dir() {
        std::fs::create_dir_all(dst).map_err(|e| io_err("create", dst, e))?;
    } else if t.is_symlink() {
        let to = std::fs::read_link(src).map_err(|e| io_err("readlink", src, e))?;
        std::os::unix::fs::symlink(to, dst).map_err(|e| io_err("symlink", dst, e))?;
        return Ok(());
    } else if t.is_file() {
        std::fs::copy(src, dst).map_err(|e| io_err("copy to", dst, e))?;
    } else {
        return Ok(());
    }
    std::fs::set_permissions(dst, md.permissions()).map_err(|e| io_err("chmod", dst, e))
}

/// Of the `targets` (and their parents), the paths missing in the rootfs at `root`, parents
/// before children.
fn missing_paths<'a>(root: &Path, targets: impl Iterator<Item = &'a str>) -> Vec<String> {
    let Ok(r) = Root::open(root) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for t in targets {
        let mut path = String::new();
        for c in t.split('/').filter(|c| !c.is_empty()) {
            path.push('/');
            path.push_str(c);
            if r.open_path(&path, false).is_err() && !out.contains(&path) {
                out.push(path.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_made_absolute_and_clean() {
        assert_eq!(absolute("cache", "/app"), "/app/cache");
        assert_eq!(absolute("/x/./y/", "/app"), "/x/y");
        assert_eq!(absolute("a", "/"), "/a");
    }

    #[test]
    fn missing_paths_lists_parents_first_and_only_missing_ones() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("run")).unwrap();
        let m = missing_paths(d.path(), ["/run/secrets/tok", "/run/secrets/b"].into_iter());
        assert_eq!(m, ["/run/secrets", "/run/secrets/tok", "/run/secrets/b"]);
    }

    #[test]
    fn stubs_go_only_when_empty() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("run/secrets")).unwrap();
        std::fs::write(d.path().join("run/secrets/tok"), "").unwrap();
        std::fs::create_dir_all(d.path().join("cache")).unwrap();
        std::fs::write(d.path().join("cache/kept"), "x").unwrap();
        let m = StepMounts {
            stubs: vec![
                "/run/secrets".into(),
                "/run/secrets/tok".into(),
                "/cache".into(),
            ],
            ..Default::default()
        };
        m.remove_stubs(d.path(), false);
        assert!(!d.path().join("run/secrets").exists());
        assert!(d.path().join("run").exists());
        assert!(d.path().join("cache/kept").exists());
    }

    #[test]
    fn a_parent_copied_up_for_stubs_goes_only_when_left_as_the_image_had_it() {
        use std::os::unix::fs::MetadataExt;
        let meta_of = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.mode(), m.uid(), m.gid())
        };
        for (extra, chmod, kept) in [
            (false, false, false),
            (true, false, true),
            (false, true, true),
        ] {
            let d = tempfile::tempdir().unwrap();
            let etc = d.path().join("etc");
            std::fs::create_dir(&etc).unwrap();
            let meta = meta_of(&etc);
            std::fs::write(etc.join("hosts"), "").unwrap();
            if extra {
                std::fs::write(etc.join("made-by-the-step"), "x").unwrap();
            }
            if chmod {
                std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o700)).unwrap();
            }
            let m = StepMounts {
                stubs: vec!["/etc/hosts".into()],
                stub_parents: vec![("/etc".into(), meta)],
                ..Default::default()
            };
            m.remove_stubs(d.path(), true);
            assert!(!etc.join("hosts").exists());
            assert_eq!(etc.exists(), kept, "extra {extra}, chmod {chmod}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret(b"hunter2".to_vec())), "Secret(..)");
    }
}
