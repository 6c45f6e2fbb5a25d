//! The proxy's side of charging by measured usage (`upto` price rules; the rules themselves
//! are `crumb::usage`).
//!
//! When an `upto` route's answer does not say its charge in a `Crumb-Charge` header, its usage
//! is in its body, which streams to the client as it comes: the charge is known only once the
//! body has ended. The answer then goes out with `Crumb-Held: N` (what is held) instead of a
//! successor; the body passes through a [`Scanner`] that keeps a bounded part of it, and when
//! it ends a task of its own settles the hold at the measured charge. The successor is then
//! delivered three ways: in trailers (`Crumb-Token`, `Crumb-Balance`, `Crumb-Cost`), for an
//! event stream as a last event of crumb's own (`event: crumb-receipt`), and always to a
//! `Crumb-Recover` probe with the same Idempotency-Key (`crumb request` and the MCP wallet
//! use the probe; it answers `in-flight` until the settle is done).
//!
//! The charge rules: the usage measured, never more than the hold; no usage found, or a body
//! cut before it said (the upstream broke off, or the client hung up): the hold; cut after it
//! said (its usage event, or its complete top-level `usage` member, had passed): the usage;
//! an answer still streaming when the hold would lapse: the hold, settled then (the stream
//! goes on).
//!
//! In an event stream, the upstream's own `event: crumb-receipt` is renamed
//! `upstream-crumb-receipt` ([`ForeignReceipts`]): the only receipt event a client sees is
//! crumb's, after the upstream's last byte.

use super::holds::settle;
use super::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use crumb::charge::Hold;
use crumb::usage::{BodyKind, ForeignReceipts, Metering, Scanner, Usage};
use hyper::body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// The name of crumb's own last event in a metered event stream.
pub const RECEIPT_EVENT: &str = "crumb-receipt";

/// What the audit log says of the settle, once it is done: the request as the proxy logged
/// it when its answer began (`held`).
pub struct Logged {
    pub request: String,
    pub nonce: Option<String>,
    pub request_id: String,
}

/// What a settled charge gave: the successor's text, its balance and the cost.
type Settled = (String, u64, u64);

/// Settles `hold` once the body of `response` has said what it used (or at `deadline`, with
/// the hold), and returns the response with its body metered.
pub fn defer(
    state: &Arc<AppState>,
    hold: Hold,
    metering: Metering,
    kind: BodyKind,
    response: Response,
    deadline: Duration,
    logged: Logged,
) -> Response {
    let held = hold.price();
    let (usage_tx, usage_rx) = oneshot::channel::<Option<Usage>>();
    let (receipt_tx, receipt_rx) = oneshot::channel::<Option<Settled>>();
    let worker = state.clone();
    // The settle is logged under the request's id, though it ends after the answer began.
    let id = super::request_id::current().unwrap_or_default();
    tokio::spawn(super::request_id::CURRENT.scope(id, async move {
        let usage = match tokio::time::timeout(deadline, usage_rx).await {
            Ok(Ok(usage)) => usage,
            // The client hung up, or the answer outlasts the hold: the hold is charged.
            _ => None,
        };
        let cost = usage.map_or(held, |u| metering.credits(u).min(held));
        let settled = settle(&worker, hold, cost).await;
        let outcome = match &settled {
            Ok(r) if r.cost > 0 => "charged",
            Ok(_) => "not-charged",
            _ => "settle-failed",
        };
        worker.audit(super::audit::Entry {
            route: "proxy",
            request: Some(&logged.request),
            nonce: logged.nonce,
            outcome,
            cost: Some(cost),
            request_id: Some(&logged.request_id),
        });
        match settled {
            Ok(receipt) => {
                if receipt.cost > 0 {
                    worker.metrics.spends.inc();
                    worker.metrics.credits_charged.inc_by(receipt.cost);
                }
                let successor = &receipt.children[0];
                let text = super::routes::encode(&successor.token);
                let _ = receipt_tx.send(Some((text, successor.balance, receipt.cost)));
            }
            Err(e) => {
                tracing::warn!(
                    code = crumb::outcome::classify(&e).map_or("internal", |c| c.1),
                    "a metered answer's charge was refused or could not be settled"
                );
                let _ = receipt_tx.send(None);
            }
        }
    }));
    let (mut parts, body) = response.into_parts();
    let headers = &mut parts.headers;
    headers.insert("crumb-held", HeaderValue::from(held));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The body gains an event, or trailers: its length is no longer the upstream's.
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::TRAILER, HeaderValue::from_static("crumb-token, crumb-balance, crumb-cost"));
    let metered = Metered {
        inner: body,
        scanner: Some(Scanner::new(kind)),
        usage: Some(usage_tx),
        receipt: Some(receipt_rx),
        events: (kind == BodyKind::EventStream).then(ForeignReceipts::default),
        trailers: None,
    };
    Response::from_parts(parts, Body::new(metered))
}

/// An upstream answer's body on its way to the client, scanned for its usage.
struct Metered {
    inner: Body,
    scanner: Option<Scanner>,
    /// Taken when the body ends (or is cut): the usage goes to the settling task.
    usage: Option<oneshot::Sender<Option<Usage>>>,
    /// Waited for once the body has ended: the settled successor.
    receipt: Option<oneshot::Receiver<Option<Settled>>>,
    /// An event stream: the upstream's own receipt events renamed, and crumb's appended.
    events: Option<ForeignReceipts>,
    /// The trailers still to send.
    trailers: Option<HeaderMap>,
}

impl Metered {
    /// The body has ended, or broke off: hand over what it said it used.
    fn finish(&mut self) {
        if let (Some(scanner), Some(tx)) = (self.scanner.take(), self.usage.take()) {
            let _ = tx.send(scanner.finish());
        }
    }
}

/// A client that hangs up drops the body: what passed until then decides the charge (the
/// usage, if it had passed; else the hold).
impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

impl hyper::body::Body for Metered {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        loop {
            if this.usage.is_some() {
                match Pin::new(&mut this.inner).poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            if let Some(scanner) = &mut this.scanner {
                                scanner.feed(data);
                            }
                            let Some(events) = &mut this.events else { return Poll::Ready(Some(Ok(frame))) };
                            let passed = events.filter(data);
                            if passed.is_empty() {
                                continue;
                            }
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(passed)))));
                        }
                        // The upstream's own trailers are not passed on: crumb's take their place.
                        continue;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        this.finish();
                        this.receipt = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(None) => this.finish(),
                }
            }
            if let Some(rx) = &mut this.receipt {
                let settled = match Pin::new(rx).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(settled) => settled.ok().flatten(),
                };
                this.receipt = None;
                // The upstream's last bytes (held while they could spell a receipt field), and
                // the line ends that dispatch its last event before crumb's.
                let mut tail = this.events.as_mut().map(ForeignReceipts::closing).unwrap_or_default();
                if let Some((token, balance, cost)) = settled {
                    let mut trailers = HeaderMap::new();
                    super::metering::set_receipt_headers(&mut trailers, &token, Some(balance), cost);
                    trailers.remove(header::CACHE_CONTROL);
                    this.trailers = Some(trailers);
                    if this.events.is_some() {
                        let data = serde_json::json!({ "token": token, "balance": balance, "cost": cost });
                        tail.extend_from_slice(format!("event: {RECEIPT_EVENT}\ndata: {data}\n\n").as_bytes());
                    }
                }
                if !tail.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(tail)))));
                }
                continue;
            }
            return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.usage.is_none() && self.receipt.is_none() && self.trailers.is_none()
    }
}
