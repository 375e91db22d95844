//! The event journal: what `docker events` shows, written by every berth process (the CLI,
//! the monitors, `berth serve`) as one JSON line per event in `<run root>/events.log`, so the
//! CLI's and the API's events are one stream. Each line goes in with a single `O_APPEND`
//! write (concurrent writers never interleave); past `CAP` bytes the file is renamed to
//! `events.log.1` (the one older generation kept) and a new one begins. Readers take the
//! history from both files and follow the current one across rotations.

pub mod window;

use crate::filters::{self, Filters};
use crate::types::{Container, MountPoint, Volume};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const JOURNAL: &str = "events.log";
const ROTATED: &str = "events.log.1";
const LOCK: &str = "events.lock";
/// Size of the journal before it rotates (two generations are kept).
pub const CAP: u64 = 4 << 20;

/// The kinds of object events are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Container,
    Image,
    Volume,
    Network,
    Daemon,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Container => "container",
            Type::Image => "image",
            Type::Volume => "volume",
            Type::Network => "network",
            Type::Daemon => "daemon",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event in docker's shape (`status`, `id` and `from` are the legacy fields docker still
/// fills for container and image events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event happening now.
    pub fn new(kind: Type, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let mut ev = Event {
            kind: kind.as_str().into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
            ..Default::default()
        };
        match kind {
            Type::Container => {
                ev.status = action.into();
                ev.id = id.into();
                ev.from = ev
                    .actor
                    .attributes
                    .get("image")
                    .cloned()
                    .unwrap_or_default();
            }
            Type::Image => {
                ev.status = action.into();
                ev.id = id.into();
            }
            _ => {}
        }
        ev
    }
}

/// Where events are journaled: anything that knows berth's volatile state dir (the engine, or
/// that dir itself). The journal is a leaf the rest of the engine calls; it calls nothing back.
pub trait Journal {
    fn run_root(&self) -> &Path;
}

impl Journal for Path {
    fn run_root(&self) -> &Path {
        self
    }
}

pub fn journal(run_root: &Path) -> PathBuf {
    run_root.join(JOURNAL)
}

/// Record an event (best effort: a journal that cannot be written never fails the operation
/// that happened).
pub fn emit(
    engine: &(impl Journal + ?Sized),
    kind: Type,
    action: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
) {
    emit_to(engine.run_root(), kind, action, id, attributes)
}

/// `emit` for code that has the state root but no engine (the image commands).
pub fn emit_root(
    root: &Path,
    kind: Type,
    action: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
) {
    emit_to(
        &crate::paths::run_root_of(root),
        kind,
        action,
        id,
        attributes,
    )
}

pub fn emit_to(
    run_root: &Path,
    kind: Type,
    action: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
) {
    let ev = Event::new(kind, action, id, attributes);
    let _ = append(run_root, &ev, CAP);
}

/// A container event: attributes `image`, `name` and the container's labels, then `extra`
/// (which win: `name` after a rename, `exitCode`, `signal`, `execID`...).
pub fn container(
    engine: &(impl Journal + ?Sized),
    c: &Container,
    action: &str,
    extra: &[(&str, String)],
) {
    emit(
        engine,
        Type::Container,
        action,
        &c.id,
        container_attributes(c, extra),
    )
}

pub fn container_attributes(c: &Container, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut a = c.config.labels.clone();
    a.insert("image".into(), c.config.image.clone());
    a.insert("name".into(), c.short_name().to_string());
    for (k, v) in extra {
        a.insert(k.to_string(), v.clone());
    }
    a
}

/// `kill` with the signal's number.
pub fn killed(engine: &(impl Journal + ?Sized), c: &Container, signal: i32) {
    container(engine, c, "kill", &[("signal", signal.to_string())]);
}

/// A volume mounted into a container as it starts.
pub fn volume_mounted(engine: &(impl Journal + ?Sized), v: &Volume, c: &Container, m: &MountPoint) {
    let a = attrs(&[
        ("container", &c.id),
        ("destination", &m.destination),
        ("driver", &v.driver),
        ("propagation", &m.propagation),
        ("read/write", if m.rw { "true" } else { "false" }),
    ]);
    emit(engine, Type::Volume, "mount", &v.name, a);
}

