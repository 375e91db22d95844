//! The Dockerfile parser: text to [`Dockerfile`], following the Dockerfile reference.
//!
//! - Parser directives (`# syntax=`, `# escape=`, `# check=`; case-insensitive, whitespace
//!   allowed) are read only from the first lines; the first line that is not a directive (an
//!   empty line, another comment, an instruction, an unknown directive) ends them.
//! - `#` starts a comment only at the start of a line (after whitespace). Inside an
//!   instruction's continuation lines, comment lines and empty lines are skipped.
//! - The escape character (default `\`, or `` ` ``) followed only by blanks at the end of a line
//!   continues the instruction on the next line; the lines are joined without a separator.
//! - Arguments are kept as written. Words of ENV, LABEL and ARG keep their quotes and escapes:
//!   [`crate::expand::expand`] removes them while substituting variables, as docker does. Other
//!   words are split on whitespace only (COPY, ADD, EXPOSE, VOLUME shell forms, FROM).
//! - JSON (exec) form: arguments that start with `[` and parse as a JSON array of strings; any
//!   other text (invalid JSON) is the shell form, like docker; an array with non-strings is an
//!   error.
//! - Heredocs (`<<EOF`, `<<-EOF`, `<<'EOF'`, `<<"EOF"`, several per line) are read for RUN,
//!   COPY and ADD from the lines after the instruction.
//! - Flags (`--name=value`, `--name`) are checked per instruction: FROM `--platform`; RUN
//!   `--mount` (repeatable), `--network`, `--security`; COPY `--from --chown --chmod --link`;
//!   ADD `--chown --chmod --link`; HEALTHCHECK `--interval --timeout --start-period
//!   --start-interval --retries`. `--link` is accepted and ignored.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    /// The escape character (`\` or `` ` ``), for expanding the words later.
    pub escape: char,
    /// The `# syntax=` directive, if any (recorded, not acted on).
    pub syntax: Option<String>,
    /// ARG instructions before the first FROM (usable in FROM lines; a stage sees them only
    /// when it redeclares them with `ARG name`).
    pub global_args: Vec<Instruction>,
    /// The build stages in order; there is at least one.
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The base as written (may contain `$VARS` from the global args).
    pub base: String,
    /// `--platform` as written.
    pub platform: Option<String>,
    /// Line of the FROM instruction (1-based).
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// First line of the instruction (1-based).
    pub line: usize,
    /// Upper-case keyword, e.g. `RUN`.
    pub keyword: String,
    /// The instruction as written, continuation lines joined (escape and newline removed),
    /// comments and heredoc bodies left out, surrounding whitespace trimmed.
    pub original: String,
    pub kind: Kind,
}

/// The command of RUN, CMD, ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Command {
    /// Shell form: run with the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
    /// JSON (exec) form.
    Exec(Vec<String>),
}

/// A here-document of RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter, quotes removed.
    pub name: String,
    /// The lines between the instruction and the delimiter, each ending in `\n`, as written
    /// (see [`Heredoc::body`] for `<<-`).
    pub content: String,
    /// False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): no variable expansion.
    pub expand: bool,
    /// `<<-EOF`: leading tabs are removed from the lines (and the delimiter may be indented
    /// with tabs).
    pub strip_tabs: bool,
}

