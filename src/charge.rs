//! Charging for a request whose outcome is known only later: a metering gateway holds the
//! token while the request is in flight, then settles once the upstream has answered.
//!
//! - [`hold`] verifies the token for the request (its price is the context's `cost`, so a
//!   balance below it is refused before anything is held) and reserves it in the ledger: a
//!   second use of the same token while this one is in flight is refused `in-flight`.
//! - [`settle`] issues the successor, at the balance less the price when the upstream served
//!   the request, at the same balance when it failed, and records it; [`release`] gives the
//!   token back untouched (the upstream was never reached).
//!
//! A retry of a request already settled, by the same token with the same idempotency key,
//! is answered from the ledger with the recorded successor ([`Held::Answered`]), so a lost
//! response never loses the change and the upstream is not called twice. The same key used
//! by that token for a different request learns only that the token is spent, as any other
//! request does (a distinct answer would confirm a guessed key).

use crate::context::Context;
use crate::denial::DenialCode;
use crate::error::{Error, Invalid, LedgerErrorKind};
use crate::ledger::{Commit, CommitOutcome, Ledger, Reservation, Reserved, SpendKind, Spent, Ticket};
use crate::presented::Presented;
use crate::spend::{self, Issued, Receipt};
use crate::token::identifier::Nonce;
use crate::token::Macaroon;
use crate::verify::Verifier;

/// An idempotency key: printable ASCII, at most this many bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What a hold is for: the verified token, the request and its price.
#[derive(Debug)]
struct Terms {
    token: Macaroon,
    nonce: Nonce,
    request_id: String,
    balance: u64,
    price: u64,
    at: String,
}

/// A token held while its request is in flight. Settle or release it.
#[derive(Debug)]
pub struct Hold {
    ticket: Ticket,
    terms: Terms,
    /// What was reserved: a settle whose hold the ledger lost records with it instead.
    reservation: Box<Reservation>,
}

impl Hold {
    pub fn nonce(&self) -> Nonce {
        self.terms.nonce
    }
    pub fn request_id(&self) -> &str {
        &self.terms.request_id
    }
    /// The balance before this request.
    pub fn balance(&self) -> u64 {
        self.terms.balance
    }
    pub fn price(&self) -> u64 {
        self.terms.price
    }
}

/// What [`hold`] found.
#[derive(Debug)]
pub enum Held {
    /// The token is held for this request: call the upstream, then settle or release.
    Fresh(Hold),
    /// This request (same token, same idempotency key) was settled before: here is its
    /// receipt again. Do not call the upstream.
    Answered(Receipt),
}

/// The ledger request id of a gateway request. With an idempotency key it names the key and
/// the request (method and canonical target), so a retry finds its record and the key reused
/// for another request is told apart; without one, every request is new.
///
/// Both parts are keyed digests (HMAC under a key derived from the root key that signed the
/// token, `keys`), not plain hashes: a request id is shown in lineage, and whoever reads it
/// must not be able to test guesses of what was bought. A token whose key is unknown gets a
/// fresh random id (its hold is refused anyway).
pub fn request_id(
    keys: &crate::keyring::Keyring,
    token: &Macaroon,
    idempotency_key: Option<&str>,
    method: &str,
    target: &str,
) -> Result<String, Error> {
    let keyed = match (idempotency_key, keys.key_for(&token.identifier)) {
        (Some(key), Ok(entry)) => Some((key, entry)),
        _ => None,
    };
    if let Some(key) = idempotency_key {
        check_idempotency_key(key)?;
    }
    match keyed {
        Some((key, entry)) => {
            let secret = crate::token::chain::hmac_secret(entry.key.expose(), b"crumb gateway request id v1");
            let digest = |parts: &[&[u8]]| {
                let mut message = Vec::new();
                for part in parts {
                    message.extend_from_slice(&(part.len() as u64).to_be_bytes());
                    message.extend_from_slice(part);
                }
                hex::encode(&crate::token::chain::hmac(&secret[..], &message)[..10])
            };
            Ok(format!("key:{}:{}", digest(&[key.as_bytes()]), digest(&[method.as_bytes(), target.as_bytes()])))
        }
        None => {
            let mut random = [0u8; 16];
            getrandom::getrandom(&mut random).map_err(|e| Error::Key(crate::error::KeyError::Random(e.to_string())))?;
            Ok(format!("req:{}", hex::encode(random)))
        }
    }
}

/// Refuses an idempotency key that is empty, too long or not printable ASCII.
pub fn check_idempotency_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(Error::Invalid(Invalid::IdempotencyKey { max: MAX_IDEMPOTENCY_KEY }));
    }
    Ok(())
}

