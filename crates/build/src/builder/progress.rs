//! What a build tells its user, in the format asked for: docker's legacy builder lines
//! (`Step N/M : ...`, ` ---> id`; what `POST /build` and `DOCKER_BUILDKIT=0` clients read) or
//! BuildKit's plain progress (`#N [stage k/m] ...`, each output line timed, `#N DONE 0.3s`,
//! `#N CACHED`), or its live display on a terminal (`live.rs`). Nothing with `quiet`.

use super::live::Event;
use std::io::Write;
use std::sync::mpsc::Sender;
use std::time::Instant;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressFormat {
    /// docker's legacy builder
    #[default]
    Legacy,
    /// BuildKit's `--progress=plain` (what `auto` gives when not on a terminal): one line
    /// per event
    Plain,
    /// BuildKit's `--progress=tty` (what `auto` gives on a terminal): a live display drawn in
    /// place on a terminal of `rows` x `cols`
    Tty { rows: u16, cols: u16 },
}

impl ProgressFormat {
    /// `--progress=auto|plain|tty|quiet`: the format and whether it is quiet, for output to
    /// a terminal of `terminal` (rows, cols), or not to a terminal (None: `tty` draws for 24 x
    /// 80 then).
    pub fn parse(s: &str, terminal: Option<(u16, u16)>) -> Result<(ProgressFormat, bool), String> {
        let tty = |(rows, cols): (u16, u16)| ProgressFormat::Tty { rows, cols };
        match s {
            "auto" => Ok((terminal.map_or(ProgressFormat::Plain, tty), false)),
            "tty" => Ok((tty(terminal.unwrap_or((24, 80))), false)),
            "plain" => Ok((ProgressFormat::Plain, false)),
            "quiet" => Ok((ProgressFormat::Plain, true)),
            other => Err(format!(
                "invalid progress mode {other:?}: expected auto, plain, tty or quiet"
            )),
        }
    }
}

/// A report's format, for another thread: see [`Report::like`].
pub(super) struct Like {
    format: ProgressFormat,
    quiet: bool,
    live: Option<Sender<Event>>,
}

impl Like {
    /// The report: to the same live display, else written to `buf` (shown after the
    /// first's).
    pub(super) fn report(self, buf: &mut Vec<u8>) -> Report<'_> {
        let mut r = Report::new(buf, self.format, self.quiet);
        r.live = self.live;
        r
    }
}

/// A build's progress writer.
pub(super) struct Report<'a> {
    pub(super) out: &'a mut dyn Write,
    format: ProgressFormat,
    quiet: bool,
    /// the step being reported (plain: its `#N`), when it started, whether it is done
    step: usize,
    started: Instant,
    open: bool,
    /// plain: the next output byte starts a line
    line_start: bool,
    /// tty: where the events go (the display draws them)
    live: Option<Sender<Event>>,
}

