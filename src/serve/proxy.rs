//! The metering reverse proxy (`crumb serve --upstream URL`): every request is priced,
//! its token verified and held, the request streamed to the upstream, and the charge decided
//! by the upstream's status — below 400 the successor carries the balance less the price, at
//! 400 and above the same balance. Either way the response carries the successor in
//! `Crumb-Token`, so the client always holds the newest token.
//!
//! The token is held (not spent) while the upstream works: a second use of it meanwhile is
//! refused `in-flight`. What crumb forwards is the request's canonical target (see
//! [`crumb::target`]), the one it priced and checked.
//!
//! Whatever a request starts in the ledger is finished or released, whatever happens to the
//! client: the hold, the upstream call and the settle run in a task of their own. A client
//! that hangs up before its request is forwarded gets its hold released; after, the settle
//! still happens. Only a request that never reached the upstream (it could not be connected
//! to) is released uncharged. One that reached it and got no answer in time (a timeout, a
//! connection cut mid-answer) is charged as served: the upstream may have done the work, and a
//! token that can pay once must not buy unlimited upstream work by timing out.
//!
//! `Crumb-Recover: 1` asks, for a client that lost its answer, what became of a request
//! (same token, `Idempotency-Key`, method and target) without ever forwarding it: the recorded
//! successor if it was settled, `in-flight` while it is held, and if it was never recorded,
//! crumb closes that request now at no cost (so a late copy is answered from the ledger too).

use super::audit::Entry;
use super::facts::{self, Bearer};
use super::holds::{already_answered, hold, recovered_unpaid, recovering, release, settle};
use super::metering::{self, Charge, Problem};
use super::stall::Stall;
use super::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use crumb::charge::Held;
use crumb::target::Target;
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
    /// Headers the operator injects (`--upstream-header`), values already expanded; replaced
    /// whole on a reload.
    headers: arc_swap::ArcSwap<Vec<(HeaderName, HeaderValue)>>,
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
    /// Puts new injected headers in force (a reload): requests sent from now on carry them.
    pub fn set_headers(&self, headers: Vec<(HeaderName, HeaderValue)>) {
        self.headers.store(Arc::new(headers));
    }

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
            headers: arc_swap::ArcSwap::from_pointee(headers),
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

    /// Sends the client's request on as `target` (its canonical form), without its
    /// credentials, crumb's headers or any forwarding metadata the client wrote, with crumb's
    /// own forwarding headers and the operator's headers added; waits for the answer's head
    /// within the timeout.
    async fn send(&self, request: Request, target: &Target, client_ip: IpAddr, host: Option<&str>) -> Sent {
        let (mut parts, body) = request.into_parts();
        let uri = match self.target(&target.path_and_query()) {
            Ok(uri) => uri,
            Err(problem) => return Sent::NotDelivered(problem),
        };
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        strip_crumb(headers);
        strip_forwarding(headers);
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::PROXY_AUTHORIZATION);
        // crumb's: with a spent token and its key, whoever held them could collect the change.
        headers.remove("idempotency-key");
        headers.remove(header::HOST);
        set_forwarding(headers, client_ip, host);
        for (name, value) in self.headers.load().iter() {
            headers.insert(name.clone(), value.clone());
        }
        parts.uri = uri;
        parts.method = axum::http::Method::from_bytes(target.method().as_str().as_bytes()).expect("a known method");
        parts.version = axum::http::Version::HTTP_11;
        let outgoing = axum::http::Request::from_parts(parts, body);
        match tokio::time::timeout(self.timeout, self.client.request(outgoing)).await {
            Ok(Ok(response)) => Sent::Answered(response.map(|body| Body::new(Paced::new(body, self.timeout)))),
            Ok(Err(e)) if e.is_connect() => {
                tracing::warn!(upstream = %self.authority, error = %e, "upstream not reached");
                Sent::NotDelivered(Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream-unavailable",
                    "the upstream could not be reached; nothing was charged",
                ))
            }
            Ok(Err(e)) => {
                tracing::warn!(upstream = %self.authority, error = %e, "upstream failed after the request was sent");
                Sent::Lost(Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream-failed",
                    "the upstream failed after the request was sent to it; it may have served it, so it was charged",
                ))
            }
            Err(_) => Sent::Lost(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "the upstream did not answer in time; it may have served the request, so it was charged",
            )),
        }
    }
}

