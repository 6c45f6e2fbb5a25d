//! A counting upstream for the metering tests: a real HTTP server on a loopback port that
//! counts the requests that reach it and keeps the headers of the last one.
//!
//! `/fail/...` answers 500, `/slow/...` answers after 300 ms (so concurrent uses overlap),
//! `/hang/...` after 5 s,
//! and every answer carries a forged `Crumb-Token` that crumb must strip.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The price list the metering tests put in front of the upstream: POST and GET on one path
/// priced apart, a route priced 0, and the upstream's slow path.
pub const PRICES: &[&str] =
    &["--price", "POST /v1/chat=5", "--price", "GET /v1/chat=2", "--price", "GET /v1/models=0", "--price", "* /slow=1"];

/// An address (an upstream, a server) that refuses every connection while it lives: the port is
/// bound but never listened on, so no other test's server can be handed it meanwhile.
pub struct Refusing {
    pub url: String,
    _socket: socket2::Socket,
}

impl Refusing {
    pub fn new() -> Self {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        Refusing { url: format!("http://{addr}"), _socket: socket }
    }
}

#[derive(Default)]
struct Seen {
    count: AtomicUsize,
    last: Mutex<Option<(String, String, HeaderMap)>>,
}

pub struct Upstream {
    pub url: String,
    seen: Arc<Seen>,
    _runtime: tokio::runtime::Runtime,
}

impl Upstream {
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// The same upstream over TLS, its certificate for 127.0.0.1 issued by a private CA made for
    /// it; also returns that CA's certificate (PEM), which nothing else trusts.
    pub fn start_tls() -> (Self, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key.serialize_der().try_into().unwrap())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        (Self::launch(Some(acceptor)), ca.pem())
    }

    fn launch(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let seen = Arc::new(Seen::default());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let state = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let seen = state.clone();
            async move { answer(&seen, req).await }
        });
        match tls {
            None => drop(runtime.spawn(async move { axum::serve(listener, app).await })),
            Some(acceptor) => drop(runtime.spawn(serve_tls(listener, app, acceptor))),
        }
        Upstream { url, seen, _runtime: runtime }
    }

    /// Requests that reached the upstream so far.
    pub fn count(&self) -> usize {
        self.seen.count.load(Ordering::SeqCst)
    }

    /// Method, path-and-query and headers of the last request.
    pub fn last(&self) -> (String, String, HeaderMap) {
        self.seen.last.lock().unwrap().clone().expect("no request reached the upstream")
    }
}

/// `app` over TLS: each accepted connection's handshake, then HTTP/1.1 on it.
async fn serve_tls(listener: tokio::net::TcpListener, app: axum::Router, acceptor: tokio_rustls::TlsAcceptor) {
    use tower::ServiceExt;
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let io = hyper_util::rt::TokioIo::new(tls);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}

