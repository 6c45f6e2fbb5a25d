//! `crumb serve`: start the HTTP service. The only command that starts an async runtime.

use super::args::{parse_timeout, KeyArgs};
use super::exit::{unavailable, OK};
use super::ledger_args::LedgerArgs;
use super::paths;
use crate::serve::{self, AppState, Audit, Metrics};
use anyhow::{Context as _, Result};
use clap::Args;
use crumb::ledger::OpenOptions;
use crumb::{Keyring, RootKey};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Serve /v1/verify, /v1/spend, /v1/split, /v1/revoke, /healthz and /metrics over HTTP.
///
/// With no key given it uses the default key file, creating a development key there on first
/// run, and the default ledger: `crumb serve` alone is a working issuer on this machine.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    listen: SocketAddr,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Append one JSON line per decision to this file.
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// Believe X-Forwarded-For from peers in these networks (your proxies), e.g.
    /// `10.0.0.0/8,127.0.0.1`: the client is the rightmost hop that is not one of them.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', num_args = 1)]
    trust_proxy: Vec<crumb::caveat::IpNet>,
    /// Per-request timeout (reading the body, the work, the answer): `10`, `10s`, `1m`.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Duration,
    /// Open connections at most; at the cap the oldest idle one is closed to make room.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// How long a client may take to send a request's headers, or sit idle between requests.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    header_timeout: Duration,
    /// How long shutdown waits for in-flight requests before closing their connections.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    shutdown_grace: Duration,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// How many requests may use the ledger at once: read connections, and PostgreSQL's pool
/// (two replicas stay under PostgreSQL's default of 100 connections).
const LEDGER_CONCURRENCY: usize = 32;

/// The keys to serve with; on a bare machine, a development key made on the spot.
fn keys(args: &KeyArgs) -> Result<Keyring> {
    let nothing_named = args.key_file.is_none()
        && args.key_fd.is_none()
        && args.keyring.is_none()
        && std::env::var_os("CRUMB_KEY_FILE").is_none()
        && std::env::var_os("CRUMB_KEYRING").is_none();
    let default = paths::default_key_file()?;
    if nothing_named && !default.exists() {
        let key = RootKey::generate()?;
        crumb::key::write_key_file(&default, &key, false)?;
        eprintln!("crumb: created a development key {} at {}", key.key_id(), default.display());
    }
    args.load()
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let keys = keys(&args.key)?;
    let ledger_location = crumb::ledger::redact_url(&args.ledger.location()?);
    // Opened before the async runtime starts: PostgreSQL's blocking client runs a runtime of
    // its own, which must never start on an async worker.
    let ledger = args.ledger.open_with(OpenOptions::concurrent(LEDGER_CONCURRENCY))?;
    let audit = match &args.audit_log {
        Some(p) => Some(Audit::open(p).with_context(|| format!("cannot open the audit log {}", p.display()))?),
        None => None,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CRUMB_LOG").unwrap_or_else(|_| "crumb=info,warn".into()),
        )
        .init();
    let state = Arc::new(AppState {
        issuer: crumb::Issuer::new(keys, ledger),
        metrics: Metrics::default(),
        audit,
        trusted_proxies: args.trust_proxy.clone(),
        timeout: args.timeout,
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.enable_all().build().context("cannot start the async runtime")?;
    // The issuer (its ledger connections) is dropped after the runtime, never on it:
    // PostgreSQL's blocking client may not be dropped on an async worker either.
    let keep = state.clone();
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| unavailable(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener.local_addr()?;
        let shutdown = serve::shutdown_signal()?;
        outln!("listening on http://{addr}")?;
        std::io::stdout().flush()?;
        tracing::info!(%addr, ledger = %ledger_location, "crumb serving");
        let limits = serve::Limits {
            max_connections: args.max_connections.max(1),
            header_timeout: args.header_timeout,
            shutdown_grace: args.shutdown_grace,
        };
        serve::run(listener, state, limits, shutdown).await.map_err(|e| unavailable(format!("server failed: {e}")))
    });
    drop(runtime);
    drop(keep);
    served?;
    Ok(OK)
}
