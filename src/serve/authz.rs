//! Forward auth (`/v1/authz`): the proxy in front of an API (nginx `auth_request`, Envoy
//! `ext_authz`, Traefik `forwardAuth`, Caddy `forward_auth`) asks crumb about each request
//! before passing it on, and copies `Crumb-Token` into the client's response.
//!
//! The original request is read from the path suffix (`/v1/authz/{path}`, Envoy), from
//! `X-Forwarded-Method`/`-Uri`/`-Host` (Traefik, Caddy) or from `X-Original-Method`/`-URI`
//! (nginx). The proxy must set these itself: a client's own copies would otherwise choose the
//! price. The client's address comes from `X-Forwarded-For` only via `--trust-proxy`.
//!
//! In spend mode a priced request is spent here, before the upstream answers, so it is
//! charged whatever the upstream's status. A retry with the same token and Idempotency-Key
//! gets the recorded successor but is *refused* (403 `already-answered`): forward auth cannot
//! stop the proxy from calling the upstream again, and one payment must not buy two calls.

use super::audit::Entry;
use super::facts;
use super::metering::{self, Charge, Metered, Problem};
use super::schema::{AuthzAllowed, AuthzRefusals};
use super::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// How long a recovery probe's hold may last: it is settled at once.
const RECOVER_HOLD: std::time::Duration = std::time::Duration::from_secs(10);

/// What `/v1/authz` does with a priced request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthzMode {
    /// Spend the price and hand back the successor.
    #[default]
    Spend,
    /// Verify the token (its balance must cover the price) without spending.
    Verify,
}

/// How forward auth answers a request that needs paying: 401 (the only refusal nginx passes
/// on with its `WWW-Authenticate`) or 402.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthzOptions {
    pub mode: AuthzMode,
    pub payment_status: StatusCode,
}

impl Default for AuthzOptions {
    fn default() -> Self {
        AuthzOptions { mode: AuthzMode::Spend, payment_status: StatusCode::UNAUTHORIZED }
    }
}

/// A handler routed for the seven methods a metered request may have (Envoy asks with the
/// original request's own); any other method is 405, as for every route.
pub fn methods<H, T>(handler: H) -> axum::routing::MethodRouter<Arc<AppState>>
where
    H: axum::handler::Handler<T, Arc<AppState>>,
    T: 'static,
{
    use axum::routing::MethodFilter as M;
    let metered = M::GET.or(M::HEAD).or(M::POST).or(M::PUT).or(M::PATCH).or(M::DELETE).or(M::OPTIONS);
    axum::routing::on(metered, handler)
}

/// The original request's method, target (path and query) and host, each from one proxy's
/// family of headers, never mixed: a client's own `X-Forwarded-Uri` must not choose the
/// price of a request nginx describes with `X-Original-URI`. Both families at once is
/// ambiguous and refused.
fn original(
    method: &Method,
    uri: &Uri,
    envoy: bool,
    headers: &HeaderMap,
) -> Result<(String, String, Option<String>), Problem> {
    let refuse = |detail: &str| Problem::new(StatusCode::BAD_REQUEST, "no-original-request", detail);
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "bad-path", "send the path alone (origin form), not a URL"));
    }
    let own_host = facts::single_header(headers, "host", "bad-host")?.map(str::to_owned);
    if envoy {
        // The suffix describes the request: headers of another family beside it are another
        // description, which is refused rather than ignored.
        let described = ["x-original-uri", "x-original-method", "x-forwarded-uri", "x-forwarded-method"];
        if let Some(name) = described.iter().find(|n| headers.contains_key(**n)) {
            return Err(refuse(&format!(
                "a path after /v1/authz/ (Envoy) and {name}: which one describes the request?"
            )));
        }
        // Envoy: the original path follows the prefix, taken from the raw target as sent (never
        // decoded here: the canonical form decodes once, for everyone); method and host are
        // the request's.
        let raw = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let target = raw.strip_prefix("/v1/authz").filter(|t| t.starts_with('/')).ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST, "bad-path", "the original path must follow /v1/authz/")
        })?;
        return Ok((method.as_str().to_owned(), target.to_owned(), own_host));
    }
    match (
        facts::single_header(headers, "x-original-uri", "bad-path")?,
        facts::single_header(headers, "x-forwarded-uri", "bad-path")?,
    ) {
        (Some(_), Some(_)) => {
            Err(refuse("both X-Original-URI and X-Forwarded-Uri: which proxy describes the request?"))
        }
        (Some(target), None) => {
            let method = facts::single_header(headers, "x-original-method", "bad-method")?
                .ok_or_else(|| refuse("X-Original-URI without X-Original-Method"))?;
            let host = facts::single_header(headers, "x-original-host", "bad-host")?.map(str::to_owned).or(own_host);
            Ok((method.to_owned(), target.to_owned(), host))
        }
        (None, Some(target)) => {
            let method = facts::single_header(headers, "x-forwarded-method", "bad-method")?
                .ok_or_else(|| refuse("X-Forwarded-Uri without X-Forwarded-Method"))?;
            let host = facts::single_header(headers, "x-forwarded-host", "bad-host")?.map(str::to_owned).or(own_host);
            Ok((method.to_owned(), target.to_owned(), host))
        }
        (None, None) => Err(refuse(
            "forward auth needs the original request: X-Original-Method and X-Original-URI (nginx), \
             X-Forwarded-Method and X-Forwarded-Uri (Traefik, Caddy), or a path after /v1/authz/ (Envoy)",
        )),
    }
}

