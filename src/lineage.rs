//! Who may read which part of a delegation tree.
//!
//! - The ledger's owner (the local `crumb lineage`) reads whole trees.
//! - An operator credential (`crumb mint --operator`) that verifies for the act
//!   `action = lineage` reads the whole tree of any nonce.
//! - A holder proves possession of a genuine token (spent or live) and reads that token and
//!   what descends from it — where the credit it handed on went — but not its ancestors or
//!   siblings: what other holders did is theirs.

use crate::context::{Context, Purpose};
use crate::error::Error;
use crate::ledger::{self, Ledger, Lineage, Scope};
use crate::limits::MAX_LINEAGE_NODES;
use crate::token::identifier::{Nonce, Role, TokenId};
use crate::token::Macaroon;
use crate::verify::{Denial, DenialCode, Verifier};

fn denied(code: DenialCode, message: impl Into<String>) -> Error {
    Error::Denied(Denial::new(code, message))
}

/// The part of the tree `credential` may read: of `target` (default: the credential's own
/// token). Returns the nonce the tree was read for, and the tree.
pub fn view(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    credential: &Macaroon,
    discharges: &[Macaroon],
    ctx: &Context,
    target: Option<Nonce>,
) -> Result<(Nonce, Lineage), Error> {
    let own = credential.token_id().map(|id| id.nonce);
    if TokenId::role_of(&credential.identifier) == Some(Role::Operator) {
        let mut ctx = ctx.clone();
        ctx.purpose = Purpose::Operate;
        ctx.action = Some("lineage".into());
        let verified = verifier.verify(credential.clone(), discharges.to_vec(), &ctx).map_err(|rejected| {
            let d = rejected.denial();
            denied(d.code, format!("the operator credential is refused: {}", d.message))
        })?;
        if let Some(d) = verified.nonce().map(|n| ledger::standing(ledger, &n)).transpose()?.flatten() {
            return Err(denied(d.code, format!("the operator credential is refused: {}", d.message)));
        }
        let target = target.ok_or_else(|| Error::Usage("name the nonce whose lineage to read".into()))?;
        return Ok((target, ledger.lineage(&target, MAX_LINEAGE_NODES, Scope::WholeTree)?));
    }
    let report = verifier.check(credential, discharges, ctx);
    if !report.signature_valid {
        return Err(Error::Denied(
            report.denial.unwrap_or_else(|| Denial::new(DenialCode::BadSignature, "the signature does not match")),
        ));
    }
    let own = own.ok_or_else(|| Error::Usage("this token was not minted by crumb: no ledger tracks it".into()))?;
    if target.is_some_and(|t| t != own) {
        return Err(denied(
            DenialCode::NotAnOperator,
            "a holder reads the lineage of its own token only; another nonce needs an operator credential",
        ));
    }
    Ok((own, ledger.lineage(&own, MAX_LINEAGE_NODES, Scope::Descendants)?))
}
