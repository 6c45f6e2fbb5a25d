//! `crumb revoke`: stop a token (and, with --cascade, everything issued from it).

use super::args::{decode_token, read_limited_file, KeyArgs, TokenArg};
use super::exit::{bad_input, refused, BAD_INPUT, OK};
use super::ledger_args::LedgerArgs;
use super::remote::Remote;
use anyhow::Result;
use clap::Args;
use crumb::ledger::Wait as _;
use crumb::token::identifier::Nonce;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Revoke a token by itself or by its nonce; verify and spend refuse it from then on.
///
/// Locally, whoever can write the ledger is the operator: any nonce, with --cascade its
/// descendants too. With --server: a token's holder revokes that token while it is live
/// (never a spent one, never a cascade); an operator credential (--credential-file, minted
/// with `crumb mint --operator`) revokes any --nonce, with --cascade if asked.
///
/// A delegation: the delegator's current token (TOKEN or --token-file) with --nonce CHILD
/// revokes a child split off with `split --revocable` from that lineage, and everything below
/// it; its unspent balance goes back to the delegator's lineage (taken in by its next spend
/// or split). Locally this needs the key and the ledger; with --server, the token alone.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The token (or give --nonce); `-` reads it from standard input.
    #[arg(value_name = "TOKEN", conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the token from FILE (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The nonce to revoke (32 hex digits): any, as the ledger's owner or with an operator
    /// credential; a revocable child of its lineage, with a holder's token.
    #[arg(long, value_name = "HEX")]
    nonce: Option<String>,
    #[command(flatten)]
    key: KeyArgs,
    /// Also revoke every successor and child descended from it through spend and split.
    #[arg(long)]
    cascade: bool,
    /// Revoke a --nonce the ledger has never seen (a token minted and never used). Without it
    /// such a nonce is refused (`unknown-token`, exit 2): it may be mistyped, or another
    /// ledger's. A token given itself is revoked either way.
    #[arg(long, requires = "nonce")]
    unseen: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Ask a remote `crumb serve` instead of writing a ledger file.
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    server: Option<String>,
    /// With --server: an operator credential (`crumb mint --operator`) in FILE.
    #[arg(long, value_name = "FILE", requires = "server")]
    credential_file: Option<PathBuf>,
    /// Print {"nonce", "revoked": [nonces]} as JSON (locally also "seen": whether the ledger
    /// had a record of the nonce before).
    #[arg(long)]
    pub json: bool,
}

impl RevokeArgs {
    fn holder(&self) -> Option<TokenArg> {
        (self.token.is_some() || self.token_file.is_some())
            .then(|| TokenArg { token: self.token.clone(), token_file: self.token_file.clone() })
    }

    /// The nonce named by `--nonce`, or by the token.
    fn target(&self) -> Result<Nonce> {
        if let Some(hex) = &self.nonce {
            return Nonce::parse_hex(hex).ok_or_else(|| bad_input(format!("`{hex}` is not a 32-hex-digit nonce")));
        }
        let token = self.holder().ok_or_else(|| bad_input("give a token, --token-file or --nonce"))?.decode()?;
        token
            .token_id()
            .map(|id| id.nonce)
            .ok_or_else(|| bad_input("this token was not minted by crumb: it has no nonce"))
    }
}

