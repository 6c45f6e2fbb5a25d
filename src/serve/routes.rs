//! The handlers. Each turns its route's JSON body ([`super::bodies`]) and the request's facts
//! ([`super::facts`]) into one call of the [`crumb::Issuer`] the CLI uses — verify, spend,
//! split, revoke, lineage — and the result into JSON. No verification logic here.

use super::bodies::{GiveBackBody, JsonBody, RevokeBody, SpendBody, SplitBody, TopUpBody, VerifyBody};
use super::error::ApiError;
use super::facts::{self, NoBody, Presents};
use super::schema::{ApiErrors, Health, Readiness, ReadinessChecks, Revoked};
use super::{audit::Entry, AppState};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use crumb::delegation::{GiveBackReceipt, TokenStatus, TopUpReceipt};
use crumb::shapes::ErrorBody;
use crumb::shapes::{LineageView, SpendReceipt, SplitReceipt};
use crumb::token::identifier::Nonce;
use crumb::token::wire::{self, Format};
use crumb::Macaroon;
use crumb::Verdict;
use std::net::SocketAddr;
use std::sync::Arc;

fn nonce_of(token: &Macaroon) -> Option<String> {
    token.token_id().map(|id| id.nonce.to_string())
}

pub(super) fn encode(token: &Macaroon) -> String {
    wire::encode(token, Format::V2).expect("v2 encodes every token")
}

/// A `nonce` field: 32 hex digits.
fn parse_nonce(hex: &str) -> Result<Nonce, ApiError> {
    Nonce::parse_hex(hex).ok_or_else(|| ApiError::bad_request("bad-request", "`nonce` is 32 hex digits"))
}

/// Verifies a token for a request: signature, every caveat, and its standing in the ledger.
#[utoipa::path(post, path = "/v1/verify", request_body = VerifyBody, responses(
    (status = 200, description = "Allowed", body = Verdict),
    (status = 402, description = "Denied: the balance cannot pay the cost", body = Verdict),
    (status = 403, description = "Denied (a caveat, the signature, a revocation…)", body = Verdict),
    (status = 409, description = "Denied: the token was spent, or is in use", body = Verdict),
    ApiErrors,
))]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let presented = facts::presented(&state, &body, &headers)?;
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let explain = body.explain == Some(true);
    let started = std::time::Instant::now();
    let verdict = state.issuer.verify(&presented, &ctx, explain).await.map_err(ApiError::from);
    super::record_step("verify_ms", started.elapsed());
    let verdict = verdict?;
    let outcome = verdict.denial().map_or("allowed", |d| d.code.as_str());
    tracing::debug!(nonce = verdict.nonce.as_deref().unwrap_or("-"), outcome, "verify");
    state.audit(Entry {
        route: "/v1/verify",
        request: None,
        nonce: verdict.nonce.clone(),
        outcome,
        cost: body.cost,
        request_id: body.request_id.as_deref(),
    });
    let Some(denial) = verdict.denial() else { return Ok((StatusCode::OK, Json(verdict)).into_response()) };
    let status = super::error::status(denial.code.class());
    // A denial is an error body like any other: it names the request.
    let body = DeniedVerdict { verdict: &verdict, x_request_id: super::request_id::current() };
    Ok((status, Json(body)).into_response())
}

/// A verify's denial as the JSON API answers it: the verdict and the request's id.
#[derive(serde::Serialize)]
struct DeniedVerdict<'a> {
    #[serde(flatten)]
    verdict: &'a Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    x_request_id: Option<String>,
}

