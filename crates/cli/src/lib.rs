//! The command-line front ends of berth.

pub mod runtime_cli;
