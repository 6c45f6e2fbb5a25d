//! Spending and splitting balances.
//!
//! `spend` verifies the token fully (signature, every caveat, `max-cost`, the request's
//! context), checks the effective balance (the smallest `balance <=` caveat) covers the cost,
//! then in one ledger transaction marks the token's nonce spent and records its successor: a
//! fresh token that keeps every caveat of the spent one, with its balance caveats replaced by
//! one `balance <= remaining`. `split` does the same with several children whose balances sum
//! exactly to the parent's.
//!
//! A replay is answered only to the token that made the spend: the ledger keeps a fingerprint
//! of the exact token presented, and another token of the same nonce (an attenuated copy, say
//! one capped at `balance <= 2`) is told only that the token is spent. A replay is answered
//! only when the token still verifies, or fails by nothing but its expiry.
//!
//! Successors are deterministic: their nonces are an HMAC, under the root key, of the parent's
//! nonce, the request id and the child's position, so the same request retried (after a lost
//! response or a crash) rebuilds byte-for-byte the same successor, and the ledger needs to
//! store no tokens.

use crate::caveat::{self, Caveat};
use crate::context::Context;
use crate::denial::{Denial, DenialCode};
use crate::error::{Error, Invalid, LimitError};
use crate::keyring::KeyEntry;
use crate::ledger::{Commit, CommitOutcome, CreditClaim, Ledger, Reservation, SpendKind, Spent};
use crate::limits;
use crate::presented::Presented;
use crate::token::chain::{self, Sig};
use crate::token::identifier::Nonce;
use crate::token::{Macaroon, TokenId};
use crate::verify::Verifier;

/// One token the ledger issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: Macaroon,
    pub nonce: Nonce,
    pub balance: u64,
}

/// What a spend or split did.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub parent: Nonce,
    pub request_id: String,
    pub kind: SpendKind,
    pub cost: u64,
    /// The successor (spend) or the children, remainder last (split).
    pub children: Vec<Issued>,
    /// True when this answers a retry of a request the ledger already committed.
    pub replayed: bool,
    pub at: String,
    /// A split's children but the last are delegations their splitter may revoke.
    pub revocable: bool,
    /// Returned credit the successor (or the remainder) took in, beside the balance.
    pub credit: u64,
}

/// The request id of a spend or split that names none: a fresh random one, so it can never be
/// answered again. A request id is what entitles a retry to the recorded successor, so it
/// must be a secret of whoever made the request: one derived from the token alone would let
/// anyone holding a copy of the spent token (a leaked token file) collect its change.
pub fn fresh_request_id() -> Result<String, Error> {
    let mut random = [0u8; 12];
    getrandom::getrandom(&mut random).map_err(|e| Error::Key(crate::error::KeyError::Random(e.to_string())))?;
    Ok(format!("auto-{}", hex::encode(random)))
}

/// A client's own request id for a spend or split: the same `secret`, token and amounts give
/// the same id, so re-running the same command on the same machine is a retry, while a copy of
/// the token elsewhere cannot name it. `secret` is the client's (never the root key).
pub fn client_request_id(secret: &[u8], token: &Macaroon, kind: SpendKind, amounts: &[u64]) -> String {
    let mut message = Vec::with_capacity(64 + 8 * amounts.len());
    message.extend_from_slice(b"crumb client request id v1\0");
    message.extend_from_slice(kind.as_str().as_bytes());
    message.extend_from_slice(&token.signature);
    for a in amounts {
        message.extend_from_slice(&a.to_be_bytes());
    }
    format!("auto-{}", hex::encode(&chain::hmac_secret(secret, &message)[..12]))
}

pub use crate::token::presented_fingerprint;

pub(crate) fn denied(code: DenialCode, message: impl Into<String>) -> Error {
    Error::Denied(Denial::new(code, message))
}

pub(crate) fn already_spent() -> Error {
    denied(DenialCode::Spent, "this token was already spent")
}

pub(crate) fn revoked() -> Error {
    denied(DenialCode::Revoked, "this token was revoked")
}

pub(crate) fn in_flight() -> Error {
    denied(DenialCode::InFlight, "this token is in use by another request right now; retry when that one is answered")
}

