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
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let seen = Arc::new(Seen::default());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let seen = state.clone();
            async move { answer(&seen, req).await }
        });
        runtime.spawn(async move { axum::serve(listener, app).await });
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

async fn answer(seen: &Seen, req: Request) -> impl IntoResponse {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = req.method().to_string();
    *seen.last.lock().unwrap() = Some((method.clone(), path.clone(), req.headers().clone()));
    seen.count.fetch_add(1, Ordering::SeqCst);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    if path.starts_with("/slow") {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    if path.starts_with("/hang") {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    let status = if path.starts_with("/fail") { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let text = format!("{method} {path} {}", String::from_utf8_lossy(&body));
    (status, [("crumb-token", "forged-by-upstream"), ("crumb-balance", "1000000")], text)
}
