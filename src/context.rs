//! The facts of one request that caveats are checked against, and the clock.
//! Tests and scripts fix the clock (`--at`); nothing else reads the system time.

use std::collections::BTreeMap;
use std::net::IpAddr;
use time::OffsetDateTime;

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
}

impl Context {
    /// A request at `now` with no other facts.
    pub fn at(now: OffsetDateTime) -> Self {
        Context { now, action: None, resource: None, ip: None, aud: None, cost: 0, values: BTreeMap::new() }
    }

    /// A request now, by the system clock.
    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::now()
    }
}
