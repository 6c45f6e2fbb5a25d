//! A backend whose driver blocks (a synchronous Redis or database client) runs as a
//! [`Ledger`] on threads of its own: it implements [`BlockingLedger`], the port's operations as
//! plain calls, and [`Threaded`] runs each call on one of its worker threads and fulfils the
//! call's [`Pending`]. Async callers then never block a runtime thread on a network round trip,
//! and the backend keeps writing straight-line code.

use super::{
    Commit, CommitOutcome, Completer, DelegationRevoke, GaveBack, GiveBack, Ledger, LedgerError, Lineage, LiveRevoke,
    Pending, Reservation, Reserved, Scope, Status, Ticket, TokenInfo, TopUp, ToppedUp, Window,
};
use crate::token::identifier::Nonce;
use std::sync::{mpsc, Arc, Mutex};

/// The operations of [`Ledger`], as blocking calls (see [`Ledger`] for what each does).
pub trait BlockingLedger: Send + Sync + std::fmt::Debug {
    fn location(&self) -> &str;
    fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError>;
    /// By default, a release of a hold no token has: a write transaction that changes nothing.
    fn ready(&self) -> Result<(), LedgerError> {
        self.release(&Ticket::issue(Nonce([0; 16]))?)
    }
    fn reserve(&self, reservation: &Reservation) -> Result<Reserved, LedgerError>;
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Result<CommitOutcome, LedgerError>;
    fn release(&self, ticket: &Ticket) -> Result<(), LedgerError>;
    /// By default a reserve then a settle (two transactions); a backend may do both in one.
    /// A settle that wrote nothing (credit owed changed, a failure) gives the hold back: the
    /// caller asks again.
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Result<CommitOutcome, LedgerError> {
        match self.reserve(reservation)? {
            Reserved::Held(ticket) => {
                let settled = self.settle(&ticket, commit);
                if !matches!(settled, Ok(CommitOutcome::Fresh)) {
                    let _ = self.release(&ticket);
                }
                settled
            }
            Reserved::Spent(spent) => Ok(CommitOutcome::AlreadySpent(spent)),
            Reserved::Revoked(at) => Ok(CommitOutcome::Revoked(at)),
            Reserved::InFlight => Ok(CommitOutcome::InFlight),
            Reserved::RateLimited(r) => Ok(CommitOutcome::RateLimited(r)),
        }
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError>;
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError>;
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError>;
    fn info(&self, nonce: &Nonce) -> Result<TokenInfo, LedgerError>;
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Result<bool, LedgerError>;
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Result<DelegationRevoke, LedgerError>;
    fn give_back(&self, g: &GiveBack) -> Result<GaveBack, LedgerError>;
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Result<Vec<u64>, LedgerError>;
    fn top_up(&self, t: &TopUp) -> Result<ToppedUp, LedgerError>;
}

type Job<B> = Box<dyn FnOnce(&B) + Send>;

/// A [`BlockingLedger`] on `threads` worker threads of its own. The workers stop when the
/// ledger is dropped (each finishes the call it is in).
pub struct Threaded<B> {
    backend: Arc<B>,
    jobs: mpsc::Sender<Job<B>>,
}

impl<B> std::fmt::Debug for Threaded<B>
where
    B: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.backend.fmt(f)
    }
}

