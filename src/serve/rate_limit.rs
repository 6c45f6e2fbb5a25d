//! Request-rate limits, per client address and per token.
//!
//! A balance caps what a token spends, not how often it is used: routes priced 0, unpriced
//! routes let through (`--unpriced free`), `/v1/verify` and forward auth in verify mode cost
//! nothing. Each request is counted against its client's address (the peer, or the client a
//! trusted proxy names) and, when it presents a token as `Authorization: Bearer`, against
//! that token's nonce (an attenuated copy shares its original's bucket). Over either limit:
//! `429 rate-limited` with `Retry-After`, and the `RateLimit-Policy` / `RateLimit` headers
//! (draft-ietf-httpapi-ratelimit-headers). Health and metrics are never limited. The
//! algorithm is the `governor` crate's GCRA: a burst of N, refilled at N per period.
//!
//! A paid route's successor is a new token (a new nonce), so there the per-token limit counts
//! each token once; what bounds a paying agent is its balance, its `spend-rate` windows, and
//! the per-address limit.

use super::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// A rate as an operator writes it: `N/s`, `N/m` or `N/h` (a burst of N, refilled over the
/// period), or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (count, unit) = text.split_once('/').ok_or("a rate is N/s, N/m or N/h (or `off`)")?;
        let count: u32 = count.trim().parse().map_err(|_| "a rate's count is a whole number")?;
        let count = NonZeroU32::new(count).ok_or("a rate of 0 refuses everything: use `off` to turn it off")?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err("a rate is per s, m or h".into()),
        };
        Ok(Rate { count, period })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A `--rate-limit-*` setting: a [`Rate`], or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

/// Parses `--rate-limit-*`: a [`Rate`], or `off`.
pub fn parse_rate(text: &str) -> Result<RateSetting, String> {
    if text.trim() == "off" {
        return Ok(RateSetting(None));
    }
    text.parse().map(|r| RateSetting(Some(r)))
}

impl Rate {
    fn quota(self) -> Quota {
        let per_cell = self.period / self.count.get();
        Quota::with_period(per_cell.max(Duration::from_nanos(1))).expect("a period above zero").allow_burst(self.count)
    }

    /// `q=N;w=SECONDS`, as the RateLimit-Policy header writes a policy.
    fn policy(self, name: &str) -> String {
        format!("\"{name}\";q={};w={}", self.count, self.period.as_secs())
    }
}

/// One limiter: its rate, and a bucket per key.
struct Limiter<K: std::hash::Hash + Eq + Clone> {
    rate: Rate,
    buckets: DefaultKeyedRateLimiter<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    fn new(rate: Rate) -> Self {
        Limiter { rate, buckets: RateLimiter::keyed(rate.quota()) }
    }

    /// `Err(wait)` when `key` is over the limit.
    fn check(&self, key: &K) -> Result<(), Duration> {
        self.buckets.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The limits of one `crumb serve`.
pub struct RateLimits {
    per_ip: Option<Limiter<IpAddr>>,
    per_token: Option<Limiter<[u8; 16]>>,
}

impl RateLimits {
    pub fn new(per_ip: Option<Rate>, per_token: Option<Rate>) -> Self {
        RateLimits { per_ip: per_ip.map(Limiter::new), per_token: per_token.map(Limiter::new) }
    }

    /// No limits (the app's unit tests).
    #[cfg(test)]
    pub fn none() -> Self {
        RateLimits::new(None, None)
    }

    /// Forgets the buckets of keys that have been quiet for a full period, so the memory the
    /// limiters hold follows the clients that are active, not all that ever came.
    pub fn prune(&self) {
        if let Some(l) = &self.per_ip {
            l.buckets.retain_recent();
            l.buckets.shrink_to_fit();
        }
        if let Some(l) = &self.per_token {
            l.buckets.retain_recent();
            l.buckets.shrink_to_fit();
        }
    }
}

/// Paths never limited: a liveness probe must answer whatever the load.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The middleware: counts the request against its address and its token.
pub async fn limit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let limits = &state.rate_limits;
    if exempt(req.uri().path()) || (limits.per_ip.is_none() && limits.per_token.is_none()) {
        return next.run(req).await;
    }
    if let Some(l) = &limits.per_ip {
        // A malformed X-Forwarded-For is the handler's to refuse; the peer is counted here.
        let ip = super::routes::client_ip(&state, req.headers(), peer).unwrap_or_else(|_| peer.ip().to_canonical());
        if let Err(wait) = l.check(&ip) {
            return refused(l.rate.policy("address"), wait);
        }
    }
    if let Some(l) = &limits.per_token {
        let nonce = super::routes::bearer(req.headers())
            .and_then(|text| crumb::token::wire::decode(text).ok())
            .and_then(|m| m.token_id().map(|id| id.nonce));
        if let Some(nonce) = nonce {
            if let Err(wait) = l.check(&nonce.0) {
                return refused(l.rate.policy("token"), wait);
            }
        }
    }
    next.run(req).await
}

fn refused(policy: String, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut problem = super::metering::Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("too many requests: try again in {seconds} s"),
    );
    problem.retry_after = Some(seconds);
    let mut response = problem.into_response();
    let name = policy.split(';').next().unwrap_or("\"limit\"").to_owned();
    if let Ok(v) = HeaderValue::from_str(&policy) {
        response.headers_mut().insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{name};r=0;t={seconds}")) {
        response.headers_mut().insert("ratelimit", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_back() {
        assert_eq!(parse_rate("50/s").unwrap().0.unwrap().to_string(), "50/s");
        assert_eq!(parse_rate("off").unwrap(), RateSetting(None));
        for bad in ["0/s", "5", "5/d", "x/s", "-1/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_passes_and_the_next_waits() {
        let l: Limiter<u8> = Limiter::new("3/s".parse().unwrap());
        for _ in 0..3 {
            l.check(&1).unwrap();
        }
        let wait = l.check(&1).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(334), "{wait:?}");
        l.check(&2).unwrap();
    }
}