/// What became of a request sent to the upstream.
enum Sent {
    /// The answer's head arrived.
    Answered(Response),
    /// It never reached the upstream (no connection could be made): nothing to charge.
    NotDelivered(Problem),
    /// It reached the upstream, or may have, and no answer came: charged as served.
    Lost(Problem),
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

/// Forwarding metadata a client may have written about itself (its address, the host or
/// scheme it used, the path or method it "really" meant): the upstream trusts crumb as its only
/// peer, so none of it passes; crumb sets its own ([`set_forwarding`]).
const FORWARDING: &[&str] = &[
    "forwarded",
    "forwarded-for",
    "x-forwarded",
    "via",
    "x-host",
    "x-scheme",
    "x-url-scheme",
    "front-end-https",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "x-azure-clientip",
    "x-azure-socketip",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "client-ip",
    "x-proxyuser-ip",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Header name prefixes that are forwarding metadata as a family.
const FORWARDING_PREFIXES: &[&str] = &["x-forwarded-", "x-original-", "x-envoy-"];

/// Words that make a header name forwarding metadata wherever they stand in it: the vendors'
/// many spellings of "the client's address" (`Proxy-Client-IP`, `WL-Proxy-Client-IP`,
/// `Fly-Client-IP`, `CF-Connecting-IPv6`, `X-Appengine-User-IP`, `CloudFront-Viewer-Address`…).
const FORWARDING_WORDS: &[&str] = &[
    "forwarded",
    "client-ip",
    "clientip",
    "real-ip",
    "remote-addr",
    "remote-ip",
    "connecting-ip",
    "originating-ip",
    "user-ip",
    "viewer-address",
    "socketip",
];

/// Removes forwarding metadata, and every header whose name has a `_`: servers that map
/// names to CGI-style variables (`HTTP_X_FORWARDED_FOR`) would read `X_Forwarded_For` as
/// `X-Forwarded-For` (nginx drops such names by default for the same reason).
fn strip_forwarding(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            n.contains('_')
                || FORWARDING.contains(&n)
                || FORWARDING_PREFIXES.iter().any(|p| n.starts_with(p))
                || FORWARDING_WORDS.iter().any(|w| n.contains(w))
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// crumb's own forwarding headers: the client's address as crumb determined it, the scheme,
/// and the host the client asked for (when it named one), both as `X-Forwarded-*` and as
/// RFC 7239 `Forwarded`.
fn set_forwarding(headers: &mut HeaderMap, client_ip: IpAddr, host: Option<&str>) {
    let ip = client_ip.to_string();
    headers.insert("x-forwarded-for", HeaderValue::from_str(&ip).expect("an address is ASCII"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    let node = if client_ip.is_ipv6() { format!("\"[{ip}]\"") } else { ip };
    let mut forwarded = format!("for={node};proto=http");
    if let Some(host) = host.filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')) {
        if let Ok(v) = HeaderValue::from_str(host) {
            headers.insert("x-forwarded-host", v);
            forwarded.push_str(&format!(";host=\"{host}\""));
        }
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(header::FORWARDED, v);
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

async fn handle(state: Arc<AppState>, peer: SocketAddr, mut req: Request) -> Result<Response, Problem> {
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    // A body coded for transfer in any way but chunked (which hyper undoes) would reach the
    // upstream still coded, and re-framed as plain chunked: refused, not passed on as
    // something else.
    let coding = super::facts::single_header(req.headers(), "transfer-encoding", "bad-request")?;
    if coding.is_some_and(|c| !c.trim().eq_ignore_ascii_case("chunked")) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "a Transfer-Encoding other than chunked is not supported: send the body plain or chunked",
        ));
    }
    let host = host_of(&req)?;
    // crumb's reserved prefix is never the upstream's, whatever a price rule says (checked
    // before pricing: no rule answers for it) and however the path was spelled
    // (`/.well-known/crumb/v1/%76erify` is not routed by its raw form).
    let reserved =
        Target::parse(req.method().as_str(), origin_form(req.uri())?).is_ok_and(|t| super::is_reserved(t.path()));
    if reserved {
        return Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "no such crumb route"));
    }
    let metered = state.pricing().meter(req.method().as_str(), origin_form(req.uri())?, host.as_deref())?;
    let client_ip = facts::client_ip(&state, req.headers(), peer)?;
    let recover = recovering(req.headers())?;
    let described = metered.described();
    let price = match metered.charge {
        Charge::Free if recover => return Ok(recovered_unpaid(None, StatusCode::CONFLICT)),
        Charge::Free => {
            return match upstream.send(req, &metered.target, client_ip, host.as_deref()).await {
                Sent::Answered(response) => Ok(from_upstream(response, None)),
                Sent::NotDelivered(problem) | Sent::Lost(problem) => Err(problem),
            };
        }
        Charge::Price(price) => price,
    };
    let realm = &state.pricing().realm;
    let bearer = facts::bearer(req.headers(), &metered, realm)?;
    let ctx = facts::metered_context(&state, &metered, req.headers(), peer)?;
    let nonce = bearer.presented.token.token_id().map(|id| id.nonce.to_string());
    // A metered answer's successor comes after its body (trailers, a last event) and always to
    // a `Crumb-Recover` probe with the request's Idempotency-Key: a client that sent none gets
    // one made here, named in the answer's head, so it can always recover its successor (a
    // plain client ignores trailers, and proxies in front may drop them).
    if metered.usage.is_some() {
        // A compressed body cannot be read for its usage (it would be charged the hold):
        // ask the upstream for the body as it is.
        req.headers_mut().insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    let mut made_key = None;
    if price > 0 && metered.usage.is_some() && !recover && !req.headers().contains_key("idempotency-key") {
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random)
            .map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the random source failed"))?;
        let key = format!("crumb-{}", hex::encode(random));
        let value = HeaderValue::from_str(&key).expect("hex is a header value");
        req.headers_mut().insert("idempotency-key", value.clone());
        made_key = Some(value);
    }
    let answer = if price == 0 {
        let answer = verified(&state, req, &metered, client_ip, host, &bearer, ctx, recover).await;
        let outcome = match &answer {
            Ok((_, outcome)) => outcome,
            Err(problem) => problem.code,
        };
        state.audit(Entry {
            route: "proxy",
            request: Some(&described),
            nonce,
            outcome,
            cost: Some(0),
            request_id: None,
        });
        answer
    } else {
        let request_id = facts::request_id(&state, req.headers(), &bearer, &metered)?;
        let exchange =
            Exchange { req, target: metered.target.clone(), client_ip, host, recover, usage: metered.usage.clone() };
        let logged = Logged { described, nonce, price };
        paid(&state, exchange, &bearer, ctx, request_id, logged).await
    };
    answer.map(|(mut response, _)| {
        if let Some(key) = made_key {
            response.headers_mut().insert("idempotency-key", key);
        }
        response
    })
}

/// The request target in origin form (`/path?query`). An absolute-form target (`GET
/// http://host/path`) is for forward proxies, and which host it names is ambiguous: refused.
fn origin_form(uri: &Uri) -> Result<&str, Problem> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "bad-path", "send the path alone (origin form), not a URL"));
    }
    Ok(uri.path_and_query().map_or("/", |p| p.as_str()))
}

