//! The JSON shapes of the HTTP API, as types: the handlers return these, and
//! `GET /openapi.json` is generated from them and from the handlers' annotations
//! ([`ApiDoc`]). The field names are a contract, as the CLI's `--json` fields are; the tests
//! below hold them equal to the library's JSON for the same values.

use crumb::ledger::{Lineage, Node};
use crumb::spend::Receipt;
use crumb::token::identifier::Nonce;
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

/// The verdict on a token for a request (`POST /v1/verify`).
#[derive(Serialize, ToSchema, Debug)]
pub struct VerdictBody {
    pub allowed: bool,
    /// Why not: a stable reason code (`caveat-failed`, `spent`, `insufficient-balance`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub key_id: Option<String>,
    pub nonce: Option<String>,
    pub balance: Option<u64>,
    pub signature_valid: bool,
    /// True when no ledger was consulted.
    pub offline: bool,
    /// The caveat that refused the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<CaveatVerdict>,
    /// Every caveat's verdict (`"explain": true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveats: Option<Vec<CaveatVerdict>>,
}

/// One caveat's verdict.
#[derive(Serialize, ToSchema, Debug)]
pub struct CaveatVerdict {
    /// `token` or `discharge N`.
    pub holder: String,
    pub index: u64,
    /// The caveat's text (hex for bytes that are not UTF-8).
    pub caveat: String,
    /// Its kind (`action`, `balance`, `third-party`, …).
    pub kind: Option<String>,
    pub satisfied: bool,
    /// What satisfied it (`rule`, `exact`, `discharge`).
    pub by: Option<String>,
    pub code: Option<String>,
    pub reason: Option<String>,
}

impl CaveatVerdict {
    fn from_json(v: &Value) -> Self {
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        CaveatVerdict {
            holder: text("holder").unwrap_or_default(),
            index: v["index"].as_u64().unwrap_or_default(),
            caveat: text("caveat").unwrap_or_default(),
            kind: text("kind"),
            satisfied: v["satisfied"].as_bool().unwrap_or(false),
            by: text("by"),
            code: text("code"),
            reason: text("reason"),
        }
    }
}

impl From<crumb::Verdict> for VerdictBody {
    fn from(v: crumb::Verdict) -> Self {
        VerdictBody {
            allowed: v.allowed,
            code: v.code,
            message: v.message,
            key_id: v.key_id,
            nonce: v.nonce,
            balance: v.balance,
            signature_valid: v.signature_valid,
            offline: v.offline,
            caveat: v.caveat.as_ref().map(CaveatVerdict::from_json),
            caveats: v.caveats.as_ref().map(|all| all.iter().map(CaveatVerdict::from_json).collect()),
        }
    }
}

/// A spend's receipt (`POST /v1/spend`).
#[derive(Serialize, ToSchema, Debug)]
pub struct SpendReceipt {
    /// The successor token (v2, base64url).
    pub token: String,
    pub nonce: String,
    pub parent: String,
    /// Always `spend`.
    pub kind: String,
    pub cost: u64,
    pub remaining: u64,
    pub request_id: String,
    /// True when this answers a retry of a request already committed.
    pub replayed: bool,
    pub at: String,
    /// Credit returned to this lineage (a revoked delegation, a child's give-back) that the
    /// successor took in, beside `remaining`'s arithmetic; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_credit: Option<u64>,
}

impl SpendReceipt {
    pub fn new(r: &Receipt, token: String) -> Self {
        SpendReceipt {
            token,
            nonce: r.children[0].nonce.to_string(),
            parent: r.parent.to_string(),
            kind: r.kind.as_str().into(),
            cost: r.cost,
            remaining: r.children[0].balance,
            request_id: r.request_id.clone(),
            replayed: r.replayed,
            at: r.at.clone(),
            returned_credit: (r.credit > 0).then_some(r.credit),
        }
    }
}

/// One child of a split.
#[derive(Serialize, ToSchema, Debug)]
pub struct SplitChild {
    pub token: String,
    pub nonce: String,
    pub balance: u64,
    /// A delegation the splitting lineage may revoke (`"revocable": true` in the request), or
    /// a transfer (final). The remainder is never revocable.
    pub revocable: bool,
}

