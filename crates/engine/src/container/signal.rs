//! Signals and waits: `kill`, `stop`, `wait`, `pause`, `unpause`.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use crate::types::Status;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

impl Engine {
    pub fn kill(&self, key: &str, signal: &str) -> Result<Container> {
        let c = self.find_reconciled(key)?;
        if !c.state.status.has_process() {
            return Err(Error::Conflict(format!(
                "cannot kill container: {}: container {} is not running",
                key, c.id
            )));
        }
        let sig = parse_signal(signal)?;
        let stop_sig = c
            .config
            .stop_signal
            .as_deref()
            .and_then(|s| parse_signal(s).ok())
            .unwrap_or(Signal::SIGTERM);
        if sig == Signal::SIGKILL || sig == stop_sig {
            self.store
                .update(&c.id, |c| c.internal.manually_stopped = true)?;
        }
        self.runtime.kill(&c.id, sig, false)?;
        crate::events::killed(self, &c, sig as i32);
        if c.state.status == Status::Paused && sig == Signal::SIGKILL {
            let _ = self.runtime.resume(&c.id);
        }
        Ok(c)
    }

    /// docker stop: the stop signal, then SIGKILL after the timeout (default 10 s).
    pub fn stop(&self, key: &str, timeout: Option<i64>) -> Result<Container> {
        let c = self.find_reconciled(key)?;
        self.store
            .update(&c.id, |c| c.internal.manually_stopped = true)?;
        if c.state.status == Status::Restarting {
            // the monitor sees the flag and gives up waiting to restart
            self.wait_not_live(&c.id, Duration::from_secs(15))?;
            crate::events::container(self, &c, "stop", &[]);
            return Ok(c);
        }
        if !c.state.status.has_process() {
            return Ok(c);
        }
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10);
        let sig = c
            .config
            .stop_signal
            .as_deref()
            .map(parse_signal)
            .transpose()?
            .unwrap_or(Signal::SIGTERM);
        if t != 0 {
            let _ = self.runtime.kill(&c.id, sig, false);
            crate::events::killed(self, &c, sig as i32);
            if c.state.status == Status::Paused {
                let _ = self.runtime.resume(&c.id);
            }
            let limit = if t < 0 {
                Duration::from_secs(u64::MAX / 4)
            } else {
                Duration::from_secs(t as u64)
            };
            if self.wait_not_live(&c.id, limit).is_ok() {
                crate::events::container(self, &c, "stop", &[]);
                return Ok(c);
            }
        }
        let _ = self.runtime.kill(&c.id, Signal::SIGKILL, true);
        crate::events::killed(self, &c, Signal::SIGKILL as i32);
        let _ = self.runtime.resume(&c.id);
        self.wait_not_live(&c.id, Duration::from_secs(30))?;
        crate::events::container(self, &c, "stop", &[]);
        Ok(c)
    }

    /// Poll the store until the container is no longer running/paused/restarting.
    pub fn wait_not_live(&self, id: &str, limit: Duration) -> Result<Container> {
        let deadline = Instant::now() + limit;
        let mut delay = Duration::from_millis(2);
        loop {
            let c = self.find_reconciled(id)?;
            if !c.state.status.is_live() {
                return Ok(c);
            }
            if Instant::now() > deadline {
                return Err(Error::Other(format!("timed out waiting for {id} to stop")));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// docker wait: block until the container stops; its exit code.
    pub fn wait(&self, key: &str) -> Result<i64> {
        let c = self.find_reconciled(key)?;
        if c.state.status == Status::Created {
            // docker waits for "not-running": a created container has to start and stop first
            loop {
                let c = self.find_reconciled(&c.id)?;
                if c.state.status != Status::Created {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let c = self.wait_not_live(&c.id, Duration::from_secs(u64::MAX / 4))?;
        Ok(c.state.exit_code)
    }

    pub fn pause(&self, key: &str) -> Result<()> {
        let c = self.find_reconciled(key)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Conflict(format!(
                    "container {} is already paused",
                    c.id
                )))
            }
            _ => {
                return Err(Error::Conflict(format!(
                    "container {} is not running",
                    c.id
                )))
            }
        }
        if crate::paths::rootless_uid().is_some() {
            // a rootless container has a cgroup (and with it cgroup v2's freezer) only in a
            // subtree delegated to the user (see start's rootless_cgroups_path)
            if let Err(why) = crate::spec::rootless_cgroup_parent(&Default::default()) {
                return Err(Error::Invalid(format!(
                    "container {}: a rootless container can be paused only in a cgroup v2 \
                     subtree delegated to the user, whose freezer it uses: {why}",
                    c.id
                )));
            }
        }
        self.runtime.pause(&c.id)?;
        self.store.update(&c.id, |c| c.state.set_paused())?;
        crate::events::container(self, &c, "pause", &[]);
        Ok(())
    }

    pub fn unpause(&self, key: &str) -> Result<()> {
        let c = self.find_reconciled(key)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("container {} is not paused", c.id)));
        }
        self.runtime.resume(&c.id)?;
        self.store.update(&c.id, |c| c.state.set_unpaused())?;
        crate::events::container(self, &c, "unpause", &[]);
        Ok(())
    }
}

/// Signal names as docker accepts them: KILL, SIGKILL, kill, 9.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || Error::Invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}
