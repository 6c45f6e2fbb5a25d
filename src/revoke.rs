//! Who may revoke what. Two ways, and no other:
//!
//! - **Possession**: whoever presents a genuine token may stop *that* token, while it is live.
//!   A spent or split token is not live: what it paid for and the change it left belong to
//!   others now, so the merchant who kept a customer's spent token, or the holder of a
//!   read-only copy of a split parent, cannot claw them back. Possession never cascades.
//! - **Operator**: an operator credential (a token minted with the operator role in its signed
//!   identifier, `crumb mint --operator`) that verifies in full for the act `action = revoke`
//!   may revoke any nonce, spent or live, and cascade over everything issued from it. The role
//!   cannot be added by a caveat: a caveat only narrows, it never proves authority.
//!
//! Whoever can write the ledger file directly (the local `crumb revoke`) is the operator.

use crate::context::{Context, Purpose};
use crate::denial::{Denial, DenialCode};
use crate::error::Error;
use crate::ledger::{self, Ledger, LiveRevoke};
use crate::presented::Presented;
use crate::token::identifier::{Nonce, Role, TokenId};
use crate::verify::Verifier;

/// What a revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub nonce: Nonce,
    /// The nonces newly revoked (empty when it was revoked already).
    pub revoked: Vec<Nonce>,
    /// A delegation's revocation: the credit that went back to the delegator's lineage.
    pub returned: Option<u64>,
}

fn denied(code: DenialCode, message: impl Into<String>) -> Error {
    Error::Denied(Denial::new(code, message))
}

/// Revokes the presented token itself, if it is genuine and live.
pub async fn by_possession(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
    at: &str,
) -> Result<Revocation, Error> {
    let nonce = crate::delegation::holder_act(verifier, presented, ctx)?;
    // A delegate's token is its delegator's credit until given back: revoking it by
    // possession would destroy what the delegator may reclaim. Give it back instead.
    let info = ledger.info(&nonce).await?;
    if info.revocable || (info.change && crate::delegation::head_revocable(ledger, info.head).await?) {
        return Err(denied(
            DenialCode::NotRevocable,
            "this token is a delegation: give its balance back (`crumb give-back`) rather than revoke it, or let its \
             delegator revoke it",
        ));
    }
    match ledger.revoke_if_live(&nonce, at).await? {
        LiveRevoke::Revoked => Ok(Revocation { nonce, revoked: vec![nonce], returned: None }),
        LiveRevoke::AlreadyRevoked => Ok(Revocation { nonce, revoked: Vec::new(), returned: None }),
        LiveRevoke::Consumed => Err(denied(
            DenialCode::Spent,
            "this token was already spent: what it became belongs to others, and only an operator can revoke it",
        )),
    }
}

/// How far an operator's revocation reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Also revoke everything issued from the target.
    pub cascade: bool,
    /// Revoke a nonce the ledger has never seen (a token minted and not yet used). Without
    /// it such a nonce is refused `unknown-token`: a typo'd nonce must not look revoked.
    pub unseen: bool,
}

/// Revokes `target` (with `cascade`, everything issued from it) on an operator's credential.
/// `ctx` is the request the credential is checked against; its action is set to `revoke`.
pub async fn as_operator(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: &Presented,
    ctx: &Context,
    target: Nonce,
    reach: Reach,
    at: &str,
) -> Result<Revocation, Error> {
    let (credential, discharges) = (&presented.token, presented.discharges.as_slice());
    if TokenId::role_of(&credential.identifier) != Some(Role::Operator) {
        return Err(denied(
            DenialCode::NotAnOperator,
            "revoking another token, or cascading, needs an operator credential (`crumb mint --operator`); no caveat can make one",
        ));
    }
    let mut ctx = ctx.clone();
    ctx.purpose = Purpose::Operate;
    ctx.action = Some("revoke".into());
    let verified = verifier.verify(credential.clone(), discharges.to_vec(), &ctx).map_err(|rejected| {
        let d = rejected.denial();
        denied(d.code, format!("the operator credential is refused: {}", d.message))
    })?;
    if let Some(nonce) = verified.nonce() {
        if let Some(d) = ledger::standing(ledger, &nonce).await? {
            return Err(denied(d.code, format!("the operator credential is refused: {}", d.message)));
        }
    }
    // Only now, to an operator: whether the ledger knows a nonce is not a holder's business.
    if !reach.unseen && !ledger.info(&target).await?.known {
        return Err(Error::Invalid(crate::error::Invalid::UnknownToken(target)));
    }
    let revoked = ledger.revoke(&target, reach.cascade, at).await?;
    Ok(Revocation { nonce: target, revoked, returned: None })
}
