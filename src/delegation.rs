//! Delegation is not payment: a splitter chooses, per split, whether its children are
//! *transfers* (final: a payment is never clawed back) or *delegations* (`split --revocable`),
//! which the splitting lineage may revoke. And a child may give its unused balance back.
//!
//! **Lineages.** A token's lineage is the run of tokens one holder goes through: from the token
//! it was handed (a mint, or a child split off to it: the lineage's *head*) through the
//! successor of each of its spends and the remainder of each of its splits (its *change*). The
//! ledger records, for each child, whether it is its parent's change and, for a change, the
//! head of its lineage; so "the same lineage" is one comparison, never a walk.
//!
//! **Returned credit.** Credit that comes back — the live balances of a revoked delegation's
//! subtree, a child's give-back — is owed to the head of the receiving lineage, in the ledger,
//! in the same transaction that retired what it came from. The lineage's next spend or split
//! takes it in: the change is issued with it added, and the ledger takes exactly the credit the
//! change was issued with, or writes nothing (and the spend is prepared again with what is
//! owed now). So credit is taken once, by the lineage it is owed to and by no one else: not the
//! child (a revoked child is revoked, a child that gave back is spent), not the delegator's
//! payer (a payment's successor is the payer's own lineage; the merchant holds a spent token).
//! A metered request's settle takes it the same way (its hold stays while the successor is
//! issued again with the credit).
//!
//! **Revoking a delegation.** The holder presents a live token of the splitting lineage (its
//! current token) and names the child. The child must be a revocable child split off from a
//! token of that same lineage: not a transfer (`not-revocable`), not the change, not a child
//! of another lineage (`not-yours`: a child cannot revoke its parent or its siblings). The
//! whole subtree is revoked; its live balances, held ones included, and any credit owed
//! inside it go back. A hold in flight on a revoked token is not charged: its settle finds
//! the token revoked and writes nothing (the request it paid for is not charged, and its
//! balance went back whole). What the sub-agent already spent stays spent.

use crate::context::{Context, Purpose};
use crate::denial::{Denial, DenialCode};
use crate::error::{Error, Invalid};
use crate::ledger::{DelegationRevoke, GaveBack, GiveBack, Ledger, Node, Scope, SpendKind};
use crate::limits::MAX_LINEAGE_NODES;
use crate::presented::Presented;
use crate::revoke::Revocation;
use crate::token::identifier::Nonce;
use crate::verify::Verifier;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

fn denied(code: DenialCode, message: impl Into<String>) -> Error {
    Error::Denied(Denial::new(code, message))
}

/// A holder's act on its own token (revoking it or a delegation of its lineage, reading its
/// status or lineage): no request is made, so the token is checked as a split checks it
/// (`Purpose::Transfer`, cost 0): its signature, its time caveats, unknown caveats and
/// discharges all hold, and the caveats about requests (action, resource, ip, aud) are left to
/// the requests. A copy a holder narrowed in time (`expires`) may no longer act once expired:
/// a caveat only narrows. Returns the token's nonce.
pub(crate) fn holder_act(verifier: &Verifier<'_>, presented: &Presented, ctx: &Context) -> Result<Nonce, Error> {
    let (token, discharges) = (&presented.token, presented.discharges.as_slice());
    let mut ctx = ctx.clone();
    ctx.cost = 0;
    ctx.purpose = Purpose::Transfer;
    let report = verifier.check(token, discharges, &ctx);
    if !report.signature_valid {
        return Err(Error::Denied(
            report.denial.unwrap_or_else(|| Denial::new(DenialCode::BadSignature, "the signature does not match")),
        ));
    }
    if let Some(denial) = report.denial {
        return Err(Error::Denied(denial));
    }
    token.token_id().map(|id| id.nonce).ok_or(Error::Invalid(Invalid::NotTracked))
}

