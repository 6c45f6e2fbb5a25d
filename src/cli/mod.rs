//! The command line: one file per subcommand, each an `Args` struct (its doc comments are its
//! help) and a `run` that turns flags into library calls and results into output and exit codes.

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`crumb inspect "$T" | head -1`); [`run`] ends such a command quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if $crate::cli::output::stdout_is_protocols() {
            Err(std::io::Error::other("stdout carries the MCP protocol"))
        } else {
            writeln!(std::io::stdout().lock(), $($arg)*)
        }
    }};
}

pub mod args;
mod attenuate;
mod bind;
pub mod config;
mod delegation;
mod discharge;
mod doctor;
pub mod exit;
mod generate;
mod help;
pub mod http_client;
mod inspect;
mod keygen;
mod ledger_args;
mod ledger_cmd;
mod lineage;
#[cfg(feature = "mcp")]
mod mcp;
mod mint;
pub mod output;
pub mod paths;
pub mod remote;
pub mod request;
mod revoke;
mod serve;
pub mod spend;
pub mod split;
pub mod token_file;
mod verify;

use clap::{Parser, Subcommand};

/// How crumb's HTTP clients name themselves (`crumb request`, `--server`).
pub const USER_AGENT: &str = concat!("crumb/", env!("CARGO_PKG_VERSION"));
use std::process::ExitCode;

/// `crumb --version`: what was built, from which commit, for which target, with which
/// features (ledger backends, MCP), as `build.rs` recorded them.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("CRUMB_COMMIT"),
    "\ntarget: ",
    env!("CRUMB_TARGET"),
    "\nfeatures: ",
    env!("CRUMB_FEATURES")
);

/// Macaroon bearer tokens that carry their own limits.
///
/// Mint tokens from a root key, attenuate them with caveats anyone can add and nobody can
/// remove, inspect them, and verify them against a request.
#[derive(Parser, Debug)]
#[command(name = "crumb", version, long_version = LONG_VERSION, propagate_version = true, max_term_width = 100)]
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
    GiveBack(delegation::GiveBackArgs),
    TopUp(delegation::TopUpArgs),
    Status(delegation::StatusArgs),
    Lineage(lineage::LineageArgs),
    Ledger(ledger_cmd::LedgerCmdArgs),
    Doctor(doctor::DoctorArgs),
    Serve(serve::ServeArgs),
    Request(request::RequestArgs),
    #[cfg(feature = "mcp")]
    Mcp(mcp::McpArgs),
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
            Command::GiveBack(a) => a.json,
            Command::TopUp(a) => a.json,
            Command::Status(a) => a.json,
            Command::Lineage(a) => a.json,
            Command::Ledger(a) => a.json(),
            Command::Doctor(a) => a.json,
            #[cfg(feature = "mcp")]
            Command::Mcp(_) => false,
            Command::Serve(_)
            | Command::Request(_)
            | Command::Completions(_)
            | Command::Caveats(_)
            | Command::Generate(_) => false,
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
        cmd = cmd.mut_subcommand(name, with_examples);
    }
    cmd
}

/// Parses the process's arguments (exiting with clap's message and code 2 on a usage error).
///
/// Building clap's definition of every subcommand costs more than the rest of a whole
/// `crumb verify` (measured with callgrind: a third of the process's instructions), so when
/// the first argument names a subcommand only that one is built. Anything else (`--help`,
/// `help`, a typo) gets the whole command, with its suggestions.
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cmd = match args.get(1).and_then(|a| a.to_str()).and_then(single_subcommand) {
        Some(sub) => root().subcommand(sub),
        None => command(),
    };
    let matches = cmd.clone().try_get_matches_from(&args).unwrap_or_else(|e| usage_error(e, &args));
    let matches = with_default_server(cmd, &args, matches);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| usage_error(e, &args))
}

