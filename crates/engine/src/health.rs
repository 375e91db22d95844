//! Health checks (`--health-*`, the image's HEALTHCHECK), run by the monitor: each probe is a
//! process exec'd into the container; its exit status and output go into `State.Health` with
//! docker's rules (starting → healthy on a success; unhealthy after `retries` consecutive
//! failures; failures inside the start period do not count).

use crate::engine::Engine;
use crate::types::now;
use crate::types::{Container, Health, HealthConfig, HealthLog};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

const SEC: i64 = 1_000_000_000;
/// docker keeps the last five probe results
const KEEP: usize = 5;
const MAX_OUTPUT: usize = 4096;

/// The effective probe settings (docker's defaults filled in); None: no health check.
#[derive(Clone, Debug)]
pub struct Settings {
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: i64,
    pub start_period: Duration,
    pub start_interval: Duration,
}

pub fn settings(h: Option<&HealthConfig>) -> Option<Settings> {
    let h = h?;
    let test = match h.test.first().map(String::as_str) {
        Some("CMD") => h.test[1..].to_vec(),
        Some("CMD-SHELL") => vec![
            "/bin/sh".into(),
            "-c".into(),
            h.test.get(1).cloned().unwrap_or_default(),
        ],
        _ => return None,
    };
    if test.is_empty() {
        return None;
    }
    let d = |ns: i64, default: i64| Duration::from_nanos(if ns > 0 { ns } else { default } as u64);
    Some(Settings {
        test,
        interval: d(h.interval, 30 * SEC),
        timeout: d(h.timeout, 30 * SEC),
        retries: if h.retries > 0 { h.retries } else { 3 },
        start_period: d(h.start_period, 0),
        start_interval: d(h.start_interval, 5 * SEC),
    })
}

/// One probe in flight.
pub struct Probe {
    pub pid: i32,
    pub out: Option<OwnedFd>,
    pub output: Vec<u8>,
    pub started: Instant,
    pub start_time: String,
    pub exit: Option<i64>,
}

pub struct Checker {
    pub s: Settings,
    pub container_started: Instant,
    pub next: Instant,
    pub probe: Option<Probe>,
}

impl Checker {
    pub fn new(s: Settings) -> Checker {
        let now = Instant::now();
        let first = if s.start_period > Duration::ZERO {
            s.start_interval.min(s.interval)
        } else {
            s.interval
        };
        Checker {
            s,
            container_started: now,
            next: now + first,
            probe: None,
        }
    }

    fn in_start_period(&self) -> bool {
        self.container_started.elapsed() < self.s.start_period
    }

    /// How long the monitor's poll may sleep before something is due here.
    pub fn timeout(&self) -> Duration {
        let now = Instant::now();
        let due = match &self.probe {
            Some(p) => p.started + self.s.timeout,
            None => self.next,
        };
        due.saturating_duration_since(now)
    }

    /// Start a probe when one is due.
    pub fn maybe_start(&mut self, engine: &Engine, c: &Container) {
        if self.probe.is_some() || Instant::now() < self.next {
            return;
        }
        let start_time = now();
        match spawn_probe(engine, c, &self.s.test) {
            Ok((pid, out)) => {
                self.probe = Some(Probe {
                    pid,
                    out: Some(out),
                    output: Vec::new(),
                    started: Instant::now(),
                    start_time,
                    exit: None,
                })
            }
            Err(e) => {
                self.record(engine, &c.id, start_time, -1, format!("{e}"));
            }
        }
    }

