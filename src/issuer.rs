//! The issuer: keys, ledger and clock in one place, and the one way every adapter — the CLI,
//! each HTTP route — verifies, spends, splits, revokes and reads lineage.
//!
//! No adapter composes "verify, then consult the ledger" itself: [`Issuer::verify`] does, and
//! returns one serializable [`Verdict`]; spends and splits return the library's
//! [`crate::spend::Receipt`]. The ledger is an `Arc<dyn Ledger>`, so the same issuer runs on
//! the embedded SQLite file or on PostgreSQL. Every method blocks (the ledger is a blocking
//! port): async callers run them through one blocking boundary.

use crate::charge::{Held, Hold, PreparedHold, PreparedSettle};
use crate::context::Context;
use crate::error::{Error, Invalid, LedgerError};
use crate::keyring::Keyring;
use crate::ledger::{self, Ledger, Lineage, Scope, SpendKind};
use crate::limits::MAX_LINEAGE_NODES;
use crate::revoke::Revocation;
use crate::spend::Receipt;
use crate::token::identifier::Nonce;
use crate::token::Macaroon;
use crate::verify::{Denial, Report, Verifier};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// A hold whose reserve the ledger has decided ([`Issuer::hold_queued`]).
pub struct QueuedHold {
    prepared: PreparedHold,
    reserved: Result<crate::ledger::Reserved, LedgerError>,
}

/// A settle whose record the ledger has written, or failed to ([`Issuer::settle_queued`]).
pub struct QueuedSettle {
    prepared: PreparedSettle,
    outcome: Result<crate::ledger::CommitOutcome, LedgerError>,
}

/// Where "now" comes from: the system, or a fixed instant (`crumb verify --at`, tests).
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(OffsetDateTime),
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Fixed(at) => *at,
        }
    }
}

/// What [`Issuer::readiness`] found: `None` for each check that passed, else why it failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The keyring has a current key.
    pub keys: Option<String>,
    /// The ledger answers and takes writes.
    pub ledger: Option<String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.keys.is_none() && self.ledger.is_none()
    }
}

/// The verdict on one token for one request: the shape of `crumb verify --json` and of
/// `POST /v1/verify`'s body.
/// A client reads a server's verdict back into this type (`crumb verify --server --json`).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verdict {
    pub allowed: bool,
    /// Why not: a stable reason code (`caveat-failed`, `spent`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub key_id: Option<String>,
    pub nonce: Option<String>,
    pub balance: Option<u64>,
    pub signature_valid: bool,
    /// True when no ledger was consulted: a spent or revoked token would pass.
    pub offline: bool,
    /// False when the token's identifier is not crumb's (another library minted it): no ledger
    /// records it, so it has no standing to check and can be neither spent nor revoked.
    /// (Read as false from a server too old to say.)
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub tracked: bool,
    /// The caveat that refused the request, as in `caveats` (`caveat` is always a caveat's text).
    #[serde(rename = "failed_caveat", skip_serializing_if = "Option::is_none")]
    pub caveat: Option<crate::shapes::CaveatVerdict>,
    /// Every caveat's verdict, when asked for (`explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveats: Option<Vec<crate::shapes::CaveatVerdict>>,
    /// The full report, for adapters that print it their own way (`--explain`).
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub report: Report,
}

impl Verdict {
    pub fn denial(&self) -> Option<&Denial> {
        self.report.denial.as_ref()
    }
}

/// Keys, ledger and clock, and the operations on them.
pub struct Issuer {
    /// Replaced whole by [`Issuer::replace_keys`] (a keyring rotated under a running server);
    /// each operation reads one consistent set.
    keys: arc_swap::ArcSwap<Keyring>,
    ledger: Option<Arc<dyn Ledger>>,
    clock: Clock,
    exact: Vec<Vec<u8>>,
    only_exact: bool,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ledger = self.ledger.as_ref().map_or("offline", |l| l.location());
        write!(f, "Issuer(ledger {ledger})")
    }
}

impl Issuer {
    /// An issuer that consults and writes `ledger`.
    pub fn new(keys: Keyring, ledger: Arc<dyn Ledger>) -> Self {
        Issuer {
            keys: arc_swap::ArcSwap::from_pointee(keys),
            ledger: Some(ledger),
            clock: Clock::System,
            exact: Vec::new(),
            only_exact: false,
        }
    }