/// Revokes the delegation `child` on the presentation of `holder`, a live token of the lineage
/// that split it off.
pub async fn revoke(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
    child: Nonce,
    at: &str,
) -> Result<Revocation, Error> {
    let own = holder_act(verifier, presented, ctx)?;
    if child == own {
        // A lineage's own token is not a delegation it made: revoking it would destroy the
        // lineage's balance and its power to revoke what it delegated.
        return Err(denied(
            DenialCode::NotRevocable,
            "that is this token itself, not a delegation it split off (to stop a token you hold, revoke it by possession)",
        ));
    }
    match ledger.revoke_delegation(&own, &child, at).await? {
        DelegationRevoke::Revoked { revoked, returned } => {
            Ok(Revocation { nonce: child, revoked, returned: Some(returned) })
        }
        DelegationRevoke::HolderNotLive { revoked: true } => Err(denied(DenialCode::Revoked, "this token was revoked")),
        DelegationRevoke::HolderNotLive { revoked: false } => Err(denied(
            DenialCode::Spent,
            "this token was already spent: present the lineage's current token (the latest successor or remainder)",
        )),
        DelegationRevoke::NotYours => Err(denied(
            DenialCode::NotYours,
            "that token was not split off from this token's lineage (revoking another's token needs an operator credential)",
        )),
        DelegationRevoke::NotRevocable => Err(denied(
            DenialCode::NotRevocable,
            "that token is a transfer (split without --revocable) or this lineage's own change: it cannot be revoked this way",
        )),
    }
}

/// What a give-back did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GiveBackReceipt {
    /// The token given back (now spent).
    pub nonce: String,
    /// The credit that went back to the lineage the token was split from.
    pub returned: u64,
    pub request_id: String,
    /// True when this answers a retry of a give-back the ledger already recorded.
    pub replayed: bool,
    pub at: String,
}

/// Retires `token` and returns its whole balance (and any credit owed to its own lineage) to
/// the lineage it was split from. Idempotent by request id: the same token retried with the
/// same id is answered the same. A token that has expired may still give back (its credit
/// would otherwise be stranded); any other failure refuses.
pub async fn give_back(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: Presented,
    ctx: &Context,
    request_id: Option<&str>,
) -> Result<GiveBackReceipt, Error> {
    let Presented { token, discharges } = presented;
    if let Some(id) = request_id {
        crate::limits::check_request_id(id)?;
    }
    let nonce = token.token_id().map(|id| id.nonce).ok_or(Error::Invalid(Invalid::NotTracked))?;
    let mut ctx = ctx.clone();
    ctx.cost = 0;
    ctx.purpose = Purpose::Transfer;
    let token = match verifier.verify(token, discharges, &ctx) {
        Ok(verified) => verified.token().clone(),
        Err(rejected) if rejected.report.only_expired => rejected.token,
        Err(rejected) => return Err(Error::Denied(rejected.denial().clone())),
    };
    let request_id = match request_id {
        Some(r) => r.to_owned(),
        None => crate::spend::fresh_request_id()?,
    };
    let presented = crate::spend::presented_fingerprint(&token);
    let at = crate::caveat::rfc3339(ctx.now.replace_nanosecond(0).unwrap_or(ctx.now));
    let g = GiveBack {
        parent: nonce,
        request_id: request_id.clone(),
        at: at.clone(),
        presented,
        now: ctx.now.unix_timestamp(),
    };
    match ledger.give_back(&g).await? {
        GaveBack::Fresh { returned } => {
            Ok(GiveBackReceipt { nonce: nonce.to_string(), returned, request_id, replayed: false, at })
        }
        GaveBack::AlreadySpent(spent)
            if spent.kind == SpendKind::GiveBack
                && spent.request_id == request_id
                && spent.presented == Some(presented) =>
        {
            Ok(GiveBackReceipt {
                nonce: nonce.to_string(),
                returned: spent.cost,
                request_id,
                replayed: true,
                at: spent.at,
            })
        }
        GaveBack::AlreadySpent(_) => Err(crate::spend::already_spent()),
        GaveBack::Revoked(_) => Err(crate::spend::revoked()),
        GaveBack::InFlight => Err(crate::spend::in_flight()),
        GaveBack::NotDelegated => Err(denied(
            DenialCode::NotDelegated,
            "this token's lineage was never split off from another (a minted token): there is nowhere to give back to",
        )),
    }
}

