//! Why a token is refused: the stable reason codes ([`DenialCode`]) and the [`Denial`] that
//! carries one with its message. A leaf: every layer that refuses (caveats, the verifier, the
//! ledger, spending, charging) names its refusals here, and nothing here names those layers,
//! so none of them import each other for it. How each code is classified for exit codes and
//! HTTP statuses is in [`crate::outcome`].

use std::fmt;

/// Stable reason codes, shown in `--json` and HTTP error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenialCode {
    BadSignature,
    Expired,
    NotYetValid,
    CaveatFailed,
    UnknownCaveat,
    CostExceeded,
    InsufficientBalance,
    MissingDischarge,
    InvalidDischarge,
    UnusedDischarge,
    DischargeCycle,
    UnknownKey,
    RetiredKey,
    Spent,
    Revoked,
    TooManyDischarges,
    DischargeTooDeep,
    WrongRole,
    NotAnOperator,
    InFlight,
    /// An idempotency key already used by this token for another request.
    IdempotencyKeyReused,
    /// A delegation named for revocation was not split off from the presented lineage.
    NotYours,
    /// A child named for revocation is a transfer (final), or the lineage's own change.
    NotRevocable,
    /// A give-back from a lineage that was never split off from another: nowhere to return to.
    NotDelegated,
    /// A `spend-rate` window has no room for this spend now (ask again after `retry_after`).
    SpendRateExceeded,
}

impl DenialCode {
    /// The denial of a token whose key cannot verify it: a retired key is `retired-key`, any
    /// other key problem `unknown-key`. Every path that looks a token's key up says it so.
    pub fn of_key_error(e: &crate::error::KeyError) -> DenialCode {
        match e {
            crate::error::KeyError::Retired(_) => DenialCode::RetiredKey,
            _ => DenialCode::UnknownKey,
        }
    }

    /// Every denial code, for tables and tests.
    pub const ALL: [DenialCode; 25] = [
        DenialCode::BadSignature,
        DenialCode::Expired,
        DenialCode::NotYetValid,
        DenialCode::CaveatFailed,
        DenialCode::UnknownCaveat,
        DenialCode::CostExceeded,
        DenialCode::InsufficientBalance,
        DenialCode::MissingDischarge,
        DenialCode::InvalidDischarge,
        DenialCode::UnusedDischarge,
        DenialCode::DischargeCycle,
        DenialCode::UnknownKey,
        DenialCode::RetiredKey,
        DenialCode::Spent,
        DenialCode::Revoked,
        DenialCode::TooManyDischarges,
        DenialCode::DischargeTooDeep,
        DenialCode::WrongRole,
        DenialCode::NotAnOperator,
        DenialCode::InFlight,
        DenialCode::IdempotencyKeyReused,
        DenialCode::NotYours,
        DenialCode::NotRevocable,
        DenialCode::NotDelegated,
        DenialCode::SpendRateExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DenialCode::BadSignature => "bad-signature",
            DenialCode::Expired => "expired",
            DenialCode::NotYetValid => "not-yet-valid",
            DenialCode::CaveatFailed => "caveat-failed",
            DenialCode::UnknownCaveat => "unknown-caveat",
            DenialCode::CostExceeded => "cost-exceeded",
            DenialCode::InsufficientBalance => "insufficient-balance",
            DenialCode::MissingDischarge => "missing-discharge",
            DenialCode::InvalidDischarge => "invalid-discharge",
            DenialCode::UnusedDischarge => "unused-discharge",
            DenialCode::DischargeCycle => "discharge-cycle",
            DenialCode::UnknownKey => "unknown-key",
            DenialCode::RetiredKey => "retired-key",
            DenialCode::Spent => "spent",
            DenialCode::Revoked => "revoked",
            DenialCode::TooManyDischarges => "too-many-discharges",
            DenialCode::DischargeTooDeep => "discharge-too-deep",
            DenialCode::WrongRole => "wrong-role",
            DenialCode::NotAnOperator => "not-an-operator",
            DenialCode::InFlight => "in-flight",
            DenialCode::IdempotencyKeyReused => "idempotency-key-reused",
            DenialCode::NotYours => "not-yours",
            DenialCode::NotRevocable => "not-revocable",
            DenialCode::NotDelegated => "not-delegated",
            DenialCode::SpendRateExceeded => "spend-rate-exceeded",
        }
    }
}

impl fmt::Display for DenialCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which macaroon a caveat belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Root,
    /// Index into the discharges as supplied.
    Discharge(usize),
}

impl Holder {
    /// `token` or `discharge N`, as reports name it.
    pub fn name(self) -> String {
        match self {
            Holder::Root => "token".into(),
            Holder::Discharge(i) => format!("discharge {i}"),
        }
    }
}

/// Why a token was refused: a code for machines, a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub code: DenialCode,
    pub message: String,
    /// The caveat that failed, when one did.
    pub caveat: Option<(Holder, usize)>,
    /// Seconds until asking again may succeed (`spend-rate-exceeded`).
    pub retry_after: Option<u64>,
}

impl Denial {
    pub fn new(code: DenialCode, message: impl Into<String>) -> Self {
        Denial { code, message: message.into(), caveat: None, retry_after: None }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}
