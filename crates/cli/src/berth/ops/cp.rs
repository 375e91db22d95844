//! `cp`: copies between a container and the local filesystem, as docker plans them.

use super::*;

// ------------------------------------------------------------------ cp

/// A `cp` operand: `CONTAINER:PATH` or a local path (anything starting with `/` or `.`, or
/// without a colon, is local, as docker splits them).
#[derive(Debug, PartialEq)]
pub enum CpPath {
    Local(String),
    Container(String, String),
}

pub fn split_cp_arg(s: &str) -> CpPath {
    if s.starts_with('/') || s.starts_with('.') {
        return CpPath::Local(s.to_string());
    }
    match s.split_once(':') {
        Some((c, p)) if !c.is_empty() => CpPath::Container(c.to_string(), p.to_string()),
        _ => CpPath::Local(s.to_string()),
    }
}

/// What `cp` writes at the destination, by docker's rules: the directory to extract into and
/// the name the source's top entry takes there (`""`: a directory's content).
#[derive(Debug, PartialEq)]
pub struct CopyPlan {
    pub dir: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DstState {
    Missing,
    Dir,
    File,
}

pub(super) fn split_dir_entry(p: &str) -> (String, String) {
    let t = p.trim_end_matches('/');
    let t = if t.is_empty() && p.starts_with('/') {
        "/"
    } else {
        t
    };
    match t.rsplit_once('/') {
        Some(("", b)) => ("/".into(), b.into()),
        Some((d, b)) => (d.into(), b.into()),
        None => (".".into(), t.into()),
    }
}

/// docker's PrepareArchiveCopy/CopyInfoDestinationPath rules. `src_is_dir`, `src_content`
/// (SRC ends with `/.`), the source's base name, the destination as given and its state;
/// `parent_is_dir` for a missing destination (None: the parent does not exist).
pub fn plan_copy(
    src_is_dir: bool,
    src_content: bool,
    src_base: &str,
    dst: &str,
    state: DstState,
    parent_is_dir: Option<bool>,
) -> std::result::Result<CopyPlan, String> {
    let asserts_dir = dst.ends_with('/') || dst.ends_with("/.") || dst == ".";
    match state {
        DstState::Dir => Ok(CopyPlan {
            dir: dst.to_string(),
            name: if src_is_dir && src_content {
                String::new()
            } else {
                src_base.to_string()
            },
        }),
        DstState::File if src_is_dir => Err("cannot copy a directory to a file".into()),
        DstState::File if asserts_dir => Err("not a directory".into()),
        DstState::File => {
            let (d, b) = split_dir_entry(dst);
            Ok(CopyPlan { dir: d, name: b })
        }
        DstState::Missing => {
            if asserts_dir && !src_is_dir {
                return Err("no such directory".into());
            }
            match parent_is_dir {
                None => Err("no such directory".into()),
                Some(false) => Err("not a directory".into()),
                Some(true) => {
                    let (d, b) = split_dir_entry(dst);
                    Ok(CopyPlan { dir: d, name: b })
                }
            }
        }
    }
}

pub(super) fn is_content(p: &str) -> bool {
    p == "." || p.ends_with("/.") || p.ends_with("/./")
}

pub(super) fn base_of(p: &str) -> String {
    split_dir_entry(p).1
}

fn local_state(p: &Path) -> DstState {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => DstState::Dir,
        Ok(_) => DstState::File,
        Err(_) => DstState::Missing,
    }
}

