//! COPY and ADD: one [`CopyRequest`]; the files (from the context, another stage or an image)
//! are put into a snapshot of the current image (no container), whose changes are the layer:
//! each read by an fd opened inside its own root, its data copied into the snapshot by the
//! kernel (`image::layer::Putter`).

use super::cache::cache_key;
use super::run::{base_host, container, layer_from, scratch_image};
use super::snap::Snap;
use super::state::State;
use super::{invalid, step_err, Builder};
use crate::expand::expand;
use crate::ignore::Ignore;
use crate::parser::{CopyFlags, Heredoc, Instruction, Kind};
use engine::engine::Engine;
use engine::Result;
use image::layer::{Content, Meta, Putter};
use image::rootfd::{Node, Root};
use image::Image;
use serde_json::Map;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A COPY or ADD as written. ADD is COPY that also extracts local archives (and refuses
/// URLs), without --from.
pub(super) struct CopyRequest<'a> {
    is_add: bool,
    srcs: &'a [String],
    dest: &'a str,
    from: Option<&'a str>,
    chown: Option<&'a str>,
    chmod: Option<&'a str>,
    heredocs: &'a [Heredoc],
    opts: &'a CopyFlags,
}

impl<'a> CopyRequest<'a> {
    /// The request of a COPY or ADD instruction; `None` for any other.
    pub(super) fn of(kind: &'a Kind) -> Option<CopyRequest<'a>> {
        match kind {
            Kind::Copy {
                srcs,
                dest,
                from,
                chown,
                chmod,
                heredocs,
                opts,
            } => Some(CopyRequest {
                is_add: false,
                srcs,
                dest,
                from: from.as_deref(),
                chown: chown.as_deref(),
                chmod: chmod.as_deref(),
                heredocs,
                opts,
            }),
            Kind::Add {
                srcs,
                dest,
                chown,
                chmod,
                heredocs,
                opts,
            } => Some(CopyRequest {
                is_add: true,
                srcs,
                dest,
                from: None,
                chown: chown.as_deref(),
                chmod: chmod.as_deref(),
                heredocs,
                opts,
            }),
            _ => None,
        }
    }

    fn what(&self) -> &'static str {
        if self.is_add {
            "ADD"
        } else {
            "COPY"
        }
    }
}

/// A request's words with the stage's variables expanded.
struct Expanded {
    sources: Vec<String>,
    dest: String,
    chown: Option<String>,
    chmod: Option<u32>,
}

/// Where the files come from: the context's (relative name, host path), or the nodes of
/// another stage's or an image's rootfs (a snapshot of it, removed when dropped).
#[derive(Default)]
struct Sources<'e> {
    /// `--from`'s image id, and a snapshot of it once the step runs
    from_image: Option<String>,
    from_snap: Option<Snap<'e>>,
    /// the part of the cache key that stands for the content
    hash_part: String,
    files: Vec<(String, PathBuf)>,
    from_nodes: Vec<(String, Node)>,
    /// `--parents`: the path each of `files` keeps below the destination
    kept: Vec<String>,
    /// `--exclude` patterns
    exclude: Ignore,
}

