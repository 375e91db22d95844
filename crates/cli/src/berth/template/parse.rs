//! Parsing: the pieces of a template into a tree of actions.

use super::lex::*;
use anyhow::Result;
use serde_json::{Number, Value};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
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
pub(super) struct Pipe {
    /// `$x :=` / `$x =` (and `$i, $v :=` in range)
    pub(super) vars: Vec<String>,
    pub(super) declare: bool,
    pub(super) cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Text(String),
    Action(Pipe, usize),
    If(Pipe, Vec<Node>, Vec<Node>, usize),
    With(Pipe, Vec<Node>, Vec<Node>, usize),
    Range(Pipe, Vec<Node>, Vec<Node>, usize),
}

pub(super) struct Parser {
    pieces: Vec<Piece>,
    pos: usize,
}

pub(super) enum Stop {
    Eof,
    End,
    Else(Option<(Vec<(Tok, bool)>, usize)>),
}

pub(super) fn parse(tpl: &str) -> Result<Vec<Node>> {
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
pub(super) fn pipeline(toks: &[(Tok, bool)], line: usize, range: bool) -> Result<Pipe> {
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

pub(super) fn commands(
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

pub(super) fn number(s: &str) -> Option<Value> {
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

pub(super) const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "join", "split", "title", "lower", "upper", "pad", "truncate",
];

/// Top-level fields the template reads from dot (for the table header).
pub(super) fn collect_fields(nodes: &[Node], out: &mut Vec<String>) {
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