/// The key part of a keyed request id (`key:<key digest>`), if it has one.
#[cfg(test)]
fn key_part(request_id: &str) -> Option<&str> {
    request_id.strip_prefix("key:")?;
    request_id.rsplit_once(':').map(|(key, _)| key)
}

/// Verifies `token` for the request in `ctx` (whose `cost` is the price, at least 1) and
/// holds it until `ttl` has passed, unless settled or released before.
pub async fn hold(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: Presented,
    ctx: &Context,
    request_id: &str,
    ttl: std::time::Duration,
) -> Result<Held, Error> {
    match prepare_hold(verifier, presented, ctx, request_id, ttl) {
        Ok(prepared) => {
            let reserved = ledger.reserve(&prepared.reservation).await?;
            conclude_hold(verifier, prepared, reserved)
        }
        Err(Unheld::Refused(e)) => Err(e),
        // A consumed token is refused as such, before whatever else is wrong with it.
        Err(Unheld::Rejected(nonce, e, expired, signed)) => {
            // A token that failed by nothing but time is still answered its own settled
            // request (a lost answer must not lose the change because the token expired since).
            if let Some(token) = expired {
                let status = ledger.status(&nonce).await?;
                if status.revoked_at.is_some() {
                    return Err(spend::revoked());
                }
                if let Some(spent) = status.spent {
                    return answer_again(verifier, &token, nonce, request_id, spent).map(Held::Answered);
                }
            }
            if !signed {
                // A forgery learns nothing of the ledger.
                return Err(e);
            }
            Err(spend::standing_first(ledger, &nonce).await.unwrap_or(e))
        }
    }
}

/// A hold ready for the ledger: the token verified for the request, its reservation made.
#[derive(Debug)]
pub struct PreparedHold {
    reservation: Reservation,
    terms: Terms,
}

/// Why a hold could not be prepared.
pub(crate) enum Unheld {
    /// Refused whatever the ledger holds.
    Refused(Error),
    /// The token did not verify: refused, unless its signature holds (the last field) and the
    /// ledger says it was consumed (which is the answer then). The token comes along when it
    /// failed by nothing but time: its own settled request is still answered.
    Rejected(Nonce, Error, Option<Box<Macaroon>>, bool),
}

/// Everything a hold does before the ledger: bounds and verification. No ledger read or write.
pub(crate) fn prepare_hold(
    verifier: &Verifier<'_>,
    presented: Presented,
    ctx: &Context,
    request_id: &str,
    ttl: std::time::Duration,
) -> Result<PreparedHold, Unheld> {
    let Presented { token, discharges } = presented;
    let Some(id) = token.token_id() else {
        return Err(Unheld::Refused(Error::Invalid(Invalid::NotTracked)));
    };
    spend::check_request(&token, SpendKind::Spend, &[ctx.cost], Some(request_id)).map_err(Unheld::Refused)?;
    let ctx = &*spend::windows_counted(&token, ctx);
    let verified = verifier.verify(token, discharges, ctx).map_err(|rejected| {
        let denial = Error::Denied(rejected.denial().clone());
        let expired = rejected.report.only_expired.then(|| Box::new(rejected.token.clone()));
        Unheld::Rejected(id.nonce, denial, expired, rejected.report.signature_valid)
    })?;
    let Some(balance) = verified.balance() else {
        return Err(Unheld::Refused(spend::denied(
            DenialCode::InsufficientBalance,
            "this token carries no balance to pay with",
        )));
    };
    // The hold counts against the token's spend-rate windows at the price held, until settled.
    let reservation = Reservation::new(&verified, request_id, ctx.now.unix_timestamp(), ttl)
        .expect("a token with an identifier has a nonce")
        .holding(ctx.cost);
    let terms = Terms {
        token: verified.token().clone(),
        nonce: id.nonce,
        request_id: request_id.to_owned(),
        balance,
        price: ctx.cost,
        at: crate::caveat::rfc3339(ctx.now.replace_nanosecond(0).unwrap_or(ctx.now)),
    };
    // Should the hold lapse unsettled (the gateway died with the request at the upstream), it
    // is settled at the price held: the successor is the one a settle at that price issues
    // (derived from the parent, the request id and the key), so its payer recovers it.
    let entry = spend::key_entry(verifier, verified.token()).map_err(Unheld::Refused)?;
    let lapse = Commit {
        parent: id.nonce,
        request_id: request_id.to_owned(),
        kind: SpendKind::Spend,
        cost: ctx.cost,
        children: vec![(spend::child_nonce(entry, id.nonce, request_id, 0), balance.saturating_sub(ctx.cost))],
        at: terms.at.clone(),
        presented: spend::presented_fingerprint(verified.token()),
        revocable: false,
        credit: None,
        windows: reservation.windows().to_vec(),
    };
    let reservation = reservation.lapsing(lapse);
    Ok(PreparedHold { reservation, terms })
}

