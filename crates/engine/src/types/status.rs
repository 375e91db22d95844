//! A container's lifecycle status and the transitions between states. Only the methods here
//! change `State`'s status and the flags that mirror it (`Running`, `Paused`, `Restarting`,
//! `Pid`, ...), so callers say what happened (`set_running`, `set_stopped`) instead of writing
//! the fields one by one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{now, State, ZERO_TIME};

/// `State.Status`, serialized as docker spells it ("created", "running", ...).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Created,
        Status::Restarting,
        Status::Running,
        Status::Removing,
        Status::Paused,
        Status::Exited,
        Status::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// A status where a monitor should be alive.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }

    /// A status with a container process (running or frozen).
    pub fn has_process(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = ();

    fn from_str(s: &str) -> Result<Status, ()> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(())
    }
}

fn finished_unset(s: &State) -> bool {
    s.finished_at.is_empty() || s.finished_at == ZERO_TIME
}

impl State {
    /// The container's process `pid` was started (first start or a restart).
    pub fn set_running(&mut self, pid: i64) {
        self.status = Status::Running;
        self.running = true;
        self.paused = false;
        self.restarting = false;
        self.oom_killed = false;
        self.dead = false;
        self.pid = pid;
        self.exit_code = 0;
        self.error = String::new();
        self.started_at = now();
    }

    /// The container's process exited with `exit_code` (`oom`: the kernel killed it for memory).
    /// Never "running" with no process: a restart then says `set_restarting`.
    pub fn set_stopped(&mut self, exit_code: i64, oom: bool) {
        self.status = Status::Exited;
        self.exit_code = exit_code;
        self.oom_killed = oom;
        self.running = false;
        self.paused = false;
        self.restarting = false;
        self.pid = 0;
        self.finished_at = now();
    }

    /// The process could not be started: a container that never ran stays "created".
    pub fn set_start_failed(&mut self, exit_code: i64, error: String) {
        self.error = error;
        self.exit_code = exit_code;
        if self.status != Status::Created {
            self.status = Status::Exited;
        }
        self.running = false;
        self.restarting = false;
        self.pid = 0;
    }

    /// The restart policy will start the container again after a back-off.
    pub fn set_restarting(&mut self) {
        self.status = Status::Restarting;
        self.restarting = true;
    }

    /// The monitor is done with the container for good (it keeps the exit code recorded).
    pub fn set_finished(&mut self) {
        self.status = Status::Exited;
        self.running = false;
        self.restarting = false;
        self.paused = false;
        self.pid = 0;
        if finished_unset(self) {
            self.finished_at = now();
        }
    }

    /// The monitor of a live container is gone (`killed`: we killed what it left behind).
    /// A container that is not live is left alone.
    pub fn set_monitor_lost(&mut self, killed: bool) {
        if !self.status.is_live() {
            return;
        }
        self.status = Status::Exited;
        self.running = false;
        self.paused = false;
        self.restarting = false;
        self.pid = 0;
        if killed {
            self.exit_code = 137;
            self.error = "berth monitor died; the container was killed".into();
        } else {
            self.exit_code = 255;
            self.error = "berth monitor died (or the host rebooted); exit code unknown".into();
        }
        if finished_unset(self) {
            self.finished_at = now();
        }
    }

    /// The container was frozen: only a running container becomes paused.
    pub fn set_paused(&mut self) {
        if self.status == Status::Running {
            self.status = Status::Paused;
            self.paused = true;
        }
    }

    /// The container was thawed: only a paused container becomes running.
    pub fn set_unpaused(&mut self) {
        if self.status == Status::Paused {
            self.status = Status::Running;
            self.paused = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_docker_strings() {
        for st in Status::ALL {
            let j = serde_json::to_string(&st).unwrap();
            assert_eq!(j, format!("\"{st}\""));
            assert_eq!(serde_json::from_str::<Status>(&j).unwrap(), st);
            assert_eq!(st.as_str().parse::<Status>(), Ok(st));
        }
        assert!("up".parse::<Status>().is_err());
    }

    #[test]
    fn state_round_trips_byte_identical() {
        let text = r#"{"Status":"paused","Running":true,"Paused":true,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":7,"ExitCode":0,"Error":"","StartedAt":"x","FinishedAt":"y"}"#;
        let s: State = serde_json::from_str(text).unwrap();
        assert_eq!(s.status, Status::Paused);
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
    }

    #[test]
    fn transitions() {
        let mut s = State::created();
        s.set_paused();
        assert_eq!(s.status, Status::Created, "only a running container pauses");
        s.set_start_failed(127, "no such file".into());
        assert_eq!((s.status, s.exit_code), (Status::Created, 127));
        s.set_running(42);
        assert!(s.running && s.pid == 42 && s.error.is_empty() && s.exit_code == 0);
        s.set_paused();
        assert!(s.paused && s.status == Status::Paused);
        s.set_unpaused();
        assert!(!s.paused && s.status == Status::Running);
        s.set_stopped(137, true);
        assert!(!s.running && s.pid == 0 && s.oom_killed && s.status == Status::Exited);
        s.set_restarting();
        assert!(s.restarting && s.status == Status::Restarting);
        s.set_monitor_lost(false);
        assert_eq!((s.status, s.exit_code), (Status::Exited, 255));
        assert!(!s.restarting);
        s.set_monitor_lost(true);
        assert_eq!(s.exit_code, 255, "an exited container is left alone");
    }
}
