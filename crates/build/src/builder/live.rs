//! `--progress=tty`: BuildKit's live display on a terminal. The steps that change files are
//! listed with their time (`=> [stage k/m] RUN ...   1.2s`, `=> CACHED [...]`), a running
//! step with its last lines of output (`=> => # ...`), under a `[+] Building 2.3s (4/7)`
//! header; the whole frame is drawn again in place (cursor up, lines cleared) as events come
//! and every [`TICK`] while steps run, and a last time with `FINISHED`. A step that failed is
//! shown `ERROR`, then its output in BuildKit's `------` box.
//!
//! The build runs in a thread of its own and reports events over a channel; the calling thread
//! owns the terminal and draws (so a step that prints nothing still sees its timer move).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How often a frame is drawn while steps run.
pub(super) const TICK: Duration = Duration::from_millis(100);
/// The lines of output a running step shows.
const LOG_LINES: usize = 6;
/// The lines of output a failed step shows after the display.
const ERROR_LINES: usize = 10;

/// What a build reports to the display.
pub(super) enum Event {
    /// how many steps the display will show
    Total(usize),
    /// step `n` (BuildKit's vertex) starts: `[stage k/m] TEXT`
    Start(usize, String),
    Done(usize),
    Cached(usize),
    /// output of step `n`
    Log(usize, Vec<u8>),
    /// a line of its own (cache import and export, triggers)
    Note(String),
    /// shown after the display, even when the build fails
    Warn(String),
    /// the export: its step number and lines (`writing image ...`, `naming to ...`)
    Export(usize, Vec<String>),
}

#[derive(Default)]
struct Vertex {
    name: String,
    started: Option<Instant>,
    ended: Option<Instant>,
    cached: bool,
    error: bool,
    logs: Vec<String>,
    partial: Vec<u8>,
    /// sub-lines shown done (`=> => naming to ...`)
    subs: Vec<String>,
}

/// The display's state and the terminal it draws on.
pub(super) struct Display<'w> {
    out: &'w mut dyn Write,
    rows: usize,
    cols: usize,
    started: Instant,
    total: usize,
    vertices: BTreeMap<usize, Vertex>,
    /// notes get numbers after the steps'
    notes: usize,
    warnings: Vec<String>,
    /// the lines of the frame on the terminal (the cursor is below them)
    drawn: usize,
}