impl Builder<'_> {
    fn expand_copy(&self, ins: &Instruction, req: &CopyRequest) -> Result<Expanded> {
        let dest = self.ex(ins, req.dest)?;
        let chown = req.chown.map(|c| self.ex(ins, c)).transpose()?;
        let chmod = req
            .chmod
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .map_err(|_| step_err(ins, &format!("invalid chmod value {m}")))
            })
            .transpose()?;
        let mut sources = Vec::new();
        for src in req.srcs {
            sources.extend(self.ex_words(ins, src)?);
        }
        Ok(Expanded {
            sources,
            dest,
            chown,
            chmod,
        })
    }

    /// COPY or ADD.
    pub(super) fn copy(&mut self, ins: &Instruction, req: &CopyRequest, args: &str) -> Result<()> {
        let x = self.expand_copy(ins, req)?;
        let what = req.what();
        check_remote(req, &x.sources)?;
        let exclude = crate::ignore::parse(&req.opts.exclude.join("\n"));
        let mut src = match req.from {
            // the image is the content's key; its files are resolved only if the step runs
            Some(f) => {
                let img_id = self.image_of(ins, f)?;
                Sources {
                    hash_part: img_id.clone(),
                    from_image: Some(img_id),
                    ..Sources::default()
                }
            }
            None => {
                let mut src = Sources::default();
                for s in &x.sources {
                    for (rel, p) in self.ctx.resolve(s)? {
                        let base = rel.rsplit('/').next().unwrap_or_default();
                        if exclude.excluded(&rel) || exclude.excluded(base) {
                            continue;
                        }
                        src.kept.push(kept_path(s, &rel));
                        src.files.push((rel, p));
                    }
                }
                src.hash_part.push_str(&self.ctx.hash(&src.files));
                src
            }
        };
        src.hash_part.push_str(&format!("{:?}", req.opts));
        src.exclude = exclude;
        for h in req.heredocs {
            src.hash_part.push_str(&h.name);
            src.hash_part.push_str(&h.content);
        }
        let key = cache_key(
            &self.stage.id(),
            &format!(
                "{what} {:?} {} {:?} {:?}",
                x.sources, x.dest, x.chown, x.chmod
            ),
            &format!("{}\n{args}", src.hash_part),
        );
        if self.cached(&key) {
            return Ok(());
        }
        if let Some(img_id) = src.from_image.clone() {
            let reaper = &mut self.reaper;
            sources_from(self.engine, reaper, what, &img_id, &x.sources, &mut src)?;
        }
        let base = match &self.stage.image {
            Some(i) => i.id().to_string(),
            None => scratch_image(self.engine)?,
        };
        let dest = Snap::of(self.engine, &base, &mut self.reaper)?;
        let img = self.copy_into(ins, req, &x, &mut src, dest)?;
        self.done(&key, img);
        Ok(())
    }

    /// A container (created, never started; its own config empty: workdir /, user root) of
    /// stage or image `f`: (the image id, the container id).
    pub(super) fn container_of(&self, ins: &Instruction, f: &str) -> Result<(String, String)> {
        let engine = self.engine;
        let img_id = self.image_of(ins, f)?;
        let tmp = State {
            image: Some(engine.images()?.get(&img_id)?),
            config: Map::new(),
            args: BTreeMap::new(),
            global: BTreeMap::new(),
            keep_layers: false,
        };
        let c = container(engine, &tmp, base_host(self.opts), None, vec![], true)?;
        Ok((img_id, c))
    }

    /// The image id of stage or image `f` (a stage built before this step).
    pub(super) fn image_of(&self, ins: &Instruction, f: &str) -> Result<String> {
        let engine = self.engine;
        Ok(match self.df.stage_index(f) {
            Some(j) => match self.results.get(&j) {
                Some(Some(i)) => i.id().to_string(),
                Some(None) => scratch_image(engine)?,
                None => {
                    return Err(step_err(
                        ins,
                        &format!("stage {f} is not built before this one"),
                    ))
                }
            },
            None => engine
                .images()?
                .get(f)
                .map_err(|_| {
                    step_err(
                        ins,
                        &format!(
                            "invalid from flag value {f}: no such image (berth builds offline)"
                        ),
                    )
                })?
                .id()
                .to_string(),
        })
    }

    /// Writes the sources into snapshot `c` of the stage's image and makes its changes the
    /// layer.
    fn copy_into(
        &self,
        ins: &Instruction,
        req: &CopyRequest,
        x: &Expanded,
        src: &mut Sources,
        c: Snap,
    ) -> Result<Image> {
        let engine = self.engine;
        let what = req.what();
        let root = c.root().to_path_buf();
        let (uid, gid) = match &x.chown {
            Some(u) => {
                let (u, g, _) = engine::spec::resolve_user(&root, u, &[])?;
                (u as u64, g as u64)
            }
            None => (0, 0),
        };
        let dest = x.dest.as_str();
        let abs = if dest.starts_with('/') {
            dest.to_string()
        } else {
            format!("{}/{dest}", self.stage.workdir())
        };
        let dest_root = Root::open(&root)
            .map_err(|e| invalid(format!("{what}: open {}: {e}", root.display())))?;
        let dest_dir_like = dest.ends_with('/')
            || req.opts.parents
            || dest == "."
            || src.files.len() + src.from_nodes.len() + req.heredocs.len() > 1
            || src.files.iter().any(|(rel, _)| rel.contains(['*', '?']))
            || dest_root.node(&abs, true).is_ok_and(|n| n.is_dir());
        // written as `docker cp` would into a container (owners kept, whiteouts applied),
        // every name created relative to the root's fd; file data copied by the kernel
        let apply = image::layer::ApplyOptions {
            whiteouts: image::layer::WhiteoutMode::Apply,
            allow_devices: image::layer::running_as_root(),
            chown: true,
        };
        let top = dest_root
            .top()
            .and_then(|n| n.open_dir())
            .map_err(|e| invalid(format!("{what}: open {}: {e}", root.display())))?;
        let mut t = Put {
            p: Putter::new(top.into(), &apply),
            made: BTreeSet::new(),
            dest_root: &dest_root,
            uid,
            gid,
            chmod: x.chmod,
            what,
            dest: engine::volumes::clean(&abs),
            dest_dir_like,
        };
        t.start()?;
        // every source as a node (the context's by its host path, the user's own files;
        // another stage's resolved in its root), read by fds
        let mut srcs: Vec<(String, Node, Option<&Path>)> = Vec::new();
        for (rel, host) in &src.files {
            let n = Node::open_host(host)
                .map_err(|e| invalid(format!("{what}: {}: {e}", host.display())))?;
            srcs.push((rel.clone(), n, Some(host.as_path())));
        }
        srcs.extend(src.from_nodes.drain(..).map(|(rel, n)| (rel, n, None)));
        for (i, (rel, node, host)) in srcs.iter().enumerate() {
            let kept = match src.kept.get(i) {
                Some(k) if req.opts.parents => Some(k.as_str()),
                _ => None,
            };
            if node.is_dir() {
                let mut entries = self.dir_entries(what, rel, node, *host)?;
                entries.retain(|(sub, _)| !src.exclude.excluded(sub));
                t.dir_under(kept.unwrap_or(""), entries)?;
            } else if let Some(host) = host.filter(|h| req.is_add && is_archive(h)) {
                t.archive(host)?;
            } else if let Some(k) = kept {
                t.kept(k, node)?;
            } else {
                t.single(rel, node)?;
            }
        }
        for h in req.heredocs {
            let content = if h.expand {
                expand(&h.body(), &|k| self.stage.lookup(k), self.df.escape)
                    .unwrap_or_else(|_| h.body())
            } else {
                h.body()
            };
            t.heredoc(&h.name, &content)?;
        }
        // the putter holds the root's fd: done with it before layer_from unmounts the rootfs
        let Put { p, .. } = t;
        p.finish()?;
        // nothing of ours may hold the rootfs: layer_from unmounts it to keep its upper dir
        drop(dest_root);
        layer_from(
            engine,
            &self.stage,
            c.id(),
            &format!(
                "/bin/sh -c #(nop) {} {}",
                what,
                ins.original.split_once(' ').map(|x| x.1).unwrap_or("")
            ),
            true,
        )
    }

    /// Everything in a directory source, relative to it: the context's as the context lists it
    /// (.dockerignore applied), another stage's all of it.
    fn dir_entries(
        &self,
        what: &str,
        rel: &str,
        node: &Node,
        host: Option<&Path>,
    ) -> Result<Vec<(String, Node)>> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        match host {
            None => walk_all(node, "", &mut entries),
            Some(host) => {
                let mut paths = Vec::new();
                self.ctx.walk(host, rel, &mut |r, p| {
                    let sub = r
                        .strip_prefix(rel)
                        .unwrap_or(r)
                        .trim_start_matches('/')
                        .to_string();
                    paths.push((sub, p.to_path_buf()));
                });
                for (sub, p) in paths {
                    let n = Node::open_host(&p)
                        .map_err(|e| invalid(format!("{what}: {}: {e}", p.display())))?;
                    entries.push((sub, n));
                }
            }
        }
        Ok(entries)
    }
}

