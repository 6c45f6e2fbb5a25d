//! The issuer: keys, ledger and clock in one place, and the one way every adapter — the CLI,
//! each HTTP route — verifies, spends, splits, revokes and reads lineage.
//!
//! No adapter composes "verify, then consult the ledger" itself: [`Issuer::verify`] does, and
//! returns one serializable [`Verdict`]; spends and splits return the library's
//! [`crate::spend::Receipt`]. The ledger is an `Arc<dyn Ledger>`, so the same issuer runs on
//! the embedded SQLite file or on PostgreSQL. Every operation that reads or writes the ledger is
//! an `async fn` with one signature: the server awaits it (no thread is held while a commit
//! waits for its fsync), the CLI waits on it ([`crate::ledger::Wait`]). How the ledger runs it
//! is the backend's business ([`crate::ledger::pending`]).

use crate::charge::{Held, Hold};
use crate::context::Context;
use crate::denial::Denial;
use crate::error::{Error, Invalid, LedgerError};
use crate::keyring::Keyring;
use crate::ledger::{self, Ledger, Lineage, Scope};
use crate::limits::MAX_LINEAGE_NODES;
use crate::presented::Presented;
use crate::revoke::Revocation;
use crate::spend::Receipt;
use crate::token::identifier::Nonce;
use crate::token::Macaroon;
use crate::verify::{Report, Verifier};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

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
    exact: crate::verify::ExactPredicates,
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
            exact: Default::default(),
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
            exact: Default::default(),
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
        self.exact = std::sync::Arc::new(predicates.into_iter().collect());
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
    pub async fn readiness(&self) -> Readiness {
        let keys = match self.keys.load().current() {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        let ledger = match self.ledger.as_deref() {
            Some(ledger) => ledger.ready().await.err().map(|e| e.to_string()),
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
        f(&self.verifier_over(&keys))
    }

    /// The verifier every operation uses, over `keys` (one consistent set, loaded once per
    /// operation: an async one keeps it across its awaits).
    fn verifier_over<'k>(&self, keys: &'k Keyring) -> Verifier<'k> {
        Verifier::new(keys).with_exact_set(self.exact.clone()).only_exact(self.only_exact)
    }

    fn ledger_or_usage(&self) -> Result<&dyn Ledger, Error> {
        self.ledger.as_deref().ok_or_else(|| Error::Invalid(Invalid::NoLedger))
    }

    /// Verifies `token` for the request in `ctx` and, when its signature holds, consults its
    /// standing in the ledger: a spent or revoked token is refused for that reason first.
    /// `explain` adds every caveat's verdict.
    pub async fn verify(&self, presented: &Presented, ctx: &Context, explain: bool) -> Result<Verdict, LedgerError> {
        let (token, discharges) = (&presented.token, presented.discharges.as_slice());
        let mut report = self.with_verifier(|v| v.check(token, discharges, ctx));
        let nonce = token.token_id().map(|id| id.nonce);
        if let (true, Some(ledger), Some(nonce)) = (report.signature_valid, &self.ledger, nonce) {
            if let Some(denial) = ledger::standing(ledger.as_ref(), &nonce).await? {
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

    /// Spends `ctx.cost` from `token`: verify, issue the successor, commit (one write).
    pub async fn spend(&self, presented: Presented, ctx: &Context, request_id: Option<&str>) -> Result<Receipt, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        crate::spend::spend(&self.verifier_over(&keys), ledger, presented, ctx, request_id).await
    }

    /// Splits `token`'s balance into `split.amounts` and a remainder: verify, issue, commit.
    pub async fn split(
        &self,
        presented: Presented,
        ctx: &Context,
        split: crate::spend::SplitRequest<'_>,
    ) -> Result<Receipt, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        let verifier = self.verifier_over(&keys);
        crate::spend::split(&verifier, ledger, presented, ctx, split).await
    }

    /// Returns `token`'s whole balance to the lineage it was split from ([`crate::delegation`]).
    pub async fn give_back(
        &self,
        presented: Presented,
        ctx: &Context,
        request_id: Option<&str>,
    ) -> Result<crate::delegation::GiveBackReceipt, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        crate::delegation::give_back(&self.verifier_over(&keys), ledger, presented, ctx, request_id).await
    }

    /// Tops up the lineage of the token `nonce` by `amount` on the operator's own ledger (the
    /// CLI: whoever opens the ledger is its operator).
    pub async fn top_up_local(
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
        crate::delegation::top_up(self.ledger_or_usage()?, &t).await
    }

    /// Tops up on an operator credential (the JSON API's `POST /v1/top-up`).
    pub async fn top_up(
        &self,
        presented: &Presented,
        ctx: &Context,
        nonce: Nonce,
        amount: u64,
        request_id: &str,
    ) -> Result<crate::delegation::TopUpReceipt, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        let t = crate::ledger::TopUp {
            nonce,
            amount,
            request_id: request_id.to_owned(),
            at: crate::caveat::rfc3339(self.clock.now()),
        };
        let verifier = self.verifier_over(&keys);
        crate::delegation::top_up_as_operator(&verifier, ledger, presented, ctx, &t).await
    }

    /// The token's standing in the ledger and what it delegated ([`crate::delegation::status`]).
    pub async fn status(&self, presented: &Presented, ctx: &Context) -> Result<crate::delegation::TokenStatus, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        crate::delegation::status(&self.verifier_over(&keys), ledger, presented, ctx).await
    }

    /// Holds `token` for a request whose price is `ctx.cost` (at least 1) while the request
    /// is in flight, for `ttl` at most; or answers a retry of a settled one
    /// ([`crate::charge`] has the rules). Dropped before it answers, it leaves no hold behind
    /// (the ledger releases a hold nobody received).
    pub async fn hold(
        &self,
        presented: Presented,
        ctx: &Context,
        request_id: &str,
        ttl: std::time::Duration,
    ) -> Result<Held, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        let verifier = self.verifier_over(&keys);
        crate::charge::hold(&verifier, ledger, presented, ctx, request_id, ttl).await
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
    pub async fn settle(&self, hold: Hold, cost: u64) -> Result<Receipt, Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        crate::charge::settle(&self.verifier_over(&keys), ledger, hold, cost).await
    }

    /// Gives a held token back untouched.
    pub async fn release(&self, hold: Hold) -> Result<(), Error> {
        crate::charge::release(self.ledger_or_usage()?, hold).await
    }

    /// Revokes on a presented credential: the live token itself (possession), or with an
    /// operator credential any `target`, as far as `reach` says ([`crate::revoke`] has the
    /// rules).
    pub async fn revoke(
        &self,
        presented: &Presented,
        ctx: &Context,
        target: Option<Nonce>,
        reach: crate::revoke::Reach,
    ) -> Result<Revocation, Error> {
        let cascade = reach.cascade;
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        let verifier = &self.verifier_over(&keys);
        let at = crate::caveat::rfc3339(self.clock.now());
        let credential = &presented.token;
        let own = credential.token_id().map(|id| id.nonce);
        let operator = crate::token::identifier::TokenId::role_of(&credential.identifier)
            == Some(crate::token::identifier::Role::Operator);
        match (target, cascade) {
            (None, false) => crate::revoke::by_possession(verifier, ledger, presented, ctx, &at).await,
            (Some(t), false) if Some(t) == own && !operator => {
                crate::revoke::by_possession(verifier, ledger, presented, ctx, &at).await
            }
            // A holder naming another nonce: a delegation of its lineage, or nothing.
            (Some(child), false) if !operator => {
                crate::delegation::revoke(verifier, ledger, presented, ctx, child, &at).await
            }
            (target, _) => {
                let target = target
                    .or_else(|| credential.token_id().map(|id| id.nonce))
                    .ok_or_else(|| Error::Invalid(Invalid::NoTarget("revoke")))?;
                crate::revoke::as_operator(verifier, ledger, presented, ctx, target, reach, &at).await
            }
        }
    }

    /// Revokes `target` as the ledger's owner (the local `crumb revoke`, which writes the
    /// ledger directly and so is the operator).
    /// A nonce the ledger has never seen is refused (`unknown-token`) unless `unseen` (a token
    /// minted and never used, revoked before its first use).
    pub async fn revoke_as_owner(&self, target: Nonce, cascade: bool, unseen: bool) -> Result<Revocation, Error> {
        let at = crate::caveat::rfc3339(self.clock.now());
        let ledger = self.ledger_or_usage()?;
        if !unseen && !ledger.info(&target).await?.known {
            return Err(Error::Invalid(Invalid::UnknownToken(target)));
        }
        let revoked = ledger.revoke(&target, cascade, &at).await?;
        Ok(Revocation { nonce: target, revoked, returned: None })
    }

    /// The part of a tree `credential` may read ([`crate::lineage::view`]).
    pub async fn lineage(
        &self,
        presented: &Presented,
        ctx: &Context,
        target: Option<Nonce>,
    ) -> Result<(Nonce, Lineage), Error> {
        let (keys, ledger) = (self.keys.load_full(), self.ledger_or_usage()?);
        crate::lineage::view(&self.verifier_over(&keys), ledger, presented, ctx, target).await
    }

    /// The whole tree of `target`, as the ledger's owner reads it (the local `crumb lineage`).
    /// A nonce the ledger has never seen is refused (`unknown-token`): it has no tree.
    pub async fn lineage_as_owner(&self, target: Nonce) -> Result<Lineage, Error> {
        let ledger = self.ledger_or_usage()?;
        if !ledger.info(&target).await?.known {
            return Err(Error::Invalid(Invalid::UnknownToken(target)));
        }
        Ok(ledger.lineage(&target, MAX_LINEAGE_NODES, Scope::WholeTree).await?)
    }

    /// Whether the ledger has a record of `nonce` (see [`crate::ledger::TokenInfo::known`]).
    pub async fn knows(&self, nonce: &Nonce) -> Result<bool, Error> {
        Ok(self.ledger_or_usage()?.info(nonce).await?.known)
    }
}