/// How long a one-shot spend holds its token at most: a hold outlives its spend only when the
/// process died between reserve and settle, and then the token is free again after this. A
/// hold that expires under a slow settle costs nothing but that settle: it then finds the hold
/// lost and writes nothing.
pub const ONE_SHOT_HOLD: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a one-shot spend waits for another one-shot use of the same token to finish (a
/// client's retry racing its own first attempt) before answering `in-flight`.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `ctx`, marked as counted against spend-rate windows when `token` carries any (the ledger
/// that consumes it counts the spend): cloned only then.
pub(crate) fn windows_counted<'c>(token: &Macaroon, ctx: &'c Context) -> std::borrow::Cow<'c, Context> {
    if token.caveats.iter().any(|c| c.vid.is_none() && c.id.starts_with(b"spend-rate ")) {
        let mut counted = ctx.clone();
        counted.windows_counted = true;
        std::borrow::Cow::Owned(counted)
    } else {
        std::borrow::Cow::Borrowed(ctx)
    }
}

/// The checks that need no key or ledger, done before any work: what the request asks for
/// and how big the token is are bounded.
pub(crate) fn check_request(
    token: &Macaroon,
    kind: SpendKind,
    requested: &[u64],
    request_id: Option<&str>,
) -> Result<(), Error> {
    if let Some(id) = request_id {
        limits::check_request_id(id)?;
    }
    if kind == SpendKind::Spend && requested.first() == Some(&0) {
        return Err(Error::Invalid(Invalid::ZeroCost));
    }
    for &amount in requested {
        limits::check_amount(if kind == SpendKind::Spend { "cost" } else { "amount" }, amount)?;
    }
    if requested.len() + 1 > limits::MAX_SPLIT_CHILDREN {
        return Err(LimitError::new(
            "too-many-children",
            format!("a split makes at most {} children, the remainder included", limits::MAX_SPLIT_CHILDREN),
        )
        .into());
    }
    let windows = token.caveats.iter().filter(|c| c.vid.is_none() && c.id.starts_with(b"spend-rate ")).count();
    if windows > crate::ledger::window::MAX_WINDOWS {
        return Err(LimitError::new(
            "too-many-windows",
            format!(
                "this token carries {windows} spend-rate caveats; a token that is spent or split may carry at most {}",
                crate::ledger::window::MAX_WINDOWS
            ),
        )
        .into());
    }
    let caveat_bytes: usize = token
        .caveats
        .iter()
        .map(|c| c.id.len() + c.vid.as_ref().map_or(0, |v| v.len()) + c.location.as_ref().map_or(0, |l| l.len()))
        .sum();
    if caveat_bytes > limits::MAX_SPENDABLE_CAVEAT_BYTES {
        return Err(LimitError::new(
            "token-too-large-to-spend",
            format!(
                "this token carries {caveat_bytes} bytes of caveats; a token that is spent or split may carry at most {} (its successors copy them)",
                limits::MAX_SPENDABLE_CAVEAT_BYTES
            ),
        )
        .into());
    }
    Ok(())
}

/// Spends `ctx.cost` from `token`.
pub async fn spend(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: Presented,
    ctx: &Context,
    request_id: Option<&str>,
) -> Result<Receipt, Error> {
    let ask = Ask { kind: SpendKind::Spend, requested: &[ctx.cost], request_id, revocable: false };
    consume(verifier, ledger, presented, ctx, ask).await
}

/// A split as asked: the amounts handed out (the remainder comes on top), the request id a
/// retry names, and whether the children but the remainder are delegations the splitting
/// lineage may revoke ([`crate::delegation::revoke`]) rather than transfers (final).
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitRequest<'a> {
    pub amounts: &'a [u64],
    pub request_id: Option<&'a str>,
    pub revocable: bool,
}

/// Splits `token`'s balance into `split.amounts` plus a remainder child.
pub async fn split(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: Presented,
    ctx: &Context,
    split: SplitRequest<'_>,
) -> Result<Receipt, Error> {
    let ctx = split_context(ctx, split.amounts)?;
    let ask = Ask {
        kind: SpendKind::Split,
        requested: split.amounts,
        request_id: split.request_id,
        revocable: split.revocable,
    };
    consume(verifier, ledger, presented, &ctx, ask).await
}

/// What a spend or split asks of the ledger, besides the token: the kind, the amounts (a
/// spend's cost, or a split's amounts), the request id a retry names, and for a split whether
/// its children are delegations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ask<'a> {
    kind: SpendKind,
    requested: &'a [u64],
    request_id: Option<&'a str>,
    revocable: bool,
}

