//! What the host's cgroup hierarchies look like, for the container's `cgroup` mount.
//! (Creating and limiting cgroups is the `cgroups` crate's job; this only reads mountinfo.)

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Directory name inside /sys/fs/cgroup (`memory`, `cpu,cpuacct`, `systemd`).
    pub name: String,
    pub mountpoint: PathBuf,
    /// Superblock options to mount it again (`memory`, `name=systemd`).
    pub options: String,
    /// This process's cgroup in that hierarchy (from /proc/self/cgroup).
    pub own_path: String,
}

#[derive(Debug, Default)]
pub struct Hierarchies {
    pub v1: Vec<V1Hierarchy>,
    pub unified_only: bool,
}

/// Parse mountinfo and /proc/self/cgroup text.
pub fn parse(mountinfo: &str, self_cgroup: &str) -> Hierarchies {
    let mut h = Hierarchies::default();
    let mut has_v2_root = false;
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if fields.len() < 5 || post.len() < 3 {
            continue;
        }
        let mountpoint = PathBuf::from(fields[4]);
        match post[0] {
            "cgroup2" if fields[4] == "/sys/fs/cgroup" => has_v2_root = true,
            "cgroup" => {
                let opts: Vec<&str> = post[2]
                    .split(',')
                    .filter(|o| {
                        !matches!(
                            *o,
                            "rw" | "ro"
                                | "nosuid"
                                | "nodev"
                                | "noexec"
                                | "relatime"
                                | "clone_children"
                        )
                    })
                    .filter(|o| !o.starts_with("release_agent"))
                    .collect();
                let key: Vec<&str> = opts
                    .iter()
                    .filter(|o| !matches!(**o, "xattr" | "noprefix" | "cpuset_v2_mode"))
                    .map(|o| o.trim_start_matches("name="))
                    .collect();
                let own_path = self_cgroup
                    .lines()
                    .filter_map(|l| {
                        let mut it = l.splitn(3, ':');
                        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
                        let ctrls: Vec<&str> = ctrls
                            .split(',')
                            .map(|c| c.trim_start_matches("name="))
                            .collect();
                        (!ctrls.is_empty()
                            && ctrls.iter().all(|c| key.contains(c))
                            && key.iter().all(|k| ctrls.contains(k)))
                        .then(|| path.to_string())
                    })
                    .next()
                    .unwrap_or_else(|| "/".into());
                h.v1.push(V1Hierarchy {
                    name: mountpoint
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    mountpoint,
                    options: opts.join(","),
                    own_path,
                });
            }
            _ => {}
        }
    }
    h.unified_only = has_v2_root && h.v1.is_empty();
    h
}

pub fn host_hierarchies() -> Hierarchies {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse(&mi, &cg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_host() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                  32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n\
                  40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let cg = "5:cpu,cpuacct:/user.slice\n1:name=systemd:/init.scope\n0::/x\n";
        let h = parse(mi, cg);
        assert!(!h.unified_only);
        assert_eq!(h.v1.len(), 2);
        assert_eq!(h.v1[0].name, "cpu,cpuacct");
        assert_eq!(h.v1[0].options, "cpu,cpuacct");
        assert_eq!(h.v1[0].own_path, "/user.slice");
        assert_eq!(h.v1[1].options, "xattr,name=systemd");
        assert_eq!(h.v1[1].own_path, "/init.scope");
    }

    #[test]
    fn unified_host() {
        let h = parse(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            "0::/\n",
        );
        assert!(h.unified_only);
    }
}
