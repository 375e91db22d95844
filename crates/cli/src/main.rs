//! `berth`: a daemonless docker-compatible CLI.

mod berth;

fn main() {
    // (SIGPIPE: the commands choose, see `berth::main`)
    fault::mark("berth.main");
    let code = berth::main();
    fault::mark("berth.end");
    std::process::exit(code);
}
