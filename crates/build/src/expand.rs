//! Variable substitution in Dockerfile words, with the rules of docker's shell-word processing.
//!
//! A word is read left to right:
//! - `'...'` is literal (quotes removed, no escapes, no variables);
//! - `"..."` removes the quotes, expands variables, and lets the escape character escape
//!   `"`, `$` and itself (any other escape is kept as written);
//! - outside quotes the escape character makes the next character literal (`\$V` stays `$V`),
//!   and is dropped at the end of the word;
//! - `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`, `${NAME-word}`, `${NAME+word}`,
//!   `${NAME:?message}`, `${NAME?message}`, and the pattern removals `${NAME#pat}`,
//!   `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}` (`*` and `?` wildcards). The `:` forms treat
//!   an empty value like an unset one, the others only an unset one. An unset variable expands to
//!   the empty string; a `$` not followed by a name stays `$`.
//!
//! Which instructions docker expands is [`expands`]; RUN, CMD, ENTRYPOINT, SHELL and
//! HEALTHCHECK are left to the shell in the container.

/// Whether docker substitutes build args and environment variables in this instruction's
/// arguments (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR ONBUILD, and the
/// default values of ARG). For ONBUILD it is the trigger's keyword that decides, when the
/// trigger runs in the child build. `keyword` is case-insensitive.
pub fn expands(keyword: &str) -> bool {
    matches!(
        keyword.to_ascii_uppercase().as_str(),
        "ADD"
            | "COPY"
            | "ENV"
            | "EXPOSE"
            | "FROM"
            | "LABEL"
            | "STOPSIGNAL"
            | "USER"
            | "VOLUME"
            | "WORKDIR"
            | "ONBUILD"
            | "ARG"
    )
}

/// Expands one word: quotes are removed, escapes resolved and variables substituted through
/// `lookup` (`None` = unset). The result is one string, whitespace included.
pub fn expand(
    word: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<String, String> {
    let mut lexer = Lexer::new(word, lookup, escape);
    let (text, _) = lexer.process(None)?;
    Ok(text)
}

/// Expands like [`expand`], then splits the result into words on whitespace that is neither
/// quoted nor escaped (whitespace coming from a variable's value does split), as docker does
/// for EXPOSE, VOLUME and the shell form of COPY/ADD sources. Empty words are dropped.
pub fn expand_words(
    word: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<Vec<String>, String> {
    let mut lexer = Lexer::new(word, lookup, escape);
    let (_, words) = lexer.process(None)?;
    Ok(words.finish())
}

/// Collects words while a word is processed: whitespace from literal text or variables splits,
/// quoted or escaped characters never do.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    current: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.current.is_empty() {
                self.words.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_raw_char(c));
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Lexer<'a> {
    fn new(word: &str, lookup: &'a dyn Fn(&str) -> Option<String>, escape: char) -> Self {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            escape,
            lookup,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes up to the end of input or (unconsumed) `stop`.
    fn process(&mut self, stop: Option<char>) -> Result<(String, Words), String> {
        let mut out = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                break;
            }
            match c {
                '\'' => {
                    let s = self.single_quoted()?;
                    out.push_str(&s);
                    words.add_raw_str(&s);
                }
                '"' => {
                    let s = self.double_quoted()?;
                    out.push_str(&s);
                    words.add_raw_str(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    out.push_str(&s);
                    words.add_str(&s);
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.next() {
                            // an escape at the very end is dropped
                            None => break,
                            Some(n) => {
                                out.push(n);
                                words.add_raw_char(n);
                            }
                        }
                    } else {
                        out.push(c);
                        words.add_char(c);
                    }
                }
            }
        }
        Ok((out, words))
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        self.next();
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        self.next();
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(mut c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                c = n;
                            }
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// A name after `$`: letters, digits and `_`; or all the digits of a positional parameter;
    /// or one special parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.pos += 1;
                name.push(c);
                return name;
            }
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn close_brace(&mut self) -> Result<(), String> {
        match self.next() {
            Some('}') => Ok(()),
            _ => Err("syntax error: missing '}'".into()),
        }
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let value = (self.lookup)(&name);
        match self.next() {
            None => Err("syntax error: missing '}'".into()),
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let modifier = self.next();
                match modifier {
                    Some(m @ ('-' | '+' | '?')) => {
                        let (word, _) = self.process(Some('}'))?;
                        self.close_brace()?;
                        let set = value.as_deref().is_some_and(|v| !v.is_empty());
                        apply(m, &name, value, set, word)
                    }
                    Some(m) => Err(format!("unsupported modifier ({m}) in substitution")),
                    None => Err("syntax error: missing '}'".into()),
                }
            }
            Some(m @ ('-' | '+' | '?')) => {
                let (word, _) = self.process(Some('}'))?;
                self.close_brace()?;
                let set = value.is_some();
                apply(m, &name, value, set, word)
            }
            Some(m @ ('#' | '%')) => {
                let longest = self.peek() == Some(m);
                if longest {
                    self.pos += 1;
                }
                let (pattern, _) = self.process(Some('}'))?;
                self.close_brace()?;
                let value = value.unwrap_or_default();
                Ok(remove_pattern(&value, &pattern, m == '#', longest))
            }
            Some(m) => Err(format!("unsupported modifier ({m}) in substitution")),
        }
    }
}

