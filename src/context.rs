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
    /// A ledger counts this request against the token's `spend-rate` windows (and refuses it
    /// when one is full). Without it a `spend-rate` caveat denies: nothing would enforce it.
    pub windows_counted: bool,
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
            windows_counted: false,
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
        limits::check_amount("cost", self.cost)?;
        if self.values.len() > limits::MAX_CONTEXT_FACTS {
            return Err(Error::Limit(crate::error::LimitError::new(
                "bad-request",
                format!("a request carries at most {} context facts", limits::MAX_CONTEXT_FACTS),
            )));
        }
        for (name, value) in &self.values {
            if name.is_empty() || name.len() > limits::MAX_FACT_NAME {
                return Err(Error::Limit(crate::error::LimitError::new(
                    "bad-request",
                    format!("a context fact's name is 1 to {} bytes", limits::MAX_FACT_NAME),
                )));
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

/// Most `X-Forwarded-For` hops (over all its lines) read: beyond, the header is refused.
pub const MAX_FORWARDED_HOPS: usize = 64;

/// Why the client's address behind a trusted proxy cannot be told.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForwardedError {
    #[error("X-Forwarded-For has more than {MAX_FORWARDED_HOPS} hops")]
    TooManyHops,
    #[error("X-Forwarded-For has a hop that is not an IP address: {0}")]
    Malformed(String),
}

/// The client's address behind trusted proxies. `forwarded` holds the `X-Forwarded-For`
/// lines in the order received, as bytes (the layouts nginx's `$proxy_add_x_forwarded_for`,
/// Envoy and Caddy write, one comma-separated line, and HAProxy's `option forwardfor`, a line
/// per proxy, read the same). Only a peer inside `trusted` is believed at all; then the hops
/// are read from the right (the ones our proxies appended) and the first hop that is not itself
/// a trusted proxy is the client. The leftmost entries are whatever the client wrote, so they
/// are never taken on trust.
///
/// The header decides trust, so it is read whole and never skipped over: more than
/// [`MAX_FORWARDED_HOPS`] hops, or a hop on the walk that is not an address (a byte that is
/// not ASCII, an empty hop, `unknown`), refuses the request rather than guess. Addresses are
/// canonical: an IPv4-mapped IPv6 address is its IPv4 address.
pub fn client_ip(peer: IpAddr, forwarded: &[&[u8]], trusted: &[IpNet]) -> Result<IpAddr, ForwardedError> {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Ok(peer);
    }
    let hops = forwarded.iter().map(|line| line.split(|&b| b == b',').count()).sum::<usize>();
    if forwarded.len() > MAX_FORWARDED_HOPS || hops > MAX_FORWARDED_HOPS {
        return Err(ForwardedError::TooManyHops);
    }
    let mut client = peer;
    for hop in forwarded.iter().rev().flat_map(|line| line.rsplit(|&b| b == b',')) {
        let ip = parse_hop(hop).ok_or_else(|| {
            ForwardedError::Malformed(
                String::from_utf8_lossy(hop).chars().take(64).collect::<String>().escape_debug().to_string(),
            )
        })?;
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Ok(client)
}

/// One hop: an address, optionally bracketed (IPv6) and optionally with a port, as some
/// proxies write it. Surrounding spaces and tabs are the list's, not the hop's.
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?.trim_matches([' ', '\t']);
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(|v6| IpAddr::V6(v6).to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn walk(peer: &str, lines: &[&str], trusted: &[IpNet]) -> Result<IpAddr, ForwardedError> {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        client_ip(peer.parse().unwrap(), &lines, trusted)
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1"]);
        let ip = |s: &str| Ok(s.parse::<IpAddr>().unwrap());
        // nginx's $proxy_add_x_forwarded_for: the client forged a leftmost entry, our proxy
        // appended the real address.
        assert_eq!(walk("127.0.0.1", &["6.6.6.6, 203.0.113.9, 10.0.0.2"], &trusted), ip("203.0.113.9"));
        // HAProxy's option forwardfor: a line per proxy, read as one list.
        assert_eq!(walk("10.0.0.1", &["6.6.6.6", "203.0.113.9"], &trusted), ip("203.0.113.9"));
        // Envoy: comma and space, no port; some proxies add ports and brackets.
        assert_eq!(walk("10.0.0.1", &["203.0.113.9,10.0.0.2"], &trusted), ip("203.0.113.9"));
        assert_eq!(walk("10.0.0.1", &["203.0.113.9:5555"], &trusted), ip("203.0.113.9"));
        assert_eq!(walk("10.0.0.1", &["[2001:db8::1]:443"], &trusted), ip("2001:db8::1"));
        assert_eq!(walk("10.0.0.1", &["::ffff:203.0.113.9"], &trusted), ip("203.0.113.9"));
        // An untrusted peer's header is ignored; a mapped peer is its IPv4 address.
        assert_eq!(walk("198.51.100.1", &["203.0.113.9"], &trusted), ip("198.51.100.1"));
        assert_eq!(walk("::ffff:198.51.100.1", &["203.0.113.9"], &trusted), ip("198.51.100.1"));
        assert_eq!(walk("::ffff:10.0.0.1", &["203.0.113.9"], &trusted), ip("203.0.113.9"));
        // Garbage left of the client decides nothing and is not read.
        assert_eq!(walk("10.0.0.1", &["garbage, 203.0.113.9, 10.0.0.3"], &trusted), ip("203.0.113.9"));
        // All hops trusted: the leftmost.
        assert_eq!(walk("10.0.0.1", &["10.1.1.1, 10.0.0.3"], &trusted), ip("10.1.1.1"));
        assert_eq!(walk("10.0.0.1", &[], &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn a_forwarded_for_that_cannot_be_read_whole_is_refused() {
        let trusted = nets(&["10.0.0.0/8"]);
        // A hop on the walk that is no address: refused, never skipped to one further left.
        assert!(matches!(
            walk("10.0.0.1", &["203.0.113.9, garbage, 10.0.0.3"], &trusted),
            Err(ForwardedError::Malformed(_))
        ));
        assert!(walk("10.0.0.1", &["203.0.113.9,"], &trusted).is_err());
        assert!(walk("10.0.0.1", &["unknown"], &trusted).is_err());
        let latin1: &[&[u8]] = &[b"6.6.6.6", b"203.0.113.9\xff"];
        assert!(client_ip("10.0.0.1".parse().unwrap(), latin1, &trusted).is_err());
        // Enough lines or hops to push the proxy's own entry out of a window: refused whole.
        let many_lines: Vec<&str> = std::iter::repeat_n("6.6.6.6", MAX_FORWARDED_HOPS).chain(["203.0.113.9"]).collect();
        assert_eq!(walk("10.0.0.1", &many_lines, &trusted), Err(ForwardedError::TooManyHops));
        let many_hops = vec!["10.0.0.9"; MAX_FORWARDED_HOPS + 1].join(",");
        assert_eq!(walk("10.0.0.1", &[&many_hops], &trusted), Err(ForwardedError::TooManyHops));
        let just_enough = vec!["10.0.0.9"; MAX_FORWARDED_HOPS].join(",");
        assert!(walk("10.0.0.1", &[&just_enough], &trusted).is_ok());
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
