//! `crumb spend`: spend from a token's balance and get its successor.

use super::args::{decode_token, encode, FormatArg, KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::{unavailable, OK};
use super::ledger_args::LedgerArgs;
use super::remote::{request_body, Remote};
use super::token_file::replace_atomically;
use anyhow::Result;
use clap::Args;
use crumb::ledger::SpendKind;
use crumb::spend::default_request_id;
use crumb::spend::Receipt;
use serde_json::json;

/// Spend COST from a token's balance; prints the successor token.
///
/// The token is verified in full, its nonce is marked spent in the ledger and a successor with
/// the remaining balance (and every other caveat) is issued, in one transaction. The old token
/// stops working. Retrying with the same request id returns the same successor. Without
/// --request-id, one is derived from the token and the cost, so re-running the same command
/// is a safe retry.
#[derive(Args, Debug)]
pub struct SpendArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// What this request costs.
    #[arg(long, value_name = "N")]
    pub cost: u64,
    /// Idempotency key: the same id retried returns the same successor.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub satisfy: SatisfyArgs,
    /// Spend against a remote `crumb serve` instead of a local key and ledger.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Print a JSON receipt instead of the bare token.
    #[arg(long)]
    pub json: bool,
    /// Output format of the successor.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
}

pub fn run(args: SpendArgs) -> Result<u8> {
    if let Some(url) = &args.server {
        return run_remote(&args, url);
    }
    let token = args.token.decode()?;
    let discharges = args.satisfy.discharges()?;
    let keys = args.key.load()?;
    let ledger = args.ledger.open()?;
    let ctx = args.request.context(args.cost);
    let verifier = args.satisfy.verifier(&keys);
    let receipt = crumb::spend::spend(&verifier, &ledger, token, discharges, &ctx, args.request_id.as_deref())?;
    let successor = encode(&receipt.children[0].token, args.format)?;
    if let Some(path) = &args.token.token_file {
        replace_atomically(path, &successor)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&receipt_json(&receipt, &[successor])?)?);
    } else {
        println!("{successor}");
        let again = if receipt.replayed { " (a retry: the same successor as before)" } else { "" };
        eprintln!("crumb: spent {}, {} left{again}", receipt.cost, receipt.children[0].balance);
    }
    Ok(OK)
}

fn run_remote(args: &SpendArgs, url: &str) -> Result<u8> {
    let text = args.token.read_text()?;
    let token = decode_token(&text)?;
    // The request id is fixed before the first attempt, so every retry is the same request.
    let request_id =
        args.request_id.clone().unwrap_or_else(|| default_request_id(&token, SpendKind::Spend, &[args.cost]));
    let mut body = request_body(&text, &args.request, &args.satisfy)?;
    body.insert("cost".into(), json!(args.cost));
    body.insert("request_id".into(), json!(request_id));
    let answer = Remote::new(url)?.post("/v1/spend", &serde_json::Value::Object(body))?;
    let successor = answer["token"].as_str().ok_or_else(|| unavailable("the server's answer has no token"))?;
    let successor = encode(&decode_token(successor)?, args.format)?;
    if let Some(path) = &args.token.token_file {
        replace_atomically(path, &successor)?;
    }
    if args.json {
        let mut answer = answer;
        answer["token"] = json!(successor);
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!("{successor}");
        eprintln!("crumb: spent {}, {} left", answer["cost"], answer["remaining"]);
    }
    Ok(OK)
}

pub fn receipt_json(receipt: &Receipt, tokens: &[String]) -> Result<serde_json::Value> {
    let children: Vec<_> = receipt
        .children
        .iter()
        .zip(tokens)
        .map(|(c, t)| json!({ "token": t, "nonce": c.nonce.to_string(), "balance": c.balance }))
        .collect();
    let mut doc = json!({
        "parent": receipt.parent.to_string(),
        "request_id": receipt.request_id,
        "kind": receipt.kind.as_str(),
        "at": receipt.at,
        "replayed": receipt.replayed,
    });
    match receipt.kind {
        crumb::ledger::SpendKind::Spend => {
            doc["token"] = children[0]["token"].clone();
            doc["nonce"] = children[0]["nonce"].clone();
            doc["cost"] = json!(receipt.cost);
            doc["remaining"] = json!(receipt.children[0].balance);
        }
        crumb::ledger::SpendKind::Split => doc["children"] = json!(children),
    }
    Ok(doc)
}
