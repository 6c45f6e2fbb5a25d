//! The CLI as a client of `crumb serve`: spend, split and verify against a remote issuer.
//! Network failures are retried with the same request id, so a retry is idempotent.

use super::args::{RequestArgs, SatisfyArgs};
use super::exit::{bad_input, unavailable};
use super::http_client::{Failure, HttpClient, Outgoing, Response};
use anyhow::Result;
use bytes::Bytes;
use crumb::backoff::Backoff;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Retries per request, and the ceilings of the pauses before them (each drawn below its
/// ceiling at random: many agents that lost one server must not all return at once).
const RETRIES: u32 = 3;
const BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), 4, Duration::from_millis(1200)).retries(RETRIES);

/// How long one attempt may take in all, and its connection.
const TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from crumb's API (a lineage of a long-lived tree is the largest).
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

pub struct Remote {
    base: String,
    client: HttpClient,
}

impl Remote {
    pub fn new(url: &str) -> Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad_input(format!("--server `{url}` must start with http:// or https://")));
        }
        let client = HttpClient::new(CONNECT_TIMEOUT).map_err(super::http_client::startup_error)?;
        Ok(Remote { base: url.trim_end_matches('/').to_owned(), client })
    }

    /// POSTs `body` to `path` and returns a verdict: `Ok((true, doc))` on 2xx, `Ok((false, doc))`
    /// on a denial (403, 409); other answers and failures become errors with their exit code.
    pub fn verdict(&self, path: &str, body: &Value) -> Result<(bool, Value)> {
        match self.post(path, body) {
            Ok(doc) => Ok((true, doc)),
            Err(e) => match e.downcast::<Denied>() {
                Ok(denied) => Ok((false, denied.0)),
                Err(other) => Err(other),
            },
        }
    }

    /// POSTs `body` to `path`; a 2xx answer is returned, a denial or fault becomes its exit code.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let json = serde_json::to_vec(body).expect("a JSON value serializes");
        self.send(path, "POST", &[("Content-Type", "application/json")], Some(json.into()))
    }

    /// GETs `path` with `bearer` as the credential.
    pub fn get(&self, path: &str, bearer: &str) -> Result<Value> {
        let credential = format!("Bearer {bearer}");
        self.send(path, "GET", &[("Authorization", &credential)], None)
    }

    /// Sends with bounded retries (the same request each time, so retries are idempotent) and
    /// turns the answer into a value or an error with its exit code.
    fn send(&self, path: &str, method: &str, headers: &[(&str, &str)], body: Option<Bytes>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut backoff = BACKOFF;
        let mut maybe_sent = false;
        loop {
            let out = Outgoing { method, url: &url, headers: headers.to_vec(), body: body.clone() };
            match self.client.send(out, TIMEOUT) {
                Ok(response) if (200..300).contains(&response.status) => {
                    return response
                        .json(MAX_ANSWER)
                        .map_err(|e| unavailable(format!("{url}: unreadable answer: {e}")));
                }
                Ok(response) if (300..400).contains(&response.status) => return Err(redirected(&url, &response)),
                Ok(response) => {
                    let status = response.status;
                    let doc: Value = response.json(MAX_ANSWER).unwrap_or(Value::Null);
                    let retryable = status == 503 && doc["code"] != "ledger-unavailable";
                    if retryable && backoff.wait() {
                        continue;
                    }
                    return Err(status_error(status, &doc));
                }
                Err(failure) => {
                    maybe_sent |= failure.maybe_sent();
                    if backoff.wait() {
                        continue;
                    }
                    return Err(Unreachable { message: unreachable(&self.base, &failure), maybe_sent }.into());
                }
            }
        }
    }

    /// POSTs like [`Remote::post`], and while the server answers `in-flight` (the token is
    /// held by a request still running, perhaps this one's own earlier attempt whose answer was
    /// lost) asks again until `deadline`.
    pub fn post_waiting(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value> {
        let mut waits = in_flight_waits(deadline);
        loop {
            let err = match self.post(path, body) {
                Ok(doc) => return Ok(doc),
                Err(e) => e,
            };
            let in_flight = err.downcast_ref::<Denied>().is_some_and(|d| d.0["code"] == "in-flight");
            if !in_flight || !waits.wait() {
                return Err(err);
            }
        }
    }
}