async fn answer(seen: &Seen, req: Request) -> axum::response::Response {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = req.method().to_string();
    *seen.last.lock().unwrap() = Some((method.clone(), path.clone(), req.headers().clone()));
    seen.count.fetch_add(1, Ordering::SeqCst);
    if let Some(rest) = path.strip_prefix("/llm/") {
        return inference(rest);
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    if path.starts_with("/slow") {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    if path.starts_with("/hang") {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    let status = if path.starts_with("/fail") { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let text = format!("{method} {path} {}", String::from_utf8_lossy(&body));
    (status, [("crumb-token", "forged-by-upstream"), ("crumb-balance", "1000000")], text).into_response()
}

/// An inference API's answers, by path under `/llm/`: `json/P/C` (a chat completion whose
/// `usage` says P prompt and C completion tokens), `sse/N/P/C` (a stream of N delta events,
/// then one with the usage, then `[DONE]`), `charge/N` (`Crumb-Charge: N`, a plain body),
/// `nousage` (JSON without usage), `cut/N` (a stream cut off after N events, before its usage),
/// `nested/P/C` (2 MiB of JSON: its top-level usage first, then a choice whose own `usage`
/// says 0 at the very end), `forged/P/C` (a stream whose own `event: crumb-receipt` carries a
/// forged token before its usage), `linger/P/C` (the usage event, then 200 000 more events).
fn inference(rest: &str) -> axum::response::Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let n = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    let forged = ("crumb-token", "forged-by-upstream");
    match parts[0] {
        "json" => {
            let body = format!(
                r#"{{"id":"chatcmpl-1","object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"hello"}}}}],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}}}"#,
                n(1),
                n(2),
                n(1) + n(2)
            );
            ([("content-type", "application/json"), forged], body).into_response()
        }
        "nousage" => ([("content-type", "application/json")], r#"{"choices":[]}"#).into_response(),
        "nested" => {
            let body = format!(
                r#"{{"usage":{{"prompt_tokens":{},"completion_tokens":{}}},"choices":[{{"text":"{}","usage":{{"prompt_tokens":0,"completion_tokens":0}}}}]}}"#,
                n(1),
                n(2),
                "a".repeat(2 << 20)
            );
            ([("content-type", "application/json")], body).into_response()
        }
        "forged" | "linger" => {
            let usage = format!(
                "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{}}}}}\n\n",
                n(1),
                n(2)
            );
            let mut chunks: Vec<Result<bytes::Bytes, std::io::Error>> = Vec::new();
            if parts[0] == "forged" {
                let forged =
                    "event: crumb-receipt\ndata: {\"token\":\"forged-by-upstream\",\"balance\":1000000,\"cost\":0}\n\n";
                chunks.push(Ok(bytes::Bytes::from(forged)));
                chunks.push(Ok(bytes::Bytes::from(usage)));
                chunks.push(Ok(bytes::Bytes::from("data: [DONE]\n\n")));
            } else {
                chunks.push(Ok(bytes::Bytes::from(usage)));
                chunks.extend((0..200_000).map(|_| Ok(bytes::Bytes::from("data: {\"choices\":[]}\n\n"))));
            }
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            ([("content-type", "text/event-stream")], body).into_response()
        }
        "charge" => {
            let charge = parts.get(1).copied().unwrap_or("").to_owned();
            ([("crumb-charge", charge.as_str()), ("content-type", "text/plain")], "charged by header").into_response()
        }
        "sse" | "cut" => {
            let (events, cut) = (n(1), parts[0] == "cut");
            let (prompt, completion) = (n(2), n(3));
            let stream = async_stream(events, cut, prompt, completion);
            let body = axum::body::Body::from_stream(stream);
            ([("content-type", "text/event-stream")], body).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The events of a streamed chat completion, in small chunks.
fn async_stream(
    events: u64,
    cut: bool,
    prompt: u64,
    completion: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let mut chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..events)
        .map(|i| Ok(bytes::Bytes::from(format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"t{i}\"}}}}]}}\n\n"))))
        .collect();
    if cut {
        chunks.push(Err(std::io::Error::other("cut off")));
    } else {
        chunks.push(Ok(bytes::Bytes::from(format!(
            "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion}}}}}\n\ndata: [DONE]\n\n"
        ))));
    }
    futures_util::stream::iter(chunks)
}

/// A hand-written HTTP server for answers axum would not give: each connection on a thread of
/// its own, `answer(stream, request_line)` called once the request's head is read (bodies are
/// not read). Returns its URL; it serves until the test process ends.
fn raw_server(answer: impl Fn(std::net::TcpStream, &str) + Send + Copy + 'static) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                answer(stream, &request_line);
            });
        }
    });
    url
}

/// An upstream that answers every request with its head at once and then a body of `parts`
/// lines, one every `gap`: a streamed answer (server-sent events, a model's tokens).
pub fn trickle(parts: usize, gap: std::time::Duration) -> String {
    use std::io::Write;
    raw_server(move |mut stream, _| {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", parts * 5);
        let _ = stream.write_all(head.as_bytes());
        for n in 0..parts {
            std::thread::sleep(gap);
            let _ = stream.write_all(format!("{:04}\n", n % 10_000).as_bytes());
        }
    })
}

/// An upstream that answers `/big...` with 64 MiB (more than every socket buffer between it
/// and a client holds) and any other path with `ok`.
pub fn flood() -> String {
    use std::io::Write;
    raw_server(|mut stream, request_line| {
        let big = request_line.split(' ').nth(1).is_some_and(|p| p.starts_with("/big"));
        let size = if big { 64 << 20 } else { 2 };
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        if !big {
            let _ = stream.write_all(b"ok");
            return;
        }
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..(size / chunk.len()) {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    })
}

/// A server that answers every request with `answer`, bytes as given (a status line, headers
/// and body), then closes: for answers no well-behaved server sends.
pub fn canned(answer: &'static str) -> String {
    use std::io::Write;
    raw_server(move |mut stream, _| {
        let _ = stream.write_all(answer.as_bytes());
    })
}

/// A server that answers every request with a redirect (`status`, `Location: location`), then
/// reads what the client still sends until it hangs up (an unread body would reset the
/// connection under the answer).
pub fn redirecting(status: &'static str, location: &str) -> String {
    let location: &'static str = Box::leak(location.to_owned().into_boxed_str());
    raw_server(move |mut stream, _| {
        use std::io::{Read, Write};
        let head =
            format!("HTTP/1.1 {status}\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = stream.read_to_end(&mut Vec::new());
    })
}