/// Spends (`amounts` None) or splits; a receipt's children join the per-token rate limit.
pub async fn consume_receipt(
    state: &Arc<AppState>,
    presented: crumb::Presented,
    ctx: crumb::Context,
    request_id: Option<String>,
    amounts: Option<Vec<u64>>,
    revocable: bool,
) -> Result<crumb::spend::Receipt, crumb::Error> {
    let (issuer, request_id) = (&state.issuer, request_id.as_deref());
    let consumed = match amounts {
        Some(amounts) => {
            let split = crumb::spend::SplitRequest { amounts: &amounts, request_id, revocable };
            issuer.split(presented, &ctx, split).await
        }
        None => issuer.spend(presented, &ctx, request_id).await,
    };
    if let Ok(receipt) = &consumed {
        // Its children count with it in the per-token rate limit.
        state.rate_limits.adopt(receipt);
    }
    consumed
}

/// What a spend or a split asks of the ledger, as its route read it from its body.
struct Consume {
    route: &'static str,
    request_id: Option<String>,
    /// A spend's cost (for the audit log).
    cost: Option<u64>,
    /// A split's amounts; none for a spend.
    amounts: Option<Vec<u64>>,
    revocable: bool,
}

/// Spend and split share everything but the library call: the metrics, the log line and the
/// audit entry.
async fn consume(
    state: Arc<AppState>,
    presented: crumb::Presented,
    ctx: crumb::Context,
    ask: Consume,
) -> Result<(crumb::spend::Receipt, Vec<String>), ApiError> {
    let Consume { route, request_id, cost, amounts, revocable } = ask;
    let nonce = nonce_of(&presented.token);
    let result =
        consume_receipt(&state, presented, ctx, request_id.clone(), amounts, revocable).await.map_err(ApiError::from);
    let outcome = match &result {
        Ok(r) if r.replayed => "replayed",
        Ok(_) => "committed",
        Err(e) => e.code,
    };
    match &result {
        Ok(r) if !r.replayed => {
            state.metrics.spends.inc();
            state.metrics.credits_charged.inc_by(r.cost);
        }
        Err(e) if e.code == "spent" => {
            state.metrics.double_spend_attempts.inc();
        }
        _ => {}
    }
    let rid = result.as_ref().ok().map(|r| r.request_id.clone()).or(request_id);
    // One line per spend is debug, not info: at thousands a second the log line (formatting
    // and a write to stderr) cost more than the spend's own bookkeeping. `--audit-log` keeps
    // every decision for whoever needs them.
    // Never the request id: it entitles a retry to the successor (the audit log keeps a keyed
    // digest of it).
    tracing::debug!(route, nonce = nonce.as_deref().unwrap_or("-"), outcome, "consume");
    state.audit(Entry { route, request: None, nonce, outcome, cost, request_id: rid.as_deref() });
    let receipt = result?;
    let tokens: Vec<String> = receipt.children.iter().map(|c| encode(&c.token)).collect();
    Ok((receipt, tokens))
}

/// Spends `cost` from the token's balance; answers the successor. A retry with the same
/// `request_id` by the same token answers the same successor.
#[utoipa::path(post, path = "/v1/spend", request_body = SpendBody, responses(
    (status = 200, description = "Spent: the successor", body = SpendReceipt),
    (status = 402, description = "The balance cannot pay", body = ErrorBody),
    (status = 403, description = "Denied (a caveat, a revocation…)", body = ErrorBody),
    (status = 409, description = "Spent already, or in use by another request", body = ErrorBody),
    ApiErrors,
))]
pub async fn spend(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SpendBody>,
) -> Result<Json<SpendReceipt>, ApiError> {
    let started = std::time::Instant::now();
    let presented = facts::presented(&state, &body, &headers)?;
    if body.cost.is_none() {
        return Err(ApiError::bad_request("bad-request", "a spend needs `cost`"));
    }
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let ask =
        Consume { route: "/v1/spend", request_id: body.request_id, cost: body.cost, amounts: None, revocable: false };
    let consumed = consume(state, presented, ctx, ask).await;
    super::record_step("ledger_ms", started.elapsed());
    let (receipt, mut tokens) = consumed?;
    Ok(Json(SpendReceipt::new(&receipt, tokens.swap_remove(0))))
}

