//! The CLI as a client of `crumb serve`: spend, split and verify against a remote issuer.
//! Network failures are retried with the same request id, so a retry is idempotent.

use super::args::{RequestArgs, SatisfyArgs};
use super::exit::{bad_input, unavailable};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Attempts per request, and the pause before each retry.
const BACKOFF: &[u64] = &[100, 400, 1200];

pub struct Remote {
    base: String,
    agent: ureq::Agent,
}

impl Remote {
    pub fn new(url: &str) -> Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad_input(format!("--server `{url}` must start with http:// or https://")));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(super::USER_AGENT)
            .build();
        Ok(Remote { base: url.trim_end_matches('/').to_owned(), agent })
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
        self.send(path, |url| self.agent.post(url).send_json(body).map_err(Box::new))
    }

    /// GETs `path` with `bearer` as the credential.
    pub fn get(&self, path: &str, bearer: &str) -> Result<Value> {
        self.send(path, |url| {
            self.agent.get(url).set("Authorization", &format!("Bearer {bearer}")).call().map_err(Box::new)
        })
    }

    /// Sends with bounded retries (the same request each time, so retries are idempotent) and
    /// turns the answer into a value or an error with its exit code.
    fn send(
        &self,
        path: &str,
        attempt_once: impl Fn(&str) -> Result<ureq::Response, Box<ureq::Error>>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        let mut maybe_sent = false;
        loop {
            match attempt_once(&url).map_err(|e| *e) {
                Ok(response) => {
                    return response.into_json().map_err(|e| unavailable(format!("{url}: unreadable answer: {e}")));
                }
                Err(ureq::Error::Status(status, response)) => {
                    let doc: Value = response.into_json().unwrap_or(Value::Null);
                    let retryable = status == 503 && doc["code"] != "ledger-unavailable";
                    if retryable && attempt < BACKOFF.len() {
                        std::thread::sleep(Duration::from_millis(BACKOFF[attempt]));
                        attempt += 1;
                        continue;
                    }
                    return Err(status_error(status, &doc));
                }
                Err(ureq::Error::Transport(t)) => {
                    maybe_sent |= !matches!(
                        t.kind(),
                        ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns | ureq::ErrorKind::BadHeader
                    );
                    if attempt < BACKOFF.len() {
                        std::thread::sleep(Duration::from_millis(BACKOFF[attempt]));
                        attempt += 1;
                        continue;
                    }
                    return Err(Unreachable { message: unreachable(&self.base, &t), maybe_sent }.into());
                }
            }
        }
    }

    /// POSTs like [`Remote::post`], and while the server answers `in-flight` (the token is
    /// held by a request still running, perhaps this one's own earlier attempt whose answer was
    /// lost) asks again until `deadline`.
    pub fn post_waiting(&self, path: &str, body: &Value, deadline: std::time::Instant) -> Result<Value> {
        let mut waits = 0;
        loop {
            let err = match self.post(path, body) {
                Ok(doc) => return Ok(doc),
                Err(e) => e,
            };
            let in_flight = err.downcast_ref::<Denied>().is_some_and(|d| d.0["code"] == "in-flight");
            let pause = pause(waits, None);
            if !in_flight || std::time::Instant::now() + pause > deadline {
                return Err(err);
            }
            std::thread::sleep(pause);
            waits += 1;
        }
    }
}

/// The pause before asking again about a token in flight: the server's `Retry-After` when it
/// gave one, else a backoff from 250 ms doubling to 2 s; either with up to a quarter added at
/// random, so clients that wait together do not ask together.
pub fn pause(waits: u32, retry_after: Option<Duration>) -> Duration {
    let base = retry_after.unwrap_or_else(|| Duration::from_millis(250 << waits.min(3)));
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    base + base.mul_f64(f64::from(byte[0]) / 255.0 / 4.0)
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
fn unreachable(base: &str, t: &ureq::Transport) -> String {
    let why = transport_reason(t);
    format!("cannot reach {base} ({why}, {} attempts): is `crumb serve` running there?", BACKOFF.len() + 1)
}

/// Why a request could not be made, in words that never repeat what was being sent: a bad
/// header's message would quote the header, and a header may carry a token.
pub fn transport_reason(t: &ureq::Transport) -> String {
    match t.kind() {
        ureq::ErrorKind::ConnectionFailed => "connection refused".to_owned(),
        ureq::ErrorKind::Dns => "unknown host".to_owned(),
        ureq::ErrorKind::Io if io_timed_out(t) => "no answer in time (timed out)".to_owned(),
        ureq::ErrorKind::Io => "the connection failed".to_owned(),
        ureq::ErrorKind::BadHeader => "a header could not be sent as written".to_owned(),
        _ => t.message().map(str::to_owned).unwrap_or_else(|| t.kind().to_string()),
    }
}

/// Whether a transport error is a timeout (ureq reports it as I/O).
fn io_timed_out(t: &ureq::Transport) -> bool {
    use std::error::Error;
    let mut cause = t.source();
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock))
        {
            return true;
        }
        cause = c.source();
    }
    t.message().is_some_and(|m| m.contains("timed out"))
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
        // A token that cannot pay (402) is refused as any denial is: exit 1.
        402 | 403 | 409 => Denied(doc.clone()).into(),
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
        let map: Map<String, Value> = request.context.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        body.insert("context".into(), Value::Object(map));
    }
    let discharges = satisfy.discharge_texts()?;
    if !discharges.is_empty() {
        body.insert("discharges".into(), json!(discharges));
    }
    Ok(body)
}
