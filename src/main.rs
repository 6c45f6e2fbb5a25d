//! The `crumb` binary: parse the command line, run one subcommand, exit with its code.
//! All the work happens in the `crumb` library; `cli` and `serve` only adapt it.

mod cli;
#[cfg(feature = "mcp")]
mod mcp;
mod serve;

fn main() -> std::process::ExitCode {
    let args = cli::parse();
    cli::run(args)
}
