//! The metering reverse proxy (`crumb serve --upstream URL`): every request is priced,
//! its token verified and held, the request streamed to the upstream, and the charge decided
//! by the upstream's status — below 400 the successor carries the balance less the price, at
//! 400 and above the same balance. Either way the response carries the successor in
//! `Crumb-Token`, so the client always holds the newest token.
//!
//! The token is held (not spent) while the upstream works: a second use of it meanwhile is
//! refused `in-flight`, and nothing is charged for a request that never reached the upstream.
//! The upstream call and the settle run in a task of their own, so a client that hangs up
//! mid-request does not leave its token held: the settle still happens.

use super::audit::Entry;
use super::metering::{self, Charge, Problem};
use super::stall::Stall;
use super::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use crumb::charge::Held;
use crumb::spend::Receipt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The API crumb meters, and how to reach it.
pub struct Upstream {
    scheme: String,
    authority: String,
    /// The upstream URL's path, without a trailing `/`: requests are appended to it.
    base_path: String,
    client: Client<HttpsConnector<HttpConnector>, Body>,
    /// Headers the operator injects (`--upstream-header`), values already expanded.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// How long the upstream may take to start answering, or pause in the middle of one.
    pub timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The injected headers may hold the upstream's credentials: never printed.
        write!(f, "Upstream({}://{}{})", self.scheme, self.authority, self.base_path)
    }
}

/// How long past the upstream timeout a hold lasts: a settle always comes before it lapses.
const HOLD_MARGIN: Duration = Duration::from_secs(30);

impl Upstream {
    /// `url` is `http[s]://host[:port][/base]`; `headers` are injected into every request. An
    /// https upstream must present a certificate that chains to `ca_pem` (PEM certificates)
    /// when given, else to the Mozilla roots built into crumb.
    pub fn new(
        url: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("--upstream `{url}` is not a URL: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme.to_owned(),
            _ => return Err(format!("--upstream `{url}` must start with http:// or https://")),
        };
        if ca_pem.is_some() && scheme == "http" {
            return Err(format!("--upstream-ca is for an https:// upstream, and `{url}` is plain http"));
        }
        let authority = uri.authority().ok_or_else(|| format!("--upstream `{url}` names no host"))?.to_string();
        if uri.query().is_some() {
            return Err(format!("--upstream `{url}` may not carry a query"));
        }
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(Duration::from_secs(5)));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_pem)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Ok(Upstream {
            scheme,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            client,
            headers,
            timeout,
        })
    }

    /// How long a request's token is held at most.
    pub fn hold_ttl(&self) -> Duration {
        self.timeout + HOLD_MARGIN
    }

    fn target(&self, path_and_query: &str) -> Result<Uri, Problem> {
        format!("{}://{}{}{}", self.scheme, self.authority, self.base_path, path_and_query)
            .parse()
            .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "bad-path", "the request target is not a valid path"))
    }

    /// Sends the client's request on, without its credentials and crumb's headers, with the
    /// operator's headers added; waits for the answer's head within the timeout.
    async fn send(&self, request: Request, client_ip: IpAddr, host: Option<&str>) -> Result<Response, Problem> {
        let (mut parts, body) = request.into_parts();
        let target = self.target(parts.uri.path_and_query().map_or("/", |p| p.as_str()))?;
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        strip_crumb(headers);
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::PROXY_AUTHORIZATION);
        headers.remove(header::HOST);
        headers.insert("x-forwarded-for", HeaderValue::from_str(&client_ip.to_string()).expect("an address is ASCII"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        if let Some(v) = host.and_then(|h| HeaderValue::from_str(h).ok()) {
            headers.insert("x-forwarded-host", v);
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        parts.uri = target;
        parts.version = axum::http::Version::HTTP_11;
        let outgoing = axum::http::Request::from_parts(parts, body);
        match tokio::time::timeout(self.timeout, self.client.request(outgoing)).await {
            Ok(Ok(response)) => Ok(response.map(|body| Body::new(Paced::new(body, self.timeout)))),
            Ok(Err(e)) => {
                tracing::warn!(upstream = %self.authority, error = %e, "upstream request failed");
                Err(Problem::new(StatusCode::BAD_GATEWAY, "upstream-unavailable", "the upstream could not be reached"))
            }
            Err(_) => Err(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "the upstream did not answer in time",
            )),
        }
    }
}