/// The one `Host` the client named, if any; two are ambiguous and refused.
fn host_of(req: &Request) -> Result<Option<String>, Problem> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next().map(|h| h.to_str().map(str::to_owned));
    if hosts.next().is_some() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "bad-host", "more than one Host header"));
    }
    host.transpose().map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "bad-host", "the Host header is not ASCII"))
}

/// A route priced 0: free but not open. The token must verify (signature, caveats, standing);
/// it is not consumed, so it comes back unchanged.
#[allow(clippy::too_many_arguments)]
async fn verified(
    state: &Arc<AppState>,
    req: Request,
    metered: &metering::Metered,
    client_ip: IpAddr,
    host: Option<String>,
    bearer: &Bearer,
    ctx: crumb::Context,
    recover: bool,
) -> Result<(Response, &'static str), Problem> {
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    let started = std::time::Instant::now();
    let balance = metering::verify_only(state, bearer, ctx).await;
    super::record_step("verify_ms", started.elapsed());
    let balance = balance?;
    if recover {
        return Ok((recovered_unpaid(Some((&bearer.text, balance)), StatusCode::CONFLICT), "recovered"));
    }
    let started = std::time::Instant::now();
    let sent = upstream.send(req, &metered.target, client_ip, host.as_deref()).await;
    super::record_step("upstream_ms", started.elapsed());
    match sent {
        Sent::Answered(response) => Ok((from_upstream(response, Some((&bearer.text, balance, 0))), "allowed")),
        Sent::NotDelivered(problem) | Sent::Lost(problem) => Err(problem),
    }
}

