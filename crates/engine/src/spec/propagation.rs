//! A bind mount asking for shared or slave propagation needs a source whose mount can give it,
//! as dockerd checks at start: `rshared` on a private mount would silently propagate nothing,
//! so it is refused with the mount named.

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::Path;

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
            let read = mountinfo::read_self()
                .map_err(|e| Error::Other(format!("read /proc/self/mountinfo: {e}")))?;
            mountinfo = Some(read);
        }
        check_one(&src, needs, mountinfo.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

fn check_one(src: &Path, needs: Needs, mountinfo: &str) -> Result<()> {
    let Some(mount) = mountinfo::mount_of(mountinfo, src) else {
        return Ok(());
    };
    let ok = match needs {
        Needs::Shared => mount.is_shared(),
        Needs::SharedOrSlave => mount.is_shared() || mount.is_slave(),
    };
    if ok {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "path {} is mounted on {} but it is not a {} mount",
        src.display(),
        mount.mount_point.display(),
        match needs {
            Needs::Shared => "shared",
            Needs::SharedOrSlave => "shared or slave",
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
        40 27 0:50 / /srv rw,relatime shared:7 - tmpfs tmpfs rw\n\
        41 27 0:51 / /mnt/slave rw,relatime master:7 - tmpfs tmpfs rw\n\
        42 40 0:52 / /srv/private\\040dir rw,relatime - tmpfs tmpfs rw\n";

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
        // the deepest mount decides, with its escaped path decoded
        let e = check_one(Path::new("/srv/private dir/x"), Needs::Shared, INFO).unwrap_err();
        assert!(
            e.to_string().contains("mounted on /srv/private dir but"),
            "{e}"
        );
        let e = check_one(Path::new("/tmp"), Needs::SharedOrSlave, INFO).unwrap_err();
        assert!(e.to_string().contains("not a shared or slave mount"), "{e}");
    }
}