/// Forward auth: may the request described by the proxy's headers pass? Spends its price
/// (or verifies, `--authz-mode verify`) and answers the successor in `Crumb-Token`.
#[utoipa::path(method(get, post, put, patch, delete, head, options), path = "/v1/authz", security((), ("bearer" = [])),
    params(
        ("X-Original-Method" = Option<String>, Header, description = "nginx: the original method"),
        ("X-Original-URI" = Option<String>, Header, description = "nginx: the original path and query"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "Traefik, Caddy: the original method"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Traefik, Caddy: the original path and query"),
        ("X-Original-Host" = Option<String>, Header, description = "nginx: the original host (else Host)"),
        ("X-Forwarded-Host" = Option<String>, Header, description = "Traefik, Caddy: the original host (else Host)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Binds a retry to its first answer"),
        ("Crumb-Discharge" = Option<String>, Header, description = "A discharge of the token's third-party caveats (repeatable)"),
        ("Crumb-Max-Cost" = Option<u64>, Header, description = "Refuse (402 over-max-cost) rather than pay more than this"),
    ),
    responses(
        (status = 200, description = "Allowed; the successor is in Crumb-Token", body = AuthzAllowed),
        AuthzRefusals,
))]
pub async fn authz_root(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    authorize(state, peer, method, uri, false, headers).await.unwrap_or_else(IntoResponse::into_response)
}

/// Forward auth, Envoy style: the original path follows `/v1/authz/`.
#[utoipa::path(method(get, post, put, patch, delete, head, options), path = "/v1/authz/{path}", security((), ("bearer" = [])),
    params(
        ("path" = String, Path, description = "The original path, without its leading /"),
        ("Idempotency-Key" = Option<String>, Header, description = "Binds a retry to its first answer"),
        ("Crumb-Discharge" = Option<String>, Header, description = "A discharge of the token's third-party caveats (repeatable)"),
        ("Crumb-Max-Cost" = Option<u64>, Header, description = "Refuse (402 over-max-cost) rather than pay more than this"),
    ),
    responses(
        (status = 200, description = "Allowed; the successor is in Crumb-Token", body = AuthzAllowed),
        AuthzRefusals,
))]
/// The original path is read from the raw request target (never the decoded `{path}`), so
/// this also serves `/v1/authz/` (the original path `/`, which `{path}` does not match).
pub async fn authz_path(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    authorize(state, peer, method, uri, true, headers).await.unwrap_or_else(IntoResponse::into_response)
}

/// Forward auth's statuses: payment as configured, and every other refusal of a client's
/// request 403 (nginx turns anything but 401 and 403 into a 500); a proxy that sent no
/// original request (400) and faults (5xx) keep theirs.
fn for_proxy(mut problem: Problem, options: AuthzOptions) -> Problem {
    if problem.challenge.is_some() {
        problem.status = options.payment_status;
    } else if problem.status.is_client_error() && problem.code != "no-original-request" {
        problem.status = StatusCode::FORBIDDEN;
    }
    problem
}

async fn authorize(
    state: Arc<AppState>,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    envoy: bool,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let options = state.authz;
    let (method, target, host) = original(&method, &uri, envoy, &headers).map_err(|p| for_proxy(p, options))?;
    let metered = state.pricing().meter(&method, &target, host.as_deref()).map_err(|p| for_proxy(p, options))?;
    let described = metered.described();
    let decided = decide(&state, peer, &metered, &headers).await;
    if metered.charge != Charge::Free {
        let nonce = facts::authorization_hint(&headers)
            .and_then(|t| crumb::token::wire::decode(t).ok())
            .and_then(|t| t.token_id())
            .map(|id| id.nonce.to_string());
        let outcome = match &decided {
            Ok(r) if r.status().is_success() => "allowed",
            Ok(_) => "already-answered",
            Err(p) => p.code,
        };
        let cost = match metered.charge {
            Charge::Price(p) => Some(p),
            Charge::Free => None,
        };
        state.audit(Entry { route: "/v1/authz", request: Some(&described), nonce, outcome, cost, request_id: None });
    }
    decided.map_err(|p| for_proxy(p, options))
}

