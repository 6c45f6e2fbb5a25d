//! The JSON shapes crumb answers with, typed once: the CLI's `--json`, the HTTP API's bodies
//! and the MCP tools print these same types, so one field name has one meaning everywhere.
//! With the `openapi` feature each also describes itself (`utoipa::ToSchema`): the HTTP API's
//! OpenAPI document is derived from these, never declared again.
//!
//! The field names are a contract (README, "JSON contract"; `tests/data/json_contract.tsv`).

use crate::ledger::{Lineage, Node, SpendKind};
use crate::spend::Receipt;
use crate::token::identifier::Nonce;
use crate::token::Macaroon;
use crate::verify::{caveat_text, Report};
use serde::{Deserialize, Serialize};

/// A token as `mint`, `attenuate` and `discharge` print it with `--json`: the token and what a
/// script wants next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenSummary {
    pub token: String,
    /// Null when the identifier is not crumb's (a discharge, another library's token).
    pub nonce: Option<String>,
    pub key_id: Option<String>,
    /// `holder` or another role the identifier names; null as `nonce`.
    pub role: Option<&'static str>,
    /// The effective balance: the smallest `balance <=` caveat.
    pub balance: Option<u64>,
    /// The earliest `expires` caveat (RFC 3339).
    pub expires: Option<String>,
    /// How many caveats the token carries (`inspect --json` lists them as `caveats`).
    pub caveat_count: usize,
}

impl TokenSummary {
    /// The summary of `token`, whose text (as encoded for the caller) is `text`.
    pub fn new(token: &Macaroon, text: &str, now: time::OffsetDateTime) -> Self {
        let d = crate::inspect::describe(token, now, false);
        TokenSummary {
            token: text.to_owned(),
            nonce: d.nonce,
            key_id: d.key_id,
            role: d.role,
            balance: d.balance,
            expires: d.expires,
            caveat_count: d.caveats.len(),
        }
    }
}

/// Every error and denial a `--json` command, an MCP tool or the HTTP API answers with: the
/// same `code` and `message` everywhere (the code never repeated inside the message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable code (`bad-json`, `malformed-token`, `spent`, `ledger-unavailable`, …): README,
    /// "Reason codes".
    pub code: String,
    pub message: String,
    /// Present (false) on denials of a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// The CLI's exit code (`--json` and MCP tools; never over HTTP, whose status says it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<u8>,
    /// The HTTP request's id, as in the `X-Request-Id` header and the audit log: what to quote
    /// when asking an operator about this answer (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_request_id: Option<String>,
}

/// One caveat's verdict: `crumb verify --json`'s and `POST /v1/verify`'s `caveats` (with
/// `explain`), and the `caveat` that refused a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaveatVerdict {
    /// `token` or `discharge N`.
    pub holder: String,
    /// Its position among its holder's caveats, from 0.
    pub index: usize,
    /// The caveat's text (`0x` hex for bytes that are not UTF-8).
    pub caveat: String,
    /// Its kind (`expires`, `action`, `balance`, `third-party`, `unknown`, …).
    pub kind: String,
    pub satisfied: bool,
    /// What satisfied it (`rule`, `exact`, `discharge N`, `carried`); null when it failed.
    pub by: Option<String>,
    /// Why it failed; null when satisfied.
    pub reason: Option<String>,
    /// The denial code of its failure (`caveat-failed`, `expired`, …); null when satisfied.
    pub code: Option<String>,
}

impl CaveatVerdict {
    /// Every caveat's verdict in `report`, for `token` and its `discharges`.
    pub fn all(report: &Report, token: &Macaroon, discharges: &[Macaroon]) -> Vec<CaveatVerdict> {
        report
            .caveats
            .iter()
            .map(|o| CaveatVerdict {
                holder: o.holder.name(),
                index: o.index,
                caveat: caveat_text(token, discharges, o.holder, o.index),
                kind: o.kind.into(),
                satisfied: o.result.is_ok(),
                by: o.result.as_ref().ok().map(|b| b.name()),
                reason: o.result.as_ref().err().map(|f| f.reason.clone()),
                code: o.result.as_ref().err().map(|f| f.code.as_str().into()),
            })
            .collect()
    }
}

