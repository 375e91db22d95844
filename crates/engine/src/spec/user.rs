//! `--user` and `--group-add` looked up in the rootfs's /etc/passwd and /etc/group.

use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const MAX_ID: u64 = 2_147_483_647;

// ---------------------------------------------------------------------------------------------
// user lookup
// ---------------------------------------------------------------------------------------------

/// Read a file of the rootfs without ever leaving it: symlinks are resolved as if the rootfs were
/// `/`, the last component is opened with O_NOFOLLOW and only a regular file is read (a FIFO or
/// device planted as /etc/passwd must not block or be read). A missing file reads as empty.
fn read_in_rootfs(rootfs: &Path, path: &str) -> Result<String> {
    let resolved = runtime::rootfs::resolve_in_root(rootfs, Path::new(path))?;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&resolved)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        // a symlink left (loop or too deep) or not a directory on the way: nothing to read
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
            return Ok(String::new())
        }
        Err(e) => {
            return Err(Error::Io {
                context: format!("open {path} in the container"),
                source: e,
            })
        }
    };
    let meta = file.metadata().map_err(|e| Error::Io {
        context: format!("stat {path} in the container"),
        source: e,
    })?;
    if !meta.is_file() {
        return Ok(String::new());
    }
    let mut buf = Vec::new();
    file.take(16 << 20)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Io {
            context: format!("read {path} in the container"),
            source: e,
        })?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

struct PasswdEntry {
    name: String,
    uid: u64,
    gid: u64,
}

struct GroupEntry {
    name: String,
    gid: u64,
    members: Vec<String>,
}

/// The colon-separated fields of each record of an /etc/passwd or /etc/group text (blank
/// lines and comments skipped).
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    records(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    records(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn check_id(id: u64) -> Result<u32> {
    if id > MAX_ID {
        return Err(Error::Invalid(format!(
            "uids and gids must be in range 0-{MAX_ID}"
        )));
    }
    Ok(id as u32)
}

fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "user", "uid", "user:group", "uid:gid" looked up in <rootfs>/etc/passwd and /etc/group (read
/// safely: never following a symlink out of the rootfs), supplementary groups from /etc/group
/// membership plus HostConfig.GroupAdd; docker's error: `unable to find user NAME: no matching
/// entries in passwd file`. Numeric ids need no passwd entry.
///
/// As runc's lookup (which dockerd uses): an empty user is uid 0 (with root's passwd entry when
/// there is one), the primary gid comes from the passwd entry, and /etc/group memberships count
/// only when no group was given explicitly.
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>)> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = parse_passwd(&read_in_rootfs(rootfs, "/etc/passwd")?);
    let need_groups = group_arg.is_some() || !group_add.is_empty() || !passwd.is_empty();
    let groups = if need_groups {
        parse_group(&read_in_rootfs(rootfs, "/etc/group")?)
    } else {
        vec![]
    };

    let user_num = parse_id(user_arg);
    let entry = passwd.iter().find(|p| {
        if user_arg.is_empty() {
            p.uid == 0
        } else {
            p.name == user_arg || user_num == Some(p.uid)
        }
    });
    let (uid, mut gid, matched_name) = match (entry, user_num) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name.as_str())),
        (None, Some(n)) => (n, 0, None),
        (None, None) if user_arg.is_empty() => (0, 0, None),
        (None, None) => {
            return Err(Error::Invalid(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            )))
        }
    };
    let uid = check_id(uid)?;

    let mut additional = Vec::new();
    match group_arg {
        Some(g) if !g.is_empty() => {
            let num = parse_id(g);
            match groups.iter().find(|e| e.name == g || num == Some(e.gid)) {
                Some(e) => gid = e.gid,
                None => match num {
                    Some(n) => gid = n,
                    None => {
                        return Err(Error::Invalid(format!(
                            "unable to find group {g}: no matching entries in group file"
                        )))
                    }
                },
            }
        }
        Some(_) => {}
        None => {
            if let Some(name) = matched_name {
                for e in groups
                    .iter()
                    .filter(|e| e.members.iter().any(|m| m == name))
                {
                    additional.push(check_id(e.gid)?);
                }
            }
        }
    }
    let gid = check_id(gid)?;

    for g in group_add {
        let num = parse_id(g);
        let found = groups.iter().find(|e| e.name == *g || num == Some(e.gid));
        let id = match (found, num) {
            (Some(e), _) => e.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                )))
            }
        };
        additional.push(check_id(id)?);
    }
    Ok((uid, gid, additional))
}