/// The hold, given what the ledger did with its reservation.
pub(crate) fn conclude_hold(verifier: &Verifier<'_>, p: PreparedHold, reserved: Reserved) -> Result<Held, Error> {
    match reserved {
        Reserved::Held(ticket) => {
            Ok(Held::Fresh(Hold { ticket, terms: p.terms, reservation: Box::new(p.reservation) }))
        }
        Reserved::Spent(spent) => {
            let t = &p.terms;
            answer_again(verifier, &t.token, t.nonce, &t.request_id, spent).map(Held::Answered)
        }
        Reserved::Revoked(_) => Err(spend::revoked()),
        Reserved::InFlight => Err(spend::in_flight()),
        Reserved::RateLimited(r) => Err(Error::Denied(r.denial())),
    }
}

/// A consumed token presented again to the gateway: the recorded successor for a retry of the
/// same request by the same token, whatever it was charged ([`spend::replay`]).
fn answer_again(
    verifier: &Verifier<'_>,
    token: &Macaroon,
    nonce: Nonce,
    request_id: &str,
    spent: Spent,
) -> Result<Receipt, Error> {
    let entry = || spend::key_entry(verifier, token);
    spend::replay(entry, token, nonce, request_id, SpendKind::Spend, spend::Asked::AnyCost, spent)
}

/// Settles a hold: charges `cost` (at most the price held: a request billed by what it used
/// pays that, a failed one 0) and issues the successor at the balance less `cost`. Durable
/// before it returns. A `cost` above the price held is refused ([`Invalid::OverHold`]).
///
/// A settle comes after the upstream was called, so it is finished, not given up: a ledger
/// that is unavailable (a database restarting) is retried until shortly before the hold
/// would lapse, and a hold the ledger lost (it lapsed, or a crash took it) is recorded as a
/// plain commit if the token is still free. On failure the hold is kept, never released: a
/// request that reached the upstream must not leave its token free to pay for it again.
pub async fn settle(verifier: &Verifier<'_>, ledger: &dyn Ledger, hold: Hold, cost: u64) -> Result<Receipt, Error> {
    settle_with(verifier, ledger, hold, cost, 0).await
}

