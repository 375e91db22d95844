//! docker's `--format`: the part of Go's text/template that docker users write, evaluated
//! against a JSON value, and docker's list output modes (`table`, `json`, a template per
//! row).
//!
//! Supported: `{{.Field}}`, `{{.A.B}}`, `{{.}}`, variables (`$`, `{{$x := .A}}`,
//! `{{range $i, $v := .L}}`), pipelines (`{{.X | json}}`), parentheses, `if`/`else if`/
//! `else`/`end`, `range` (with `else`), `with`, comments, trim markers `{{-`/`-}}`, and the
//! functions docker templates use: Go's `and or not len index print printf println eq ne
//! lt le gt ge` and docker's `json join split title lower upper pad truncate`.
//!
//! Values print as Go prints them: strings raw, integers as integers, floats as `%v`
//! (`1.5`, `1e+06`), arrays as `[a b]`, objects as `map[k:v]`, a missing field as
//! `<no value>`.

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Number, Value};

/// Renders one Go template against a JSON value.
pub fn render(tpl: &str, v: &Value) -> Result<String> {
    let nodes = parse(tpl)?;
    let mut ex = Exec::new(v, false);
    ex.run(&nodes, v)?;
    Ok(ex.out)
}

/// docker's list output. `format`: None -> `table` with `default_table`; `table` or
/// `table TEMPLATE` -> a header row (each `{{.Field}}` replaced by `headers[Field]`) and one
/// row per item, columns split on tabs and aligned with three spaces; `json` -> one compact
/// JSON object per line; anything else -> the template per row, one per line. The two-char
/// escapes `\t` and `\n` in the format are turned into a tab and a newline, as docker does.
pub fn format_list(
    format: Option<&str>,
    default_table: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> Result<String> {
    let format = format.map(str::trim).unwrap_or("table");
    if format == "json" {
        let mut out = String::new();
        for r in rows {
            out.push_str(&serde_json::to_string(r)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let (table, tpl) = match format.strip_prefix("table") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
            let rest = rest.trim();
            let tpl = if rest.is_empty() {
                let d = default_table.trim();
                d.strip_prefix("table").map(str::trim).unwrap_or(d)
            } else {
                rest
            };
            (true, tpl)
        }
        _ => (false, format),
    };
    let tpl = tpl.replace("\\t", "\t").replace("\\n", "\n");
    let nodes = parse(&tpl)?;
    if !table {
        let mut out = String::new();
        for r in rows {
            let mut ex = Exec::new(r, false);
            ex.run(&nodes, r)?;
            out.push_str(&ex.out);
            out.push('\n');
        }
        return Ok(out);
    }
    // The header: the same template run against {Field: header} (fields without a known
    // header show their name in upper case).
    let mut fields = Vec::new();
    collect_fields(&nodes, &mut fields);
    let mut hdr = Map::new();
    for f in fields {
        let h = headers
            .iter()
            .find(|(k, _)| *k == f)
            .map(|(_, h)| h.to_string())
            .unwrap_or_else(|| f.to_uppercase());
        hdr.insert(f, Value::String(h));
    }
    for (k, h) in headers {
        hdr.entry(k.to_string())
            .or_insert_with(|| Value::String(h.to_string()));
    }
    let hdr = Value::Object(hdr);
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut push = |text: &str| {
        for l in text.split('\n') {
            lines.push(l.split('\t').map(str::to_string).collect());
        }
    };
    let mut ex = Exec::new(&hdr, true);
    ex.run(&nodes, &hdr)?;
    push(&ex.out);
    for r in rows {
        let mut ex = Exec::new(r, false);
        ex.run(&nodes, r)?;
        push(&ex.out);
    }
    Ok(crate::berth::output::table(&lines))
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.` or `.A.B` (fields from dot)
    Field(Vec<String>),
    /// `$x.A.B`
    Var(String, Vec<String>),
    Lit(Value),
    /// a function name
    Func(String),
    /// `(pipeline).A.B`
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Pipe {
    /// `$x :=` / `$x =` (and `$i, $v :=` in range)
    vars: Vec<String>,
    declare: bool,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipe, usize),
    If(Pipe, Vec<Node>, Vec<Node>, usize),
    With(Pipe, Vec<Node>, Vec<Node>, usize),
    Range(Pipe, Vec<Node>, Vec<Node>, usize),
}

enum Piece {
    Text(String),
    /// the action's inside and its line
    Action(String, usize),
}

fn perr(line: usize, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("template parsing error: template: :{line}: {msg}")
}

/// Splits the template into text and actions, applying the trim markers.
fn split(tpl: &str) -> Result<Vec<Piece>> {
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
fn find_close(s: &str) -> Option<usize> {
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
enum Tok {
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

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens of one action, each with whether whitespace preceded it.
fn lex(s: &str, line: usize) -> Result<Vec<(Tok, bool)>> {
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
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(perr(line, "unterminated quoted string"));
                }
                i += 1;
                let lit: String = chars[start..i].iter().collect();
                Tok::Str(unquote(&lit).ok_or_else(|| perr(line, format!("bad string {lit}")))?)
            }
            '`' => {
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(perr(line, "unterminated raw quoted string"));
                }
                i += 1;
                Tok::Str(chars[start..i - 1].iter().collect())
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                Tok::Num(chars[start..i].iter().collect())
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

/// A Go double-quoted string literal.
fn unquote(lit: &str) -> Option<String> {
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

struct Parser {
    pieces: Vec<Piece>,
    pos: usize,
}

enum Stop {
    Eof,
    End,
    Else(Option<(Vec<(Tok, bool)>, usize)>),
}

fn parse(tpl: &str) -> Result<Vec<Node>> {
    let mut p = Parser {
        pieces: split(tpl)?,
        pos: 0,
    };
    let (nodes, end) = p.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End => Err(perr(p.line(), "unexpected {{end}}")),
        Stop::Else(_) => Err(perr(p.line(), "unexpected {{else}}")),
    }
}

impl Parser {
    fn line(&self) -> usize {
        match self.pieces.get(self.pos.saturating_sub(1)) {
            Some(Piece::Action(_, l)) => *l,
            _ => 1,
        }
    }

    /// Nodes up to `{{end}}`, `{{else ...}}` or the end of the template.
    fn list(&mut self) -> Result<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while self.pos < self.pieces.len() {
            let piece = &self.pieces[self.pos];
            self.pos += 1;
            let (body, line) = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Piece::Action(b, l) => (b.clone(), *l),
            };
            let toks = lex(&body, line)?;
            let kw = match toks.first() {
                Some((Tok::Ident(k), _)) => k.as_str(),
                None => return Err(perr(line, "missing value for command")),
                _ => "",
            };
            match kw {
                "end" => {
                    if toks.len() > 1 {
                        return Err(perr(line, "unexpected tokens after end"));
                    }
                    return Ok((nodes, Stop::End));
                }
                "else" => {
                    let rest = toks[1..].to_vec();
                    let chained = match rest.first() {
                        None => None,
                        Some((Tok::Ident(k), _)) if k == "if" || k == "with" => Some((rest, line)),
                        _ => return Err(perr(line, "unexpected tokens after else")),
                    };
                    return Ok((nodes, Stop::Else(chained)));
                }
                "if" | "with" | "range" => {
                    nodes.push(self.block(kw, &toks[1..], line)?);
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(perr(line, format!("{{{{{kw}}}}} is not supported")));
                }
                _ => {
                    let pipe = pipeline(&toks, line, false)?;
                    nodes.push(Node::Action(pipe, line));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn block(&mut self, kw: &str, toks: &[(Tok, bool)], line: usize) -> Result<Node> {
        let pipe = pipeline(toks, line, kw == "range")?;
        if pipe.cmds.is_empty() {
            return Err(perr(line, format!("missing value for {kw}")));
        }
        let (body, end) = self.list()?;
        let els = match end {
            Stop::Eof => return Err(perr(line, format!("unexpected EOF in {kw}"))),
            Stop::End => Vec::new(),
            Stop::Else(None) => {
                let (els, end) = self.list()?;
                if !matches!(end, Stop::End) {
                    return Err(perr(line, format!("expected end after else in {kw}")));
                }
                els
            }
            Stop::Else(Some((toks, l))) => {
                // `else if` / `else with`: a nested block sharing our {{end}}
                let Some((Tok::Ident(k), _)) = toks.first() else {
                    unreachable!()
                };
                vec![self.block(&k.clone(), &toks[1..], l)?]
            }
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, els, line),
            "with" => Node::With(pipe, body, els, line),
            _ => Node::Range(pipe, body, els, line),
        })
    }
}

/// `[$a[, $b] :=] cmd | cmd ...`
fn pipeline(toks: &[(Tok, bool)], line: usize, range: bool) -> Result<Pipe> {
    let mut toks = toks;
    let mut vars = Vec::new();
    let mut declare = false;
    // declarations
    let decl_end = toks
        .iter()
        .position(|(t, _)| matches!(t, Tok::Declare | Tok::Assign));
    if let Some(d) = decl_end {
        let names = &toks[..d];
        let ok_shape = match names {
            [(Tok::Var(a, f), _)] if f.is_empty() => {
                vars.push(a.clone());
                true
            }
            [(Tok::Var(a, f1), _), (Tok::Comma, _), (Tok::Var(b, f2), _)]
                if range && f1.is_empty() && f2.is_empty() =>
            {
                vars.push(a.clone());
                vars.push(b.clone());
                true
            }
            _ => false,
        };
        if ok_shape {
            declare = matches!(toks[d].0, Tok::Declare);
            toks = &toks[d + 1..];
        }
    }
    let mut pos = 0;
    let cmds = commands(toks, &mut pos, line, false)?;
    if pos != toks.len() {
        return Err(perr(line, "unexpected \")\" in operand"));
    }
    Ok(Pipe {
        vars,
        declare,
        cmds,
    })
}

fn commands(
    toks: &[(Tok, bool)],
    pos: &mut usize,
    line: usize,
    in_paren: bool,
) -> Result<Vec<Vec<Arg>>> {
    let mut cmds = Vec::new();
    let mut cur: Vec<Arg> = Vec::new();
    while *pos < toks.len() {
        let (t, _) = &toks[*pos];
        *pos += 1;
        let arg = match t {
            Tok::Pipe => {
                if cur.is_empty() {
                    return Err(perr(line, "missing command before |"));
                }
                cmds.push(std::mem::take(&mut cur));
                continue;
            }
            Tok::RParen => {
                if !in_paren {
                    return Err(perr(line, "unexpected \")\" in operand"));
                }
                *pos -= 1;
                break;
            }
            Tok::LParen => {
                let sub = commands(toks, pos, line, true)?;
                if !matches!(toks.get(*pos), Some((Tok::RParen, _))) {
                    return Err(perr(line, "unclosed left paren"));
                }
                *pos += 1;
                let mut chain = Vec::new();
                if let Some((Tok::Field(f), false)) = toks.get(*pos) {
                    chain = f.clone();
                    *pos += 1;
                }
                Arg::Sub(
                    Box::new(Pipe {
                        vars: Vec::new(),
                        declare: false,
                        cmds: sub,
                    }),
                    chain,
                )
            }
            Tok::Field(f) => Arg::Field(f.clone()),
            Tok::Var(n, f) => Arg::Var(n.clone(), f.clone()),
            Tok::Str(s) => Arg::Lit(Value::String(s.clone())),
            Tok::Num(n) => {
                Arg::Lit(number(n).ok_or_else(|| perr(line, format!("bad number syntax: {n:?}")))?)
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Lit(Value::Bool(true)),
                "false" => Arg::Lit(Value::Bool(false)),
                "nil" => Arg::Lit(Value::Null),
                f if FUNCS.contains(&f) => Arg::Func(f.to_string()),
                f => return Err(perr(line, format!("function {f:?} not defined"))),
            },
            Tok::Declare | Tok::Assign | Tok::Comma => {
                return Err(perr(line, "unexpected declaration or comma"))
            }
        };
        cur.push(arg);
    }
    if cur.is_empty() {
        if !cmds.is_empty() {
            return Err(perr(line, "missing command after |"));
        }
    } else {
        cmds.push(cur);
    }
    Ok(cmds)
}

fn number(s: &str) -> Option<Value> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Value::from(if neg { -i } else { i }));
    }
    let f: f64 = body.parse().ok()?;
    Number::from_f64(if neg { -f } else { f }).map(Value::Number)
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "join", "split", "title", "lower", "upper", "pad", "truncate",
];

