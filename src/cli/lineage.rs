//! `crumb lineage`: where the credit went.

use super::args::NonceTarget;
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use super::output::safe;
use anyhow::Result;
use clap::Args;
use crumb::ledger::{Ledger, Lineage, Node, SpendKind};
use crumb::limits::MAX_LINEAGE_NODES;
use crumb::token::identifier::Nonce;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;

/// Show the delegation tree a token belongs to: which token was spent into which successor,
/// which was split into which children, with amounts, times, and what is still live.
///
/// A chain of spends is drawn as a run at one indentation; only a split indents its children.
/// Trees larger than 10,000 tokens are cut short, and say so.
#[derive(Args, Debug)]
pub struct LineageArgs {
    /// Any token of the tree.
    #[command(flatten)]
    target: NonceTarget,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print the tree as a JSON list of nodes.
    #[arg(long)]
    pub json: bool,
}

/// Deepest indentation drawn; deeper splits are labelled with their depth instead.
const MAX_INDENT: usize = 12;

fn state(node: &Node) -> String {
    match (&node.status.revoked_at, &node.status.spent) {
        (Some(at), _) => format!("revoked {}", safe(at)),
        (None, Some(s)) if s.kind == SpendKind::Spend => {
            format!("spent {} at {} (request {})", s.cost, safe(&s.at), safe(&s.request_id))
        }
        (None, Some(s)) => format!(
            "split into {} at {} (request {})",
            s.amounts.iter().map(ToString::to_string).collect::<Vec<_>>().join(" + "),
            safe(&s.at),
            safe(&s.request_id)
        ),
        (None, None) => "live".into(),
    }
}

/// Draws the tree without recursion: an explicit stack of (node, indentation).
fn print_tree(out: &mut impl Write, nodes: &[Node], target: &Nonce) -> std::io::Result<()> {
    let mut children: HashMap<Nonce, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate().skip(1) {
        if let Some(p) = n.parent {
            children.entry(p).or_default().push(i);
        }
    }
    let mut stack = vec![(0usize, 0usize)];
    while let Some((at, depth)) = stack.pop() {
        let node = &nodes[at];
        let balance = node.balance.map(|b| format!(" balance {b}")).unwrap_or_default();
        let mark = if node.nonce == *target { "  <- this token" } else { "" };
        let indent = "    ".repeat(depth.min(MAX_INDENT));
        let deeper = if depth > MAX_INDENT { format!("[depth {depth}] ") } else { String::new() };
        writeln!(out, "{indent}{deeper}{}{balance}  {}{mark}", node.nonce, state(node))?;
        let kids = children.get(&node.nonce).map(Vec::as_slice).unwrap_or_default();
        // A spend's single successor continues the run; a split's children are indented.
        let next = if kids.len() > 1 { depth + 1 } else { depth };
        stack.extend(kids.iter().rev().map(|&k| (k, next)));
    }
    Ok(())
}

fn node_json(n: &Node) -> serde_json::Value {
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
}

pub fn run(args: LineageArgs) -> Result<u8> {
    let nonce = args.target.nonce()?;
    let ledger = args.ledger.open_read_only()?;
    let Lineage { nodes, truncated, root_not_reached } = ledger.lineage(&nonce, MAX_LINEAGE_NODES)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = nodes.iter().map(node_json).collect();
        let doc = json!({
            "nonce": nonce.to_string(),
            "tree": list,
            "truncated": truncated,
            "root_reached": !root_not_reached,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else if !nodes.is_empty() {
        print_tree(&mut out, &nodes, &nonce)?;
    }
    out.flush()?;
    if root_not_reached {
        eprintln!(
            "crumb: the tree's root is more than {} ancestors up: shown from there",
            crumb::limits::MAX_LINEAGE_ANCESTORS
        );
    }
    if truncated {
        eprintln!("crumb: truncated: the tree has more than {MAX_LINEAGE_NODES} tokens; the first {MAX_LINEAGE_NODES}, breadth first, are shown");
    }
    Ok(OK)
}
