//! The CLI's one HTTP client (`--server`, `crumb request`, `crumb doctor`, the MCP wallet): the
//! hyper client the proxy uses, driven by a current-thread runtime of its own so that callers
//! stay blocking.
//!
//! Its policy, the same for every caller: https checked against the Mozilla roots compiled into
//! crumb, no proxy taken from the environment, no connection kept between requests (a retry
//! never goes down a connection the server already closed), one deadline for the whole
//! exchange (connecting, the answer's head and every read of its body), and redirects never
//! followed: a 3xx is handed back as it is, so a token never goes anywhere the user did not
//! name.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why no answer came. The words never repeat what was sent: a header may carry a token.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No connection was made, so nothing was sent.
    #[error("{0}")]
    NotConnected(String),
    /// The request was not sent as written (a header or URL it cannot carry).
    #[error("{0}")]
    Unsendable(String),
    /// A connection was made and the exchange failed or ran out of time: the request may have
    /// reached the server.
    #[error("{0}")]
    Lost(String),
}

impl Failure {
    /// Whether the request may have reached the server (its outcome is then unknown).
    pub fn maybe_sent(&self) -> bool {
        matches!(self, Failure::Lost(_))
    }
}

const TIMED_OUT: &str = "no answer in time (timed out)";

/// One request. Headers replace crumb's defaults (`User-Agent`, `Accept: */*`) and earlier
/// headers of the same name.
pub struct Outgoing<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: Option<Bytes>,
}

impl<'a> Outgoing<'a> {
    pub fn get(url: &'a str) -> Self {
        Outgoing { method: "GET", url, headers: Vec::new(), body: None }
    }
}

/// A blocking HTTP/1.1 client.
pub struct HttpClient {
    runtime: Arc<tokio::runtime::Runtime>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client that gives up connecting after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // The runtime only runs while a call blocks on it: a pooled connection would sit
        // unattended between calls, and could be found closed by the server only once a
        // request was written to it.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
        Ok(HttpClient { runtime: Arc::new(runtime), client })
    }

    /// Sends `out` and waits for the answer's head; the whole exchange, reading the body
    /// included, must be over within `timeout`. Every status is an answer.
    pub fn send(&self, out: Outgoing<'_>, timeout: Duration) -> Result<Response, Failure> {
        let deadline = Instant::now() + timeout;
        let request = build(out)?;
        let sent = self
            .runtime
            .block_on(async { tokio::time::timeout_at(deadline.into(), self.client.request(request)).await });
        let response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(failure(&e)),
            Err(_) => return Err(Failure::Lost(TIMED_OUT.into())),
        };
        let (parts, body) = response.into_parts();
        let reason = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| parts.status.canonical_reason().unwrap_or_default().to_owned());
        Ok(Response {
            status: parts.status.as_u16(),
            reason,
            headers: parts.headers,
            body: BodyReader { runtime: self.runtime.clone(), body, deadline, chunk: Bytes::new() },
        })
    }
}

