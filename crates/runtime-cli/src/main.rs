//! berth-runtime: a runc-compatible OCI runtime.

mod cli;

use clap::Parser;
use cli::{args::Cli, args::Command, args::Early, args::LogFormat, commands};

fn main() {
    fault::mark("rt.main");
    let args: Vec<String> = std::env::args().collect();
    match cli::args::early(&args) {
        Some(Early::Version) => {
            let code = i32::from(cli::out::bytes(cli::specgen::version_text().as_bytes()).is_err());
            std::process::exit(code);
        }
        Some(Early::NoHelpTopic(name)) => {
            runtime::log::log(
                runtime::log::Level::Error,
                &format!("No help topic for '{name}'"),
            );
            std::process::exit(3);
        }
        // before parsing, which the re-executed process does anyway; a failure is reported
        // by the command's own re-execution
        Some(Early::Protect) => {
            let _ = cli::seal::reexec_sealed();
        }
        None => {}
    }
    let cli = Cli::parse_from(&args);
    fault::mark("rt.parsed");
    // As runc: a failed `exec` exits 255, so callers tell it from the process's own status.
    let error_code = if matches!(cli.command, Command::Exec(_)) {
        255
    } else {
        1
    };
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
            std::process::exit(error_code);
        }
    }
}
