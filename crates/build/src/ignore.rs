//! `.dockerignore` with docker's rules (moby's patternmatcher):
//!
//! - a line starting with `#` is a comment; lines are trimmed; blank lines are skipped;
//! - `!pattern` is an exception (re-includes); the last pattern that matches decides;
//! - patterns are cleaned like Go's `filepath.Clean` (`./a//b/` is `a/b`, `a/../b` is `b`) and
//!   a leading `/` is dropped: patterns are relative to the context root;
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[...]` a
//!   character class (`[^...]` negated, ranges `a-z`), `\x` a literal `x`; `**` matches any
//!   number of directories (`**/a`, `a/**`, `a/**/b`), and at the end of a pattern anything;
//! - a pattern that matches a directory (a parent of a path) excludes everything below it, and
//!   an exception that matches a directory re-includes everything below it.
//!
//! A `[` without its `]` is taken literally (docker rejects such a pattern).

/// Parsed `.dockerignore` patterns.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exception: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `*`: any run of non-`/` characters.
    Star,
    /// `?`: one non-`/` character.
    One,
    /// `[...]`: (negated, ranges).
    Class(bool, Vec<(char, char)>),
    /// `**` followed by more pattern: `(.*/)?`.
    Dirs,
    /// `**` at the end: anything.
    Any,
}

/// Parses the text of a `.dockerignore` file.
pub fn parse(text: &str) -> Ignore {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let exception = p.starts_with('!');
        if exception {
            p = p[1..].trim();
            if p.is_empty() {
                continue;
            }
        }
        let mut cleaned = clean(p);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        patterns.push(Pattern {
            tokens: compile(&cleaned),
            text: cleaned,
            exception,
        });
    }
    Ignore { patterns }
}

impl Ignore {
    /// The patterns after cleaning, exceptions with their `!`, in order.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                if p.exception {
                    format!("!{}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    /// Whether there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (relative to the context root, `/`-separated) is left out of the
    /// context: by a pattern matching it or one of its parent directories, unless a later
    /// exception matches it or one of its parents.
    pub fn excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path.trim_start_matches('/'));
        let parents: Vec<&str> = {
            let mut v = Vec::new();
            for (i, c) in path.char_indices() {
                if c == '/' {
                    v.push(&path[..i]);
                }
            }
            v
        };
        let mut matched = false;
        for p in &self.patterns {
            // an exclusion only matters while not excluded, an exception only while excluded
            if p.exception != matched {
                continue;
            }
            if p.matches(&path) || parents.iter().any(|d| p.matches(d)) {
                matched = !p.exception;
            }
        }
        matched
    }

    /// Whether something below directory `dir` may be in the context: `dir` is not excluded,
    /// or an exception could match `dir`, one of its parents or a path below it. A walker that
    /// gets `false` for an excluded directory can skip it entirely.
    pub fn may_include_below(&self, dir: &str) -> bool {
        if !self.excluded(dir) {
            return true;
        }
        let dir = clean(dir.trim_start_matches('/'));
        let below = format!("{dir}/");
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            p.alive_after(&below)
                || p.matches(&dir)
                || below
                    .char_indices()
                    .filter(|(_, c)| *c == '/')
                    .any(|(i, _)| p.matches(&below[..i]))
        })
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        let states = self.run(path);
        states.contains(&(self.tokens.len() * 2))
    }

    /// Whether some continuation of `prefix` could match.
    fn alive_after(&self, prefix: &str) -> bool {
        !self.run(prefix).is_empty()
    }

    /// NFA simulation. State `2*i` is "before token i"; `2*i+1` is "inside the `(.*/)?` of
    /// token i". Returns the states after reading `text` (closed under empty moves).
    fn run(&self, text: &str) -> Vec<usize> {
        let n = self.tokens.len();
        let mut current = self.closure(vec![0]);
        for c in text.chars() {
            let mut next = Vec::new();
            for &s in &current {
                // both states of a `**/` token read alike; only "before" may skip it
                let i = s / 2;
                if i >= n {
                    continue;
                }
                match &self.tokens[i] {
                    Token::Char(t) => {
                        if *t == c {
                            next.push(2 * (i + 1));
                        }
                    }
                    Token::Star => {
                        if c != '/' {
                            next.push(2 * i);
                        }
                    }
                    Token::One => {
                        if c != '/' {
                            next.push(2 * (i + 1));
                        }
                    }
                    Token::Class(neg, ranges) => {
                        if ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)) != *neg {
                            next.push(2 * (i + 1));
                        }
                    }
                    Token::Any => next.push(2 * i),
                    Token::Dirs => {
                        next.push(2 * i + 1);
                        if c == '/' {
                            next.push(2 * (i + 1));
                        }
                    }
                }
            }
            current = self.closure(next);
            if current.is_empty() {
                break;
            }
        }
        current
    }

    fn closure(&self, mut states: Vec<usize>) -> Vec<usize> {
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            if s & 1 == 0 && s / 2 < self.tokens.len() {
                if let Token::Star | Token::Any | Token::Dirs = self.tokens[s / 2] {
                    let to = s + 2;
                    if !states.contains(&to) {
                        states.push(to);
                    }
                }
            }
            i += 1;
        }
        states.sort_unstable();
        states.dedup();
        states
    }
}

fn compile(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::Any
                } else {
                    Token::Dirs
                });
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::One),
            '\\' => tokens.push(Token::Char(chars.get(i).copied().unwrap_or('\\'))),
            '[' => match class(&chars[i..]) {
                Some((token, used)) => {
                    tokens.push(token);
                    i += used;
                }
                None => tokens.push(Token::Char('[')),
            },
            _ => tokens.push(Token::Char(c)),
        }
        if c == '\\' && i < chars.len() {
            i += 1;
        }
    }
    tokens
}

/// A character class after its `[`: the token and the characters used (with the `]`).
fn class(chars: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *chars.get(i)?;
        i += 1;
        if c == ']' && !first {
            return Some((Token::Class(negated, ranges), i));
        }
        first = false;
        if c == '\\' {
            c = *chars.get(i)?;
            i += 1;
        }
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|n| *n != ']') {
            let mut end = chars[i + 1];
            i += 2;
            if end == '\\' {
                end = *chars.get(i)?;
                i += 1;
            }
            ranges.push((c, end));
        } else {
            ranges.push((c, c));
        }
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("./a//b/"), "a/b");
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean("/../x"), "/x");
    }

    #[test]
    fn patterns() {
        let m = |p: &str, path: &str| {
            let ig = parse(p);
            ig.patterns[0].matches(path)
        };
        assert!(m("*.md", "a.md"));
        assert!(!m("*.md", "d/a.md"));
        assert!(m("**/*.md", "d/e/a.md"));
        assert!(m("**/*.md", "a.md"));
        assert!(m("a/**", "a/b/c"));
        assert!(!m("a/**", "a"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/xb"));
        assert!(m("**", "anything/at/all"));
        assert!(m("?.txt", "a.txt"));
        assert!(!m("?.txt", "ab.txt"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("\\*x", "*x"));
        assert!(!m("\\*x", "ax"));
        assert!(m("a[b", "a[b"));
    }
}
