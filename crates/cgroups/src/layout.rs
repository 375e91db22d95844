//! Host cgroup layout, detected from `/proc/self/mountinfo` and `/proc/self/cgroup`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Which cgroup hierarchies the host mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the unified (cgroup2) hierarchy.
    V2,
    /// v1 controller hierarchies plus a cgroup2 mount (usually with no controllers).
    Hybrid,
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Controllers bound to it, e.g. `["cpu", "cpuacct"]`; a named hierarchy has a single
    /// `"name=systemd"` entry.
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup of the hierarchy that is mounted there (mountinfo field 4, `/` normally).
    pub mount_root: PathBuf,
    /// This process's own cgroup in the hierarchy (from /proc/self/cgroup), relative to the
    /// hierarchy root.
    pub own: PathBuf,
    /// The superblock options that mount the same hierarchy again (`cpu,cpuacct`,
    /// `xattr,name=systemd`): the mountinfo's, less access flags and the release agent.
    pub mount_options: String,
}

impl V1Hierarchy {
    /// True when it carries controller `c`.
    pub fn has(&self, c: &str) -> bool {
        self.controllers.iter().any(|x| x == c)
    }
}

/// The unified hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    pub mount_point: PathBuf,
    pub mount_root: PathBuf,
    pub own: PathBuf,
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub mode: Mode,
    /// v1 hierarchies, one per distinct controller set (first mount wins).
    pub v1: Vec<V1Hierarchy>,
    pub unified: Option<Unified>,
}

impl Layout {
    /// Detects the layout of the calling process.
    pub fn detect() -> Result<Layout> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Read {
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
        let cg = std::fs::read_to_string("/proc/self/cgroup").map_err(|source| Error::Read {
            path: "/proc/self/cgroup".into(),
            source,
        })?;
        Layout::parse(&mi, &cg, None)
    }

    /// The same mounts with the own cgroups of the calling process, from /proc/self/cgroup
    /// alone: for a process whose mount table is the one `self` was detected from (a child
    /// cloned since, now in another cgroup) -- /proc/self/mountinfo, a line per mount and so
    /// per running container, costs milliseconds to read on a busy host.
    pub fn reown(&self) -> Result<Layout> {
        let cg = std::fs::read_to_string("/proc/self/cgroup").map_err(|source| Error::Read {
            path: "/proc/self/cgroup".into(),
            source,
        })?;
        Ok(self.with_own(&cg))
    }

    /// `self` with the own cgroups of the /proc/<pid>/cgroup text `proc_cgroup`.
    pub fn with_own(&self, proc_cgroup: &str) -> Layout {
        let own = parse_proc_cgroup(proc_cgroup);
        let mut l = self.clone();
        for h in &mut l.v1 {
            h.own = own_path(&own, &h.controllers.join(","), &h.mount_root);
        }
        if let Some(u) = &mut l.unified {
            u.own = own_path(&own, "", &u.mount_root);
        }
        l
    }

