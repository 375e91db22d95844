//! `berth-monitor`: each container's monitor in an executable of its own, as conmon is
//! podman's. `berth` starts monitors from this file when it lies next to it (see
//! `engine::helper::spawn`); as `main` calls nothing but the engine's monitor entry, the linker
//! leaves out the CLI, the API server, the builder and the other helpers, and every monitor
//! maps (and privately relocates) that much less.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(engine::entry::monitor_main(&args));
}