    /// An issuer without a ledger: it verifies signature and caveats only (and says so), and
    /// refuses to spend, split, revoke or read lineage.
    pub fn offline(keys: Keyring) -> Self {
        Issuer {
            keys: arc_swap::ArcSwap::from_pointee(keys),
            ledger: None,
            clock: Clock::System,
            exact: Vec::new(),
            only_exact: false,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Caveats satisfied by exact string (libmacaroons' `satisfy_exact`), and whether nothing
    /// else is (`only`: the caveat language off).
    pub fn with_exact(mut self, predicates: Vec<Vec<u8>>, only: bool) -> Self {
        self.exact = predicates;
        self.only_exact = only;
        self
    }

    /// The keys in force now.
    pub fn keys(&self) -> Arc<Keyring> {
        self.keys.load_full()
    }

    /// Puts `keys` in force for every operation that starts from now on (one in progress
    /// finishes with the keys it started with): a retired key stops verifying at once.
    pub fn replace_keys(&self, keys: Keyring) {
        self.keys.store(Arc::new(keys));
    }

    pub fn ledger(&self) -> Option<&Arc<dyn Ledger>> {
        self.ledger.as_ref()
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// A request context at the issuer's "now", for the adapter to fill with facts.
    /// Whether this issuer can serve (a readiness probe): a current key to issue with, and a
    /// ledger that answers and takes writes. Each check that fails, with why.
    pub fn readiness(&self) -> Readiness {
        let keys = match self.keys.load().current() {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        let ledger = match self.ledger.as_deref() {
            Some(ledger) => ledger.ready().err().map(|e| e.to_string()),
            None => Some("no ledger".to_owned()),
        };
        Readiness { keys, ledger }
    }

    pub fn context(&self) -> Context {
        Context::at(self.clock.now())
    }

    /// Runs `f` with the verifier every operation uses, over the keys in force now.
    pub fn with_verifier<T>(&self, f: impl FnOnce(&Verifier<'_>) -> T) -> T {
        let keys = self.keys.load();
        f(&Verifier::new(&keys).with_exact(self.exact.iter().cloned()).only_exact(self.only_exact))
    }

    fn ledger_or_usage(&self) -> Result<&dyn Ledger, Error> {
        self.ledger.as_deref().ok_or_else(|| Error::Invalid(Invalid::NoLedger))
    }

    /// Verifies `token` for the request in `ctx` and, when its signature holds, consults its
    /// standing in the ledger: a spent or revoked token is refused for that reason first.
    /// `explain` adds every caveat's verdict.
    pub fn verify(
        &self,
        token: &Macaroon,
        discharges: &[Macaroon],
        ctx: &Context,
        explain: bool,
    ) -> Result<Verdict, LedgerError> {
        let mut report = self.with_verifier(|v| v.check(token, discharges, ctx));
        let nonce = token.token_id().map(|id| id.nonce);
        if let (true, Some(ledger), Some(nonce)) = (report.signature_valid, &self.ledger, nonce) {
            if let Some(denial) = ledger::standing(ledger.as_ref(), &nonce)? {
                report.denial = Some(denial);
            }
        }
        let denied = report.denial.is_some();
        let caveats = (explain || denied).then(|| crate::shapes::CaveatVerdict::all(&report, token, discharges));
        let caveat = report.denial.as_ref().and_then(|d| d.caveat).and_then(|(holder, index)| {
            let name = holder.name();
            caveats.iter().flatten().find(|c| c.index == index && c.holder == name).cloned()
        });
        Ok(Verdict {
            allowed: !denied,
            code: report.denial.as_ref().map(|d| d.code.as_str().to_owned()),
            message: report.denial.as_ref().map(|d| d.message.clone()),
            key_id: report.key_id.clone(),
            nonce: nonce.map(|n| n.to_string()),
            balance: crate::verify::balance_of(token),
            signature_valid: report.signature_valid,
            offline: self.ledger.is_none(),
            tracked: nonce.is_some(),
            caveat,
            caveats: if explain { caveats } else { None },
            report,
        })
    }

    /// Spends `ctx.cost` from `token`: reserve, issue the successor, settle.
    pub fn spend(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        request_id: Option<&str>,
    ) -> Result<Receipt, Error> {
        self.with_verifier(|v| crate::spend::spend(v, self.ledger_or_usage()?, token, discharges, ctx, request_id))
    }

    /// Splits `token`'s balance into `amounts` and a remainder: reserve, issue, settle. With
    /// `revocable`, the children but the remainder are delegations.
    pub fn split(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        amounts: &[u64],
        request_id: Option<&str>,
        revocable: bool,
    ) -> Result<Receipt, Error> {
        self.with_verifier(|v| {
            crate::spend::split_as(v, self.ledger_or_usage()?, token, discharges, ctx, amounts, request_id, revocable)
        })
    }

    /// Returns `token`'s whole balance to the lineage it was split from ([`crate::delegation`]).
    pub fn give_back(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        request_id: Option<&str>,
    ) -> Result<crate::delegation::GiveBackReceipt, Error> {
        self.with_verifier(|v| {
            crate::delegation::give_back(v, self.ledger_or_usage()?, token, discharges, ctx, request_id)
        })
    }

    /// Tops up the lineage of the token `nonce` by `amount` on the operator's own ledger (the
    /// CLI: whoever opens the ledger is its operator).
    pub fn top_up_local(
        &self,
        nonce: Nonce,
        amount: u64,
        request_id: &str,
    ) -> Result<crate::delegation::TopUpReceipt, Error> {
        let t = crate::ledger::TopUp {
            nonce,
            amount,
            request_id: request_id.to_owned(),
            at: crate::caveat::rfc3339(self.clock.now()),
        };
        crate::delegation::top_up(self.ledger_or_usage()?, &t)
    }

    /// Tops up on an operator credential (the JSON API's `POST /v1/top-up`).
    pub fn top_up(
        &self,
        credential: &Macaroon,
        discharges: &[Macaroon],
        ctx: &Context,
        nonce: Nonce,
        amount: u64,
        request_id: &str,
    ) -> Result<crate::delegation::TopUpReceipt, Error> {
        let ledger = self.ledger_or_usage()?;
        let t = crate::ledger::TopUp {
            nonce,
            amount,
            request_id: request_id.to_owned(),
            at: crate::caveat::rfc3339(self.clock.now()),
        };
        self.with_verifier(|v| crate::delegation::top_up_as_operator(v, ledger, credential, discharges, ctx, &t))
    }

    /// The token's standing in the ledger and what it delegated ([`crate::delegation::status`]).
    pub fn status(
        &self,
        token: &Macaroon,
        discharges: &[Macaroon],
        ctx: &Context,
    ) -> Result<crate::delegation::TokenStatus, Error> {
        self.with_verifier(|v| crate::delegation::status(v, self.ledger_or_usage()?, token, discharges, ctx))
    }

    /// Spends (`amounts` None) or splits like [`Issuer::spend`] and [`Issuer::split`], without
    /// blocking: the work before the ledger runs here (verification, arithmetic, successors;
    /// no ledger read), the commit is queued on the ledger's own writer, and `done` is called
    /// from that writer once the record is durable — so an async caller waits without holding
    /// a thread. When this path does not apply, `done` is dropped uncalled: the ledger has no
    /// writer of its own, or the request must consult the ledger first (a token that does
    /// not verify or cannot pay must be refused for being spent, if it is). The caller then
    /// uses the blocking methods, as it does when `done` answers `in-flight` (they wait).
    #[allow(clippy::too_many_arguments)]
    pub fn consume_queued(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        request_id: Option<&str>,
        amounts: Option<&[u64]>,
        revocable: bool,
        done: Box<dyn FnOnce(Result<Receipt, Error>) + Send>,
    ) {
        let Some(ledger) = &self.ledger else { return };
        let Ok(prepared) = self.with_verifier(|v| {
            crate::spend::prepare_consume(v, token, discharges, ctx, request_id, amounts, revocable)
        }) else {
            return;
        };
        let (reservation, commit) = (prepared.reservation().clone(), prepared.commit().clone());
        let finish = Box::new(move |outcome: Result<ledger::CommitOutcome, LedgerError>| {
            // Credit is owed to this lineage: `done` goes unanswered, and the caller takes the
            // blocking way, which issues the change with it.
            if let Ok(ledger::CommitOutcome::CreditChanged(_)) = outcome {
                return;
            }
            // A replayed split: the blocking way reads whether its children are delegations.
            if let (Ok(ledger::CommitOutcome::AlreadySpent(_)), SpendKind::Split) = (&outcome, prepared.commit().kind) {
                return;
            }
            done(outcome.map_err(Error::from).and_then(|o| crate::spend::conclude(prepared, o)));
        });
        // Handed back: this ledger has no writer to queue on; `done` goes unanswered.
        let _ = ledger.enqueue_commit(&reservation, &commit, finish);
    }

    /// Holds `token` for a request whose price is `ctx.cost` (at least 1) while the request
    /// is in flight, for `ttl` at most; or answers a retry of a settled one
    /// ([`crate::charge`] has the rules).
    pub fn hold(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        request_id: &str,
        ttl: std::time::Duration,
    ) -> Result<Held, Error> {
        self.with_verifier(|v| crate::charge::hold(v, self.ledger_or_usage()?, token, discharges, ctx, request_id, ttl))
    }

    /// The ledger request id of a gateway request ([`crate::charge::request_id`]).
    pub fn gateway_request_id(
        &self,
        token: &Macaroon,
        idempotency_key: Option<&str>,
        method: &str,
        target: &str,
    ) -> Result<String, Error> {
        crate::charge::request_id(&self.keys.load(), token, idempotency_key, method, target)
    }

    /// Settles a hold, charging `cost` (at most the price held; 0 for a failed request).
    pub fn settle(&self, hold: Hold, cost: u64) -> Result<Receipt, Error> {
        self.with_verifier(|v| crate::charge::settle(v, self.ledger_or_usage()?, hold, cost))
    }

    /// Gives a held token back untouched.
    pub fn release(&self, hold: Hold) -> Result<(), Error> {
        crate::charge::release(self.ledger_or_usage()?, hold)
    }

    /// Holds like [`Issuer::hold`], without blocking: verification runs here, the reserve is
    /// queued on the ledger's own writer, and `done` receives what [`Issuer::finish_hold`]
    /// turns into the [`Held`] answer. When this path does not apply, `done` is dropped
    /// uncalled and the caller uses [`Issuer::hold`]: the ledger has no writer of its own, or
    /// the token was not verified here (it may have to be refused as spent, which takes a
    /// ledger read).
    pub fn hold_queued(
        &self,
        token: Macaroon,
        discharges: Vec<Macaroon>,
        ctx: &Context,
        request_id: &str,
        ttl: std::time::Duration,
        done: Box<dyn FnOnce(QueuedHold) + Send>,
    ) {
        let Some(ledger) = &self.ledger else { return };
        let Ok(prepared) =
            self.with_verifier(|v| crate::charge::prepare_hold(v, token, discharges, ctx, request_id, ttl))
        else {
            return;
        };
        let reservation = prepared.reservation().clone();
        let finish = Box::new(move |reserved| done(QueuedHold { prepared, reserved }));
        // Handed back: this ledger has no writer to queue on; `done` goes unanswered.
        let _ = ledger.enqueue_reserve(&reservation, finish);
    }

    /// The answer of a queued hold ([`Issuer::hold_queued`]).
    pub fn finish_hold(&self, queued: QueuedHold) -> Result<Held, Error> {
        self.with_verifier(|v| crate::charge::conclude_hold(v, queued.prepared, queued.reserved?))
    }

    /// Settles like [`Issuer::settle`], without blocking: the successor is issued here, the
    /// record queued on the ledger's writer, and `done` receives, once it is durable, what
    /// [`Issuer::finish_settle`] turns into the receipt. The hold comes back when this path
    /// does not apply (no writer of its own, a successor that could not be issued): settle
    /// it with [`Issuer::settle`].
    #[must_use = "a hold handed back must still be settled"]
    pub fn settle_queued(&self, hold: Hold, cost: u64, done: Box<dyn FnOnce(QueuedSettle) + Send>) -> Option<Hold> {
        let Some(ledger) = &self.ledger else { return Some(hold) };
        let prepared = match self.with_verifier(|v| crate::charge::prepare_settle(v, hold, cost, 0)) {
            Ok(prepared) => prepared,
            Err(failed) => return Some(failed.0),
        };
        let (ticket, commit) = (*prepared.ticket(), prepared.commit().clone());
        // The prepared settle goes to the callback, or back to the caller if the ledger hands
        // the callback back unused: whichever takes it first.
        let slot = Arc::new(Mutex::new(Some(prepared)));
        let theirs = slot.clone();
        let finish = Box::new(move |outcome| {
            if let Some(prepared) = theirs.lock().unwrap_or_else(|p| p.into_inner()).take() {
                done(QueuedSettle { prepared, outcome });
            }
        });
        // Queued (`None`): `done` answers. Handed back: the hold goes back to the caller.
        let _unused_callback = ledger.enqueue_settle(&ticket, &commit, finish)?;
        let prepared = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        Some(prepared.expect("a callback handed back was never called").into_hold())
    }

    /// The receipt of a queued settle ([`Issuer::settle_queued`]). A ledger that failed leaves
    /// the token held until its hold lapses.
    pub fn finish_settle(&self, queued: QueuedSettle) -> Result<Receipt, Error> {
        self.with_verifier(|v| crate::charge::conclude_settle(v, queued.prepared, queued.outcome?))
    }

    /// A queued settle that wrote nothing because credit was returned to the token's lineage
    /// meanwhile hands its hold back: settle it with [`Issuer::settle`], which issues the
    /// successor with that credit.
    pub fn settle_again(&self, queued: QueuedSettle) -> Result<Hold, Box<QueuedSettle>> {
        match queued.outcome {
            Ok(ledger::CommitOutcome::CreditChanged(_)) => Ok(queued.prepared.into_hold()),
            _ => Err(Box::new(queued)),
        }
    }

    /// Revokes on a presented credential: the live token itself (possession), or with an
    /// operator credential any `target`, as far as `reach` says ([`crate::revoke`] has the
    /// rules).
    pub fn revoke(
        &self,
        credential: &Macaroon,
        discharges: &[Macaroon],
        ctx: &Context,
        target: Option<Nonce>,
        reach: crate::revoke::Reach,
    ) -> Result<Revocation, Error> {
        let cascade = reach.cascade;
        let ledger = self.ledger_or_usage()?;
        let at = crate::caveat::rfc3339(self.clock.now());
        let own = credential.token_id().map(|id| id.nonce);
        let operator = crate::token::identifier::TokenId::role_of(&credential.identifier)
            == Some(crate::token::identifier::Role::Operator);
        self.with_verifier(|verifier| match (target, cascade) {
            (None, false) => crate::revoke::by_possession(verifier, ledger, credential, discharges, ctx, &at),
            (Some(t), false) if Some(t) == own && !operator => {
                crate::revoke::by_possession(verifier, ledger, credential, discharges, ctx, &at)
            }
            // A holder naming another nonce: a delegation of its lineage, or nothing.
            (Some(child), false) if !operator => {
                crate::delegation::revoke(verifier, ledger, credential, discharges, ctx, child, &at)
            }
            (target, _) => {
                let target = target
                    .or_else(|| credential.token_id().map(|id| id.nonce))
                    .ok_or_else(|| Error::Invalid(Invalid::NoTarget("revoke")))?;
                crate::revoke::as_operator(verifier, ledger, credential, discharges, ctx, target, reach, &at)
            }
        })
    }

    /// Revokes `target` as the ledger's owner (the local `crumb revoke`, which writes the
    /// ledger directly and so is the operator).
    /// A nonce the ledger has never seen is refused (`unknown-token`) unless `unseen` (a token
    /// minted and never used, revoked before its first use).
    pub fn revoke_as_owner(&self, target: Nonce, cascade: bool, unseen: bool) -> Result<Revocation, Error> {
        let at = crate::caveat::rfc3339(self.clock.now());
        let ledger = self.ledger_or_usage()?;
        if !unseen && !ledger.info(&target)?.known {
            return Err(Error::Invalid(Invalid::UnknownToken(target)));
        }
        let revoked = ledger.revoke(&target, cascade, &at)?;
        Ok(Revocation { nonce: target, revoked, returned: None })
    }

    /// The part of a tree `credential` may read ([`crate::lineage::view`]).
    pub fn lineage(
        &self,
        credential: &Macaroon,
        discharges: &[Macaroon],
        ctx: &Context,
        target: Option<Nonce>,
    ) -> Result<(Nonce, Lineage), Error> {
        self.with_verifier(|v| crate::lineage::view(v, self.ledger_or_usage()?, credential, discharges, ctx, target))
    }

    /// The whole tree of `target`, as the ledger's owner reads it (the local `crumb lineage`).
    /// A nonce the ledger has never seen is refused (`unknown-token`): it has no tree.
    pub fn lineage_as_owner(&self, target: Nonce) -> Result<Lineage, Error> {
        let ledger = self.ledger_or_usage()?;
        if !ledger.info(&target)?.known {
            return Err(Error::Invalid(Invalid::UnknownToken(target)));
        }
        Ok(ledger.lineage(&target, MAX_LINEAGE_NODES, Scope::WholeTree)?)
    }

    /// Whether the ledger has a record of `nonce` (see [`crate::ledger::TokenInfo::known`]).
    pub fn knows(&self, nonce: &Nonce) -> Result<bool, Error> {
        Ok(self.ledger_or_usage()?.info(nonce)?.known)
    }
}
