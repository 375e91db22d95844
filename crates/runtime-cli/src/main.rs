//! berth-runtime: a runc-compatible OCI runtime.

mod cli;

use clap::Parser;
use cli::{args::Cli, args::LogFormat, commands};

fn main() {
    let cli = Cli::parse();
    let log_file = match commands::open_log(cli.log.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(1);
        }
    };
    let had_log = log_file.is_some();
    runtime::log::init(log_file, cli.log_format == LogFormat::Json, cli.debug);
    match commands::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = format!("{e:#}");
            if had_log {
                runtime::log::log(runtime::log::Level::Error, &msg);
            }
            eprintln!("{msg}");
            std::process::exit(1);
        }
    }
}
