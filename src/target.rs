//! The canonical request target: a request's method and path as an upstream routes them.
//!
//! A metering gateway prices a request, checks every caveat against it, logs it and (as a
//! proxy) forwards it. All four must see the same request, and that request must be the one
//! the upstream executes, or a client could pay for one route and be served another
//! (`POST /v1/%63hat` routed as `/v1/chat` but priced as something cheaper). [`Target::parse`]
//! is that one form; whatever it cannot canonicalise without ambiguity is refused:
//! - the method is one of [`Method`], in upper case (`post` is refused: many frameworks
//!   would serve it as POST); any other method is refused;
//! - the path is canonical as [`crate::caveat::path`] defines it (unreserved escapes decoded,
//!   encoded separators, `;`, dot-segments and empty segments refused);
//! - the query is kept as sent (it is neither priced nor checked), but must be well formed:
//!   no raw space, control character, `#` or non-ASCII byte, and no malformed escape.
//!
//! `HEAD` is priced and checked as `GET` ([`Target::route_method`]): a framework answers it by
//! running the GET handler, so it must cost what GET costs and need what GET needs. It is
//! still forwarded as `HEAD`, so no body comes back.

use crate::caveat::path;
use std::borrow::Cow;
use std::fmt;

/// The methods a gateway meters. Anything else is refused rather than guessed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    pub const ALL: [Method; 7] =
        [Method::Get, Method::Head, Method::Post, Method::Put, Method::Patch, Method::Delete, Method::Options];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// The method whose handler serves this one, and so whose price and caveats apply.
    pub fn route(self) -> Method {
        match self {
            Method::Head => Method::Get,
            m => m,
        }
    }

    /// Parses an upper-case method name.
    pub fn parse(name: &str) -> Result<Method, TargetError> {
        if let Some(m) = Method::ALL.into_iter().find(|m| m.as_str() == name) {
            return Ok(m);
        }
        if Method::ALL.iter().any(|m| m.as_str().eq_ignore_ascii_case(name)) {
            return Err(TargetError::Method(format!(
                "`{}`: methods are upper case (servers disagree on what a lower-case one means)",
                shown(name)
            )));
        }
        Err(TargetError::Method(format!(
            "`{}` is not one of {}",
            shown(name),
            Method::ALL.map(Method::as_str).join(", ")
        )))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request target has no canonical form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the request method {0}")]
    Method(String),
    #[error("the request path {0}")]
    Path(String),
    #[error("the request query {0}")]
    Query(String),
}

impl TargetError {
    /// crumb's reason code for it: `bad-method` or `bad-path`.
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::Method(_) => "bad-method",
            TargetError::Path(_) | TargetError::Query(_) => "bad-path",
        }
    }
}

/// A request's method and target in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    method: Method,
    path: String,
    query: Option<String>,
}

/// Longest query accepted, in bytes.
pub const MAX_QUERY: usize = 8 * 1024;

impl Target {
    /// The canonical form of `method` on `target` (origin form: `/path[?query]`).
    pub fn parse(method: &str, target: &str) -> Result<Target, TargetError> {
        let method = Method::parse(method)?;
        let (raw_path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let path = path::canonical_path(raw_path).map_err(TargetError::Path)?.into_owned();
        if let Some(q) = query {
            check_query(q)?;
        }
        Ok(Target { method, path, query: query.map(str::to_owned) })
    }

    /// The method as sent (and forwarded).
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method whose price and caveats apply (`HEAD` is `GET`).
    pub fn route_method(&self) -> Method {
        self.method.route()
    }

    /// The canonical path, a trailing `/` kept.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The resource caveats and prices see: the canonical path without a trailing `/`.
    pub fn resource(&self) -> &str {
        self.path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(&self.path)
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The canonical path and the query: what a proxy forwards and an idempotency key binds.
    pub fn path_and_query(&self) -> Cow<'_, str> {
        match &self.query {
            None => Cow::Borrowed(&self.path),
            Some(q) => Cow::Owned(format!("{}?{q}", self.path)),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path_and_query())
    }
}

/// RFC 3986 §3.4: `query = *( pchar / "/" / "?" )`, escapes well formed.
fn check_query(query: &str) -> Result<(), TargetError> {
    if query.len() > MAX_QUERY {
        return Err(TargetError::Query(format!("is longer than {MAX_QUERY} bytes")));
    }
    let bytes = query.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let fine = match b {
            b'%' => {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            b'#' => false,
            b if b.is_ascii_alphanumeric() => true,
            b => b"-._~!$&'()*+,;=:@/?".contains(&b),
        };
        if !fine {
            return Err(TargetError::Query(format!(
                "has `{}` where a query may not: percent-encode it",
                shown(&String::from_utf8_lossy(&[b]))
            )));
        }
    }
    Ok(())
}

/// Client text for an error message: short, and without control characters.
fn shown(text: &str) -> String {
    text.chars().take(32).map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_target_is_what_an_upstream_routes() {
        let t = Target::parse("POST", "/v1/%63hat?stream=true&x=%2F").unwrap();
        assert_eq!((t.method(), t.path(), t.query()), (Method::Post, "/v1/chat", Some("stream=true&x=%2F")));
        assert_eq!(t.path_and_query(), "/v1/chat?stream=true&x=%2F");
        let head = Target::parse("HEAD", "/v1/models/").unwrap();
        assert_eq!((head.method(), head.route_method(), head.resource()), (Method::Head, Method::Get, "/v1/models"));
        assert_eq!(Target::parse("GET", "/").unwrap().resource(), "/");
    }

    #[test]
    fn what_has_no_one_meaning_is_refused() {
        for (method, target, code) in [
            ("post", "/v1/chat", "bad-method"),
            ("Post", "/v1/chat", "bad-method"),
            ("TRACE", "/v1/chat", "bad-method"),
            ("CONNECT", "/v1/chat", "bad-method"),
            ("PROPFIND", "/", "bad-method"),
            ("", "/", "bad-method"),
            ("POST", "/v1/chat;a=b", "bad-path"),
            ("POST", "/v1/models%3F/../chat", "bad-path"),
            ("POST", "/v1/chat%23", "bad-path"),
            ("POST", "*", "bad-path"),
            ("POST", "http://evil/v1/chat", "bad-path"),
            ("POST", "/v1/chat?a=b#frag", "bad-path"),
            ("POST", "/v1/chat?a b", "bad-path"),
            ("POST", "/v1/chat?a=%zz", "bad-path"),
        ] {
            assert_eq!(Target::parse(method, target).unwrap_err().code(), code, "{method} {target}");
        }
    }
}