pub fn run(args: RevokeArgs) -> Result<u8> {
    let delegation = args.holder().is_some() && args.nonce.is_some() && args.credential_file.is_none();
    if delegation && args.cascade {
        return Err(bad_input(
            "a delegation's revocation always takes the child's whole subtree; --cascade is an operator's act",
        ));
    }
    let doc = match &args.server {
        Some(url) => remote(&args, url)?,
        None if delegation => {
            let holder = args.holder().expect("checked").read_text()?;
            let token = decode_token(&holder)?;
            let keys = args.key.load()?;
            super::args::check_key_matches(&keys, &token)?;
            let issuer = crumb::Issuer::new(keys, args.ledger.open()?);
            let reach = crumb::revoke::Reach::default();
            let revocation = issuer
                .revoke(&crumb::Presented::token(token), &issuer.context(), Some(args.target()?), reach)
                .wait()?;
            json!({
                "nonce": revocation.nonce.to_string(),
                "revoked": revocation.revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "returned": revocation.returned,
            })
        }
        None => {
            let nonce = args.target()?;
            // The local ledger's owner is its operator: no key is needed to revoke in it.
            let issuer = crumb::Issuer::new(crumb::Keyring::default(), args.ledger.open()?);
            let seen = issuer.knows(&nonce).wait()?;
            // A token given itself is real, so revoking it before its first use is meant; a
            // nonce alone the ledger never saw may be a typo that would stop nothing.
            let unseen_ok = args.unseen || args.holder().is_some();
            if !seen && !unseen_ok {
                return Err(refused(
                    "unknown-token",
                    BAD_INPUT,
                    format!(
                        "the ledger {} has never seen the nonce {nonce}: no spend, split or revocation of it is recorded, \
                         and nothing was revoked. Check the nonce and the ledger (--ledger, CRUMB_LEDGER); a token minted \
                         and never used is unknown until its first spend: revoke it by giving the token itself, or pass \
                         --unseen",
                        crumb::ledger::redact_url(&args.ledger.location()?)
                    ),
                ));
            }
            let revocation = issuer.revoke_as_owner(nonce, args.cascade, unseen_ok).wait()?;
            json!({
                "nonce": nonce.to_string(),
                "revoked": revocation.revoked.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "seen": seen,
            })
        }
    };
    let revoked: Vec<String> =
        doc["revoked"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(str::to_owned)).collect();
    if args.json {
        let mut out = json!({ "nonce": doc["nonce"], "revoked": revoked });
        if let Some(seen) = doc["seen"].as_bool() {
            out["seen"] = json!(seen);
        }
        if let Some(returned) = doc["returned"].as_u64() {
            out["returned"] = json!(returned);
        }
        outln!("{out}")?;
    } else {
        for n in &revoked {
            outln!("{n}")?;
        }
        let returned = match doc["returned"].as_u64() {
            Some(n) => format!(", {n} returned to this lineage"),
            None => String::new(),
        };
        let unseen = if doc["seen"] == false {
            " (the ledger had not seen it: revoked before its first use, so it can never be spent)"
        } else {
            ""
        };
        eprintln!(
            "crumb: {} token(s) revoked{}{returned}{unseen}",
            revoked.len(),
            if revoked.is_empty() { " (already revoked)" } else { "" }
        );
    }
    Ok(OK)
}

/// `POST /v1/revoke`: the token itself (possession), a delegation (the delegator's token and
/// the child's nonce), or a nonce with an operator credential.
fn remote(args: &RevokeArgs, url: &str) -> Result<Value> {
    let remote = Remote::new(url)?;
    match (&args.credential_file, args.holder()) {
        (Some(file), _) => {
            let credential = read_limited_file(file)?;
            let nonce = args.target()?;
            let body = json!({
                "token": credential.trim(),
                "nonce": nonce.to_string(),
                "cascade": args.cascade,
                "unseen": args.unseen,
            });
            remote.post("/v1/revoke", &body)
        }
        (None, None) => Err(bad_input(
            "--nonce with --server needs the delegator's token (--token-file) or an operator credential (--credential-file)",
        )),
        (None, Some(_)) if args.cascade => Err(bad_input(
            "--cascade is an operator's act: pass --credential-file with an operator credential (`crumb mint --operator`)",
        )),
        (None, Some(holder)) => {
            let token = holder.read_text()?;
            let mut body = json!({ "token": token.trim() });
            if args.nonce.is_some() {
                body["nonce"] = json!(args.target()?.to_string());
                // An operator credential may come as --token-file too.
                if args.unseen {
                    body["unseen"] = json!(true);
                }
            }
            remote.post("/v1/revoke", &body)
        }
    }
}