    /// Read what the probe printed; false once its pipe is closed.
    pub fn read_output(&mut self) {
        let Some(p) = &mut self.probe else { return };
        let Some(fd) = &p.out else { return };
        let mut buf = [0u8; 4096];
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) | Err(_) => p.out = None,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(p.output.len());
                p.output.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }

    /// The monitor reaped `pid`: was it our probe?
    pub fn reaped(&mut self, pid: i32, code: i64) -> bool {
        match &mut self.probe {
            Some(p) if p.pid == pid => {
                p.exit = Some(code);
                true
            }
            _ => false,
        }
    }

    /// Finish a probe that exited (output drained) or timed out.
    pub fn finish_if_done(&mut self, engine: &Engine, id: &str) {
        let Some(p) = &self.probe else { return };
        let timed_out = p.exit.is_none() && p.started.elapsed() >= self.s.timeout;
        if timed_out {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        } else if p.exit.is_none() || p.out.is_some() && p.started.elapsed() < self.s.timeout {
            return;
        }
        let p = self.probe.take().expect("checked");
        let (code, output) = if timed_out {
            (
                -1,
                format!(
                    "Health check exceeded timeout ({}s)",
                    self.s.timeout.as_secs_f64()
                ),
            )
        } else {
            (
                p.exit.unwrap_or(-1),
                String::from_utf8_lossy(&p.output).into_owned(),
            )
        };
        self.record(engine, id, p.start_time, code, output);
    }

    fn record(&mut self, engine: &Engine, id: &str, start: String, code: i64, output: String) {
        let in_start = self.in_start_period();
        let retries = self.s.retries;
        let entry = HealthLog {
            start,
            end: now(),
            exit_code: code,
            output,
        };
        let before = health_status(engine, id);
        let _ = engine.store.update(id, |c| {
            let h = c.state.health.get_or_insert_with(|| Health {
                status: "starting".into(),
                ..Default::default()
            });
            h.log.push(entry);
            if h.log.len() > KEEP {
                let n = h.log.len() - KEEP;
                h.log.drain(..n);
            }
            if code == 0 {
                h.status = "healthy".into();
                h.failing_streak = 0;
            } else if !(in_start && h.status == "starting") {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = "unhealthy".into();
                }
            }
        });
        health_changed(engine, id, before.as_deref());
        let healthy_or_past_start = !self.in_start_period();
        self.next = Instant::now()
            + if healthy_or_past_start {
                self.s.interval
            } else {
                self.s.start_interval
            };
    }
}

/// `health_status: STATUS` when a health check changed the container's status from
/// `before`.
fn health_changed(engine: &Engine, id: &str, before: Option<&str>) {
    let Ok(Some(c)) = engine.store.get(id) else {
        return;
    };
    let now = c.state.health.as_ref().map(|h| h.status.clone());
    if let Some(now) = now.filter(|n| Some(n.as_str()) != before) {
        crate::events::container(engine, &c, &format!("health_status: {now}"), &[]);
    }
}

/// The health status of a container now (for `health_changed`).
fn health_status(engine: &Engine, id: &str) -> Option<String> {
    let c = engine.store.get(id).ok().flatten()?;
    c.state.health.map(|h| h.status)
}

/// Exec the probe into the container with its output on a pipe.
fn spawn_probe(engine: &Engine, c: &Container, test: &[String]) -> crate::Result<(i32, OwnedFd)> {
    let req = crate::helper::request::ExecRequest {
        cmd: test.to_vec(),
        ..Default::default()
    };
    let p = crate::helper::exec::process(c, &req)?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| crate::Error::Other(format!("pipe: {e}")))?;
    let opts = runtime::ExecOptions {
        stdout: Some(
            w.try_clone()
                .map_err(|e| crate::Error::Other(format!("dup: {e}")))?,
        ),
        stderr: Some(w),
        ..Default::default()
    };
    let started = engine.runtime.exec(&c.id, &p, &opts)?;
    Ok((started.pid, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_follow_docker_defaults() {
        assert!(settings(None).is_none());
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert!(settings(Some(&none)).is_none());
        let s = settings(Some(&HealthConfig {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: SEC,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(s.test, vec!["/bin/sh", "-c", "true"]);
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.retries, 3);
        let s = settings(Some(&HealthConfig {
            test: vec!["CMD".into(), "cat".into(), "/x".into()],
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(s.test, vec!["cat", "/x"]);
    }
}
