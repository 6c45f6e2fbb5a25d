//! The facts of a request, read in one place for every route over HTTP — the JSON API, forward
//! auth and the metering proxy: who presents which token (the bearer, and the discharges bound
//! to it), from which address, and the verification [`Context`] its caveats are judged against.
//!
//! A JSON route takes its token from its body's `token` field or `Authorization: Bearer` (both
//! at once must agree) and its discharges from `discharges`; a metered request (the proxy,
//! forward auth) from `Authorization: Bearer` and `Crumb-Discharge` headers only. Either way
//! discharges are bounded by [`crumb::limits::MAX_DISCHARGES`] before any is decoded, and the
//! client's address is the peer's, or behind `--trust-proxy` the rightmost `X-Forwarded-For` hop
//! that is not a trusted proxy ([`crumb::context::client_ip`]).

use super::error::ApiError;
use super::metering::{Charge, Metered, Problem};
use super::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use crumb::token::wire;
use crumb::{Context, Presented};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// A header that states one fact of the request: absent, or present once and readable. Two
/// copies, or one that is not ASCII, are ambiguous and refused (`code`), never read as absent
/// or as one of them: what crumb reads must be what whoever comes next reads.
pub fn single_header<'h>(headers: &'h HeaderMap, name: &str, code: &'static str) -> Result<Option<&'h str>, Problem> {
    let refuse = |why: &str| Problem::new(StatusCode::BAD_REQUEST, code, format!("{name} {why}"));
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(refuse("is sent twice: which one is meant?"));
    }
    value.to_str().map(Some).map_err(|_| refuse("is not ASCII (a URI's other bytes are percent-encoded)"))
}

/// The credential in `Authorization: Bearer`, if the request has one. More than one
/// `Authorization` header is refused `bad-request`: which of them an upstream, or a proxy in
/// front, takes for the credential is theirs to choose, so crumb cannot know that what it
/// checked is what they act on.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(ApiError::bad_request(
            "bad-request",
            "more than one Authorization header: which one is the credential is ambiguous",
        ));
    }
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else { return Ok(None) };
    Ok(scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()))
}

/// [`authorization`] for logs and rate limits: none when absent or ambiguous (the handler
/// refuses the ambiguous).
pub fn authorization_hint(headers: &HeaderMap) -> Option<&str> {
    authorization(headers).ok().flatten()
}

/// The client's address: the peer's, or behind proxies in `--trust-proxy` the rightmost
/// X-Forwarded-For hop that is not one of them.
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Result<IpAddr, ApiError> {
    if state.trusted_proxies.is_empty() {
        return Ok(peer.ip().to_canonical());
    }
    // Every line, as bytes: the library refuses what it cannot read whole.
    let forwarded: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .take(crumb::context::MAX_FORWARDED_HOPS + 1)
        .map(|v| v.as_bytes())
        .collect();
    crumb::context::client_ip(peer.ip(), &forwarded, &state.trusted_proxies)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad-forwarded-for", e.to_string()))
}

// The JSON API.

/// A JSON route's body, as far as it presents a token: each route's own body type says which
/// of these it carries.
pub trait Presents {
    /// The `token` field (an operator's may be named `credential`).
    fn token(&self) -> Option<&str>;
    /// The `discharges` field: tokens, undecoded.
    fn discharges(&self) -> &[String];
    /// The `request_id` field, bounded with the other client strings.
    fn request_id(&self) -> Option<&str> {
        None
    }
    /// The body's own counts over crumb's limits (a split's `amounts`), refused before anything
    /// is decoded.
    fn check_bounds(&self) -> Result<(), ApiError> {
        Ok(())
    }
    /// What the request says about itself, for the caveats.
    fn stated(&self) -> Stated {
        Stated::default()
    }
}

/// A request with no body (`GET /v1/status`, `/v1/lineage`): its token comes in
/// `Authorization: Bearer`.
pub struct NoBody;

impl Presents for NoBody {
    fn token(&self) -> Option<&str> {
        None
    }
    fn discharges(&self) -> &[String] {
        &[]
    }
}

/// What a JSON request states about itself (`action`, `resource`, `aud`, `cost`, `context`):
/// the facts its token's caveats are checked against, with the client's address.
#[derive(Default, Debug)]
pub struct Stated {
    pub action: Option<String>,
    pub resource: Option<String>,
    pub aud: Option<String>,
    pub cost: Option<u64>,
    pub values: Option<BTreeMap<String, String>>,
}

