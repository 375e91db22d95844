//! `docker top`: the host's `ps`, keeping the container's processes.

use crate::engine::Engine;
use crate::error::{Error, IoContext, Result};
use crate::types::Container;

fn not_running(c: &Container) -> Error {
    Error::Conflict(format!("container {} is not running", c.id))
}

/// Keep the rows of `ps` output whose PID is one of `pids`; the last column takes the rest of
/// the line (commands have spaces). Returns (titles, rows).
pub fn parse_ps(output: &str, pids: &[i32]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Other("Couldn't find PID field in ps output".into()))?;
    let mut rows = Vec::new();
    for l in lines {
        if l.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split_whitespace().collect();
        let Some(Ok(pid)) = fields.get(pid_col).map(|p| p.parse::<i32>()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len();
        let mut row: Vec<String> = fields
            .iter()
            .take(n.saturating_sub(1))
            .map(|s| s.to_string())
            .collect();
        if fields.len() >= n {
            row.push(fields[n - 1..].join(" "));
        }
        rows.push(row);
    }
    Ok((titles, rows))
}

impl Engine {
    /// `docker top`: `ps` (with `ps_args`, `-ef` by default) on the host, keeping the
    /// container's processes.
    pub fn top(&self, key: &str, ps_args: &[String]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let c = self.find_reconciled(key)?;
        if !c.state.status.is_live() {
            return Err(not_running(&c));
        }
        let pids = self.runtime.pids(&c.id)?;
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args
                .iter()
                .flat_map(|a| a.split_whitespace().map(str::to_string))
                .collect()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .ctx(|| "run ps".to_string())?;
        if !out.status.success() {
            return Err(Error::Other(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let table = parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)?;
        crate::events::container(self, &c, "top", &[]);
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_filter() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n\
                   root         123       1  0 10:01 ?        00:00:00 sleep 1000\n";
        let (t, rows) = parse_ps(out, &[123]).unwrap();
        assert_eq!(t.len(), 8);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "123");
        assert_eq!(rows[0][7], "sleep 1000");
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
