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

/// Sends a request (with `token` as Bearer) and returns the answer, whatever its status.
pub fn send(method: &str, url: &str, token: Option<&str>, headers: &[(&str, &str)], body: &str) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut all: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
    all.extend_from_slice(headers);
    try_send(method, url, &all, body, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Sends a request and returns the answer, whatever its status, or why none came within
/// `timeout`. Each request has a connection of its own: tests in one binary share a process, and
/// a port freed by one test's server is soon handed to another's, so a kept connection could
/// carry a request to a dead server.
pub fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Answer, String> {
    use http_body_util::{BodyExt, Full};
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let authority = uri.authority().ok_or("no host")?.to_string();
    let mut request = hyper::Request::builder().method(method).uri(uri.path_and_query().map_or("/", |p| p.as_str()));
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request = request.header("host", &authority);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(bytes::Bytes::from(body.to_owned()))).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&authority).await.map_err(|e| e.to_string())?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok(Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| "timed out".to_owned())?
    })
}

/// GETs `url` and returns its body; panics unless the answer is 200.
pub fn get_ok(url: &str) -> String {
    let answer = send("GET", url, None, &[], "");
    assert_eq!(answer.status, 200, "GET {url}: {answer:?}");
    answer.body
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