/// How a client waits for a token another request holds (`in-flight`) until `deadline`: such
/// holds last as long as an upstream call, so the ceiling grows from 250 ms to 2 s.
pub fn in_flight_waits(deadline: Instant) -> Backoff {
    Backoff::exponential(Duration::from_millis(250), 2, Duration::from_secs(2)).until(deadline)
}

/// The server could not be reached, or its answer was lost; `maybe_sent` when a request may
/// have reached it (a connection was made), so its outcome is unknown (exit 3).
#[derive(Debug)]
pub struct Unreachable {
    pub message: String,
    pub maybe_sent: bool,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unreachable {}

/// A transport failure said once, with what to do about it.
fn unreachable(base: &str, failure: &Failure) -> String {
    format!("cannot reach {base} ({failure}, {} attempts): is `crumb serve` running there?", RETRIES + 1)
}

/// A redirect is not followed: the request (its token in a header or the body) would go to a
/// URL the user never named.
fn redirected(url: &str, response: &Response) -> anyhow::Error {
    let to = response.header("location").map(|l| format!(" to {l}")).unwrap_or_default();
    Failed {
        code: "redirect".into(),
        message: format!(
            "{url} answered with a redirect{to}; crumb does not follow redirects (the token would go where \
             --server does not name): give --server the URL crumb serve answers on"
        ),
        status: response.status,
        exit: super::exit::BAD_INPUT,
    }
    .into()
}

/// A denial from the server, with its JSON body (exit code 1).
#[derive(Debug)]
pub struct Denied(pub Value);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.0["code"].as_str().unwrap_or("denied");
        let message = self.0["message"].as_str().or(self.0["detail"].as_str()).unwrap_or("no message");
        write!(f, "{message} ({code})")
    }
}

impl std::error::Error for Denied {}

/// A refusal by the server that is not a denial: its code, and the exit code it maps to.
#[derive(Debug)]
pub struct Failed {
    pub code: String,
    pub message: String,
    pub status: u16,
    pub exit: u8,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}; HTTP {})", self.message, self.code, self.status)
    }
}

impl std::error::Error for Failed {}

fn status_error(status: u16, doc: &Value) -> anyhow::Error {
    let code = doc["code"].as_str().unwrap_or("error").to_owned();
    // crumb's JSON errors say `message`; its problem documents (RFC 9457) say `detail`.
    let message = doc["message"].as_str().or(doc["detail"].as_str()).unwrap_or("no message").to_owned();
    match status {
        // A token that cannot pay (402) is refused as any denial is: exit 1; so is a key
        // reused for another request (422) and a full spend-rate window (429).
        402 | 403 | 409 | 422 => Denied(doc.clone()).into(),
        429 if code == "spend-rate-exceeded" => Denied(doc.clone()).into(),
        // Over the server's request-rate limit: nothing is wrong with the request, ask later.
        429 => Failed { code, message, status, exit: super::exit::UNAVAILABLE }.into(),
        400..=499 => Failed { code, message, status, exit: super::exit::BAD_INPUT }.into(),
        _ => Failed { code, message, status, exit: super::exit::UNAVAILABLE }.into(),
    }
}

/// The request fields shared by verify, spend and split.
pub fn request_body(token: &str, request: &RequestArgs, satisfy: &SatisfyArgs) -> Result<Map<String, Value>> {
    if request.ip.is_some() || request.at.is_some() || !satisfy.exact.is_empty() || satisfy.only_exact {
        return Err(bad_input(
            "--ip, --at, --exact and --only-exact are local checks: the server uses its own clock, the peer address and crumb's caveat language",
        ));
    }
    let mut body = Map::new();
    body.insert("token".into(), json!(token.trim()));
    for (name, value) in [("action", &request.action), ("resource", &request.resource), ("aud", &request.aud)] {
        if let Some(v) = value {
            body.insert(name.into(), json!(v));
        }
    }
    if !request.context.is_empty() {
        let map: Map<String, Value> = request.values()?.into_iter().map(|(k, v)| (k, json!(v))).collect();
        body.insert("context".into(), Value::Object(map));
    }
    let discharges = satisfy.discharge_texts()?;
    if !discharges.is_empty() {
        body.insert("discharges".into(), json!(discharges));
    }
    Ok(body)
}