impl<'a> Report<'a> {
    pub(super) fn new(out: &'a mut dyn Write, format: ProgressFormat, quiet: bool) -> Report<'a> {
        Report {
            out,
            format,
            quiet,
            step: 0,
            started: Instant::now(),
            open: false,
            line_start: true,
            live: None,
        }
    }

    /// A report of a tty build: its events go to the live display.
    pub(super) fn live(out: &'a mut dyn Write, quiet: bool, live: Sender<Event>) -> Report<'a> {
        let mut r = Report::new(out, ProgressFormat::Plain, quiet);
        r.live = Some(live);
        r
    }

    /// What a report in another thread (a stage built at the same time) needs to report as
    /// this one does.
    pub(super) fn like(&self) -> Like {
        Like {
            format: self.format,
            quiet: self.quiet,
            live: self.live.clone(),
        }
    }

    /// Send `e` to the live display; false when there is none (the lines are written).
    fn send(&self, e: impl FnOnce() -> Event) -> bool {
        match &self.live {
            Some(tx) => {
                if !self.quiet {
                    let _ = tx.send(e());
                }
                true
            }
            None => false,
        }
    }

    /// How many steps the build shows (tty: the display's total).
    pub(super) fn total(&mut self, n: usize) {
        self.send(|| Event::Total(n));
    }

    fn line(&mut self, s: &str) {
        if !self.quiet {
            let _ = writeln!(self.out, "{s}");
            let _ = self.out.flush();
        }
    }

    fn plain(&self) -> bool {
        self.format != ProgressFormat::Legacy
    }

    /// A step starts: number `n` of `total`; `place` is its stage's label (`"name "` or empty)
    /// and its place `k` of `m` there, None for a step that changes no files (BuildKit shows
    /// none of those).
    pub(super) fn step(
        &mut self,
        n: usize,
        total: usize,
        place: Option<(&str, usize, usize)>,
        text: &str,
    ) {
        self.finish_output();
        self.step = n;
        self.started = Instant::now();
        self.open = place.is_some();
        if let Some((label, k, m)) = place {
            if self.send(|| Event::Start(n, format!("[{label}{k}/{m}] {text}"))) {
                return;
            }
        }
        if self.live.is_some() {
            return;
        }
        match (self.format, place) {
            (ProgressFormat::Legacy, _) => self.line(&format!("Step {n}/{total} : {text}")),
            (_, Some((label, k, m))) => self.line(&format!("#{n} [{label}{k}/{m}] {text}")),
            (_, None) => {}
        }
    }

    /// The step's image: it is done.
    pub(super) fn image(&mut self, id: &str) {
        self.finish_output();
        let (n, open) = (self.step, self.open);
        if self.send(|| Event::Done(if open { n } else { 0 })) {
            self.open = false;
            return;
        }
        match self.format {
            ProgressFormat::Legacy => self.line(&format!(" ---> {id}")),
            _ if self.open => {
                let s = self.started.elapsed().as_secs_f64();
                self.line(&format!("#{} DONE {s:.1}s", self.step));
            }
            _ => {}
        }
        self.open = false;
    }

    /// A step that makes no image (an ARG before the first FROM).
    pub(super) fn no_image(&mut self) {
        self.open = false;
    }

    /// The step's image came from the cache.
    pub(super) fn cached(&mut self, id: &str) {
        let (n, open) = (self.step, self.open);
        if self.send(|| Event::Cached(if open { n } else { 0 })) {
            self.open = false;
            return;
        }
        match self.format {
            ProgressFormat::Legacy => {
                self.line(" ---> Using cache");
                self.line(&format!(" ---> {id}"));
            }
            _ if self.open => self.line(&format!("#{} CACHED", self.step)),
            _ => {}
        }
        self.open = false;
    }

    /// The legacy builder's container lines (plain progress has none).
    pub(super) fn container(&mut self, text: &str) {
        if !self.plain() {
            self.line(text);
        }
    }

    /// Any other line (triggers, cache import and export, warnings).
    pub(super) fn note(&mut self, text: &str) {
        self.finish_output();
        if self.send(|| Event::Note(text.trim().to_string())) {
            return;
        }
        match self.format {
            ProgressFormat::Legacy => self.line(text),
            _ => self.line(&format!("#{} {text}", self.step)),
        }
    }

    /// A warning, shown even when quiet.
    pub(super) fn warn(&mut self, text: &str) {
        if let Some(tx) = &self.live {
            let _ = tx.send(Event::Warn(text.to_string()));
            return;
        }
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// A step's process output (`stderr`: its standard error, red in the legacy format as
    /// docker's classic builder sends it; each line timed in the plain one).
    pub(super) fn output(&mut self, stderr: bool, data: &[u8]) {
        if self.quiet || self.send(|| Event::Log(self.step, data.to_vec())) {
            return;
        }
        if !self.plain() {
            if stderr {
                let _ = self.out.write_all(b"\x1b[91m");
            }
            let _ = self.out.write_all(data);
            if stderr {
                let _ = self.out.write_all(b"\x1b[0m");
            }
            let _ = self.out.flush();
            return;
        }
        let t = self.started.elapsed().as_secs_f64();
        let mut buf = Vec::with_capacity(data.len() + 16);
        for &b in data {
            if self.line_start {
                buf.extend_from_slice(format!("#{} {t:.3} ", self.step).as_bytes());
                self.line_start = false;
            }
            buf.push(b);
            if b == b'\n' {
                self.line_start = true;
            }
        }
        let _ = self.out.write_all(&buf);
        let _ = self.out.flush();
    }

    /// End a step's output that did not end with a newline.
    fn finish_output(&mut self) {
        if self.plain() && self.live.is_none() && !self.line_start {
            let _ = writeln!(self.out);
            self.line_start = true;
        }
    }

    /// The end: the image built and the names it got.
    pub(super) fn built(&mut self, n: usize, id: &str, tags: &[String]) {
        let mut export = vec![format!("writing image {id}")];
        export.extend(tags.iter().map(|t| format!("naming to {t}")));
        if self.send(|| Event::Export(n, export)) {
            return;
        }
        match self.format {
            ProgressFormat::Legacy => {
                self.line(&format!("Successfully built {}", super::short(id)));
                for t in tags {
                    self.line(&format!("Successfully tagged {t}"));
                }
            }
            _ => {
                self.line(&format!("#{n} exporting to image"));
                self.line(&format!("#{n} writing image {id} done"));
                for t in tags {
                    self.line(&format!("#{n} naming to {t} done"));
                }
                self.line(&format!("#{n} DONE 0.0s"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(format: ProgressFormat, f: impl FnOnce(&mut Report)) -> String {
        let mut out = Vec::new();
        let mut r = Report::new(&mut out, format, false);
        f(&mut r);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn legacy_lines() {
        let s = report(ProgressFormat::Legacy, |r| {
            r.step(2, 3, Some(("", 2, 2)), "RUN echo hi");
            r.container(" ---> Running in abc");
            r.output(false, b"hi\n");
            r.output(true, b"oops\n");
            r.image("0123456789ab");
            r.step(3, 3, None, "ENV A=1");
            r.cached("ba9876543210");
            r.built(4, "sha256:0123456789abcdef", &["x:latest".into()]);
        });
        assert_eq!(
            s,
            "Step 2/3 : RUN echo hi\n ---> Running in abc\nhi\n\x1b[91moops\n\x1b[0m ---> 0123456789ab\n\
             Step 3/3 : ENV A=1\n ---> Using cache\n ---> ba9876543210\n\
             Successfully built 0123456789ab\nSuccessfully tagged x:latest\n"
        );
    }

    #[test]
    fn plain_lines_are_numbered_and_timed() {
        let s = report(ProgressFormat::Plain, |r| {
            r.step(2, 3, Some(("build ", 2, 3)), "RUN echo hi");
            r.container(" ---> Running in abc");
            r.output(false, b"hi\nthere");
            r.image("0123456789ab");
            r.step(3, 3, None, "ENV A=1");
            r.cached("ba9876543210");
            r.step(4, 4, Some(("build ", 3, 3)), "COPY a b");
            r.cached("ba9876543210");
        });
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "#2 [build 2/3] RUN echo hi");
        assert!(
            lines[1].starts_with("#2 0.") && lines[1].ends_with(" hi"),
            "{s}"
        );
        assert!(
            lines[2].starts_with("#2 0.") && lines[2].ends_with(" there"),
            "{s}"
        );
        assert!(
            lines[3].starts_with("#2 DONE ") && lines[3].ends_with('s'),
            "{s}"
        );
        assert_eq!(&lines[4..], ["#4 [build 3/3] COPY a b", "#4 CACHED"]);
        let tty = ProgressFormat::Tty {
            rows: 30,
            cols: 100,
        };
        assert_eq!(
            ProgressFormat::parse("auto", None),
            Ok((ProgressFormat::Plain, false))
        );
        assert_eq!(
            ProgressFormat::parse("auto", Some((30, 100))),
            Ok((tty, false))
        );
        assert_eq!(
            ProgressFormat::parse("plain", Some((30, 100))),
            Ok((ProgressFormat::Plain, false))
        );
        assert!(ProgressFormat::parse("fancy", None).is_err());
    }
}