/// The end of a container's run, from its monitor: `oom` when the OOM killer struck, then `die`
/// with the exit code and how long it ran.
pub fn died(
    engine: &(impl Journal + ?Sized),
    c: &Container,
    code: i64,
    oom: bool,
    ran: std::time::Duration,
) {
    if oom {
        container(engine, c, "oom", &[]);
    }
    let extra = [
        ("exitCode", code.to_string()),
        ("execDuration", ran.as_secs().to_string()),
    ];
    container(engine, c, "die", &extra);
}

/// The exec events (for the API's exec endpoints): `exec_create: CMD`, `exec_start: CMD`
/// (docker's actions carry the command line) and `exec_die` with the exit code.
pub fn exec(
    engine: &(impl Journal + ?Sized),
    c: &Container,
    action: &str,
    exec_id: &str,
    cmd: &[String],
    exit: Option<i64>,
) {
    let mut extra = vec![("execID", exec_id.to_string())];
    if let Some(code) = exit {
        extra.push(("exitCode", code.to_string()));
    }
    let action = if action == "exec_die" {
        action.to_string()
    } else {
        format!("{action}: {}", cmd.join(" "))
    };
    container(engine, c, &action, &extra);
}

/// An image event: `Actor.ID` is the image's id or reference, `name` the reference it is about.
pub fn image(store: &image::ImageStore, action: &str, id: &str, name: &str) {
    let a = if name.is_empty() {
        BTreeMap::new()
    } else {
        attrs(&[("name", name)])
    };
    emit_root(&store.root, Type::Image, action, id, a)
}

/// Attributes from pairs.
pub fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Append one event as one write; rotate when the file grew past `cap`.
pub fn append(run_root: &Path, ev: &Event, cap: u64) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(ev)?;
    line.push(b'\n');
    let path = journal(run_root);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(&line)?;
    let md = f.metadata()?;
    if md.len() > cap {
        rotate(run_root, md.ino(), cap)?;
    }
    Ok(())
}

/// Rename the journal to its one older generation, unless another writer did meanwhile.
fn rotate(run_root: &Path, ino: u64, cap: u64) -> std::io::Result<()> {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(run_root.join(LOCK))?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))
        .and_then(|_guard| {
            let path = journal(run_root);
            match std::fs::metadata(&path) {
                Ok(md) if md.ino() == ino && md.len() > cap => {
                    std::fs::rename(&path, run_root.join(ROTATED))
                }
                _ => Ok(()),
            }
        })
}

fn parse_lines(data: &[u8], out: &mut Vec<Event>) {
    for line in data.split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        if let Ok(ev) = serde_json::from_slice::<Event>(line) {
            out.push(ev);
        }
    }
}

/// Follows the journal: `poll` returns what was appended since the last call, across
/// rotations.
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    /// an incomplete last line (a write seen half-way)
    partial: Vec<u8>,
}

impl Follower {
    /// Start following. With `history`, the events already in the journal (both
    /// generations, oldest first) are returned too; without, only later ones will be.
    pub fn open(run_root: &Path, history: bool) -> (Vec<Event>, Follower) {
        let path = journal(run_root);
        let mut f = Follower {
            path: path.clone(),
            file: None,
            ino: 0,
            partial: Vec::new(),
        };
        // the current file first: a rotation after this still leaves its events to us
        f.reopen();
        let mut past = Vec::new();
        if history {
            if let Ok(data) = std::fs::read(run_root.join(ROTATED)) {
                parse_lines(&data, &mut past);
            }
            past.extend(f.poll());
        } else if let Some(file) = &mut f.file {
            let _ = file.seek(SeekFrom::End(0));
        }
        (past, f)
    }

    fn reopen(&mut self) -> bool {
        match File::open(&self.path) {
            Ok(file) => {
                self.ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
                self.file = Some(file);
                self.partial.clear();
                true
            }
            Err(_) => false,
        }
    }

