//! Shell completions and man pages, from the clap definitions alone: `crumb completions SHELL`
//! prints one script, and the hidden `crumb generate completions|man --dir DIR` writes the
//! files committed under completions/ and man/ (a test regenerates and compares them).

use super::exit::OK;
use super::help;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use clap_complete::Shell;
use std::io::Write;
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

/// Print a shell completion script on stdout.
///
/// bash: `crumb completions bash > ~/.local/share/bash-completion/completions/crumb`;
/// zsh: into a directory on $fpath as `_crumb`; fish: `~/.config/fish/completions/crumb.fish`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: GenerateArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    match args.what {
        What::Completions => completions_to(&args.dir)?,
        What::Man => man_pages(&args.dir)?,
    }
    Ok(OK)
}

pub fn run_completions(args: CompletionsArgs) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut visible(super::command()), "crumb", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(OK)
}

fn visible(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("generate", |c| c.hide(true))
}

fn completions_to(dir: &Path) -> Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
        let mut cmd = visible(super::command());
        clap_complete::generate_to(shell, &mut cmd, "crumb", dir)?;
    }
    Ok(())
}

fn man_pages(dir: &Path) -> Result<()> {
    // The pages name the version only: the long one names a commit, which changes with each.
    let cmd = visible(super::command()).long_version(clap::builder::Resettable::Reset);
    let version = cmd.get_version().unwrap_or_default().to_owned();
    std::fs::write(dir.join("crumb.1"), man_page(cmd.clone(), None)?)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("crumb-{}", sub.get_name());
        let page = sub.clone().name(name.clone()).version(version.clone());
        std::fs::write(dir.join(format!("{name}.1")), man_page(page, Some(sub.get_name()))?)?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, then EXAMPLES, EXIT STATUS, ENVIRONMENT and FILES.
fn man_page(cmd: clap::Command, subcommand: Option<&str>) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    section(&mut out, "SYNOPSIS");
    out.extend(synopsis(&cmd).bytes());
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let examples = subcommand.map(help::examples).unwrap_or(&[]);
    if !examples.is_empty() {
        section(&mut out, "EXAMPLES");
        for (comment, command) in examples {
            out.extend(format!(".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE\n", roff(comment), roff(command)).bytes());
        }
    }
    section(&mut out, "EXIT STATUS");
    out.extend(
        ".TP\n0\nvalid, allowed, done\n.TP\n1\ndenied: the token was refused\n.TP\n2\nbad input or usage\n\
         .TP\n3\nthe environment failed: ledger, file system or server unavailable\n"
            .bytes(),
    );
    section(&mut out, "ENVIRONMENT");
    for (name, what) in help::ENVIRONMENT {
        out.extend(format!(".TP\n\\fB{name}\\fR\n{}\n", roff(what)).bytes());
    }
    section(&mut out, "FILES");
    for (path, what) in help::FILES {
        out.extend(format!(".TP\n\\fI{}\\fR\n{}\n", roff(path), roff(what)).bytes());
    }
    if subcommand != Some("caveats") {
        section(&mut out, "SEE ALSO");
        out.extend(".BR crumb-caveats (1)\n".bytes());
    }
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// The synopsis, each option with its value (`[--key-file FILE]`, where clap_mangen's own
/// shows `[--key-file]`), hidden options left out.
fn synopsis(cmd: &clap::Command) -> String {
    // A required group of alternatives (the token or --token-file) is shown as one choice.
    let choices: Vec<Vec<clap::Id>> = cmd
        .get_groups()
        .cloned()
        .filter_map(|mut g| (g.is_required_set() && !g.is_multiple()).then(|| g.get_args().cloned().collect()))
        .collect();
    let mut parts = vec![format!("\\fB{}\\fR", roff(cmd.get_name()))];
    let mut shown_choice = vec![false; choices.len()];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if matches!(arg.get_id().as_str(), "help" | "version") {
            continue;
        }
        match choices.iter().position(|c| c.contains(arg.get_id())) {
            Some(i) if !shown_choice[i] => {
                shown_choice[i] = true;
                let members: Vec<String> = choices[i]
                    .iter()
                    .filter_map(|id| cmd.get_arguments().find(|a| a.get_id() == id))
                    .map(arg_synopsis)
                    .collect();
                parts.push(format!("({})", members.join("|")));
            }
            Some(_) => {}
            None => {
                let text = arg_synopsis(arg);
                parts.push(if arg.is_required_set() { text } else { format!("[{text}]") });
            }
        }
    }
    if cmd.has_subcommands() {
        parts.push("\\fICOMMAND\\fR".to_owned());
    }
    format!("{}\n", parts.join(" "))
}

/// One option as the synopsis shows it: `--key-file FILE`, `-q|--quiet`, `--exact CAVEAT...`.
fn arg_synopsis(arg: &clap::Arg) -> String {
    let names: Vec<String> = arg
        .get_value_names()
        .map(|v| v.iter().map(|n| format!("\\fI{}\\fR", roff(n))).collect())
        .unwrap_or_else(|| vec![format!("\\fI{}\\fR", roff(&arg.get_id().as_str().to_uppercase()))]);
    let optional_value = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
    let value = if !arg.get_action().takes_values() {
        String::new()
    } else if optional_value {
        format!(" [{}]", names.join(" "))
    } else {
        format!(" {}", names.join(" "))
    };
    let repeated = if matches!(arg.get_action(), clap::ArgAction::Append) { "..." } else { "" };
    if arg.is_positional() {
        return format!("{}{repeated}", names.join(" "));
    }
    let long = arg.get_long().map(|l| format!("\\fB\\-\\-{}\\fR", roff(l)));
    let short = arg.get_short().map(|s| format!("\\fB\\-{s}\\fR"));
    let flag = [short, long].into_iter().flatten().collect::<Vec<_>>().join("|");
    format!("{flag}{value}{repeated}")
}

fn section(out: &mut Vec<u8>, name: &str) {
    out.extend(format!(".SH {name}\n").bytes());
}

/// Escapes text for roff: backslashes, and a leading dot or quote that would read as a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}