    /// Parses a mountinfo text and a /proc/<pid>/cgroup text. With `root`, every mount
    /// point is taken relative to that directory (a fake cgroupfs tree for tests).
    pub fn parse(mountinfo: &str, proc_cgroup: &str, root: Option<&Path>) -> Result<Layout> {
        let own = parse_proc_cgroup(proc_cgroup);
        let mut v1: Vec<V1Hierarchy> = Vec::new();
        let mut unified: Option<Unified> = None;
        for m in mountinfo::parse(mountinfo) {
            let m = m.map_err(|e| Error::Mountinfo(e.to_string()))?;
            let fstype = m.fs_type;
            if fstype != "cgroup" && fstype != "cgroup2" {
                continue;
            }
            let mount_root = m.root;
            let mut mount_point = m.mount_point;
            if let Some(r) = root {
                mount_point = r.join(mount_point.strip_prefix("/").unwrap_or(&mount_point));
            }
            if fstype == "cgroup2" {
                if unified.is_none() {
                    let own = own_path(&own, "", &mount_root);
                    unified = Some(Unified {
                        mount_point,
                        mount_root,
                        own,
                    });
                }
                continue;
            }
            let mut controllers: Vec<String> = m
                .super_options
                .split(',')
                .filter(|o| is_controller_option(o))
                .map(str::to_string)
                .collect();
            if controllers.is_empty() {
                continue;
            }
            controllers.sort();
            if v1.iter().any(|h| h.controllers == controllers) {
                continue;
            }
            let key = controllers.join(",");
            let own = own_path(&own, &key, &mount_root);
            v1.push(V1Hierarchy {
                controllers,
                mount_point,
                mount_root,
                own,
                mount_options: remount_options(m.super_options),
            });
        }
        let has_v1_controller = v1
            .iter()
            .any(|h| h.controllers.iter().any(|c| !c.starts_with("name=")));
        let mode = match (has_v1_controller, unified.is_some()) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::V1,
            (false, true) => Mode::V2,
            (false, false) => {
                return Err(Error::Mountinfo(
                    "no cgroup or cgroup2 filesystem is mounted".into(),
                ))
            }
        };
        Ok(Layout { mode, v1, unified })
    }

    /// A pure v2 layout whose unified hierarchy is the directory `root` (a fake cgroupfs
    /// tree in tests, or a real cgroup2 mount) and whose own cgroup is `/`.
    pub fn v2_at(root: &Path) -> Layout {
        Layout {
            mode: Mode::V2,
            v1: Vec::new(),
            unified: Some(Unified {
                mount_point: root.to_path_buf(),
                mount_root: "/".into(),
                own: "/".into(),
            }),
        }
    }

    /// The v1 hierarchy carrying controller `c`.
    pub fn v1_hierarchy(&self, c: &str) -> Option<&V1Hierarchy> {
        self.v1.iter().find(|h| h.has(c))
    }

    /// Whether the memory controller accounts swap, so a `--memory-swap` limit can be applied;
    /// `None` when no hierarchy carries the memory controller at all. v1 (and hybrid): the
    /// memory hierarchy has `memory.memsw.limit_in_bytes` (a kernel booted without
    /// `swapaccount=1` lacks it). v2: the unified hierarchy enables `memory` and
    /// `memory.swap.max` exists in this process's cgroup or a child of the root (the root
    /// cgroup itself never has it).
    pub fn swap_accounting(&self) -> Option<bool> {
        if self.mode != Mode::V2 {
            let h = self.v1_hierarchy("memory")?;
            return Some(h.mount_point.join("memory.memsw.limit_in_bytes").exists());
        }
        let u = self.unified.as_ref()?;
        let controllers =
            std::fs::read_to_string(u.mount_point.join("cgroup.controllers")).unwrap_or_default();
        if !controllers.split_whitespace().any(|c| c == "memory") {
            return None;
        }
        let own = u
            .mount_point
            .join(u.own.strip_prefix("/").unwrap_or(&u.own));
        let child_has = std::fs::read_dir(&u.mount_point)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.path().join("memory.swap.max").exists())
            })
            .unwrap_or(false);
        Some(own.join("memory.swap.max").exists() || child_has)
    }
}

/// Whether /sys/fs/cgroup is the unified hierarchy itself: a pure cgroup v2 host, as runc and
/// dockerd tell it (one statfs; no mountinfo to read, whose length grows with containers).
pub fn pure_v2_host() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// [`Layout::swap_accounting`] of this host; false when there is no layout or no memory
/// controller. The one probe behind create's swap warning, `info`'s SwapLimit and `doctor`.
pub fn swap_accounting() -> bool {
    Layout::detect()
        .ok()
        .and_then(|l| l.swap_accounting())
        .unwrap_or(false)
}

