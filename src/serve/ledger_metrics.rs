//! A ledger measured: every operation of the backend under it timed
//! (`crumb_ledger_operation_duration_seconds{backend,operation}`) and every failure counted
//! (`crumb_ledger_errors_total{backend}`). It forwards each call as it is, default methods
//! included, so the backend's own behaviour (SQLite's one-transaction commit, its group
//! commit's queue) is what runs.

use crumb::ledger::{
    Commit, CommitDone, CommitOutcome, DelegationRevoke, GaveBack, GiveBack, Ledger, LedgerError, Lineage, LiveRevoke,
    Reservation, ReserveDone, Reserved, Scope, Status, Ticket, TokenInfo, TopUp, ToppedUp, Window,
};
use crumb::token::identifier::Nonce;
use prometheus::{Histogram, HistogramVec, IntCounter};
use std::sync::Arc;
use std::time::Instant;

/// A queued operation's callback (the shape of [`CommitDone`] and [`ReserveDone`]).
type Done<T> = Box<dyn FnOnce(Result<T, LedgerError>) + Send>;

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

    /// Times `f` as `operation`, counting a failure.
    fn time<T>(&self, operation: &str, f: impl FnOnce() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let started = Instant::now();
        let result = f();
        self.histogram(operation).observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// Queues through `enqueue`, `done` wrapped to time the operation from now until the
    /// backend answers. A backend that hands `done` back unused (it has no writer of its own)
    /// leaves the timing to the blocking call the caller makes instead, so it is not counted
    /// twice.
    fn queued<T: 'static>(
        &self,
        operation: &str,
        done: Done<T>,
        enqueue: impl FnOnce(Done<T>) -> Option<Done<T>>,
    ) -> Option<Done<T>> {
        let (histogram, errors, started) = (self.histogram(operation).clone(), self.errors.clone(), Instant::now());
        let handed_back = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = handed_back.clone();
        let timed: Done<T> = Box::new(move |result| {
            if !seen.load(std::sync::atomic::Ordering::Acquire) {
                histogram.observe(started.elapsed().as_secs_f64());
                if result.is_err() {
                    errors.inc();
                }
            }
            done(result)
        });
        let back = enqueue(timed);
        if back.is_some() {
            handed_back.store(true, std::sync::atomic::Ordering::Release);
        }
        back
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
    fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError> {
        self.handles.0.time("status", || self.inner.status(nonce))
    }
    fn ready(&self) -> Result<(), LedgerError> {
        self.handles.0.time("ready", || self.inner.ready())
    }
    fn reserve(&self, reservation: &Reservation) -> Result<Reserved, LedgerError> {
        self.handles.0.time("reserve", || self.inner.reserve(reservation))
    }
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Result<CommitOutcome, LedgerError> {
        self.handles.0.time("settle", || self.inner.settle(ticket, commit))
    }
    fn release(&self, ticket: &Ticket) -> Result<(), LedgerError> {
        self.handles.0.time("release", || self.inner.release(ticket))
    }
    fn enqueue_commit(&self, reservation: &Reservation, commit: &Commit, done: CommitDone) -> Option<CommitDone> {
        self.handles.0.queued("commit", done, |timed| self.inner.enqueue_commit(reservation, commit, timed))
    }
    fn enqueue_reserve(&self, reservation: &Reservation, done: ReserveDone) -> Option<ReserveDone> {
        self.handles.0.queued("reserve", done, |timed| self.inner.enqueue_reserve(reservation, timed))
    }
    fn enqueue_settle(&self, ticket: &Ticket, commit: &Commit, done: CommitDone) -> Option<CommitDone> {
        self.handles.0.queued("settle", done, |timed| self.inner.enqueue_settle(ticket, commit, timed))
    }
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Result<CommitOutcome, LedgerError> {
        self.handles.0.time("commit", || self.inner.commit(reservation, commit))
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError> {
        self.handles.0.time("revoke", || self.inner.revoke(nonce, cascade, at))
    }
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError> {
        self.handles.0.time("revoke", || self.inner.revoke_if_live(nonce, at))
    }
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError> {
        self.handles.0.time("lineage", || self.inner.lineage(nonce, max_nodes, scope))
    }
    fn info(&self, nonce: &Nonce) -> Result<TokenInfo, LedgerError> {
        self.handles.0.time("info", || self.inner.info(nonce))
    }
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Result<DelegationRevoke, LedgerError> {
        self.handles.0.time("revoke", || self.inner.revoke_delegation(holder, child, at))
    }
    fn give_back(&self, g: &GiveBack) -> Result<GaveBack, LedgerError> {
        self.handles.0.time("give_back", || self.inner.give_back(g))
    }
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Result<Vec<u64>, LedgerError> {
        self.handles.0.time("window_use", || self.inner.window_use(nonce, windows, now))
    }
    fn top_up(&self, t: &TopUp) -> Result<ToppedUp, LedgerError> {
        self.handles.0.time("top_up", || self.inner.top_up(t))
    }
}