/// A spend's receipt: `crumb spend --json`, `POST /v1/spend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpendReceipt {
    /// The successor token (in the format asked for; v2 base64url over HTTP).
    pub token: String,
    /// The successor's nonce.
    pub nonce: String,
    /// The spent token's nonce.
    pub parent: String,
    /// `spend` (or `give-back`).
    pub kind: String,
    pub cost: u64,
    /// The successor's balance.
    pub remaining: u64,
    pub request_id: String,
    /// True when this answers a retry of a request already committed.
    pub replayed: bool,
    pub at: String,
    /// Credit returned to this lineage (a revoked delegation, a child's give-back) that the
    /// successor took in, beside `remaining`'s arithmetic; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_credit: Option<u64>,
}

impl SpendReceipt {
    /// The receipt of a spend, given its successor encoded for the caller.
    pub fn new(r: &Receipt, token: String) -> Self {
        SpendReceipt {
            token,
            nonce: r.children.first().map(|c| c.nonce.to_string()).unwrap_or_default(),
            parent: r.parent.to_string(),
            kind: r.kind.as_str().into(),
            cost: r.cost,
            remaining: r.children.first().map_or(0, |c| c.balance),
            request_id: r.request_id.clone(),
            replayed: r.replayed,
            at: r.at.clone(),
            returned_credit: (r.credit > 0).then_some(r.credit),
        }
    }
}

/// One child of a split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitChild {
    pub token: String,
    pub nonce: String,
    pub balance: u64,
    /// A delegation the splitting lineage may revoke (`revocable` in the request), or a
    /// transfer (final). The remainder is never revocable.
    pub revocable: bool,
}

/// A split's receipt: `crumb split --json`, `POST /v1/split`: the children, remainder last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitReceipt {
    pub children: Vec<SplitChild>,
    /// The split token's nonce.
    pub parent: String,
    /// Always `split`.
    pub kind: String,
    pub request_id: String,
    pub replayed: bool,
    pub at: String,
    /// Credit returned to this lineage that the remainder took in; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_credit: Option<u64>,
}

impl SplitReceipt {
    /// The receipt of a split, given each child encoded for the caller.
    pub fn new(r: &Receipt, tokens: Vec<String>) -> Self {
        let last = r.children.len().saturating_sub(1);
        SplitReceipt {
            children: r
                .children
                .iter()
                .zip(tokens)
                .enumerate()
                .map(|(i, (c, token))| SplitChild {
                    token,
                    nonce: c.nonce.to_string(),
                    balance: c.balance,
                    revocable: r.revocable && i != last,
                })
                .collect(),
            parent: r.parent.to_string(),
            kind: r.kind.as_str().into(),
            request_id: r.request_id.clone(),
            replayed: r.replayed,
            at: r.at.clone(),
            returned_credit: (r.credit > 0).then_some(r.credit),
        }
    }
}

/// A spend's or a split's receipt, by its kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReceiptBody {
    Spend(SpendReceipt),
    Split(SplitReceipt),
}

impl ReceiptBody {
    /// The receipt, given each child's token as encoded for the caller.
    pub fn new(r: &Receipt, mut tokens: Vec<String>) -> Self {
        match r.kind {
            SpendKind::Spend | SpendKind::GiveBack => {
                let token = if tokens.is_empty() { String::new() } else { tokens.swap_remove(0) };
                ReceiptBody::Spend(SpendReceipt::new(r, token))
            }
            SpendKind::Split => ReceiptBody::Split(SplitReceipt::new(r, tokens)),
        }
    }
}

/// How a token was consumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpentView {
    pub at: String,
    /// `spend`, `split` or `give-back`.
    pub kind: String,
    pub cost: u64,
    pub amounts: Vec<u64>,
    /// The request's id; null to a holder (it entitles a retry to the successor).
    pub request_id: Option<String>,
}

/// One token of a delegation tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeView {
    pub nonce: String,
    pub parent: Option<String>,
    pub balance: Option<u64>,
    pub issued_at: Option<String>,
    /// Neither spent nor revoked.
    pub live: bool,
    /// How it was consumed (spent, split or given back); null while it was not.
    pub consumed: Option<SpentView>,
    pub revoked_at: Option<String>,
    /// A delegation its splitter may revoke (not a transfer).
    pub revocable: bool,
    /// Its parent's change (successor or remainder): the same holder's lineage.
    pub change: bool,
    /// Credit returned to the lineage this token heads, not yet taken in.
    pub returned_credit: u64,
    /// What operators topped up the lineage this token heads with, in all.
    pub topped_up: u64,
}

