//! The grammar: `KEY OP VALUE`, one space-separated line.
//!
//! ```text
//! expires    <  RFC3339        time < RFC3339 (pymacaroons)     not-before >= RFC3339
//! action     =  NAME | in NAME,NAME...
//! resource   =  /PATH | prefix /PATH
//! ip         in CIDR,CIDR... | = ADDR
//! aud        =  NAME | in NAME,NAME...
//! max-cost   <= N              balance <= N        (N: unsigned 64-bit integer)
//! NAME       =  VALUE | in V,V...   (NAME: [a-z0-9][a-z0-9_.-]*, not one of the keys above)
//! ```

use super::{path, Caveat, IpNet, RESERVED_KEYS};
use crate::error::CaveatSyntaxError;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn err(message: impl Into<String>) -> CaveatSyntaxError {
    CaveatSyntaxError { message: message.into() }
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'))
}

fn timestamp(value: &str) -> Result<OffsetDateTime, CaveatSyntaxError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|e| err(format!("`{value}` is not an RFC 3339 time ({e}); write e.g. 2026-12-01T00:00:00Z")))
}

fn amount(value: &str) -> Result<u64, CaveatSyntaxError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("`{value}` is not a whole number")));
    }
    value.parse().map_err(|_| err(format!("`{value}` is not a whole number below 2^64")))
}

/// Values of `= v` (one) or `in a,b` (a non-empty list without empty items).
fn values(op: &str, value: &str) -> Result<Vec<String>, CaveatSyntaxError> {
    let items: Vec<String> = match op {
        "=" => vec![value.to_owned()],
        "in" => value.split(',').map(|v| v.trim().to_owned()).collect(),
        _ => unreachable!("callers pass = or in"),
    };
    if items.iter().any(String::is_empty) {
        return Err(err(format!("`{value}` has an empty item")));
    }
    Ok(items)
}

/// Parses one caveat line.
pub fn parse(text: &str) -> Result<Caveat, CaveatSyntaxError> {
    let mut parts = text.splitn(3, ' ');
    let (key, op, value) = match (parts.next(), parts.next(), parts.next()) {
        (Some(k), Some(o), Some(v)) if !k.is_empty() && !o.is_empty() && !v.is_empty() => (k, o, v),
        _ => return Err(err(format!("`{text}` is not of the form `KEY OP VALUE`"))),
    };
    if value != value.trim() || value.contains(['\n', '\r']) {
        return Err(err(format!("`{text}`: the value has stray whitespace")));
    }
    let wrong_op = |allowed: &str| err(format!("`{key}` takes {allowed}, not `{op}`"));
    Ok(match (key, op) {
        ("expires", "<") => Caveat::Expires { at: timestamp(value)?, keyword: "expires" },
        ("time", "<") => Caveat::Expires { at: timestamp(value)?, keyword: "time" },
        ("expires" | "time", _) => return Err(wrong_op("`<`")),
        ("not-before", ">=") => Caveat::NotBefore(timestamp(value)?),
        ("not-before", _) => return Err(wrong_op("`>=`")),
        ("action", "=" | "in") => Caveat::Action(values(op, value)?),
        ("action", _) => return Err(wrong_op("`=` or `in`")),
        ("resource", "=") => Caveat::Resource(path::normalize_caveat_path(value).map_err(err)?),
        ("resource", "prefix") => Caveat::ResourcePrefix(path::normalize_caveat_path(value).map_err(err)?),
        ("resource", _) => return Err(wrong_op("`=` or `prefix`")),
        ("ip", "=" | "in") => Caveat::Ip(
            values(op, value)?.iter().map(|v| v.parse::<IpNet>().map_err(err)).collect::<Result<_, _>>()?,
        ),
        ("ip", _) => return Err(wrong_op("`in` or `=`")),
        ("aud", "=" | "in") => Caveat::Aud(values(op, value)?),
        ("aud", _) => return Err(wrong_op("`=` or `in`")),
        ("max-cost", "<=") => Caveat::MaxCost(amount(value)?),
        ("max-cost", _) => return Err(wrong_op("`<=`")),
        ("balance", "<=") => Caveat::Balance(amount(value)?),
        ("balance", _) => return Err(wrong_op("`<=`")),
        (name, "=" | "in") if valid_name(name) => {
            debug_assert!(!RESERVED_KEYS.contains(&name));
            Caveat::Context { name: name.to_owned(), allowed: values(op, value)? }
        }
        (name, _) if valid_name(name) => return Err(wrong_op("`=` or `in`")),
        _ => return Err(err(format!("`{key}` is not a caveat name (lowercase letters, digits, _ . -)"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_round_trips() {
        for text in [
            "expires < 2026-12-01T00:00:00Z",
            "time < 2030-01-01T00:00:00Z",
            "not-before >= 2026-01-01T00:00:00Z",
            "action = read",
            "action in read,write",
            "resource = /docs/7",
            "resource prefix /apps/42",
            "ip in 10.0.0.0/8,2001:db8::/32",
            "aud = billing-api",
            "max-cost <= 5",
            "balance <= 10000",
            "tenant in acme,globex",
        ] {
            let c = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.to_string(), text);
        }
    }

    #[test]
    fn malformed_caveats_are_refused() {
        for text in [
            "",
            "action",
            "action =",
            "action < read",
            "expires < tomorrow",
            "expires > 2026-12-01T00:00:00Z",
            "balance <= -1",
            "balance <= 1e9",
            "max-cost <= 99999999999999999999999",
            "resource prefix apps",
            "resource = /a/../b",
            "ip in 10.0.0.0/33",
            "action in read,,write",
            "Tenant = x",
            "this is unparsable",
            "account = 3735928559 ",
        ] {
            assert!(parse(text).is_err(), "accepted {text:?}");
        }
    }
}
