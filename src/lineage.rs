//! Who may read which part of a delegation tree.
//!
//! - The ledger's owner (the local `crumb lineage`) reads whole trees.
//! - An operator credential (`crumb mint --operator`) that verifies for the act
//!   `action = lineage` reads the whole tree of any nonce.
//! - A holder proves possession of a genuine token. A **live** one is its current token: it
//!   reads the tree it is responsible for, from the token it was handed (a mint, or a child
//!   split off to it: its lineage's head, reached through its own spends' successors and its
//!   own splits' remainders, which the ledger records as change) and everything below it —
//!   what it split off to others, their balances, spends and standing. Never above that head,
//!   nor its siblings: what other holders did is theirs.
//! - A **spent or revoked** token reads that token and what descends from it — where the
//!   credit it handed on went — but not its ancestors or siblings.
//! - Nor its change: a spend's successor, and a split's remainder (its last child), are the
//!   payer's to keep using, not something the token handed on. Their balances are in the
//!   token's own record (`amounts`); the change itself, and all it did after, are left out. A
//!   spent token that leaks (an old token file, a log line) so grants nothing over what its
//!   payer did next. Nor does a holder see request ids: a request id entitles a retry to its
//!   successor, so it stays the requester's secret.

use crate::context::{Context, Purpose};
use crate::denial::{Denial, DenialCode};
use crate::error::{Error, Invalid};
use crate::ledger::{self, Ledger, Lineage, Scope};
use crate::limits::MAX_LINEAGE_NODES;
use crate::presented::Presented;
use crate::token::identifier::{Nonce, Role, TokenId};
use crate::verify::Verifier;

fn denied(code: DenialCode, message: impl Into<String>) -> Error {
    Error::Denied(Denial::new(code, message))
}

/// The part of the tree `credential` may read: of `target` (default: the credential's own
/// token). Returns the nonce the tree was read for, and the tree.
pub async fn view(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
    target: Option<Nonce>,
) -> Result<(Nonce, Lineage), Error> {
    let (credential, discharges) = (&presented.token, presented.discharges.as_slice());
    let own = credential.token_id().map(|id| id.nonce);
    if TokenId::role_of(&credential.identifier) == Some(Role::Operator) {
        let mut ctx = ctx.clone();
        ctx.purpose = Purpose::Operate;
        ctx.action = Some("lineage".into());
        let verified = verifier.verify(credential.clone(), discharges.to_vec(), &ctx).map_err(|rejected| {
            let d = rejected.denial();
            denied(d.code, format!("the operator credential is refused: {}", d.message))
        })?;
        if let Some(nonce) = verified.nonce() {
            if let Some(d) = ledger::standing(ledger, &nonce).await? {
                return Err(denied(d.code, format!("the operator credential is refused: {}", d.message)));
            }
        }
        let target = target.ok_or_else(|| Error::Invalid(Invalid::NoTarget("read the lineage of")))?;
        // A nonce the ledger never saw has no tree: said so, never drawn as a live token.
        if !ledger.info(&target).await?.known {
            return Err(Error::Invalid(Invalid::UnknownToken(target)));
        }
        return Ok((target, ledger.lineage(&target, MAX_LINEAGE_NODES, Scope::WholeTree).await?));
    }
    let own = crate::delegation::holder_act(verifier, presented, ctx).or_else(|e| match (e, own) {
        // A spent or revoked token may still read what it handed on (a merchant keeps the
        // customer's spent token); only its time caveats having passed is forgiven then.
        (Error::Denied(d), Some(own)) if matches!(d.code, DenialCode::Expired) => Ok(own),
        (e, _) => Err(e),
    })?;
    if target.is_some_and(|t| t != own) {
        return Err(denied(
            DenialCode::NotAnOperator,
            "a holder reads the lineage of its own token only; another nonce needs an operator credential",
        ));
    }
    let entry = verifier
        .keys()
        .key_for(&credential.identifier)
        .map_err(|e| denied(DenialCode::of_key_error(&e), e.to_string()))?;
    let info = ledger.info(&own).await?;
    let mut tree = if info.status.spent.is_none() && info.status.revoked_at.is_none() {
        // A live token is its holder's current token: the holder reads the tree it is
        // responsible for, from the token it was handed (its lineage's head: the change links
        // are its own spends and splits) down. Never above the head: what its payer did.
        ledger.lineage(&info.head.unwrap_or(own), MAX_LINEAGE_NODES, Scope::Descendants).await?
    } else {
        // A spent or revoked token may be a leaked copy (a merchant keeps the customer's spent
        // token): it reads its own record and what it handed on, never its change.
        // The change is left out of the walk itself: neither what it did nor how much of it
        // there is reaches the reader (a filter after the walk would still spend the time, and
        // the limit).
        let scope = match change_of(ledger, own, entry).await? {
            Some(change) => Scope::DescendantsExcept(change),
            None => Scope::Descendants,
        };
        let mut tree = ledger.lineage(&own, MAX_LINEAGE_NODES, scope).await?;
        // Credit owed to the lineage this token headed is its payer's, not the reader's.
        for node in &mut tree.nodes {
            node.credit = 0;
        }
        tree
    };
    // A request id entitles a retry to its successor: a holder reading the tree, who may hold
    // a leaked copy of a spent token, must never learn one.
    for node in &mut tree.nodes {
        if let Some(spent) = node.status.spent.as_mut() {
            spent.request_id.clear();
        }
    }
    Ok((own, tree))
}

/// `own`'s change: the last child of its spend or split, whose nonce the issuing key derives;
/// `None` while it is not spent.
pub(crate) async fn change_of(
    ledger: &dyn Ledger,
    own: Nonce,
    entry: &crate::keyring::KeyEntry,
) -> Result<Option<Nonce>, Error> {
    let Some(spent) = ledger.status(&own).await?.spent else { return Ok(None) };
    Ok(spent.amounts.len().checked_sub(1).map(|last| crate::spend::child_nonce(entry, own, &spent.request_id, last)))
}
