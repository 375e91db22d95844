//! berth runtime: an OCI runtime-spec bundle becomes a running, isolated process.
//!
//! Process model (one process tree, no helper binary): the runtime clones the container's init
//! with every new namespace at once (through an intermediate process only when it must join
//! existing namespaces first), writes id mappings and limits from outside, then lets the init set
//! up its root filesystem and wait on `exec.fifo` until `start`.

pub mod bind_sources;
pub mod capabilities;
pub mod channel;
pub mod container;
pub mod detach_keys;
pub mod dev_mount;
pub mod error;
pub mod exe_view;
pub mod hooks;
pub mod init;
pub mod log;
pub mod lsm;
pub mod mount_options;
pub mod namespaces;
pub mod no_pivot;
pub mod process;
pub mod relay;
pub mod resources;
pub mod rlimit;
pub mod rootfs;
pub mod seccomp_agent;
pub mod shared_mntns;
pub mod spec;
pub mod state;
pub mod syscall;
pub mod tty;
pub mod util;

pub use container::{CreateOptions, ExecOptions, Runtime, StartGate, Started};
pub use error::{Error, Result};
pub use state::{OciState, Status};
