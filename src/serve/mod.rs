//! `crumb serve`: the same verifier, spending and ledger over HTTP (axum on tokio).
//!
//! `app(state)` builds the whole service as a value, so tests and the binary share it; `run`
//! binds, serves, and on SIGINT/SIGTERM stops accepting and lets in-flight requests finish.

mod audit;
mod authz;
mod bodies;
mod connections;
mod error;
mod facts;
mod holds;
mod ledger_metrics;
mod metering;
mod metrics;
mod proxy;
mod rate_limit;
pub mod request_id;
use rate_limit::Listener;
mod routes;
mod schema;
mod stall;
mod tls;
mod usage;

pub use audit::Audit;
pub use authz::{AuthzMode, AuthzOptions};
pub use connections::Limits;
#[cfg(test)]
pub use error::status as status_of;
pub use ledger_metrics::Measured as MeasuredLedger;
pub use metering::{Pricing, Unpriced};
pub use metrics::Metrics;
pub use proxy::Upstream;
pub use rate_limit::{parse_rate, Rate, RateLimits, RateSetting};
pub use tls::Tls;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use error::ApiError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a request may need; shared, read-only but for the ledger and the counters.
pub struct AppState {
    /// Keys, ledger and clock: every route verifies, spends and revokes through it.
    pub issuer: crumb::Issuer,
    pub metrics: Metrics,
    pub audit: Option<Audit>,
    /// Proxies whose X-Forwarded-For is believed (`--trust-proxy`); empty: none.
    pub trusted_proxies: Vec<crumb::caveat::IpNet>,
    pub timeout: Duration,
    /// The price list, for forward auth and the proxy; replaced whole on a reload.
    pub pricing: arc_swap::ArcSwap<Pricing>,
    pub authz: AuthzOptions,
    /// The metered API, in proxy mode.
    pub upstream: Option<Upstream>,
    /// In proxy mode, serve the holder routes under [`WELL_KNOWN`] on the public listener
    /// (`--no-well-known` turns it off; the prefix is never forwarded either way).
    pub well_known: bool,
    /// Requests per client address and per token (`--rate-limit-ip`, `--rate-limit-token`).
    pub rate_limits: RateLimits,
}

impl AppState {
    /// The price list in force: a request keeps the one it started with through a reload.
    pub fn pricing(&self) -> Arc<Pricing> {
        self.pricing.load_full()
    }

    fn audit(&self, entry: audit::Entry<'_>) {
        if let Some(a) = &self.audit {
            a.record(entry);
        }
    }
}

/// The route patterns, as metrics label them: in the `:param` and `*rest` syntax of axum 0.7,
/// which the `route` label has always carried (axum 0.8 writes them `{param}`, `{*rest}`:
/// [`route_label`] maps one to the other, so dashboards and alerts keep their series).
const ROUTES: &[&str] = &[
    "/v1/verify",
    "/v1/spend",
    "/v1/split",
    "/v1/revoke",
    "/v1/give-back",
    "/v1/top-up",
    "/v1/status",
    "/v1/lineage",
    "/v1/lineage/:nonce",
    "/.well-known/crumb/v1/verify",
    "/.well-known/crumb/v1/split",
    "/.well-known/crumb/v1/revoke",
    "/.well-known/crumb/v1/give-back",
    "/.well-known/crumb/v1/status",
    "/.well-known/crumb/v1/lineage",
    "/.well-known/crumb/v1/lineage/:nonce",
    "/v1/authz",
    "/v1/authz/",
    "/v1/authz/*path",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
];

/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;

/// The service: the JSON API, forward auth, health and metrics.
pub fn app(state: Arc<AppState>) -> Router {
    service(state, Listener::Public)
}

/// [`app`] as a proxy's admin listener serves it: its request-rate limits count apart from
/// the public listener's.
pub fn admin_app(state: Arc<AppState>) -> Router {
    service(state, Listener::Admin)
}