/// What a COPY/ADD writes into the step's rootfs: the destination's missing parents, then the
/// sources with the requested owner and mode.
struct Put<'r> {
    p: Putter<'r>,
    /// directories already in the tar
    made: BTreeSet<String>,
    dest_root: &'r Root,
    uid: u64,
    gid: u64,
    chmod: Option<u32>,
    what: &'static str,
    /// the destination, absolute and clean
    dest: String,
    /// the destination is a directory the sources go into (else: the one file's new name)
    dest_dir_like: bool,
}

impl Put<'_> {
    /// The destination (as a directory) or its parent.
    fn start(&mut self) -> Result<()> {
        if self.dest_dir_like {
            self.parents(&self.dest.clone(), true)
        } else if let Some((parent, _)) = self.dest.clone().rsplit_once('/') {
            self.parents(parent, false)
        } else {
            Ok(())
        }
    }

    /// Directory entries for the parts of `path` missing in the rootfs; `own`: the last one
    /// gets the requested owner.
    fn parents(&mut self, path: &str, own: bool) -> Result<()> {
        let mut cur = String::new();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for (i, p) in parts.iter().enumerate() {
            cur = format!("{cur}/{p}");
            if self.made.contains(&cur) {
                continue;
            }
            let exists = self.dest_root.node(&cur, true).is_ok();
            if !exists {
                let last = i + 1 == parts.len();
                let (uid, gid) = if own && last {
                    (self.uid, self.gid)
                } else {
                    (0, 0)
                };
                let meta = Meta {
                    mode: 0o755,
                    uid,
                    gid,
                    ..Meta::default()
                };
                self.p.put(cur.as_bytes(), &meta, Content::Dir)?;
            }
            self.made.insert(cur.clone());
        }
        Ok(())
    }

    /// One file, directory or symlink as `name` (other kinds are left out); its data copied
    /// from file to file, by the kernel.
    fn file(&mut self, node: &Node, name: &str) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let what = self.what;
        let md = &node.md;
        let meta = Meta {
            mode: self.chmod.unwrap_or(md.mode()) & 0o7777,
            uid: self.uid,
            gid: self.gid,
            mtime: md.mtime().max(0) as u64,
            xattrs: Vec::new(),
        };
        let name = name.as_bytes();
        let shown =
            |e: std::io::Error| invalid(format!("{what}: {}: {e}", String::from_utf8_lossy(name)));
        if md.is_dir() {
            self.p.put(name, &meta, Content::Dir)?;
        } else if md.file_type().is_symlink() {
            let t = node.read_link().map_err(shown)?;
            let t = t.as_os_str().as_encoded_bytes();
            self.p.put(name, &meta, Content::Symlink(t))?;
        } else if md.is_file() {
            let f = node.open_file().map_err(shown)?;
            self.p.put(name, &meta, Content::File(&f, md.len()))?;
        }
        Ok(())
    }

    /// A directory source: its content goes into the destination (with `--parents`, into
    /// the path `under` it keeps there).
    fn dir_under(&mut self, under: &str, entries: Vec<(String, Node)>) -> Result<()> {
        let dest = match under {
            "" => self.dest.clone(),
            u => format!("{}/{u}", self.dest.trim_end_matches('/')),
        };
        self.parents(&dest, true)?;
        for (sub, n) in entries {
            self.file(&n, &format!("{dest}/{sub}"))?;
        }
        Ok(())
    }

    /// ADD of a local archive: its content is extracted into the destination (its entries
    /// moved there in a tar of their own, then put).
    fn archive(&mut self, host: &Path) -> Result<()> {
        let dest = self.dest.clone();
        self.parents(&dest, true)?;
        let add = |e: std::io::Error| invalid(format!("ADD: {e}"));
        let f = std::fs::File::open(host).map_err(add)?;
        let r = image::layer::decompress(f).map_err(|e| invalid(format!("ADD: {e}")))?;
        let mut a = tar::Archive::new(r);
        let mut b = tar::Builder::new(Vec::new());
        for e in a.entries().map_err(add)? {
            let mut e = e.map_err(add)?;
            let name = e.path().map_err(add)?.to_string_lossy().into_owned();
            let mut h = e.header().clone();
            let target = format!(
                "{}/{}",
                dest.trim_end_matches('/'),
                name.trim_start_matches("./")
            );
            if let Ok(Some(l)) = e.link_name() {
                let l = l.into_owned();
                b.append_link(&mut h, target.trim_start_matches('/'), l)
                    .map_err(add)?;
            } else {
                b.append_data(&mut h, target.trim_start_matches('/'), &mut e)
                    .map_err(add)?;
            }
        }
        let moved = b.into_inner().map_err(add)?;
        let mut moved = tar::Archive::new(std::io::Cursor::new(moved));
        Ok(image::layer::put_entries(&mut self.p, &mut moved)?)
    }

    /// Where a source named `name` goes: into the destination directory, or as the destination.
    fn target(&self, name: &str) -> String {
        if self.dest_dir_like {
            format!("{}/{name}", self.dest.trim_end_matches('/'))
        } else {
            self.dest.clone()
        }
    }

    /// A file (or link) source.
    fn single(&mut self, rel: &str, node: &Node) -> Result<()> {
        let base = Path::new(rel)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = self.target(&base);
        self.file(node, &target)
    }

    /// `--parents`: a file source at the path `kept` below the destination.
    fn kept(&mut self, kept: &str, node: &Node) -> Result<()> {
        let target = format!("{}/{kept}", self.dest.trim_end_matches('/'));
        if let Some((parent, _)) = target.rsplit_once('/') {
            self.parents(parent, true)?;
        }
        self.file(node, &target)
    }

    /// A here-document as a file.
    fn heredoc(&mut self, name: &str, content: &str) -> Result<()> {
        let target = self.target(name);
        let meta = Meta {
            mode: self.chmod.unwrap_or(0o644) & 0o7777,
            uid: self.uid,
            gid: self.gid,
            ..Meta::default()
        };
        let mut data = content.as_bytes();
        Ok(self
            .p
            .put(target.as_bytes(), &meta, Content::Data(&mut data))?)
    }
}

