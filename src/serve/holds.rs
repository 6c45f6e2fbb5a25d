//! Holding, settling and releasing a token from async code, and answering a client that lost
//! an answer (`Crumb-Recover: 1`): what the metering proxy and forward auth share.
//!
//! Each call queues on the ledger's own writer when it has one (no thread waits), else runs
//! on a blocking thread.

use super::metering::{self, Presented, Problem};
use super::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use crumb::charge::Held;
use crumb::spend::Receipt;
use std::sync::Arc;
use std::time::Duration;

/// Whether the client asks to recover a lost answer (`Crumb-Recover: 1`).
pub fn recovering(headers: &HeaderMap) -> Result<bool, Problem> {
    match headers.get("crumb-recover").map(HeaderValue::as_bytes) {
        None => Ok(false),
        Some(b"1") => Ok(true),
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
    presented: &Presented,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
    status: StatusCode,
) -> Result<(Response, &'static str), Problem> {
    let price = ctx.cost;
    let refused = |e| Problem::from_error(e, presented, &state.pricing().realm, price);
    let (token, discharges) = (presented.token.clone(), presented.discharges.clone());
    let worker = state.clone();
    // Its own task: a probe dropped half way must not leave its short hold behind.
    let task = tokio::spawn(async move {
        match hold(&worker, token, discharges, ctx, request_id, ttl).await? {
            Ok(Held::Fresh(hold)) => Ok(settle(&worker, hold, 0).await?.map(|r| (r, "closed"))),
            Ok(Held::Answered(receipt)) => Ok(Ok((receipt, "replayed"))),
            Err(e) => Ok(Err(e)),
        }
    });
    let settled: Result<Result<(Receipt, &'static str), crumb::Error>, Problem> = task
        .await
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the recovery task failed"))?;
    let (receipt, outcome) = settled?.map_err(refused)?;
    Ok((already_answered(&receipt, status), outcome))
}

/// Gives a hold back (its request never reached the upstream); a failure only means the hold
/// lapses on its own.
pub async fn release(state: &Arc<AppState>, hold: crumb::charge::Hold) {
    state.metrics.holds_in_flight.dec();
    let worker = state.clone();
    if let Err(e) = super::routes::blocking(move || Ok(worker.issuer.release(hold)))
        .await
        .and_then(|r| r.map_err(super::error::ApiError::from))
    {
        tracing::warn!(code = e.code, "a hold could not be released; it lapses on its own");
    }
}

/// Holds the token: verified here and reserved by the ledger's own writer when it has one
/// (no thread waits), else on a blocking thread.
pub async fn hold(
    state: &Arc<AppState>,
    token: crumb::Macaroon,
    discharges: Vec<crumb::Macaroon>,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
) -> Result<Result<Held, crumb::Error>, Problem> {
    let held = hold_once(state, token, discharges, ctx, request_id, ttl).await;
    if let Ok(Ok(Held::Fresh(_))) = &held {
        // Down again when the hold goes to [`settle`] or [`release`].
        state.metrics.holds_in_flight.inc();
    }
    held
}

async fn hold_once(
    state: &Arc<AppState>,
    token: crumb::Macaroon,
    discharges: Vec<crumb::Macaroon>,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
) -> Result<Result<Held, crumb::Error>, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let reply = Box::new(move |queued| {
        let _ = answer.send(queued);
    });
    state.issuer.hold_queued(token.clone(), discharges.clone(), &ctx, &request_id, ttl, reply);
    if let Ok(queued) = answered.await {
        return Ok(state.issuer.finish_hold(queued));
    }
    let worker = state.clone();
    super::routes::blocking(move || Ok(worker.issuer.hold(token, discharges, &ctx, &request_id, ttl)))
        .await
        .map_err(Problem::from)
}

/// Settles the hold, charging `cost` (at most the price held): the record queued on the ledger's own writer when it has one, else on a
/// blocking thread.
pub async fn settle(
    state: &Arc<AppState>,
    hold: crumb::charge::Hold,
    cost: u64,
) -> Result<Result<Receipt, crumb::Error>, Problem> {
    let settled = settle_once(state, hold, cost).await;
    state.metrics.holds_in_flight.dec();
    if let Ok(Ok(receipt)) = &settled {
        state.rate_limits.adopt(receipt);
    }
    settled
}

async fn settle_once(
    state: &Arc<AppState>,
    hold: crumb::charge::Hold,
    cost: u64,
) -> Result<Result<Receipt, crumb::Error>, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let reply = Box::new(move |queued| {
        let _ = answer.send(queued);
    });
    let hold = match state.issuer.settle_queued(hold, cost, reply) {
        None => match answered.await {
            // Credit came back to this lineage: the successor is issued again with it.
            Ok(queued) => match state.issuer.settle_again(queued) {
                Ok(hold) => hold,
                Err(queued) => return Ok(state.issuer.finish_settle(*queued)),
            },
            Err(_) => {
                return Err(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger-unavailable",
                    "the ledger did not answer",
                ))
            }
        },
        Some(hold) => hold,
    };
    let worker = state.clone();
    super::routes::blocking(move || Ok(worker.issuer.settle(hold, cost))).await.map_err(Problem::from)
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
