//! Work done in another network namespace: a rootless engine's bridges, veths, firewall rules
//! and DNS servers live in a namespace of the user's (see the engine's `net::rootless`), not in
//! the host's, which a plain user cannot change. A namespace is per thread: [`run_in`] runs a
//! closure on a short-lived thread that joined the namespace, so netlink sockets it opens,
//! sysctls it writes under /proc/sys/net and processes it starts (iptables, nft, a DNS
//! server) are all in that namespace, while the caller's threads stay where they are.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Run `f` on a thread inside the network namespace `ns` (a /proc/PID/ns/net or a file it is
/// bind-mounted on). The caller needs CAP_SYS_ADMIN in the namespace's user namespace.
pub fn run_in<T: Send>(ns: &Path, f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let file = File::open(ns)
        .map_err(|e| std::io::Error::new(e.kind(), format!("open {}: {e}", ns.display())))?;
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: setns on this thread only; the thread ends when `f` returns.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let e = std::io::Error::last_os_error();
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("join the network namespace {}: {e}", ns.display()),
                ));
            }
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("network namespace thread panicked")))
    })
}

/// Is `path` a namespace file (a bind mount of one) rather than a plain file?
pub fn is_namespace(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_namespace_and_leaves_the_caller_alone() {
        let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        // our own namespace: the closure sees the same one
        let seen = run_in(Path::new("/proc/self/ns/net"), || {
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .unwrap();
        assert_eq!(seen, own);
        assert!(is_namespace(Path::new("/proc/self/ns/net")));
        assert!(!is_namespace(Path::new("/proc/self/status")));
        let e = run_in(Path::new("/nonexistent/ns"), || ()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ns"), "{e}");
    }
}
