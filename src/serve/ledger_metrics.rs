//! A ledger measured: every operation of the backend under it timed
//! (`crumb_ledger_operation_duration_seconds{backend,operation}`) and every failure counted
//! (`crumb_ledger_errors_total{backend}`). It forwards each call as it is, so the backend's
//! own behaviour (SQLite's one-transaction commit, its group commit's queue) is what runs, and
//! times each from the call until the backend answers.

use crumb::ledger::{
    Commit, CommitOutcome, DelegationRevoke, GaveBack, GiveBack, Ledger, Lineage, LiveRevoke, Pending, Reservation,
    Reserved, Scope, Status, Ticket, TokenInfo, TopUp, ToppedUp, Window,
};
use crumb::token::identifier::Nonce;
use prometheus::{Histogram, HistogramVec, IntCounter};
use std::sync::Arc;
use std::time::Instant;

/// The operations timed, as labelled.
const OPERATIONS: &[&str] = &[
    "status",
    "ready",
    "reserve",
    "settle",
    "release",
    "commit",
    "revoke",
    "lineage",
    "info",
    "give_back",
    "window_use",
    "top_up",
];

/// One backend's handles, made once.
#[derive(Clone)]
pub struct Handles {
    operations: Arc<Vec<Histogram>>,
    errors: IntCounter,
}

impl Handles {
    pub fn new(backend: &str, operations: &HistogramVec, errors: IntCounter) -> Self {
        let operations = OPERATIONS.iter().map(|op| operations.with_label_values(&[backend, op])).collect();
        Handles { operations: Arc::new(operations), errors }
    }

    fn histogram(&self, operation: &str) -> &Histogram {
        let at = OPERATIONS.iter().position(|o| *o == operation).expect("a timed operation");
        &self.operations[at]
    }

    /// Times `pending` as `operation`, from now until the backend answers, counting a
    /// failure. An answer nobody waits for any more is not timed.
    fn time<T: Send + 'static>(&self, operation: &str, pending: Pending<T>) -> Pending<T> {
        let (histogram, errors, started) = (self.histogram(operation).clone(), self.errors.clone(), Instant::now());
        Pending::from_future(async move {
            let answer = pending.await;
            histogram.observe(started.elapsed().as_secs_f64());
            if answer.is_err() {
                errors.inc();
            }
            answer
        })
    }
}

/// `inner`, measured.
#[derive(Debug)]
pub struct Measured {
    inner: Arc<dyn Ledger>,
    handles: HandlesDebug,
}

/// [`Handles`] in a [`Measured`] (Debug without the metrics).
struct HandlesDebug(Handles);

impl std::fmt::Debug for HandlesDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handles")
    }
}

impl Measured {
    pub fn new(inner: Arc<dyn Ledger>, handles: Handles) -> Self {
        Measured { inner, handles: HandlesDebug(handles) }
    }
}

impl Ledger for Measured {
    fn location(&self) -> &str {
        self.inner.location()
    }
    fn status(&self, nonce: &Nonce) -> Pending<Status> {
        self.handles.0.time("status", self.inner.status(nonce))
    }
    fn ready(&self) -> Pending<()> {
        self.handles.0.time("ready", self.inner.ready())
    }
    fn reserve(&self, reservation: &Reservation) -> Pending<Reserved> {
        self.handles.0.time("reserve", self.inner.reserve(reservation))
    }
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Pending<CommitOutcome> {
        self.handles.0.time("settle", self.inner.settle(ticket, commit))
    }
    fn release(&self, ticket: &Ticket) -> Pending<()> {
        self.handles.0.time("release", self.inner.release(ticket))
    }
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Pending<CommitOutcome> {
        self.handles.0.time("commit", self.inner.commit(reservation, commit))
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Pending<Vec<Nonce>> {
        self.handles.0.time("revoke", self.inner.revoke(nonce, cascade, at))
    }
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Pending<LiveRevoke> {
        self.handles.0.time("revoke", self.inner.revoke_if_live(nonce, at))
    }
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Pending<Lineage> {
        self.handles.0.time("lineage", self.inner.lineage(nonce, max_nodes, scope))
    }
    fn info(&self, nonce: &Nonce) -> Pending<TokenInfo> {
        self.handles.0.time("info", self.inner.info(nonce))
    }
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Pending<bool> {
        self.handles.0.time("record_lapsed", self.inner.record_lapsed(nonce, now))
    }
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Pending<DelegationRevoke> {
        self.handles.0.time("revoke", self.inner.revoke_delegation(holder, child, at))
    }
    fn give_back(&self, g: &GiveBack) -> Pending<GaveBack> {
        self.handles.0.time("give_back", self.inner.give_back(g))
    }
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Pending<Vec<u64>> {
        self.handles.0.time("window_use", self.inner.window_use(nonce, windows, now))
    }
    fn top_up(&self, t: &TopUp) -> Pending<ToppedUp> {
        self.handles.0.time("top_up", self.inner.top_up(t))
    }
}
