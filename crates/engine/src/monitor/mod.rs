//! The monitor: one small process per running container (the berth binary re-executed as
//! `berth __monitor`). It is the container init's parent, so it alone gets the exit status; it
//! owns the container's stdio (pipes, or the pty master), writes the json-file log, serves
//! attach clients on a unix socket, records the exit code and OOM kill, and applies the restart
//! policy. `berth` itself returns as soon as the container runs.
//!
//! Attach stream: frames of `[kind u8][len u32 BE][payload]`. Client → monitor: STDIN, STDIN_EOF,
//! RESIZE (rows u16, cols u16). Monitor → client: STDOUT, STDERR, EXIT (i32 BE, sent after the
//! container is fully stopped -- and removed with `--rm`), ERROR (start failure text).

mod frames;
mod restart;
mod serve;
mod spawn;

pub use frames::{
    read_frame, write_frame, Attach, ERROR, EXIT, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT,
};
pub use restart::main;
pub use spawn::{spawn, spawn_connected};

/// The docker CLI's exit status for a process that could not be started: 127 when something
/// was not found, 126 when it was not allowed, else `other`.
pub fn failure_code(msg: &str, other: i32) -> i32 {
    let m = msg.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        other
    }
}
