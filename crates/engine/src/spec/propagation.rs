//! A bind mount asking for shared or slave propagation needs a source whose mount can give it,
//! as dockerd checks at start: `rshared` on a private mount would silently propagate nothing,
//! so it is refused with the mount named.

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// What propagation a mount needs of its source's mount.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Needs {
    Shared,
    SharedOrSlave,
}

/// Check every bind mount of `spec` that asks for shared or slave propagation against the
/// mount table (/proc/self/mountinfo, read only then: it has a line per running container).
pub fn check_bind_sources(spec: &Spec) -> Result<()> {
    let mut mountinfo: Option<String> = None;
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let opts = m.options().as_deref().unwrap_or(&[]);
        if !opts.iter().any(|o| o == "bind" || o == "rbind") {
            continue;
        }
        let needs = if opts.iter().any(|o| o == "shared" || o == "rshared") {
            Needs::Shared
        } else if opts.iter().any(|o| o == "slave" || o == "rslave") {
            Needs::SharedOrSlave
        } else {
            continue;
        };
        let Some(src) = m.source() else { continue };
        let src = std::fs::canonicalize(src).unwrap_or_else(|_| src.clone());
        if mountinfo.is_none() {
            let read = std::fs::read_to_string("/proc/self/mountinfo")
                .map_err(|e| Error::Other(format!("read /proc/self/mountinfo: {e}")))?;
            mountinfo = Some(read);
        }
        check_one(&src, needs, mountinfo.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

fn check_one(src: &Path, needs: Needs, mountinfo: &str) -> Result<()> {
    let Some((mountpoint, tags)) = mount_of(src, mountinfo) else {
        return Ok(());
    };
    let shared = tags.iter().any(|t| t.starts_with("shared:"));
    let slave = tags.iter().any(|t| t.starts_with("master:"));
    let ok = match needs {
        Needs::Shared => shared,
        Needs::SharedOrSlave => shared || slave,
    };
    if ok {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "path {} is mounted on {} but it is not a {} mount",
        src.display(),
        mountpoint.display(),
        match needs {
            Needs::Shared => "shared",
            Needs::SharedOrSlave => "shared or slave",
        }
    )))
}

/// The mount `path` lives on (the last, deepest mountpoint that is a prefix of it) and its
/// optional fields (`shared:N`, `master:N`, ...).
fn mount_of(path: &Path, mountinfo: &str) -> Option<(PathBuf, Vec<String>)> {
    let mut best: Option<(PathBuf, Vec<String>)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 7 {
            continue;
        }
        let mp = PathBuf::from(cgroups::layout::unescape(fields[4]));
        if !path.starts_with(&mp) {
            continue;
        }
        let tags: Vec<String> = fields[6..]
            .iter()
            .take_while(|f| **f != "-")
            .map(|f| f.to_string())
            .collect();
        // later lines mount over earlier ones at the same place
        if best
            .as_ref()
            .is_none_or(|(b, _)| mp.components().count() >= b.components().count())
        {
            best = Some((mp, tags));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
        40 27 0:50 / /srv rw,relatime shared:7 - tmpfs tmpfs rw\n\
        41 27 0:51 / /mnt/slave rw,relatime master:7 - tmpfs tmpfs rw\n\
        42 40 0:52 / /srv/private\\040dir rw,relatime - tmpfs tmpfs rw\n";

    #[test]
    fn the_deepest_mount_decides() {
        let (mp, tags) = mount_of(Path::new("/srv/a/b"), INFO).unwrap();
        assert_eq!(mp, Path::new("/srv"));
        assert_eq!(tags, ["shared:7"]);
        let (mp, tags) = mount_of(Path::new("/srv/private dir/x"), INFO).unwrap();
        assert_eq!(mp, Path::new("/srv/private dir"));
        assert!(tags.is_empty());
        assert_eq!(
            mount_of(Path::new("/tmp/x"), INFO).unwrap().0,
            Path::new("/")
        );
    }

    #[test]
    fn shared_needs_a_shared_mount_and_slave_a_shared_or_slave_one() {
        assert!(check_one(Path::new("/srv/x"), Needs::Shared, INFO).is_ok());
        let e = check_one(Path::new("/tmp/x"), Needs::Shared, INFO).unwrap_err();
        assert_eq!(
            e.to_string(),
            "path /tmp/x is mounted on / but it is not a shared mount"
        );
        assert!(check_one(Path::new("/mnt/slave/x"), Needs::Shared, INFO).is_err());
        assert!(check_one(Path::new("/mnt/slave/x"), Needs::SharedOrSlave, INFO).is_ok());
        assert!(check_one(Path::new("/srv/x"), Needs::SharedOrSlave, INFO).is_ok());
        let e = check_one(Path::new("/tmp"), Needs::SharedOrSlave, INFO).unwrap_err();
        assert!(e.to_string().contains("not a shared or slave mount"), "{e}");
    }
}
