//! The JSON API's request bodies: one type per route, each with only the fields its route
//! takes (any other is refused, `bad-json`), each described in `/openapi.json` as that route's
//! body. The field names are a contract, as the CLI's flags are. The token may come in
//! `Authorization: Bearer` instead of `token`; what a body presents is read by
//! [`super::facts`]. A required field is an `Option` marked `#[schema(required = true)]`: the
//! document says it is required, and its absence is the handler's answer naming it, not
//! serde's.

use super::error::ApiError;
use super::facts::{Presents, Stated};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A JSON body whose every failure is a JSON error with a stable code: an announced oversized
/// body is 413 `body-too-large` before it is read, an empty one is the body with no field, and
/// one that is not the route's body (bad JSON, a wrong type, a field the route does not take)
/// is 400 `bad-json`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // Refuse an announced oversized body at once, rather than after reading up to the limit.
        let announced = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        if announced.and_then(|v| v.parse::<usize>().ok()).is_some_and(|len| len > super::MAX_BODY) {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("request bodies are limited to {} bytes", super::MAX_BODY),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body-too-large" } else { "bad-body" };
            ApiError::new(status, code, rejection.body_text())
        })?;
        if bytes.is_empty() {
            return Ok(JsonBody(T::default()));
        }
        let bad =
            |e: serde_json::Error| ApiError::bad_request("bad-json", format!("the body is not a valid request: {e}"));
        // Read whole first: a member twice (`{"cost":1,"cost":100}`, a `context` key twice) is
        // refused, not read as its last copy; and a body is an object, never the positional
        // array serde would also take for a struct.
        let value = crumb::json::parse_unambiguous(&bytes).map_err(bad)?;
        if !value.is_object() {
            return Err(ApiError::bad_request("bad-json", "the body is not a valid request: it must be a JSON object"));
        }
        T::deserialize(value).map(JsonBody).map_err(bad)
    }
}

/// `impl Presents` for a body: its `token` and `discharges`, its request id (`id:` names the
/// field) where it has one, what it states about the request and its own bounds where it has them.
macro_rules! presents {
    (
        $body:ty
        $(, id: $id:ident)?
        $(, stated: |$s:ident| $stated:expr)?
        $(, bounds: |$b:ident| $bounds:block)?
        $(,)?
    ) => {
        impl Presents for $body {
            fn token(&self) -> Option<&str> {
                self.token.as_deref()
            }
            fn discharges(&self) -> &[String] {
                self.discharges.as_deref().unwrap_or_default()
            }
            $(
                fn request_id(&self) -> Option<&str> {
                    self.$id.as_deref()
                }
            )?
            $(
                fn stated(&self) -> Stated {
                    let $s = self;
                    $stated
                }
            )?
            $(
                fn check_bounds(&self) -> Result<(), ApiError> {
                    let $b = self;
                    $bounds
                }
            )?
        }
    };
}

/// `POST /v1/verify`: may this token make this request?
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The token (or send it as `Authorization: Bearer`).
    pub token: Option<String>,
    /// Discharges of the token's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// The request's action, for `action` caveats.
    pub action: Option<String>,
    /// The request's resource, for `resource` caveats.
    pub resource: Option<String>,
    /// The request's audience, for `aud` caveats.
    pub aud: Option<String>,
    /// What the request would cost: the balance must cover it (nothing is spent).
    pub cost: Option<u64>,
    /// Further facts of the request, for `key = value` caveats.
    pub context: Option<BTreeMap<String, String>>,
    /// The caller's name for the request, kept in the audit log.
    pub request_id: Option<String>,
    /// List every caveat with its verdict, not only the failing one.
    pub explain: Option<bool>,
}

presents!(
    VerifyBody,
    id: request_id,
    stated: |b| Stated::of(b.action.as_ref(), b.resource.as_ref(), b.aud.as_ref(), b.cost, b.context.as_ref()),
);

/// `POST /v1/spend`: spend `cost` from the token's balance.
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendBody {
    /// The token (or send it as `Authorization: Bearer`).
    pub token: Option<String>,
    /// Discharges of the token's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// The request's action, for `action` caveats.
    pub action: Option<String>,
    /// The request's resource, for `resource` caveats.
    pub resource: Option<String>,
    /// The request's audience, for `aud` caveats.
    pub aud: Option<String>,
    /// What to spend (required).
    #[schema(required = true)]
    pub cost: Option<u64>,
    /// Further facts of the request, for `key = value` caveats.
    pub context: Option<BTreeMap<String, String>>,
    /// Names the spend: a retry with the same id by the same token answers the same successor.
    pub request_id: Option<String>,
}

presents!(
    SpendBody,
    id: request_id,
    stated: |b| Stated::of(b.action.as_ref(), b.resource.as_ref(), b.aud.as_ref(), b.cost, b.context.as_ref()),
);

/// `POST /v1/split`: divide the token's balance into `amounts` and a remainder.
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitBody {
    /// The token (or send it as `Authorization: Bearer`).
    pub token: Option<String>,
    /// Discharges of the token's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// Taken as the CLI sends them; a split makes no request, so the token's caveats about
    /// requests are carried by its children, not checked against these.
    pub action: Option<String>,
    pub resource: Option<String>,
    pub aud: Option<String>,
    /// Further facts of the request (carried, as `action`).
    pub context: Option<BTreeMap<String, String>>,
    /// Names the split: a retry with the same id by the same token answers the same children.
    pub request_id: Option<String>,
    /// The children's balances (required); the remainder child is made besides.
    #[schema(required = true)]
    pub amounts: Option<Vec<u64>>,
    /// Every child but the remainder is a delegation the splitting lineage may revoke
    /// (default false: transfers, final).
    pub revocable: Option<bool>,
}