/// A split is a transfer, not a request: it asks for no request facts, and every caveat
/// about requests travels to the children unchanged.
fn split_context(ctx: &Context, amounts: &[u64]) -> Result<Context, Error> {
    if amounts.is_empty() || amounts.contains(&0) {
        return Err(Error::Invalid(Invalid::NoAmounts));
    }
    let mut ctx = ctx.clone();
    ctx.cost = 0;
    ctx.purpose = crate::context::Purpose::Transfer;
    Ok(ctx)
}

/// The balances to issue: a spend's remainder, or a split's amounts plus its remainder.
fn plan(kind: SpendKind, balance: u64, requested: &[u64]) -> Result<Vec<u64>, Error> {
    // Whatever a ledger records must read back as written (a signed 64-bit column).
    limits::check_amount("balance", balance)?;
    let total = requested.iter().try_fold(0u64, |acc, &a| acc.checked_add(a));
    match (kind, total) {
        (_, Some(total)) if total <= balance => Ok(match kind {
            SpendKind::Spend | SpendKind::GiveBack => vec![balance - total],
            SpendKind::Split => requested.iter().copied().chain([balance - total]).collect(),
        }),
        _ => Err(denied(
            DenialCode::InsufficientBalance,
            format!(
                "the balance is {balance}, less than the {} requested",
                total.map_or("overflowing".into(), |t| t.to_string())
            ),
        )),
    }
}

/// A spend or split verified and planned, its successors derived: all that is left is the
/// ledger's word ([`conclude`] turns it into the receipt).
pub struct Prepared {
    /// The verified token (a replay is answered only to it).
    token: Macaroon,
    entry: KeyEntry,
    nonce: Nonce,
    request_id: String,
    kind: SpendKind,
    requested: Vec<u64>,
    cost: u64,
    children: Vec<Issued>,
    at: String,
    reservation: Reservation,
    commit: Commit,
    revocable: bool,
    credit: u64,
}

impl Prepared {
    pub fn reservation(&self) -> &Reservation {
        &self.reservation
    }
    pub fn commit(&self) -> &Commit {
        &self.commit
    }
}

/// Why a spend could not be prepared.
pub(crate) enum Unprepared {
    /// The request itself is wrong (no ledger could change that).
    Invalid(Error),
    /// The token did not verify for the request.
    Rejected(Box<crate::verify::Rejected>),
    /// It verified, but cannot pay (no balance, too little): unless it was consumed already.
    Unpayable(Nonce, Error),
}

/// Everything a spend or split does before the ledger: bounds, verification, the balance
/// arithmetic and the successors. No ledger read or write.
pub(crate) fn prepare(
    verifier: &Verifier<'_>,
    presented: Presented,
    ctx: &Context,
    ask: Ask<'_>,
    credit: u64,
) -> Result<Prepared, Unprepared> {
    let Presented { token, discharges } = presented;
    let Ask { kind, requested, request_id, revocable } = ask;
    let Some(id) = token.token_id() else {
        return Err(Unprepared::Invalid(Error::Invalid(Invalid::NotTracked)));
    };
    check_request(&token, kind, requested, request_id).map_err(Unprepared::Invalid)?;
    let request_id = match request_id {
        Some(r) => r.to_owned(),
        None => fresh_request_id().map_err(Unprepared::Invalid)?,
    };
    let cost = if kind == SpendKind::Spend { ctx.cost } else { 0 };
    let at = caveat::rfc3339(ctx.now.replace_nanosecond(0).unwrap_or(ctx.now));
    let ctx = &*windows_counted(&token, ctx);
    let verified = verifier.verify(token, discharges, ctx).map_err(Unprepared::Rejected)?;
    let unpayable = |e| Unprepared::Unpayable(id.nonce, e);
    let entry = key_entry(verifier, verified.token()).map_err(unpayable)?;
    let reservation = Reservation::new(&verified, &request_id, ctx.now.unix_timestamp(), ONE_SHOT_HOLD)
        .expect("a token with an identifier has a nonce")
        .holding(cost);
    let balance = verified
        .balance()
        .ok_or_else(|| denied(DenialCode::InsufficientBalance, "this token carries no balance to spend"));
    // The successors are derived before the ledger is touched (they depend only on the parent,
    // the request and the key), so the hold and the record are one step: reserve and settle
    // in one transaction.
    let mut claim = CreditClaim::default();
    let children = balance
        .and_then(|b| plan(kind, b, requested))
        .map(|balances| {
            let (balances, taken) = with_credit(balances, credit);
            claim = taken;
            balances
        })
        .and_then(|balances| issue(entry, verified.token(), id.nonce, &request_id, &balances))
        .map_err(unpayable)?;
    let commit = Commit {
        parent: id.nonce,
        request_id: request_id.clone(),
        kind,
        cost,
        children: children.iter().map(|c| (c.nonce, c.balance)).collect(),
        at: at.clone(),
        presented: presented_fingerprint(verified.token()),
        revocable: revocable && kind == SpendKind::Split,
        credit: Some(claim),
        windows: reservation.windows().to_vec(),
    };
    Ok(Prepared {
        token: verified.token().clone(),
        entry: entry.clone(),
        nonce: id.nonce,
        request_id,
        kind,
        requested: requested.to_vec(),
        cost,
        children,
        at,
        reservation,
        commit,
        revocable: revocable && kind == SpendKind::Split,
        credit: claim.take,
    })
}

