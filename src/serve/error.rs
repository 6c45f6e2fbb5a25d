//! Errors as HTTP responses: a stable JSON shape `{"code", "message"}` (plus verdict fields
//! for denials), never echoing a token's signature or a key.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use crumb::error::DecodeError;
use crumb::outcome::{Class, Classified};
use crumb::{DenialCode, Error};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields merged into the body (the verdict of a denial).
    pub extra: Option<Value>,
    /// `Retry-After`, in seconds (`spend-rate-exceeded`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), extra: None, retry_after: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A denial: its class's status, and `allowed: false` in the body.
    pub fn denied(code: DenialCode, message: impl Into<String>) -> Self {
        let mut e = Self::new(status(code.class()), code.as_str(), message);
        e.extra = Some(json!({ "allowed": false }));
        e
    }
}

/// The HTTP status of each class of outcome: the one map from the library's classification
/// to HTTP (the proxy and forward auth start from it too).
pub fn status(class: Class) -> StatusCode {
    match class {
        Class::Denied => StatusCode::FORBIDDEN,
        Class::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
        Class::Conflict => StatusCode::CONFLICT,
        Class::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        Class::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Class::BadRequest => StatusCode::BAD_REQUEST,
        Class::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (class, code) = (e.class(), e.code());
        match e {
            Error::Denied(d) => {
                let mut e = ApiError::denied(d.code, d.message);
                e.retry_after = d.retry_after;
                e
            }
            // Faults are logged in full and answered in general terms: a ledger's or the
            // system's wording is for the operator.
            Error::Ledger(l) => {
                tracing::error!(error = %l, "ledger error");
                ApiError::new(status(class), code, "the ledger is unavailable")
            }
            other if matches!(class, Class::Unavailable | Class::Internal) => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(status(class), code, "internal error")
            }
            Error::Limit(l) => ApiError::new(status(class), code, l.message),
            other => ApiError::new(status(class), code, other.to_string()),
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
        let body = crumb::shapes::ErrorBody {
            code: self.code.into(),
            message: self.message,
            allowed: self.extra.as_ref().and_then(|e| e["allowed"].as_bool()),
            exit: None,
            x_request_id: super::request_id::current(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
