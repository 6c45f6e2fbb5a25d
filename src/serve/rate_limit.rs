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
//! The per-token count is per *tree*: a successor or a split child that this server issued
//! counts with the token it came from (a bounded map of the children issued here, to the
//! token their tree started at), so splitting a token into many, or spending it once to get
//! a fresh nonce, never multiplies its rate. Like the buckets, the map is per process: with
//! several replicas, each limits what it serves, and a child issued by another replica (or by
//! `crumb split` on the ledger) counts on its own here; the per-address limit and the
//! tree's `spend-rate` windows still apply to it.

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

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    fn prune(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }
}

/// How many issued children the per-token limit remembers the tree of (16 bytes of key and
/// 16 of value each: about 8 MiB with the map's own overhead). Past it, the least used are
/// forgotten, and a forgotten child counts on its own.
const TREES_REMEMBERED: usize = 200_000;

/// The limiters in force: replaced whole on a reload, each kept (with its buckets) when its
/// rate did not change.
#[derive(Default)]
struct Limiters {
    public_ip: Option<Arc<Limiter<IpAddr>>>,
    admin_ip: Option<Arc<Limiter<IpAddr>>>,
    per_token: Option<Arc<Limiter<[u8; 16]>>>,
}

/// The limits of one `crumb serve`. A proxy's admin listener counts addresses in buckets of
/// its own, at the same rate: public traffic, however heavy (or from an address the operator
/// also uses), never locks the operator out of revoking, topping up or reading metrics. A
/// token counts in one bucket wherever it is used, in a header or a JSON body: only its
/// holder can spend its count.
pub struct RateLimits {
    current: arc_swap::ArcSwap<Limiters>,
    /// A child nonce issued here → the nonce its tree started at (filled only while there is
    /// a per-token limit).
    trees: quick_cache::sync::Cache<[u8; 16], [u8; 16]>,
}

impl RateLimits {
    pub fn new(per_ip: Option<Rate>, per_token: Option<Rate>) -> Self {
        let limits = RateLimits { current: Default::default(), trees: quick_cache::sync::Cache::new(TREES_REMEMBERED) };
        limits.set(per_ip, per_token);
        limits
    }

    /// Puts new rates in force (a reload). A limiter whose rate is unchanged keeps its
    /// buckets: a reload never hands a client a fresh burst.
    pub fn set(&self, per_ip: Option<Rate>, per_token: Option<Rate>) {
        fn keep<K: std::hash::Hash + Eq + Clone>(
            old: &Option<Arc<Limiter<K>>>,
            rate: Option<Rate>,
        ) -> Option<Arc<Limiter<K>>> {
            let rate = rate?;
            match old {
                Some(l) if l.rate == rate => Some(l.clone()),
                _ => Some(Arc::new(Limiter::new(rate))),
            }
        }
        let old = self.current.load();
        self.current.store(Arc::new(Limiters {
            public_ip: keep(&old.public_ip, per_ip),
            admin_ip: keep(&old.admin_ip, per_ip),
            per_token: keep(&old.per_token, per_token),
        }));
    }

    /// The key a token counts under in the per-token limit: the nonce its tree started at,
    /// when this server issued it, else its own.
    fn tree_of(&self, nonce: [u8; 16]) -> [u8; 16] {
        self.trees.get(&nonce).unwrap_or(nonce)
    }

    /// Records the tokens a spend, split or settle issued as part of their parent's tree.
    pub fn adopt(&self, receipt: &crumb::spend::Receipt) {
        if self.current.load().per_token.is_some() {
            let tree = self.tree_of(receipt.parent.0);
            for child in &receipt.children {
                self.trees.insert(child.nonce.0, tree);
            }
        }
    }

    /// No limits (the app's unit tests).
    #[cfg(test)]
    pub fn none() -> Self {
        RateLimits::new(None, None)
    }

