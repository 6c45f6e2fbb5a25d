//! The verifier: one code path for the CLI, the server and spending.
//!
//! Order of work: pick the root key by the token's key id; recompute the HMAC chain over the
//! identifier and every caveat, opening each third-party caveat's sealed key and verifying its
//! discharge (bound to this root) on the way; compare the final signature in constant time;
//! then every caveat — of the token and of each discharge — must hold for the request.
//! A token passes only if all of that holds and every supplied discharge was used exactly once
//! (go-macaroon's strict rule: a stray discharge is suspicious, not harmless).

use crate::caveat::{self, Failure};
use crate::context::{Context, Purpose};
use crate::keyring::Keyring;
use crate::limits::{MAX_DISCHARGES, MAX_DISCHARGE_DEPTH};
use crate::token::chain::{self, Sig};
use crate::token::identifier::Nonce;
use crate::token::identifier::{Role, TokenId};
use crate::token::Macaroon;

pub use crate::denial::{Denial, DenialCode, Holder};

/// What satisfied a caveat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SatisfiedBy {
    /// An exact predicate string supplied by the verifier.
    Exact,
    /// crumb's own caveat language.
    Rule,
    /// A valid, bound discharge macaroon.
    Discharge(usize),
    /// Not checked: a transfer makes no request, and the children carry the caveat.
    Carried,
}

impl SatisfiedBy {
    /// `exact`, `rule` or `discharge N`.
    pub fn name(self) -> String {
        match self {
            SatisfiedBy::Exact => "exact".into(),
            SatisfiedBy::Rule => "rule".into(),
            SatisfiedBy::Discharge(i) => format!("discharge {i}"),
            SatisfiedBy::Carried => "carried".into(),
        }
    }
}

/// The verdict on one caveat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaveatOutcome {
    pub holder: Holder,
    pub index: usize,
    /// `expires`, `action`, …, `third-party`, or `unknown`.
    pub kind: &'static str,
    pub result: Result<SatisfiedBy, Failure>,
}

/// Everything verification found, for `--explain` and JSON.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub key_id: Option<String>,
    pub signature_valid: bool,
    pub caveats: Vec<CaveatOutcome>,
    pub denial: Option<Denial>,
    /// True when the signature holds and the only failures are `expires` caveats: the token
    /// was good and time has passed. Only such a token may be answered from the ledger as a
    /// retry of a spend it made (see [`crate::spend`]).
    pub only_expired: bool,
}

/// A caveat's text for display: UTF-8 as is, other bytes as `0x` hex.
pub fn caveat_text(token: &Macaroon, discharges: &[Macaroon], holder: Holder, index: usize) -> String {
    let m = match holder {
        Holder::Root => token,
        Holder::Discharge(i) => &discharges[i],
    };
    let id = &m.caveats[index].id;
    std::str::from_utf8(id).map(str::to_owned).unwrap_or_else(|_| format!("0x{}", hex::encode(id)))
}

/// A token whose signature, caveats and discharges all held for one request.
/// Only the verifier makes these, so only verified tokens reach the ledger.
#[derive(Debug)]
pub struct Verified {
    token: Macaroon,
    discharges: Vec<Macaroon>,
    report: Report,
}

impl Verified {
    pub fn token(&self) -> &Macaroon {
        &self.token
    }
    pub fn discharges(&self) -> &[Macaroon] {
        &self.discharges
    }
    pub fn report(&self) -> &Report {
        &self.report
    }
    pub fn nonce(&self) -> Option<Nonce> {
        self.token.token_id().map(|id| id.nonce)
    }
    /// The effective balance: the smallest `balance <=` caveat of the token, if any.
    pub fn balance(&self) -> Option<u64> {
        balance_of(&self.token)
    }
}