/// Splits the token's balance into `amounts` plus a remainder child.
#[utoipa::path(post, path = "/v1/split", request_body = SplitBody, responses(
    (status = 200, description = "Split: the children, remainder last", body = SplitReceipt),
    (status = 402, description = "The balance cannot pay", body = ErrorBody),
    (status = 403, description = "Denied (a caveat, a revocation…)", body = ErrorBody),
    (status = 409, description = "Spent already, or in use by another request", body = ErrorBody),
    ApiErrors,
))]
pub async fn split(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SplitBody>,
) -> Result<Json<SplitReceipt>, ApiError> {
    let started = std::time::Instant::now();
    let presented = facts::presented(&state, &body, &headers)?;
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let Some(amounts) = body.amounts else {
        return Err(ApiError::bad_request("bad-request", "a split needs `amounts`"));
    };
    let revocable = body.revocable.unwrap_or(false);
    let ask =
        Consume { route: "/v1/split", request_id: body.request_id, cost: None, amounts: Some(amounts), revocable };
    let consumed = consume(state, presented, ctx, ask).await;
    super::record_step("ledger_ms", started.elapsed());
    let (receipt, tokens) = consumed?;
    Ok(Json(SplitReceipt::new(&receipt, tokens)))
}

/// Revoke: by possession of a live token; a delegation (a holder's live token and the `nonce`
/// of a revocable child split off from its lineage: its subtree is revoked and its unspent
/// balance returned, `returned`); or by an operator credential naming any `nonce` (and
/// `cascade`). The rules are the library's ([`crumb::revoke`], [`crumb::delegation`]); this
/// only adapts them.
#[utoipa::path(post, path = "/v1/revoke", request_body = RevokeBody, responses(
    (status = 200, description = "Revoked", body = Revoked),
    (status = 403, description = "Refused (not live, not an operator, not-yours, not-revocable…)", body = ErrorBody),
    (status = 409, description = "The token was spent: what it became belongs to others", body = ErrorBody),
    ApiErrors,
))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_with(state, peer, headers, body, false).await
}

/// `/.well-known/crumb/v1/revoke` on a proxy's public listener: a holder's revocations only
/// (its live token itself, or a delegation of its lineage). An operator credential is refused
/// there (`wrong-role`): operator acts stay on the admin listener.
pub async fn revoke_as_holder(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_with(state, peer, headers, body, true).await
}

async fn revoke_with(
    state: Arc<AppState>,
    peer: SocketAddr,
    headers: HeaderMap,
    body: RevokeBody,
    holder_only: bool,
) -> Result<Json<Revoked>, ApiError> {
    let presented = facts::presented(&state, &body, &headers)?;
    if holder_only {
        let role = crumb::token::identifier::TokenId::role_of(&presented.token.identifier);
        if role == Some(crumb::token::identifier::Role::Operator) || body.cascade == Some(true) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong-role",
                "operator acts (revoking any nonce, cascading) are served on the admin listener only",
            ));
        }
    }
    let cascade = body.cascade.unwrap_or(false);
    let target = body.nonce.as_deref().map(parse_nonce).transpose()?;
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let logged = target.or_else(|| presented.token.token_id().map(|id| id.nonce)).map(|n| n.to_string());
    let reach = crumb::revoke::Reach { cascade, unseen: body.unseen.unwrap_or(false) };
    let result = state.issuer.revoke(&presented, &ctx, target, reach).await.map_err(ApiError::from);
    let outcome = match &result {
        Ok(_) => "revoked",
        Err(e) => e.code,
    };
    tracing::info!(nonce = logged.as_deref().unwrap_or("-"), outcome, "revoke");
    state.audit(Entry { route: "/v1/revoke", request: None, nonce: logged, outcome, cost: None, request_id: None });
    let revocation = result?;
    Ok(Json(Revoked {
        nonce: revocation.nonce.to_string(),
        revoked: revocation.revoked.iter().map(ToString::to_string).collect(),
        returned: revocation.returned,
    }))
}

