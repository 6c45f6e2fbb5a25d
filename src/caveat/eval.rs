//! Checking a typed caveat against the facts of a request.

use super::{path, rfc3339, Caveat, IpNet, List};
use crate::context::Context;
use crate::denial::DenialCode;

/// Why a caveat does not hold for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: DenialCode,
    pub reason: String,
}

fn fail(code: DenialCode, reason: impl Into<String>) -> Result<(), Failure> {
    Err(Failure { code, reason: reason.into() })
}

fn one_of(what: &str, got: Option<&str>, allowed: &List<'_>) -> Result<(), Failure> {
    match got {
        None => fail(DenialCode::CaveatFailed, format!("the request names no {what}")),
        Some(v) if allowed.contains(v) => Ok(()),
        Some(v) => fail(DenialCode::CaveatFailed, format!("{what} `{v}` is not {}", allowed.joined(" or "))),
    }
}

/// A request's facts prepared once for many caveat checks: the requested resource is
/// normalised a single time, not once per resource caveat.
pub struct Prepared<'c> {
    pub ctx: &'c Context,
    resource: Option<Result<std::borrow::Cow<'c, str>, String>>,
}

impl<'c> Prepared<'c> {
    pub fn new(ctx: &'c Context) -> Self {
        Prepared { ctx, resource: ctx.resource.as_deref().map(path::normalize_request_path) }
    }

    fn requested_path(&self) -> Result<&str, Failure> {
        match &self.resource {
            None => Err(Failure { code: DenialCode::CaveatFailed, reason: "the request names no resource".into() }),
            Some(Ok(p)) => Ok(p),
            Some(Err(why)) => Err(Failure {
                code: DenialCode::CaveatFailed,
                reason: format!(
                    "requested resource `{}` is refused: {why}",
                    self.ctx.resource.as_deref().unwrap_or("")
                ),
            }),
        }
    }
}