/// The sources of `COPY --from`: resolved in the rootfs of a snapshot of its image
/// `img_id`. As BuildKit, a source that is a symlink is followed, inside that rootfs: an
/// absolute or `..` target never leaves it.
fn sources_from<'e>(
    engine: &'e Engine,
    reaper: &mut super::reaper::Reaper,
    what: &str,
    img_id: &str,
    sources: &[String],
    out: &mut Sources<'e>,
) -> Result<()> {
    let snap = Snap::of(engine, img_id, reaper)?;
    // resolved and opened inside the stage's rootfs (openat2 RESOLVE_IN_ROOT), read by fds
    let src_root = Root::open(snap.root());
    out.from_snap = Some(snap);
    for src in sources {
        let Some(node) = src_root.as_ref().ok().and_then(|r| r.node(src, true).ok()) else {
            return Err(invalid(format!(
                "{what} failed: stat {src}: file does not exist"
            )));
        };
        out.from_nodes
            .push((src.trim_start_matches('/').to_string(), node));
    }
    Ok(())
}

/// ADD's remote sources: berth builds offline, so URLs and git repositories are refused by
/// name; `--checksum` is for remote sources only, as BuildKit says.
fn check_remote(req: &CopyRequest, sources: &[String]) -> Result<()> {
    for src in sources {
        let git = src.starts_with("git@") || src.ends_with(".git") || src.contains(".git#");
        if req.is_add && git {
            return Err(invalid(format!(
                "ADD failed: cannot clone git repository {src}: berth builds offline (clone it into the build context and COPY it)"
            )));
        }
        if req.is_add && (src.starts_with("http://") || src.starts_with("https://")) {
            return Err(invalid(format!(
                "ADD failed: failed to GET {src}: berth builds offline and cannot download URLs (fetch the file into the build context and ADD it from there)"
            )));
        }
    }
    if req.opts.checksum.is_some() {
        return Err(invalid(
            "ADD failed: checksum can't be specified for non-HTTP(S) sources",
        ));
    }
    Ok(())
}