impl Heredoc {
    /// The content with leading tabs removed from each line when `strip_tabs`.
    pub fn body(&self) -> String {
        if !self.strip_tabs {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// What an instruction says. Words are as written (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Kind {
    Run {
        cmd: Command,
        heredocs: Vec<Heredoc>,
        /// `--mount`, `--network`, `--security` in order (name without `--`, value).
        flags: Vec<(String, String)>,
    },
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    Env(Vec<(String, String)>),
    /// `srcs` are the context sources; heredoc sources (`<<EOF`) are in `heredocs` instead, each
    /// to be written as a file named after its delimiter.
    Add {
        srcs: Vec<String>,
        dest: String,
        chown: Option<String>,
        chmod: Option<String>,
        heredocs: Vec<Heredoc>,
    },
    /// As ADD; `from` is a stage name, a stage index or an image reference.
    Copy {
        srcs: Vec<String>,
        dest: String,
        from: Option<String>,
        chown: Option<String>,
        chmod: Option<String>,
        heredocs: Vec<Heredoc>,
    },
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    /// Names with their defaults as written.
    Arg(Vec<(String, Option<String>)>),
    Onbuild(Box<Instruction>),
    StopSignal(String),
    /// `None` is `HEALTHCHECK NONE`.
    Healthcheck(Option<Health>),
    Maintainer(String),
}

/// A HEALTHCHECK CMD. Durations are nanoseconds; `None` when the flag was not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `["CMD", args...]` (exec form) or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
}

/// A syntax error, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    pub file: String,
    /// 1-based line of the instruction (for an unterminated heredoc: of the instruction).
    pub line: usize,
    /// Upper-case keyword as written (empty for errors not about an instruction).
    pub instruction: String,
    pub message: String,
}

impl fmt::Display for ParseError {
    /// `{file}:{line}: {instruction}: {message}`; for an unknown instruction docker's wording
    /// `{file}:{line}: unknown instruction: {instruction}`; without an instruction
    /// `{file}:{line}: {message}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message == UNKNOWN {
            write!(
                f,
                "{}:{}: {UNKNOWN}: {}",
                self.file, self.line, self.instruction
            )
        } else if self.instruction.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.instruction, self.message
            )
        }
    }
}

impl std::error::Error for ParseError {}

const UNKNOWN: &str = "unknown instruction";

impl Dockerfile {
    /// The index of the stage named `name` (case-insensitive) or numbered `name`.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(s) = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(s.index);
        }
        name.parse::<usize>()
            .ok()
            .filter(|i| *i < self.stages.len())
    }
}

/// Parses a Dockerfile; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let err = |line: usize, instruction: &str, message: String| ParseError {
        file: file.to_string(),
        line,
        instruction: instruction.to_string(),
        message,
    };

    // Parser directives.
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen = HashSet::new();
    for (n, raw) in lines.iter().enumerate() {
        let Some((key, value)) = directive(raw) else {
            break;
        };
        if !seen.insert(key.clone()) {
            return Err(err(
                n + 1,
                "",
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "escape" => match value.as_str() {
                "\\" => escape = '\\',
                "`" => escape = '`',
                _ => {
                    return Err(err(
                        n + 1,
                        "",
                        format!("invalid escape token '{value}' does not match ` or \\"),
                    ))
                }
            },
            "syntax" => syntax = Some(value),
            _ => {}
        }
    }

    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        let start = idx + 1;
        let first = lines[idx].trim_start();
        idx += 1;
        if first.starts_with('#') {
            continue;
        }
        let (mut line, mut end) = trim_continuation(first, escape);
        if end && line.trim().is_empty() {
            continue;
        }
        while !end && idx < lines.len() {
            let raw = lines[idx];
            idx += 1;
            let t = raw.trim_start();
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            let (more, e) = trim_continuation(raw, escape);
            line.push_str(&more);
            end = e;
        }
        let original = line.trim().to_string();
        if original.is_empty() {
            continue;
        }
        let (word, rest) = split_first_word(&original);
        let keyword = word.to_ascii_uppercase();

        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") && rest.contains("<<") {
            for (name, expand, strip_tabs) in heredoc_names(rest) {
                let mut content = String::new();
                let mut terminated = false;
                while idx < lines.len() {
                    let l = lines[idx];
                    idx += 1;
                    let candidate = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if candidate == name {
                        terminated = true;
                        break;
                    }
                    content.push_str(l);
                    content.push('\n');
                }
                if !terminated {
                    return Err(err(start, &keyword, format!("unterminated heredoc {name}")));
                }
                heredocs.push(Heredoc {
                    name,
                    content,
                    expand,
                    strip_tabs,
                });
            }
        }

        let e = |message: String| err(start, &keyword, message);
        if keyword == "FROM" {
            let (flags, rest) = extract_flags(rest).map_err(e)?;
            let mut flags = check_flags(&flags, &[("platform", Flag::Str)]).map_err(e)?;
            let platform = flags.pop().map(|(_, v)| v);
            let args: Vec<&str> = rest.split_whitespace().collect();
            let name = match args.as_slice() {
                [_] => None,
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    let name = name.to_ascii_lowercase();
                    if !valid_stage_name(&name) {
                        return Err(e(format!(
                            "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                        )));
                    }
                    if stages
                        .iter()
                        .any(|s| s.name.as_deref() == Some(name.as_str()))
                    {
                        return Err(e(format!("duplicate stage name {name:?}")));
                    }
                    Some(name)
                }
                _ => return Err(e("requires either one or three arguments".into())),
            };
            stages.push(Stage {
                index: stages.len(),
                name,
                base: args[0].to_string(),
                platform,
                line: start,
                instructions: Vec::new(),
            });
            continue;
        }

        let mut kind = parse_kind(&keyword, rest, heredocs, escape).map_err(|m| match m {
            Failure::Unknown(word) => err(start, &word, UNKNOWN.into()),
            Failure::Message(m) => e(m),
        })?;
        if let Kind::Onbuild(trigger) = &mut kind {
            trigger.line = start;
        }
        let instruction = Instruction {
            line: start,
            keyword: keyword.clone(),
            original,
            kind,
        };
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None if keyword == "ARG" => global_args.push(instruction),
            None => return Err(e("no build stage in current context".into())),
        }
    }
    if stages.is_empty() {
        let line = global_args.first().map_or(1, |a| a.line);
        let message = if global_args.is_empty() {
            "file with no instructions"
        } else {
            "no FROM instruction"
        };
        return Err(err(line, "", message.into()));
    }
    Ok(Dockerfile {
        escape,
        syntax,
        global_args,
        stages,
    })
}