presents!(
    SplitBody,
    id: request_id,
    stated: |b| Stated::of(b.action.as_ref(), b.resource.as_ref(), b.aud.as_ref(), None, b.context.as_ref()),
    bounds: |b| {
        if b.amounts.as_ref().is_some_and(|a| a.len() + 1 > crumb::limits::MAX_SPLIT_CHILDREN) {
            return Err(ApiError::bad_request(
                "too-many-children",
                format!("a split makes at most {} children, the remainder included", crumb::limits::MAX_SPLIT_CHILDREN),
            ));
        }
        Ok(())
    }
);

/// `POST /v1/revoke`: the token itself (possession); a delegation (a holder's live token and
/// the `nonce` of a revocable child split off from its lineage); or any `nonce`, with an
/// operator credential.
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// The token, or an operator credential (also `credential`; or send it as
    /// `Authorization: Bearer`).
    #[serde(alias = "credential")]
    pub token: Option<String>,
    /// Discharges of the token's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// The nonce to revoke (32 hex digits): with an operator credential any nonce; with a
    /// holder's live token, a revocable child split off from its lineage.
    pub nonce: Option<String>,
    /// An operator's: also revoke every descendant.
    pub cascade: Option<bool>,
    /// An operator's: revoke a nonce the ledger has never seen, a token minted and not yet used
    /// (default false: such a nonce is refused `unknown-token`, 404).
    pub unseen: Option<bool>,
    /// The request's resource, for an operator credential's caveats (its action is `revoke`).
    pub resource: Option<String>,
    /// The request's audience, for an operator credential's caveats.
    pub aud: Option<String>,
    /// Further facts of the request, for an operator credential's `key = value` caveats.
    pub context: Option<BTreeMap<String, String>>,
}

presents!(
    RevokeBody,
    stated: |b| Stated::of(None, b.resource.as_ref(), b.aud.as_ref(), None, b.context.as_ref()),
);

/// `POST /v1/give-back`: give the token's whole balance back to the lineage it was split from.
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveBackBody {
    /// The token (or send it as `Authorization: Bearer`).
    pub token: Option<String>,
    /// Discharges of the token's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// Names the give-back: a retry with the same id by the same token answers the same.
    pub request_id: Option<String>,
}

presents!(GiveBackBody, id: request_id);

/// `POST /v1/top-up`: add `amount` to the live lineage of the token `nonce`, on an operator
/// credential.
#[derive(Deserialize, Default, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpBody {
    /// The operator credential (also `credential`; or send it as `Authorization: Bearer`).
    #[serde(alias = "credential")]
    pub token: Option<String>,
    /// Discharges of the credential's third-party caveats (tokens).
    pub discharges: Option<Vec<String>>,
    /// The token whose lineage takes the credit (32 hex digits; required).
    #[schema(required = true)]
    pub nonce: Option<String>,
    /// The credit to add (required).
    #[schema(required = true)]
    pub amount: Option<u64>,
    /// Names the top-up (required): retrying it adds nothing again.
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// The request's resource, for the credential's caveats (its action is `top-up`, its cost
    /// the `amount`).
    pub resource: Option<String>,
    /// The request's audience, for the credential's caveats.
    pub aud: Option<String>,
    /// Further facts of the request, for the credential's `key = value` caveats.
    pub context: Option<BTreeMap<String, String>>,
}

presents!(
    TopUpBody,
    id: request_id,
    stated: |b| Stated::of(None, b.resource.as_ref(), b.aud.as_ref(), None, b.context.as_ref()),
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Each route's body takes its own fields and refuses the others', so a field sent to the
    /// wrong route is an error, never silently ignored.
    #[test]
    fn each_body_refuses_the_fields_of_other_routes() {
        let refused = |json: &str| -> bool {
            [
                serde_json::from_str::<VerifyBody>(json).is_err(),
                serde_json::from_str::<SpendBody>(json).is_err(),
                serde_json::from_str::<SplitBody>(json).is_err(),
                serde_json::from_str::<RevokeBody>(json).is_err(),
                serde_json::from_str::<GiveBackBody>(json).is_err(),
                serde_json::from_str::<TopUpBody>(json).is_err(),
            ]
            .into_iter()
            .all(|x| x)
        };
        assert!(refused(r#"{"colour":"blue"}"#));
        assert!(serde_json::from_str::<VerifyBody>(r#"{"amounts":[1]}"#).is_err());
        assert!(serde_json::from_str::<SpendBody>(r#"{"amounts":[1]}"#).is_err());
        assert!(serde_json::from_str::<SpendBody>(r#"{"revocable":true}"#).is_err());
        assert!(serde_json::from_str::<SplitBody>(r#"{"cost":1}"#).is_err());
        assert!(serde_json::from_str::<GiveBackBody>(r#"{"cost":1}"#).is_err());
        assert!(serde_json::from_str::<TopUpBody>(r#"{"cascade":true}"#).is_err());
        assert!(serde_json::from_str::<RevokeBody>(r#"{"request_id":"r"}"#).is_err());
        // `credential` names the token on the operator's routes only.
        assert_eq!(serde_json::from_str::<TopUpBody>(r#"{"credential":"c"}"#).unwrap().token.as_deref(), Some("c"));
        assert_eq!(serde_json::from_str::<RevokeBody>(r#"{"credential":"c"}"#).unwrap().token.as_deref(), Some("c"));
        assert!(serde_json::from_str::<SpendBody>(r#"{"credential":"c"}"#).is_err());
    }
}