/// A split's receipt (`POST /v1/split`): the children, remainder last.
#[derive(Serialize, ToSchema, Debug)]
pub struct SplitReceipt {
    pub children: Vec<SplitChild>,
    pub parent: String,
    /// Always `split`.
    pub kind: String,
    pub request_id: String,
    pub replayed: bool,
    pub at: String,
    /// Credit returned to this lineage that the remainder took in; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_credit: Option<u64>,
}

impl SplitReceipt {
    pub fn new(r: &Receipt, tokens: Vec<String>) -> Self {
        let last = r.children.len().saturating_sub(1);
        SplitReceipt {
            children: r
                .children
                .iter()
                .zip(tokens)
                .enumerate()
                .map(|(i, (c, token))| SplitChild {
                    token,
                    nonce: c.nonce.to_string(),
                    balance: c.balance,
                    revocable: r.revocable && i != last,
                })
                .collect(),
            parent: r.parent.to_string(),
            kind: r.kind.as_str().into(),
            request_id: r.request_id.clone(),
            replayed: r.replayed,
            at: r.at.clone(),
            returned_credit: (r.credit > 0).then_some(r.credit),
        }
    }
}

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

/// What a give-back did (`POST /v1/give-back`).
#[derive(Serialize, ToSchema, Debug)]
pub struct GiveBackBody {
    /// The token given back (now spent).
    pub nonce: String,
    /// The credit that went back to the lineage the token was split from.
    pub returned: u64,
    pub request_id: String,
    /// True when this answers a retry of a give-back already recorded.
    pub replayed: bool,
    pub at: String,
}

impl From<crumb::delegation::GiveBackReceipt> for GiveBackBody {
    fn from(r: crumb::delegation::GiveBackReceipt) -> Self {
        GiveBackBody { nonce: r.nonce, returned: r.returned, request_id: r.request_id, replayed: r.replayed, at: r.at }
    }
}

/// One child a lineage split off (`GET /v1/status`).
#[derive(Serialize, ToSchema, Debug)]
pub struct DelegatedBody {
    pub nonce: String,
    /// What it was handed.
    pub amount: u64,
    pub revocable: bool,
    /// `live`, `spent`, `given-back` or `revoked`: where its lineage stands.
    pub state: String,
    /// What is live in its lineage now.
    pub balance: u64,
    /// What it and everything below it spent.
    pub spent: u64,
}

/// A token's standing (`GET /v1/status`): what an agent asks before it acts.
#[derive(Serialize, ToSchema, Debug)]
pub struct StatusBody {
    pub nonce: String,
    /// `live`, `spent`, `revoked` or `held` (a request is in flight with it).
    pub state: String,
    /// Its balance while live or held; null once spent or revoked.
    pub balance: Option<u64>,
    /// Its earliest expiry (RFC 3339), or null.
    pub expires: Option<String>,
    /// It is (in the lineage of) a delegation its splitter may revoke.
    pub revocable: bool,
    /// Spent by this very token: a retry with its request id gets the successor.
    pub successor_known: bool,
    /// Credit returned to this lineage, taken in by its next spend or split.
    pub returned_credit: u64,
    /// What operators topped this lineage up with, in all (`POST /v1/top-up`).
    pub topped_up: u64,
    /// What this lineage split off.
    pub delegated: Vec<DelegatedBody>,
    /// Each `spend-rate` window the token carries, and what is left in it now.
    pub windows: Vec<WindowBody>,
}

/// One `spend-rate` window (`GET /v1/status`).
#[derive(Serialize, ToSchema, Debug)]
pub struct WindowBody {
    /// The caveat, e.g. `spend-rate <= 100/1h`.
    pub caveat: String,
    pub limit: u64,
    pub window_seconds: u64,
    /// Spent (and held by requests in flight) inside the window now.
    pub spent: u64,
    /// What may still be spent inside the window now.
    pub left: u64,
}

