//! Go's value semantics and printing, and the template functions' helpers.

use anyhow::{anyhow, bail, Result};
use serde_json::{Number, Value};

/// Go's truth: false, 0, nil, and empty strings, arrays and maps are false.
pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

pub(super) fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

pub(super) fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
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

pub(super) fn go_type(v: &Value) -> &'static str {
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
pub(super) fn title(s: &str) -> String {
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
pub(super) fn print_value(v: &Value) -> String {
    print_inner(v, true)
}

pub(super) fn print_inner(v: &Value, top: bool) -> String {
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

pub(super) fn go_number(n: &Number) -> String {
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
pub(super) fn go_float(f: f64) -> String {
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
pub(super) fn sprintf(fmt: &str, args: &[Value]) -> String {
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
        let (body, numeric) = format_arg(verb, arg, prec, plus, space);
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

/// One `printf` verb applied to one argument: the text, and whether it is a number (zero
/// padding applies only to numbers).
fn format_arg(
    verb: char,
    arg: &Value,
    prec: Option<usize>,
    plus: bool,
    space: bool,
) -> (String, bool) {
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
    match verb {
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
    }
}

pub(super) fn truncate_prec(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

pub(super) fn float_verb(
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

pub(super) fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
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
pub(super) fn label_of(row: &Value, key: &str) -> String {
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

/// docker's template functions (`json join split lower upper title pad truncate`), after
/// Go's builtins.
pub(super) fn docker_func(f: &str, a: &[Value]) -> Result<Value> {
    let want = |n: usize| -> Result<()> {
        if a.len() != n {
            bail!("wrong number of args for {f}: want {n} got {}", a.len());
        }
        Ok(())
    };
    Ok(match f {
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