/// The balances with the returned credit `owed` added to the last (the change), as much of it
/// as fits under [`limits::MAX_AMOUNT`] ([`CreditClaim::fitting`]), and the claim that says so.
fn with_credit(mut balances: Vec<u64>, owed: u64) -> (Vec<u64>, CreditClaim) {
    let Some(last) = balances.last_mut() else { return (balances, CreditClaim { owed, take: 0 }) };
    let claim = CreditClaim::fitting(owed, *last);
    *last += claim.take;
    (balances, claim)
}

/// The receipt for a prepared spend, given what the ledger did with its commit.
pub fn conclude(prepared: Prepared, outcome: CommitOutcome) -> Result<Receipt, Error> {
    let p = prepared;
    let (kind, requested, revocable) = (p.kind, p.requested, p.revocable);
    receipt_for(
        outcome,
        || Receipt {
            parent: p.nonce,
            request_id: p.request_id.clone(),
            kind,
            cost: p.cost,
            children: p.children,
            replayed: false,
            at: p.at,
            revocable,
            credit: p.credit,
        },
        |spent| {
            replay(|| Ok(&p.entry), &p.token, p.nonce, &p.request_id, kind, Asked::Amounts(&requested), spent)
                .map(|r| Receipt { revocable, ..r })
        },
    )
}

/// The one reading of what the ledger did with a commit or settle: the `fresh` receipt it
/// earned, the recorded one `again` for a retry, or the refusal. (Credit that came back to the
/// lineage meanwhile reads as in flight: the caller prepares again with it.)
pub(crate) fn receipt_for(
    outcome: CommitOutcome,
    fresh: impl FnOnce() -> Receipt,
    again: impl FnOnce(Spent) -> Result<Receipt, Error>,
) -> Result<Receipt, Error> {
    match outcome {
        CommitOutcome::Fresh => Ok(fresh()),
        CommitOutcome::AlreadySpent(spent) => again(spent),
        CommitOutcome::Revoked(_) => Err(revoked()),
        CommitOutcome::RateLimited(r) => Err(Error::Denied(r.denial())),
        CommitOutcome::ReservationLost | CommitOutcome::InFlight | CommitOutcome::CreditChanged(_) => Err(in_flight()),
    }
}

