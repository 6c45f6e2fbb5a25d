//! An HTTP client for the tests that talk to crumb and the proxies in front of it: one call,
//! one [`Answer`] with every header, whatever the status.

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// One HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn successor(&self) -> &str {
        self.header("crumb-token").unwrap_or_else(|| panic!("no Crumb-Token: {self:?}"))
    }
}

/// A client that never reuses a connection. Tests in one binary share a process, and a port
/// freed by one test's server is soon handed to another's: ureq's shared pool would then send
/// a POST down a dead connection to the old server and fail with "connection reset".
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().max_idle_connections(0).build()
}

/// Sends a request (with `token` as Bearer) and returns the answer, whatever its status.
pub fn send(method: &str, url: &str, token: Option<&str>, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = agent().request(method, url).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let response = match req.send_string(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or_default().to_owned();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    Answer { status: response.status(), headers, body: response.into_string().unwrap_or_default() }
}
