//! What the reverse proxy and forward auth share: the price list, the request being metered
//! (its canonical method and path, its host, its price), and refusals as RFC 9457 problems.
//! Its bearer, client address and verification context are read by [`super::facts`].
//!
//! A metered request is read once into its canonical [`Target`] (method and path as an
//! upstream routes them; anything ambiguous is refused with 400 before any charge), and that
//! one form is priced, checked, logged and forwarded. It is verified with action = its route
//! method (`HEAD` is `GET`), resource = its canonical path, aud = `--audience` or else its
//! host (without port), ip = the client, and cost = its price, so every caveat a holder added
//! (`action = GET`, `resource = /v1/models`, `max-cost <= 3`, `balance <= 20`) applies.

use super::error::ApiError;
use super::facts::Bearer;
use super::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use crumb::price::{PriceTable, Priced};
use crumb::target::Target;
use crumb::{Context, DenialCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// What to do with a request no price rule covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unpriced {
    /// Refuse it (403 `unpriced`): the default, so a route the operator forgot is not free.
    #[default]
    Deny,
    /// Let it through without a token: a public part of the API.
    Free,
}

/// The price list and how refusals are worded.
#[derive(Clone, Debug, Default)]
pub struct Pricing {
    pub table: PriceTable,
    pub unpriced: Unpriced,
    /// The realm of the `WWW-Authenticate: Crumb` challenge.
    pub realm: String,
    /// The audience every metered request is for (`--audience`); else its `Host`, which the
    /// client chooses.
    pub audience: Option<String>,
}

/// How a request is to be treated, by its price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Unpriced and let through: no token is needed.
    Free,
    /// A token is needed, and this many units are charged (0: verified only).
    Price(u64),
}

/// The request being metered, as crumb reads it.
#[derive(Debug)]
pub struct Metered {
    /// The canonical method and target: priced, checked, logged and forwarded.
    pub target: Target,
    pub host: Option<String>,
    pub charge: Charge,
    /// An `upto` route: charged by measured usage, at most the price held.
    pub usage: Option<crumb::usage::Metering>,
}

impl Metered {
    /// `METHOD /path` for logs: the canonical form, without the query (which may carry
    /// anything a client put there).
    pub fn described(&self) -> String {
        format!("{} {}", self.target.method(), self.target.path())
    }
}

/// A request target with no canonical form: 400 with `bad-method` or `bad-path`.
pub fn bad_target(e: crumb::target::TargetError) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
}

impl Pricing {
    /// Prices `method` on `target` (`/path?query`) by its canonical form; a target with none
    /// is 400 and an unpriced one 403 unless `--unpriced free`.
    pub fn meter(&self, method: &str, target: &str, host: Option<&str>) -> Result<Metered, Problem> {
        let target = Target::parse(method, target).map_err(bad_target)?;
        let mut usage = None;
        let charge = match self.table.price(&target) {
            Priced::Cost(cost) => Charge::Price(cost),
            Priced::UpTo { hold, metering } => {
                usage = Some(metering);
                Charge::Price(hold)
            }
            Priced::Unpriced if self.unpriced == Unpriced::Free => Charge::Free,
            Priced::Unpriced => {
                return Err(Problem::new(StatusCode::FORBIDDEN, "unpriced", "no price is set for this route"))
            }
        };
        // A Host (or a proxy's description of it) that is not a host[:port] is refused: it
        // would reach the upstream in X-Forwarded-Host and Forwarded, and become `aud`.
        if let Some(h) = host.filter(|h| !is_host(h)) {
            let shown: String = h.chars().take(64).map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
            return Err(Problem::new(StatusCode::BAD_REQUEST, "bad-host", format!("`{shown}` is not a host[:port]")));
        }
        // The audience is the operator's name for this API, or else the host the client asked
        // for, without its port.
        let host = match &self.audience {
            Some(name) => Some(name.clone()),
            None => host.map(|h| strip_port(h).to_ascii_lowercase()),
        };
        Ok(Metered { target, host, charge, usage })
    }
}

/// Whether `host` is `name[:port]` or `[ipv6][:port]` (RFC 3986 §3.2.2, registered names
/// limited to letters, digits, `-`, `.` and `_`): nothing a list-splitting or path-building
/// upstream could read as more than one host.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, port)) => (v6, port),
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, _)) => (name, &host[name.len()..]),
            None => (host, ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = if host.starts_with('[') {
        name.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        // Labels of letters, digits, `-` and `_`, none empty (`..`), none starting or ending
        // with `-`; a final dot (a fully qualified name) is allowed.
        let labels = name.strip_suffix('.').unwrap_or(name);
        !labels.is_empty()
            && name.len() <= 253
            && labels.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            })
    };
    let port_ok = port_ok && port.strip_prefix(':').is_none_or(|p| p.parse::<u16>().is_ok());
    port_ok && name_ok
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Verifies without consuming (a route priced 0, or forward auth in verify mode): the token's
/// signature, caveats (its balance must cover `ctx.cost`) and standing. Returns its balance.
pub async fn verify_only(state: &Arc<AppState>, bearer: &Bearer, ctx: Context) -> Result<Option<u64>, Problem> {
    let price = ctx.cost;
    let verdict = state.issuer.verify(&bearer.presented, &ctx, false).await;
    let verdict = verdict.map_err(|e| Problem::from(ApiError::from(e)))?;
    match verdict.denial() {
        Some(denial) => Err(Problem::denied(denial, bearer, &state.pricing().realm, price)),
        None => Ok(verdict.balance),
    }
}

