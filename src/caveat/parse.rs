//! The grammar: `KEY OP VALUE`, one space-separated line.
//!
//! ```text
//! expires    <  RFC3339        time < RFC3339 (pymacaroons)     not-before >= RFC3339
//! action     =  NAME | in NAME,NAME...
//! resource   =  /PATH | prefix /PATH
//! ip         in CIDR,CIDR... | = ADDR
//! aud        =  NAME | in NAME,NAME...
//! max-cost   <= N              balance <= N        (N: unsigned 64-bit integer)
//! spend-rate <= N/DURATION     (DURATION: a whole number of s, m, h or d: 30s 15m 1h 1d)
//! NAME       =  VALUE | in V,V...   (NAME: [a-z0-9][a-z0-9_.-]*, not one of the keys above)
//! ```

use super::{path, Caveat, IpNet, List, RESERVED_KEYS};
use crate::error::CaveatSyntaxError;
use std::borrow::Cow;
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

/// `YYYY-MM-DDTHH:MM:SSZ`, the form crumb writes, without the general parser's overhead.
fn utc_seconds(value: &str) -> Option<OffsetDateTime> {
    let b = value.as_bytes();
    let shape = b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !shape || b[19] != b'Z' {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let month = time::Month::try_from(num(5, 7)? as u8).ok()?;
    let date = time::Date::from_calendar_date(num(0, 4)? as i32, month, num(8, 10)? as u8).ok()?;
    let time = time::Time::from_hms(num(11, 13)? as u8, num(14, 16)? as u8, num(17, 19)? as u8).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

fn timestamp(value: &str) -> Result<OffsetDateTime, CaveatSyntaxError> {
    if let Some(t) = utc_seconds(value) {
        return Ok(t);
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|e| err(format!("`{value}` is not an RFC 3339 time ({e}); write e.g. 2026-12-01T00:00:00Z")))
}

fn amount(value: &str) -> Result<u64, CaveatSyntaxError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("`{value}` is not a whole number")));
    }
    value.parse().map_err(|_| err(format!("`{value}` is not a whole number below 2^64")))
}

/// `N/DURATION`: `100/1h`.
fn spend_rate(value: &str) -> Result<Caveat<'static>, CaveatSyntaxError> {
    let (limit, duration) = value
        .split_once('/')
        .ok_or_else(|| err(format!("`{value}` is not N/DURATION (e.g. 100/1h: at most 100 credits in any hour)")))?;
    let limit = amount(limit)?;
    let unit = match duration.as_bytes().last() {
        Some(b's') => 1,
        Some(b'm') => 60,
        Some(b'h') => 3_600,
        Some(b'd') => 86_400,
        _ => {
            return Err(err(format!(
                "`{duration}` is not a duration: a whole number of s, m, h or d (30s, 15m, 1h, 1d)"
            )))
        }
    };
    let count = amount(&duration[..duration.len() - 1])?;
    let secs = count
        .checked_mul(unit)
        .filter(|s| (1..=super::MAX_WINDOW_SECS).contains(s))
        .ok_or_else(|| err(format!("`{duration}`: a window lasts from 1s to {}d", super::MAX_WINDOW_SECS / 86_400)))?;
    Ok(Caveat::SpendRate { limit, secs })
}

/// Values of `= v` (one, which may contain anything but a comma) or `in a,b` (a non-empty
/// list without empty items; spaces around items are dropped).
fn values<'a>(op: &str, value: &'a str) -> Result<List<'a>, CaveatSyntaxError> {
    let has_comma = value.as_bytes().contains(&b',');
    if op == "=" && has_comma {
        return Err(err(format!("`{value}`: use `in a,b` for several values")));
    }
    let mut canonical = true;
    if has_comma || value.starts_with(' ') || value.ends_with(' ') {
        for item in value.split(',') {
            let trimmed = item.trim();
            if trimmed.is_empty() {
                return Err(err(format!("`{value}` has an empty item")));
            }
            canonical &= trimmed.len() == item.len();
        }
    }
    Ok(List(if canonical {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.split(',').map(str::trim).collect::<Vec<_>>().join(","))
    }))
}

fn networks<'a>(op: &str, value: &'a str) -> Result<List<'a>, CaveatSyntaxError> {
    let list = values(op, value)?;
    for net in list.iter() {
        net.parse::<IpNet>().map_err(err)?;
    }
    Ok(list)
}

