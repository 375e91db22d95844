//! The entry point of every helper process (see the `helper` module): the per-container monitor
//! (`__monitor`), a user network's DNS server (`__dns`) and an exec into a container
//! (`__exec`). The CLI's `main` hands any `__*` command line to [`main`] before parsing its own.
//! The top of the engine: it dispatches to `monitor`, `net` and `helper::exec`.

use crate::helper::{exec, inherited_sync_fd, Request, REQUEST_FD};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};

/// The state root and helper name of a helper's command line (`[--root ROOT] __NAME ...`,
/// after argv[0]); None when it is not one.
fn parse_argv(args: &[OsString]) -> Option<(PathBuf, String)> {
    let mut root = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--root" {
            root = Some(PathBuf::from(it.next()?));
        } else if let Some(r) = s.strip_prefix("--root=") {
            root = Some(PathBuf::from(r));
        } else if s.starts_with("__") {
            let root = root.unwrap_or_else(crate::paths::default_root);
            return Some((root, s.into_owned()));
        } else {
            return None;
        }
    }
    None
}

/// Is this command line (without argv[0]) a helper's?
pub fn is_helper(args: &[OsString]) -> bool {
    parse_argv(args).is_some()
}

/// Reads the request from [`REQUEST_FD`].
fn read_request() -> Result<Request, String> {
    // SAFETY: fcntl on a possibly closed fd only fails with EBADF.
    if unsafe { libc::fcntl(REQUEST_FD, libc::F_GETFD) } < 0 {
        return Err(format!("no request on fd {REQUEST_FD}"));
    }
    // SAFETY: fd 4 was set up by our spawner for us alone: we own it from here on.
    let mut f = unsafe { std::fs::File::from_raw_fd(REQUEST_FD) };
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .map_err(|e| format!("read the request on fd {REQUEST_FD}: {e}"))?;
    serde_json::from_slice(&data).map_err(|e| format!("bad request on fd {REQUEST_FD}: {e}"))
}

/// Entry point of every helper: `args` is the command line without argv[0]. The exit status.
pub fn main(args: &[OsString]) -> i32 {
    with_request(args, run)
}

/// Entry point of the `berth-monitor` executable: the monitor alone (the helpers a monitor
/// starts run from `berth`), so that the linker leaves everything else out of it.
pub fn monitor_main(args: &[OsString]) -> i32 {
    crate::helper::spawn::started_as_monitor_exe();
    with_request(args, |root, req| match req {
        Request::Monitor { id, attach } => {
            set_sigpipe(libc::SIG_IGN);
            crate::monitor::main(root, &id, attach)
        }
        other => {
            eprintln!(
                "berth-monitor: runs container monitors only, not {}",
                other.argv()[0]
            );
            2
        }
    })
}

/// Reads the request of the helper command line `args` and hands it to `f`.
fn with_request(args: &[OsString], f: impl FnOnce(&Path, Request) -> i32) -> i32 {
    let Some((root, name)) = parse_argv(args) else {
        eprintln!("berth: not a helper command line");
        return 2;
    };
    if name == "__exec" {
        // before the request is read: the re-executed helper reads it (fd 4 stays open)
        if let Err(e) = exec::protect_self() {
            eprintln!("{e}");
            return e.code;
        }
    } else if let Err(e) = crate::helper::spawn::detach() {
        // every other helper was started by `spawn_detached`, which waits for this process
        eprintln!("berth {name}: {e}");
        return 1;
    }
    let req = match read_request() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth {name}: {e}");
            return 2;
        }
    };
    if req.argv()[0] != name {
        eprintln!(
            "berth {name}: the request on fd {REQUEST_FD} is for {}",
            req.argv()[0]
        );
        return 2;
    }
    f(&root, req)
}

fn set_sigpipe(disposition: libc::sighandler_t) {
    // SAFETY: setting a signal disposition to SIG_IGN or SIG_DFL has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, disposition);
    }
}

fn run(root: &Path, req: Request) -> i32 {
    // long-lived helpers outlive their readers; an exec dies with its reader like any command
    set_sigpipe(match req {
        Request::Exec(_) => libc::SIG_DFL,
        _ => libc::SIG_IGN,
    });
    match req {
        Request::Monitor { id, attach } => crate::monitor::main(root, &id, attach),
        Request::Dns { network } => network::dns::run(
            &crate::net::db_path(root),
            &crate::paths::run_root_of(root),
            &network,
            inherited_sync_fd(),
        ),
        Request::Exec(x) => exec::main(root, &x),
        Request::Ports(x) => crate::net::proxy::main(&x, inherited_sync_fd()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn helper_command_lines() {
        assert_eq!(
            parse_argv(&os(&["--root", "/r", "__monitor", "abc", "--attach"])),
            Some((PathBuf::from("/r"), "__monitor".into()))
        );
        assert_eq!(
            parse_argv(&os(&["--root=/r", "__dns", "n"])),
            Some((PathBuf::from("/r"), "__dns".into()))
        );
        assert!(!is_helper(&os(&["exec", "-it", "c", "__monitor"])));
        assert!(!is_helper(&os(&["--root", "/r", "ps"])));
        assert!(!is_helper(&os(&["--root"])));
    }
}