/// What a top-up did: the shape of `crumb top-up --json` and `POST /v1/top-up`'s answer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopUpReceipt {
    /// The token named.
    pub nonce: String,
    /// The lineage head the credit went to (its next spend, split or settle takes it in).
    pub head: String,
    pub amount: u64,
    pub request_id: String,
    /// This request id topped up before: the same answer, nothing added again.
    pub replayed: bool,
    /// What the lineage is owed now (null on a replay).
    pub owed: Option<u64>,
}

/// Records a top-up in the ledger (an operator's act: the caller has checked who asks).
pub async fn top_up(ledger: &dyn Ledger, t: &crate::ledger::TopUp) -> Result<TopUpReceipt, Error> {
    crate::limits::check_request_id(&t.request_id)?;
    if t.amount == 0 {
        return Err(Error::Limit(crate::error::LimitError::new("bad-request", "a top-up adds at least 1")));
    }
    crate::limits::check_amount("amount", t.amount)?;
    let receipt = |head: Nonce, replayed: bool, owed: Option<u64>| TopUpReceipt {
        nonce: t.nonce.to_string(),
        head: head.to_string(),
        amount: t.amount,
        request_id: t.request_id.clone(),
        replayed,
        owed,
    };
    match ledger.top_up(t).await? {
        crate::ledger::ToppedUp::Fresh { head, owed } => Ok(receipt(head, false, Some(owed))),
        crate::ledger::ToppedUp::Replayed { head } => Ok(receipt(head, true, None)),
        crate::ledger::ToppedUp::RequestIdReused => Err(Error::Denied(Denial::new(
            DenialCode::IdempotencyKeyReused,
            "this request id topped up another token or another amount before",
        ))),
        crate::ledger::ToppedUp::Revoked => Err(Error::Denied(Denial::new(
            DenialCode::Revoked,
            "this token (or the lineage its credit would go to) is revoked: a top-up would reach no one",
        ))),
        crate::ledger::ToppedUp::TooMuch { owed } => Err(Error::Limit(crate::error::LimitError::new(
            "bad-request",
            format!(
                "the lineage is owed {owed} already; with this top-up it would be over {}",
                crate::limits::MAX_AMOUNT
            ),
        ))),
    }
}

/// [`top_up`] on an operator credential (`crumb mint --operator`), checked for the action
/// `top-up`.
pub async fn top_up_as_operator(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
    t: &crate::ledger::TopUp,
) -> Result<TopUpReceipt, Error> {
    let (credential, discharges) = (&presented.token, presented.discharges.as_slice());
    if crate::token::identifier::TokenId::role_of(&credential.identifier)
        != Some(crate::token::identifier::Role::Operator)
    {
        return Err(Error::Denied(Denial::new(
            DenialCode::NotAnOperator,
            "a top-up needs an operator credential (`crumb mint --operator`); no caveat can make one",
        )));
    }
    let mut ctx = ctx.clone();
    ctx.purpose = Purpose::Operate;
    ctx.action = Some("top-up".into());
    // The amount is the act's cost: `max-cost <= N` on a credential bounds each top-up, so a
    // bounded top-up authority can be handed on.
    ctx.cost = t.amount;
    let verified = verifier.verify(credential.clone(), discharges.to_vec(), &ctx).map_err(|rejected| {
        let d = rejected.denial();
        Error::Denied(Denial::new(d.code, format!("the operator credential is refused: {}", d.message)))
    })?;
    if let Some(nonce) = verified.nonce() {
        if let Some(d) = crate::ledger::standing(ledger, &nonce).await? {
            return Err(Error::Denied(Denial::new(
                d.code,
                format!("the operator credential is refused: {}", d.message),
            )));
        }
    }
    top_up(ledger, t).await
}

