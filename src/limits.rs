//! Every bound crumb puts on input it does not control, in one place.
//!
//! Each count, length and depth that a client, a token's holder or a ledger's contents can
//! drive has a limit here, checked *before* the work it would drive. SECURITY.md lists them.

use crate::error::{Error, LimitError};

/// Discharges presented with one token. Real delegations use one or two; a few thousand
/// copies of a self-requiring discharge once overflowed the verifier's stack.
pub const MAX_DISCHARGES: usize = 32;

/// Nesting of discharges (a discharge whose third-party caveat needs another discharge).
pub const MAX_DISCHARGE_DEPTH: usize = 8;

/// Children of one split (the remainder child included).
pub const MAX_SPLIT_CHILDREN: usize = 64;

/// Caveat bytes (identifiers, verification ids and locations) of a token that may be spent or
/// split: every successor copies them, so this bounds a split's answer to about
/// `MAX_SPLIT_CHILDREN × MAX_SPENDABLE_CAVEAT_BYTES × 4/3`.
pub const MAX_SPENDABLE_CAVEAT_BYTES: usize = 8 * 1024;

/// A request id: printable ASCII, no spaces, at most this many bytes.
pub const MAX_REQUEST_ID: usize = 128;

/// An action, resource, audience or context value of a request.
pub const MAX_FACT: usize = 1024;

/// Application facts (`context`) of one request, and the length of a fact's name.
pub const MAX_CONTEXT_FACTS: usize = 32;
pub const MAX_FACT_NAME: usize = 64;

/// Nodes `lineage` reports; the rest of a larger tree is summarised, not walked.
pub const MAX_LINEAGE_NODES: usize = 10_000;

/// Ancestors `lineage` climbs to find a tree's root.
pub const MAX_LINEAGE_ANCESTORS: usize = 10_000;

/// The largest cost or amount a request may name: every balance fits a signed 64-bit column
/// (PostgreSQL's `bigint`), and what a ledger stores must read back as it was written.
pub const MAX_AMOUNT: u64 = i64::MAX as u64;

/// Refuses a cost or amount above [`MAX_AMOUNT`].
pub fn check_amount(what: &str, amount: u64) -> Result<(), Error> {
    if amount > MAX_AMOUNT {
        return Err(Error::Limit(LimitError::new("bad-request", format!("the {what} is at most {MAX_AMOUNT}"))));
    }
    Ok(())
}

/// Refuses a request id that is empty, too long, or not printable ASCII: it is logged and
/// stored, so it must not carry terminal escapes or fill a disk.
pub fn check_request_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID {
        return Err(Error::Limit(LimitError::new(
            "bad-request",
            format!("a request id is 1 to {MAX_REQUEST_ID} bytes, not {}", id.len()),
        )));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Limit(LimitError::new("bad-request", "a request id is printable ASCII without spaces")));
    }
    Ok(())
}

/// Refuses a request id a client names that is malformed, or that a client may not name: the
/// gateway's own ids (`key:…`, `req:…`) belong to requests through the metering proxy and
/// forward auth. (`auto-…` ids are the CLI's own, keyed with its client secret: allowed.)
pub fn check_client_request_id(id: &str) -> Result<(), Error> {
    check_request_id(id)?;
    if ["key:", "req:"].iter().any(|p| id.starts_with(p)) {
        return Err(Error::Limit(LimitError::new(
            "bad-request",
            "a request id may not start with key: or req: (the metering gateway's own)",
        )));
    }
    Ok(())
}

/// Refuses a request fact (action, resource, audience, context value) longer than [`MAX_FACT`].
pub fn check_fact(what: &str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_FACT {
        return Err(Error::Limit(LimitError::new(
            "bad-request",
            format!("the {what} is {} bytes, more than the limit of {MAX_FACT}", value.len()),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_printable_ascii() {
        assert!(check_request_id("pay-2026-11-25/1").is_ok());
        assert!(check_request_id(&"x".repeat(MAX_REQUEST_ID)).is_ok());
        for bad in ["", "a b", "a\u{1b}[2J", "é", "tab\there"] {
            assert!(check_request_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_request_id(&"x".repeat(MAX_REQUEST_ID + 1)).is_err());
    }
}