/// `${name-word}`-like forms; `set` already accounts for the `:` (empty counts as unset).
fn apply(
    modifier: char,
    name: &str,
    value: Option<String>,
    set: bool,
    word: String,
) -> Result<String, String> {
    match modifier {
        '-' => Ok(if set { value.unwrap_or_default() } else { word }),
        '+' => Ok(if set { word } else { String::new() }),
        _ => {
            if set {
                Ok(value.unwrap_or_default())
            } else if word.is_empty() {
                Err(format!("{name}: is not allowed to be unset"))
            } else {
                Err(format!("{name}: {word}"))
            }
        }
    }
}

/// `${V#pat}` (prefix) / `${V%pat}` (suffix), shortest or longest match.
fn remove_pattern(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let pat: Vec<char> = pattern.chars().collect();
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let cuts: Vec<usize> = if prefix == longest {
        (0..=n).rev().collect()
    } else {
        (0..=n).collect()
    };
    for cut in cuts {
        let (part, rest) = if prefix {
            (&chars[..cut], &chars[cut..])
        } else {
            (&chars[cut..], &chars[..cut])
        };
        if wildcard(&pat, part) {
            return rest.iter().collect();
        }
    }
    value.to_string()
}

/// Shell pattern with `*` (anything), `?` (one character) and `\x` (literal x).
fn wildcard(pat: &[char], text: &[char]) -> bool {
    match pat.first() {
        None => text.is_empty(),
        Some('*') => (0..=text.len()).any(|i| wildcard(&pat[1..], &text[i..])),
        Some('?') => !text.is_empty() && wildcard(&pat[1..], &text[1..]),
        Some('\\') if pat.len() > 1 => {
            text.first() == Some(&pat[1]) && wildcard(&pat[2..], &text[1..])
        }
        Some(c) => text.first() == Some(c) && wildcard(&pat[1..], &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x  y".into()),
            "PATH" => Some("/usr/bin:/bin".into()),
            "FILE" => Some("dir/name.tar.gz".into()),
            "_U1" => Some("u".into()),
            _ => None,
        }
    }

    /// (input, expected expansion or "ERR:" + message)
    const TABLE: &[(&str, &str)] = &[
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}", "a"),
        ("x${A}y", "xay"),
        ("$Ab", ""),
        ("${A}b", "ab"),
        ("$_U1-", "u-"),
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("$", "$"),
        ("a$", "a$"),
        ("$ a", "$ a"),
        ("$/x", "$/x"),
        ("$1", ""),
        ("$$", ""),
        ("\\$A", "$A"),
        ("\\${A}", "${A}"),
        ("\\\\$A", "\\a"),
        ("a\\ b", "a b"),
        ("trailing\\", "trailing"),
        ("'$A'", "$A"),
        ("'a \\ b'", "a \\ b"),
        ("\"$A\"", "a"),
        ("\"\\$A\"", "$A"),
        ("\"a\\\"b\"", "a\"b"),
        ("\"a\\nb\"", "a\\nb"),
        ("\"'$A'\"", "'a'"),
        ("'\"$A\"'", "\"$A\""),
        ("${A:-d}", "a"),
        ("${EMPTY:-d}", "d"),
        ("${UNSET:-d}", "d"),
        ("${A-d}", "a"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${A+alt}", "alt"),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-$A}", "a"),
        ("${UNSET:-${EMPTY:-deep}}", "deep"),
        ("${UNSET:-'q }'}", "q }"),
        ("${UNSET:-a\\}b}", "a}b"),
        ("${UNSET:-\"$A b\"}", "a b"),
        ("${A:?must}", "a"),
        ("${EMPTY?must}", ""),
        ("${UNSET:?must be set}", "ERR:UNSET: must be set"),
        ("${EMPTY:?}", "ERR:EMPTY: is not allowed to be unset"),
        ("${UNSET?}", "ERR:UNSET: is not allowed to be unset"),
        ("${FILE#*/}", "name.tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "dir/name.tar"),
        ("${FILE%%.*}", "dir/name"),
        ("${FILE#nomatch}", "dir/name.tar.gz"),
        ("${PATH}:/sbin", "/usr/bin:/bin:/sbin"),
        ("${}", "ERR:syntax error: bad substitution"),
        ("${:-x}", "ERR:syntax error: bad substitution"),
        ("${A", "ERR:syntax error: missing '}'"),
        ("${A:-x", "ERR:syntax error: missing '}'"),
        ("${A:=x}", "ERR:unsupported modifier (=) in substitution"),
        ("${A/x/y}", "ERR:unsupported modifier (/) in substitution"),
        (
            "'open",
            "ERR:unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"open",
            "ERR:unexpected end of statement while looking for matching double-quote",
        ),
        ("$SP", "x  y"),
        ("\"$SP\"", "x  y"),
    ];

    #[test]
    fn expansion_table() {
        let mut failures = Vec::new();
        for (input, want) in TABLE {
            let got = match expand(input, &env, '\\') {
                Ok(s) => s,
                Err(e) => format!("ERR:{e}"),
            };
            if got != *want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn backtick_escape() {
        assert_eq!(expand("`$A", &env, '`').unwrap(), "$A");
        assert_eq!(expand("c:\\$A", &env, '`').unwrap(), "c:\\a");
        assert_eq!(expand("\"`\"x\"", &env, '`').unwrap(), "\"x");
    }

    #[test]
    fn words() {
        let w = |s: &str| expand_words(s, &env, '\\').unwrap();
        assert_eq!(w("80 443/tcp"), ["80", "443/tcp"]);
        assert_eq!(w("  $SP  z "), ["x", "y", "z"]);
        assert_eq!(w("\"$SP\" z"), ["x  y", "z"]);
        assert_eq!(w("'a b' c\\ d"), ["a b", "c d"]);
        assert_eq!(w("$UNSET"), Vec::<String>::new());
        assert_eq!(w("\"\" x"), ["x"]);
        assert_eq!(w("${UNSET:-1 2}"), ["1", "2"]);
    }

    #[test]
    fn which_instructions_expand() {
        for k in [
            "ADD",
            "copy",
            "ENV",
            "EXPOSE",
            "FROM",
            "LABEL",
            "STOPSIGNAL",
            "USER",
        ] {
            assert!(expands(k), "{k}");
        }
        for k in ["VOLUME", "WORKDIR", "ONBUILD", "ARG"] {
            assert!(expands(k), "{k}");
        }
        for k in [
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "SHELL",
            "HEALTHCHECK",
            "MAINTAINER",
        ] {
            assert!(!expands(k), "{k}");
        }
    }
}