pub fn cp(engine: &Engine, a: CpArgs) -> Result<i32> {
    match (split_cp_arg(&a.src), split_cp_arg(&a.dst)) {
        (CpPath::Container(..), CpPath::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (CpPath::Local(_), CpPath::Local(_)) => {
            bail!("must specify at least one container source")
        }
        (CpPath::Container(c, p), CpPath::Local(d)) => copy_from(engine, &a, &c, &p, &d),
        (CpPath::Local(s), CpPath::Container(c, p)) => copy_to(engine, &a, &s, &c, &p),
    }
}

fn copied(a: &CpArgs, bytes: u64, to: &str) {
    if !a.quiet && std::io::stderr().is_terminal() {
        eprintln!("Successfully copied {} to {to}", human_size(bytes));
    }
}

/// A writer that counts what passes through.
struct Counting<W>(W, u64);
impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(b)?;
        self.1 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn copy_from(engine: &Engine, a: &CpArgs, c: &str, path: &str, dst: &str) -> Result<i32> {
    let path = if path.is_empty() { "/" } else { path };
    if dst == "-" {
        let out = Counting(std::io::stdout().lock(), 0);
        let (_, mut out) = engine
            .archive_get(c, path, a.follow_link, out)
            .map_err(daemon)?;
        out.flush()?;
        return Ok(0);
    }
    let stat = engine.stat_path(c, path).map_err(daemon)?;
    let mode = stat["mode"].as_u64().unwrap_or(0);
    let is_link = mode & (1 << 27) != 0;
    let mut src_is_dir = mode & (1 << 31) != 0;
    if is_link && a.follow_link {
        let t = stat["linkTarget"].as_str().unwrap_or("");
        let ts = engine.stat_path(c, t).map_err(daemon)?;
        src_is_dir = ts["mode"].as_u64().unwrap_or(0) & (1 << 31) != 0;
    }
    if (path.ends_with('/') || is_content(path)) && !src_is_dir && !is_link {
        return Err(daemon(format!("{path}: not a directory")));
    }
    let dst_path = Path::new(dst);
    let state = local_state(dst_path);
    let parent = match state {
        DstState::Missing => {
            let (d, _) = split_dir_entry(dst);
            std::fs::metadata(&d).ok().map(|m| m.is_dir())
        }
        _ => None,
    };
    let plan = plan_copy(
        src_is_dir,
        is_content(path),
        &base_of(path),
        dst,
        state,
        parent,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let dir = PathBuf::from(&plan.dir);
    let (r, w) = std::io::pipe()?;
    let extractor = std::thread::spawn(move || engine::container::tar::untar_local(r, &dir));
    let got = engine.archive_get_as(c, path, a.follow_link, Some(&plan.name), Counting(w, 0));
    // the writer must be closed (dropped) before the extractor can finish
    let got = got.map(|(_, w)| w.1);
    let extracted = extractor
        .join()
        .map_err(|_| anyhow!("extract thread panicked"))?;
    let bytes = got.map_err(daemon)?;
    extracted.map_err(|e| anyhow!("{e}"))?;
    copied(a, bytes, dst);
    Ok(0)
}

fn copy_to(engine: &Engine, a: &CpArgs, src: &str, c: &str, path: &str) -> Result<i32> {
    let path = if path.is_empty() { "/" } else { path };
    let container = engine.find_reconciled(c).map_err(daemon)?;
    if src == "-" {
        let st = engine.stat_path(&container.id, path).map_err(daemon)?;
        if st["mode"].as_u64().unwrap_or(0) & (1 << 31) == 0 {
            bail!("destination \"{c}:{path}\" must be a directory");
        }
        engine
            .archive_put(&container.id, path, std::io::stdin().lock(), a.archive)
            .map_err(daemon)?;
        return Ok(0);
    }
    let mut src_path = PathBuf::from(src);
    let md = std::fs::symlink_metadata(&src_path)
        .map_err(|e| anyhow!("lstat {}: {}", src, strip_os_error(&e)))?;
    if md.file_type().is_symlink() && a.follow_link {
        src_path = std::fs::canonicalize(&src_path)
            .map_err(|e| anyhow!("stat {}: {}", src, strip_os_error(&e)))?;
    }
    let src_is_dir = std::fs::symlink_metadata(&src_path)
        .map(|m| m.is_dir())
        .unwrap_or(false);
    if (src.ends_with('/') || is_content(src)) && !src_is_dir {
        bail!("{src}: not a directory");
    }
    let dst_state = |p: &str| -> Result<Option<bool>> {
        match engine.stat_path(&container.id, p) {
            Ok(st) => {
                let mode = st["mode"].as_u64().unwrap_or(0);
                if mode & (1 << 27) != 0 {
                    // a symlink at the destination is followed (inside the container)
                    let t = st["linkTarget"].as_str().unwrap_or("").to_string();
                    return Ok(engine
                        .stat_path(&container.id, &t)
                        .ok()
                        .map(|s| s["mode"].as_u64().unwrap_or(0) & (1 << 31) != 0));
                }
                Ok(Some(mode & (1 << 31) != 0))
            }
            Err(e) if engine::container::archive::is_path_not_found(&e) => Ok(None),
            Err(e) => Err(daemon(e)),
        }
    };
    let state = match dst_state(path)? {
        Some(true) => DstState::Dir,
        Some(false) => DstState::File,
        None => DstState::Missing,
    };
    let parent = if state == DstState::Missing {
        dst_state(&split_dir_entry(path).0)?
    } else {
        None
    };
    let plan = plan_copy(
        src_is_dir,
        is_content(src),
        &base_of(src),
        path,
        state,
        parent,
    )
    .map_err(daemon)?;
    let (r, w) = std::io::pipe()?;
    let name = plan.name.clone();
    let producer = std::thread::spawn(move || -> engine::Result<u64> {
        Ok(image::diff::tree_tar::tar_path(&src_path, &name, Counting(w, 0))?.1)
    });
    let put = engine.archive_put(&container.id, &plan.dir, r, a.archive);
    let produced = producer
        .join()
        .map_err(|_| anyhow!("archive thread panicked"))?;
    put.map_err(daemon)?;
    let bytes = produced.map_err(|e| anyhow!("{e}"))?;
    copied(a, bytes, &format!("{c}:{path}"));
    Ok(0)
}

fn strip_os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}
