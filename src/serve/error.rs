//! Errors as HTTP responses: a stable JSON shape `{"code", "message"}` (plus verdict fields
//! for denials), never echoing a token's signature or a key.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use crumb::error::DecodeError;
use crumb::{DenialCode, Error};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields merged into the body (the verdict of a denial).
    pub extra: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), extra: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The status a denial maps to: 409 for a token already consumed, 403 otherwise.
    pub fn denied(code: DenialCode, message: impl Into<String>) -> Self {
        let status = if matches!(code, DenialCode::Spent | DenialCode::InFlight) {
            StatusCode::CONFLICT
        } else {
            StatusCode::FORBIDDEN
        };
        let mut e = Self::new(status, code.as_str(), message);
        e.extra = Some(json!({ "allowed": false }));
        e
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Denied(d) => ApiError::denied(d.code, d.message),
            Error::Decode(DecodeError::TooLarge { .. }) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "token-too-large", e.to_string())
            }
            Error::Decode(d) => ApiError::bad_request("malformed-token", d.to_string()),
            Error::Caveat(c) => ApiError::bad_request("bad-caveat", c.to_string()),
            Error::Usage(m) => ApiError::bad_request("bad-request", m),
            Error::Limit(l) => ApiError::bad_request(l.code, l.message),
            Error::Ledger(l) => {
                tracing::error!(error = %l, "ledger error");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ledger-unavailable", "the ledger is unavailable")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e).into()
    }
}

impl From<crumb::error::LedgerError> for ApiError {
    fn from(e: crumb::error::LedgerError) -> Self {
        Error::Ledger(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (self.extra, &mut body) {
            map.extend(extra);
        }
        (self.status, Json(body)).into_response()
    }
}