/// The effective balance of a (possibly unverified) token: the smallest `balance <=` caveat.
pub fn balance_of(token: &Macaroon) -> Option<u64> {
    token
        .first_party_texts()
        .filter_map(|t| std::str::from_utf8(t).ok())
        .filter_map(|t| match caveat::parse(t) {
            Ok(caveat::Caveat::Balance(n)) => Some(n),
            _ => None,
        })
        .min()
}

/// A token that did not pass, with the reasons.
#[derive(Debug)]
pub struct Rejected {
    pub token: Macaroon,
    pub report: Report,
}

impl Rejected {
    pub fn denial(&self) -> &Denial {
        self.report.denial.as_ref().expect("a rejection always carries its denial")
    }
}

/// Checks tokens against a keyring and the caveat predicates it accepts.
pub struct Verifier<'k> {
    keys: &'k Keyring,
    /// A set, so a token's caveats are matched in time linear in their number whatever the
    /// number of predicates; shared, so an issuer hands it to each operation without a copy.
    exact: ExactPredicates,
    rules: bool,
}

/// The exact predicates a verifier accepts ([`Verifier::with_exact`]).
pub type ExactPredicates = std::sync::Arc<std::collections::HashSet<Vec<u8>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Unused,
    InProgress,
    Used,
}

impl<'k> Verifier<'k> {
    pub fn new(keys: &'k Keyring) -> Self {
        Verifier { keys, exact: ExactPredicates::default(), rules: true }
    }

    /// The keys this verifier checks against.
    pub fn keys(&self) -> &'k Keyring {
        self.keys
    }

    /// Caveats equal to one of these strings are satisfied (libmacaroons' satisfy_exact).
    pub fn with_exact(mut self, predicates: impl IntoIterator<Item = impl Into<Vec<u8>>>) -> Self {
        std::sync::Arc::make_mut(&mut self.exact).extend(predicates.into_iter().map(Into::into));
        self
    }

    /// [`Verifier::with_exact`] with a set made once (an issuer's, shared by its operations).
    pub fn with_exact_set(mut self, predicates: ExactPredicates) -> Self {
        self.exact = predicates;
        self
    }

    /// Turns crumb's caveat language off: only exact predicates satisfy caveats.
    pub fn only_exact(mut self, only: bool) -> Self {
        self.rules = !only;
        self
    }

    /// Verifies `token` with `discharges` for the request `ctx`.
    pub fn verify(&self, token: Macaroon, discharges: Vec<Macaroon>, ctx: &Context) -> Result<Verified, Box<Rejected>> {
        let report = self.check(&token, &discharges, ctx);
        match report.denial {
            None => Ok(Verified { token, discharges, report }),
            Some(_) => Err(Box::new(Rejected { token, report })),
        }
    }

    /// Verifies and reports on every caveat, without consuming the token.
    pub fn check(&self, token: &Macaroon, discharges: &[Macaroon], ctx: &Context) -> Report {
        let mut report = Report::default();
        // Bounded before any work: each discharge costs a chain walk.
        if discharges.len() > MAX_DISCHARGES {
            report.denial = Some(Denial::new(
                DenialCode::TooManyDischarges,
                format!("{} discharges were presented; the limit is {MAX_DISCHARGES}", discharges.len()),
            ));
            return report;
        }
        let entry = match self.keys.key_for(&token.identifier) {
            Ok(entry) => entry,
            Err(e) => {
                let code = DenialCode::of_key_error(&e);
                report.denial = Some(Denial::new(code, format!("cannot verify with this key: {e}")));
                // The key that minted it, as its identifier names it: what the reader needs
                // to find the right key.
                report.key_id = crate::token::identifier::TokenId::key_id_of(&token.identifier).map(str::to_owned);
                return report;
            }
        };
        report.key_id = Some(entry.id.clone());
        let mut run = Run {
            verifier: self,
            request: caveat::Prepared::new(ctx),
            discharges,
            uses: vec![Use::Unused; discharges.len()],
            outcomes: Vec::with_capacity(token.caveats.len()),
            depth: 0,
        };
        let derived = chain::derive_key(entry.key.expose());
        report.signature_valid = run.walk(token, Holder::Root, &derived, &token.signature);
        report.denial = run.verdict(report.signature_valid).or_else(|| role_denial(token, ctx));
        report.only_expired = report.signature_valid
            && run.uses.iter().all(|u| *u == Use::Used)
            && run.outcomes.iter().all(|o| o.result.as_ref().map_or_else(|f| f.code == DenialCode::Expired, |_| true));
        report.caveats = run.outcomes;
        report
    }

    fn check_first_party(
        &self,
        predicate: &[u8],
        request: &caveat::Prepared<'_>,
    ) -> (&'static str, Result<SatisfiedBy, Failure>) {
        let parsed = std::str::from_utf8(predicate).ok().map(caveat::parse);
        let kind = match &parsed {
            Some(Ok(c)) => c.kind(),
            _ => "unknown",
        };
        if !self.exact.is_empty() && self.exact.contains(predicate) {
            return (kind, Ok(SatisfiedBy::Exact));
        }
        let result = match parsed {
            _ if !self.rules => Err(Failure {
                code: DenialCode::CaveatFailed,
                reason: "not among the exact predicates the verifier accepts".into(),
            }),
            Some(Ok(c)) if request.ctx.purpose == Purpose::Transfer && c.is_request_scoped() => {
                Ok(SatisfiedBy::Carried)
            }
            Some(Ok(c)) => c.check_prepared(request).map(|()| SatisfiedBy::Rule),
            Some(Err(e)) => Err(Failure { code: DenialCode::UnknownCaveat, reason: format!("not understood: {e}") }),
            None => Err(Failure { code: DenialCode::UnknownCaveat, reason: "not understood: not UTF-8".into() }),
        };
        (kind, result)
    }
}