    fn drain(&mut self, out: &mut Vec<Event>) {
        let Some(file) = &mut self.file else {
            return;
        };
        let mut buf = Vec::new();
        if file.read_to_end(&mut buf).is_err() || buf.is_empty() {
            return;
        }
        self.partial.extend_from_slice(&buf);
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let whole = std::mem::replace(&mut self.partial, rest);
            parse_lines(&whole, out);
        }
    }

    /// The events appended since the last call.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.file.is_none() && !self.reopen() {
            return out;
        }
        self.drain(&mut out);
        let rotated = match std::fs::metadata(&self.path) {
            Ok(md) => md.ino() != self.ino,
            Err(_) => false,
        };
        if rotated {
            // what was written to the old file before the rename, a whole generation we never
            // saw (two rotations since the last poll), then the new file
            self.drain(&mut out);
            if let Ok(data) = File::open(self.path.with_file_name(ROTATED)).and_then(|mut f| {
                if f.metadata()?.ino() == self.ino {
                    return Ok(Vec::new());
                }
                let mut d = Vec::new();
                f.read_to_end(&mut d)?;
                Ok(d)
            }) {
                parse_lines(&data, &mut out);
            }
            if self.reopen() {
                self.drain(&mut out);
            }
        }
        out
    }
}

// ------------------------------------------------------------------ filters

/// The filter keys `docker events` accepts.
pub const FILTER_KEYS: &[&str] = &[
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
    "config",
];

/// Check an events filter's keys.
pub fn validate_filters(f: &Filters) -> crate::Result<()> {
    filters::validate(f, FILTER_KEYS)
}

/// docker's events filter (daemon/events/filter.go): every given key must match.
pub fn matches(f: &Filters, ev: &Event) -> bool {
    if f.is_empty() {
        return true;
    }
    let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    // "health_status", "exec_create" and "exec_start" match the actions with their detail
    // ("exec_start: sh"); other actions match exactly
    let fuzzy_event = f.get("event").is_some_and(|vs| {
        vs.iter()
            .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"))
    });
    let event_ok = if fuzzy_event {
        filters::fuzzy(f, "event", &ev.action)
    } else {
        filters::exact(f, "event", &ev.action)
    };
    let by_name = |kind: &str| {
        !f.contains_key(kind)
            || filters::fuzzy(f, kind, &ev.actor.id)
            || filters::fuzzy(f, kind, attr("name"))
    };
    let image_ok = {
        let name = if ev.kind == "image" {
            attr("name")
        } else {
            attr("image")
        };
        !f.contains_key("image")
            || [
                ev.actor.id.as_str(),
                name,
                strip_tag(&ev.actor.id),
                strip_tag(name),
            ]
            .iter()
            .any(|s| filters::exact(f, "image", s))
    };
    event_ok
        && filters::exact(f, "type", &ev.kind)
        && filters::exact(f, "scope", &ev.scope)
        && by_name("container")
        && by_name("volume")
        && by_name("network")
        && by_name("plugin")
        && by_name("daemon")
        && image_ok
        && (!f.contains_key("label") || filters::labels(f, "label", &ev.actor.attributes))
        && !["node", "service", "secret", "config"]
            .iter()
            .any(|k| f.contains_key(*k))
}