fn service(state: Arc<AppState>, listener: Listener) -> Router {
    Router::new()
        .route("/v1/verify", post(routes::verify))
        .route("/v1/spend", post(routes::spend))
        .route("/v1/split", post(routes::split))
        .route("/v1/revoke", post(routes::revoke))
        .route("/v1/give-back", post(routes::give_back))
        .route("/v1/top-up", post(routes::top_up))
        .route("/v1/status", get(routes::status))
        .route("/v1/lineage", get(routes::lineage_own))
        .route("/v1/lineage/{nonce}", get(routes::lineage))
        // Every method a metered request may have: Envoy asks with the original request's own.
        .route("/v1/authz", authz::methods(authz::authz_root))
        .route("/v1/authz/", authz::methods(authz::authz_path))
        .route("/v1/authz/{*path}", authz::methods(authz::authz_path))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state((state.clone(), listener, rate_limit::Answers::Json), rate_limit::limit))
        .layer(middleware::from_fn(no_query))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The reserved prefix (RFC 8615) under which a proxy's public listener serves the holder
/// routes: agents that pay through the proxy reach them where they pay. A contract.
pub const WELL_KNOWN: &str = "/.well-known/crumb";

/// Whether a canonical path lies under [`WELL_KNOWN`]: never forwarded to the upstream.
pub fn is_reserved(path: &str) -> bool {
    path.strip_prefix(WELL_KNOWN).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The holder's routes under [`WELL_KNOWN`]: the same handlers, bodies and authorization as
/// the JSON API's. Operator acts (revoke by nonce with an operator credential, cascades) are
/// refused here (`not-an-operator`): they stay on the admin listener, with the metrics.
fn holder_routes<S: Clone + Send + Sync + 'static>(state: Arc<AppState>) -> Router<S> {
    Router::new()
        .route("/v1/verify", post(routes::verify))
        .route("/v1/split", post(routes::split))
        .route("/v1/revoke", post(routes::revoke_as_holder))
        .route("/v1/give-back", post(routes::give_back))
        .route("/v1/status", get(routes::status))
        // A holder reads its own lineage; another nonce's is an operator's read, which stays
        // on the admin listener.
        .route("/v1/lineage", get(routes::lineage_own))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(
            (state.clone(), Listener::Public, rate_limit::Answers::Json),
            rate_limit::limit,
        ))
        .layer(middleware::from_fn(no_query))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The metering reverse proxy: every path goes to the upstream (crumb's own routes are on the
/// admin listener, so none of them shadows an upstream path) but the reserved
/// [`WELL_KNOWN`] prefix, where the holder routes are (unless `well_known` is off: then
/// nothing answers there). Bodies stream, unbuffered.
pub fn proxy_app(state: Arc<AppState>) -> Router {
    // The proxy's layer first: it covers the proxied routes only.
    let router = Router::new()
        .route("/", any(proxy::proxy))
        .route("/{*path}", any(proxy::proxy))
        .layer(middleware::from_fn_with_state(
            (state.clone(), Listener::Public, rate_limit::Answers::Problem),
            rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe_proxy));
    let router = if state.well_known {
        router.nest(WELL_KNOWN, holder_routes(state.clone()))
    } else {
        router
            .route(WELL_KNOWN, any(routes::not_found))
            .route(&format!("{WELL_KNOWN}/{{*rest}}"), any(routes::not_found))
    };
    router.with_state(state)
}

/// The `route` label of a request's matched route pattern: one of [`ROUTES`], written as
/// before axum 0.8 (`/v1/lineage/:nonce`, not `/v1/lineage/{nonce}`), or "unmatched".
fn route_label(matched: Option<&str>) -> &'static str {
    let Some(matched) = matched else { return "unmatched" };
    let legacy = if matched.contains('{') {
        std::borrow::Cow::Owned(matched.replace("{*", "*").replace('{', ":").replace('}', ""))
    } else {
        std::borrow::Cow::Borrowed(matched)
    };
    ROUTES.iter().copied().find(|r| *r == legacy).unwrap_or("unmatched")
}

/// The proxy's requests, timed and counted as one route; bounded by the upstream's timeout
/// (and a little more for crumb's own work), not the API's.
async fn observe_proxy(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let limit = state.upstream.as_ref().map_or(state.timeout, |u| u.timeout) + Duration::from_secs(5);
    observed(&state, "proxy", limit, peer, req, next).await
}