fn build(out: Outgoing<'_>) -> Result<hyper::Request<Full<Bytes>>, Failure> {
    let uri: hyper::Uri = out.url.parse().map_err(|_| Failure::Unsendable("not a valid URL".into()))?;
    let method = hyper::Method::from_bytes(out.method.as_bytes())
        .map_err(|_| Failure::Unsendable("not a valid method".into()))?;
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static(super::USER_AGENT));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    for (name, value) in out.headers {
        let bad = || Failure::Unsendable("a header could not be sent as written".into());
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
        // Never shown by a Debug print (hyper's own tracing included).
        value.set_sensitive(name == hyper::header::AUTHORIZATION);
        headers.insert(name, value);
    }
    let mut request = hyper::Request::new(Full::new(out.body.unwrap_or_default()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Why a client could not be made, for the CLI: a `CRUMB_CA_FILE` that does not read is bad
/// input (exit 2), anything else the machine's (exit 3).
pub fn startup_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::InvalidInput {
        super::exit::bad_input(e.to_string())
    } else {
        super::exit::unavailable(format!("cannot start the HTTP client: {}", crumb::error::io_reason(&e)))
    }
}

/// TLS as the proxy does it for an upstream: always verified, against the Mozilla roots, or
/// only against the CA certificates (PEM) in the file `CRUMB_CA_FILE` names (a private CA in
/// front of `crumb serve --tls-cert`), as `--upstream-ca` does for the proxy.
fn tls_config() -> std::io::Result<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match std::env::var_os("CRUMB_CA_FILE").filter(|f| !f.is_empty()) {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            let invalid = |why: String| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("CRUMB_CA_FILE {}: {why}", std::path::Path::new(&file).display()),
                )
            };
            let meta = std::fs::metadata(&file).map_err(|e| invalid(e.kind().to_string()))?;
            if !meta.is_file() || meta.len() > 1 << 20 {
                return Err(invalid("not a regular file of at most 1 MiB".into()));
            }
            let pem = std::fs::read(&file).map_err(|e| invalid(e.kind().to_string()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| invalid(e.to_string()))?;
                roots.add(cert).map_err(|e| invalid(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(invalid("no PEM certificate in it".into()));
            }
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The client's error in words, and whether the request may have been sent.
fn failure(e: &hyper_util::client::legacy::Error) -> Failure {
    use std::error::Error;
    let mut timed_out = false;
    let (mut dns, mut refused, mut tls) = (false, false, None);
    let mut cause: Option<&(dyn Error + 'static)> = e.source();
    while let Some(c) = cause {
        // The connector's own words: "dns error", "tcp connect error".
        dns |= c.to_string() == "dns error";
        tls = tls.or_else(|| c.downcast_ref::<rustls::Error>().map(ToString::to_string));
        cause = match c.downcast_ref::<std::io::Error>() {
            Some(io) => {
                timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
                refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
                // An io::Error's source skips the error it wraps (hyper-rustls wraps rustls's
                // twice): go inside instead.
                io.get_ref().map(|inner| inner as &(dyn Error + 'static)).or_else(|| c.source())
            }
            None => c.source(),
        };
    }
    if e.is_connect() {
        let why = match (dns, refused, timed_out, tls) {
            (true, ..) => "unknown host".to_owned(),
            (_, true, ..) => "connection refused".to_owned(),
            (_, _, true, _) => "no connection in time (timed out)".to_owned(),
            (.., Some(tls)) => format!("the TLS handshake failed: {tls}"),
            _ => "no connection could be made".to_owned(),
        };
        return Failure::NotConnected(why);
    }
    Failure::Lost(if timed_out { TIMED_OUT } else { "the connection failed" }.into())
}

/// An answer: its status and head, and a body read as it arrives.
pub struct Response {
    pub status: u16,
    /// The reason phrase the server sent, else the status's usual one.
    pub reason: String,
    pub headers: HeaderMap,
    pub body: BodyReader,
}

impl Response {
    /// A header's first value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every header in the order received, names in lower case.
    pub fn header_list(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect()
    }

    /// The media type, without parameters.
    pub fn content_type(&self) -> &str {
        let value = self.header("content-type").unwrap_or("text/plain");
        value.split(';').next().unwrap_or(value)
    }

    /// The body, at most `limit` bytes of it: a longer one is an error, not cut silently.
    pub fn read_body(self, limit: u64) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.body.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(std::io::Error::other(format!("the answer is larger than {limit} bytes")));
        }
        Ok(bytes)
    }

    /// The body as JSON, within `limit` bytes.
    pub fn json(self, limit: u64) -> std::io::Result<serde_json::Value> {
        let bytes = self.read_body(limit)?;
        serde_json::from_slice(&bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// A response body as a blocking reader, within the exchange's deadline.
pub struct BodyReader {
    runtime: Arc<tokio::runtime::Runtime>,
    body: Incoming,
    deadline: Instant,
    chunk: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            if self.body.is_end_stream() {
                return Ok(0);
            }
            let body = &mut self.body;
            let frame = self.runtime.block_on(async {
                let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx));
                tokio::time::timeout_at(self.deadline.into(), next).await
            });
            match frame {
                Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, TIMED_OUT)),
                Ok(None) => return Ok(0),
                Ok(Some(Err(_))) => return Err(std::io::Error::other("the connection failed")),
                // Trailers carry no body: read on.
                Ok(Some(Ok(frame))) => self.chunk = frame.into_data().unwrap_or_default(),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
