//! The ledger: the durable memory that makes a balance spend itself exactly once.
//!
//! Per token nonce it records whether the token was spent (when, by which request, for what
//! cost, into which successor or children) or revoked, and each issued token's parent, so a
//! delegation tree can be followed. It stores no tokens: successors are derived
//! deterministically from the parent, the request id and the root key (see [`crate::spend`]),
//! so a retried request rebuilds the same successor without bearer tokens at rest.
//!
//! The one write that matters, [`Ledger::commit`], is a single transaction: either the parent
//! is marked spent *and* every child is recorded, or nothing is.

mod sqlite;

pub use sqlite::SqliteLedger;

use crate::error::LedgerError;
use crate::token::identifier::Nonce;

/// How a token was consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendKind {
    Spend,
    Split,
}

impl SpendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendKind::Spend => "spend",
            SpendKind::Split => "split",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spend" => Some(SpendKind::Spend),
            "split" => Some(SpendKind::Split),
            _ => None,
        }
    }
}

/// The record of a consumed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spent {
    pub at: String,
    pub request_id: String,
    pub kind: SpendKind,
    /// What the request cost (0 for a split).
    pub cost: u64,
    /// The balances the parent was divided into (one entry for a spend's successor).
    pub amounts: Vec<u64>,
    /// Fingerprint of the exact token presented ([`crate::spend::presented_fingerprint`]):
    /// only that token may have the spend answered again. `None` in records written before
    /// crumb bound replays to the presenter; those are never replayed.
    pub presented: Option<[u8; 32]>,
}

/// What the ledger knows of one nonce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub spent: Option<Spent>,
    pub revoked_at: Option<String>,
}

/// One write: consume `parent` and issue `children`.
#[derive(Clone, Debug)]
pub struct Commit {
    pub parent: Nonce,
    pub request_id: String,
    pub kind: SpendKind,
    pub cost: u64,
    /// Each child's nonce and balance, in order.
    pub children: Vec<(Nonce, u64)>,
    pub at: String,
    /// Fingerprint of the exact token presented (so a copy of the same nonce cannot replay it).
    pub presented: [u8; 32],
}

/// What a commit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written now.
    Fresh,
    /// Someone consumed the parent first (perhaps this same request, retried).
    AlreadySpent(Spent),
    /// The parent was revoked.
    Revoked(String),
}

/// One node of a delegation tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub nonce: Nonce,
    pub parent: Option<Nonce>,
    /// Balance at issue, for tokens the ledger issued (successors and children).
    pub balance: Option<u64>,
    pub issued_at: Option<String>,
    pub status: Status,
}

/// What revoking a token by possession found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveRevoke {
    /// It was live and is revoked now.
    Revoked,
    /// It was revoked before.
    AlreadyRevoked,
    /// It was spent or split: what it became belongs to others, so possession cannot stop it.
    Consumed,
}

/// A delegation tree, as much of it as the limits allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The root (or the furthest ancestor reached) first, then descendants breadth first.
    pub nodes: Vec<Node>,
    /// The tree has more nodes than were returned.
    pub truncated: bool,
    /// The climb to the root stopped at the ancestor limit: `nodes[0]` is not the root.
    pub root_not_reached: bool,
}

/// How much of a tree [`Ledger::lineage`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// From the root ancestor down: what the operator (the ledger's owner) sees.
    WholeTree,
    /// The token and what descends from it: what its holder may see (what it handed on),
    /// never its ancestors or siblings (what others did).
    Descendants,
}

impl Node {
    /// The node as JSON: the shape of `crumb lineage --json` and `GET /v1/lineage/{nonce}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "nonce": self.nonce.to_string(),
            "parent": self.parent.map(|p| p.to_string()),
            "balance": self.balance,
            "issued_at": self.issued_at,
            "live": self.status.spent.is_none() && self.status.revoked_at.is_none(),
            "spent": self.status.spent.as_ref().map(|s| serde_json::json!({
                "at": s.at, "kind": s.kind.as_str(), "request_id": s.request_id, "cost": s.cost, "amounts": s.amounts,
            })),
            "revoked_at": self.status.revoked_at,
        })
    }
}

impl Lineage {
    /// `{"nonce", "tree": [node...], "truncated", "root_reached"}`.
    pub fn to_json(&self, asked: &Nonce) -> serde_json::Value {
        serde_json::json!({
            "nonce": asked.to_string(),
            "tree": self.nodes.iter().map(Node::to_json).collect::<Vec<_>>(),
            "truncated": self.truncated,
            "root_reached": !self.root_not_reached,
        })
    }
}

/// A durable ledger of spent and revoked tokens.
pub trait Ledger: Send + Sync {
    /// What is known of `nonce` (the default status when nothing is).
    fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError>;

    /// Consumes the parent and records its children, atomically and durably.
    fn commit(&self, commit: &Commit) -> Result<CommitOutcome, LedgerError>;

    /// Revokes `nonce`, and with `cascade` every token issued from it, transitively.
    /// Returns the nonces newly revoked. An operator's act: it may revoke spent tokens and
    /// what descends from them.
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError>;

    /// Revokes `nonce` only if it is live (neither spent nor revoked), in one transaction:
    /// what a holder may do with a token it presents.
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError>;

    /// The tree `nonce` belongs to, at most `max_nodes` of it: its root ancestor first (within
    /// [`crate::limits::MAX_LINEAGE_ANCESTORS`]), then descendants breadth first.
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError>;
}

/// Why the ledger refuses a token that otherwise verifies: spent or revoked.
pub fn standing(ledger: &dyn Ledger, nonce: &Nonce) -> Result<Option<crate::verify::Denial>, LedgerError> {
    use crate::verify::{Denial, DenialCode};
    let status = ledger.status(nonce)?;
    Ok(match (status.revoked_at, status.spent) {
        (Some(_), _) => Some(Denial::new(DenialCode::Revoked, "this token was revoked")),
        // Whoever presents a copy learns only that it is spent, not when or by which request:
        // that is another holder's business.
        (None, Some(_)) => Some(Denial::new(DenialCode::Spent, "this token was already spent")),
        (None, None) => None,
    })
}
