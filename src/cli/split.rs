//! `crumb split`: divide a balance between agents.

use super::args::{encode, FormatArg, KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use super::spend::receipt_json;
use anyhow::Result;
use clap::Args;

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
    /// Print a JSON receipt with each child's token, nonce and balance.
    #[arg(long)]
    pub json: bool,
    /// Output format of the children.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
}

pub fn run(args: SplitArgs) -> Result<u8> {
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