/// `--parents`: the path a context source keeps below the destination: all of it, or what
/// follows a `/./` pivot in the source as written.
fn kept_path(written: &str, rel: &str) -> String {
    match written.split_once("/./") {
        Some((pivot, _)) => {
            let pivot = engine::volumes::clean(pivot);
            let pivot = pivot.trim_start_matches('/');
            rel.strip_prefix(pivot)
                .unwrap_or(rel)
                .trim_start_matches('/')
                .to_string()
        }
        None => rel.to_string(),
    }
}

/// Everything below `dir` (not following symlinks), by fds, with paths relative to it.
fn walk_all(dir: &Node, rel: &str, out: &mut Vec<(String, Node)>) {
    let Ok(names) = dir.names() else {
        return;
    };
    for name in names {
        let Ok(n) = dir.child(&name) else {
            continue;
        };
        let name = String::from_utf8_lossy(&name);
        let r = if rel.is_empty() {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        let mut below = Vec::new();
        if n.is_dir() {
            walk_all(&n, &r, &mut below);
        }
        out.push((r, n));
        out.append(&mut below);
    }
}

/// A tar archive, possibly compressed (ADD extracts those).
fn is_archive(p: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let mut head = [0u8; 512];
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    let h = &head[..n];
    h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(b"BZh")
        || h.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &h[257..262] == b"ustar")
}

#[cfg(test)]
mod tests {
    #[test]
    fn parents_keep_the_path_after_a_pivot() {
        assert_eq!(super::kept_path("x/a.txt", "x/a.txt"), "x/a.txt");
        assert_eq!(
            super::kept_path("src/./app/*.rs", "src/app/m.rs"),
            "app/m.rs"
        );
        assert_eq!(super::kept_path("./src/./lib", "src/lib"), "lib");
    }
}
