//! One instruction's arguments: its flags, its words (JSON or shell form, `k=v` pairs) and the
//! [`Kind`] they make.

use super::{split_first_word, Command, CopyFlags, Health, Heredoc, Instruction, Kind};

pub(super) enum Failure {
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

const AT_LEAST_ONE: &str = "requires at least one argument";
const EXACTLY_ONE: &str = "requires exactly one argument";

pub(super) fn parse_kind(
    keyword: &str,
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<Kind, Failure> {
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
            // flags holding variables are checked once expanded, by the builder
            let literal: Vec<_> = flags
                .iter()
                .filter(|(_, v)| !v.contains('$'))
                .cloned()
                .collect();
            super::run_flags(&literal)?;
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
        "ADD" | "COPY" => copy_or_add(keyword, &flags, rest, heredocs)?,
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
            arg(rest, escape)?
        }
        "ONBUILD" => {
            no_flags(&flags)?;
            onbuild(rest, escape)?
        }
        "HEALTHCHECK" => parse_healthcheck(&flags, rest)?,
        _ => return Err(Failure::Unknown(keyword.to_string())),
    };
    Ok(kind)
}

/// COPY or ADD (ADD has no --from).
fn copy_or_add(
    keyword: &str,
    flags: &[String],
    rest: &str,
    heredocs: Vec<Heredoc>,
) -> Result<Kind, Failure> {
    let allowed: &[(&str, Flag)] = if keyword == "COPY" {
        &[
            ("from", Flag::Str),
            ("chown", Flag::Str),
            ("chmod", Flag::Str),
            ("link", Flag::Bool),
            ("parents", Flag::Bool),
            ("exclude", Flag::Repeat),
        ]
    } else {
        &[
            ("chown", Flag::Str),
            ("chmod", Flag::Str),
            ("link", Flag::Bool),
            ("parents", Flag::Bool),
            ("exclude", Flag::Repeat),
            ("checksum", Flag::Str),
            ("keep-git-dir", Flag::Bool),
        ]
    };
    let flags = check_flags(flags, allowed)?;
    let get = |n: &str| flags.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let opts = CopyFlags {
        exclude: flags
            .iter()
            .filter(|(k, _)| k == "exclude")
            .map(|(_, v)| v.clone())
            .collect(),
        parents: get("parents").as_deref() == Some("true"),
        link: get("link").as_deref() == Some("true"),
        checksum: get("checksum"),
    };
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
    Ok(if keyword == "COPY" {
        Kind::Copy {
            srcs,
            dest,
            from,
            chown: get("chown"),
            chmod: get("chmod"),
            heredocs,
            opts,
        }
    } else {
        Kind::Add {
            srcs,
            dest,
            chown: get("chown"),
            chmod: get("chmod"),
            heredocs,
            opts,
        }
    })
}
/// ARG: `NAME` or `NAME=default` words.
fn arg(rest: &str, escape: char) -> Result<Kind, Failure> {
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
    Ok(Kind::Arg(args))
}

/// ONBUILD: the trigger, parsed as an instruction of its own.
fn onbuild(rest: &str, escape: char) -> Result<Kind, Failure> {
    if rest.is_empty() {
        return Err(AT_LEAST_ONE.into());
    }
    let (word, trigger_rest) = split_first_word(rest);
    let trigger = word.to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "FROM" | "MAINTAINER" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger").into())
        }
        _ => {}
    }
    let kind = parse_kind(&trigger, trigger_rest, Vec::new(), escape)?;
    Ok(Kind::Onbuild(Box::new(Instruction {
        // set to the ONBUILD's line by the caller
        line: 0,
        keyword: trigger,
        original: rest.to_string(),
        kind,
    })))
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
pub(super) enum Flag {
    Str,
    Bool,
    /// A string flag that may be given several times.
    Repeat,
}

/// The leading `--flag[=value]` words of an instruction's arguments, quotes and escapes
/// removed (a word `--` ends them), and the rest of the line.
pub(super) fn extract_flags(line: &str) -> Result<(Vec<String>, &str), String> {
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
pub(super) fn check_flags(
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
pub(super) fn heredoc_names(rest: &str) -> Vec<(String, bool, bool)> {
    parse_words(rest, '\\')
        .iter()
        .filter_map(|w| heredoc_word(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