/// Run `work` (given the sender of its events) in a thread of its own and draw its progress
/// on `out` (`rows` x `cols`) until it ends; `work`'s result, once the last frame is drawn.
pub(super) fn show<T: Send>(
    out: &mut dyn Write,
    (rows, cols): (u16, u16),
    work: impl FnOnce(Sender<Event>) -> (T, bool) + Send,
) -> T {
    let mut d = Display::new(out, rows, cols);
    let (tx, rx) = channel();
    std::thread::scope(|sc| {
        let worker = sc.spawn(move || work(tx));
        loop {
            match rx.recv_timeout(TICK) {
                Ok(e) => {
                    d.apply(e);
                    // what came meanwhile, then one frame
                    while let Ok(e) = rx.try_recv() {
                        d.apply(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            d.draw(false);
        }
        let (r, ok) = worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        d.finish(ok);
        r
    })
}

impl<'w> Display<'w> {
    fn new(out: &'w mut dyn Write, rows: u16, cols: u16) -> Display<'w> {
        Display {
            out,
            rows: usize::from(rows.max(4)),
            cols: usize::from(cols.max(20)),
            started: Instant::now(),
            total: 0,
            vertices: BTreeMap::new(),
            notes: 0,
            warnings: Vec::new(),
            drawn: 0,
        }
    }

    fn apply(&mut self, e: Event) {
        let now = Instant::now();
        match e {
            Event::Total(n) => self.total = n,
            Event::Start(n, name) => {
                let v = self.vertices.entry(n).or_default();
                v.name = name;
                v.started = Some(now);
            }
            Event::Done(n) => self.end(n, now, false),
            Event::Cached(n) => self.end(n, now, true),
            Event::Log(n, data) => {
                if let Some(v) = self.vertices.get_mut(&n) {
                    v.log(&data);
                }
            }
            Event::Note(text) => {
                self.notes += 1;
                let v = Vertex {
                    name: text,
                    started: Some(now),
                    ended: Some(now),
                    ..Default::default()
                };
                self.vertices.insert(usize::MAX / 2 + self.notes, v);
            }
            Event::Warn(text) => self.warnings.push(text),
            Event::Export(n, subs) => {
                let v = Vertex {
                    name: "exporting to image".into(),
                    started: Some(now),
                    ended: Some(now),
                    subs,
                    ..Default::default()
                };
                self.vertices.insert(n, v);
            }
        }
    }

    fn end(&mut self, n: usize, now: Instant, cached: bool) {
        if let Some(v) = self.vertices.get_mut(&n) {
            v.ended = Some(now);
            v.cached = cached;
            v.flush_partial();
        }
    }

    /// The lines of a frame at `now`.
    fn frame(&self, now: Instant, finished: bool) -> Vec<String> {
        let done = self
            .vertices
            .iter()
            .filter(|(n, v)| v.ended.is_some() && **n < usize::MAX / 2)
            .count();
        let total = self.total.max(done);
        let secs = now.duration_since(self.started).as_secs_f64();
        let mut head = format!("[+] Building {secs:.1}s ({done}/{total})");
        if finished {
            head.push_str(" FINISHED");
        }
        let mut body = Vec::new();
        for v in self.vertices.values() {
            let Some(started) = v.started else { continue };
            let t = v.ended.unwrap_or(now).duration_since(started).as_secs_f64();
            let mark = match (v.cached, v.error) {
                (_, true) => "ERROR ",
                (true, _) => "CACHED ",
                _ => "",
            };
            body.push(self.timed(&format!(" => {mark}{}", v.name), t));
            for s in &v.subs {
                body.push(self.timed(&format!(" => => {s}"), 0.0));
            }
            if v.ended.is_none() {
                let mut lines: Vec<String> = v.logs.clone();
                if !v.partial.is_empty() {
                    lines.push(String::from_utf8_lossy(&v.partial).into_owned());
                }
                let skip = lines.len().saturating_sub(LOG_LINES);
                for l in &lines[skip..] {
                    body.push(self.cut(&format!(" => => # {l}")));
                }
            }
        }
        // what does not fit the terminal: the oldest lines go (the header stays)
        let room = self.rows - 1;
        let skip = body.len().saturating_sub(room);
        std::iter::once(self.cut(&head))
            .chain(body.into_iter().skip(skip))
            .collect()
    }

    /// `text` with the time at the right edge, as BuildKit aligns it.
    fn timed(&self, text: &str, secs: f64) -> String {
        let t = format!("{secs:.1}s");
        let room = self.cols - 1 - t.len() - 1;
        let text = cut_to(text, room);
        let pad = room - text.chars().count();
        format!("{text}{} {t}", " ".repeat(pad))
    }

    fn cut(&self, s: &str) -> String {
        cut_to(s, self.cols - 1)
    }

    /// Draw the frame over the last one.
    fn draw(&mut self, finished: bool) {
        let lines = self.frame(Instant::now(), finished);
        let mut buf = String::new();
        if self.drawn > 0 {
            buf.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for l in &lines {
            buf.push_str("\r\x1b[K");
            buf.push_str(l);
            buf.push('\n');
        }
        // a shorter frame: clear what the last one left below
        buf.push_str("\x1b[J");
        self.drawn = lines.len();
        let _ = self.out.write_all(buf.as_bytes());
        let _ = self.out.flush();
    }

    /// The last frame (steps still running when the build failed are its errors), then the
    /// failed steps' output and the warnings.
    fn finish(&mut self, ok: bool) {
        let now = Instant::now();
        let mut failed = Vec::new();
        for v in self.vertices.values_mut() {
            if v.started.is_some() && v.ended.is_none() {
                v.ended = Some(now);
                v.error = !ok;
                v.flush_partial();
                if !ok {
                    failed.push((v.name.clone(), v.logs.clone()));
                }
            }
        }
        self.draw(true);
        let mut tail = String::new();
        for (name, logs) in failed {
            tail.push_str(&format!("------\n > {name}:\n"));
            let skip = logs.len().saturating_sub(ERROR_LINES);
            for l in &logs[skip..] {
                tail.push_str(&format!("{l}\n"));
            }
            tail.push_str("------\n");
        }
        for w in &self.warnings {
            tail.push_str(w);
            tail.push('\n');
        }
        let _ = self.out.write_all(tail.as_bytes());
        let _ = self.out.flush();
    }
}

impl Vertex {
    fn log(&mut self, data: &[u8]) {
        for &b in data {
            match b {
                b'\n' => self.flush_partial(),
                // a progress bar's carriage return starts its line again
                b'\r' => self.partial.clear(),
                _ => self.partial.push(b),
            }
        }
    }

    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let l = String::from_utf8_lossy(&self.partial).into_owned();
            self.logs.push(l);
            self.partial.clear();
        }
    }
}

/// `s` cut to `n` characters, control characters shown as `?` (a step's output must not move
/// the cursor of the display).
fn cut_to(s: &str, n: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display(out: &mut Vec<u8>) -> Display<'_> {
        Display::new(out, 10, 60)
    }

    #[test]
    fn frame_lists_steps_with_times_and_the_running_ones_output() {
        let mut out = Vec::new();
        let mut d = display(&mut out);
        d.apply(Event::Total(3));
        d.apply(Event::Start(1, "[1/3] FROM base".into()));
        d.apply(Event::Done(1));
        d.apply(Event::Start(2, "[2/3] COPY a /a".into()));
        d.apply(Event::Cached(2));
        d.apply(Event::Start(3, "[3/3] RUN make".into()));
        d.apply(Event::Log(3, b"one\ntwo\x1b[2Jthree\npart".to_vec()));
        let f = d.frame(Instant::now(), false);
        assert!(
            f[0].starts_with("[+] Building ") && f[0].ends_with("s (2/3)"),
            "{f:?}"
        );
        assert!(
            f[1].starts_with(" => [1/3] FROM base ") && f[1].ends_with("s"),
            "{f:?}"
        );
        assert!(f[2].starts_with(" => CACHED [2/3] COPY a /a "), "{f:?}");
        assert!(f[3].starts_with(" => [3/3] RUN make "), "{f:?}");
        assert_eq!(
            &f[4..],
            [" => => # one", " => => # two?[2Jthree", " => => # part"]
        );
        assert!(f.iter().all(|l| l.chars().count() < 60), "{f:?}");
    }

    #[test]
    fn redraw_goes_back_over_the_last_frame_and_a_failure_shows_the_output() {
        let mut out = Vec::new();
        let mut d = display(&mut out);
        d.apply(Event::Start(2, "[2/2] RUN false".into()));
        d.apply(Event::Log(2, b"it broke\n".to_vec()));
        d.draw(false);
        d.apply(Event::Warn("WARNING: careful".into()));
        d.finish(false);
        let s = String::from_utf8(out).unwrap();
        // the second frame starts by moving up over the first's 3 lines
        let second = s.find("\x1b[3A").expect("no cursor up");
        let last = &s[second..];
        assert!(last.contains(" => ERROR [2/2] RUN false"), "{s:?}");
        assert!(last.contains("FINISHED"), "{s:?}");
        assert!(
            last.ends_with("------\n > [2/2] RUN false:\nit broke\n------\nWARNING: careful\n"),
            "{s:?}"
        );
    }

    #[test]
    fn a_frame_taller_than_the_terminal_keeps_its_header_and_newest_lines() {
        let mut out = Vec::new();
        let mut d = display(&mut out);
        for n in 1..=20 {
            d.apply(Event::Start(n, format!("[{n}/20] RUN step{n}")));
            d.apply(Event::Done(n));
        }
        let f = d.frame(Instant::now(), true);
        assert_eq!(f.len(), 10);
        assert!(f[0].contains("(20/20) FINISHED"), "{f:?}");
        assert!(f[9].contains("RUN step20"), "{f:?}");
    }
}