impl Stated {
    /// The facts a body states, copied out of its fields.
    pub fn of(
        action: Option<&String>,
        resource: Option<&String>,
        aud: Option<&String>,
        cost: Option<u64>,
        values: Option<&BTreeMap<String, String>>,
    ) -> Stated {
        Stated {
            action: action.cloned(),
            resource: resource.cloned(),
            aud: aud.cloned(),
            cost,
            values: values.cloned(),
        }
    }
}

/// The caller's token text: the body's `token` or `Authorization: Bearer`, which must agree
/// when both are sent; neither is 401 `no-token`.
pub fn token_text<'a>(body_token: Option<&'a str>, headers: &'a HeaderMap) -> Result<&'a str, ApiError> {
    match (body_token, authorization(headers)?) {
        (Some(a), Some(b)) if a != b => {
            Err(ApiError::bad_request("bad-request", "the body's token and the Authorization header differ"))
        }
        (Some(t), _) | (None, Some(t)) => Ok(t),
        (None, None) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "no-token", "send a token in `token` or Authorization: Bearer"))
        }
    }
}

/// The token and discharges a JSON request presents. Client strings and counts over crumb's
/// limits are refused before anything is decoded. A token in the body is counted against the
/// per-token rate limit here (one in `Authorization: Bearer` was, by the middleware).
pub fn presented(state: &AppState, body: &impl Presents, headers: &HeaderMap) -> Result<Presented, ApiError> {
    if let Some(id) = body.request_id() {
        crumb::limits::check_client_request_id(id).map_err(ApiError::from)?;
    }
    // Discharges come in the body's `discharges` or, as the proxy and forward auth take them
    // (and on the GET routes, which have no body), in `Crumb-Discharge` headers; both at once
    // would be two lists to choose from.
    let headed: Vec<&HeaderValue> =
        headers.get_all("crumb-discharge").iter().take(crumb::limits::MAX_DISCHARGES + 1).collect();
    if !headed.is_empty() && !body.discharges().is_empty() {
        return Err(ApiError::bad_request(
            "bad-request",
            "discharges in both the body and Crumb-Discharge headers: send them in one place",
        ));
    }
    let from_headers: Vec<String>;
    let discharges: &[String] = if headed.is_empty() {
        body.discharges()
    } else {
        from_headers = headed
            .iter()
            .map(|v| v.to_str().map(str::to_owned))
            .collect::<Result<_, _>>()
            .map_err(|_| ApiError::bad_request("malformed-discharge", "a Crumb-Discharge is not a token"))?;
        &from_headers
    };
    if discharges.len() > crumb::limits::MAX_DISCHARGES {
        return Err(ApiError::bad_request(
            "too-many-discharges",
            format!("{} discharges; the limit is {}", discharges.len(), crumb::limits::MAX_DISCHARGES),
        ));
    }
    body.check_bounds()?;
    let token = wire::decode(token_text(body.token(), headers)?).map_err(|e| {
        let mut e = ApiError::from(e);
        // A credential in Authorization that is no token is an authentication failure
        // (RFC 6750 `invalid_token`); a `token` field in the body is bad input.
        if body.token().is_none() && e.status == StatusCode::BAD_REQUEST {
            e.status = StatusCode::UNAUTHORIZED;
        }
        e
    })?;
    let discharges = discharges
        .iter()
        .map(|d| wire::decode(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request("malformed-discharge", e.to_string()))?;
    if authorization_hint(headers).is_none() {
        state.rate_limits.check_body_token(&token)?;
    }
    Ok(Presented::new(token, discharges))
}

/// A JSON request's context: what it states, at the client's address; refused when a client
/// string is over its limit.
pub fn context(state: &AppState, stated: Stated, headers: &HeaderMap, peer: SocketAddr) -> Result<Context, ApiError> {
    let mut ctx = state.issuer.context();
    ctx.action = stated.action;
    ctx.resource = stated.resource;
    ctx.aud = stated.aud;
    ctx.cost = stated.cost.unwrap_or(0);
    ctx.values = stated.values.unwrap_or_default();
    ctx.ip = Some(client_ip(state, headers, peer)?);
    ctx.check_bounds()?;
    Ok(ctx)
}

// Metered requests: the proxy and forward auth.

/// The bearer token and any `Crumb-Discharge` headers of a metered request, decoded.
#[derive(Clone)]
pub struct Bearer {
    /// The token as sent, for the receipt headers.
    pub text: String,
    pub presented: Presented,
}

/// A metered request's token, from `Authorization: Bearer` (none is a payment challenge), and
/// its `Crumb-Discharge` headers.
pub fn bearer(headers: &HeaderMap, metered: &Metered, realm: &str) -> Result<Bearer, Problem> {
    let price = match metered.charge {
        Charge::Price(p) => p,
        Charge::Free => 0,
    };
    let Some(text) = authorization(headers).map_err(Problem::from)? else {
        return Err(Problem::payment_required(realm, price, "send a token with `Authorization: Bearer`", None));
    };
    let token = wire::decode(text).map_err(|e| Problem::from(ApiError::from(e)))?;
    let values: Vec<&HeaderValue> = headers.get_all("crumb-discharge").iter().collect();
    if values.len() > crumb::limits::MAX_DISCHARGES {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "too-many-discharges",
            format!("at most {} Crumb-Discharge headers", crumb::limits::MAX_DISCHARGES),
        ));
    }
    let discharges = values
        .into_iter()
        .map(|v| v.to_str().ok().and_then(|t| wire::decode(t).ok()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-discharge", "a Crumb-Discharge is not a token")
        })?;
    Ok(Bearer { text: text.to_owned(), presented: Presented::new(token, discharges) })
}

