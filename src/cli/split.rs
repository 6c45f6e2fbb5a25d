//! `crumb split`: divide a balance between agents.

use super::args::encode;
use super::exit::{unavailable, OK};
use super::spend::ConsumeArgs;
use super::token_file::{check_replaceable, save_successor};
use anyhow::Result;
use clap::Args;
use crumb::ledger::SpendKind;
use crumb::ledger::Wait as _;
use crumb::spend::SplitRequest;
use serde_json::{json, Map};

/// Split a token's balance: one child per --amount plus a remainder child, each with every
/// caveat of the parent; prints one token per line (the remainder last).
///
/// The parent is spent and the children issued in one transaction: all or nothing. A child
/// can be attenuated further before it is handed to another agent. With --token-file, the
/// file is replaced (atomically) by the remainder child: the holder keeps its change.
#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    pub common: ConsumeArgs,
    /// A child's balance; repeatable.
    #[arg(long = "amount", value_name = "N", required = true, value_parser = super::args::parse_units, allow_negative_numbers = true)]
    pub amounts: Vec<u64>,
    /// Delegate rather than transfer: the children (not the remainder) can be revoked by this
    /// token's lineage (`crumb revoke --token-file F --nonce CHILD`), their unspent balance
    /// coming back. Without it a child is final, like a payment.
    #[arg(long)]
    pub revocable: bool,
}

/// The request facts a split does not check (hidden from its help; said when given).
pub const REQUEST_FACTS: [&str; 5] = ["action", "resource", "ip", "aud", "context"];

pub fn run(mut args: SplitArgs) -> Result<u8> {
    args.common.token.stdin_file_as_argument();
    let c = &args.common;
    let r = &c.request;
    if r.action.is_some() || r.resource.is_some() || r.ip.is_some() || r.aud.is_some() || !r.context.is_empty() {
        eprintln!(
            "crumb: note: a split makes no request, so --action, --resource, --ip, --aud and --context are not \
             checked: the children carry those caveats to the requests they pay for"
        );
    }
    if let Some(path) = &c.token.token_file {
        check_replaceable(path)?;
    }
    let receipt = split_receipt(&args)?;
    let children = receipt["children"].as_array().cloned().unwrap_or_default();
    if let (Some(path), Some(remainder)) = (&c.token.token_file, children.last().and_then(|k| k["token"].as_str())) {
        save_successor(path, remainder)?;
    }
    if c.json {
        outln!("{}", serde_json::to_string_pretty(&receipt)?)?;
    } else {
        for child in &children {
            outln!("{}", child["token"].as_str().unwrap_or_default())?;
        }
        let balances: Vec<String> = children.iter().map(|k| k["balance"].to_string()).collect();
        let how = if args.revocable { " (revocable delegations, remainder last)" } else { "" };
        if !c.quiet {
            eprintln!("crumb: split into {}{how}", balances.join(" + "));
        }
    }
    Ok(OK)
}

/// Splits at the server or in the local ledger; returns the receipt, children in `--format`
/// (the remainder last). Nothing is saved: the caller keeps the children.
pub fn split_receipt(args: &SplitArgs) -> Result<serde_json::Value> {
    let c = &args.common;
    let receipt = match &c.server {
        Some(url) => {
            let mut fields = Map::new();
            fields.insert("amounts".into(), json!(args.amounts));
            if args.revocable {
                fields.insert("revocable".into(), json!(true));
            }
            let mut answer = c.remote(url, "/v1/split", SpendKind::Split, &args.amounts, fields)?;
            let children =
                answer["children"].as_array_mut().ok_or_else(|| unavailable("the server's answer has no children"))?;
            for child in children.iter_mut() {
                child["token"] = json!(c.reencode(&child["token"])?);
            }
            answer
        }
        None => {
            let local = c.local()?;
            let ctx = c.request.context(0)?;
            let request_id = match &c.request_id {
                Some(id) => id.clone(),
                None => super::spend::own_request_id(&local.presented.token, SpendKind::Split, &args.amounts)?,
            };
            let split =
                SplitRequest { amounts: &args.amounts, request_id: Some(&request_id), revocable: args.revocable };
            let receipt = local.issuer.split(local.presented, &ctx, split).wait()?;
            let tokens = receipt.children.iter().map(|k| encode(&k.token, c.format)).collect::<Result<Vec<_>>>()?;
            serde_json::to_value(crumb::shapes::SplitReceipt::new(&receipt, tokens))?
        }
    };
    Ok(receipt)
}