/// Exits on clap's error: its message (or help, or version) as clap prints it, and for a usage
/// error of a command run with `--json` also the JSON error document a script reads on stdout
/// (`bad-request`, exit 2), as for every other error.
fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> ! {
    use clap::error::ErrorKind;
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if !informational && args.iter().any(|a| a == "--json") {
        let message = e.kind().as_str().map_or_else(|| "the command line does not parse".to_owned(), str::to_owned);
        let detail = e.to_string();
        let first = detail.lines().next().unwrap_or(&message).trim_start_matches("error: ").to_owned();
        let err = exit::refused("bad-request", exit::BAD_INPUT, first);
        let _ = outln!("{}", exit::error_json(&err, exit::BAD_INPUT));
    }
    e.exit()
}

/// The commands the defaults file's `server` applies to.
const DEFAULT_SERVER_COMMANDS: &[&str] = &["verify", "spend", "split", "give-back", "top-up", "status"];

/// `matches` again with the `server` of the user's defaults file ([`config`]), for a command
/// with `--server` that was given neither it (nor its environment variable) nor anything it
/// conflicts with, such as `--ledger` or `--offline`: those choose the local ledger.
fn with_default_server(cmd: clap::Command, args: &[std::ffi::OsString], matches: clap::ArgMatches) -> clap::ArgMatches {
    use clap::parser::ValueSource;
    let Some((name, sub)) = matches.subcommand() else { return matches };
    // Only the commands that would otherwise use the default ledger with a token the user
    // holds: never `inspect` (a local look at a token, which must not leave the machine), nor
    // the owner's local acts (`revoke --nonce`, `lineage --nonce`).
    if !DEFAULT_SERVER_COMMANDS.contains(&name) {
        return matches;
    }
    let Some(subcmd) = cmd.find_subcommand(name) else { return matches };
    let Some(server) = subcmd.get_arguments().find(|a| a.get_id() == "server") else { return matches };
    let given = |id: &str| {
        matches!(sub.try_get_raw(id), Ok(Some(_)))
            && matches!(sub.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable))
    };
    let local = std::env::var_os("CRUMB_LEDGER").is_some_and(|l| !l.is_empty());
    if given("server")
        || local
        || subcmd.get_arguments().any(|a| a.get_id() == "ledger" && given("ledger"))
        || subcmd.get_arguments().any(|a| {
            given(a.get_id().as_str())
                && (subcmd.get_arg_conflicts_with(a).iter().any(|c| c.get_id() == server.get_id())
                    || subcmd.get_arg_conflicts_with(server).iter().any(|c| c.get_id() == a.get_id()))
        })
    {
        return matches;
    }
    match config::server() {
        Ok(Some(url)) => {
            let name = name.to_owned();
            cmd.mut_subcommand(name, |s| s.mut_arg("server", |a| a.default_value(url))).get_matches_from(args)
        }
        Ok(None) => matches,
        Err(e) => {
            eprintln!("crumb: {}", exit::message(&e));
            std::process::exit(i32::from(exit::BAD_INPUT))
        }
    }
}

/// The top level alone, as `#[derive(Parser)]` on [`Cli`] defines it (a test compares them).
fn root() -> clap::Command {
    clap::Command::new("crumb")
        .version(env!("CARGO_PKG_VERSION"))
        .long_version(LONG_VERSION)
        .propagate_version(true)
        .max_term_width(100)
        .subcommand_required(true)
        .arg_required_else_help(true)
}