/// TLS to an https upstream: the certificates in `ca_pem` as the only roots when given (a
/// private CA), else the Mozilla roots compiled into crumb (nothing to install). Certificates
/// are always verified; there is no switch to turn that off.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("--upstream-ca: not a PEM certificate file: {e}"))?;
                roots.add(cert).map_err(|e| format!("--upstream-ca: a certificate crumb cannot use: {e}"))?;
            }
            if roots.is_empty() {
                return Err("--upstream-ca holds no certificate (`-----BEGIN CERTIFICATE-----`)".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An upstream answer's body that fails when the upstream pauses longer than `limit` between
/// two frames: a stuck upstream must not keep the client's connection in flight for ever.
/// The pause is timed from when the body is asked for a frame and has none (not from the last
/// frame: a client that reads slowly is not the upstream pausing).
struct Paced {
    inner: hyper::body::Incoming,
    stall: Stall,
}

impl Paced {
    fn new(inner: hyper::body::Incoming, limit: Duration) -> Self {
        Paced { inner, stall: Stall::new(limit) }
    }
}

impl hyper::body::Body for Paced {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        this.stall.watch(cx, frame).map(|polled| match polled {
            Some(frame) => frame.map(|f| f.map_err(Into::into)),
            None => Some(Err("the upstream paused too long in its answer".into())),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Removes the headers that belong to one connection, not to the message (RFC 9110 §7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"] {
        headers.remove(name);
    }
}

/// Removes every `Crumb-*` header: the client's never reach the upstream, and the upstream's
/// never reach the client (it cannot forge a successor or a balance).
fn strip_crumb(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers.keys().filter(|n| n.as_str().starts_with("crumb-")).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

/// The handler for every path in proxy mode.
pub async fn proxy(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    match handle(state, peer, req).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn handle(state: Arc<AppState>, peer: SocketAddr, req: Request) -> Result<Response, Problem> {
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let metered = state.pricing.meter(req.method().as_str(), &target, host.as_deref())?;
    let client_ip = super::routes::client_ip(&state, req.headers(), peer);
    let price = match metered.charge {
        Charge::Free => {
            let response = upstream.send(req, client_ip, host.as_deref()).await?;
            return Ok(from_upstream(response, None));
        }
        Charge::Price(price) => price,
    };
    let realm = &state.pricing.realm;
    let presented = metering::presented(req.headers(), &metered, realm)?;
    let ctx = metering::context(&state, &metered, req.headers(), peer)?;
    let nonce = presented.token.token_id().map(|id| id.nonce.to_string());
    let (answer, request_id) = if price == 0 {
        (verified(&state, req, client_ip, host, &presented, ctx).await, None)
    } else {
        let request_id = metering::request_id(req.headers(), &metered)?;
        (paid(&state, req, client_ip, host, &presented, ctx, request_id.clone()).await, Some(request_id))
    };
    let outcome = match &answer {
        Ok((_, outcome)) => outcome,
        Err(problem) => problem.code,
    };
    state.audit(Entry { route: "proxy", nonce, outcome, cost: Some(price), request_id: request_id.as_deref() });
    answer.map(|(response, _)| response)
}

/// A route priced 0: free but not open. The token must verify (signature, caveats, standing);
/// it is not consumed, so it comes back unchanged.
async fn verified(
    state: &Arc<AppState>,
    req: Request,
    client_ip: IpAddr,
    host: Option<String>,
    presented: &metering::Presented,
    ctx: crumb::Context,
) -> Result<(Response, &'static str), Problem> {
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    let balance = metering::verify_only(state, presented, ctx).await?;
    let response = upstream.send(req, client_ip, host.as_deref()).await?;
    Ok((from_upstream(response, Some((&presented.text, balance, 0))), "allowed"))
}

/// A paid route: hold the token, call the upstream, settle by its status.
async fn paid(
    state: &Arc<AppState>,
    req: Request,
    client_ip: IpAddr,
    host: Option<String>,
    presented: &metering::Presented,
    ctx: crumb::Context,
    request_id: String,
) -> Result<(Response, &'static str), Problem> {
    let (realm, price) = (&state.pricing.realm, ctx.cost);
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    let (token, discharges) = (presented.token.clone(), presented.discharges.clone());
    let held = hold(state, token, discharges, ctx, request_id, upstream.hold_ttl()).await?;
    let hold = match held.map_err(|e| Problem::from_error(e, presented, realm, price))? {
        Held::Fresh(hold) => hold,
        Held::Answered(receipt) => return Ok((already_answered(&receipt), "replayed")),
    };
    // The upstream call and the settle run on, whatever happens to this request's connection.
    let worker = state.clone();
    let task = tokio::spawn(async move {
        let upstream = worker.upstream.as_ref().expect("checked above");
        let outcome = upstream.send(req, client_ip, host.as_deref()).await;
        let issuer_state = worker.clone();
        match outcome {
            Err(problem) => {
                let _ = super::routes::blocking(move || Ok(issuer_state.issuer.release(hold))).await;
                Err(problem)
            }
            Ok(response) => {
                let charge = response.status().as_u16() < 400;
                Ok((response, settle(&issuer_state, hold, charge).await))
            }
        }
    });
    let (response, settled) = task
        .await
        .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the proxy task failed"))??;
    let receipt = settled?.map_err(|e| Problem::from_error(e, presented, realm, price))?;
    if receipt.cost > 0 {
        state.metrics.spends.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let successor = &receipt.children[0];
    let text = super::routes::encode(&successor.token);
    let outcome = if receipt.cost > 0 { "charged" } else { "not-charged" };
    Ok((from_upstream(response, Some((&text, Some(successor.balance), receipt.cost))), outcome))
}

/// Holds the token: verified here and reserved by the ledger's own writer when it has one
/// (no thread waits), else on a blocking thread.
async fn hold(
    state: &Arc<AppState>,
    token: crumb::Macaroon,
    discharges: Vec<crumb::Macaroon>,
    ctx: crumb::Context,
    request_id: String,
    ttl: Duration,
) -> Result<Result<Held, crumb::Error>, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let reply = Box::new(move |queued| {
        let _ = answer.send(queued);
    });
    state.issuer.hold_queued(token.clone(), discharges.clone(), &ctx, &request_id, ttl, reply);
    if let Ok(queued) = answered.await {
        return Ok(state.issuer.finish_hold(queued));
    }
    let worker = state.clone();
    super::routes::blocking(move || Ok(worker.issuer.hold(token, discharges, &ctx, &request_id, ttl)))
        .await
        .map_err(Problem::from)
}

/// Settles the hold: the record queued on the ledger's own writer when it has one, else on a
/// blocking thread.
async fn settle(
    state: &Arc<AppState>,
    hold: crumb::charge::Hold,
    charge: bool,
) -> Result<Result<Receipt, crumb::Error>, Problem> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let reply = Box::new(move |queued| {
        let _ = answer.send(queued);
    });
    match state.issuer.settle_queued(hold, charge, reply) {
        None => match answered.await {
            Ok(queued) => Ok(state.issuer.finish_settle(queued)),
            Err(_) => {
                Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "ledger-unavailable", "the ledger did not answer"))
            }
        },
        Some(hold) => {
            let worker = state.clone();
            super::routes::blocking(move || Ok(worker.issuer.settle(hold, charge))).await.map_err(Problem::from)
        }
    }
}

/// The upstream's answer for the client: its own hop-by-hop and `Crumb-*` headers removed,
/// and crumb's receipt headers (successor, balance, cost) set.
fn from_upstream(mut response: Response, receipt: Option<(&str, Option<u64>, u64)>) -> Response {
    let headers = response.headers_mut();
    strip_hop_by_hop(headers);
    strip_crumb(headers);
    if let Some((token, balance, cost)) = receipt {
        metering::set_receipt_headers(headers, token, balance, cost);
    }
    response
}

/// A retry of a request already settled: the recorded successor, without calling the
/// upstream again. The upstream's answer was not stored, so this is not a success.
fn already_answered(receipt: &Receipt) -> Response {
    let successor = &receipt.children[0];
    let mut problem = Problem::new(
        StatusCode::CONFLICT,
        "already-answered",
        "this request (same token, same Idempotency-Key) was answered before; the upstream was not called again \
         and its answer is not stored; the successor is in Crumb-Token",
    );
    problem.extra.insert("cost".into(), serde_json::json!(receipt.cost));
    problem.extra.insert("balance".into(), serde_json::json!(successor.balance));
    let mut response = problem.into_response();
    let text = super::routes::encode(&successor.token);
    metering::set_receipt_headers(response.headers_mut(), &text, Some(successor.balance), receipt.cost);
    response.headers_mut().insert("crumb-replayed", HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_are_plain_http_without_a_query() {
        let second = Duration::from_secs(1);
        let up = Upstream::new("http://127.0.0.1:9000/api/", Vec::new(), second, None).unwrap();
        assert_eq!(up.target("/v1/chat?x=1").unwrap().to_string(), "http://127.0.0.1:9000/api/v1/chat?x=1");
        let tls = Upstream::new("https://api.example.com/v1", Vec::new(), second, None).unwrap();
        assert_eq!(tls.target("/chat").unwrap().to_string(), "https://api.example.com/v1/chat");
        for bad in ["ftp://x", "127.0.0.1:9000", "http://x/?q=1", "not a url"] {
            assert!(Upstream::new(bad, Vec::new(), second, None).is_err(), "{bad}");
        }
        // A private CA: only for https, and only a file that holds a certificate.
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(Upstream::new("http://x", Vec::new(), second, Some(pem)).unwrap_err().contains("plain http"));
        assert!(Upstream::new("https://x", Vec::new(), second, Some(b"hello")).unwrap_err().contains("no certificate"));
    }

    #[test]
    fn hop_by_hop_and_crumb_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("crumb-token", HeaderValue::from_static("forged"));
        h.insert("crumb-balance", HeaderValue::from_static("999"));
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut h);
        strip_crumb(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("content-type"));
    }
}