async fn consume(
    verifier: &Verifier<'_>,
    ledger: &dyn Ledger,
    presented: Presented,
    ctx: &Context,
    ask: Ask<'_>,
) -> Result<Receipt, Error> {
    let Ask { kind, requested, request_id, .. } = ask;
    // A random request id is drawn once: a retry below for credit is the same request. (Only
    // a named id is ever answered again: see the expired retry below.)
    let drawn = match request_id {
        Some(r) => r.to_owned(),
        None => fresh_request_id()?,
    };
    // Returned credit owed to this lineage goes into the change. Most spends find none, so the
    // first attempt claims none; the ledger refuses a claim that is not what is owed, and says
    // what is (a give-back or a revocation may land between two attempts).
    let mut credit = 0;
    let mut attempts = 0;
    let result = loop {
        attempts += 1;
        let prepared = prepare(verifier, presented.clone(), ctx, Ask { request_id: Some(&drawn), ..ask }, credit);
        match prepared {
            Ok(prepared) => match commit_waiting(ledger, &prepared.reservation, &prepared.commit).await? {
                CommitOutcome::CreditChanged(owed) if attempts < 8 => credit = owed,
                outcome => {
                    let mut receipt = conclude(prepared, outcome)?;
                    // A replayed split says what its children are, as recorded: delegations or
                    // transfers, whatever this retry asked.
                    if receipt.replayed && receipt.kind == SpendKind::Split {
                        if let Some(first) = receipt.children.first() {
                            receipt.revocable = ledger.info(&first.nonce).await?.revocable;
                        }
                    }
                    return Ok(receipt);
                }
            },
            Err(e) => break e,
        }
    };
    match result {
        Unprepared::Invalid(e) => Err(e),
        // A consumed token is refused as such before its balance is judged.
        Unprepared::Unpayable(nonce, e) => Err(standing_first(ledger, &nonce).await.unwrap_or(e)),
        Unprepared::Rejected(rejected) => {
            // A retry after the spend committed, by the token that made it, which has expired
            // since: answer it from the ledger rather than lose the change. Any other failure
            // (a caveat that refuses this request, a bad discharge) gets no successor.
            if rejected.report.only_expired {
                let nonce = rejected.token.token_id().expect("checked before verifying").nonce;
                let status = ledger.status(&nonce).await?;
                if status.revoked_at.is_some() {
                    return Err(revoked());
                }
                // Only a retry that names its request id is answered again.
                if let (Some(spent), Some(request_id)) = (status.spent, request_id) {
                    let entry = || key_entry(verifier, &rejected.token);
                    return replay(entry, &rejected.token, nonce, request_id, kind, Asked::Amounts(requested), spent);
                }
            }
            let denial = Error::Denied(rejected.denial().clone());
            // A consumed token is refused as such before whatever else is wrong with it (a cost
            // above its balance, a caveat this request fails) — once its signature holds: a
            // forgery learns nothing of the ledger.
            match rejected.token.token_id() {
                Some(id) if rejected.report.signature_valid => {
                    Err(standing_first(ledger, &id.nonce).await.unwrap_or(denial))
                }
                _ => Err(denial),
            }
        }
    }
}

/// The ledger's refusal of a consumed or revoked token, if it has one (for errors found
/// before the ledger was asked, which must not hide that the token is spent).
pub(crate) async fn standing_first(ledger: &dyn Ledger, nonce: &Nonce) -> Option<Error> {
    let status = ledger.status(nonce).await.ok()?;
    match (status.revoked_at, status.spent) {
        (Some(_), _) => Some(revoked()),
        (None, Some(_)) => Some(already_spent()),
        _ => None,
    }
}

/// Commits, waiting a little while another one-shot use holds the token: such holds last
/// milliseconds, and the wait turns a client's racing retry into the replay it expects.
async fn commit_waiting(
    ledger: &dyn Ledger,
    reservation: &Reservation,
    commit: &Commit,
) -> Result<CommitOutcome, Error> {
    let mut backoff = crate::backoff::Backoff::exponential(
        std::time::Duration::from_millis(2),
        2,
        std::time::Duration::from_millis(100),
    )
    .until(std::time::Instant::now() + IN_FLIGHT_WAIT);
    loop {
        match ledger.commit(reservation, commit).await? {
            CommitOutcome::InFlight if backoff.pause().await => {}
            other => return Ok(other),
        }
    }
}

pub(crate) fn key_entry<'k>(verifier: &Verifier<'k>, token: &Macaroon) -> Result<&'k KeyEntry, Error> {
    verifier.keys().key_for(&token.identifier).map_err(|e| denied(DenialCode::of_key_error(&e), e.to_string()))
}

/// What a retry must ask again to be answered with the recorded successors.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Asked<'a> {
    /// A spend's cost (one amount) or a split's amounts: exactly as recorded.
    Amounts(&'a [u64]),
    /// A metered request's: its charge was measured at settle, so any cost up to the hold.
    AnyCost,
}