/// What a top-up did (`POST /v1/top-up`).
#[derive(Serialize, ToSchema, Debug)]
pub struct TopUpBody {
    /// The token named.
    pub nonce: String,
    /// The lineage head the credit went to: its next spend, split or settle takes it in.
    pub head: String,
    pub amount: u64,
    pub request_id: String,
    /// True when this request id topped up before (nothing was added again).
    pub replayed: bool,
    /// What the lineage is owed now; null on a replay.
    pub owed: Option<u64>,
}

impl From<crumb::delegation::TopUpReceipt> for TopUpBody {
    fn from(r: crumb::delegation::TopUpReceipt) -> Self {
        TopUpBody {
            nonce: r.nonce,
            head: r.head,
            amount: r.amount,
            request_id: r.request_id,
            replayed: r.replayed,
            owed: r.owed,
        }
    }
}

impl From<crumb::delegation::TokenStatus> for StatusBody {
    fn from(s: crumb::delegation::TokenStatus) -> Self {
        StatusBody {
            nonce: s.nonce,
            state: s.state.into(),
            balance: s.balance,
            expires: s.expires,
            revocable: s.revocable,
            successor_known: s.successor_known,
            returned_credit: s.returned_credit,
            topped_up: s.topped_up,
            windows: s
                .windows
                .into_iter()
                .map(|w| WindowBody {
                    caveat: w.caveat,
                    limit: w.limit,
                    window_seconds: w.window_seconds,
                    spent: w.spent,
                    left: w.left,
                })
                .collect(),
            delegated: s
                .delegated
                .into_iter()
                .map(|d| DelegatedBody {
                    nonce: d.nonce,
                    amount: d.amount,
                    revocable: d.revocable,
                    state: d.state.into(),
                    balance: d.balance,
                    spent: d.spent,
                })
                .collect(),
        }
    }
}

/// How a token was consumed.
#[derive(Serialize, ToSchema, Debug)]
pub struct SpentBody {
    pub at: String,
    /// `spend`, `split` or `give-back`.
    pub kind: String,
    /// The request's id; null to a holder (it entitles a retry to the successor).
    pub request_id: Option<String>,
    pub cost: u64,
    pub amounts: Vec<u64>,
}

/// One token of a delegation tree.
#[derive(Serialize, ToSchema, Debug)]
pub struct NodeBody {
    pub nonce: String,
    pub parent: Option<String>,
    pub balance: Option<u64>,
    pub issued_at: Option<String>,
    pub live: bool,
    pub spent: Option<SpentBody>,
    pub revoked_at: Option<String>,
    /// A delegation its splitter may revoke (not a transfer).
    pub revocable: bool,
    /// Its parent's change (successor or remainder): the same holder's lineage.
    pub change: bool,
    /// Credit returned to the lineage this token heads, not yet taken in.
    pub returned_credit: u64,
    /// What operators topped up the lineage this token heads with, in all.
    pub topped_up: u64,
}

impl From<&Node> for NodeBody {
    fn from(n: &Node) -> Self {
        NodeBody {
            nonce: n.nonce.to_string(),
            parent: n.parent.map(|p| p.to_string()),
            balance: n.balance,
            issued_at: n.issued_at.clone(),
            live: n.status.spent.is_none() && n.status.revoked_at.is_none(),
            spent: n.status.spent.as_ref().map(|s| SpentBody {
                at: s.at.clone(),
                kind: s.kind.as_str().into(),
                request_id: (!s.request_id.is_empty()).then(|| s.request_id.clone()),
                cost: s.cost,
                amounts: s.amounts.clone(),
            }),
            revoked_at: n.status.revoked_at.clone(),
            revocable: n.revocable,
            change: n.change,
            returned_credit: n.credit,
            topped_up: n.topped_up,
        }
    }
}

/// The part of a delegation tree the caller may read (`GET /v1/lineage`).
#[derive(Serialize, ToSchema, Debug)]
pub struct LineageBody {
    pub nonce: String,
    /// The root (or furthest ancestor reached) first, then descendants breadth first.
    pub tree: Vec<NodeBody>,
    pub truncated: bool,
    pub root_reached: bool,
}

