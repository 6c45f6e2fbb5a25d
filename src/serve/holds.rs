//! Holding, settling and releasing a token from async code, and answering a client that lost
//! an answer (`Crumb-Recover: 1`): what the metering proxy and forward auth share.
//!
//! Each call awaits the issuer, whose ledger decides how the work runs
//! ([`crumb::ledger::pending`]); no thread waits here.

use super::facts::Bearer;
use super::metering::{self, Problem};
use super::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use crumb::charge::Held;
use crumb::spend::Receipt;
use std::sync::Arc;
use std::time::Duration;

/// Whether the client asks to recover a lost answer (`Crumb-Recover: 1`).
pub fn recovering(headers: &HeaderMap) -> Result<bool, Problem> {
    match super::facts::single_header(headers, "crumb-recover", "bad-recover")? {
        None => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-recover", "Crumb-Recover takes the value 1")),
    }
}

/// A recovery probe on a route that consumes nothing: the token the client holds is still its
/// current one.
pub fn recovered_unpaid(token: Option<(&str, Option<u64>)>, status: StatusCode) -> Response {
    let mut problem = Problem::new(
        status,
        "already-answered",
        "this route charges nothing, so there is nothing to recover; the token is unchanged",
    );
    problem.extra.insert("cost".into(), serde_json::json!(0));
    let mut response = problem.into_response();
    if let Some((text, balance)) = token {
        metering::set_receipt_headers(response.headers_mut(), text, balance, 0);
    }
    response
}

/// Answers a recovery probe for a paid request without it ever being forwarded: the recorded
/// successor when the request was settled, `in-flight` while it is held, and when it was never
/// recorded, closes its request id now at no cost (a late copy is then answered from the
/// ledger too). `ttl` bounds the short hold that closing takes.
pub async fn recover(
    state: &Arc<AppState>,
    bearer: &Bearer,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
    status: StatusCode,
) -> Result<(Response, &'static str), Problem> {
    let price = ctx.cost;
    let refused = |e| Problem::from_error(e, bearer, &state.pricing().realm, price);
    let presented = bearer.presented.clone();
    let worker = state.clone();
    // Its own task: a probe dropped half way must not leave its short hold behind.
    let task = tokio::spawn(async move {
        match hold(&worker, presented, ctx, request_id, ttl).await? {
            Held::Fresh(hold) => settle(&worker, hold, 0).await.map(|r| (r, "closed")),
            Held::Answered(receipt) => Ok((receipt, "replayed")),
        }
    });
    let settled = task
        .await
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the recovery task failed"))?;
    let (receipt, outcome) = settled.map_err(refused)?;
    Ok((already_answered(&receipt, status), outcome))
}

/// Gives a hold back (its request never reached the upstream); a failure only means the hold
/// lapses on its own.
pub async fn release(state: &Arc<AppState>, hold: crumb::charge::Hold) {
    state.metrics.holds_in_flight.dec();
    if let Err(e) = state.issuer.release(hold).await {
        let e = super::error::ApiError::from(e);
        tracing::warn!(code = e.code, "a hold could not be released; it lapses on its own");
    }
}

/// Holds the token (verified here, reserved by the ledger), counting it in flight.
pub async fn hold(
    state: &Arc<AppState>,
    presented: crumb::Presented,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
) -> Result<Held, crumb::Error> {
    let held = state.issuer.hold(presented, &ctx, &request_id, ttl).await;
    if let Ok(Held::Fresh(_)) = &held {
        // Down again when the hold goes to [`settle`] or [`release`].
        state.metrics.holds_in_flight.inc();
    }
    held
}

/// Settles the hold, charging `cost` (at most the price held).
pub async fn settle(state: &Arc<AppState>, hold: crumb::charge::Hold, cost: u64) -> Result<Receipt, crumb::Error> {
    let settled = state.issuer.settle(hold, cost).await;
    state.metrics.holds_in_flight.dec();
    if let Ok(receipt) = &settled {
        state.rate_limits.adopt(receipt);
    }
    settled
}

/// A retry of a request already settled: the recorded successor, without calling the
/// upstream again. The upstream's answer was not stored, so this is not a success.
/// `status` is 409, or 403 for forward auth (the only refusal nginx passes on besides 401).
pub fn already_answered(receipt: &Receipt, status: StatusCode) -> Response {
    let successor = &receipt.children[0];
    let mut problem = Problem::new(
        status,
        "already-answered",
        "this request (same token, same Idempotency-Key) was answered before; the upstream was not called again \
         and its answer is not stored; the successor is in Crumb-Token",
    );
    problem.extra.insert("cost".into(), serde_json::json!(receipt.cost));
    problem.extra.insert("balance".into(), serde_json::json!(successor.balance));
    let mut response = problem.into_response();
    let text = super::routes::encode(&successor.token);
    metering::set_receipt_headers(response.headers_mut(), &text, Some(successor.balance), receipt.cost);
    response.headers_mut().insert("crumb-replayed", HeaderValue::from_static("true"));
    response
}
