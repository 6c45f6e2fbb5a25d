//! `crumb revoke`: stop a token (and, with --cascade, everything issued from it).

use super::args::NonceTarget;
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use anyhow::Result;
use clap::Args;
use crumb::ledger::Ledger;
use serde_json::json;

/// Revoke a token by itself or by its nonce; verify and spend refuse it from then on.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    #[command(flatten)]
    target: NonceTarget,
    /// Also revoke every successor and child descended from it through spend and split.
    #[arg(long)]
    cascade: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print {"revoked": [nonces]} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RevokeArgs) -> Result<u8> {
    let nonce = args.target.nonce()?;
    let ledger = args.ledger.open()?;
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let at = now.format(&time::format_description::well_known::Rfc3339)?;
    let revoked = ledger.revoke(&nonce, args.cascade, &at)?;
    if args.json {
        let list: Vec<String> = revoked.iter().map(ToString::to_string).collect();
        outln!("{}", json!({ "nonce": nonce.to_string(), "revoked": list }))?;
    } else {
        for n in &revoked {
            outln!("{n}")?;
        }
        eprintln!(
            "crumb: {} token(s) revoked{}",
            revoked.len(),
            if revoked.is_empty() { " (already revoked)" } else { "" }
        );
    }
    Ok(OK)
}