/// One subcommand as the derived [`Command`] builds it, with its examples.
fn single_subcommand(name: &str) -> Option<clap::Command> {
    use clap::Args;
    let new = || clap::Command::new(name.to_owned());
    let sub = match name {
        "keygen" => keygen::KeygenArgs::augment_args(new()),
        "mint" => mint::MintArgs::augment_args(new()),
        "attenuate" => attenuate::AttenuateArgs::augment_args(new()),
        "inspect" => inspect::InspectArgs::augment_args(new()),
        "verify" => verify::VerifyArgs::augment_args(new()),
        "discharge" => discharge::DischargeArgs::augment_args(new()),
        "bind" => bind::BindArgs::augment_args(new()),
        "spend" => spend::SpendArgs::augment_args(new()),
        "split" => split::SplitArgs::augment_args(new()),
        "revoke" => revoke::RevokeArgs::augment_args(new()),
        "give-back" => delegation::GiveBackArgs::augment_args(new()),
        "top-up" => delegation::TopUpArgs::augment_args(new()),
        "status" => delegation::StatusArgs::augment_args(new()),
        "lineage" => lineage::LineageArgs::augment_args(new()),
        "ledger" => ledger_cmd::LedgerCmdArgs::augment_args(new()),
        "doctor" => doctor::DoctorArgs::augment_args(new()),
        "serve" => serve::ServeArgs::augment_args(new()),
        "request" => request::RequestArgs::augment_args(new()),
        #[cfg(feature = "mcp")]
        "mcp" => mcp::McpArgs::augment_args(new()),
        "completions" => generate::CompletionsArgs::augment_args(new()),
        "caveats" => CaveatsArgs::augment_args(new()),
        _ => return None,
    };
    Some(with_examples(sub))
}

fn with_examples(sub: clap::Command) -> clap::Command {
    // A split makes no request: the request facts that `ConsumeArgs` shares with spend are
    // not checked (the children carry those caveats), so its help does not offer them.
    let sub = if sub.get_name() == "split" {
        split::REQUEST_FACTS.iter().fold(sub, |sub, id| sub.mut_arg(*id, |a| a.hide(true)))
    } else {
        sub
    };
    match help::examples(sub.get_name()) {
        [] => sub,
        examples => sub.after_long_help(help::examples_text(examples)),
    }
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
        Command::GiveBack(a) => delegation::give_back(a),
        Command::TopUp(a) => delegation::top_up(a),
        Command::Status(a) => delegation::status(a),
        Command::Lineage(a) => lineage::run(a),
        Command::Ledger(a) => ledger_cmd::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Request(a) => request::run(a),
        #[cfg(feature = "mcp")]
        Command::Mcp(a) => mcp::run(a),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    /// What clap answers for `args`: its help, version or usage error text and exit code, or
    /// the parsed arguments.
    fn answer(cmd: clap::Command, args: &[&str]) -> (String, i32) {
        match cmd.try_get_matches_from(args) {
            Ok(m) => (format!("{:?}", Cli::from_arg_matches(&m).map(|cli| format!("{cli:?}"))), -1),
            Err(e) => (e.render().to_string(), e.exit_code()),
        }
    }

    #[test]
    fn building_one_subcommand_answers_as_building_them_all() {
        let full = command();
        let names: Vec<String> =
            full.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().into()).collect();
        assert!(names.len() >= 14);
        for name in &names {
            let single = single_subcommand(name).unwrap_or_else(|| panic!("{name} is not built alone"));
            for tail in [&["--help"][..], &["-h"], &["--version"], &["--no-such-flag"], &[]] {
                let args: Vec<&str> = ["crumb", name.as_str()].into_iter().chain(tail.iter().copied()).collect();
                let whole = answer(command(), &args);
                let alone = answer(root().subcommand(single.clone()), &args);
                assert_eq!(alone, whole, "{args:?}");
            }
        }
    }

    #[test]
    fn the_root_matches_the_derived_one() {
        let derived = <Cli as clap::CommandFactory>::command();
        let mine = root();
        assert_eq!(mine.get_name(), derived.get_name());
        assert_eq!(mine.get_version(), derived.get_version());
        assert_eq!(mine.is_propagate_version_set(), derived.is_propagate_version_set());
        assert_eq!(mine.is_subcommand_required_set(), derived.is_subcommand_required_set());
        assert_eq!(mine.is_arg_required_else_help_set(), derived.is_arg_required_else_help_set());
        assert_eq!(mine.get_arguments().count(), derived.get_arguments().count());
    }
}
