//! `crumb split`: divide a balance between agents.

use super::args::{decode_token, encode, FormatArg, KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::{unavailable, OK};
use super::ledger_args::LedgerArgs;
use super::remote::{request_body, Remote};
use super::spend::receipt_json;
use anyhow::Result;
use clap::Args;
use crumb::ledger::SpendKind;
use crumb::spend::default_request_id;
use serde_json::json;

/// Split a token's balance: one child per --amount plus a remainder child, each with every
/// caveat of the parent; prints one token per line (the remainder last).
///
/// The parent is spent and the children issued in one transaction: all or nothing. A child
/// can be attenuated further before it is handed to another agent.
#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// A child's balance; repeatable.
    #[arg(long = "amount", value_name = "N", required = true)]
    pub amounts: Vec<u64>,
    /// Idempotency key: the same id retried returns the same children.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub satisfy: SatisfyArgs,
    /// Split against a remote `crumb serve` instead of a local key and ledger.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Print a JSON receipt with each child's token, nonce and balance.
    #[arg(long)]
    pub json: bool,
    /// Output format of the children.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
}

pub fn run(args: SplitArgs) -> Result<u8> {
    if let Some(url) = &args.server {
        return run_remote(&args, url);
    }
    let token = args.token.decode()?;
    let discharges = args.satisfy.discharges()?;
    let keys = args.key.load()?;
    let ledger = args.ledger.open()?;
    let ctx = args.request.context(0);
    let verifier = args.satisfy.verifier(&keys);
    let receipt =
        crumb::spend::split(&verifier, &ledger, token, discharges, &ctx, &args.amounts, args.request_id.as_deref())?;
    let tokens = receipt.children.iter().map(|c| encode(&c.token, args.format)).collect::<Result<Vec<_>>>()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&receipt_json(&receipt, &tokens)?)?);
    } else {
        for t in &tokens {
            println!("{t}");
        }
        let balances: Vec<String> = receipt.children.iter().map(|c| c.balance.to_string()).collect();
        eprintln!("crumb: split into {}", balances.join(" + "));
    }
    Ok(OK)
}

fn run_remote(args: &SplitArgs, url: &str) -> Result<u8> {
    let text = args.token.read_text()?;
    let token = decode_token(&text)?;
    let request_id =
        args.request_id.clone().unwrap_or_else(|| default_request_id(&token, SpendKind::Split, &args.amounts));
    let mut body = request_body(&text, &args.request, &args.satisfy)?;
    body.insert("amounts".into(), json!(args.amounts));
    body.insert("request_id".into(), json!(request_id));
    let mut answer = Remote::new(url)?.post("/v1/split", &serde_json::Value::Object(body))?;
    let children =
        answer["children"].as_array_mut().ok_or_else(|| unavailable("the server's answer has no children"))?;
    for child in children.iter_mut() {
        let t = child["token"].as_str().ok_or_else(|| unavailable("a child without a token"))?;
        child["token"] = json!(encode(&decode_token(t)?, args.format)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        for child in children.iter() {
            println!("{}", child["token"].as_str().unwrap_or_default());
        }
    }
    Ok(OK)
}
