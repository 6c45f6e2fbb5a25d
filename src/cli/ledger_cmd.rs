//! `crumb ledger init`: make the ledger (or bring its schema up to date) before the first spend.

use super::exit::OK;
use super::ledger_args::LedgerArgs;
use anyhow::Result;
use clap::{Args, Subcommand};

/// The ledger's upkeep.
#[derive(Args, Debug)]
pub struct LedgerCmdArgs {
    #[command(subcommand)]
    pub action: LedgerAction,
}

#[derive(Subcommand, Debug)]
pub enum LedgerAction {
    Init(InitArgs),
}

/// Create the ledger, or upgrade its schema, and say where it is.
///
/// A ledger otherwise comes into being with the first spend, split or revocation written to
/// it; until then `crumb verify` refuses to judge without one. Safe to run again: an existing
/// ledger is left as it is (its schema brought up to this crumb's).
#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print {"ledger", "schema_version", "created"} as JSON.
    #[arg(long)]
    pub json: bool,
}

impl LedgerCmdArgs {
    pub fn json(&self) -> bool {
        match &self.action {
            LedgerAction::Init(a) => a.json,
        }
    }
}

pub fn run(args: LedgerCmdArgs) -> Result<u8> {
    match args.action {
        LedgerAction::Init(a) => init(a),
    }
}

fn init(args: InitArgs) -> Result<u8> {
    let location = args.ledger.location()?;
    let shown = crumb::ledger::redact_url(&location);
    // A file is there or not; a database has crumb's schema if it opens read-only.
    let existed = if crumb::ledger::is_postgres_url(&location) {
        args.ledger.open_read_only().is_ok()
    } else {
        std::path::Path::new(&location).exists()
    };
    if !crumb::ledger::is_postgres_url(&location) {
        if let Some(dir) = std::path::Path::new(&location).parent().filter(|d| !d.as_os_str().is_empty()) {
            crumb::key::create_private_dir(dir).map_err(|e| {
                super::exit::unavailable(format!(
                    "cannot create the ledger's directory {}: {}",
                    dir.display(),
                    crumb::error::io_reason(&e)
                ))
            })?;
        }
    }
    args.ledger.open()?;
    let version = crumb::ledger::schema_version(&location);
    let created = !existed;
    if args.json {
        outln!("{}", serde_json::json!({ "ledger": shown, "schema_version": version, "created": created }))?;
    } else {
        outln!("{shown}")?;
        eprintln!(
            "crumb: ledger {} ({}schema version {})",
            if created { "created" } else { "ready" },
            if created { "" } else { "existing; " },
            version.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(OK)
}
