//! The monitor: one small process per running container (`berth-monitor`, or the berth binary
//! re-executed, as `berth __monitor`; see `helper::spawn`). It is the container init's parent,
//! so it alone gets the exit status; it owns the container's stdio (pipes, or the pty master),
//! writes the json-file log, serves attach clients on a unix socket, records the exit code and
//! OOM kill, and applies the restart policy. `berth` itself returns as soon as the container
//! runs.
//!
//! Attach stream: frames of `[kind u8][len u32 BE][payload]`. Client → monitor: STDIN, STDIN_EOF,
//! RESIZE (rows u16, cols u16). Monitor → client: STDOUT, STDERR, EXIT (i32 BE, sent after the
//! container is fully stopped -- and removed with `--rm`), ERROR (start failure text).

mod frames;
mod memory;
mod restart;
mod serve;
mod spawn;

pub use frames::{
    read_frame, write_frame, Attach, ERROR, EXIT, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT,
};
pub(crate) use memory::start_tunables;
pub use restart::main;
pub use spawn::{spawn, spawn_connected, Host};
