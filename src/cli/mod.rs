//! The command line: one file per subcommand, each an `Args` struct (its doc comments are its
//! help) and a `run` that turns flags into library calls and results into output and exit codes.

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`crumb inspect "$T" | head -1`); [`run`] ends such a command quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

pub mod args;
mod attenuate;
mod bind;
mod discharge;
pub mod exit;
mod generate;
mod help;
mod inspect;
mod keygen;
mod ledger_args;
mod lineage;
mod mint;
pub mod output;
pub mod paths;
mod remote;
mod revoke;
mod serve;
mod spend;
mod split;
mod token_file;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Macaroon bearer tokens that carry their own limits.
///
/// Mint tokens from a root key, attenuate them with caveats anyone can add and nobody can
/// remove, inspect them, and verify them against a request.
#[derive(Parser, Debug)]
#[command(name = "crumb", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = help::after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Keygen(keygen::KeygenArgs),
    Mint(mint::MintArgs),
    Attenuate(attenuate::AttenuateArgs),
    Inspect(inspect::InspectArgs),
    Verify(verify::VerifyArgs),
    Discharge(discharge::DischargeArgs),
    Bind(bind::BindArgs),
    Spend(spend::SpendArgs),
    Split(split::SplitArgs),
    Revoke(revoke::RevokeArgs),
    Lineage(lineage::LineageArgs),
    Serve(serve::ServeArgs),
    Completions(generate::CompletionsArgs),
    Caveats(CaveatsArgs),
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

impl Command {
    /// Whether the command was asked for JSON: then stdout holds exactly one JSON document,
    /// whatever the outcome.
    fn json(&self) -> bool {
        match self {
            Command::Keygen(a) => a.json,
            Command::Mint(a) => a.json,
            Command::Attenuate(a) => a.json,
            Command::Inspect(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Discharge(a) => a.json,
            Command::Bind(a) => a.json,
            Command::Spend(a) => a.common.json,
            Command::Split(a) => a.common.json,
            Command::Revoke(a) => a.json,
            Command::Lineage(a) => a.json,
            Command::Serve(_) | Command::Completions(_) | Command::Caveats(_) | Command::Generate(_) => false,
        }
    }
}

/// The whole command line: the derived definitions, with each subcommand's examples shown by
/// its `--help` (the man pages render the same examples as a section of their own).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        let examples = help::examples(&name);
        if !examples.is_empty() {
            cmd = cmd.mut_subcommand(name, |sub| sub.after_long_help(help::examples_text(examples)));
        }
    }
    cmd
}

/// Parses the process's arguments (exiting with clap's message and code 2 on a usage error).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The caveat language: what each caveat means and how it narrows a token.
#[derive(clap::Args, Debug)]
#[command(long_about = help::CAVEATS)]
pub struct CaveatsArgs {}

fn print_caveats() -> anyhow::Result<u8> {
    outln!("{}", help::CAVEATS)?;
    Ok(exit::OK)
}

/// Runs one subcommand; prints errors to stderr (and with `--json` as a JSON document on
/// stdout) and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
    let json = cli.command.json();
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Mint(a) => mint::run(a),
        Command::Attenuate(a) => attenuate::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Discharge(a) => discharge::run(a),
        Command::Bind(a) => bind::run(a),
        Command::Spend(a) => spend::run(a),
        Command::Split(a) => split::run(a),
        Command::Revoke(a) => revoke::run(a),
        Command::Lineage(a) => lineage::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Completions(a) => generate::run_completions(a),
        Command::Caveats(_) => print_caveats(),
        Command::Generate(a) => generate::run(a),
    };
    match result {
        Ok(code) => exit::exit(code),
        // A reader that went away (`| head -1`) is not an error: stop quietly, as cat does.
        Err(err) if exit::is_broken_pipe(&err) => exit::exit(exit::OK),
        Err(err) => {
            let code = exit::code_for(&err);
            let verdict = if code == exit::DENIED { "denied: " } else { "" };
            // Messages may quote a token's caveats or a server's words: never raw on a terminal.
            eprintln!("crumb: {verdict}{}", output::safe(&output::with_flag_hint(&exit::message(&err))));
            if json {
                let _ = outln!("{}", exit::error_json(&err, code));
            }
            exit::exit(code)
        }
    }
}
