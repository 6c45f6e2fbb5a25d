//! `crumb mcp`: the flags of the agent's wallet; the server itself is `crate::mcp`.

use super::exit::{bad_input, OK};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Serve the agent's wallet to an MCP host over stdio: the agent pays, splits and delegates
/// with wallet entries, and the model never sees a token.
///
/// Tokens live in $CRUMB_DATA_DIR/wallet/ (0600 files). They enter only from --token and
/// --import-dir, and leave only to a --recipient directory; no tool reveals one. stdout carries
/// only the protocol; logs go to stderr; the process exits 0 when stdin ends.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// The `crumb serve` that verifies, spends and splits (its JSON API, with any path prefix:
    /// a metering proxy's public listener serves it under /.well-known/crumb). Without it, the
    /// local key and ledger are used.
    #[arg(long, value_name = "URL", env = "CRUMB_SERVER")]
    server: Option<String>,
    /// Import a token file as entry NAME at start (unless the entry exists); repeatable.
    #[arg(long = "token", value_name = "NAME=FILE", value_parser = name_and_path)]
    tokens: Vec<(String, PathBuf)>,
    /// The directory handed-in tokens arrive in (token_receive takes them from there).
    #[arg(long, value_name = "DIR")]
    import_dir: Option<PathBuf>,
    /// A directory token_handoff may write to, named ALIAS to the model; repeatable.
    #[arg(long = "recipient", value_name = "ALIAS=DIR", value_parser = name_and_path)]
    recipients: Vec<(String, PathBuf)>,
    /// An origin token_fetch may call (`https://api.example.com`, `http://127.0.0.1:8080`);
    /// repeatable. None: token_fetch calls nothing.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// The most one spend, fetch or handoff may cost, in credits.
    #[arg(long, value_name = "N", value_parser = super::args::parse_units)]
    max_cost: Option<u64>,
    /// The most this process may pay or hand away in all, in credits.
    #[arg(long, value_name = "N", value_parser = super::args::parse_units)]
    budget: Option<u64>,
    /// A spend, fetch, split or handoff above N credits needs a person's yes, asked through
    /// the MCP host (elicitation); refused when the host cannot ask or the person declines.
    #[arg(long, value_name = "N", value_parser = super::args::parse_units)]
    approve_above: Option<u64>,
    /// How long one token_fetch may take in all.
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = super::args::parse_timeout)]
    fetch_timeout: std::time::Duration,
    /// The largest response body token_fetch returns to the model, in bytes (longer ones are cut).
    #[arg(long, default_value_t = 256 * 1024, value_name = "BYTES")]
    max_body: usize,
}

fn name_and_path(text: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = text.split_once('=').ok_or("expected NAME=PATH")?;
    crate::mcp::wallet::check_name("name", name).map_err(|e| e.to_string())?;
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    Ok((name.to_owned(), PathBuf::from(path)))
}

/// `scheme://host[:port]`, lower-cased; anything else is refused.
fn origin(text: &str) -> Result<String> {
    let bad = || bad_input(format!("--allow-origin `{text}` is not an origin such as https://api.example.com"));
    let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if !matches!(scheme.as_str(), "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

pub fn run(args: McpArgs) -> Result<u8> {
    let data = super::paths::data_dir()?;
    for (alias, dir) in &args.recipients {
        if !dir.is_dir() {
            return Err(bad_input(format!("--recipient {alias}: {} is not a directory", dir.display())));
        }
    }
    if let Some(dir) = &args.import_dir {
        if !dir.is_dir() {
            return Err(bad_input(format!("--import-dir: {} is not a directory", dir.display())));
        }
    }
    if let Some(server) = &args.server {
        super::remote::Remote::new(server)?;
        // Its URL reaches messages and journals: no password in it.
        let authority =
            server.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
        if authority.contains('@') {
            return Err(bad_input("--server: put no user or password in the URL (crumb's API needs none)"));
        }
    }
    let allow_origins = args.allow_origins.iter().map(|o| origin(o)).collect::<Result<Vec<_>>>()?;
    let config = crate::mcp::Config {
        wallet_dir: data.join("wallet"),
        server: args.server,
        import_dir: args.import_dir,
        tokens: args.tokens,
        recipients: args.recipients,
        allow_origins,
        limits: crate::mcp::approval::Limits {
            max_cost: args.max_cost,
            budget: args.budget,
            approve_above: args.approve_above,
        },
        fetch_timeout: args.fetch_timeout,
        max_body: args.max_body,
    };
    crate::mcp::run(config)?;
    Ok(OK)
}
