//! A read-only `/dev`, made so only after the container's device nodes and console are in it.

use crate::error::Result;
use crate::rootfs::{is_bind, parse_options};
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::path::Path;

/// A read-only `/dev` mount (not bound from the host) becomes read-only only after its device
/// nodes, symlinks and console were created in it, as runc does. Runs after pivot_root.
pub fn dev_readonly(sys: &dyn Syscall, mounts: &[Mount]) -> Result<()> {
    let dev = mounts
        .iter()
        .rev()
        .find(|m| m.destination() == Path::new("/dev") && !is_bind(m));
    let Some(m) = dev else {
        return Ok(());
    };
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    if !opts.flags.contains(MsFlags::MS_RDONLY) {
        return Ok(());
    }
    sys.mount(
        None,
        Path::new("/dev"),
        None,
        opts.flags | MsFlags::MS_REMOUNT,
        None,
    )
}