/// Refuses a genuine token used for what its role does not allow.
fn role_denial(token: &Macaroon, ctx: &Context) -> Option<Denial> {
    let role = TokenId::role_of(&token.identifier).unwrap_or_default();
    match (role, ctx.purpose) {
        (Role::Holder, Purpose::Request | Purpose::Transfer) | (Role::Operator, Purpose::Operate) => None,
        (Role::Operator, Purpose::Request | Purpose::Transfer) => Some(Denial::new(
            DenialCode::WrongRole,
            "this is an operator credential: it authorizes operator acts, not requests",
        )),
        (Role::Holder, Purpose::Operate) => Some(Denial::new(
            DenialCode::WrongRole,
            "an operator act needs an operator credential (`crumb mint --operator`); no caveat can make one",
        )),
    }
}

struct Run<'v, 'k> {
    verifier: &'v Verifier<'k>,
    request: caveat::Prepared<'v>,
    discharges: &'v [Macaroon],
    uses: Vec<Use>,
    outcomes: Vec<CaveatOutcome>,
    /// How many discharges deep the walk is (0: the token itself).
    depth: usize,
}

impl Run<'_, '_> {
    /// Recomputes `m`'s chain from `key`, checking caveats on the way; true when its signature
    /// holds (for a discharge: once bound to `root_sig`).
    fn walk(&mut self, m: &Macaroon, holder: Holder, key: &Sig, root_sig: &Sig) -> bool {
        let mut sig = chain::hmac_secret(key, &m.identifier);
        for (index, c) in m.caveats.iter().enumerate() {
            let (kind, result) = match &c.vid {
                None => {
                    let outcome = self.verifier.check_first_party(&c.id, &self.request);
                    sig = chain::first_party(&sig, &c.id);
                    outcome
                }
                Some(vid) => {
                    let result = self.third_party(&sig, vid, &c.id, root_sig);
                    sig = chain::third_party(&sig, vid, &c.id);
                    ("third-party", result)
                }
            };
            self.outcomes.push(CaveatOutcome { holder, index, kind, result });
        }
        let expected = match holder {
            Holder::Root => sig,
            Holder::Discharge(_) => chain::bind(root_sig, &sig),
        };
        chain::signatures_match(&expected, &m.signature)
    }