async fn decide(
    state: &Arc<AppState>,
    peer: SocketAddr,
    metered: &Metered,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    // A recovery probe asks what became of a lost request: it is answered, never allowed
    // through (the proxy in front would call the upstream), and refused 403 as every answer
    // but a payment challenge is (nginx passes only 401 and 403).
    let recover = super::holds::recovering(headers)?;
    let refused = StatusCode::FORBIDDEN;
    let price = match metered.charge {
        Charge::Free if recover => return Ok(super::holds::recovered_unpaid(None, refused)),
        Charge::Free => return Ok(allowed(None, None, 0)),
        Charge::Price(p) => p,
    };
    let realm = &state.pricing().realm;
    let bearer = facts::bearer(headers, metered, realm)?;
    let ctx = facts::metered_context(state, metered, headers, peer)?;
    if price == 0 || state.authz.mode == AuthzMode::Verify {
        let balance = metering::verify_only(state, &bearer, ctx).await?;
        if recover {
            return Ok(super::holds::recovered_unpaid(Some((&bearer.text, balance)), refused));
        }
        return Ok(allowed(Some(&bearer.text), balance, 0));
    }
    let request_id = facts::request_id(state, headers, &bearer, metered)?;
    if recover {
        // Answered from the ledger, or closed now at no cost.
        let (answer, _) = super::holds::recover(state, &bearer, ctx, request_id, RECOVER_HOLD, refused).await?;
        return Ok(answer);
    }
    let receipt = super::routes::consume_receipt(state, bearer.presented.clone(), ctx, Some(request_id), None, false)
        .await
        .map_err(|e| Problem::from_error(e, &bearer, realm, price))?;
    let successor = &receipt.children[0];
    let text = super::routes::encode(&successor.token);
    if receipt.replayed {
        let mut problem = Problem::new(
            StatusCode::FORBIDDEN,
            "already-answered",
            "this request (same token, same Idempotency-Key) was authorized before; the successor is in Crumb-Token",
        );
        problem.extra.insert("balance".into(), json!(successor.balance));
        let mut response = problem.into_response();
        metering::set_receipt_headers(response.headers_mut(), &text, Some(successor.balance), receipt.cost);
        return Ok(response);
    }
    state.metrics.spends.inc();
    state.metrics.credits_charged.inc_by(receipt.cost);
    Ok(allowed(Some(&text), Some(successor.balance), receipt.cost))
}

fn allowed(token: Option<&str>, balance: Option<u64>, cost: u64) -> Response {
    let mut response = Json(AuthzAllowed { allowed: true, cost, balance }).into_response();
    match token {
        Some(t) => metering::set_receipt_headers(response.headers_mut(), t, balance, cost),
        None => {
            response.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().expect("static"));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn each_proxy_family_describes_the_request_alone() {
        let (get, root) = (Method::GET, Uri::from_static("/v1/authz"));
        let nginx = headers(&[
            ("x-original-method", "POST"),
            ("x-original-uri", "/v1/chat?x=1"),
            ("host", "crumb"),
            ("x-forwarded-host", "spoofed.example"),
        ]);
        let got = original(&get, &root, false, &nginx).unwrap();
        assert_eq!(got, ("POST".into(), "/v1/chat?x=1".into(), Some("crumb".into())));
        let traefik =
            headers(&[("x-forwarded-method", "PUT"), ("x-forwarded-uri", "/a"), ("x-forwarded-host", "api.example")]);
        assert_eq!(original(&get, &root, false, &traefik).unwrap().2.as_deref(), Some("api.example"));
        let envoy = original(&Method::DELETE, &Uri::from_static("/v1/authz/a/b?q"), true, &HeaderMap::new());
        assert_eq!(envoy.unwrap(), ("DELETE".into(), "/a/b?q".into(), None));
        // The suffix as sent, not decoded: `%3F` stays an (ambiguous, refused) escape.
        let raw = Uri::from_static("/v1/authz/v1/models%3F/../chat");
        let envoy = original(&Method::POST, &raw, true, &HeaderMap::new());
        assert_eq!(envoy.unwrap().1, "/v1/models%3F/../chat");
    }

    #[test]
    fn a_spoofed_second_family_or_a_missing_method_is_refused() {
        let (get, root) = (Method::GET, Uri::from_static("/v1/authz"));
        let both = headers(&[
            ("x-original-method", "POST"),
            ("x-original-uri", "/v1/chat"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/v1/models"),
        ]);
        assert_eq!(original(&get, &root, false, &both).unwrap_err().code, "no-original-request");
        let no_method = headers(&[("x-original-uri", "/v1/chat"), ("x-forwarded-method", "GET")]);
        assert!(original(&get, &root, false, &no_method).is_err());
        assert!(original(&get, &root, false, &HeaderMap::new()).is_err());
    }
}
