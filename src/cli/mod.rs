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
#[command(
    after_help = "Exit codes: 0 valid/done, 1 denied, 2 bad input or usage, 3 ledger, file system or server unavailable."
)]
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
            Command::Serve(_) | Command::Generate(_) => false,
        }
    }
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
