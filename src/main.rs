//! The `crumb` binary: parse the command line, run one subcommand, exit with its code.
//! All the work happens in the `crumb` library; `cli` and `serve` only adapt it.

mod cli;
mod serve;

use clap::Parser;

/// mimalloc: the server and the verifier allocate many small short-lived values; it keeps
/// them off glibc's slower paths (measured in scripts/bench-server).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::run(args)
}
