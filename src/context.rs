//! The facts of one request that caveats are checked against, and the clock.
//! Tests and scripts fix the clock (`--at`); nothing else reads the system time.

use crate::caveat::IpNet;
use crate::error::Error;
use crate::limits;
use std::collections::BTreeMap;
use std::net::IpAddr;
use time::OffsetDateTime;

/// What a token is being used for. Operator credentials (minted with the operator role in
/// their signed identifier) authorize operator acts only, and ordinary tokens never do:
/// the role is fixed at mint time, so no caveat a holder adds can change it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Purpose {
    /// An ordinary request: verify, spend, split.
    #[default]
    Request,
    /// Handing credit on (split): no request is made, so caveats about requests are not
    /// checked (the children carry them); time, balance, signature and discharges are.
    Transfer,
    /// An operator act: revoking any token by nonce, cascading a revocation.
    Operate,
}

/// What a verifier knows about the request a token is presented with.
/// A fact that is absent denies every caveat that needs it (fail closed); `cost` is 0 unless
/// the request says otherwise, so a request that spends nothing passes cost caps.
#[derive(Clone, Debug)]
pub struct Context {
    pub now: OffsetDateTime,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub ip: Option<IpAddr>,
    pub aud: Option<String>,
    pub cost: u64,
    /// Application facts for `NAME = VALUE` / `NAME in a,b` caveats.
    pub values: BTreeMap<String, String>,
    pub purpose: Purpose,
}

impl Context {
    /// A request at `now` with no other facts.
    pub fn at(now: OffsetDateTime) -> Self {
        Context {
            now,
            action: None,
            resource: None,
            ip: None,
            aud: None,
            cost: 0,
            values: BTreeMap::new(),
            purpose: Purpose::Request,
        }
    }

    /// A request now, by the system clock.
    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    /// Refuses facts longer or more numerous than [`limits`] allows: they come from clients.
    pub fn check_bounds(&self) -> Result<(), Error> {
        for (what, value) in [("action", &self.action), ("resource", &self.resource), ("audience", &self.aud)] {
            if let Some(v) = value {
                limits::check_fact(what, v)?;
            }
        }
        if self.values.len() > limits::MAX_CONTEXT_FACTS {
            return Err(Error::Usage(format!("a request carries at most {} context facts", limits::MAX_CONTEXT_FACTS)));
        }
        for (name, value) in &self.values {
            if name.is_empty() || name.len() > limits::MAX_FACT_NAME {
                return Err(Error::Usage(format!("a context fact's name is 1 to {} bytes", limits::MAX_FACT_NAME)));
            }
            limits::check_fact("context value", value)?;
        }
        Ok(())
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::now()
    }
}

/// The client's address behind trusted proxies. `forwarded` holds the `X-Forwarded-For`
/// values in the order received. Only a peer inside `trusted` is believed at all; then the
/// hops are read from the right (the ones our proxies appended) and the first hop that is not
/// itself a trusted proxy is the client. The leftmost entries are whatever the client wrote,
/// so they are never taken on trust. A malformed hop stops the walk at the last good one.
pub fn client_ip(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded.iter().rev().flat_map(|v| v.rsplit(',')).take(64) {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // The client forged a leftmost entry; our proxy appended the real address.
        assert_eq!(client_ip(ip("127.0.0.1"), &["6.6.6.6, 203.0.113.9, 10.0.0.2"], &trusted), ip("203.0.113.9"));
        // Two headers read as one list.
        assert_eq!(client_ip(ip("10.0.0.1"), &["6.6.6.6", "203.0.113.9"], &trusted), ip("203.0.113.9"));
        // An untrusted peer's header is ignored.
        assert_eq!(client_ip(ip("198.51.100.1"), &["203.0.113.9"], &trusted), ip("198.51.100.1"));
        // A malformed hop stops the walk at the last good one.
        assert_eq!(client_ip(ip("10.0.0.1"), &["203.0.113.9, garbage, 10.0.0.3"], &trusted), ip("10.0.0.3"));
        // All hops trusted: the leftmost.
        assert_eq!(client_ip(ip("10.0.0.1"), &["10.1.1.1, 10.0.0.3"], &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn oversized_facts_are_refused() {
        let mut ctx = Context::now();
        ctx.action = Some("a".repeat(limits::MAX_FACT + 1));
        assert!(ctx.check_bounds().is_err());
        let mut ctx = Context::now();
        ctx.values = (0..=limits::MAX_CONTEXT_FACTS).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(ctx.check_bounds().is_err());
    }
}