/// Gives the token's whole balance back to the lineage it was split from, and retires the
/// token. A retry with the same `request_id` by the same token answers the same.
#[utoipa::path(post, path = "/v1/give-back", request_body = GiveBackBody, responses(
    (status = 200, description = "Given back", body = GiveBackReceipt),
    (status = 403, description = "Refused (revoked, not-delegated, a caveat…)", body = ErrorBody),
    (status = 409, description = "Spent already, or in use by another request", body = ErrorBody),
    ApiErrors,
))]
pub async fn give_back(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<GiveBackBody>,
) -> Result<Json<GiveBackReceipt>, ApiError> {
    let presented = facts::presented(&state, &body, &headers)?;
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let nonce = nonce_of(&presented.token);
    let request_id = body.request_id;
    let result = state.issuer.give_back(presented, &ctx, request_id.as_deref()).await.map_err(ApiError::from);
    let outcome = match &result {
        Ok(r) if r.replayed => "replayed",
        Ok(_) => "given-back",
        Err(e) => e.code,
    };
    tracing::debug!(nonce = nonce.as_deref().unwrap_or("-"), outcome, "give-back");
    let rid = result.as_ref().ok().map(|r| r.request_id.clone()).or(request_id);
    state.audit(Entry {
        route: "/v1/give-back",
        request: None,
        nonce,
        outcome,
        cost: result.as_ref().ok().map(|r| r.returned),
        request_id: rid.as_deref(),
    });
    Ok(Json(result?))
}

/// Adds `amount` to the live lineage of the token `nonce`, on an operator credential (the
/// `credential` or `token` field, or `Authorization: Bearer`): the lineage's next spend,
/// split or proxied request returns a successor that carries it, and the agent changes
/// nothing. Idempotent by `request_id` (required). Served on the JSON API (a proxy's admin
/// listener), never under /.well-known/crumb.
#[utoipa::path(post, path = "/v1/top-up", request_body = TopUpBody, responses(
    (status = 200, description = "Topped up (or a replay of the same request id)", body = TopUpReceipt),
    (status = 403, description = "Not an operator credential, or the token is revoked", body = ErrorBody),
    (status = 422, description = "The request id topped up another token or amount", body = ErrorBody),
    ApiErrors,
))]
pub async fn top_up(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<TopUpBody>,
) -> Result<Json<TopUpReceipt>, ApiError> {
    let presented = facts::presented(&state, &body, &headers)?;
    let nonce = match body.nonce.as_deref() {
        Some(hex) => parse_nonce(hex)?,
        None => return Err(ApiError::bad_request("bad-request", "a top-up names the token's `nonce`")),
    };
    let amount = body.amount.ok_or_else(|| ApiError::bad_request("bad-request", "a top-up names its `amount`"))?;
    let request_id = body.request_id.clone().ok_or_else(|| {
        ApiError::bad_request("bad-request", "a top-up needs a `request_id` (retrying it adds nothing again)")
    })?;
    let ctx = facts::context(&state, body.stated(), &headers, peer)?;
    let result = state.issuer.top_up(&presented, &ctx, nonce, amount, &request_id).await.map_err(ApiError::from);
    let outcome = match &result {
        Ok(r) if r.replayed => "replayed",
        Ok(_) => "topped-up",
        Err(e) => e.code,
    };
    tracing::info!(nonce = %nonce, amount, outcome, "top-up");
    state.audit(Entry {
        route: "/v1/top-up",
        request: None,
        nonce: Some(nonce.to_string()),
        outcome,
        cost: Some(amount),
        request_id: Some(&request_id),
    });
    Ok(Json(result?))
}

/// The bearer's standing in the ledger: live, spent, revoked or held, its balance and
/// expiry, the credit returned to its lineage, and what its lineage delegated.
#[utoipa::path(get, path = "/v1/status", security(("bearer" = [])), responses(
    (status = 200, description = "The token's standing", body = TokenStatus),
    (status = 403, description = "The token's signature does not hold", body = ErrorBody),
    ApiErrors,
))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<TokenStatus>, ApiError> {
    let presented = facts::presented(&state, &NoBody, &headers)?;
    let ctx = facts::context(&state, NoBody.stated(), &headers, peer)?;
    let status = state.issuer.status(&presented, &ctx).await.map_err(ApiError::from)?;
    Ok(Json(status))
}