impl<B: BlockingLedger + 'static> Threaded<B> {
    /// Starts `threads` workers (at least one) for `backend`: as many as the calls it should
    /// run at once (its connection pool's size).
    pub fn new(backend: B, threads: usize) -> Result<Self, LedgerError> {
        let backend = Arc::new(backend);
        let (jobs, queue) = mpsc::channel::<Job<B>>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let (backend, queue) = (backend.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("crumb-ledger-{i}"))
                .spawn(move || loop {
                    // The lock is held only to take one job, never while running it.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(&backend),
                        Err(_) => break,
                    }
                })
                .map_err(|e| LedgerError::unavailable("the ledger", format!("cannot start its threads: {e}")))?;
        }
        Ok(Threaded { backend, jobs })
    }

    /// The backend itself, for what is not a ledger operation (its schema, its pool).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Runs `call` on a worker and answers through `done`.
    fn run<T: Send + 'static>(
        &self,
        (done, pending): (Completer<T>, Pending<T>),
        call: impl FnOnce(&B) -> Result<T, LedgerError> + Send + 'static,
    ) -> Pending<T> {
        let job: Job<B> = Box::new(move |backend| {
            // Nobody waiting: a hold was undone by the completion (see `reserve`).
            let _ = done.complete(call(backend));
        });
        // The workers live as long as this sender: a send fails only if every one of them
        // panicked, and then the dropped completer answers "unavailable".
        let _ = self.jobs.send(job);
        pending
    }

    fn channel<T>(&self) -> (Completer<T>, Pending<T>) {
        Pending::channel(self.backend.location())
    }
}

impl<B: BlockingLedger + 'static> Ledger for Threaded<B> {
    fn location(&self) -> &str {
        self.backend.location()
    }
    fn status(&self, nonce: &Nonce) -> Pending<Status> {
        let nonce = *nonce;
        self.run(self.channel(), move |b| b.status(&nonce))
    }
    fn ready(&self) -> Pending<()> {
        self.run(self.channel(), |b| b.ready())
    }
    fn reserve(&self, reservation: &Reservation) -> Pending<Reserved> {
        let reservation = reservation.clone();
        // A hold nobody took would keep the token until it lapses: give it back now.
        let jobs = self.jobs.clone();
        let undo = move |answer| {
            if let Reserved::Held(ticket) = answer {
                let release: Job<B> = Box::new(move |b| {
                    let _ = b.release(&ticket);
                });
                let _ = jobs.send(release);
            }
        };
        self.run(Pending::channel_undoing(self.backend.location(), undo), move |b| b.reserve(&reservation))
    }
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Pending<CommitOutcome> {
        let (ticket, commit) = (*ticket, commit.clone());
        self.run(self.channel(), move |b| b.settle(&ticket, &commit))
    }
    fn release(&self, ticket: &Ticket) -> Pending<()> {
        let ticket = *ticket;
        self.run(self.channel(), move |b| b.release(&ticket))
    }
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Pending<CommitOutcome> {
        let (reservation, commit) = (reservation.clone(), commit.clone());
        self.run(self.channel(), move |b| b.commit(&reservation, &commit))
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Pending<Vec<Nonce>> {
        let (nonce, at) = (*nonce, at.to_owned());
        self.run(self.channel(), move |b| b.revoke(&nonce, cascade, &at))
    }
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Pending<LiveRevoke> {
        let (nonce, at) = (*nonce, at.to_owned());
        self.run(self.channel(), move |b| b.revoke_if_live(&nonce, &at))
    }
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Pending<Lineage> {
        let nonce = *nonce;
        self.run(self.channel(), move |b| b.lineage(&nonce, max_nodes, scope))
    }
    fn info(&self, nonce: &Nonce) -> Pending<TokenInfo> {
        let nonce = *nonce;
        self.run(self.channel(), move |b| b.info(&nonce))
    }
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Pending<bool> {
        let nonce = *nonce;
        self.run(self.channel(), move |b| b.record_lapsed(&nonce, now))
    }
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Pending<DelegationRevoke> {
        let (holder, child, at) = (*holder, *child, at.to_owned());
        self.run(self.channel(), move |b| b.revoke_delegation(&holder, &child, &at))
    }
    fn give_back(&self, g: &GiveBack) -> Pending<GaveBack> {
        let g = g.clone();
        self.run(self.channel(), move |b| b.give_back(&g))
    }
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Pending<Vec<u64>> {
        let (nonce, windows) = (*nonce, windows.to_vec());
        self.run(self.channel(), move |b| b.window_use(&nonce, &windows, now))
    }
    fn top_up(&self, t: &TopUp) -> Pending<ToppedUp> {
        let t = t.clone();
        self.run(self.channel(), move |b| b.top_up(&t))
    }
}