/// [`settle`], the successor taking in `credit` returned to the token's lineage; when the
/// ledger says another amount is owed, the successor is issued again with it.
async fn settle_with(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    hold: Hold,
    cost: u64,
    credit: u64,
) -> Result<Receipt, Error> {
    let mut prepared = prepare_settle(verifier, hold, cost, credit).map_err(|failed| failed.1)?;
    let mut attempts = 0;
    // Measured on a monotonic clock: the hold's own times may come from a fixed clock.
    let reservation = &prepared.hold.reservation;
    let lasts = u64::try_from(reservation.until() - reservation.now() - 2).unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(lasts);
    let mut backoff = crate::backoff::Backoff::exponential(
        std::time::Duration::from_millis(50),
        2,
        std::time::Duration::from_secs(1),
    )
    .until(deadline);
    loop {
        let (ticket, commit) = (&prepared.hold.ticket, &prepared.commit);
        let reservation = &prepared.hold.reservation;
        let outcome = match ledger.settle(ticket, commit).await {
            Ok(CommitOutcome::ReservationLost) => ledger.commit(reservation, commit).await,
            other => other,
        };
        match outcome {
            Ok(CommitOutcome::CreditChanged(owed)) if attempts < 8 => {
                attempts += 1;
                prepared = prepare_settle(verifier, prepared.into_hold(), cost, owed).map_err(|failed| failed.1)?;
            }
            Ok(outcome) => return conclude_settle(verifier, prepared, outcome),
            Err(e) if e.kind() == LedgerErrorKind::Unavailable && backoff.pause().await => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A settle ready for the ledger: the successor issued, the record to write.
pub struct PreparedSettle {
    hold: Hold,
    cost: u64,
    children: Vec<Issued>,
    commit: Commit,
    credit: u64,
}

impl PreparedSettle {
    /// The hold back, for a settle that must take another path.
    pub(crate) fn into_hold(self) -> Hold {
        self.hold
    }
}

/// Everything a settle does before the ledger: the successor and its record. The hold comes
/// back with the error when that fails.
pub(crate) fn prepare_settle(
    verifier: &Verifier<'_>,
    hold: Hold,
    cost: u64,
    credit: u64,
) -> Result<PreparedSettle, Box<(Hold, Error)>> {
    let t = &hold.terms;
    if cost > t.price {
        let held = t.price;
        return Err(Box::new((hold, Error::Invalid(Invalid::OverHold { held, asked: cost }))));
    }
    let remaining = t.balance.checked_sub(cost).expect("the hold verified that the balance covers the price");
    // As much of the credit as fits: a settle never fails for it, so no charge goes unpaid.
    let claim = crate::ledger::CreditClaim::fitting(credit, remaining);
    let remaining = remaining + claim.take;
    let issued = spend::key_entry(verifier, &t.token)
        .and_then(|entry| spend::issue(entry, &t.token, t.nonce, &t.request_id, &[remaining]));
    let children: Vec<Issued> = match issued {
        Ok(children) => children,
        Err(e) => return Err(Box::new((hold, e))),
    };
    let t = &hold.terms;
    let commit = Commit {
        parent: t.nonce,
        request_id: t.request_id.clone(),
        kind: SpendKind::Spend,
        cost,
        children: children.iter().map(|c| (c.nonce, c.balance)).collect(),
        at: t.at.clone(),
        presented: spend::presented_fingerprint(&t.token),
        revocable: false,
        // Returned credit owed to this lineage goes into the successor: exactly this much, or
        // the ledger writes nothing and says what is owed.
        credit: Some(claim),
        windows: hold.reservation.windows().to_vec(),
    };
    Ok(PreparedSettle { hold, cost, children, commit, credit: claim.take })
}

/// The receipt, given what the ledger did with the settle.
pub(crate) fn conclude_settle(
    verifier: &Verifier<'_>,
    p: PreparedSettle,
    outcome: CommitOutcome,
) -> Result<Receipt, Error> {
    let t = p.hold.terms;
    let (cost, children, credit) = (p.cost, p.children, p.credit);
    spend::receipt_for(
        outcome,
        || Receipt {
            parent: t.nonce,
            request_id: t.request_id.clone(),
            kind: SpendKind::Spend,
            cost,
            children,
            replayed: false,
            at: t.at.clone(),
            revocable: false,
            credit,
        },
        |spent| answer_again(verifier, &t.token, t.nonce, &t.request_id, spent),
    )
}

/// Gives a held token back untouched (its request never reached the upstream).
pub async fn release(ledger: &dyn Ledger, hold: Hold) -> Result<(), Error> {
    Ok(ledger.release(&hold.ticket).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_request_ids_tell_a_reused_key_from_a_new_one() {
        let root = crate::RootKey::generate().unwrap();
        let keys = crate::Keyring::single(root.clone());
        let id = crate::TokenId::new(&root.key_id(), Nonce([7; 16]));
        let token = Macaroon::mint(&root, id.encode(), None);
        let request_id = |key, method, target| request_id(&keys, &token, key, method, target);
        let a = request_id(Some("k1"), "POST", "/v1/chat").unwrap();
        assert_eq!(a, request_id(Some("k1"), "POST", "/v1/chat").unwrap());
        let other_request = request_id(Some("k1"), "POST", "/v1/other").unwrap();
        let other_key = request_id(Some("k2"), "POST", "/v1/chat").unwrap();
        assert_ne!(a, other_request);
        assert_eq!(key_part(&a), key_part(&other_request));
        assert_ne!(key_part(&a), key_part(&other_key));
        let fresh = request_id(None, "POST", "/v1/chat").unwrap();
        assert_ne!(fresh, request_id(None, "POST", "/v1/chat").unwrap());
        assert_eq!(key_part(&fresh), None);
        // Not a plain digest of what was bought: another root key gives other ids.
        let other_root = crate::RootKey::generate().unwrap();
        let other_keys = crate::Keyring::single(other_root.clone());
        let other_token =
            Macaroon::mint(&other_root, crate::TokenId::new(&other_root.key_id(), Nonce([7; 16])).encode(), None);
        let elsewhere = super::request_id(&other_keys, &other_token, Some("k1"), "POST", "/v1/chat").unwrap();
        assert_ne!(a.rsplit_once(':').unwrap().1, elsewhere.rsplit_once(':').unwrap().1);
        for id in [a, fresh] {
            crate::limits::check_request_id(&id).unwrap();
        }
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(check_idempotency_key("4f1c-uuid like").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key(&"k".repeat(MAX_IDEMPOTENCY_KEY + 1)).is_err());
        assert!(check_idempotency_key("a\u{1b}[2J").is_err());
    }
}