/// The bearer's own token and what descends from it (`GET /v1/lineage`).
#[utoipa::path(get, path = "/v1/lineage", security(("bearer" = [])), responses(
    (status = 200, description = "The tree the bearer may read", body = LineageView),
    (status = 403, description = "The token does not verify", body = ErrorBody),
    ApiErrors,
))]
pub async fn lineage_own(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<LineageView>, ApiError> {
    lineage_of(state, peer, None, headers).await
}

/// `GET /v1/lineage/{nonce}`: the part of the tree the bearer may read
/// ([`crumb::lineage::view`]): its own token and what descends from it, or with an operator
/// credential the whole tree of any nonce.
#[utoipa::path(get, path = "/v1/lineage/{nonce}", security(("bearer" = [])),
    params(("nonce" = String, Path, pattern = "^[0-9a-fA-F]{32}$", description = "A token's nonce, 32 hex digits")),
    responses(
        (status = 200, description = "The tree the bearer may read", body = LineageView),
        (status = 403, description = "Not the bearer's to read", body = ErrorBody),
        (status = 404, description = "An operator credential named a nonce the ledger has never seen (`unknown-token`)", body = ErrorBody),
        ApiErrors,
))]
pub async fn lineage(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Path(hex): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Json<LineageView>, ApiError> {
    // No credential is refused as such before the nonce is looked at.
    facts::token_text(None, &headers)?;
    let target =
        Nonce::parse_hex(&hex).ok_or_else(|| ApiError::bad_request("bad-request", "the nonce is 32 hex digits"))?;
    lineage_of(state, peer, Some(target), headers).await
}

async fn lineage_of(
    state: Arc<AppState>,
    peer: SocketAddr,
    target: Option<Nonce>,
    headers: HeaderMap,
) -> Result<Json<LineageView>, ApiError> {
    let presented = facts::presented(&state, &NoBody, &headers)?;
    let ctx = facts::context(&state, NoBody.stated(), &headers, peer)?;
    let (asked, tree) = state.issuer.lineage(&presented, &ctx, target).await.map_err(ApiError::from)?;
    Ok(Json(LineageView::new(&asked, &tree)))
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Serving", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the keyring has a current key, and the ledger answers and takes writes (a
/// write that changes nothing). 503 until both hold: a load balancer sends no traffic to a
/// replica whose ledger is down.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Not ready: each failed check says why", body = Readiness),
))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    // Half the request timeout: the probe answers its own 503, before the server's timeout
    // would answer one without the checks.
    let within = state.timeout / 2;
    let found = tokio::time::timeout(within, state.issuer.readiness()).await;
    let found = match found {
        Ok(found) => found,
        Err(_) => {
            crumb::issuer::Readiness { ledger: Some("the ledger did not answer in time".into()), ..Default::default() }
        }
    };
    let status = if found.ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let check = |failed: Option<String>| failed.unwrap_or_else(|| "ok".into());
    let body = Readiness {
        status: if found.ready() { "ready" } else { "not-ready" }.into(),
        checks: ReadinessChecks { keys: check(found.keys), ledger: check(found.ledger) },
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    if let Some(audit) = &state.audit {
        text.push_str(&format!(
            "# HELP crumb_audit_dropped_total Audit log lines dropped because the disk did not keep up.\n\
             # TYPE crumb_audit_dropped_total counter\ncrumb_audit_dropped_total {}\n",
            audit.dropped()
        ));
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "The OpenAPI 3 document", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], super::schema::document())
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such route")
}

/// A route that exists, asked with a method it does not take: a JSON error like any other
/// (axum adds the `Allow` header).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take this method (see Allow)",
    )
}