impl LineageBody {
    pub fn new(asked: &Nonce, l: &Lineage) -> Self {
        LineageBody {
            nonce: asked.to_string(),
            tree: l.nodes.iter().map(NodeBody::from).collect(),
            truncated: l.truncated,
            root_reached: !l.root_not_reached,
        }
    }
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

/// Every error of the JSON API.
#[derive(Serialize, ToSchema, Debug)]
pub struct ErrorBody {
    /// A stable code (`bad-json`, `malformed-token`, `spent`, `ledger-unavailable`, …).
    pub code: String,
    pub message: String,
    /// Present (false) on denials of a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// The request's id, as in the `X-Request-Id` header and the audit log: what to quote when
    /// asking an operator about this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
    /// The request's id, as in the `X-Request-Id` header and the audit log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
        super::routes::Body,
        VerdictBody,
        CaveatVerdict,
        SpendReceipt,
        SplitReceipt,
        SplitChild,
        Revoked,
        GiveBackBody,
        TopUpBody,
        WindowBody,
        StatusBody,
        DelegatedBody,
        LineageBody,
        NodeBody,
        SpentBody,
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
    use crumb::ledger::SpendKind;
    use crumb::spend::Issued;

    fn receipt(kind: SpendKind, balances: &[u64]) -> Receipt {
        let key = crumb::RootKey::generate().unwrap();
        let children = balances
            .iter()
            .enumerate()
            .map(|(i, &balance)| {
                let nonce = Nonce([i as u8 + 1; 16]);
                let token = crumb::Macaroon::mint(&key, crumb::TokenId::new(&key.key_id(), nonce).encode(), None);
                Issued { token, nonce, balance }
            })
            .collect();
        Receipt {
            parent: Nonce([9; 16]),
            request_id: "r-1".into(),
            kind,
            cost: 3,
            children,
            replayed: false,
            at: "2026-11-28T00:00:00Z".into(),
            revocable: true,
            credit: 0,
        }
    }

    #[test]
    fn receipts_have_the_same_fields_as_the_cli_json() {
        let spend = receipt(SpendKind::Spend, &[7]);
        let typed = serde_json::to_value(SpendReceipt::new(&spend, "T".into())).unwrap();
        assert_eq!(typed, spend.to_json(&["T".into()]));
        let split = receipt(SpendKind::Split, &[2, 5]);
        let tokens = vec!["A".to_owned(), "B".to_owned()];
        let typed = serde_json::to_value(SplitReceipt::new(&split, tokens.clone())).unwrap();
        assert_eq!(typed, split.to_json(&tokens));
    }

    #[test]
    fn lineage_has_the_same_fields_as_the_cli_json() {
        let spent = crumb::ledger::Spent {
            at: "t".into(),
            request_id: "r".into(),
            kind: SpendKind::Spend,
            cost: 1,
            amounts: vec![4],
            presented: None,
        };
        let node = Node {
            nonce: Nonce([1; 16]),
            parent: Some(Nonce([2; 16])),
            balance: Some(5),
            issued_at: Some("t0".into()),
            status: crumb::ledger::Status { spent: Some(spent), revoked_at: None },
            revocable: true,
            change: false,
            credit: 3,
            topped_up: 2,
        };
        let lineage = Lineage { nodes: vec![node], truncated: false, root_not_reached: true };
        let asked = Nonce([1; 16]);
        assert_eq!(serde_json::to_value(LineageBody::new(&asked, &lineage)).unwrap(), lineage.to_json(&asked));
    }

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
        assert!(schemas["Body"]["properties"]["revocable"].is_object(), "split's `revocable` is described");
        assert!(schemas["SplitChild"]["properties"]["revocable"].is_object());
        assert!(schemas["Revoked"]["properties"]["returned"].is_object());
        for field in ["state", "balance", "expires", "revocable", "successor_known", "returned_credit", "delegated"] {
            assert!(schemas["StatusBody"]["properties"][field].is_object(), "status's `{field}`");
        }
        for field in ["nonce", "amount", "revocable", "state", "balance", "spent"] {
            assert!(schemas["DelegatedBody"]["properties"][field].is_object(), "delegated's `{field}`");
        }
        assert!(schemas["GiveBackBody"]["properties"]["returned"].is_object());
    }
}