/// One delegation (or transfer) a lineage split off, as `status` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delegated {
    pub nonce: String,
    /// What it was handed.
    pub amount: u64,
    pub revocable: bool,
    /// Where its own lineage stands: `live`, `spent` (consumed with nothing live left),
    /// `given-back` or `revoked`.
    pub state: &'static str,
    /// What is live in its lineage now (its current token's balance).
    pub balance: u64,
    /// What it and everything below it spent (request costs).
    pub spent: u64,
}

/// A token's standing: what an agent asks before it acts.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenStatus {
    pub nonce: String,
    /// `live`, `spent`, `revoked` or `held` (a request is in flight with it).
    pub state: &'static str,
    /// Its balance while it is live or held; null once spent or revoked.
    pub balance: Option<u64>,
    /// Its earliest expiry (RFC 3339), if it has one.
    pub expires: Option<String>,
    /// This token is (in the lineage of) a delegation its splitter may revoke.
    pub revocable: bool,
    /// For a spent token: whether the spend was made by this very token, so a retry with its
    /// request id gets the successor back (false for a copy, and for a give-back).
    pub successor_known: bool,
    /// Credit owed to this lineage, waiting for its next spend or split: returned by its
    /// delegations or added by top-ups (the field's name predates top-ups).
    pub returned_credit: u64,
    /// What operators topped this lineage up with, in all (what is not yet taken in is part
    /// of `returned_credit`).
    pub topped_up: u64,
    /// What this lineage split off, each with where it stands.
    pub delegated: Vec<Delegated>,
    /// Each `spend-rate` window the token carries: what is spent in it now and what is left.
    pub windows: Vec<crate::ledger::WindowUse>,
}

/// The standing of `token` in the ledger. A live (or held) token speaks for its whole lineage
/// (what it split off since it was handed its first token, the credit owed to it); a spent or
/// revoked one for itself only (what its own split handed on), as lineage's possession rule.
pub async fn status(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
) -> Result<TokenStatus, Error> {
    let token = &presented.token;
    let own = holder_act(verifier, presented, ctx)?;
    let now = ctx.now.unix_timestamp();
    let mut info = ledger.info(&own).await?;
    // A hold that lapsed with its request at the upstream is that request's charge, recorded
    // at the token's next use: recorded now, so this read shows what that use will find. A
    // ledger this reader cannot write (opened read-only) keeps the view as it is.
    let unrecorded = info.status.spent.is_none() && info.status.revoked_at.is_none();
    let lapsed = unrecorded && info.held_until.is_some_and(|until| until <= now);
    if lapsed && matches!(ledger.record_lapsed(&own, now).await, Ok(true)) {
        info = ledger.info(&own).await?;
    }
    let held = info.held_until.is_some_and(|until| until > now);
    let state = match (&info.status.revoked_at, &info.status.spent) {
        (Some(_), _) => "revoked",
        (None, Some(_)) => "spent",
        (None, None) if held => "held",
        (None, None) => "live",
    };
    let live = matches!(state, "live" | "held");
    let successor_known = info.status.spent.as_ref().is_some_and(|s| {
        s.kind != SpendKind::GiveBack && s.presented == Some(crate::spend::presented_fingerprint(token))
    });
    let expires = token
        .first_party_texts()
        .filter_map(|t| std::str::from_utf8(t).ok())
        .filter_map(|t| match crate::caveat::parse(t) {
            Ok(crate::caveat::Caveat::Expires { at, .. }) => Some(at),
            _ => None,
        })
        .min()
        .map(crate::caveat::rfc3339);
    // A lineage is its head and the change below it; a spent or revoked token reads its own
    // record only, its change never walked (as lineage's possession rule).
    let (root, scope) = match (live, info.head) {
        (true, Some(head)) => (head, Scope::Descendants),
        _ => {
            let entry = crate::spend::key_entry(verifier, token)?;
            match crate::lineage::change_of(ledger, own, entry).await? {
                Some(change) => (own, Scope::DescendantsExcept(change)),
                None => (own, Scope::Descendants),
            }
        }
    };
    let tree = ledger.lineage(&root, MAX_LINEAGE_NODES, scope).await?;
    let index = Index::new(&tree.nodes);
    let chain: HashSet<Nonce> = if live { index.chain(root) } else { [own].into_iter().collect() };
    let delegated = tree
        .nodes
        .iter()
        .filter(|n| !n.change && n.parent.is_some_and(|p| chain.contains(&p)))
        .map(|n| index.delegated(n))
        .collect();
    Ok(TokenStatus {
        nonce: own.to_string(),
        state,
        balance: if live { crate::verify::balance_of(token) } else { None },
        expires,
        revocable: info.revocable || (info.change && head_revocable(ledger, info.head).await?),
        successor_known,
        returned_credit: if live { info.credit_owed } else { 0 },
        topped_up: info.topped_up,
        delegated,
        windows: crate::ledger::window::usage(ledger, token, ctx.now.unix_timestamp()).await?,
    })
}

