//! Linux security modules: the spec's AppArmor profile and SELinux labels. A confinement the
//! host cannot apply fails `create`/`exec` with an error naming it; the process never runs
//! less confined than asked without a word. (Asking for `unconfined` is the user saying that
//! is fine.)

use crate::error::{Error, Result};
use oci_spec::runtime::{Linux, Process};
use std::path::Path;

/// Whether the host runs AppArmor (and can so apply a profile).
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
        && Path::new("/sys/kernel/security/apparmor").exists()
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// The AppArmor profile to apply at exec, if any (after [`check`]).
fn apparmor_profile(process: &Process) -> Option<&str> {
    process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
}

/// Refuses settings this host (or this runtime) cannot apply, before anything runs.
pub fn check(process: &Process, linux: &Linux) -> Result<()> {
    check_with(process, linux, apparmor_enabled(), selinux_enabled())
}

fn check_with(process: &Process, linux: &Linux, apparmor: bool, selinux: bool) -> Result<()> {
    if let Some(p) = apparmor_profile(process) {
        if !apparmor && p != "unconfined" {
            return Err(Error::Spec(format!(
                "process.apparmorProfile {p:?}: AppArmor is not enabled on this host, \
                 so the profile cannot be applied (leave it unset, or \"unconfined\", \
                 to run without AppArmor)"
            )));
        }
    }
    let labels = [
        ("process.selinuxLabel", process.selinux_label().as_deref()),
        ("linux.mountLabel", linux.mount_label().as_deref()),
    ];
    for (field, label) in labels {
        let Some(l) = label.filter(|l| !l.is_empty()) else {
            continue;
        };
        let why = if selinux {
            "berth-runtime does not apply SELinux labels"
        } else {
            "SELinux is not enabled on this host"
        };
        return Err(Error::Spec(format!(
            "{field} {l:?}: {why}, so the label cannot be applied (leave it unset to run \
             without SELinux)"
        )));
    }
    Ok(())
}

/// Makes the next execve switch to the spec's AppArmor profile (the process is still root
/// here, in the container's /proc).
pub fn apply_apparmor(process: &Process) -> Result<()> {
    let Some(p) = apparmor_profile(process) else {
        return Ok(());
    };
    if !apparmor_enabled() {
        // only "unconfined" gets here (see `check`)
        return Ok(());
    }
    let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
        "/proc/self/attr/apparmor/exec"
    } else {
        "/proc/self/attr/exec"
    };
    std::fs::write(attr, format!("exec {p}")).map_err(|e| {
        Error::Other(format!(
            "applying AppArmor profile {p:?} (process.apparmorProfile): {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, ProcessBuilder};

    fn process(aa: Option<&str>, label: Option<&str>) -> Process {
        let mut p = ProcessBuilder::default().build().unwrap();
        p.set_apparmor_profile(aa.map(String::from));
        p.set_selinux_label(label.map(String::from));
        p
    }

    #[test]
    fn settings_the_host_cannot_apply_are_refused() {
        let linux = LinuxBuilder::default().build().unwrap();
        let e = check_with(&process(Some("docker-default"), None), &linux, false, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("apparmorProfile") && e.contains("not enabled"),
            "{e}"
        );
        check_with(&process(Some("docker-default"), None), &linux, true, false).unwrap();
        check_with(&process(Some("unconfined"), None), &linux, false, false).unwrap();
        check_with(&process(Some(""), None), &linux, false, false).unwrap();
        check_with(&process(None, None), &linux, false, false).unwrap();

        let e = check_with(
            &process(None, Some("system_u:system_r:c:s0")),
            &linux,
            false,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("selinuxLabel") && e.contains("not enabled"),
            "{e}"
        );
        let e = check_with(&process(None, Some("x")), &linux, false, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not apply"), "{e}");
        let mut linux = linux;
        linux.set_mount_label(Some("system_u:object_r:c:s0".into()));
        let e = check_with(&process(None, None), &linux, false, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mountLabel"), "{e}");
    }
}
