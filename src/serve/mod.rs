//! `crumb serve`: the same verifier, spending and ledger over HTTP (axum on tokio).
//!
//! `app(state)` builds the whole service as a value, so tests and the binary share it; `run`
//! binds, serves, and on SIGINT/SIGTERM stops accepting and lets in-flight requests finish.

mod audit;
mod error;
mod metrics;
mod routes;

pub use audit::Audit;
pub use metrics::Metrics;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use crumb::ledger::SqliteLedger;
use crumb::Keyring;
use error::ApiError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a request may need; shared, read-only but for the ledger and the counters.
pub struct AppState {
    pub keys: Keyring,
    pub ledger: Arc<SqliteLedger>,
    pub metrics: Metrics,
    pub audit: Option<Audit>,
    pub trust_proxy: bool,
    pub timeout: Duration,
}

impl AppState {
    fn audit(&self, entry: audit::Entry<'_>) {
        if let Some(a) = &self.audit {
            a.record(entry);
        }
    }
}

/// The route patterns, as metrics label them.
const ROUTES: &[&str] = &["/v1/verify", "/v1/spend", "/v1/split", "/v1/revoke", "/healthz", "/metrics"];

/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;

/// The service.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/verify", post(routes::verify))
        .route("/v1/spend", post(routes::spend))
        .route("/v1/split", post(routes::split))
        .route("/v1/revoke", post(routes::revoke))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Times every request, bounds it by the timeout, and counts it by route and status.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().map(|p| p.as_str());
    let route = ROUTES.iter().copied().find(|r| Some(*r) == matched).unwrap_or("unmatched");
    let started = Instant::now();
    let response = match tokio::time::timeout(state.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long")
            .into_response(),
    };
    state.metrics.observe(route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
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
