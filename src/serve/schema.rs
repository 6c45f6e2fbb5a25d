//! The JSON shapes of the HTTP API, as types: the handlers return these, and
//! `GET /openapi.json` is generated from them and from the handlers' annotations
//! ([`ApiDoc`]). The bodies the CLI's `--json` shares (verdicts, receipts, status, lineage)
//! are the library's own types ([`crumb::shapes`], [`crumb::delegation`]), described by
//! their `ToSchema` derives (the `openapi` feature); only what the HTTP API alone answers
//! (errors, problems, probes) is declared here.

use crumb::delegation::{Delegated, GiveBackReceipt, TokenStatus, TopUpReceipt};
use crumb::ledger::WindowUse;
use crumb::shapes::{
    CaveatVerdict, ErrorBody, LineageView, NodeView, SpendReceipt, SpentView, SplitChild, SplitReceipt,
};
use crumb::Verdict;
use serde::Serialize;
#[cfg(test)]
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

/// What a revocation revoked (`POST /v1/revoke`).
#[derive(Serialize, ToSchema, Debug)]
pub struct Revoked {
    pub nonce: String,
    pub revoked: Vec<String>,
    /// A delegation's revocation (a holder's token and the child's `nonce`): the credit that
    /// went back to the delegator's lineage. Absent for other revocations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned: Option<u64>,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema, Debug)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz`: 200 when every check passed, else 503.
#[derive(Serialize, ToSchema, Debug)]
pub struct Readiness {
    /// `ready` or `not-ready`.
    pub status: String,
    /// Each check: `ok`, or why it failed (`keys`: a current key to issue with; `ledger`: the
    /// ledger answers and takes writes).
    pub checks: ReadinessChecks,
}

/// The checks of [`Readiness`].
#[derive(Serialize, ToSchema, Debug)]
pub struct ReadinessChecks {
    pub keys: String,
    pub ledger: String,
}

/// Forward auth's answer when the request may pass (`/v1/authz`).
#[derive(Serialize, ToSchema, Debug)]
pub struct AuthzAllowed {
    pub allowed: bool,
    pub cost: u64,
    pub balance: Option<u64>,
}

/// An RFC 9457 problem: forward auth's and the proxy's refusals.
#[derive(Serialize, ToSchema, Debug)]
pub struct ProblemBody {
    /// `urn:crumb:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// The price of the request (payment refusals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<u64>,
    /// The caveat that refused the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    /// The HTTP request's id, as in the `X-Request-Id` header and the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_request_id: Option<String>,
}

/// The errors every token route of the JSON API may answer with, besides its denials.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description of answers, never built
pub enum ApiErrors {
    /// Malformed body, token or request.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No token, or a Bearer credential that is not a token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Body or token too large.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The ledger is unavailable, or the request took too long.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Forward auth's refusals, as RFC 9457 problems.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description of answers, never built
pub enum AuthzRefusals {
    /// The proxy did not describe the original request, or described it twice.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(ProblemBody),
    /// Payment needed (`WWW-Authenticate: Crumb realm="…", cost="N"`).
    #[response(status = 401, content_type = "application/problem+json")]
    PaymentNeeded(ProblemBody),
    /// Payment needed, with `--authz-payment-status 402`.
    #[response(status = 402, content_type = "application/problem+json")]
    PaymentRequired(ProblemBody),
    /// Refused: a caveat, spent, revoked, unpriced, already answered…
    #[response(status = 403, content_type = "application/problem+json")]
    Refused(ProblemBody),
    /// The ledger is unavailable.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(ProblemBody),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "crumb",
        description = "Macaroon bearer tokens that carry their own limits: verify, spend, split (transfers or revocable delegations), revoke, give-back, status, lineage, and forward auth for metered APIs. A metering proxy (`crumb serve --upstream`) also serves the holder routes on its public listener under the reserved prefix /.well-known/crumb (…/v1/verify, split, revoke, give-back, status, lineage), with these same bodies and answers."
    ),
    paths(
        super::routes::verify,
        super::routes::spend,
        super::routes::split,
        super::routes::revoke,
        super::routes::give_back,
        super::routes::top_up,
        super::routes::status,
        super::routes::lineage_own,
        super::routes::lineage,
        super::authz::authz_root,
        super::authz::authz_path,
        super::routes::healthz,
        super::routes::readyz,
        super::routes::metrics,
        super::routes::openapi,
    ),
    components(schemas(
        super::bodies::VerifyBody,
        super::bodies::SpendBody,
        super::bodies::SplitBody,
        super::bodies::RevokeBody,
        super::bodies::GiveBackBody,
        super::bodies::TopUpBody,
        Verdict,
        CaveatVerdict,
        SpendReceipt,
        SplitReceipt,
        SplitChild,
        Revoked,
        GiveBackReceipt,
        TopUpReceipt,
        WindowUse,
        TokenStatus,
        Delegated,
        LineageView,
        NodeView,
        SpentView,
        Health,
        Readiness,
        ReadinessChecks,
        AuthzAllowed,
        ErrorBody,
        ProblemBody
    )),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

/// The `bearer` security scheme: a crumb token in `Authorization: Bearer`.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document, rendered once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        for path in [
            "/v1/verify",
            "/v1/spend",
            "/v1/split",
            "/v1/revoke",
            "/v1/give-back",
            "/v1/status",
            "/v1/lineage",
            "/v1/lineage/{nonce}",
            "/v1/authz",
            "/v1/authz/{path}",
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is not described");
        }
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["SplitBody"]["properties"]["revocable"].is_object(), "split's `revocable` is described");
        // Each route's own body, with only its fields; any other is refused.
        for (path, body, field, foreign) in [
            ("/v1/verify", "VerifyBody", "explain", "amounts"),
            ("/v1/spend", "SpendBody", "cost", "amounts"),
            ("/v1/split", "SplitBody", "amounts", "cost"),
            ("/v1/revoke", "RevokeBody", "cascade", "request_id"),
            ("/v1/give-back", "GiveBackBody", "request_id", "cost"),
            ("/v1/top-up", "TopUpBody", "amount", "amounts"),
        ] {
            let schema = &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
            assert_eq!(schema["$ref"], format!("#/components/schemas/{body}"), "{path}");
            assert!(schemas[body]["properties"][field].is_object(), "{body}.{field}");
            assert!(schemas[body]["properties"][foreign].is_null(), "{body} takes no `{foreign}`");
            assert_eq!(schemas[body]["additionalProperties"], false, "{body} refuses unknown fields");
        }
        assert!(schemas["SplitChild"]["properties"]["revocable"].is_object());
        assert!(schemas["Revoked"]["properties"]["returned"].is_object());
        for field in ["state", "balance", "expires", "revocable", "successor_known", "returned_credit", "delegated"] {
            assert!(schemas["TokenStatus"]["properties"][field].is_object(), "status's `{field}`");
        }
        for field in ["nonce", "amount", "revocable", "state", "balance", "spent"] {
            assert!(schemas["Delegated"]["properties"][field].is_object(), "delegated's `{field}`");
        }
        assert!(schemas["GiveBackReceipt"]["properties"]["returned"].is_object());
    }
}
