//! `crumb mcp`: the agent's wallet, an MCP server over stdio.
//!
//! An agent holds a budget and delegates parts of it without the model ever seeing a token:
//! tools name wallet entries, amounts, request ids, caveats, recipient aliases and URLs, and
//! results carry balances, costs, reason codes and bodies, never a token, a signature or a
//! key. The tokens stay in the wallet's files ([`wallet`]); the host decides where they may
//! come from and go to, and the limits on what they may pay ([`approval`]).
//!
//! Each tool is a thin adapter: spends and paid requests run the same token-file operations
//! as `crumb spend --token-file` and `crumb request` (lock, pending record, journal), so a
//! call retried after a lost reply, or after this process was killed, replays instead of
//! paying twice; the rest goes to `crumb serve` (`--server`) or, without one, to the local
//! key and ledger.

pub mod approval;
pub mod tools;
pub mod wallet;

use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// What the host configured (`crumb mcp`'s flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// `$CRUMB_DATA_DIR/wallet`.
    pub wallet_dir: PathBuf,
    /// The `crumb serve` JSON API (with any path prefix, e.g. `…/.well-known/crumb`).
    pub server: Option<String>,
    /// Where handed-in tokens arrive (`token_receive`).
    pub import_dir: Option<PathBuf>,
    /// Tokens to import at start (`NAME=FILE`), unless the entry exists.
    pub tokens: Vec<(String, PathBuf)>,
    /// Where tokens may be handed (`ALIAS=DIR`).
    pub recipients: Vec<(String, PathBuf)>,
    /// Origins `token_fetch` may call (`scheme://host[:port]`).
    pub allow_origins: Vec<String>,
    pub limits: approval::Limits,
    /// How long a paid request may take in all.
    pub fetch_timeout: Duration,
    /// The largest response body returned to the model (longer ones are cut).
    pub max_body: usize,
}

/// Serves the wallet on stdin/stdout until stdin ends; logs go to stderr.
pub fn run(config: Config) -> Result<()> {
    // Nothing but protocol messages may reach stdout from here on.
    crate::cli::output::stdout_is_protocol();
    let wallet = wallet::Wallet::open(config.wallet_dir.clone())?;
    for (name, file) in &config.tokens {
        if wallet.import(name, file)? {
            eprintln!("crumb mcp: imported {} as wallet entry `{name}`", file.display());
        } else {
            eprintln!(
                "crumb mcp: wallet entry `{name}` exists: {} was not imported again (the entry has moved on from \
                 it; to replace the entry, remove it from the wallet first)",
                file.display()
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| crate::cli::exit::unavailable(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        use rmcp::ServiceExt;
        let server = tools::WalletServer::new(config, wallet);
        let running = match server.serve(rmcp::transport::stdio()).await {
            Ok(running) => running,
            // stdin ended before a session began: the host went away, which is not a fault.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(crate::cli::exit::unavailable(format!("the MCP session did not start: {e}"))),
        };
        let _ = running.waiting().await;
        Ok(())
    })
}
