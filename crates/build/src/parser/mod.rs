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
//!   `--mount` (repeatable), `--network`, `--security`; COPY `--from --chown --chmod --link
//!   --parents --exclude`; ADD `--chown --chmod --link --parents --exclude --checksum
//!   --keep-git-dir`; HEALTHCHECK `--interval --timeout --start-period
//!   --start-interval --retries`. `--link` is accepted (berth's layers are independent anyway).

mod kind;
mod run_flags;

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

pub use kind::parse_duration;
use kind::{check_flags, extract_flags, heredoc_names, parse_kind, Failure, Flag};
pub use run_flags::{parse_mount, run_flags, MountType, RunFlags, RunMount, RunNetwork, Sharing};

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
        opts: CopyFlags,
    },
    /// As ADD; `from` is a stage name, a stage index or an image reference.
    Copy {
        srcs: Vec<String>,
        dest: String,
        from: Option<String>,
        chown: Option<String>,
        chmod: Option<String>,
        heredocs: Vec<Heredoc>,
        opts: CopyFlags,
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

/// COPY's and ADD's BuildKit flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct CopyFlags {
    /// `--exclude` patterns (`.dockerignore` syntax, relative to each source)
    pub exclude: Vec<String>,
    /// `--parents`: sources keep their path (from the context root, or from a `/./` pivot)
    pub parents: bool,
    /// `--link`: the files form a layer independent of the ones below (berth's layers are)
    pub link: bool,
    /// ADD `--checksum=sha256:...` of a remote source
    pub checksum: Option<String>,
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
    let (escape, syntax) = directives(&lines).map_err(|(n, m)| err(n, "", m))?;

    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        let start = idx + 1;
        let Some(original) = logical_line(&lines, &mut idx, escape) else {
            continue;
        };
        let (word, rest) = split_first_word(&original);
        let keyword = word.to_ascii_uppercase();
        let e = |message: String| err(start, &keyword, message);
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") && rest.contains("<<") {
            heredocs = read_heredocs(&lines, &mut idx, rest).map_err(e)?;
        }
        if keyword == "FROM" {
            let stage = from_stage(rest, &stages, start).map_err(e)?;
            stages.push(stage);
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
            original: original.clone(),
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

/// The parser directives of the first lines: the escape character and the syntax; an error
/// (line, message) for a repeated directive or a bad escape.
fn directives(lines: &[&str]) -> Result<(char, Option<String>), (usize, String)> {
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen = HashSet::new();
    for (n, raw) in lines.iter().enumerate() {
        let Some((key, value)) = directive(raw) else {
            break;
        };
        if !seen.insert(key.clone()) {
            return Err((
                n + 1,
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "escape" => match value.as_str() {
                "\\" => escape = '\\',
                "`" => escape = '`',
                _ => {
                    return Err((
                        n + 1,
                        format!("invalid escape token '{value}' does not match ` or \\"),
                    ))
                }
            },
            "syntax" => syntax = Some(value),
            _ => {}
        }
    }
    Ok((escape, syntax))
}

/// The instruction starting at line `*idx` with its continuation lines joined (comment and
/// empty lines among them skipped), trimmed; `*idx` moves past it. `None` for a comment or an
/// empty line.
fn logical_line(lines: &[&str], idx: &mut usize, escape: char) -> Option<String> {
    let first = lines[*idx].trim_start();
    *idx += 1;
    if first.starts_with('#') {
        return None;
    }
    let (mut line, mut end) = trim_continuation(first, escape);
    if end && line.trim().is_empty() {
        return None;
    }
    while !end && *idx < lines.len() {
        let raw = lines[*idx];
        *idx += 1;
        let t = raw.trim_start();
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        let (more, e) = trim_continuation(raw, escape);
        line.push_str(&more);
        end = e;
    }
    let original = line.trim().to_string();
    (!original.is_empty()).then_some(original)
}

/// The here-documents `rest` opens, read from the lines from `*idx` on.
fn read_heredocs(lines: &[&str], idx: &mut usize, rest: &str) -> Result<Vec<Heredoc>, String> {
    let mut heredocs = Vec::new();
    for (name, expand, strip_tabs) in heredoc_names(rest) {
        let mut content = String::new();
        let mut terminated = false;
        while *idx < lines.len() {
            let l = lines[*idx];
            *idx += 1;
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
            return Err(format!("unterminated heredoc {name}"));
        }
        heredocs.push(Heredoc {
            name,
            content,
            expand,
            strip_tabs,
        });
    }
    Ok(heredocs)
}

/// A FROM line (after the keyword): a new stage after `stages`.
fn from_stage(rest: &str, stages: &[Stage], line: usize) -> Result<Stage, String> {
    let (flags, rest) = extract_flags(rest)?;
    let mut flags = check_flags(&flags, &[("platform", Flag::Str)])?;
    let platform = flags.pop().map(|(_, v)| v);
    let args: Vec<&str> = rest.split_whitespace().collect();
    let name = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            if !valid_stage_name(&name) {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            if stages
                .iter()
                .any(|s| s.name.as_deref() == Some(name.as_str()))
            {
                return Err(format!("duplicate stage name {name:?}"));
            }
            Some(name)
        }
        _ => return Err("requires either one or three arguments".into()),
    };
    Ok(Stage {
        index: stages.len(),
        name,
        base: args[0].to_string(),
        platform,
        line,
        instructions: Vec::new(),
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

pub(super) fn split_first_word(s: &str) -> (&str, &str) {
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