/// A refusal as an RFC 9457 problem (`application/problem+json`), with crumb's stable `code`.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Extension members: `cost`, `balance`, `caveat`.
    pub extra: serde_json::Map<String, Value>,
    /// `WWW-Authenticate` for a payment challenge.
    pub challenge: Option<String>,
    /// `Retry-After`, in seconds, for a refusal that passes (`in-flight`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
            extra: serde_json::Map::new(),
            challenge: None,
            retry_after: None,
        }
    }

    /// 402 with `WWW-Authenticate: Crumb realm="…", cost="N"`.
    pub fn payment_required(realm: &str, cost: u64, detail: impl Into<String>, balance: Option<u64>) -> Self {
        let mut p = Problem::new(StatusCode::PAYMENT_REQUIRED, "payment-required", detail);
        p.extra.insert("cost".into(), json!(cost));
        if let Some(b) = balance {
            p.extra.insert("balance".into(), json!(b));
        }
        p.challenge = Some(format!("Crumb realm=\"{}\", cost=\"{cost}\"", realm.replace(['"', '\\'], "")));
        p
    }

    /// A denial of the presented token, with its class's status (402 when it cannot pay, with
    /// the payment challenge), naming the caveat that failed.
    pub fn denied(denial: &crumb::Denial, bearer: &Bearer, realm: &str, price: u64) -> Self {
        let balance = crumb::verify::balance_of(&bearer.presented.token);
        let mut p = match denial.code {
            DenialCode::InsufficientBalance => {
                let mut p = Problem::payment_required(realm, price, denial.message.clone(), balance);
                p.code = "insufficient-balance";
                p
            }
            code => {
                let mut p = Problem::new(super::error::status(code.class()), code.as_str(), denial.message.clone());
                // The request holding the token will be answered: ask again soon.
                p.retry_after = if code == DenialCode::InFlight { Some(1) } else { denial.retry_after };
                p
            }
        };
        if let Some((holder, index)) = denial.caveat {
            let discharges = &bearer.presented.discharges;
            let held = match holder {
                crumb::verify::Holder::Root => Some(&bearer.presented.token),
                crumb::verify::Holder::Discharge(i) => discharges.get(i),
            };
            if held.is_some_and(|m| index < m.caveats.len()) {
                let text = crumb::verify::caveat_text(&bearer.presented.token, discharges, holder, index);
                p.extra.insert("caveat".into(), json!(text));
            }
        }
        p
    }

    /// The library's error for this token's request.
    pub fn from_error(e: crumb::Error, bearer: &Bearer, realm: &str, price: u64) -> Self {
        match e {
            crumb::Error::Denied(d) => Problem::denied(&d, bearer, realm, price),
            other => ApiError::from(other).into(),
        }
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        Problem::new(e.status, e.code, e.message)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:crumb:problem:{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra);
            if let Some(id) = super::request_id::current() {
                map.insert("x_request_id".into(), Value::String(id));
            }
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The code again as a header: a proxy doing forward auth (nginx) drops the body.
        headers.insert("crumb-error", HeaderValue::from_static(self.code));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Sets `Crumb-Token`, `Crumb-Balance`, `Crumb-Cost` and `Cache-Control: no-store` (a
/// response that carries a bearer token must never be cached).
pub fn set_receipt_headers(headers: &mut HeaderMap, token: &str, balance: Option<u64>, cost: u64) {
    if let Ok(v) = HeaderValue::from_str(token) {
        headers.insert("crumb-token", v);
    }
    if let Some(b) = balance {
        headers.insert("crumb-balance", HeaderValue::from(b));
    }
    headers.insert("crumb-cost", HeaderValue::from(cost));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_one_host() {
        for good in
            ["api.example.com", "api.example.com:8080", "[::1]:80", "[2001:db8::1]", "localhost", "10.0.0.1:443"]
        {
            assert!(is_host(good), "{good}");
        }
        for bad in [
            "a/../x",
            "a,for=1.2.3.4",
            "a b",
            "[::1",
            "api:",
            "api:99999999",
            "",
            "a\"b",
            "x@y",
            "[nothost]",
            "..",
            "-",
            "a..b",
            ".",
            "a:99999",
            "-a.b",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(strip_port("api.example.com:8080"), "api.example.com");
        assert_eq!(strip_port("api.example.com"), "api.example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }

    #[test]
    fn unpriced_routes_fail_closed_unless_made_free() {
        let table = PriceTable::new(vec!["POST /v1/chat=5".parse().unwrap()]).unwrap();
        let mut pricing = Pricing { table, unpriced: Unpriced::Deny, realm: "api".into(), audience: None };
        assert_eq!(pricing.meter("GET", "/v1/chat", Some("Evil.example:8080")).unwrap_err().code, "unpriced");
        assert_eq!(
            pricing.meter("POST", "/v1/chat", Some("API.example:8080")).unwrap().host.as_deref(),
            Some("api.example")
        );
        pricing.audience = Some("chat-api".into());
        assert_eq!(pricing.meter("POST", "/v1/chat", Some("api.example")).unwrap().host.as_deref(), Some("chat-api"));
        pricing.audience = None;
        assert_eq!(pricing.meter("POST", "/v1/chat?x=1", None).unwrap().charge, Charge::Price(5));
        assert_eq!(pricing.meter("GET", "/v1/chat", None).unwrap_err().code, "unpriced");
        assert_eq!(pricing.meter("POST", "/v1/../chat", None).unwrap_err().code, "bad-path");
        assert_eq!(pricing.meter("POST", "/v1/%63hat", None).unwrap().charge, Charge::Price(5));
        assert_eq!(pricing.meter("post", "/v1/chat", None).unwrap_err().code, "bad-method");
        assert_eq!(pricing.meter("POST", "/v1/chat;x", None).unwrap_err().code, "bad-path");
        pricing.unpriced = Unpriced::Free;
        assert_eq!(pricing.meter("GET", "/v1/chat", None).unwrap().charge, Charge::Free);
    }
}
