//! Execution: a parsed template against a JSON value.

use super::funcs::*;
use super::parse::*;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;

pub(super) struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
    /// Rendering the table header: dot holds header strings, so field and index lookups
    /// on a string give the string itself.
    header: bool,
    pub(super) out: String,
}

pub(super) fn xerr(line: usize, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("template: :{line}: executing \"\": {msg}")
}

impl<'a> Exec<'a> {
    pub(super) fn new(root: &'a Value, header: bool) -> Exec<'a> {
        Exec {
            root,
            vars: Vec::new(),
            header,
            out: String::new(),
        }
    }

    pub(super) fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<()> {
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
            other => docker_func(other, a)?,
        })
    }
}
