//! `berth`: a daemonless docker-compatible CLI.

mod berth;

fn main() {
    // (SIGPIPE: the commands choose, see `berth::main`)
    std::process::exit(berth::main());
}
