//! Seccomp user notification (SCMP_ACT_NOTIFY): the filter is loaded with
//! SECCOMP_FILTER_FLAG_NEW_LISTENER and the kernel returns a listener fd, which the runtime
//! hands to the agent at the profile's `listenerPath` (see the runtime's `seccomp_agent`).

use crate::{invalid, Filter, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// Whether the profile notifies an agent, refusing what runc refuses: notify as the default
/// action, or for `write` (the process would block in its own writes before an agent has the
/// listener).
pub(crate) fn check(spec: &LinuxSeccomp) -> Result<bool> {
    if spec.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "defaultAction",
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ));
    }
    let mut notify = false;
    for (i, sc) in spec.syscalls().iter().flatten().enumerate() {
        if sc.action() != LinuxSeccompAction::ScmpActNotify {
            continue;
        }
        notify = true;
        if sc.names().iter().any(|n| n == "write") {
            return Err(invalid(
                format!("syscalls[{i}]"),
                "SCMP_ACT_NOTIFY cannot be used for the write syscall",
            ));
        }
    }
    Ok(notify)
}

impl Filter {
    /// Whether [`Filter::load_listener`] will return a listener.
    pub fn notifies(&self) -> bool {
        self.notify
    }

    /// Installs the filter like [`Filter::load`]; when some syscall is SCMP_ACT_NOTIFY, with a
    /// new listener, returned for the agent. Nothing may be notified until an agent holds it.
    pub fn load_listener(self) -> Result<Option<OwnedFd>> {
        if !self.notify {
            return self.load().map(|()| None);
        }
        let rc = crate::load_bpf(
            &self.export_bpf()?,
            self.flags | SECCOMP_FILTER_FLAG_NEW_LISTENER,
        )?;
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that we own.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }))
    }
}
