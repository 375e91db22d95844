//! Namespaces of the spec: which to create (clone flags) and which to join (setns by path).

use crate::error::{Context, Error, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, PartialEq, Eq)]
pub struct NsPlan {
    /// Namespaces to create with clone(2).
    pub new: CloneFlags,
    /// Namespaces to join, user namespace first (joining it grants the rights to join the rest).
    pub join: Vec<(CloneFlags, PathBuf)>,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME shares its value with CSIGNAL's bits; nix has no constant for it.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

pub fn proc_name(f: CloneFlags) -> &'static str {
    match f {
        CloneFlags::CLONE_NEWNS => "mnt",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWNET => "net",
        _ => "time",
    }
}

impl Default for NsPlan {
    fn default() -> Self {
        NsPlan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        }
    }
}

pub fn plan(namespaces: &[LinuxNamespace]) -> Result<NsPlan> {
    let mut p = NsPlan::default();
    let mut seen = CloneFlags::empty();
    for ns in namespaces {
        let f = flag(ns.typ());
        if seen.contains(f) {
            return Err(Error::Spec(format!(
                "linux.namespaces: {} listed twice",
                proc_name(f)
            )));
        }
        seen |= f;
        match ns.path() {
            Some(path) if !path.as_os_str().is_empty() => p.join.push((f, path.clone())),
            _ => p.new |= f,
        }
    }
    p.join.sort_by_key(|(f, _)| {
        if *f == CloneFlags::CLONE_NEWUSER {
            0
        } else {
            1
        }
    });
    Ok(p)
}

impl NsPlan {
    pub fn has(&self, f: CloneFlags) -> bool {
        self.new.contains(f) || self.join.iter().any(|(j, _)| *j == f)
    }

    /// Open every namespace to join, so a missing path fails before anything is started.
    pub fn open_joins(&self) -> Result<Vec<(CloneFlags, OwnedFd)>> {
        self.join
            .iter()
            .map(|(f, path)| {
                let fd = nix::fcntl::open(
                    path,
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .ctx(|| format!("opening {} namespace {}", proc_name(*f), path.display()))?;
                Ok((*f, fd))
            })
            .collect()
    }
}

pub fn join_all(fds: &[(CloneFlags, OwnedFd)]) -> Result<()> {
    for (f, fd) in fds {
        nix::sched::setns(fd, *f).ctx(|| format!("joining {} namespace", proc_name(*f)))?;
    }
    Ok(())
}

/// `uid_map`/`gid_map` text for a set of mappings.
pub fn id_map(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_joined_namespaces() {
        let ns: Vec<LinuxNamespace> = serde_json::from_value(serde_json::json!([
            {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "mount"},
            {"type": "user", "path": "/proc/1/ns/user"}, {"type": "uts", "path": ""}
        ]))
        .unwrap();
        let p = plan(&ns).unwrap();
        assert_eq!(
            p.new,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
        );
        assert_eq!(
            p.join[0].0,
            CloneFlags::CLONE_NEWUSER,
            "user namespace is joined first"
        );
        assert_eq!(
            p.join[1],
            (CloneFlags::CLONE_NEWNET, PathBuf::from("/proc/1/ns/net"))
        );
        assert!(p.has(CloneFlags::CLONE_NEWNET) && !p.has(CloneFlags::CLONE_NEWIPC));
    }

    #[test]
    fn duplicates_are_rejected() {
        let ns: Vec<LinuxNamespace> =
            serde_json::from_value(serde_json::json!([{"type": "pid"}, {"type": "pid"}])).unwrap();
        assert!(plan(&ns)
            .unwrap_err()
            .to_string()
            .contains("pid listed twice"));
    }
}
