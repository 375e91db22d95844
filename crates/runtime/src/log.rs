//! runc-compatible logging: `--log FILE` and `--log-format text|json`. containerd and podman read
//! the JSON lines (`{"level","msg","time"}`) and show the last error to the user.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<Mutex<std::fs::File>>,
    json: bool,
    min: Level,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Configure once, at startup. Without a file, messages go to stderr.
pub fn init(file: Option<std::fs::File>, json: bool, debug: bool) {
    let _ = LOGGER.set(Logger {
        file: file.map(Mutex::new),
        json,
        min: if debug { Level::Debug } else { Level::Warn },
    });
}

pub fn format_line(level: Level, msg: &str, json: bool, time: &str) -> String {
    if json {
        serde_json::json!({"level": level.as_str(), "msg": msg, "time": time}).to_string() + "\n"
    } else {
        format!("time=\"{time}\" level={} msg={:?}\n", level.as_str(), msg)
    }
}

pub fn log(level: Level, msg: &str) {
    let (json, min) = LOGGER
        .get()
        .map(|l| (l.json, l.min))
        .unwrap_or((false, Level::Warn));
    if level < min {
        return;
    }
    let line = format_line(level, msg, json, &crate::util::now_rfc3339());
    match LOGGER.get().and_then(|l| l.file.as_ref()) {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

pub fn has_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_as_containerd_reads_them() {
        let l = format_line(
            Level::Error,
            "container \"x\" does not exist",
            true,
            "2026-01-01T00:00:00.000000000Z",
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "2026-01-01T00:00:00.000000000Z");
        assert!(l.ends_with('\n'));
    }
}