/// `# key = value` with a known key, lower-cased.
fn directive(raw: &str) -> Option<(String, String)> {
    let rest = raw.trim_start().strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let key = rest[..key_len].to_ascii_lowercase();
    let value = rest[key_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() || !matches!(key.as_str(), "syntax" | "escape" | "check") {
        return None;
    }
    Some((key, value.to_string()))
}

/// Removes a trailing escape character (followed only by blanks): returns the line and
/// whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(s) => (s.to_string(), false),
        None => (line.to_string(), true),
    }
}

fn split_first_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

enum Failure {
    Unknown(String),
    Message(String),
}

impl From<String> for Failure {
    fn from(m: String) -> Self {
        Failure::Message(m)
    }
}

impl From<&str> for Failure {
    fn from(m: &str) -> Self {
        Failure::Message(m.to_string())
    }
}

fn parse_kind(
    keyword: &str,
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<Kind, Failure> {
    const AT_LEAST_ONE: &str = "requires at least one argument";
    const EXACTLY_ONE: &str = "requires exactly one argument";
    let (flags, rest) = extract_flags(rest)?;
    let no_flags = |flags: &[String]| check_flags(flags, &[]).map(|_| ());
    let kind = match keyword {
        "RUN" => {
            let flags = check_flags(
                &flags,
                &[
                    ("mount", Flag::Repeat),
                    ("network", Flag::Str),
                    ("security", Flag::Str),
                ],
            )?;
            if rest.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            Kind::Run {
                cmd: parse_command(rest)?,
                heredocs,
                flags,
            }
        }
        "CMD" | "ENTRYPOINT" => {
            no_flags(&flags)?;
            if rest.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            let cmd = parse_command(rest)?;
            if keyword == "CMD" {
                Kind::Cmd(cmd)
            } else {
                Kind::Entrypoint(cmd)
            }
        }
        "SHELL" => {
            no_flags(&flags)?;
            match parse_json(rest)? {
                Some(v) if !v.is_empty() => Kind::Shell(v),
                Some(_) => return Err(AT_LEAST_ONE.into()),
                None => return Err("requires the arguments to be in JSON form".into()),
            }
        }
        "LABEL" | "ENV" => {
            no_flags(&flags)?;
            let pairs = parse_name_val(rest, escape)?;
            if pairs.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            if keyword == "ENV" {
                Kind::Env(pairs)
            } else {
                Kind::Label(pairs)
            }
        }
        "EXPOSE" => {
            no_flags(&flags)?;
            let ports: Vec<String> = rest.split_whitespace().map(String::from).collect();
            if ports.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            Kind::Expose(ports)
        }
        "ADD" | "COPY" => {
            let allowed: &[(&str, Flag)] = if keyword == "COPY" {
                &[
                    ("from", Flag::Str),
                    ("chown", Flag::Str),
                    ("chmod", Flag::Str),
                    ("link", Flag::Bool),
                ]
            } else {
                &[
                    ("chown", Flag::Str),
                    ("chmod", Flag::Str),
                    ("link", Flag::Bool),
                ]
            };
            let flags = check_flags(&flags, allowed)?;
            let get = |n: &str| flags.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            let from = get("from");
            if from.as_deref() == Some("") {
                return Err("--from requires a value (a stage name, index or image)".into());
            }
            let mut args = parse_list(rest)?;
            if args.len() < 2 {
                return Err("requires at least two arguments".into());
            }
            let dest = args.pop().unwrap_or_default();
            let srcs = args
                .into_iter()
                .filter(|a| heredoc_word(a).is_none() || heredocs.is_empty())
                .collect();
            if keyword == "COPY" {
                Kind::Copy {
                    srcs,
                    dest,
                    from,
                    chown: get("chown"),
                    chmod: get("chmod"),
                    heredocs,
                }
            } else {
                Kind::Add {
                    srcs,
                    dest,
                    chown: get("chown"),
                    chmod: get("chmod"),
                    heredocs,
                }
            }
        }
        "VOLUME" => {
            no_flags(&flags)?;
            let vols = parse_list(rest)?;
            if vols.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            if vols.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Kind::Volume(vols)
        }
        "USER" | "WORKDIR" | "STOPSIGNAL" | "MAINTAINER" => {
            no_flags(&flags)?;
            if rest.is_empty() {
                return Err(EXACTLY_ONE.into());
            }
            let s = rest.to_string();
            match keyword {
                "USER" => Kind::User(s),
                "WORKDIR" => Kind::Workdir(s),
                "STOPSIGNAL" => Kind::StopSignal(s),
                _ => Kind::Maintainer(s),
            }
        }
        "ARG" => {
            no_flags(&flags)?;
            let mut args = Vec::new();
            for word in parse_words(rest, escape) {
                let (name, default) = match word.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (word, None),
                };
                if name.is_empty() {
                    return Err("names can not be blank".into());
                }
                args.push((name, default));
            }
            if args.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            Kind::Arg(args)
        }
        "ONBUILD" => {
            no_flags(&flags)?;
            if rest.is_empty() {
                return Err(AT_LEAST_ONE.into());
            }
            let (word, trigger_rest) = split_first_word(rest);
            let trigger = word.to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger").into())
                }
                _ => {}
            }
            let kind = parse_kind(&trigger, trigger_rest, Vec::new(), escape)?;
            Kind::Onbuild(Box::new(Instruction {
                // set to the ONBUILD's line by the caller
                line: 0,
                keyword: trigger,
                original: rest.to_string(),
                kind,
            }))
        }
        "HEALTHCHECK" => parse_healthcheck(&flags, rest)?,
        _ => return Err(Failure::Unknown(keyword.to_string())),
    };
    Ok(kind)
}

