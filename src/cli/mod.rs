//! The command line: one file per subcommand, each an `Args` struct (its doc comments are its
//! help) and a `run` that turns flags into library calls and results into output and exit codes.

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

/// Runs one subcommand; prints errors to stderr and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
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
        Err(err) => {
            let code = exit::code_for(&err);
            let verdict = if code == exit::DENIED { "denied: " } else { "" };
            // Messages may quote a token's caveats or a server's words: never raw on a terminal.
            eprintln!("crumb: {verdict}{}", output::safe(&format!("{err:#}")));
            exit::exit(code)
        }
    }
}
