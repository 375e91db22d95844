//! What the commands print on stdout.

use std::io::Write;

/// Writes `bytes` to stdout. A reader that has gone (`state ID | head -c1`) ends the process by
/// SIGPIPE, as it ends runc, instead of the panic `println!` makes of it (Rust ignores SIGPIPE,
/// so the write fails with EPIPE).
pub fn bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let r = out.write_all(bytes).and_then(|()| out.flush());
    if matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
        // SAFETY: restoring SIGPIPE's default action and raising it have no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
    }
    r
}

/// [`bytes`] of `text` and a newline.
pub fn line(text: &str) -> std::io::Result<()> {
    bytes(format!("{text}\n").as_bytes())
}
