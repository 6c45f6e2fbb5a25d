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

/// Sends `head` (a whole request head, ending in an empty line) on a new connection exactly as
/// written — no client normalises its method, target or headers — and reads the whole answer
/// (the request should say `Connection: close`).
pub fn raw(addr: &str, head: &str) -> Answer {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer { status, headers, body: body.to_owned() }
}