fn parse_healthcheck(flags: &[String], rest: &str) -> Result<Kind, Failure> {
    let flags = check_flags(
        flags,
        &[
            ("interval", Flag::Str),
            ("timeout", Flag::Str),
            ("start-period", Flag::Str),
            ("start-interval", Flag::Str),
            ("retries", Flag::Str),
        ],
    )?;
    let (word, cmd) = split_first_word(rest);
    match word.to_ascii_uppercase().as_str() {
        "" => Err("requires at least one argument".into()),
        "NONE" => {
            if !cmd.is_empty() || !flags.is_empty() {
                return Err("NONE takes no arguments".into());
            }
            Ok(Kind::Healthcheck(None))
        }
        "CMD" => {
            let test = match parse_json(cmd)? {
                Some(args) if !args.is_empty() => {
                    let mut test = vec!["CMD".to_string()];
                    test.extend(args);
                    test
                }
                Some(_) => Vec::new(),
                None if cmd.is_empty() => Vec::new(),
                None => vec!["CMD-SHELL".to_string(), cmd.to_string()],
            };
            if test.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            let get = |n: &str| flags.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
            let duration = |n: &str| -> Result<Option<i64>, String> {
                let Some(v) = get(n) else { return Ok(None) };
                let d = parse_duration(v).map_err(|e| format!("--{n}: {e}"))?;
                if d < 0 {
                    return Err(format!("Interval {n:?} cannot be negative"));
                }
                if d != 0 && d < 1_000_000 {
                    return Err(format!("Interval {n:?} cannot be less than 1ms"));
                }
                Ok(Some(d))
            };
            let retries = match get("retries") {
                None => None,
                Some(v) => {
                    let r: i64 = v
                        .parse()
                        .map_err(|_| format!("--retries: invalid number {v:?}"))?;
                    if r < 0 {
                        return Err(format!("--retries cannot be negative ({r})").into());
                    }
                    Some(r)
                }
            };
            Ok(Kind::Healthcheck(Some(Health {
                test,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            })))
        }
        _ => Err(format!("Unknown type {word:?} in HEALTHCHECK (try CMD)").into()),
    }
}