/// A paid request, as it goes to the upstream.
struct Exchange {
    req: Request,
    target: Target,
    client_ip: IpAddr,
    host: Option<String>,
    recover: bool,
    /// An `upto` route: what its answer says it used decides the charge.
    usage: Option<crumb::usage::Metering>,
}

/// What the audit log says of a paid request.
struct Logged {
    described: String,
    nonce: Option<String>,
    price: u64,
}

/// A paid route: hold the token, call the upstream, settle by its status, and write the audit
/// entry. All of it runs in a task of its own, so a client that hangs up cannot leave a hold
/// or a charge half made, nor a charge the audit log does not show.
async fn paid(
    state: &Arc<AppState>,
    exchange: Exchange,
    bearer: &Bearer,
    ctx: crumb::Context,
    request_id: String,
    logged: Logged,
) -> Result<(Response, &'static str), Problem> {
    // Closed when this request's future is dropped (its client went away).
    let (_client, gone) = tokio::sync::oneshot::channel::<()>();
    // The task keeps the request's span and id: its log lines and audit entries are the
    // request's.
    use tracing::Instrument;
    let (state, bearer) = (state.clone(), bearer.clone());
    let work = async move {
        let answer = charge(state.clone(), exchange, bearer, ctx, request_id.clone(), gone).await;
        let outcome = match &answer {
            Ok((_, outcome)) => outcome,
            Err(problem) => problem.code,
        };
        state.audit(Entry {
            route: "proxy",
            request: Some(&logged.described),
            nonce: logged.nonce,
            outcome,
            cost: Some(logged.price),
            request_id: Some(&request_id),
        });
        answer
    }
    .instrument(tracing::Span::current());
    let task = match super::request_id::current() {
        Some(id) => tokio::spawn(super::request_id::CURRENT.scope(id, work)),
        None => tokio::spawn(work),
    };
    task.await.map_err(|_| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the proxy task failed"))?
}

async fn charge(
    state: Arc<AppState>,
    exchange: Exchange,
    bearer: Bearer,
    ctx: crumb::Context,
    request_id: String,
    mut gone: tokio::sync::oneshot::Receiver<()>,
) -> Result<(Response, &'static str), Problem> {
    let price = ctx.cost;
    let refused = |e| Problem::from_error(e, &bearer, &state.pricing().realm, price);
    let upstream = state.upstream.as_ref().expect("the proxy is routed only with an upstream");
    if exchange.recover {
        return super::holds::recover(&state, &bearer, ctx, request_id, upstream.hold_ttl(), StatusCode::CONFLICT)
            .await;
    }
    let presented = bearer.presented.clone();
    let logged_id = request_id.clone();
    let started = std::time::Instant::now();
    let held = hold(&state, presented, ctx, request_id, upstream.hold_ttl()).await;
    let mut in_ledger = started.elapsed();
    super::record_step("ledger_ms", in_ledger);
    let hold = match held.map_err(refused)? {
        Held::Fresh(hold) => hold,
        Held::Answered(receipt) => return Ok((already_answered(&receipt, StatusCode::CONFLICT), "replayed")),
    };
    if !matches!(gone.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Empty)) {
        // The client hung up while its token was being held: nothing was forwarded.
        release(&state, hold).await;
        return Err(Problem::new(StatusCode::BAD_REQUEST, "client-gone", "the client went away"));
    }
    let Exchange { req, target, client_ip, host, usage, .. } = exchange;
    let started = std::time::Instant::now();
    let sent = upstream.send(req, &target, client_ip, host.as_deref()).await;
    super::record_step("upstream_ms", started.elapsed());
    let (response, lost) = match sent {
        Sent::NotDelivered(problem) => {
            release(&state, hold).await;
            return Err(problem);
        }
        Sent::Lost(problem) => (problem.into_response(), true),
        Sent::Answered(response) => (response, false),
    };
    let served = lost || response.status().as_u16() < 400;
    let cost = match (served, &usage) {
        (false, _) => 0,
        (true, None) => hold.price(),
        (true, Some(_)) if lost => hold.price(),
        (true, Some(metering)) => {
            let said =
                crumb::usage::crumb_charge(response.headers().get_all("crumb-charge").iter().map(|v| v.as_bytes()));
            let kind = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(crumb::usage::BodyKind::of);
            match (said, kind) {
                // The upstream says what to charge (a malformed header charges the hold).
                (Some(charge), _) => charge.map_or(hold.price(), |n| n.min(hold.price())),
                // The body will say: settle once it has passed.
                (None, Some(kind)) if !metering.rates.is_empty() => {
                    let deadline = upstream.hold_ttl().saturating_sub(Duration::from_secs(10));
                    let response = from_upstream(response, None);
                    let logged = super::usage::Logged {
                        request: format!("{} {}", target.method(), target.path()),
                        nonce: bearer.presented.token.token_id().map(|id| id.nonce.to_string()),
                        request_id: logged_id,
                    };
                    let response =
                        super::usage::defer(&state, hold, metering.clone(), kind, response, deadline, logged);
                    return Ok((response, "held"));
                }
                (None, _) => hold.price(),
            }
        }
    };
    let started = std::time::Instant::now();
    let settled = settle(&state, hold, cost).await;
    in_ledger += started.elapsed();
    super::record_step("ledger_ms", in_ledger);
    let receipt = settled.map_err(refused)?;
    if receipt.cost > 0 {
        state.metrics.spends.inc();
        state.metrics.credits_charged.inc_by(receipt.cost);
    }
    let successor = &receipt.children[0];
    let text = super::routes::encode(&successor.token);
    let outcome = match (lost, receipt.cost > 0) {
        (true, _) => "charged-unanswered",
        (false, true) => "charged",
        (false, false) => "not-charged",
    };
    let receipt = Some((text.as_str(), Some(successor.balance), receipt.cost));
    if lost {
        // crumb's own problem: only the receipt is added (its Crumb-Error stays).
        let mut response = response;
        metering::set_receipt_headers(
            response.headers_mut(),
            &text,
            Some(successor.balance),
            receipt.map_or(0, |r| r.2),
        );
        return Ok((response, outcome));
    }
    Ok((from_upstream(response, receipt), outcome))
}

/// The upstream's answer for the client: its own hop-by-hop and `Crumb-*` headers removed,
/// and crumb's receipt headers (successor, balance, cost) set.
fn from_upstream(mut response: Response, receipt: Option<(&str, Option<u64>, u64)>) -> Response {
    let headers = response.headers_mut();
    strip_hop_by_hop(headers);
    strip_crumb(headers);
    // The key a request was recorded under is crumb's to name (or the client's own): an
    // upstream's would mislead a client recovering its successor.
    headers.remove("idempotency-key");
    if let Some((token, balance, cost)) = receipt {
        metering::set_receipt_headers(headers, token, balance, cost);
    }
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
