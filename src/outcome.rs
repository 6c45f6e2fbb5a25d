//! One classification of every outcome crumb reports, so that each adapter maps it once: the
//! CLI a class to an exit code, the server a class to an HTTP status. Each denial code and
//! each error kind knows its class and its stable code (`Error::code`); README's table of codes
//! lists them all with the exit code and HTTP status they come to.

use crate::denial::DenialCode;
use crate::error::{CaveatSyntaxError, DecodeError, EncodeError, Error, Invalid, KeyError, LedgerError, LimitError};

/// What kind of outcome a refusal or a fault is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// The token was refused for this request: a verdict, not a fault.
    Denied,
    /// The token cannot pay for this request: its balance is below the price.
    PaymentRequired,
    /// The token was consumed already, or another request is using it right now.
    Conflict,
    /// An idempotency key this token already used for another request.
    Unprocessable,
    /// A spending window is full: ask again later (`Retry-After`).
    TooManyRequests,
    /// The input is malformed or outside crumb's bounds: fix it and ask again.
    BadRequest,
    /// The input is larger than crumb accepts.
    TooLarge,
    /// The input names what the ledger has no record of (a nonce never seen).
    NotFound,
    /// Something crumb depends on is down or unreachable (the ledger, a file): try again later.
    Unavailable,
    /// crumb itself failed (its random source).
    Internal,
}

impl Class {
    /// Whether this is a verdict on a token (exit 1 in the CLI), not a fault.
    pub fn is_verdict(self) -> bool {
        matches!(
            self,
            Class::Denied | Class::PaymentRequired | Class::Conflict | Class::Unprocessable | Class::TooManyRequests
        )
    }
}

impl DenialCode {
    /// This denial's class.
    pub fn class(self) -> Class {
        match self {
            DenialCode::InsufficientBalance => Class::PaymentRequired,
            DenialCode::Spent | DenialCode::InFlight => Class::Conflict,
            DenialCode::IdempotencyKeyReused => Class::Unprocessable,
            DenialCode::SpendRateExceeded => Class::TooManyRequests,
            // Over a limit on what the request presents, as `too-many-children` is: every
            // adapter bounds the count before decoding, with this code, 400 / exit 2.
            DenialCode::TooManyDischarges => Class::BadRequest,
            _ => Class::Denied,
        }
    }
}

/// An outcome that knows its class and its stable code (the same in every command's `--json`
/// and every HTTP body): the library's error and each of its parts.
pub trait Classified {
    fn class(&self) -> Class;
    fn code(&self) -> &'static str;
}

impl Classified for crate::denial::Denial {
    fn class(&self) -> Class {
        self.code.class()
    }
    fn code(&self) -> &'static str {
        self.code.as_str()
    }
}

impl Classified for DecodeError {
    fn class(&self) -> Class {
        match self {
            DecodeError::TooLarge { .. } => Class::TooLarge,
            _ => Class::BadRequest,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "token-too-large",
            _ => "malformed-token",
        }
    }
}

impl Classified for KeyError {
    fn class(&self) -> Class {
        match self {
            KeyError::Random(_) => Class::Internal,
            _ => Class::BadRequest,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            KeyError::Random(_) => "internal",
            _ => "bad-key",
        }
    }
}

impl Classified for LedgerError {
    fn class(&self) -> Class {
        Class::Unavailable
    }
    fn code(&self) -> &'static str {
        "ledger-unavailable"
    }
}

impl Classified for EncodeError {
    fn class(&self) -> Class {
        Class::BadRequest
    }
    fn code(&self) -> &'static str {
        "bad-format"
    }
}

impl Classified for CaveatSyntaxError {
    fn class(&self) -> Class {
        Class::BadRequest
    }
    fn code(&self) -> &'static str {
        "bad-caveat"
    }
}

impl Classified for LimitError {
    fn class(&self) -> Class {
        Class::BadRequest
    }
    fn code(&self) -> &'static str {
        self.code
    }
}

impl Classified for Invalid {
    fn class(&self) -> Class {
        match self {
            // The operator's setup lacks it: nothing the request could change.
            Invalid::NoLedger => Class::Unavailable,
            Invalid::UnknownToken(_) => Class::NotFound,
            _ => Class::BadRequest,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Invalid::NoLedger => "ledger-unavailable",
            Invalid::IdempotencyKey { .. } => "bad-idempotency-key",
            Invalid::UnknownToken(_) => "unknown-token",
            _ => "bad-request",
        }
    }
}

impl Classified for Error {
    fn class(&self) -> Class {
        match self {
            Error::Denied(d) => d.class(),
            Error::Decode(e) => e.class(),
            Error::Encode(e) => e.class(),
            Error::Caveat(e) => e.class(),
            Error::Limit(e) => e.class(),
            Error::Key(e) => e.class(),
            Error::Ledger(e) => e.class(),
            Error::Invalid(e) => e.class(),
            Error::Io { .. } => Class::Unavailable,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Denied(d) => d.code(),
            Error::Decode(e) => e.code(),
            Error::Encode(e) => e.code(),
            Error::Caveat(e) => e.code(),
            Error::Limit(e) => e.code(),
            Error::Key(e) => e.code(),
            Error::Ledger(e) => e.code(),
            Error::Invalid(e) => e.code(),
            Error::Io { .. } => "unavailable",
        }
    }
}

/// The class and code of a link of an error chain that is one of the library's errors (the
/// whole or a part that reached the caller alone); `None` for anything else.
pub fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<(Class, &'static str)> {
    fn of(e: &dyn Classified) -> Option<(Class, &'static str)> {
        Some((e.class(), e.code()))
    }
    if let Some(e) = cause.downcast_ref::<Error>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<DecodeError>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<KeyError>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<LedgerError>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<EncodeError>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<CaveatSyntaxError>() {
        return of(e);
    }
    if let Some(e) = cause.downcast_ref::<Invalid>() {
        return of(e);
    }
    cause.downcast_ref::<LimitError>().and_then(|e| of(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_faults_are_told_apart() {
        assert_eq!(DenialCode::InsufficientBalance.class(), Class::PaymentRequired);
        assert_eq!(DenialCode::InFlight.class(), Class::Conflict);
        assert_eq!(DenialCode::CaveatFailed.class(), Class::Denied);
        assert!(DenialCode::IdempotencyKeyReused.class().is_verdict());
        let random = Error::Key(KeyError::Random("no entropy".into()));
        assert_eq!((random.class(), random.code()), (Class::Internal, "internal"));
        assert!(!Error::Invalid(crate::error::Invalid::ZeroCost).class().is_verdict());
        let key = Error::Invalid(crate::error::Invalid::IdempotencyKey { max: 255 });
        assert_eq!(key.code(), "bad-idempotency-key");
    }
}
