//! Per-layer progress bars on a terminal.

use super::*;

/// Per-layer progress display.
pub(super) struct Bars {
    pub(super) mode: Progress,
    pub(super) mp: Option<indicatif::MultiProgress>,
    pub(super) lock: Mutex<()>,
}

pub(super) struct Bar<'a> {
    pub(super) bars: &'a Bars,
    pub(super) id: String,
    pub(super) pb: Option<indicatif::ProgressBar>,
    /// for events: the status a byte count goes with, bytes so far, bytes at the last event
    pub(super) status: Mutex<String>,
    pub(super) total: u64,
    pub(super) current: std::sync::atomic::AtomicU64,
    pub(super) reported: std::sync::atomic::AtomicU64,
}

impl Bars {
    pub(super) fn new(mode: Progress) -> Self {
        let mp = matches!(mode, Progress::Bars).then(indicatif::MultiProgress::new);
        Bars {
            mode,
            mp,
            lock: Mutex::new(()),
        }
    }

    pub(super) fn emit(&self, id: Option<&str>, status: &str, progress: Option<(u64, u64)>) {
        if let Progress::Events(sink) = &self.mode {
            sink(&Event {
                id: id.map(str::to_string),
                status: status.to_string(),
                progress,
            });
        }
    }

    /// A message about the whole transfer.
    pub(super) fn line(&self, s: &str) {
        match &self.mode {
            Progress::Quiet => {}
            Progress::Plain => {
                let _g = self.lock.lock().unwrap();
                let _ = writeln!(std::io::stderr(), "{s}");
            }
            Progress::Bars => {
                if let Some(mp) = &self.mp {
                    let _ = mp.println(s);
                }
            }
            Progress::Events(_) => self.emit(None, s, None),
        }
    }

    /// A message about one layer (or tag): `id: msg` on a terminal, an event with that id.
    pub(super) fn layer_line(&self, id: &str, msg: &str) {
        match &self.mode {
            Progress::Events(_) => self.emit(Some(id), msg, None),
            _ => self.line(&format!("{id}: {msg}")),
        }
    }

    /// A step only the API's stream reports (docker's CLI shows it, berth's does not).
    pub(super) fn event(&self, id: &str, msg: &str) {
        self.emit(Some(id), msg, None);
    }

    pub(super) fn bar(&self, id: &str, total: u64, msg: &str) -> Bar<'_> {
        let pb = self.mp.as_ref().map(|mp| {
            let pb = mp.add(indicatif::ProgressBar::new(total));
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix}: {msg:<18} [{bar:40}] {bytes}/{total_bytes}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            pb.set_prefix(id.to_string());
            pb.set_message(msg.to_string());
            pb
        });
        if matches!(self.mode, Progress::Plain | Progress::Events(_)) {
            self.layer_line(id, msg);
        }
        Bar {
            bars: self,
            id: id.to_string(),
            pb,
            status: Mutex::new(msg.to_string()),
            total,
            current: Default::default(),
            reported: Default::default(),
        }
    }
}

impl Bar<'_> {
    pub(super) fn inc(&self, n: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some(pb) = &self.pb {
            pb.inc(n);
        }
        if let Progress::Events(_) = &self.bars.mode {
            let cur = self.current.fetch_add(n, SeqCst) + n;
            // an event per 2% (at least 64 KiB) and at the end, not one per chunk
            let step = (self.total / 50).max(64 << 10);
            if cur >= self.reported.load(SeqCst) + step || cur >= self.total {
                self.reported.store(cur, SeqCst);
                let status = self.status.lock().unwrap().clone();
                self.bars
                    .emit(Some(&self.id), &status, Some((cur, self.total)));
            }
        }
    }
    pub(super) fn reset(&self) {
        if let Some(pb) = &self.pb {
            pb.set_position(0);
        }
        self.current.store(0, std::sync::atomic::Ordering::SeqCst);
        self.reported.store(0, std::sync::atomic::Ordering::SeqCst);
    }
    pub(super) fn status(&self, msg: &str) {
        *self.status.lock().unwrap() = msg.to_string();
        match &self.pb {
            Some(pb) => pb.set_message(msg.to_string()),
            None => self.bars.layer_line(&self.id, msg),
        }
    }
    pub(super) fn done(&self, msg: &str) {
        match &self.pb {
            Some(pb) => {
                pb.set_style(
                    indicatif::ProgressStyle::with_template("{prefix}: {msg}").expect("template"),
                );
                pb.finish_with_message(msg.to_string());
            }
            None => self.bars.layer_line(&self.id, msg),
        }
    }
}
