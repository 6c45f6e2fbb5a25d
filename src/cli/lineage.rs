//! `crumb lineage`: where the credit went.

use super::args::NonceTarget;
use super::exit::OK;
use super::ledger_args::LedgerArgs;
use super::output::safe;
use super::remote::Remote;
use anyhow::Result;
use clap::{Args, ValueEnum};
use crumb::ledger::Wait as _;
use crumb::limits::MAX_LINEAGE_NODES;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// Show the delegation tree a token belongs to: which token was spent into which successor,
/// which was split into which children, with amounts, request ids, times, and what is live.
///
/// A chain of spends is drawn as a run at one indentation; only a split indents its
/// children; delegations (`split --revocable`) are marked. Trees larger than 10,000 tokens
/// are cut short, and say so. With --server, the server answers: a live token's holder sees
/// the tree it is responsible for, from the token it was handed down (what it split off to
/// others included); a spent token's holder sees that token and what it handed on; an
/// operator credential (--credential-file) sees the whole tree of any --nonce.
#[derive(Args, Debug)]
pub struct LineageArgs {
    /// Any token of the tree.
    #[command(flatten)]
    target: NonceTarget,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Ask a remote `crumb serve` instead of reading a ledger file.
    #[arg(long, value_name = "URL", conflicts_with = "ledger")]
    server: Option<String>,
    /// With --server and --nonce: an operator credential (`crumb mint --operator`) in FILE.
    #[arg(long, value_name = "FILE", requires = "server")]
    credential_file: Option<PathBuf>,
    /// How to draw the tree: text, json, or dot (Graphviz: `| dot -Tsvg > tree.svg`).
    #[arg(long, value_enum, default_value_t)]
    format: TreeFormat,
    /// The same as --format json.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TreeFormat {
    #[default]
    Text,
    Json,
    Dot,
}

/// Deepest indentation drawn; deeper splits are labelled with their depth instead.
const MAX_INDENT: usize = 12;

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// What became of a token: live, revoked, spent (cost, request) or split (amounts, request).
fn state(node: &Value) -> String {
    if let Some(at) = node["revoked_at"].as_str() {
        return format!("revoked {}", safe(at));
    }
    let s = &node["consumed"];
    if s.is_null() {
        return "live".into();
    }
    // A holder is not shown request ids (they entitle a retry to the successor).
    let request = match s["request_id"].as_str() {
        Some(id) if !id.is_empty() => format!(" (request {})", safe(id)),
        _ => String::new(),
    };
    let at = safe(text(&s["at"])).into_owned();
    if s["kind"] == "spend" {
        format!("spent {} at {at}{request}", s["cost"])
    } else if s["kind"] == "give-back" {
        format!("gave back {} at {at}{request}", s["cost"])
    } else {
        let amounts: Vec<String> = s["amounts"].as_array().into_iter().flatten().map(|a| a.to_string()).collect();
        format!("split into {} at {at}{request}", amounts.join(" + "))
    }
}

/// A delegation's mark and the credit owed to a lineage, after its state.
fn marks(node: &Value) -> String {
    let mut marks = String::new();
    if node["revocable"] == true {
        marks.push_str("  [revocable]");
    }
    if let Some(credit) = node["returned_credit"].as_u64().filter(|&c| c > 0) {
        marks.push_str(&format!("  [returned credit {credit} owed]"));
    }
    marks
}

/// Children of each node, by position in `nodes` (parents come before children).
fn children(nodes: &[Value]) -> HashMap<&str, Vec<usize>> {
    let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate().skip(1) {
        if let Some(p) = n["parent"].as_str() {
            map.entry(p).or_default().push(i);
        }
    }
    map
}

/// Draws the tree without recursion: an explicit stack of (node, indentation).
fn print_text(out: &mut impl Write, nodes: &[Value], target: &str) -> std::io::Result<()> {
    let kids = children(nodes);
    let mut stack = vec![(0usize, 0usize)];
    while let Some((at, depth)) = stack.pop() {
        let node = &nodes[at];
        let nonce = text(&node["nonce"]);
        let balance = node["balance"].as_u64().map(|b| format!(" balance {b}")).unwrap_or_default();
        let mark = if nonce == target { "  <- this token" } else { "" };
        let indent = "    ".repeat(depth.min(MAX_INDENT));
        let deeper = if depth > MAX_INDENT { format!("[depth {depth}] ") } else { String::new() };
        writeln!(out, "{indent}{deeper}{nonce}{balance}  {}{}{mark}", state(node), marks(node))?;
        let mine = kids.get(nonce).map(Vec::as_slice).unwrap_or_default();
        // A spend's single successor continues the run; a split's children are indented.
        let next = if mine.len() > 1 { depth + 1 } else { depth };
        stack.extend(mine.iter().rev().map(|&k| (k, next)));
    }
    Ok(())
}

