//! `crumb revoke`: stop a token (and, with --cascade, everything issued from it).

use super::args::{read_limited_file, NonceTarget, TokenArg};
use super::exit::{bad_input, OK};
use super::ledger_args::LedgerArgs;
use super::remote::Remote;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Revoke a token by itself or by its nonce; verify and spend refuse it from then on.
///
/// Locally, whoever can write the ledger is the operator: any nonce, with --cascade its
/// descendants too. With --server: a token's holder revokes that token while it is live
/// (never a spent one, never a cascade); an operator credential (--credential-file, minted
/// with `crumb mint --operator`) revokes any --nonce, with --cascade if asked.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    #[command(flatten)]
    target: NonceTarget,
    /// Also revoke every successor and child descended from it through spend and split.
    #[arg(long)]
    cascade: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Ask a remote `crumb serve` instead of writing a ledger file.
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    server: Option<String>,
    /// With --server: an operator credential (`crumb mint --operator`) in FILE.
    #[arg(long, value_name = "FILE", requires = "server")]
    credential_file: Option<PathBuf>,
    /// Print {"nonce", "revoked": [nonces]} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RevokeArgs) -> Result<u8> {
    let (nonce, revoked) = match &args.server {
        Some(url) => {
            let doc = remote(&args, url)?;
            let list = doc["revoked"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_owned));
            (doc["nonce"].as_str().unwrap_or_default().to_owned(), list.collect::<Vec<_>>())
        }
        None => {
            let nonce = args.target.nonce()?;
            // The local ledger's owner is its operator: no key is needed to revoke in it.
            let issuer = crumb::Issuer::new(crumb::Keyring::default(), args.ledger.open()?);
            let revocation = issuer.revoke_as_owner(nonce, args.cascade)?;
            (nonce.to_string(), revocation.revoked.iter().map(ToString::to_string).collect())
        }
    };
    if args.json {
        outln!("{}", json!({ "nonce": nonce, "revoked": revoked }))?;
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

/// `POST /v1/revoke`: the token itself (possession), or a nonce with an operator credential.
fn remote(args: &RevokeArgs, url: &str) -> Result<Value> {
    let t = &args.target;
    let remote = Remote::new(url)?;
    match &args.credential_file {
        Some(file) => {
            let credential = read_limited_file(file)?;
            let nonce = args.target.nonce()?;
            let body = json!({ "token": credential.trim(), "nonce": nonce.to_string(), "cascade": args.cascade });
            remote.post("/v1/revoke", &body)
        }
        None if t.nonce.is_some() => Err(bad_input("--nonce with --server needs an operator credential: --credential-file")),
        None if args.cascade => Err(bad_input(
            "--cascade is an operator's act: pass --credential-file with an operator credential (`crumb mint --operator`)",
        )),
        None => {
            let token = TokenArg { token: t.token.clone(), token_file: t.token_file.clone() }.read_text()?;
            remote.post("/v1/revoke", &json!({ "token": token.trim() }))
        }
    }
}
