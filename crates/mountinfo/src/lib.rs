//! `/proc/<pid>/mountinfo`, parsed once for every crate that needs it.
//!
//! A line reads (proc_pid_mountinfo(5)):
//! `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`:
//! mount and parent ids, device, the mount's root within its filesystem, the mount point,
//! per-mount options, zero or more optional fields up to a lone `-`, then the filesystem
//! type, the source and the per-superblock options. Paths have space, tab, newline and
//! backslash written as three-digit octal escapes (`\040`); [`Mount`] holds them decoded.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One mount of a mount namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount<'a> {
    pub id: u32,
    pub parent: u32,
    /// The directory of the filesystem that is mounted (`/` for a whole filesystem).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Per-mount options, comma-separated (`rw,nosuid,relatime`).
    pub options: &'a str,
    /// Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<&'a str>,
    pub fs_type: &'a str,
    pub source: &'a str,
    /// Per-superblock options, comma-separated.
    pub super_options: &'a str,
}

impl Mount<'_> {
    /// Whether the mount is in a peer group (mounts and unmounts under it propagate out).
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("shared:"))
    }

    /// Whether the mount receives propagation from a master.
    pub fn is_slave(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("master:"))
    }

    /// Whether a per-superblock option (e.g. a cgroup v1 controller name) is set.
    pub fn has_super_option(&self, name: &str) -> bool {
        self.super_options.split(',').any(|o| o == name)
    }
}

/// A line that is not a mountinfo record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub reason: &'static str,
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mountinfo line {}: {}: {:?}",
            self.line, self.reason, self.text
        )
    }
}

impl std::error::Error for ParseError {}

/// Every record of a mountinfo text, in mount order; blank lines are skipped.
pub fn parse(text: &str) -> impl Iterator<Item = Result<Mount<'_>, ParseError>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            parse_line(l).map_err(|reason| ParseError {
                line: n + 1,
                reason,
                text: l.to_string(),
            })
        })
}

/// The records of a mountinfo text that parse, skipping any that do not.
pub fn mounts(text: &str) -> impl Iterator<Item = Mount<'_>> {
    parse(text).filter_map(Result::ok)
}

/// The calling process's mountinfo text.
pub fn read_self() -> std::io::Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
}

/// The mount `path` lives on: the deepest mount point that is a prefix of it, the last one
/// mounted where several stack on the same place. `path` should be absolute and canonical.
pub fn mount_of<'a>(text: &'a str, path: &Path) -> Option<Mount<'a>> {
    let mut best: Option<Mount<'a>> = None;
    for m in mounts(text) {
        if !path.starts_with(&m.mount_point) {
            continue;
        }
        let deeper = best.as_ref().is_none_or(|b| {
            m.mount_point.components().count() >= b.mount_point.components().count()
        });
        if deeper {
            best = Some(m);
        }
    }
    best
}

fn parse_line(line: &str) -> Result<Mount<'_>, &'static str> {
    let (pre, post) = line.split_once(" - ").ok_or("no ' - ' separator")?;
    let mut pre = pre.split(' ');
    let mut post = post.split(' ');
    let id = number(pre.next())?;
    let parent = number(pre.next())?;
    let _device = pre.next().ok_or("too few fields")?;
    let root = pre.next().map(unescape).ok_or("too few fields")?;
    let mount_point = pre.next().map(unescape).ok_or("too few fields")?;
    let options = pre.next().ok_or("too few fields")?;
    let optional = pre.collect();
    let fs_type = post.next().ok_or("too few fields")?;
    let source = post.next().ok_or("too few fields")?;
    let super_options = post.next().ok_or("too few fields")?;
    Ok(Mount {
        id,
        parent,
        root,
        mount_point,
        options,
        optional,
        fs_type,
        source,
        super_options,
    })
}

fn number(field: Option<&str>) -> Result<u32, &'static str> {
    field
        .ok_or("too few fields")?
        .parse()
        .map_err(|_| "a mount id is not a number")
}

/// Decodes the kernel's `\ooo` octal escapes of a mountinfo path field.
pub fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let digits = b.get(i + 1..i + 4);
        match digits {
            Some(d) if b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct

40 22 0:40 /sub/dir /srv/with\\040space\\011tab rw master:4 propagate_from:2 - ext4 /dev/vdb rw
41 22 0:41 / /srv/with\\040space\\011tab/inner rw - tmpfs none rw
42 41 0:42 / /srv/with\\040space\\011tab/inner rw unbindable - tmpfs over rw
";

    #[test]
    fn fields_are_split_and_paths_decoded() {
        let all: Vec<Mount> = parse(SAMPLE).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 6);
        let cg = &all[2];
        assert_eq!((cg.id, cg.parent), (35, 31));
        assert_eq!(cg.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cg.fs_type, "cgroup");
        assert!(cg.has_super_option("cpuacct") && !cg.has_super_option("cpu,"));
        assert!(cg.is_shared() && !cg.is_slave());
        let b = &all[3];
        assert_eq!(b.root, Path::new("/sub/dir"));
        assert_eq!(b.mount_point, Path::new("/srv/with space\ttab"));
        assert_eq!(b.optional, ["master:4", "propagate_from:2"]);
        assert!(b.is_slave() && !b.is_shared());
        assert_eq!((b.source, b.super_options), ("/dev/vdb", "rw"));
    }

    #[test]
    fn a_malformed_line_is_named_and_the_rest_still_read() {
        let text = "22 1 254:1 / / rw - ext4 /dev/vda1 rw\nnot a record\nx 1 0:1 / /a rw - t s o\n";
        let errs: Vec<ParseError> = parse(text).filter_map(Result::err).collect();
        assert_eq!(errs.len(), 2);
        assert_eq!((errs[0].line, errs[0].reason), (2, "no ' - ' separator"));
        assert_eq!(errs[1].reason, "a mount id is not a number");
        assert!(errs[1].to_string().contains("line 3"));
        assert_eq!(mounts(text).count(), 1);
        assert!(parse("1 2 0:1 / - a b c").next().unwrap().is_err());
    }

    #[test]
    fn mount_of_takes_the_deepest_then_the_last_stacked() {
        let m = mount_of(SAMPLE, Path::new("/srv/with space\ttab/inner/x")).unwrap();
        assert_eq!(m.id, 42);
        let m = mount_of(SAMPLE, Path::new("/srv/with space\ttab/x")).unwrap();
        assert_eq!(m.id, 40);
        assert_eq!(mount_of(SAMPLE, Path::new("/etc")).unwrap().id, 22);
        // a prefix by characters is not a prefix by components
        assert_eq!(
            mount_of(SAMPLE, Path::new("/sys/fs/cgroupx")).unwrap().id,
            22
        );
    }

    #[test]
    fn escapes_decode_only_three_octal_digits() {
        assert_eq!(unescape("a\\134b"), Path::new("a\\b"));
        assert_eq!(unescape("a\\012"), Path::new("a\n"));
        assert_eq!(unescape("a\\09x"), Path::new("a\\09x"));
        assert_eq!(unescape("end\\04"), Path::new("end\\04"));
        assert_eq!(unescape("\\"), Path::new("\\"));
    }

    #[test]
    fn the_calling_process_has_a_root_mount() {
        let text = read_self().unwrap();
        assert!(parse(&text).all(|m| m.is_ok()));
        assert!(mount_of(&text, Path::new("/")).is_some());
    }
}
