//! `crumb lineage`: where the credit went.

use super::args::NonceTarget;
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use anyhow::Result;
use clap::Args;
use crumb::ledger::{Ledger, Node};
use serde_json::json;

/// Show the delegation tree a token belongs to: which token was spent into which successor,
/// which was split into which children, with amounts, times, and what is still live.
#[derive(Args, Debug)]
pub struct LineageArgs {
    /// Any token of the tree.
    #[command(flatten)]
    target: NonceTarget,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print the tree as a JSON list of nodes.
    #[arg(long)]
    json: bool,
}

fn state(node: &Node) -> String {
    match (&node.status.revoked_at, &node.status.spent) {
        (Some(at), _) => format!("revoked {at}"),
        (None, Some(s)) if s.kind == crumb::ledger::SpendKind::Spend => {
            format!("spent {} at {} (request {})", s.cost, s.at, s.request_id)
        }
        (None, Some(s)) => format!(
            "split into {} at {} (request {})",
            s.amounts.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + "),
            s.at,
            s.request_id
        ),
        (None, None) => "live".into(),
    }
}

fn print_tree(nodes: &[Node], at: usize, depth: usize, target: &crumb::token::identifier::Nonce) {
    let node = &nodes[at];
    let balance = node.balance.map(|b| format!(" balance {b}")).unwrap_or_default();
    let mark = if node.nonce == *target { "  <- this token" } else { "" };
    println!("{}{}{balance}  {}{mark}", "    ".repeat(depth), node.nonce, state(node));
    for (i, child) in nodes.iter().enumerate() {
        if child.parent == Some(node.nonce) {
            print_tree(nodes, i, depth + 1, target);
        }
    }
}

pub fn run(args: LineageArgs) -> Result<u8> {
    let nonce = args.target.nonce()?;
    let ledger = args.ledger.open()?;
    let nodes = ledger.lineage(&nonce)?;
    if args.json {
        let list: Vec<_> = nodes
            .iter()
            .map(|n| {
                json!({
                    "nonce": n.nonce.to_string(),
                    "parent": n.parent.map(|p| p.to_string()),
                    "balance": n.balance,
                    "issued_at": n.issued_at,
                    "live": n.status.spent.is_none() && n.status.revoked_at.is_none(),
                    "spent": n.status.spent.as_ref().map(|s| json!({
                        "at": s.at, "kind": s.kind.as_str(), "request_id": s.request_id, "cost": s.cost, "amounts": s.amounts,
                    })),
                    "revoked_at": n.status.revoked_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "nonce": nonce.to_string(), "tree": list }))?);
    } else if !nodes.is_empty() {
        print_tree(&nodes, 0, 0, &nonce);
    }
    Ok(OK)
}