/// `repo:tag` → `repo` (a digest or a registry port is kept).
fn strip_tag(s: &str) -> &str {
    let s = s.split('@').next().unwrap_or(s);
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => &s[..i],
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Type, action: &str, id: &str, attrs_: &[(&str, &str)]) -> Event {
        Event::new(kind, action, id, attrs(attrs_))
    }

    use crate::filters::pairs as f;

    #[test]
    fn shape_is_dockers() {
        let e = ev(
            Type::Container,
            "start",
            "abc",
            &[("image", "busybox"), ("name", "x")],
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "start");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Actor"]["Attributes"]["name"], "x");
        assert_eq!(v["scope"], "local");
        assert_eq!(
            v["time"].as_i64().unwrap(),
            v["timeNano"].as_i64().unwrap() / 1_000_000_000
        );
        let n = serde_json::to_value(ev(Type::Network, "create", "n1", &[])).unwrap();
        assert!(n.get("status").is_none() && n.get("id").is_none() && n.get("from").is_none());
    }

    #[test]
    fn filters_follow_docker() {
        let start = ev(
            Type::Container,
            "start",
            "abcdef",
            &[
                ("image", "busybox:latest"),
                ("name", "web"),
                ("tier", "front"),
            ],
        );
        let exec = ev(
            Type::Container,
            "exec_start: sh -c true",
            "abcdef",
            &[("image", "busybox"), ("name", "web")],
        );
        let vol = ev(Type::Volume, "create", "data", &[("driver", "local")]);
        let img = ev(Type::Image, "tag", "sha256:1234", &[("name", "busybox:v2")]);
        assert!(matches(&f(&[]), &vol));
        assert!(matches(&f(&[("type", "container")]), &start));
        assert!(!matches(&f(&[("type", "container")]), &vol));
        assert!(matches(
            &f(&[("type", "container"), ("type", "volume")]),
            &vol
        ));
        assert!(matches(&f(&[("container", "abc")]), &start));
        assert!(matches(&f(&[("container", "web")]), &start));
        assert!(!matches(&f(&[("container", "web")]), &vol));
        assert!(matches(&f(&[("event", "start")]), &start));
        assert!(!matches(&f(&[("event", "sta")]), &start));
        assert!(matches(&f(&[("event", "exec_start")]), &exec));
        assert!(matches(&f(&[("image", "busybox")]), &start));
        assert!(matches(&f(&[("image", "busybox")]), &img));
        assert!(!matches(&f(&[("image", "alpine")]), &start));
        assert!(matches(&f(&[("label", "tier=front")]), &start));
        assert!(!matches(&f(&[("label", "tier=back")]), &start));
        assert!(matches(&f(&[("volume", "data")]), &vol));
        assert!(matches(&f(&[("scope", "local")]), &vol));
        assert!(!matches(&f(&[("scope", "swarm")]), &vol));
        assert!(validate_filters(&f(&[("bogus", "1")])).is_err());
        assert_eq!(strip_tag("reg:5000/a/b:v1"), "reg:5000/a/b");
        assert_eq!(strip_tag("reg:5000/a"), "reg:5000/a");
    }

    #[test]
    fn journal_appends_follows_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        let (past, mut fol) = Follower::open(run, true);
        assert!(past.is_empty());
        for i in 0..5 {
            append(
                run,
                &ev(Type::Volume, "create", &format!("v{i}"), &[]),
                1 << 20,
            )
            .unwrap();
        }
        let got = fol.poll();
        assert_eq!(got.len(), 5);
        assert_eq!(got[4].actor.id, "v4");
        assert!(fol.poll().is_empty());
        // a tiny cap: every append past it rotates; the follower sees every event once
        let mut seen = Vec::new();
        for i in 0..40 {
            append(run, &ev(Type::Volume, "create", &format!("w{i}"), &[]), 600).unwrap();
            if i % 7 == 0 {
                seen.extend(fol.poll());
            }
        }
        seen.extend(fol.poll());
        let ids: Vec<String> = seen.iter().map(|e| e.actor.id.clone()).collect();
        let want: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        assert_eq!(ids, want);
        assert!(std::fs::metadata(run.join(JOURNAL)).unwrap().len() <= 600 + 300);
        assert!(run.join(ROTATED).exists());
        // history: both generations, oldest first, ending with the last event
        let (past, _) = Follower::open(run, true);
        assert!(past.len() >= 2);
        assert_eq!(past.last().unwrap().actor.id, "w39");
        assert!(past.windows(2).all(|w| w[0].time_nano <= w[1].time_nano));
        // without history: only what comes later
        let (past, mut fol) = Follower::open(run, false);
        assert!(past.is_empty());
        append(run, &ev(Type::Network, "create", "n", &[]), CAP).unwrap();
        assert_eq!(fol.poll().len(), 1);
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().to_path_buf();
        let long = "x".repeat(3000);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let run = run.clone();
                let long = long.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let e = ev(
                            Type::Container,
                            "start",
                            &format!("{t}-{i}"),
                            &[("pad", &long)],
                        );
                        append(&run, &e, CAP).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let data = std::fs::read(run.join(JOURNAL)).unwrap();
        let lines: Vec<&[u8]> = data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 400);
        assert!(lines
            .iter()
            .all(|l| serde_json::from_slice::<Event>(l).is_ok()));
    }
}