    /// Forgets the buckets of keys that have been quiet for a full period, so the memory the
    /// limiters hold follows the clients that are active, not all that ever came.
    pub fn prune(&self) {
        let now = self.current.load();
        for l in [&now.public_ip, &now.admin_ip].into_iter().flatten() {
            l.prune();
        }
        if let Some(l) = &now.per_token {
            l.prune();
        }
    }

    /// Counts a request of `token` against the per-token limit: `Err` (the wait, and the
    /// policy to name) when it is over.
    fn check_token(&self, token: &crumb::Macaroon) -> Result<(), (Duration, String)> {
        let now = self.current.load();
        let (Some(l), Some(id)) = (&now.per_token, token.token_id()) else { return Ok(()) };
        l.check(&self.tree_of(id.nonce.0)).map_err(|wait| (wait, l.rate.policy("token")))
    }

    /// [`Self::check_token`] for a token a JSON body carries (the middleware counts only what
    /// `Authorization: Bearer` carries): a 429 `rate-limited` answer when it is over.
    pub fn check_body_token(&self, token: &crumb::Macaroon) -> Result<(), super::error::ApiError> {
        self.check_token(token).map_err(|(wait, _)| {
            let seconds = wait_seconds(wait);
            let mut e = super::error::ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too many requests: try again in {seconds} s"),
            );
            e.retry_after = Some(seconds);
            e
        })
    }
}

/// Paths never limited: a liveness probe must answer whatever the load.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Which listener a request came in on: each counts in buckets of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// A proxy's public listener, or the JSON API's only one.
    Public,
    /// A proxy's admin listener.
    Admin,
}

/// How a router answers a refusal: the JSON API's `{code, message, x_request_id}`, or the
/// metering proxy's RFC 9457 problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    Json,
    Problem,
}

/// The middleware: counts the request against its address and its token, in the buckets of
/// the listener it came in on, and refuses in the router's own shape.
pub async fn limit(
    State((state, listener, answers)): State<(Arc<AppState>, Listener, Answers)>,
    peer: ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let limiters = state.rate_limits.current.load_full();
    let per_ip = match listener {
        Listener::Public => &limiters.public_ip,
        Listener::Admin => &limiters.admin_ip,
    };
    let response = limit_in(&state, per_ip.as_deref(), limiters.per_token.is_some(), peer, req, next).await;
    match response {
        Ok(response) => response,
        Err((policy, wait)) => refused(policy, wait, answers),
    }
}

async fn limit_in(
    state: &AppState,
    per_ip: Option<&Limiter<IpAddr>>,
    per_token: bool,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response, (String, Duration)> {
    let limits = &state.rate_limits;
    if exempt(req.uri().path()) || (per_ip.is_none() && !per_token) {
        return Ok(next.run(req).await);
    }
    if let Some(l) = per_ip {
        // A malformed X-Forwarded-For is the handler's to refuse; the peer is counted here.
        let ip = super::facts::client_ip(state, req.headers(), peer).unwrap_or_else(|_| peer.ip().to_canonical());
        if let Err(wait) = l.check(&ip) {
            return Err((l.rate.policy("address"), wait));
        }
    }
    let token = super::facts::authorization_hint(req.headers()).and_then(|text| crumb::token::wire::decode(text).ok());
    if let Some(token) = token {
        if let Err((wait, policy)) = limits.check_token(&token) {
            return Err((policy, wait));
        }
    }
    Ok(next.run(req).await)
}

/// Whole seconds to wait, at least 1.
fn wait_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn refused(policy: String, wait: Duration, answers: Answers) -> Response {
    let seconds = wait_seconds(wait);
    let message = format!("too many requests: try again in {seconds} s");
    let mut response = match answers {
        Answers::Problem => {
            let mut problem = super::metering::Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message);
            problem.retry_after = Some(seconds);
            problem.into_response()
        }
        Answers::Json => {
            let mut error = super::error::ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message);
            error.retry_after = Some(seconds);
            error.into_response()
        }
    };
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