pub(crate) async fn head_revocable(ledger: &dyn Ledger, head: Option<Nonce>) -> Result<bool, Error> {
    Ok(match head {
        Some(head) => ledger.info(&head).await?.revocable,
        None => false,
    })
}

/// A tree read from the ledger, indexed by parent.
struct Index<'a> {
    nodes: &'a [Node],
    children: HashMap<Nonce, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(nodes: &'a [Node]) -> Self {
        let mut children: HashMap<Nonce, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if let Some(p) = n.parent {
                children.entry(p).or_default().push(i);
            }
        }
        Index { nodes, children }
    }

    fn kids(&self, nonce: Nonce) -> impl Iterator<Item = &'a Node> + '_ {
        self.children.get(&nonce).into_iter().flatten().map(|&i| &self.nodes[i])
    }

    /// The change of `nonce`, if the tree has it.
    fn change(&self, nonce: Nonce) -> Option<&'a Node> {
        self.kids(nonce).find(|n| n.change)
    }

    /// The lineage headed by `head`: it and its change, transitively.
    fn chain(&self, head: Nonce) -> HashSet<Nonce> {
        let mut chain: HashSet<Nonce> = [head].into_iter().collect();
        let mut at = head;
        while let Some(next) = self.change(at) {
            if !chain.insert(next.nonce) {
                break;
            }
            at = next.nonce;
        }
        chain
    }

    /// Where the lineage headed by `child` stands. Subtrees of distinct children are
    /// disjoint, so describing every child walks the tree once.
    fn delegated(&self, child: &Node) -> Delegated {
        let mut spent = 0u64;
        let mut stack = vec![child];
        while let Some(n) = stack.pop() {
            if let Some(s) = n.status.spent.as_ref().filter(|s| s.kind == SpendKind::Spend) {
                spent = spent.saturating_add(s.cost);
            }
            stack.extend(self.kids(n.nonce));
        }
        // The end of its own lineage: follow the change down.
        let mut end = child;
        for _ in 0..self.nodes.len() {
            match self.change(end.nonce) {
                Some(next) => end = next,
                None => break,
            }
        }
        let state = match (&end.status.revoked_at, &end.status.spent) {
            _ if child.status.revoked_at.is_some() => "revoked",
            (Some(_), _) => "revoked",
            (None, Some(s)) if s.kind == SpendKind::GiveBack => "given-back",
            (None, Some(_)) => "spent",
            (None, None) => "live",
        };
        Delegated {
            nonce: child.nonce.to_string(),
            amount: child.balance.unwrap_or(0),
            revocable: child.revocable,
            state,
            balance: if state == "live" { end.balance.unwrap_or(0) } else { 0 },
            spent,
        }
    }
}