impl Caveat<'_> {
    /// Whether this caveat holds for `ctx`.
    pub fn check(&self, ctx: &Context) -> Result<(), Failure> {
        self.check_prepared(&Prepared::new(ctx))
    }

    /// Whether this caveat holds for a prepared request (what the verifier uses).
    pub fn check_prepared(&self, request: &Prepared<'_>) -> Result<(), Failure> {
        let ctx = request.ctx;
        match self {
            Caveat::Expires { at, .. } if ctx.now < *at => Ok(()),
            Caveat::Expires { at, .. } => fail(DenialCode::Expired, format!("expired at {}", rfc3339(*at))),
            Caveat::NotBefore(at) if ctx.now >= *at => Ok(()),
            Caveat::NotBefore(at) => fail(DenialCode::NotYetValid, format!("not valid before {}", rfc3339(*at))),
            Caveat::Action(allowed) => one_of("action", ctx.action.as_deref(), allowed),
            Caveat::Aud(allowed) => one_of("audience", ctx.aud.as_deref(), allowed),
            Caveat::Context { name, allowed } => match ctx.values.get(name.as_ref()) {
                None => fail(DenialCode::CaveatFailed, format!("the request has no context value `{name}`")),
                Some(v) => one_of(name, Some(v), allowed),
            },
            Caveat::Resource(want) => {
                let got = request.requested_path()?;
                if got == want.as_ref() {
                    Ok(())
                } else {
                    fail(DenialCode::CaveatFailed, format!("resource `{got}` is not `{want}`"))
                }
            }
            Caveat::ResourcePrefix(prefix) => {
                let got = request.requested_path()?;
                if path::is_under(got, prefix) {
                    Ok(())
                } else {
                    fail(DenialCode::CaveatFailed, format!("resource `{got}` is not under `{prefix}`"))
                }
            }
            Caveat::Ip(nets) => match ctx.ip {
                None => fail(DenialCode::CaveatFailed, "the request has no client address"),
                Some(ip) if nets.iter().any(|n| n.parse::<IpNet>().is_ok_and(|n| n.contains(ip))) => Ok(()),
                Some(ip) => fail(DenialCode::CaveatFailed, format!("address {ip} is outside the allowed networks")),
            },
            Caveat::MaxCost(cap) if ctx.cost <= *cap => Ok(()),
            Caveat::MaxCost(cap) => {
                fail(DenialCode::CostExceeded, format!("cost {} is above the cap of {cap} per request", ctx.cost))
            }
            // Only a ledger can count spends across a tree: where one counts this request
            // (a spend, a split, the proxy's charge) the ledger decides; a request that costs
            // nothing (a route priced 0, a verification without a cost) cannot exceed a
            // spending window, and a split spends nothing; anywhere else the window cannot be
            // enforced, so it denies (fail closed).
            // A cost the window could never hold is refused for good (403, not 429: waiting
            // would not help).
            Caveat::SpendRate { limit, secs } if ctx.cost > *limit => fail(
                DenialCode::CaveatFailed,
                format!(
                    "cost {} is more than spend-rate <= {limit}/{} ever allows",
                    ctx.cost,
                    super::duration_text(*secs)
                ),
            ),
            Caveat::SpendRate { .. }
                if ctx.windows_counted || ctx.cost == 0 || ctx.purpose == crate::context::Purpose::Transfer =>
            {
                Ok(())
            }
            Caveat::SpendRate { limit, secs } => fail(
                DenialCode::CaveatFailed,
                format!(
                    "spend-rate <= {limit}/{} is enforced only by a ledger that counts the spend (spend, split, the proxy); this verification counts none",
                    super::duration_text(*secs)
                ),
            ),
            Caveat::Balance(balance) if ctx.cost <= *balance => Ok(()),
            Caveat::Balance(balance) => fail(
                DenialCode::InsufficientBalance,
                format!("cost {} is more than the balance of {balance}", ctx.cost),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use time::macros::datetime;

    fn ctx() -> Context {
        let mut c = Context::at(datetime!(2026-11-23 12:00 UTC));
        c.action = Some("read".into());
        c.resource = Some("/apps/42/logs".into());
        c.ip = Some("10.1.2.3".parse().unwrap());
        c.aud = Some("billing-api".into());
        c.cost = 5;
        c.values.insert("tenant".into(), "acme".into());
        c
    }

    fn holds(text: &str) -> Result<(), DenialCode> {
        parse(text).unwrap().check(&ctx()).map_err(|f| f.code)
    }

    #[test]
    fn each_kind_passes_and_fails() {
        assert_eq!(holds("expires < 2026-12-01T00:00:00Z"), Ok(()));
        assert_eq!(holds("expires < 2026-11-23T12:00:00Z"), Err(DenialCode::Expired));
        assert_eq!(holds("not-before >= 2026-11-23T12:00:00Z"), Ok(()));
        assert_eq!(holds("not-before >= 2026-11-23T12:00:01Z"), Err(DenialCode::NotYetValid));
        assert_eq!(holds("action in read,write"), Ok(()));
        assert_eq!(holds("action = write"), Err(DenialCode::CaveatFailed));
        assert_eq!(holds("resource prefix /apps/42"), Ok(()));
        assert_eq!(holds("resource prefix /apps/4"), Err(DenialCode::CaveatFailed));
        assert_eq!(holds("resource = /apps/42/logs"), Ok(()));
        assert_eq!(holds("ip in 10.0.0.0/8"), Ok(()));
        assert_eq!(holds("ip in 192.168.0.0/16,fd00::/8"), Err(DenialCode::CaveatFailed));
        assert_eq!(holds("aud = billing-api"), Ok(()));
        assert_eq!(holds("max-cost <= 5"), Ok(()));
        assert_eq!(holds("max-cost <= 4"), Err(DenialCode::CostExceeded));
        assert_eq!(holds("balance <= 5"), Ok(()));
        assert_eq!(holds("balance <= 4"), Err(DenialCode::InsufficientBalance));
        assert_eq!(holds("tenant = acme"), Ok(()));
        assert_eq!(holds("region = eu"), Err(DenialCode::CaveatFailed));
    }

    #[test]
    fn missing_facts_deny() {
        let bare = Context::at(datetime!(2026-11-23 12:00 UTC));
        for text in ["action = read", "resource prefix /", "ip in 0.0.0.0/0", "aud = x", "tenant = acme"] {
            assert!(parse(text).unwrap().check(&bare).is_err(), "{text}");
        }
    }

    #[test]
    fn climbing_out_of_a_prefix_is_denied() {
        let mut c = ctx();
        for escape in ["/apps/42/../43", "/apps/42/%2E%2E/43", "/apps/42//../43"] {
            c.resource = Some(escape.into());
            assert!(parse("resource prefix /apps/42").unwrap().check(&c).is_err(), "{escape}");
        }
    }
}
