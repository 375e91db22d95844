//! `--output`: where a build's result goes besides the image store — the final image's
//! filesystem as a directory (`type=local,dest=DIR`, or `-o DIR`) or as a tar
//! (`type=tar,dest=FILE`, `-o -` for stdout) — as BuildKit's exporters write them.

use super::run::{base_host, container};
use super::state::State;
use super::{invalid, Options};
use engine::engine::Engine;
use engine::Result;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// the image store (the default; `type=image` or `type=docker`)
    Image,
    Local(PathBuf),
    /// `None`: standard output
    Tar(Option<PathBuf>),
}

impl Output {
    /// `type=local,dest=DIR`, `type=tar,dest=FILE|-`, `type=image`, or the short forms `DIR`
    /// and `-`.
    pub fn parse(spec: &str) -> Result<Output> {
        let bad = |m: &str| invalid(format!("invalid output {spec:?}: {m}"));
        if spec == "-" {
            return Ok(Output::Tar(None));
        }
        if !spec.contains('=') {
            return Ok(Output::Local(PathBuf::from(spec)));
        }
        let mut kv = BTreeMap::new();
        for f in spec.split(',') {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| bad(&format!("field {f:?}")))?;
            kv.insert(k.trim().to_string(), v.trim().to_string());
        }
        let dest = kv.get("dest").cloned();
        match kv.get("type").map(String::as_str) {
            Some("local") => Ok(Output::Local(PathBuf::from(
                dest.ok_or_else(|| bad("type=local needs dest=DIR"))?,
            ))),
            Some("tar") => Ok(Output::Tar(dest.filter(|d| d != "-").map(PathBuf::from))),
            Some("image") | Some("docker") => Ok(Output::Image),
            Some(t) => Err(bad(&format!(
                "exporter {t:?} is not supported (local, tar, image)"
            ))),
            None => Err(bad("missing type=")),
        }
    }
}

/// Write image `id`'s filesystem where `out` says (nothing for [`Output::Image`]).
pub fn write_output(engine: &Engine, id: &str, out: &Output) -> Result<()> {
    if *out == Output::Image {
        return Ok(());
    }
    let image = engine.images()?.get(id)?;
    let st = State::on(Some(image), BTreeMap::new());
    let c = container(
        engine,
        &st,
        base_host(&Options::default()),
        None,
        vec![],
        true,
    )?;
    let r = (|| match out {
        Output::Image => Ok(()),
        Output::Tar(None) => {
            let w = engine.export(&c, std::io::stdout().lock())?;
            drop(w);
            Ok(())
        }
        Output::Tar(Some(p)) => {
            let f = std::fs::File::create(p)
                .map_err(|e| invalid(format!("create {}: {e}", p.display())))?;
            let mut w = engine.export(&c, std::io::BufWriter::new(f))?;
            w.flush()
                .map_err(|e| invalid(format!("write {}: {e}", p.display())))
        }
        Output::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| invalid(format!("create {}: {e}", dir.display())))?;
            let tmp = engine.root.join("tmp");
            std::fs::create_dir_all(&tmp)
                .map_err(|e| invalid(format!("create {}: {e}", tmp.display())))?;
            let t = tmp.join(format!("output-{}.tar", engine::names::random_id()));
            let f = std::fs::File::create(&t)
                .map_err(|e| invalid(format!("create {}: {e}", t.display())))?;
            let r = engine.export(&c, std::io::BufWriter::new(f)).and_then(|w| {
                drop(w);
                let f = std::fs::File::open(&t)
                    .map_err(|e| invalid(format!("open {}: {e}", t.display())))?;
                engine::container::tar::untar_local(std::io::BufReader::new(f), dir)
            });
            let _ = std::fs::remove_file(&t);
            r
        }
    })();
    let _ = engine.remove(&c, true, true);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        assert_eq!(Output::parse("-").unwrap(), Output::Tar(None));
        assert_eq!(Output::parse("out").unwrap(), Output::Local("out".into()));
        assert_eq!(
            Output::parse("type=local,dest=/tmp/x").unwrap(),
            Output::Local("/tmp/x".into())
        );
        assert_eq!(
            Output::parse("type=tar,dest=a.tar").unwrap(),
            Output::Tar(Some("a.tar".into()))
        );
        assert_eq!(Output::parse("type=tar,dest=-").unwrap(), Output::Tar(None));
        assert_eq!(Output::parse("type=image").unwrap(), Output::Image);
        for bad in [
            "type=local",
            "type=registry,ref=x",
            "dest=x",
            "type=tar,oops",
        ] {
            assert!(Output::parse(bad).is_err(), "{bad}");
        }
    }
}