/// Options of a v1 cgroup mount that name a controller (or a named hierarchy).
fn remount_options(super_options: &str) -> String {
    super_options
        .split(',')
        .filter(|o| {
            !matches!(
                *o,
                "rw" | "ro" | "nosuid" | "nodev" | "noexec" | "relatime" | "clone_children"
            ) && !o.starts_with("release_agent")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn is_controller_option(o: &str) -> bool {
    if o.starts_with("name=") {
        return true;
    }
    matches!(
        o,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "net_prio"
            | "blkio"
            | "perf_event"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
    )
}

/// Parses /proc/self/cgroup into (controller list as written, path) pairs; the list is
/// sorted so it compares to the mountinfo options.
fn parse_proc_cgroup(text: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let mut c: Vec<&str> = ctrls.split(',').filter(|s| !s.is_empty()).collect();
        c.sort();
        out.push((c.join(","), PathBuf::from(path)));
    }
    out
}

/// The own cgroup for hierarchy `key`, made relative to the hierarchy root: when a
/// subtree is mounted (mount root is not `/`), the path is stripped of that prefix.
fn own_path(own: &[(String, PathBuf)], key: &str, mount_root: &Path) -> PathBuf {
    let p = own
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| PathBuf::from("/"));
    match p.strip_prefix(mount_root) {
        Ok(rest) if mount_root != Path::new("/") => Path::new("/").join(rest),
        _ => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 27 0:39 / /run/hugetlb\\040v1 rw,relatime - cgroup cgroup rw,hugetlb
43 27 0:32 /sub /mnt/mem rw,relatime - cgroup cgroup rw,memory
";
    const PROC: &str = "\
10:hugetlb:/
9:name=systemd:/user.slice
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/init.scope
";

    #[test]
    fn detects_hybrid() {
        let l = Layout::parse(HYBRID, PROC, None).unwrap();
        assert_eq!(l.mode, Mode::Hybrid);
        assert_eq!(l.v1.len(), 4);
        let cpu = l.v1_hierarchy("cpuacct").unwrap();
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.controllers, vec!["cpu", "cpuacct"]);
        let mem = l.v1_hierarchy("memory").unwrap();
        assert_eq!(mem.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mem.own, Path::new("/process_api/abc"));
        let sd = l.v1_hierarchy("name=systemd").unwrap();
        assert_eq!(sd.own, Path::new("/user.slice"));
        // what mounts the same hierarchy again in a container's cgroup namespace
        assert_eq!(sd.mount_options, "xattr,name=systemd");
        assert_eq!(cpu.mount_options, "cpu,cpuacct");
        let h = l.v1_hierarchy("hugetlb").unwrap();
        assert_eq!(h.mount_point, Path::new("/run/hugetlb v1"));
        let u = l.unified.unwrap();
        assert_eq!(u.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(u.own, Path::new("/init.scope"));
    }

    #[test]
    fn reowned_layout_is_the_one_parsed_with_the_other_cgroups() {
        let moved =
            "10:hugetlb:/c1\n9:name=systemd:/c1\n4:memory:/sub/c1\n2:cpu,cpuacct:/c1\n0::/c1\n";
        let l = Layout::parse(HYBRID, PROC, None).unwrap();
        let again = l.with_own(moved);
        assert_eq!(again, Layout::parse(HYBRID, moved, None).unwrap());
        assert_eq!(
            again.v1_hierarchy("memory").unwrap().own,
            Path::new("/sub/c1")
        );
        assert_eq!(again.unified.unwrap().own, Path::new("/c1"));
    }

    #[test]
    fn detects_v2_and_v1() {
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l =
            Layout::parse(v2, "0::/user.slice/x.scope\n", Some(Path::new("/tmp/fake"))).unwrap();
        assert_eq!(l.mode, Mode::V2);
        let u = l.unified.unwrap();
        assert_eq!(u.mount_point, Path::new("/tmp/fake/sys/fs/cgroup"));
        assert_eq!(u.own, Path::new("/user.slice/x.scope"));

        let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(v1, "4:memory:/\n", None).unwrap();
        assert_eq!(l.mode, Mode::V1);

        // Only a named hierarchy and cgroup2: still v2 for resource control.
        let sd = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
                  30 23 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(sd, "", None).unwrap().mode, Mode::V2);
    }

    #[test]
    fn mount_root_is_stripped_from_own_path() {
        let mi = "35 31 0:32 /kube /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi, "4:memory:/kube/pod1\n", None).unwrap();
        assert_eq!(l.v1[0].own, Path::new("/pod1"));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Layout::parse("garbage line\n", "", None),
            Err(Error::Mountinfo(_))
        ));
        let e = Layout::parse("1 2 3:4 / /proc rw - proc proc rw\n", "", None).unwrap_err();
        assert!(e.to_string().contains("no cgroup"), "{e}");
    }

    #[test]
    fn swap_accounting_v1_and_v2() {
        let dir = crate::tests_fake::TempDir::new("swap-v1");
        let root = dir.0.as_path();
        // v1: the memory hierarchy's memory.memsw.limit_in_bytes
        let mem = root.join("sys/fs/cgroup/memory");
        std::fs::create_dir_all(&mem).unwrap();
        let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(v1, "4:memory:/\n", Some(root)).unwrap();
        assert_eq!(l.swap_accounting(), Some(false));
        std::fs::write(mem.join("memory.memsw.limit_in_bytes"), "0").unwrap();
        assert_eq!(l.swap_accounting(), Some(true));
        let cpu = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        let l = Layout::parse(cpu, "2:cpu:/\n", Some(root)).unwrap();
        assert_eq!(l.swap_accounting(), None, "no memory hierarchy");

        // v2: memory enabled, memory.swap.max in a child of the root
        let v2 = crate::tests_fake::TempDir::new("swap-v2");
        let v2 = v2.0.as_path();
        let l = Layout::v2_at(v2);
        assert_eq!(l.swap_accounting(), None, "no cgroup.controllers");
        std::fs::write(v2.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        assert_eq!(l.swap_accounting(), Some(false));
        std::fs::create_dir(v2.join("system.slice")).unwrap();
        std::fs::write(v2.join("system.slice/memory.swap.max"), "max").unwrap();
        assert_eq!(l.swap_accounting(), Some(true));
    }

    #[test]
    fn detect_real_host() {
        // Whatever the host is, detection must succeed on a Linux machine with cgroups.
        if Path::new("/sys/fs/cgroup").exists() {
            Layout::detect().unwrap();
        }
    }
}