/// Top-level fields the template reads from dot (for the table header).
fn collect_fields(nodes: &[Node], out: &mut Vec<String>) {
    fn from_pipe(p: &Pipe, out: &mut Vec<String>) {
        for c in &p.cmds {
            for a in c {
                match a {
                    Arg::Field(f) if !f.is_empty() && !out.contains(&f[0]) => {
                        out.push(f[0].clone());
                    }
                    Arg::Sub(p, _) => from_pipe(p, out),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::Action(p, _) => from_pipe(p, out),
            Node::If(p, a, b, _) | Node::With(p, a, b, _) | Node::Range(p, a, b, _) => {
                from_pipe(p, out);
                collect_fields(a, out);
                collect_fields(b, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Execution

struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
    /// Rendering the table header: dot holds header strings, so field and index lookups
    /// on a string give the string itself.
    header: bool,
    out: String,
}

fn xerr(line: usize, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("template: :{line}: executing \"\": {msg}")
}

impl<'a> Exec<'a> {
    fn new(root: &'a Value, header: bool) -> Exec<'a> {
        Exec {
            root,
            vars: Vec::new(),
            header,
            out: String::new(),
        }
    }

    fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<()> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p, line) => {
                    let v = self.pipe(p, dot, *line)?;
                    if p.vars.is_empty() {
                        self.out.push_str(&print_value(&v));
                    }
                }
                Node::If(p, a, b, line) | Node::With(p, a, b, line) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot, *line)?;
                    let with = matches!(n, Node::With(..));
                    if truthy(&v) {
                        self.run(a, if with { &v } else { dot })?;
                    } else {
                        self.run(b, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, els, line) => {
                    let mark = self.vars.len();
                    let inner = Pipe {
                        vars: Vec::new(),
                        declare: false,
                        cmds: p.cmds.clone(),
                    };
                    let v = self.pipe(&inner, dot, *line)?;
                    let items: Vec<(Value, Value)> = match &v {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x.clone()))
                            .collect(),
                        Value::Object(m) => m
                            .iter()
                            .map(|(k, x)| (Value::String(k.clone()), x.clone()))
                            .collect(),
                        Value::Null => Vec::new(),
                        Value::Number(n) if n.as_u64().is_some() => (0..n.as_u64().unwrap())
                            .map(|i| (Value::from(i), Value::from(i)))
                            .collect(),
                        other => {
                            return Err(xerr(
                                *line,
                                format!("range can't iterate over {}", print_value(other)),
                            ))
                        }
                    };
                    if items.is_empty() {
                        self.run(els, dot)?;
                    }
                    for (k, x) in items {
                        let m = self.vars.len();
                        match p.vars.as_slice() {
                            [one] => self.vars.push((one.clone(), x.clone())),
                            [a, b] => {
                                self.vars.push((a.clone(), k));
                                self.vars.push((b.clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.run(body, &x)?;
                        self.vars.truncate(m);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value, line: usize) -> Result<Value> {
        let mut prev: Option<Value> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev, line)?);
        }
        let v = prev.unwrap_or(Value::Null);
        if let Some(name) = p.vars.first() {
            if p.declare {
                self.vars.push((name.clone(), v.clone()));
            } else {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| xerr(line, format!("undefined variable: {name}")))?;
                slot.1 = v.clone();
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &[Arg],
        dot: &Value,
        piped: Option<Value>,
        line: usize,
    ) -> Result<Value> {
        if let Arg::Func(f) = &cmd[0] {
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(self.arg(a, dot, line)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return self
                .call(f, &args)
                .map_err(|e| xerr(line, format!("error calling {f}: {e}")));
        }
        // docker's list rows have one method: `{{.Label "key"}}`, a value from Labels (a map, or
        // the "k=v,k2=v2" string that ps/volume ls rows carry)
        if let (Arg::Field(f), 2, None) = (&cmd[0], cmd.len(), &piped) {
            if f.last().map(String::as_str) == Some("Label") {
                if self.header {
                    return Ok(Value::String("LABEL".into()));
                }
                let parent = self.fields(dot, &f[..f.len() - 1], line)?;
                let key = self.arg(&cmd[1], dot, line)?;
                let key = key.as_str().unwrap_or_default();
                return Ok(Value::String(label_of(&parent, key)));
            }
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(xerr(line, "can't give argument to non-function"));
        }
        self.arg(&cmd[0], dot, line)
    }

    fn arg(&mut self, a: &Arg, dot: &Value, line: usize) -> Result<Value> {
        match a {
            Arg::Field(f) => self.fields(dot, f, line),
            Arg::Var(name, f) => {
                let base = if name == "$" {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == "$")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| self.root.clone())
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| xerr(line, format!("undefined variable: {name}")))?
                };
                self.fields(&base, f, line)
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(f) => self
                .call(f, &[])
                .map_err(|e| xerr(line, format!("error calling {f}: {e}"))),
            Arg::Sub(p, f) => {
                let v = self.pipe(p, dot, line)?;
                self.fields(&v, f, line)
            }
        }
    }

    fn fields(&self, base: &Value, path: &[String], line: usize) -> Result<Value> {
        let mut cur = base.clone();
        for name in path {
            cur = match cur {
                Value::Object(mut m) => m.remove(name).unwrap_or(Value::Null),
                Value::Null => Value::Null,
                s @ Value::String(_) if self.header => s,
                other => {
                    return Err(xerr(
                        line,
                        format!("can't evaluate field {name} in type {}", go_type(&other)),
                    ))
                }
            };
        }
        Ok(cur)
    }

    fn call(&self, f: &str, a: &[Value]) -> Result<Value> {
        let want = |n: usize| -> Result<()> {
            if a.len() != n {
                bail!("wrong number of args for {f}: want {n} got {}", a.len());
            }
            Ok(())
        };
        Ok(match f {
            "and" | "or" => {
                if a.is_empty() {
                    bail!("wrong number of args for {f}: want at least 1 got 0");
                }
                let stop = |v: &Value| if f == "and" { !truthy(v) } else { truthy(v) };
                a.iter()
                    .find(|v| stop(v))
                    .unwrap_or(&a[a.len() - 1])
                    .clone()
            }
            "not" => {
                want(1)?;
                Value::Bool(!truthy(&a[0]))
            }
            "len" => {
                want(1)?;
                Value::from(match &a[0] {
                    Value::String(s) => s.len(),
                    Value::Array(v) => v.len(),
                    Value::Object(m) => m.len(),
                    Value::Null => 0,
                    other => bail!("len of type {}", go_type(other)),
                })
            }
            "index" => {
                if a.is_empty() {
                    bail!("wrong number of args for index: want at least 1 got 0");
                }
                let mut cur = a[0].clone();
                for k in &a[1..] {
                    cur = match (&cur, k) {
                        (Value::Object(m), Value::String(k)) => m
                            .get(k)
                            .cloned()
                            .unwrap_or_else(|| Value::String(String::new())),
                        (Value::Array(v), Value::Number(n)) => {
                            let i = n.as_i64().unwrap_or(-1);
                            if i < 0 || i as usize >= v.len() {
                                bail!("index out of range: {i}");
                            }
                            v[i as usize].clone()
                        }
                        (Value::Null, _) => Value::Null,
                        (Value::String(_), _) if self.header => cur.clone(),
                        (c, k) => bail!("cannot index {} with {}", go_type(c), go_type(k)),
                    };
                }
                cur
            }
            "print" => {
                let mut s = String::new();
                for (i, v) in a.iter().enumerate() {
                    if i > 0 && !v.is_string() && !a[i - 1].is_string() {
                        s.push(' ');
                    }
                    s.push_str(&print_value(v));
                }
                Value::String(s)
            }
            "println" => {
                let parts: Vec<String> = a.iter().map(print_value).collect();
                Value::String(parts.join(" ") + "\n")
            }
            "printf" => {
                let Some(Value::String(fmt)) = a.first() else {
                    bail!("printf needs a format string");
                };
                Value::String(sprintf(fmt, &a[1..]))
            }
            "eq" => {
                if a.len() < 2 {
                    bail!("missing argument for comparison");
                }
                Value::Bool(a[1..].iter().any(|b| equal(&a[0], b)))
            }
            "ne" => {
                want(2)?;
                Value::Bool(!equal(&a[0], &a[1]))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let o = compare(&a[0], &a[1])?;
                Value::Bool(match f {
                    "lt" => o.is_lt(),
                    "le" => o.is_le(),
                    "gt" => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
            "json" => {
                want(1)?;
                Value::String(serde_json::to_string(&a[0])?)
            }
            "join" => {
                want(2)?;
                let sep = print_value(&a[1]);
                match &a[0] {
                    Value::Array(v) => {
                        Value::String(v.iter().map(print_value).collect::<Vec<_>>().join(&sep))
                    }
                    Value::Null => Value::String(String::new()),
                    other => Value::String(print_value(other)),
                }
            }
            "split" => {
                want(2)?;
                let s = print_value(&a[0]);
                let sep = print_value(&a[1]);
                let parts: Vec<Value> = if sep.is_empty() {
                    s.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    s.split(sep.as_str())
                        .map(|p| Value::String(p.to_string()))
                        .collect()
                };
                Value::Array(parts)
            }
            "lower" => {
                want(1)?;
                Value::String(print_value(&a[0]).to_lowercase())
            }
            "upper" => {
                want(1)?;
                Value::String(print_value(&a[0]).to_uppercase())
            }
            "title" => {
                want(1)?;
                Value::String(title(&print_value(&a[0])))
            }
            "pad" => {
                want(3)?;
                let n = |v: &Value| v.as_u64().unwrap_or(0) as usize;
                Value::String(format!(
                    "{}{}{}",
                    " ".repeat(n(&a[1])),
                    print_value(&a[0]),
                    " ".repeat(n(&a[2]))
                ))
            }
            "truncate" => {
                want(2)?;
                let s = print_value(&a[0]);
                let n = a[1].as_u64().unwrap_or(0) as usize;
                Value::String(s.chars().take(n).collect())
            }
            other => bail!("function {other:?} not defined"),
        })
    }
}

/// Go's truth: false, 0, nil, and empty strings, arrays and maps are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return Ok(i.cmp(&j));
            }
            x.as_f64()
                .zip(y.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y))
                .ok_or_else(|| anyhow!("incompatible types for comparison"))
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => bail!("incompatible types for comparison"),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

/// A value as Go's `%v` prints it (the template's output of an action).
fn print_value(v: &Value) -> String {
    print_inner(v, true)
}

fn print_inner(v: &Value, top: bool) -> String {
    match v {
        Value::Null if top => "<no value>".into(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|x| print_inner(x, false)).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{k}:{}", print_inner(x, false)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn go_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    go_float(n.as_f64().unwrap_or(0.0))
}

/// Go's `%v` of a float64: the shortest digits, in exponent form when the decimal exponent
/// is below -4 or 6 and above (`%g`'s rule for the shortest form), e.g. `1.5`, `123456`,
/// `1e+06`, `1e-05`.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:e}", f.abs()); // shortest digits: "1.2345e6"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %f %e %g %x %X %t %c %o %b
/// %%`, with flags `-+ 0#`, width and precision.
fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut argi = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = it.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width: Option<usize> = None;
        while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = 0;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                it.next();
            }
            prec = Some(p);
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let bad = || format!("%!{verb}({}={})", go_type(arg), print_value(arg));
        let num_sign = |s: String, neg: bool| -> String {
            if neg {
                format!("-{s}")
            } else if plus {
                format!("+{s}")
            } else if space {
                format!(" {s}")
            } else {
                s
            }
        };
        let (body, numeric) = match verb {
            'v' => match arg {
                Value::Number(n) if n.is_f64() => {
                    (float_verb('g', n.as_f64().unwrap(), prec, &num_sign), true)
                }
                Value::Number(n) => {
                    let i = n
                        .as_i64()
                        .map(|i| i as i128)
                        .or(n.as_u64().map(|u| u as i128))
                        .unwrap_or(0);
                    (num_sign(i.unsigned_abs().to_string(), i < 0), true)
                }
                other => (print_inner(other, false), false),
            },
            's' => match arg {
                Value::String(s) => (truncate_prec(s, prec), false),
                Value::Number(_) | Value::Bool(_) => (bad(), false),
                other => (truncate_prec(&print_inner(other, false), prec), false),
            },
            'q' => match arg {
                Value::String(s) => (serde_json::to_string(s).unwrap_or_default(), false),
                _ => (bad(), false),
            },
            't' => match arg {
                Value::Bool(b) => (b.to_string(), false),
                _ => (bad(), false),
            },
            'd' | 'x' | 'X' | 'o' | 'b' | 'c' => match arg {
                Value::Number(n) if !n.is_f64() => {
                    let i = n
                        .as_i64()
                        .map(|i| i as i128)
                        .or(n.as_u64().map(|u| u as i128))
                        .unwrap_or(0);
                    let a = i.unsigned_abs();
                    let s = match verb {
                        'd' => a.to_string(),
                        'x' => format!("{a:x}"),
                        'X' => format!("{a:X}"),
                        'o' => format!("{a:o}"),
                        'b' => format!("{a:b}"),
                        _ => char::from_u32(a as u32)
                            .map(String::from)
                            .unwrap_or_default(),
                    };
                    if verb == 'c' {
                        (s, false)
                    } else {
                        (num_sign(s, i < 0), true)
                    }
                }
                Value::String(s) if verb == 'x' || verb == 'X' => {
                    let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                    (if verb == 'X' { h.to_uppercase() } else { h }, false)
                }
                _ => (bad(), false),
            },
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => match arg {
                Value::Number(n) => (
                    float_verb(verb, n.as_f64().unwrap_or(0.0), prec, &num_sign),
                    true,
                ),
                _ => (bad(), false),
            },
            _ => (
                format!("%!{verb}({}={})", go_type(arg), print_value(arg)),
                false,
            ),
        };
        out.push_str(&pad(body, width, minus, zero && numeric && !minus));
    }
    if argi < args.len() {
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", go_type(a), print_value(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn truncate_prec(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn float_verb(
    verb: char,
    f: f64,
    prec: Option<usize>,
    sign: &dyn Fn(String, bool) -> String,
) -> String {
    let neg = f.is_sign_negative() && f != 0.0;
    let a = f.abs();
    let s = match verb {
        'f' | 'F' => format!("{a:.*}", prec.unwrap_or(6)),
        'e' | 'E' => {
            let s = format!("{a:.*e}", prec.unwrap_or(6));
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => match prec {
            None => go_float(a),
            Some(p) => {
                // %.Ng: N significant digits
                let p = p.max(1);
                let s = format!("{a:.*e}", p - 1);
                let v: f64 = s.parse().unwrap_or(a);
                let g = go_float(v);
                if verb == 'G' {
                    g.to_uppercase()
                } else {
                    g
                }
            }
        },
    };
    sign(s, neg)
}

fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        // zeros go after the sign
        let (sign, digits) = match s.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), s[1..].to_string()),
            _ => (String::new(), s),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// `{{.Label "k"}}` on a row whose Labels is a map or docker's "k=v,k2=v2" string.
fn label_of(row: &Value, key: &str) -> String {
    match row.get("Labels") {
        Some(Value::Object(m)) => m
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        Some(Value::String(s)) => s
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_method() {
        let v = json!({"Labels": "a=1,k=v2"});
        assert_eq!(r(r#"{{.Label "k"}}"#, &v), "v2");
        assert_eq!(r(r#"{{.Label "nope"}}"#, &v), "");
        let m = json!({"Labels": {"k": "x"}});
        assert_eq!(r(r#"{{.Label "k"}}"#, &m), "x");
    }

    fn r(t: &str, v: &Value) -> String {
        render(t, v).unwrap_or_else(|e| panic!("{t}: {e:#}"))
    }

    fn c() -> Value {
        json!({
            "ID": "0123456789ab",
            "Names": "web",
            "Image": "nginx:latest",
            "Size": 1234,
            "Ratio": 1.5,
            "Big": 1000000.0,
            "Running": true,
            "Empty": "",
            "Labels": {"com.example.role": "front", "tier": "web"},
            "Ports": ["80/tcp", "443/tcp"],
            "Mounts": [{"Source": "/a", "Destination": "/b"}],
            "State": {"Status": "running", "Pid": 42},
            "Nothing": null
        })
    }

    #[test]
    fn fields_and_values() {
        let v = c();
        assert_eq!(r("{{.ID}}", &v), "0123456789ab");
        assert_eq!(
            r("id={{.ID}} name={{.Names}}", &v),
            "id=0123456789ab name=web"
        );
        assert_eq!(r("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
        assert_eq!(r("{{.Missing}}", &v), "<no value>");
        assert_eq!(r("{{.Missing.Deeper}}", &v), "<no value>");
        assert_eq!(r("{{.Ratio}} {{.Big}} {{.Running}}", &v), "1.5 1e+06 true");
        assert_eq!(r("{{.Ports}}", &v), "[80/tcp 443/tcp]");
        assert_eq!(r("{{.Labels}}", &v), "map[com.example.role:front tier:web]");
        assert_eq!(r("{{.Mounts}}", &v), "[map[Destination:/b Source:/a]]");
        assert_eq!(
            r("{{.State}}", &json!({"State": {"X": null}})),
            "map[X:<nil>]"
        );
        assert_eq!(r("{{.}}", &json!("plain")), "plain");
        assert_eq!(r("no actions", &v), "no actions");
        assert!(render("{{.ID.X}}", &v)
            .unwrap_err()
            .to_string()
            .contains("can't evaluate field X in type string"));
    }

    #[test]
    fn go_number_printing() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(r("{{.}}", &json!(-7)), "-7");
        assert_eq!(r("{{.}}", &json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn json_function_and_pipelines() {
        let v = c();
        assert_eq!(r("{{json .Ports}}", &v), r#"["80/tcp","443/tcp"]"#);
        assert_eq!(r("{{json .Names}}", &v), r#""web""#);
        assert_eq!(
            r("{{.Labels | json}}", &v),
            r#"{"com.example.role":"front","tier":"web"}"#
        );
        assert_eq!(r("{{json .Nothing}}", &v), "null");
        assert_eq!(
            r("{{json .}}", &json!({"a": [1, "<b>"]})),
            r#"{"a":[1,"<b>"]}"#
        );
        assert_eq!(r("{{.Names | upper | printf \"%s!\"}}", &v), "WEB!");
        assert_eq!(r("{{(index .Mounts 0).Source}}", &v), "/a");
        assert_eq!(r("{{len (split .Image \":\")}}", &v), "2");
    }

    #[test]
    fn index_join_and_string_functions() {
        let v = c();
        assert_eq!(r(r#"{{index .Labels "com.example.role"}}"#, &v), "front");
        assert_eq!(r(r#"{{index .Labels "nope"}}"#, &v), "");
        assert_eq!(r("{{index .Ports 1}}", &v), "443/tcp");
        assert_eq!(r(r#"{{join .Ports ", "}}"#, &v), "80/tcp, 443/tcp");
        assert_eq!(r("{{lower \"MiXeD\"}} {{upper .Names}}", &v), "mixed WEB");
        assert_eq!(r("{{title \"hello wide-world\"}}", &v), "Hello Wide-World");
        assert_eq!(
            r("{{len .Ports}} {{len .Labels}} {{len .Names}}", &v),
            "2 2 3"
        );
        assert_eq!(r(r#"{{split "a,b,c" ","}}"#, &v), "[a b c]");
        assert_eq!(r("{{truncate .ID 4}}", &v), "0123");
        assert_eq!(r("[{{pad .Names 1 2}}]", &v), "[ web  ]");
        assert!(render("{{nosuch .X}}", &v)
            .unwrap_err()
            .to_string()
            .contains("function \"nosuch\" not defined"));
    }

    #[test]
    fn printf_verbs() {
        let v = c();
        assert_eq!(r(r#"{{printf "%s %d" .Names .Size}}"#, &v), "web 1234");
        assert_eq!(
            r(r#"{{printf "%-6s|%5d|%05d" .Names .Size .Size}}"#, &v),
            "web   | 1234|01234"
        );
        assert_eq!(
            r(
                r#"{{printf "%.2f %v %q %t" .Ratio .Ratio .Names .Running}}"#,
                &v
            ),
            "1.50 1.5 \"web\" true"
        );
        assert_eq!(r(r#"{{printf "%x %X %o" 255 255 8}}"#, &v), "ff FF 10");
        assert_eq!(r(r#"{{printf "%d%%" 50}}"#, &v), "50%");
        assert_eq!(r(r#"{{printf "%d" .Names}}"#, &v), "%!d(string=web)");
        assert_eq!(r(r#"{{printf "%s %s" .Names}}"#, &v), "web %!s(MISSING)");
        assert_eq!(r(r#"{{printf "%s" .Names 1}}"#, &v), "web%!(EXTRA int=1)");
        assert_eq!(r(r#"{{printf "%v" .Ports}}"#, &v), "[80/tcp 443/tcp]");
        assert_eq!(r(r#"{{printf "%.3s" .Image}}"#, &v), "ngi");
        assert_eq!(r(r#"{{printf "%e" 1234.5}}"#, &v), "1.234500e+03");
        assert_eq!(r(r#"{{print "a" 1 2 "b"}}"#, &v), "a1 2b");
        assert_eq!(r(r#"{{println "a" 1}}"#, &v), "a 1\n");
    }

    #[test]
    fn if_else() {
        let v = c();
        assert_eq!(r("{{if .Running}}up{{else}}down{{end}}", &v), "up");
        assert_eq!(r("{{if .Empty}}x{{else}}empty{{end}}", &v), "empty");
        assert_eq!(r("{{if .Missing}}x{{end}}", &v), "");
        assert_eq!(
            r(
                "{{if eq .Names \"db\"}}db{{else if eq .Names \"web\"}}web{{else}}?{{end}}",
                &v
            ),
            "web"
        );
        assert_eq!(
            r("{{if and .Running (gt .Size 1000)}}big{{end}}", &v),
            "big"
        );
        assert_eq!(
            r("{{if or .Empty .Names}}{{end}}{{or .Empty .Names}}", &v),
            "web"
        );
        assert_eq!(r("{{if not .Running}}a{{else}}b{{end}}", &v), "b");
        assert_eq!(
            r(
                "{{if ne .Size 1}}ne{{end}} {{if le 1 1}}le{{end}} {{if lt \"a\" \"b\"}}lt{{end}}",
                &v
            ),
            "ne le lt"
        );
        assert_eq!(r("{{if eq .State.Pid 1 2 42}}any{{end}}", &v), "any");
        assert_eq!(r("{{with .State}}{{.Status}}{{end}}", &v), "running");
        assert_eq!(r("{{with .Missing}}x{{else}}none{{end}}", &v), "none");
    }

    #[test]
    fn range_rebinds_dot() {
        let v = c();
        assert_eq!(r("{{range .Ports}}<{{.}}>{{end}}", &v), "<80/tcp><443/tcp>");
        assert_eq!(
            r("{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}", &v),
            "/a:/b"
        );
        assert_eq!(
            r("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &v),
            "com.example.role=front;tier=web;"
        );
        assert_eq!(
            r("{{range $i, $p := .Ports}}{{$i}}:{{$p}} {{end}}", &v),
            "0:80/tcp 1:443/tcp "
        );
        assert_eq!(
            r("{{range .Ports}}{{$.Names}}/{{.}} {{end}}", &v),
            "web/80/tcp web/443/tcp "
        );
        assert_eq!(r("{{range .Nothing}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{range .Missing}}x{{end}}", &v), "");
        assert_eq!(
            r("{{$n := .Names}}{{range .Ports}}{{$n}}{{end}}", &v),
            "webweb"
        );
        assert!(render("{{range .Names}}{{end}}", &v).is_err());
    }

    #[test]
    fn trim_markers_and_comments() {
        let v = c();
        assert_eq!(r("a  {{- .Names -}}  b", &v), "awebb");
        assert_eq!(r("a {{.Names}} b", &v), "a web b");
        assert_eq!(
            r("{{range .Ports -}}\n  {{.}}\n{{- end}}", &v),
            "80/tcp443/tcp"
        );
        assert_eq!(r("x{{/* a comment */}}y", &v), "xy");
        assert_eq!(r("x {{- /* trimmed */ -}} y", &v), "xy");
        assert_eq!(r("{{-3}}", &v), "-3");
    }

    #[test]
    fn parse_errors() {
        let v = c();
        for bad in [
            "{{.Names",
            "{{if .X}}no end",
            "{{end}}",
            "{{else}}",
            "{{}}",
            "{{.A | }}",
            "{{\"open}}",
            "{{(.A}}",
            "{{.A)}}",
            "{{template \"x\"}}",
        ] {
            let e = render(bad, &v).unwrap_err().to_string();
            assert!(e.starts_with("template"), "{bad}: {e}");
        }
        assert!(render("{{.Names 1}}", &v).is_err());
        assert!(render("{{$x}}", &v).is_err());
    }

    const HEADERS: &[(&str, &str)] = &[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
    ];

    fn rows() -> Vec<Value> {
        vec![
            json!({"ID": "aaaaaaaaaaaa", "Image": "busybox", "Names": "one", "Labels": {"a": "1"}}),
            json!({"ID": "bbbbbbbbbbbb", "Image": "nginx:latest", "Names": "two", "Labels": {}}),
        ]
    }

    #[test]
    fn list_default_table() {
        let out = format_list(
            None,
            "table {{.ID}}\t{{.Image}}\t{{.Names}}",
            HEADERS,
            &rows(),
        )
        .unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE          NAMES\n\
             aaaaaaaaaaaa   busybox        one\n\
             bbbbbbbbbbbb   nginx:latest   two\n"
        );
        // "table" alone means the default; a default without the "table " prefix works too
        assert_eq!(
            format_list(
                Some("table"),
                "{{.ID}}\t{{.Image}}\t{{.Names}}",
                HEADERS,
                &rows()
            )
            .unwrap(),
            out
        );
        // no rows: the header alone
        assert_eq!(
            format_list(None, "{{.ID}}\t{{.Names}}", HEADERS, &[]).unwrap(),
            "CONTAINER ID   NAMES\n"
        );
    }

    #[test]
    fn list_table_with_template_and_escapes() {
        let out = format_list(
            Some(r"table {{.Names}}\t{{.ID}}\t{{.Other}}"),
            "",
            HEADERS,
            &rows(),
        )
        .unwrap();
        assert_eq!(
            out,
            "NAMES   CONTAINER ID   OTHER\n\
             one     aaaaaaaaaaaa   <no value>\n\
             two     bbbbbbbbbbbb   <no value>\n"
        );
        let out = format_list(
            Some(r#"table {{.Names}}\t{{index .Labels "a"}}"#),
            "",
            HEADERS,
            &rows(),
        )
        .unwrap();
        assert_eq!(out, "NAMES   LABELS\none     1\ntwo\n");
    }

    #[test]
    fn list_json_and_plain_template() {
        assert_eq!(
            format_list(Some("json"), "", HEADERS, &rows()[..1]).unwrap(),
            "{\"ID\":\"aaaaaaaaaaaa\",\"Image\":\"busybox\",\"Labels\":{\"a\":\"1\"},\"Names\":\"one\"}\n"
        );
        assert_eq!(
            format_list(Some(r"{{.Names}}\t{{.Image}}"), "", HEADERS, &rows()).unwrap(),
            "one\tbusybox\ntwo\tnginx:latest\n"
        );
        assert_eq!(
            format_list(Some(r"{{.Names}}\n"), "", HEADERS, &rows()).unwrap(),
            "one\n\ntwo\n\n"
        );
        assert_eq!(
            format_list(Some("{{json .Labels}}"), "", HEADERS, &rows()).unwrap(),
            "{\"a\":\"1\"}\n{}\n"
        );
        assert!(format_list(Some("{{.Names"), "", HEADERS, &rows()).is_err());
        // a word starting with "table" is a plain template
        assert_eq!(
            format_list(Some("tables"), "", HEADERS, &rows()).unwrap(),
            "tables\ntables\n"
        );
    }
}
