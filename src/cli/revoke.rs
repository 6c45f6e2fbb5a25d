//! `crumb revoke`: stop a token (and, with --cascade, everything issued from it).

use super::args::TokenArg;
use super::exit::{bad_input, OK};
use super::ledger_args::LedgerArgs;
use anyhow::Result;
use clap::Args;
use crumb::ledger::Ledger;
use crumb::token::identifier::Nonce;
use serde_json::json;

/// Revoke a token by itself or by its nonce; verify and spend refuse it from then on.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The token to revoke (or give --nonce); `-` reads it from standard input.
    #[arg(value_name = "TOKEN", conflicts_with_all = ["nonce", "token_file"])]
    token: Option<String>,
    /// Read the token from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "nonce")]
    token_file: Option<std::path::PathBuf>,
    /// The nonce (32 hex digits) of the token to revoke.
    #[arg(long, value_name = "HEX")]
    nonce: Option<String>,
    /// Also revoke every successor and child descended from it through spend and split.
    #[arg(long)]
    cascade: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print {"revoked": [nonces]} as JSON.
    #[arg(long)]
    json: bool,
}

/// The nonce named by `--nonce`, or by a token given as argument or file.
pub fn target_nonce(
    token: Option<String>,
    token_file: Option<std::path::PathBuf>,
    nonce: Option<&str>,
) -> Result<Nonce> {
    if let Some(hex) = nonce {
        return Nonce::parse_hex(hex).ok_or_else(|| bad_input(format!("`{hex}` is not a 32-hex-digit nonce")));
    }
    if token.is_none() && token_file.is_none() {
        return Err(bad_input("give a token, --token-file or --nonce"));
    }
    let token = TokenArg { token, token_file }.decode()?;
    token.token_id().map(|id| id.nonce).ok_or_else(|| bad_input("this token was not minted by crumb: it has no nonce"))
}

pub fn run(args: RevokeArgs) -> Result<u8> {
    let nonce = target_nonce(args.token, args.token_file, args.nonce.as_deref())?;
    let ledger = args.ledger.open()?;
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let at = now.format(&time::format_description::well_known::Rfc3339)?;
    let revoked = ledger.revoke(&nonce, args.cascade, &at)?;
    if args.json {
        let list: Vec<String> = revoked.iter().map(ToString::to_string).collect();
        println!("{}", json!({ "nonce": nonce.to_string(), "revoked": list }));
    } else {
        for n in &revoked {
            println!("{n}");
        }
        eprintln!(
            "crumb: {} token(s) revoked{}",
            revoked.len(),
            if revoked.is_empty() { " (already revoked)" } else { "" }
        );
    }
    Ok(OK)
}
