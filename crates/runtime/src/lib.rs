//! berth runtime: OCI runtime-spec bundle -> running, isolated process.
