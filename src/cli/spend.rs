//! `crumb spend`: spend from a token's balance and get its successor. Also the argument group
//! spend and split share.

use super::args::{decode_token, encode, FormatArg, KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::{unavailable, OK};
use super::ledger_args::LedgerArgs;
use super::remote::{request_body, Remote};
use super::token_file::{check_replaceable, save_successor};
use anyhow::Result;
use clap::Args;
use crumb::ledger::SpendKind;
use crumb::spend::default_request_id;
use crumb::{Issuer, Macaroon};
use serde_json::{json, Map, Value};

/// What spend and split share: the token, where to spend it, and how to print the result.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Idempotency key: the same id retried returns the same result.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub satisfy: SatisfyArgs,
    /// Use a remote `crumb serve` instead of a local key and ledger.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Print a JSON receipt instead of bare tokens.
    #[arg(long)]
    pub json: bool,
    /// Output format of the issued tokens.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
}

/// Everything a local spend or split needs, loaded.
pub struct Local {
    pub token: Macaroon,
    pub discharges: Vec<Macaroon>,
    pub issuer: Issuer,
}

impl ConsumeArgs {
    pub fn local(&self) -> Result<Local> {
        let token = self.token.decode()?;
        let keys = self.key.load()?;
        super::args::check_key_matches(&keys, &token)?;
        let discharges = self.satisfy.discharges()?;
        Ok(Local { token, discharges, issuer: self.satisfy.issuer(keys, Some(self.ledger.open()?)) })
    }

    /// POSTs to the server with the request id fixed before the first attempt, so every retry
    /// is the same request. `extra` adds the route's own fields.
    pub fn remote(
        &self,
        url: &str,
        path: &str,
        kind: SpendKind,
        amounts: &[u64],
        extra: Map<String, Value>,
    ) -> Result<Value> {
        let text = self.token.read_text()?;
        let token = decode_token(&text)?;
        let request_id = self.request_id.clone().unwrap_or_else(|| default_request_id(&token, kind, amounts));
        let mut body = request_body(&text, &self.request, &self.satisfy)?;
        body.extend(extra);
        body.insert("request_id".into(), json!(request_id));
        Remote::new(url)?.post(path, &Value::Object(body))
    }

    /// Re-encodes a token the server returned in the requested format.
    pub fn reencode(&self, token: &Value) -> Result<String> {
        let text = token.as_str().ok_or_else(|| unavailable("the server's answer lacks a token"))?;
        encode(&decode_token(text)?, self.format)
    }
}

/// Spend COST from a token's balance; prints the successor token.
///
/// The token is verified in full, its nonce is marked spent in the ledger and a successor with
/// the remaining balance (and every other caveat) is issued, in one transaction. The old token
/// stops working. Retrying with the same request id returns the same successor. Without
/// --request-id, one is derived from the token and the cost, so re-running the same command
/// is a safe retry. With --token-file the file is replaced by the successor, atomically.
#[derive(Args, Debug)]
pub struct SpendArgs {
    #[command(flatten)]
    pub common: ConsumeArgs,
    /// What this request costs.
    #[arg(long, value_name = "N")]
    pub cost: u64,
}

pub fn run(args: SpendArgs) -> Result<u8> {
    let c = &args.common;
    if let Some(path) = &c.token.token_file {
        check_replaceable(path)?;
    }
    let (successor, receipt) = match &c.server {
        Some(url) => {
            let mut answer = c.remote(url, "/v1/spend", SpendKind::Spend, &[args.cost], {
                let mut m = Map::new();
                m.insert("cost".into(), json!(args.cost));
                m
            })?;
            let successor = c.reencode(&answer["token"])?;
            answer["token"] = json!(successor);
            (successor, answer)
        }
        None => {
            let local = c.local()?;
            let ctx = c.request.context(args.cost);
            let receipt = local.issuer.spend(local.token, local.discharges, &ctx, c.request_id.as_deref())?;
            let successor = encode(&receipt.children[0].token, c.format)?;
            let doc = receipt.to_json(std::slice::from_ref(&successor));
            (successor, doc)
        }
    };
    // Only now, with the answer in hand, is the token file replaced.
    if let Some(path) = &c.token.token_file {
        save_successor(path, &successor)?;
    }
    if c.json {
        outln!("{}", serde_json::to_string_pretty(&receipt)?)?;
    } else {
        outln!("{successor}")?;
        let again = if receipt["replayed"] == true { " (a retry: the same successor as before)" } else { "" };
        eprintln!("crumb: spent {}, {} left{again}", receipt["cost"], receipt["remaining"]);
    }
    Ok(OK)
}