/// Refuses a query string on the JSON routes: they take their facts from the body (or the
/// bearer), and a `?cost=…` that is silently ignored looks to its sender as if it counted.
/// Forward auth keeps its query: it is the original request's (Envoy's path suffix).
async fn no_query(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if req.uri().query().is_some() && path.starts_with("/v1/") && !path.starts_with("/v1/authz") {
        return ApiError::bad_request(
            "bad-request",
            "crumb's JSON API takes no query string: send the request's facts in the body",
        )
        .into_response();
    }
    next.run(req).await
}

/// Times every request (the JSON API's, and the holder routes' under [`WELL_KNOWN`]), bounds it
/// by the API's timeout, and counts it by route and status.
async fn observe(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let route = route_label(req.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    observed(&state, route, state.timeout, peer, req, next).await
}

/// Serves one request under its request id ([`request_id`]: on the request, which the proxy
/// passes upstream, on the answer, on its log lines and in the audit log), bounded by `limit`,
/// timed and counted.
async fn observed(
    state: &AppState,
    route: &'static str,
    limit: Duration,
    peer: SocketAddr,
    mut req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument;
    let id = request_id::of(&state.trusted_proxies, req.headers(), peer);
    let value = axum::http::HeaderValue::from_str(&id).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(request_id::HEADER, v.clone());
    }
    let span = tracing::info_span!(
        "request",
        id = %id,
        route,
        status = tracing::field::Empty,
        verify_ms = tracing::field::Empty,
        ledger_ms = tracing::field::Empty,
        upstream_ms = tracing::field::Empty,
        total_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let served = request_id::CURRENT.scope(id.clone(), next.run(req).instrument(span.clone()));
    let mut response = match tokio::time::timeout(limit, served).await {
        Ok(r) => r,
        Err(_) => request_id::CURRENT.sync_scope(id, || {
            ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
                .into_response()
        }),
    };
    if let Some(v) = value {
        response.headers_mut().insert(request_id::HEADER, v);
    }
    let elapsed = started.elapsed();
    state.metrics.observe(route, response.status().as_u16(), elapsed);
    span.record("status", response.status().as_u16());
    span.record("total_ms", millis(elapsed));
    tracing::debug!(parent: &span, "request finished");
    response
}

/// A duration in milliseconds, to the microsecond: how the request span's timings read.
fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// Records on the request's span how long one of its steps took: `verify_ms` (signature,
/// caveats and standing, when checked apart), `ledger_ms` (a hold, spend or settle, which
/// verify as they write), `upstream_ms` (until the upstream's answer began).
pub(crate) fn record_step(step: &'static str, took: Duration) {
    tracing::Span::current().record(step, millis(took));
}

/// Serves `router` (the [`app`] or the [`proxy_app`]) on `listener` until `shutdown` completes, then drains in-flight requests within
/// the grace period of `limits`.
pub async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve(listener, router, limits, tls, shutdown).await
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives as soon as the
/// address is printed is already handled) and returns a future that completes on either.
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    //! The app as a value, called without a socket (tests/server.rs drives the real process).
    use super::*;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use crumb::RootKey;
    use std::net::SocketAddr;
    use tower::ServiceExt;

    fn state(dir: &std::path::Path) -> (Arc<AppState>, RootKey) {
        let key = RootKey::generate().unwrap();
        (state_at(dir, &key, crumb::issuer::Clock::System), key)
    }

    /// The app's state on the ledger in `dir`, its clock `clock`.
    fn state_at(dir: &std::path::Path, key: &RootKey, clock: crumb::issuer::Clock) -> Arc<AppState> {
        let ledger = crumb::ledger::open(dir.join("l.db").to_str().unwrap(), crumb::ledger::OpenOptions::READ_WRITE);
        let state = AppState {
            issuer: crumb::Issuer::new(crumb::Keyring::single(key.clone()), ledger.unwrap()).with_clock(clock),
            metrics: Metrics::default(),
            audit: None,
            trusted_proxies: Vec::new(),
            timeout: Duration::from_secs(5),
            pricing: arc_swap::ArcSwap::from_pointee(Pricing::default()),
            authz: AuthzOptions::default(),
            upstream: None,
            well_known: true,
            rate_limits: RateLimits::none(),
        };
        Arc::new(state)
    }

    async fn post(app: Router, path: &str, body: String) -> (StatusCode, serde_json::Value) {
        let mut req = Request::post(path).body(Body::from(body)).unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        let response = app.oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A spending window over HTTP on a fixed clock: spent up to the window, the next spend is
    /// 429 with the exact Retry-After; with the clock moved on by that much, it is allowed.
    #[tokio::test]
    async fn a_full_window_answers_429_until_the_clock_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        let key = RootKey::generate().unwrap();
        let t0 = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let id = crumb::TokenId::new(&key.key_id(), crumb::token::identifier::Nonce([5; 16]));
        let mut token = crumb::Macaroon::mint(&key, id.encode(), None);
        token.add_first_party(&b"balance <= 100"[..]);
        token.add_first_party(&b"spend-rate <= 10/1h"[..]);
        let mut text = crumb::token::wire::encode(&token, crumb::Format::V2).unwrap();
        let spend = |app: Router, token: String, cost: u64| async move {
            let body = format!(r#"{{"token":"{token}","cost":{cost}}}"#);
            let mut req = Request::post("/v1/spend").body(Body::from(body)).unwrap();
            req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
            let response = app.oneshot(req).await.unwrap();
            let (status, retry) = (response.status(), response.headers().get("retry-after").cloned());
            let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY).await.unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            (status, retry.map(|v| v.to_str().unwrap().to_owned()), doc)
        };
        let at = |secs: i64| {
            app(state_at(dir.path(), &key, crumb::issuer::Clock::Fixed(t0 + time::Duration::seconds(secs))))
        };
        for (secs, cost) in [(0, 6), (600, 4)] {
            let (status, _, doc) = spend(at(secs), text.clone(), cost).await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            text = doc["token"].as_str().unwrap().to_owned();
        }
        let (status, retry, doc) = spend(at(1200), text.clone(), 5).await;
        assert_eq!((status, doc["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("spend-rate-exceeded")));
        // 5 more fit once the 6 spent at t0 leave the window, at t0 + 3600: 2400 s from now.
        assert_eq!(retry.as_deref(), Some("2400"), "{doc}");
        let (status, _, doc) = spend(at(3599), text.clone(), 5).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a second early: {doc}");
        let (status, _, doc) = spend(at(3600), text.clone(), 5).await;
        assert_eq!((status, doc["remaining"].as_u64()), (StatusCode::OK, Some(85)), "{doc}");
    }

    #[tokio::test]
    async fn verify_through_the_router() {
        let dir = tempfile::tempdir().unwrap();
        let (state, key) = state(dir.path());
        let id = crumb::TokenId::new(&key.key_id(), crumb::token::identifier::Nonce([3; 16]));
        let mut token = crumb::Macaroon::mint(&key, id.encode(), None);
        token.add_first_party(&b"action = read"[..]);
        let text = crumb::token::wire::encode(&token, crumb::Format::V2).unwrap();
        let app = app(state);
        let (status, doc) = post(app.clone(), "/v1/verify", format!(r#"{{"token":"{text}","action":"read"}}"#)).await;
        assert_eq!((status, doc["allowed"].as_bool()), (StatusCode::OK, Some(true)), "{doc}");
        let (status, doc) = post(app.clone(), "/v1/verify", format!(r#"{{"token":"{text}","action":"write"}}"#)).await;
        assert_eq!((status, doc["code"].as_str()), (StatusCode::FORBIDDEN, Some("caveat-failed")));
        let (status, doc) = post(app, "/v1/verify", "{".into()).await;
        assert_eq!((status, doc["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad-json")));
    }

    /// The `route` label keeps the values it had before axum 0.8 changed the pattern syntax.
    #[test]
    fn route_labels_keep_the_axum_0_7_syntax() {
        assert_eq!(route_label(Some("/v1/lineage/{nonce}")), "/v1/lineage/:nonce");
        assert_eq!(route_label(Some("/.well-known/crumb/v1/lineage/{nonce}")), "/.well-known/crumb/v1/lineage/:nonce");
        assert_eq!(route_label(Some("/v1/authz/{*path}")), "/v1/authz/*path");
        assert_eq!(route_label(Some("/v1/authz/")), "/v1/authz/");
        assert_eq!(route_label(Some("/v1/verify")), "/v1/verify");
        assert_eq!(route_label(Some("/.well-known/crumb/v1/verify")), "/.well-known/crumb/v1/verify");
        assert_eq!(route_label(Some("/nowhere/{x}")), "unmatched");
        assert_eq!(route_label(None), "unmatched");
    }
}
