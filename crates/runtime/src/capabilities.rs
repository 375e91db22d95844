//! Capability sets from the spec -> what to install, given what the host can grant.

use crate::error::Result;
use crate::spec::cap_number;
use crate::syscall::{CapState, Syscall};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct CapPlan {
    /// Capabilities to drop from the bounding set.
    pub drop_bounding: Vec<u8>,
    pub state: CapState,
    pub ambient: Vec<u8>,
    /// Requested capabilities the host cannot grant (not in our own bounding set): dropped, as a
    /// runtime must not fail where docker's `--privileged` asks for everything.
    pub warnings: Vec<String>,
}

fn mask(set: &Option<Capabilities>, available: u64, what: &str, warnings: &mut Vec<String>) -> u64 {
    let mut m = 0u64;
    for cap in set.iter().flatten() {
        let name = cap.to_string();
        let Some(n) = cap_number(&name) else {
            warnings.push(format!("unknown capability {name} in {what} set ignored"));
            continue;
        };
        if available & (1 << n) == 0 {
            let msg = format!(
                "capability CAP_{} is not available on this host, dropped from the {what} set",
                name.trim_start_matches("CAP_")
            );
            if !warnings.contains(&msg) {
                warnings.push(msg);
            }
            continue;
        }
        m |= 1 << n;
    }
    m
}

/// `available` is our own bounding set (what this host lets us hand out); `last_cap` the highest
/// capability number the kernel knows.
pub fn plan(caps: &LinuxCapabilities, available: u64, last_cap: u8) -> CapPlan {
    let mut warnings = Vec::new();
    let bounding = mask(caps.bounding(), available, "bounding", &mut warnings);
    let effective = mask(caps.effective(), available, "effective", &mut warnings);
    let permitted = mask(caps.permitted(), available, "permitted", &mut warnings);
    let inheritable = mask(caps.inheritable(), available, "inheritable", &mut warnings);
    let ambient_mask = mask(caps.ambient(), available, "ambient", &mut warnings);
    let drop_bounding = (0..=last_cap)
        .filter(|c| bounding & (1u64 << c) == 0)
        .collect();
    let mut ambient = Vec::new();
    for c in 0..=last_cap {
        if ambient_mask & (1 << c) != 0 {
            if permitted & inheritable & (1 << c) != 0 {
                ambient.push(c);
            } else {
                warnings.push(format!(
                    "ambient capability {c} needs to be permitted and inheritable too, ignored"
                ));
            }
        }
    }
    CapPlan {
        drop_bounding,
        state: CapState {
            effective,
            permitted,
            inheritable,
        },
        ambient,
        warnings,
    }
}

impl CapPlan {
    pub fn drop_bounding(&self, sys: &dyn Syscall) -> Result<()> {
        for c in &self.drop_bounding {
            sys.drop_bounding(*c)?;
        }
        Ok(())
    }

    pub fn apply(&self, sys: &dyn Syscall) -> Result<()> {
        sys.set_caps(&self.state)?;
        for c in &self.ambient {
            sys.raise_ambient(*c)?;
        }
        Ok(())
    }
}

/// Highest capability number of the running kernel.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Our own bounding set, read from /proc/self/status.
pub fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::Recorder;

    fn caps(json: serde_json::Value) -> LinuxCapabilities {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn sets_become_masks_and_bounding_drops() {
        let c = caps(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL", "CAP_CHOWN"]
        }));
        let p = plan(&c, u64::MAX, 40);
        assert_eq!(
            p.state,
            CapState {
                effective: 1 << 5,
                permitted: 1 | (1 << 5),
                inheritable: 1 << 5
            }
        );
        assert_eq!(p.drop_bounding.len(), 39);
        assert!(!p.drop_bounding.contains(&0) && !p.drop_bounding.contains(&5));
        assert_eq!(
            p.ambient,
            vec![5],
            "CAP_CHOWN is not inheritable: not raised"
        );
        assert_eq!(p.warnings.len(), 1);
        let sys = Recorder::default();
        p.drop_bounding(&sys).unwrap();
        p.apply(&sys).unwrap();
        let calls = sys.calls();
        assert_eq!(calls[0], "capbset_drop 1");
        assert_eq!(&calls[39..], &["capset e=20 p=21 i=20", "ambient_raise 5"]);
    }

    #[test]
    fn capabilities_the_host_lacks_are_dropped_with_a_warning() {
        let c = caps(
            serde_json::json!({"bounding": ["CAP_SYS_RESOURCE", "CAP_CHOWN"], "effective": ["CAP_SYS_RESOURCE"]}),
        );
        let host = !(1u64 << 24);
        let p = plan(&c, host, 40);
        assert_eq!(p.state.effective, 0);
        assert!(p.drop_bounding.contains(&24));
        assert!(
            p.warnings.iter().any(|w| w.contains("CAP_SYS_RESOURCE")),
            "{:?}",
            p.warnings
        );
    }
}
