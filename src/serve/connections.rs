//! Accepting connections with bounds: how many, how long a client may take to send its
//! headers (or sit idle between requests), and how long shutdown waits for stragglers.
//!
//! axum's own `serve` has none of these, so a thousand half-open connections could make
//! `/healthz` unreachable and SIGTERM wait forever. Here each connection is served by hyper
//! with a header-read timeout (which also ends idle keep-alive connections: the timer runs
//! whenever the server waits for a request's head). At the connection cap, the oldest
//! connection with no request in flight is closed to make room (an idle or slow-header
//! client yields to a new one); if every connection is busy, the new one is refused. A request
//! stays in flight until its response body is written out, so a streamed answer (a proxied
//! event stream) is never taken for idle; a client that stops reading one is cut off after
//! the send timeout, so it cannot hold its connection busy for ever.
//! On shutdown every connection is asked to finish its request and close; after the grace
//! period the rest are dropped.

use super::stall::Stall;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// The bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// How long a write to the client may wait (the client not reading) before the
    /// connection is closed.
    pub send_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// One open connection, as the accept loop sees it.
struct Entry {
    /// Requests whose handler is running.
    busy: AtomicUsize,
    /// Closes the connection at once (eviction).
    evict: Notify,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Arc<Entry>>,
}

/// The open connections, oldest first (ids grow).
#[derive(Clone, Default)]
struct Tracker(Arc<Mutex<Table>>);

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection if there is room, evicting the oldest idle one at the cap.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Entry>)> {
        let mut table = self.lock();
        if table.open.len() >= max {
            let idle = table.open.iter().find(|(_, e)| e.busy.load(Ordering::Acquire) == 0).map(|(id, _)| *id)?;
            if let Some(evicted) = table.open.remove(&idle) {
                evicted.evict.notify_one();
            }
        }
        table.next_id += 1;
        let id = table.next_id;
        let entry = Arc::new(Entry { busy: AtomicUsize::new(0), evict: Notify::new() });
        table.open.insert(id, entry.clone());
        Some((id, entry))
    }

    fn remove(&self, id: u64) {
        self.lock().open.remove(&id);
    }
}

/// One request in flight on a connection, from its head until its response body is dropped
/// (written out, or abandoned with the connection).
struct InFlight(Arc<Entry>);

impl InFlight {
    fn start(entry: &Arc<Entry>) -> Self {
        entry.busy.fetch_add(1, Ordering::AcqRel);
        InFlight(entry.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight while it is being sent.
struct TrackedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A client socket whose writes fail once they have waited `limit` for the client to read:
/// hyper has no such timeout, and a request whose answer cannot be sent stays in flight.
struct SendDeadline<IO> {
    io: IO,
    stall: Stall,
}

impl<IO> SendDeadline<IO> {
    fn new(io: IO, limit: Duration) -> Self {
        SendDeadline { io, stall: Stall::new(limit) }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        self.stall.watch(cx, poll).map(|done| {
            done.unwrap_or_else(|| {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading its answer"))
            })
        })
    }
}

impl<IO: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for SendDeadline<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for SendDeadline<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Removes a connection from the table however its task ends.
struct Registered {
    tracker: Tracker,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.tracker.remove(self.id);
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes,
/// then drains within the grace.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<super::tls::Tls>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tracker = Tracker::default();
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors, say: pause rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let Some((id, entry)) = tracker.admit(limits.max_connections) else {
                    tracing::warn!(%peer, "connection refused: every connection is busy");
                    continue;
                };
                let registered = Registered { tracker: tracker.clone(), id };
                if tls.is_none() {
                    let _ = stream.set_nodelay(true);
                }
                let (router, stopping) = (router.clone(), stopping.clone());
                match &tls {
                    None => tasks.spawn(connection(stream, peer, router, entry, stopping, limits, registered)),
                    Some(tls) => {
                        let acceptor = tls.acceptor();
                        tasks.spawn(async move {
                            let _ = stream.set_nodelay(true);
                            // The handshake is bounded like a request's head: a client that
                            // opens and stalls holds a connection for no longer.
                            match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                                Ok(Ok(stream)) => {
                                    connection(stream, peer, router, entry, stopping, limits, registered).await
                                }
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        })
                    }
                };
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let grace = tokio::time::sleep(limits.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => {
                tracing::warn!(left = tasks.len(), "shutdown grace period over: closing the remaining connections");
                tasks.abort_all();
                break;
            }
            next = tasks.join_next() => if next.is_none() { break },
        }
    }
    Ok(())
}

async fn connection<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static>(
    stream: IO,
    peer: SocketAddr,
    router: Router,
    entry: Arc<Entry>,
    mut stopping: watch::Receiver<bool>,
    limits: Limits,
    _registered: Registered,
) {
    let counter = entry.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        let counter = counter.clone();
        async move {
            let in_flight = InFlight::start(&counter);
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.oneshot(request.map(axum::body::Body::new)).await?;
            Ok::<_, std::convert::Infallible>(response.map(|inner| TrackedBody { inner, _in_flight: in_flight }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(512 * 1024);
    let conn = builder.serve_connection(TokioIo::new(SendDeadline::new(stream, limits.send_timeout)), service);
    tokio::pin!(conn);
    if *stopping.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = entry.evict.notified() => {}
        _ = stopping.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
