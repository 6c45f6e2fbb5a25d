//! `crumb give-back` and `crumb status`: a delegate returning what it did not use, and what an
//! agent asks before it acts.

use super::args::{decode_token, KeyArgs, SatisfyArgs, TokenArg};
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use super::output::safe;
use super::remote::Remote;
use anyhow::Result;
use clap::Args;
use crumb::ledger::Wait as _;
use serde_json::{json, Value};

/// Give a split-off token's whole balance back to the lineage it was split from.
///
/// The token is retired (like a spend of its whole balance) and its balance, with any credit
/// returned to its own lineage, becomes credit owed to the delegator's lineage: its current
/// token takes it in at its next spend or split. A sub-agent that finishes early so strands
/// no credit. Retrying with the same --request-id answers the same; a token that has expired
/// may still give back. The token file is left as it is (it now holds a spent token).
#[derive(Args, Debug)]
pub struct GiveBackArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub satisfy: SatisfyArgs,
    /// Idempotency key: the same id retried by the same token returns the same answer.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    /// Use a remote `crumb serve` (or a proxy's URL/.well-known/crumb) instead of a local key
    /// and ledger.
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    pub server: Option<String>,
    /// Print the answer as JSON: {"nonce", "returned", "request_id", "replayed", "at"}.
    #[arg(long)]
    pub json: bool,
}

pub fn give_back(args: GiveBackArgs) -> Result<u8> {
    let text = args.token.read_text()?;
    let token = decode_token(&text)?;
    // The same id on every attempt, so a retry after a lost answer is the same give-back.
    let request_id = match &args.request_id {
        Some(id) => id.clone(),
        None => crumb::spend::fresh_request_id()?,
    };
    let doc = match &args.server {
        Some(url) => {
            let mut body = json!({ "token": text.trim(), "request_id": request_id });
            let discharges = args.satisfy.discharge_texts()?;
            if !discharges.is_empty() {
                body["discharges"] = json!(discharges);
            }
            Remote::new(url)?.post("/v1/give-back", &body)?
        }
        None => {
            let keys = args.key.load()?;
            super::args::check_key_matches(&keys, &token)?;
            let discharges = args.satisfy.discharges()?;
            let issuer = args.satisfy.issuer(keys, Some(args.ledger.open()?));
            let ctx = issuer.context();
            serde_json::to_value(
                issuer.give_back(crumb::Presented::new(token, discharges), &ctx, Some(&request_id)).wait()?,
            )?
        }
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        let again = if doc["replayed"] == true { " (a retry: the same answer as before)" } else { "" };
        eprintln!("crumb: gave back {} to the lineage it was split from{again}", doc["returned"]);
    }
    Ok(OK)
}

/// Show a token's standing: live, spent, revoked or held; its balance and expiry; whether it
/// is a revocable delegation; credit returned to its lineage; and what it delegated.
///
/// A live token speaks for its holder's whole lineage (every child it split off since it was
/// handed its first token); a spent or revoked one for itself. With --server, the server
/// answers (`GET /v1/status`).
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Ask a remote `crumb serve` (or a proxy's URL/.well-known/crumb) instead of a local key
    /// and ledger.
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    pub server: Option<String>,
    /// Print the status as JSON (the fields of `GET /v1/status`).
    #[arg(long)]
    pub json: bool,
}

pub fn status(args: StatusArgs) -> Result<u8> {
    let text = args.token.read_text()?;
    let token = decode_token(&text)?;
    let doc: Value = match &args.server {
        Some(url) => Remote::new(url)?.get("/v1/status", text.trim())?,
        None => {
            let keys = args.key.load()?;
            super::args::check_key_matches(&keys, &token)?;
            let issuer = crumb::Issuer::new(keys, args.ledger.open_read_only()?);
            serde_json::to_value(issuer.status(&crumb::Presented::token(token), &issuer.context()).wait()?)?
        }
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(OK);
    }
    let shown = |v: &Value| match v {
        Value::Null => "none".to_owned(),
        Value::String(s) => safe(s).into_owned(),
        other => other.to_string(),
    };
    let mut state = shown(&doc["state"]);
    if doc["state"] == "spent" {
        state.push_str(if doc["successor_known"] == true {
            " (by this token: retry its request id for the successor)"
        } else {
            " (its successor is not known here)"
        });
    }
    outln!("state     {state}")?;
    outln!("nonce     {}", shown(&doc["nonce"]))?;
    outln!("balance   {}", shown(&doc["balance"]))?;
    outln!("expires   {}", shown(&doc["expires"]))?;
    outln!(
        "revocable {}",
        if doc["revocable"] == true { "yes (a delegation: its splitter may revoke it)" } else { "no" }
    )?;
    if doc["topped_up"].as_u64().unwrap_or(0) > 0 {
        outln!("topped up {} in all (by operators)", doc["topped_up"])?;
    }
    if doc["returned_credit"].as_u64().unwrap_or(0) > 0 {
        outln!("owed      {} (returned or topped up; the next spend or split takes it in)", doc["returned_credit"])?;
    }
    for w in doc["windows"].as_array().into_iter().flatten() {
        outln!(
            "window    {}: {} spent in the window, {} left",
            shown(&w["caveat"]),
            shown(&w["spent"]),
            shown(&w["left"])
        )?;
    }
    for d in doc["delegated"].as_array().into_iter().flatten() {
        outln!(
            "delegated {}  {} {}  {}  balance {}  spent {}",
            shown(&d["nonce"]),
            d["amount"],
            if d["revocable"] == true { "revocable" } else { "transfer" },
            shown(&d["state"]),
            d["balance"],
            d["spent"]
        )?;
    }
    Ok(OK)
}

/// Add credit to a live token's lineage, on this ledger (the operator's): the lineage's next
/// spend, split or proxied request returns a successor carrying it, and the agent changes
/// nothing.
///
/// Name any token of the lineage by its nonce (the one you minted or handed on: its spends'
/// successors belong to the same lineage). The credit waits in the ledger until the lineage
/// next spends, exactly once. The same --request-id again adds nothing (and answers the
/// first top-up); a revoked token is refused. Over HTTP: `POST /v1/top-up` with an operator
/// credential.
#[derive(Args, Debug)]
pub struct TopUpArgs {
    /// The token's nonce (32 hex digits; `crumb inspect` shows it).
    #[arg(long, value_name = "HEX")]
    pub nonce: String,
    /// The credit to add.
    #[arg(long, value_name = "N")]
    pub amount: u64,
    /// Names this top-up: retrying it adds nothing again.
    #[arg(long, value_name = "ID")]
    pub request_id: String,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print the answer as JSON: {"nonce", "head", "amount", "request_id", "replayed", "owed"}.
    #[arg(long)]
    pub json: bool,
}

pub fn top_up(args: TopUpArgs) -> Result<u8> {
    let nonce = crumb::token::identifier::Nonce::parse_hex(&args.nonce)
        .ok_or_else(|| crumb::Error::Limit(crumb::error::LimitError::new("bad-request", "--nonce is 32 hex digits")))?;
    let issuer = crumb::Issuer::new(crumb::Keyring::default(), args.ledger.open()?);
    let receipt = issuer.top_up_local(nonce, args.amount, &args.request_id).wait()?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&receipt)?)?;
    } else if receipt.replayed {
        eprintln!("crumb: topped up {} before with this request id; nothing added again", receipt.amount);
    } else {
        eprintln!(
            "crumb: topped up {}; the lineage's next spend takes in {}",
            receipt.amount,
            receipt.owed.unwrap_or(receipt.amount)
        );
    }
    Ok(OK)
}