/// A Go duration (`300ms`, `1m30s`, `1.5h`, `0`) in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    engine::logs::parse_go_duration(s).ok_or_else(|| {
        if !s.is_empty()
            && s.trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.')
        {
            // Go's wording for "10"
            format!("missing unit in duration {s:?}")
        } else {
            format!("invalid duration {s:?}")
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Flag {
    Str,
    Bool,
    /// A string flag that may be given several times.
    Repeat,
}

/// The leading `--flag[=value]` words of an instruction's arguments, quotes and escapes
/// removed (a word `--` ends them), and the rest of the line.
fn extract_flags(line: &str) -> Result<(Vec<String>, &str), String> {
    let mut words = Vec::new();
    let mut rest = line.trim_start();
    loop {
        if !rest.starts_with("--") {
            return Ok((words, rest));
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return Err(format!("unterminated quote in flag {word}"));
        }
        rest = rest[end..].trim_start();
        if word == "--" {
            return Ok((words, rest));
        }
        words.push(word);
    }
}

/// Checks flag words against the allowed ones: `(name, value)` pairs in order (a bool flag
/// given without a value is `"true"`).
fn check_flags(
    words: &[String],
    allowed: &[(&str, Flag)],
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for word in words {
        let body = &word[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some((_, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            return Err(format!("unknown flag: {name}"));
        };
        if *kind != Flag::Repeat && out.iter().any(|(n, _)| n == name) {
            return Err(format!("duplicate flag specified: {name}"));
        }
        let value = match (kind, value) {
            (Flag::Bool, None) => "true".to_string(),
            (Flag::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "" => "true".to_string(),
                "false" => "false".to_string(),
                _ => return Err(format!("expecting boolean value for flag {name}, not: {v}")),
            },
            (_, None) => return Err(format!("missing a value on flag: {name}")),
            (_, Some(v)) => v.to_string(),
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// JSON form: `Some(words)` when `rest` is a JSON array of strings, `None` when it is not
/// JSON (shell form), an error for an array holding something else.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(rest) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(
                    "when using JSON array syntax, arrays must be comprised of strings only"
                        .to_string(),
                ),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Ok(None),
    }
}

fn parse_command(rest: &str) -> Result<Command, String> {
    Ok(match parse_json(rest)? {
        Some(v) => Command::Exec(v),
        None => Command::Shell(rest.to_string()),
    })
}

/// JSON array, or whitespace-separated words.
fn parse_list(rest: &str) -> Result<Vec<String>, String> {
    Ok(match parse_json(rest)? {
        Some(v) => v,
        None => rest.split_whitespace().map(String::from).collect(),
    })
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the words (docker's
/// word splitting for ENV, LABEL and ARG).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None => {
                if c.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    // an escape at the end of the line is dropped
                    let Some(n) = chars.next() else { break };
                    word.push(c);
                    word.push(n);
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == escape && q != '\'' {
                    let Some(n) = chars.next() else { break };
                    word.push(c);
                    word.push(n);
                    continue;
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// ENV and LABEL: `key value` (legacy: the rest of the line is the value) or
/// `k=v k2="v 2"...`.
fn parse_name_val(rest: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let (key, value) = split_first_word(rest);
        if value.is_empty() {
            return Err("must have two arguments".into());
        }
        return Ok(vec![(key.to_string(), value.to_string())]);
    }
    words
        .into_iter()
        .map(|w| {
            let Some((k, v)) = w.split_once('=') else {
                return Err(format!(
                    "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                ));
            };
            if k.is_empty() {
                return Err("names can not be blank".into());
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// `[n]<<[-]NAME` as a heredoc: (name without quotes, expand, strip_tabs).
fn heredoc_word(word: &str) -> Option<(String, bool, bool)> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['\'', '"']);
    let mut name = String::new();
    let mut quote = None;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            None | Some('"') if c == '\\' => name.extend(chars.next()),
            _ => name.push(c),
        }
    }
    if name.is_empty() {
        return None;
    }
    Some((name, !quoted, strip_tabs))
}

/// The heredocs named on an instruction line, in order.
fn heredoc_names(rest: &str) -> Vec<(String, bool, bool)> {
    parse_words(rest, '\\')
        .iter()
        .filter_map(|w| heredoc_word(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_body_and_stage_lookup() {
        let df = parse(
            "FROM a AS Build\nRUN <<-EOF\n\t\techo hi\n\tEOF\nFROM build\n",
            "Dockerfile",
        )
        .unwrap();
        let Kind::Run { heredocs, .. } = &df.stages[0].instructions[0].kind else {
            panic!("not a RUN");
        };
        assert_eq!(heredocs[0].content, "\t\techo hi\n");
        assert_eq!(heredocs[0].body(), "echo hi\n");
        assert_eq!(df.stage_index("BUILD"), Some(0));
        assert_eq!(df.stage_index("1"), Some(1));
        assert_eq!(df.stage_index("2"), None);
        assert_eq!(df.stage_index("other"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words(r#"a=1 b="x y" c='p q' d=e\ f"#, '\\'),
            ["a=1", "b=\"x y\"", "c='p q'", "d=e\\ f"]
        );
        assert_eq!(parse_words("a=\"\"", '\\'), ["a=\"\""]);
    }

    #[test]
    fn flags() {
        let (w, rest) = extract_flags("--from=build --chown=\"a b\" src dst").unwrap();
        assert_eq!(w, ["--from=build", "--chown=a b"]);
        assert_eq!(rest, "src dst");
        let (w, rest) = extract_flags("-- --x y").unwrap();
        assert!(w.is_empty());
        assert_eq!(rest, "--x y");
    }

    #[test]
    fn heredoc_words() {
        assert_eq!(heredoc_word("<<EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(heredoc_word("<<-'EOT'"), Some(("EOT".into(), false, true)));
        assert_eq!(heredoc_word("2<<\"E\""), Some(("E".into(), false, false)));
        assert_eq!(heredoc_word("a<<EOF"), None);
        assert_eq!(heredoc_word("<<"), None);
        assert_eq!(heredoc_word("\"<<EOF\""), None);
    }

    #[test]
    fn directives() {
        assert_eq!(directive("# escape=`"), Some(("escape".into(), "`".into())));
        assert_eq!(
            directive("#  SYNTAX = docker/dockerfile:1 "),
            Some(("syntax".into(), "docker/dockerfile:1".into()))
        );
        assert_eq!(directive("# other=1"), None);
        assert_eq!(directive("# comment"), None);
    }
}
