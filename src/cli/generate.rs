//! `crumb generate`: shell completions and man pages, from the clap definitions alone.
//! The outputs are committed under completions/ and man/; a test regenerates and compares.

use super::exit::OK;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Write shell completions or man pages into a directory.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(value_enum)]
    what: What,
    /// Directory to write into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum What {
    Completions,
    Man,
}

pub fn run(args: GenerateArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    match args.what {
        What::Completions => completions(&args.dir)?,
        What::Man => man_pages(&args.dir)?,
    }
    Ok(OK)
}

fn visible(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("generate", |c| c.hide(true))
}

fn completions(dir: &Path) -> Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
        let mut cmd = visible(super::Cli::command());
        clap_complete::generate_to(shell, &mut cmd, "crumb", dir)?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> Result<()> {
    let cmd = visible(super::Cli::command());
    let write = |name: &str, page: clap::Command| -> Result<()> {
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        std::fs::write(dir.join(format!("{name}.1")), out)?;
        Ok(())
    };
    write("crumb", cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("crumb-{}", sub.get_name());
        write(&name, sub.clone().name(name.clone()).version(cmd.get_version().unwrap_or_default().to_owned()))?;
    }
    Ok(())
}