/// Answers a token the ledger already consumed: the same successors if this is the same
/// request retried by the same token, otherwise only that it is spent (not when, nor by which
/// request: a copy's holder has no business knowing what the other holder did; and not that
/// only the request id differed, which would let whoever holds a copy of a spent token test
/// request ids or idempotency keys one by one until it found the requester's, and with it the
/// change). The one replay path of spends, splits and metered requests. `entry` is looked up
/// only for a retry that is answered.
pub(crate) fn replay<'k>(
    entry: impl FnOnce() -> Result<&'k KeyEntry, Error>,
    token: &Macaroon,
    nonce: Nonce,
    request_id: &str,
    kind: SpendKind,
    asked: Asked<'_>,
    spent: Spent,
) -> Result<Receipt, Error> {
    let same_parameters = match (kind, asked) {
        (_, Asked::AnyCost) => true,
        (SpendKind::Spend, Asked::Amounts(requested)) => requested.first() == Some(&spent.cost),
        (SpendKind::GiveBack, _) => false,
        (SpendKind::Split, Asked::Amounts(requested)) => {
            spent.amounts.len() == requested.len() + 1 && spent.amounts[..requested.len()] == *requested
        }
    };
    let same_presenter = spent.presented.is_some_and(|p| p == presented_fingerprint(token));
    if !same_presenter || spent.request_id != request_id || spent.kind != kind || !same_parameters {
        return Err(already_spent());
    }
    let children = issue(entry()?, token, nonce, request_id, &spent.amounts)?;
    Ok(Receipt {
        parent: nonce,
        request_id: request_id.into(),
        kind,
        cost: spent.cost,
        children,
        replayed: true,
        at: spent.at,
        revocable: false,
        credit: 0,
    })
}

/// A child's nonce: unpredictable without the root key, the same on every retry.
pub(crate) fn child_nonce(entry: &KeyEntry, parent: Nonce, request_id: &str, index: usize) -> Nonce {
    let mut msg = Vec::with_capacity(64 + request_id.len());
    msg.extend_from_slice(b"crumb child nonce v1\0");
    msg.extend_from_slice(&parent.0);
    msg.extend_from_slice(&(index as u64).to_be_bytes());
    msg.extend_from_slice(request_id.as_bytes());
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&chain::hmac_secret(entry.key.expose(), &msg)[..16]);
    Nonce(nonce)
}

fn is_balance_caveat(predicate: &[u8]) -> bool {
    matches!(std::str::from_utf8(predicate).ok().map(caveat::parse), Some(Ok(Caveat::Balance(_))))
}

/// Mints one child per balance, each keeping every caveat of `parent` but its balances.
pub(crate) fn issue(
    entry: &KeyEntry,
    parent: &Macaroon,
    parent_nonce: Nonce,
    request_id: &str,
    balances: &[u64],
) -> Result<Vec<Issued>, Error> {
    balances
        .iter()
        .enumerate()
        .map(|(index, &balance)| {
            let nonce = child_nonce(entry, parent_nonce, request_id, index);
            let id = TokenId::new(&entry.id, nonce);
            let mut child = Macaroon::mint(&entry.key, id.encode(), parent.location.clone());
            let mut parent_sig: Sig =
                chain::hmac_secret(chain::derive_key(entry.key.expose()).as_ref(), &parent.identifier);
            for c in &parent.caveats {
                match &c.vid {
                    None => {
                        if !is_balance_caveat(&c.id) {
                            child.add_first_party(c.id.clone());
                        }
                        parent_sig = chain::first_party(&parent_sig, &c.id);
                    }
                    Some(vid) => {
                        // Re-seal the caveat key under the child's chain: the third party and
                        // its discharges stay the same (holders re-bind them to the child).
                        let derived = chain::open_caveat_key(&parent_sig, vid).ok_or_else(|| {
                            denied(DenialCode::InvalidDischarge, "a third-party caveat's key does not open")
                        })?;
                        let mut vid_nonce = [0u8; chain::VID_NONCE_LEN];
                        vid_nonce.copy_from_slice(&chain::hmac(&child.signature, b"crumb vid nonce v1")[..24]);
                        child.add_third_party_derived(&derived, c.id.clone(), c.location.clone(), &vid_nonce);
                        parent_sig = chain::third_party(&parent_sig, vid, &c.id);
                    }
                }
            }
            child.add_first_party(Caveat::Balance(balance).to_string());
            Ok(Issued { token: child, nonce, balance })
        })
        .collect()
}