    fn third_party(&mut self, sig: &Sig, vid: &[u8], cid: &[u8], root_sig: &Sig) -> Result<SatisfiedBy, Failure> {
        let fail = |code, reason: String| Err(Failure { code, reason });
        let Some(key) = chain::open_caveat_key(sig, vid) else {
            return fail(DenialCode::InvalidDischarge, "its verification id does not open with this chain".into());
        };
        let cid_text = String::from_utf8_lossy(cid);
        let found = self.discharges.iter().enumerate().filter(|(_, d)| d.identifier == cid).map(|(i, _)| i);
        let mut in_progress = false;
        let mut target = None;
        for i in found {
            match self.uses[i] {
                Use::Unused => {
                    target = Some(i);
                    break;
                }
                Use::InProgress => in_progress = true,
                Use::Used => {}
            }
        }
        let Some(i) = target else {
            return if in_progress {
                fail(DenialCode::DischargeCycle, format!("discharge `{cid_text}` requires itself (a cycle)"))
            } else {
                fail(DenialCode::MissingDischarge, format!("needs a discharge for `{cid_text}`, none was supplied"))
            };
        };
        if self.depth >= MAX_DISCHARGE_DEPTH {
            self.uses[i] = Use::Used;
            return fail(
                DenialCode::DischargeTooDeep,
                format!("discharges nest deeper than {MAX_DISCHARGE_DEPTH} levels"),
            );
        }
        self.uses[i] = Use::InProgress;
        let discharge = &self.discharges[i];
        self.depth += 1;
        let valid = self.walk(discharge, Holder::Discharge(i), &key, root_sig);
        self.depth -= 1;
        self.uses[i] = Use::Used;
        if valid {
            return Ok(SatisfiedBy::Discharge(i));
        }
        let unbound = self.discharge_is_unbound(discharge, &key);
        let why = if unbound {
            "is not bound to this token (run `crumb bind`)"
        } else {
            "has a bad signature (tampered, bound to another token, or minted with another key)"
        };
        fail(DenialCode::InvalidDischarge, format!("discharge `{cid_text}` {why}"))
    }

    /// Whether a discharge's signature is its plain chain, i.e. it was never bound.
    fn discharge_is_unbound(&self, d: &Macaroon, key: &Sig) -> bool {
        let mut sig = chain::hmac(key, &d.identifier);
        for c in &d.caveats {
            sig = match &c.vid {
                None => chain::first_party(&sig, &c.id),
                Some(vid) => chain::third_party(&sig, vid, &c.id),
            };
        }
        chain::signatures_match(&sig, &d.signature)
    }

    fn verdict(&self, signature_valid: bool) -> Option<Denial> {
        if !signature_valid {
            return Some(Denial::new(
                DenialCode::BadSignature,
                "the signature does not match: wrong key, or the token was altered",
            ));
        }
        if let Some(o) = self.outcomes.iter().find(|o| o.result.is_err()) {
            let failure = o.result.as_ref().unwrap_err();
            let whose = match o.holder {
                Holder::Root => String::new(),
                Holder::Discharge(d) => format!(" of discharge {d}"),
            };
            return Some(Denial {
                code: failure.code,
                message: format!("caveat {}{whose}: {}", o.index, failure.reason),
                caveat: Some((o.holder, o.index)),
                retry_after: None,
            });
        }
        if let Some(i) = self.uses.iter().position(|u| *u != Use::Used) {
            let id = String::from_utf8_lossy(&self.discharges[i].identifier);
            return Some(Denial::new(
                DenialCode::UnusedDischarge,
                format!("discharge {i} (`{id}`) answers no third-party caveat of this token"),
            ));
        }
        None
    }
}