/// `KEY OP VALUE` at the first two spaces, each part non-empty, no line breaks: one pass.
fn split_line(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let (mut first, mut second) = (None, None);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' | b'\r' => return None,
            b' ' if first.is_none() => first = Some(i),
            b' ' if second.is_none() => second = Some(i),
            _ => {}
        }
    }
    let (first, second) = (first?, second?);
    let (key, op, value) = (&text[..first], &text[first + 1..second], &text[second + 1..]);
    (!key.is_empty() && !op.is_empty() && !value.is_empty()).then_some((key, op, value))
}

/// Parses one caveat line.
pub fn parse(text: &str) -> Result<Caveat<'_>, CaveatSyntaxError> {
    let (key, op, value) =
        split_line(text).ok_or_else(|| err(format!("`{text}` is not of the form `KEY OP VALUE`")))?;
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(err(format!("`{text}`: the value has stray whitespace")));
    }
    let wrong_op = |allowed: &str| err(format!("`{key}` takes {allowed}, not `{op}`"));
    // Dispatch on the key first: one comparison chain instead of one per (key, op) pair.
    Ok(match key {
        "expires" | "time" => match op {
            "<" => Caveat::Expires { at: timestamp(value)?, keyword: if key == "time" { "time" } else { "expires" } },
            _ => return Err(wrong_op("`<`")),
        },
        "not-before" => match op {
            ">=" => Caveat::NotBefore(timestamp(value)?),
            _ => return Err(wrong_op("`>=`")),
        },
        "action" => match op {
            "=" | "in" => Caveat::Action(values(op, value)?),
            _ => return Err(wrong_op("`=` or `in`")),
        },
        "resource" => match op {
            "=" => Caveat::Resource(path::normalize_caveat_path(value).map_err(err)?),
            "prefix" => Caveat::ResourcePrefix(path::normalize_caveat_path(value).map_err(err)?),
            _ => return Err(wrong_op("`=` or `prefix`")),
        },
        "ip" => match op {
            "=" | "in" => Caveat::Ip(networks(op, value)?),
            _ => return Err(wrong_op("`in` or `=`")),
        },
        "aud" => match op {
            "=" | "in" => Caveat::Aud(values(op, value)?),
            _ => return Err(wrong_op("`=` or `in`")),
        },
        "max-cost" => match op {
            "<=" => Caveat::MaxCost(amount(value)?),
            _ => return Err(wrong_op("`<=`")),
        },
        "balance" => match op {
            "<=" => Caveat::Balance(amount(value)?),
            _ => return Err(wrong_op("`<=`")),
        },
        "spend-rate" => match op {
            "<=" => spend_rate(value)?,
            _ => return Err(wrong_op("`<=`")),
        },
        name if valid_name(name) => match op {
            "=" | "in" => {
                debug_assert!(!RESERVED_KEYS.contains(&name));
                Caveat::Context { name: Cow::Borrowed(name), allowed: values(op, value)? }
            }
            _ => return Err(wrong_op("`=` or `in`")),
        },
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
            "spend-rate <= 100/1h",
            "spend-rate <= 5/30s",
            "spend-rate <= 0/1d",
            "spend-rate <= 7/90m",
        ] {
            let c = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.to_string(), text);
        }
    }

    #[test]
    fn the_fast_time_path_agrees_with_rfc3339() {
        for t in ["2026-12-01T00:00:00Z", "2000-02-29T23:59:59Z", "1970-01-01T00:00:00Z"] {
            assert_eq!(utc_seconds(t), Some(OffsetDateTime::parse(t, &Rfc3339).unwrap()), "{t}");
        }
        for t in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01t00:00:00z",
            "2026-12-01T00:00:00+01:00",
        ] {
            assert_eq!(utc_seconds(t), None, "{t}");
        }
        assert!(timestamp("2026-12-01T01:00:00+01:00").is_ok());
        assert!(timestamp("2026-02-30T00:00:00Z").is_err());
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
            "spend-rate <= 100",
            "spend-rate <= 100/h",
            "spend-rate <= 100/0s",
            "spend-rate <= 100/1w",
            "spend-rate <= 100/367d",
            "spend-rate <= -1/1h",
            "spend-rate = 100/1h",
            "spend-rate <= 100/1h/2",
        ] {
            assert!(parse(text).is_err(), "accepted {text:?}");
        }
    }
}
