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

mod exec;
mod funcs;
mod lex;
mod parse;

use anyhow::Result;
use exec::Exec;
use parse::{collect_fields, parse};
use serde_json::Map;
use serde_json::Value;

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

#[cfg(test)]
mod tests;
