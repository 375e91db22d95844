//! Splitting a template into text and actions, and an action into tokens.

use anyhow::{anyhow, Result};

pub(super) enum Piece {
    Text(String),
    /// the action's inside and its line
    Action(String, usize),
}

pub(super) fn perr(line: usize, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("template parsing error: template: :{line}: {msg}")
}

/// Splits the template into text and actions, applying the trim markers.
pub(super) fn split(tpl: &str) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = tpl;
    let mut line = 1;
    let mut trim_next = false;
    while let Some(i) = rest.find("{{") {
        let mut text = &rest[..i];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[i + 2..];
        let trim_left = after.starts_with('-') && after[1..].starts_with(char::is_whitespace);
        if trim_left {
            text = text.trim_end();
        }
        line += rest[..i].matches('\n').count();
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        let body_start = if trim_left { 1 } else { 0 };
        let end = find_close(&after[body_start..]).ok_or_else(|| perr(line, "unclosed action"))?
            + body_start;
        let mut body = &after[body_start..end];
        trim_next = false;
        if body.ends_with('-') && body[..body.len() - 1].ends_with(char::is_whitespace) {
            trim_next = true;
            body = &body[..body.len() - 1];
        }
        let body_t = body.trim();
        if body_t.starts_with("/*") {
            if !body_t.ends_with("*/") {
                return Err(perr(line, "unclosed comment"));
            }
        } else {
            out.push(Piece::Action(body.to_string(), line));
        }
        line += body.matches('\n').count();
        rest = &after[end + 2..];
    }
    let mut text = rest;
    if trim_next {
        text = text.trim_start();
    }
    if !text.is_empty() {
        out.push(Piece::Text(text.to_string()));
    }
    Ok(out)
}

/// Index of the `}}` closing an action, skipping quoted strings and comments.
pub(super) fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if s[i..].starts_with("/*") => {
                i += s[i..].find("*/")? + 1;
            }
            b'}' if s[i..].starts_with("}}") => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `.A.B` (empty for `.`), with whether space came before
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Ident(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

pub(super) fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens of one action, each with whether whitespace preceded it.
pub(super) fn lex(s: &str, line: usize) -> Result<Vec<(Tok, bool)>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = true;
    let fields = |i: &mut usize| -> Vec<String> {
        let mut v = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            v.push(chars[start..j].iter().collect());
            *i = j;
        }
        v
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let tok = match c {
            '|' => {
                i += 1;
                Tok::Pipe
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Declare
            }
            '=' => {
                i += 1;
                Tok::Assign
            }
            '.' if chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                Tok::Num(chars[start..i].iter().collect())
            }
            '.' => {
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1;
                    if chars.get(i).is_some_and(|c| is_ident(*c)) {
                        return Err(perr(line, format!("bad character {:?}", chars[i])));
                    }
                }
                Tok::Field(f)
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                Tok::Var(name, fields(&mut i))
            }
            '"' | '`' => Tok::Str(lex_string(&chars, &mut i, line)?),
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())) =>
            {
                lex_number(&chars, &mut i)
            }
            c if is_ident(c) => {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            c => return Err(perr(line, format!("unexpected {c:?} in command"))),
        };
        out.push((tok, space));
        space = false;
    }
    Ok(out)
}

/// A `"..."` or `` `...` `` literal starting at `chars[*i]`, unquoted; `*i` moves past it.
fn lex_string(chars: &[char], i: &mut usize, line: usize) -> Result<String> {
    let start = *i;
    *i += 1;
    if chars[start] == '`' {
        while *i < chars.len() && chars[*i] != '`' {
            *i += 1;
        }
        if *i >= chars.len() {
            return Err(perr(line, "unterminated raw quoted string"));
        }
        *i += 1;
        return Ok(chars[start + 1..*i - 1].iter().collect());
    }
    while *i < chars.len() && chars[*i] != '"' {
        if chars[*i] == '\\' {
            *i += 1;
        }
        *i += 1;
    }
    if *i >= chars.len() {
        return Err(perr(line, "unterminated quoted string"));
    }
    *i += 1;
    let lit: String = chars[start..*i].iter().collect();
    unquote(&lit).ok_or_else(|| perr(line, format!("bad string {lit}")))
}

/// A number starting at `chars[*i]` (sign, digits, `.`, exponent, hex letters); `*i` moves
/// past it.
fn lex_number(chars: &[char], i: &mut usize) -> Tok {
    let start = *i;
    *i += 1;
    while *i < chars.len()
        && (chars[*i].is_ascii_alphanumeric()
            || chars[*i] == '.'
            || ((chars[*i] == '-' || chars[*i] == '+') && matches!(chars[*i - 1], 'e' | 'E')))
    {
        *i += 1;
    }
    Tok::Num(chars[start..*i].iter().collect())
}

/// A Go double-quoted string literal.
pub(super) fn unquote(lit: &str) -> Option<String> {
    let inner = &lit[1..lit.len() - 1];
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '0' => out.push('\0'),
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).ok()? as char);
            }
            'u' => {
                let h: String = it.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'U' => {
                let h: String = it.by_ref().take(8).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