/// The tree as a Graphviz digraph: a box per token, an edge per spend or split.
fn print_dot(out: &mut impl Write, nodes: &[Value], target: &str) -> std::io::Result<()> {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    writeln!(out, "digraph lineage {{\n  rankdir=LR;\n  node [shape=box, fontname=monospace];")?;
    for node in nodes {
        let nonce = text(&node["nonce"]);
        let balance = node["balance"].as_u64().map(|b| format!("\\nbalance {b}")).unwrap_or_default();
        let style = if nonce == target { ", style=bold" } else { "" };
        let label = format!("{}…{balance}\\n{}", &nonce[..nonce.len().min(8)], quote(&state(node)));
        writeln!(out, "  \"{nonce}\" [label=\"{label}\"{style}];")?;
    }
    for node in nodes {
        if let Some(parent) = node["parent"].as_str() {
            writeln!(out, "  \"{parent}\" -> \"{}\";", text(&node["nonce"]))?;
        }
    }
    writeln!(out, "}}")
}

pub fn run(args: LineageArgs) -> Result<u8> {
    let doc = match &args.server {
        Some(url) => remote(&args, url)?,
        None => {
            let nonce = args.target.nonce()?;
            let issuer = crumb::Issuer::new(crumb::Keyring::default(), args.ledger.open_read_only()?);
            match issuer.lineage_as_owner(nonce).wait() {
                Err(crumb::Error::Invalid(crumb::error::Invalid::UnknownToken(_))) => {
                    return Err(super::exit::refused(
                        "unknown-token",
                        super::exit::BAD_INPUT,
                        format!(
                            "the ledger {} has never seen the token {nonce}: no spend, split or revocation of it is \
                             recorded, so it has no tree (a token minted and never used is unknown until its first \
                             spend). Check the nonce and the ledger (--ledger, CRUMB_LEDGER)",
                            crumb::ledger::redact_url(&args.ledger.location()?)
                        ),
                    ))
                }
                tree => serde_json::to_value(crumb::shapes::LineageView::new(&nonce, &tree?))?,
            }
        }
    };
    let nodes = doc["tree"].as_array().cloned().unwrap_or_default();
    let target = text(&doc["nonce"]).to_owned();
    let format = if args.json { TreeFormat::Json } else { args.format };
    let mut out = std::io::stdout().lock();
    match format {
        TreeFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?,
        TreeFormat::Dot => print_dot(&mut out, &nodes, &target)?,
        TreeFormat::Text if nodes.is_empty() => {}
        TreeFormat::Text => print_text(&mut out, &nodes, &target)?,
    }
    out.flush()?;
    if doc["root_reached"] == false {
        eprintln!(
            "crumb: the tree's root is more than {} ancestors up: shown from there",
            crumb::limits::MAX_LINEAGE_ANCESTORS
        );
    }
    if doc["truncated"] == true {
        eprintln!(
            "crumb: truncated: the tree has more than {MAX_LINEAGE_NODES} tokens; the first {MAX_LINEAGE_NODES}, breadth first, are shown"
        );
    }
    Ok(OK)
}

/// `GET /v1/lineage[/{nonce}]` with the token (possession) or the operator credential.
fn remote(args: &LineageArgs, url: &str) -> Result<Value> {
    let t = &args.target;
    let (credential, path) = match (&args.credential_file, &t.nonce) {
        (Some(file), Some(nonce)) => (super::args::read_limited_file(file)?, format!("/v1/lineage/{}", nonce.trim())),
        (Some(_), None) => return Err(super::exit::bad_input("--credential-file goes with --nonce")),
        (None, Some(_)) => {
            return Err(super::exit::bad_input("--nonce with --server needs an operator credential: --credential-file"))
        }
        (None, None) => {
            let token = super::args::TokenArg { token: t.token.clone(), token_file: t.token_file.clone() };
            (token.read_text()?, "/v1/lineage".to_owned())
        }
    };
    Remote::new(url)?.get(&path, credential.trim())
}
