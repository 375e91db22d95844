//! `berth`: a daemonless docker-compatible CLI.

#[path = "../berth/mod.rs"]
mod berth;

fn main() {
    // die quietly on a closed pipe (`berth images | head`) like other CLIs
    // SAFETY: setting a signal disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(berth::main());
}