impl From<&Node> for NodeView {
    fn from(n: &Node) -> Self {
        NodeView {
            nonce: n.nonce.to_string(),
            parent: n.parent.map(|p| p.to_string()),
            balance: n.balance,
            issued_at: n.issued_at.clone(),
            live: n.status.spent.is_none() && n.status.revoked_at.is_none(),
            consumed: n.status.spent.as_ref().map(|s| SpentView {
                at: s.at.clone(),
                kind: s.kind.as_str().into(),
                cost: s.cost,
                amounts: s.amounts.clone(),
                // Empty where the reader may not see it (a holder's view).
                request_id: (!s.request_id.is_empty()).then(|| s.request_id.clone()),
            }),
            revoked_at: n.status.revoked_at.clone(),
            revocable: n.revocable,
            change: n.change,
            returned_credit: n.credit,
            topped_up: n.topped_up,
        }
    }
}

/// The part of a delegation tree the caller may read: `crumb lineage --json`,
/// `GET /v1/lineage`, `GET /v1/lineage/{nonce}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageView {
    /// The nonce asked about.
    pub nonce: String,
    /// The root (or furthest ancestor reached) first, then descendants breadth first.
    pub tree: Vec<NodeView>,
    /// The tree has more nodes than were returned.
    pub truncated: bool,
    /// `tree[0]` is the root (the climb did not stop at the ancestor limit).
    pub root_reached: bool,
}

impl LineageView {
    pub fn new(asked: &Nonce, l: &Lineage) -> Self {
        LineageView {
            nonce: asked.to_string(),
            tree: l.nodes.iter().map(NodeView::from).collect(),
            truncated: l.truncated,
            root_reached: !l.root_not_reached,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Spent, Status};
    use crate::spend::Issued;
    use serde_json::json;

    fn receipt(kind: SpendKind, balances: &[u64]) -> Receipt {
        let key = crate::RootKey::generate().unwrap();
        let children = balances
            .iter()
            .enumerate()
            .map(|(i, &balance)| {
                let nonce = Nonce([i as u8 + 1; 16]);
                let token = Macaroon::mint(&key, crate::TokenId::new(&key.key_id(), nonce).encode(), None);
                Issued { token, nonce, balance }
            })
            .collect();
        Receipt {
            parent: Nonce([9; 16]),
            request_id: "r-1".into(),
            kind,
            cost: 3,
            children,
            replayed: false,
            at: "2026-11-28T00:00:00Z".into(),
            revocable: true,
            credit: 0,
        }
    }

    #[test]
    fn a_spend_receipt_has_its_fields() {
        let spend = receipt(SpendKind::Spend, &[7]);
        let doc = serde_json::to_value(ReceiptBody::new(&spend, vec!["T".into()])).unwrap();
        let one = Nonce([1; 16]).to_string();
        let parent = Nonce([9; 16]).to_string();
        assert_eq!(
            doc,
            json!({ "token": "T", "nonce": one, "parent": parent, "kind": "spend", "cost": 3, "remaining": 7,
                    "request_id": "r-1", "replayed": false, "at": "2026-11-28T00:00:00Z" })
        );
        let split = receipt(SpendKind::Split, &[2, 5]);
        let doc = serde_json::to_value(ReceiptBody::new(&split, vec!["A".into(), "B".into()])).unwrap();
        assert_eq!(doc["children"][0]["revocable"], true);
        assert_eq!(doc["children"][1]["revocable"], false, "the remainder is never revocable");
        assert_eq!(doc["children"][1]["balance"], 5);
        assert!(doc.get("returned_credit").is_none());
    }

    #[test]
    fn a_lineage_has_its_fields() {
        let spent = Spent {
            at: "t".into(),
            request_id: String::new(),
            kind: SpendKind::Spend,
            cost: 1,
            amounts: vec![4],
            presented: None,
        };
        let node = Node {
            nonce: Nonce([1; 16]),
            parent: Some(Nonce([2; 16])),
            balance: Some(5),
            issued_at: Some("t0".into()),
            status: Status { spent: Some(spent), revoked_at: None },
            revocable: true,
            change: false,
            credit: 3,
            topped_up: 2,
        };
        let lineage = Lineage { nodes: vec![node], truncated: false, root_not_reached: true };
        let doc = serde_json::to_value(LineageView::new(&Nonce([1; 16]), &lineage)).unwrap();
        assert_eq!(doc["root_reached"], false);
        assert_eq!(doc["tree"][0]["live"], false);
        assert_eq!(doc["tree"][0]["consumed"]["request_id"], serde_json::Value::Null, "hidden from a holder");
        assert_eq!(doc["tree"][0]["returned_credit"], 3);
    }
}
