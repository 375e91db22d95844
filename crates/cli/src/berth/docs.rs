//! Shell completions and man pages, generated from the clap definitions of the command line
//! (so they never drift from it): `berth completion bash|zsh|fish` prints a completion script,
//! `berth manpages DIR` writes `berth.1` and one `berth-<command>.1` per (sub)command.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print the completion script for
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManpagesArgs {
    /// Directory to write the pages to (created if missing), e.g. /usr/local/share/man/man1
    pub dir: PathBuf,
}

pub fn completion(a: CompletionArgs) -> Result<i32> {
    use clap_complete::{generate, shells};
    let mut cmd = super::Cli::command();
    let mut out = std::io::stdout().lock();
    match a.shell {
        Shell::Bash => generate(shells::Bash, &mut cmd, "berth", &mut out),
        Shell::Zsh => generate(shells::Zsh, &mut cmd, "berth", &mut out),
        Shell::Fish => generate(shells::Fish, &mut cmd, "berth", &mut out),
    }
    Ok(0)
}

/// One page for `cmd` named `name`, then its visible subcommands' (`name-sub`).
fn write_pages(cmd: clap::Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    // clap's names are &'static str (its `string` feature is off): this process ends soon
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let cmd = cmd
        .name(leak(name.to_string()))
        .bin_name(leak(name.replace('-', " ")));
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    std::fs::write(&path, buf).with_context(|| format!("write {}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_pages(
            sub.clone(),
            &format!("{name}-{}", sub.get_name()),
            dir,
            written,
        )?;
    }
    Ok(())
}

pub fn manpages(a: ManpagesArgs) -> Result<i32> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("create {}", a.dir.display()))?;
    let mut cmd = super::Cli::command();
    cmd.build();
    let mut n = 0;
    write_pages(cmd, "berth", &a.dir, &mut n)?;
    eprintln!("{n} pages written to {}", a.dir.display());
    Ok(0)
}