/// A metered request's context: action = its route method (`HEAD` is `GET`), resource = its
/// canonical path, aud = `--audience` or its host, cost = its price, at the client's address;
/// refused when it costs more than the client's `Crumb-Max-Cost`.
pub fn metered_context(
    state: &AppState,
    metered: &Metered,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Context, Problem> {
    let mut ctx = state.issuer.context();
    ctx.action = Some(metered.target.route_method().as_str().to_owned());
    ctx.resource = Some(metered.target.resource().to_owned());
    ctx.aud = metered.host.clone();
    ctx.ip = Some(client_ip(state, headers, peer)?);
    ctx.cost = match metered.charge {
        Charge::Price(p) => p,
        Charge::Free => 0,
    };
    ctx.check_bounds().map_err(|e| Problem::from(ApiError::from(e)))?;
    if let Some(cap) = max_cost(headers)? {
        if ctx.cost > cap {
            let mut p = Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "over-max-cost",
                format!(
                    "this request costs {}, more than the Crumb-Max-Cost of {cap} it was sent with; nothing was charged",
                    ctx.cost
                ),
            );
            p.extra.insert("cost".into(), json!(ctx.cost));
            return Err(p);
        }
    }
    Ok(ctx)
}

/// `Crumb-Max-Cost: N`: the most the client will pay for this request. A client's own limit
/// (like a `max-cost` caveat, but for one request: the successor does not carry it); sent
/// twice or unreadable, it is refused rather than ignored.
fn max_cost(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let values: Vec<&HeaderValue> = headers.get_all("crumb-max-cost").iter().collect();
    let bad = || Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Crumb-Max-Cost must be one whole number");
    match values.as_slice() {
        [] => Ok(None),
        [one] => one.to_str().ok().and_then(|t| t.trim().parse().ok()).map(Some).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The ledger request id of a priced request: bound to its `Idempotency-Key` when it has one,
/// and to the canonical target.
pub fn request_id(
    state: &AppState,
    headers: &HeaderMap,
    bearer: &Bearer,
    metered: &Metered,
) -> Result<String, Problem> {
    let bad = |detail: String| Problem::new(StatusCode::BAD_REQUEST, "bad-idempotency-key", detail);
    let values: Vec<&HeaderValue> = headers.get_all("idempotency-key").iter().collect();
    let key = match values.as_slice() {
        [] => None,
        [one] => Some(one.to_str().map_err(|_| bad("the Idempotency-Key is not printable ASCII".into()))?),
        _ => return Err(bad("more than one Idempotency-Key".into())),
    };
    let (method, target) = (metered.target.method().as_str(), metered.target.path_and_query());
    state.issuer.gateway_request_id(&bearer.presented.token, key, method, &target).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = authorization {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    /// The body's token and `Authorization: Bearer` may both be sent only when they agree;
    /// neither is 401.
    #[test]
    fn a_token_comes_from_the_body_or_the_header_and_both_agree() {
        assert_eq!(authorization_hint(&headers(Some("bearer  T "))), Some("T"));
        assert_eq!(authorization_hint(&headers(Some("Basic T"))), None);
        assert_eq!(token_text(Some("T"), &headers(None)).unwrap(), "T");
        assert_eq!(token_text(None, &headers(Some("Bearer T"))).unwrap(), "T");
        assert_eq!(token_text(Some("T"), &headers(Some("Bearer T"))).unwrap(), "T");
        let differ = token_text(Some("T"), &headers(Some("Bearer U"))).unwrap_err();
        assert_eq!((differ.status, differ.code), (StatusCode::BAD_REQUEST, "bad-request"));
        let none = token_text(None, &headers(Some("Basic T"))).unwrap_err();
        assert_eq!((none.status, none.code), (StatusCode::UNAUTHORIZED, "no-token"));
    }
}
