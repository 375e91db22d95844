//! Reading the event journal as `docker events` does: the `since`/`until` window, and
//! following new events until `until` passes or the reader is gone. Shared by `GET /events`
//! and `berth events`.

use super::{matches, Event, Follower};
use crate::error::{Error, Result};
use crate::filters::Filters;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How often the journal is looked at for new events while following.
pub const POLL: Duration = Duration::from_millis(100);

/// `since`/`until` as docker takes them: unix seconds (possibly fractional), RFC3339 or a date,
/// or a Go duration back from `now`; in nanoseconds since the epoch.
pub fn parse_bound(name: &str, v: Option<&str>, now: DateTime<Utc>) -> Result<Option<i64>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = crate::logs::parse_time(v, now)
        .map_err(|e| Error::Invalid(format!("invalid value for {name}: {e}")))?;
    Ok(Some(t.timestamp_nanos_opt().unwrap_or(i64::MAX)))
}

/// The window of past events to send and whether to follow new ones after them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// send the journal's past events (docker does when `since` or `until` is given)
    pub history: bool,
    /// keep the stream open for new events (until `until`, or until the client leaves)
    pub follow: bool,
}

pub fn window(since: Option<i64>, until: Option<i64>, now_nanos: i64) -> Result<Window> {
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(Error::Invalid(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                fmt_nanos(s),
                fmt_nanos(u)
            )));
        }
    }
    Ok(Window {
        since,
        until,
        history: since.is_some() || until.is_some(),
        follow: until.is_none_or(|u| u > now_nanos),
    })
}

fn fmt_nanos(n: i64) -> String {
    format!(
        "{}.{:09}",
        n.div_euclid(1_000_000_000),
        n.rem_euclid(1_000_000_000)
    )
}

impl Window {
    pub fn within(&self, ev: &Event) -> bool {
        self.since.is_none_or(|s| ev.time_nano >= s) && self.until.is_none_or(|u| ev.time_nano <= u)
    }
}

/// Send new events until `until` passes or the client is gone.
pub fn follow(
    follower: &mut Follower,
    w: &Window,
    f: &Filters,
    send: &dyn Fn(&Event) -> bool,
    gone: impl Fn() -> bool,
) {
    loop {
        for ev in follower.poll() {
            if w.until.is_some_and(|u| ev.time_nano > u) {
                return;
            }
            if w.within(&ev) && matches(f, &ev) && !send(&ev) {
                return;
            }
        }
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if gone() || w.until.is_some_and(|u| now > u) {
            // one last look: an event stamped before `until` may have been written since
            if !gone() {
                for ev in follower.poll() {
                    if w.within(&ev) && matches(f, &ev) {
                        send(&ev);
                    }
                }
            }
            return;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Type;

    #[test]
    fn bounds_parse_like_docker() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = now.timestamp_nanos_opt().unwrap();
        assert_eq!(parse_bound("since", None, now).unwrap(), None);
        assert_eq!(parse_bound("since", Some(""), now).unwrap(), None);
        assert_eq!(
            parse_bound("since", Some("1700000000"), now).unwrap(),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_bound("since", Some("1700000000.5"), now).unwrap(),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_bound("since", Some("1700000000.000000001"), now).unwrap(),
            Some(1_700_000_000_000_000_001)
        );
        assert_eq!(
            parse_bound("since", Some("5m"), now).unwrap(),
            Some(n - 300_000_000_000)
        );
        assert_eq!(parse_bound("until", Some("0s"), now).unwrap(), Some(n));
        assert_eq!(
            parse_bound("since", Some("2026-01-02T03:00:00Z"), now).unwrap(),
            Some(n - 245_000_000_000)
        );
        assert!(parse_bound("since", Some("yesterday"), now).is_err());
    }

    #[test]
    fn windows() {
        let w = window(None, None, 100).unwrap();
        assert!(!w.history && w.follow);
        let w = window(Some(10), None, 100).unwrap();
        assert!(w.history && w.follow);
        let w = window(Some(10), Some(50), 100).unwrap();
        assert!(w.history && !w.follow);
        let w = window(None, Some(200), 100).unwrap();
        assert!(w.history && w.follow);
        let e = window(Some(60), Some(50), 100).unwrap_err();
        assert!(e.to_string().contains("cannot be after"), "{e}");
        let w = window(Some(10), Some(50), 100).unwrap();
        let mut ev = Event::new(Type::Volume, "create", "v", Default::default());
        ev.time_nano = 10;
        assert!(w.within(&ev));
        ev.time_nano = 51;
        assert!(!w.within(&ev));
        ev.time_nano = 9;
        assert!(!w.within(&ev));
    }
}
