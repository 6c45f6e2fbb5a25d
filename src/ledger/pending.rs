//! The ledger's one seam: every [`crate::ledger::Ledger`] operation answers with a
//! [`Pending`], a completion the backend fulfils however it runs.
//!
//! Why a completion rather than blocking calls or `async fn` in the trait: the backend, not the
//! caller, decides where the work happens. SQLite answers a read at once (a WAL read takes
//! microseconds and never waits on a writer) and queues each write on its group-commit writer,
//! which fulfils the completion after the fsync; a backend with a blocking driver runs on
//! threads of its own ([`crate::ledger::threaded`]). The server awaits a `Pending` (no thread
//! is held while a commit waits for its fsync); the CLI calls [`Pending::wait`]. So there is one
//! signature per operation and no adapter ever chooses between a queued and a blocking path.
//!
//! Started work finishes: a backend begins the operation when the method is called and carries
//! it to the end even if the `Pending` is dropped (a client that went away). What a dropped
//! `Pending` would have handed over is the backend's to undo: a hold nobody received is
//! released ([`Completer::complete`] gives the answer back). That is the seam's cancellation
//! rule, and the conformance suite checks it for every backend.

use crate::error::LedgerError;
use futures_channel::oneshot;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// What a ledger operation answers: ready now, or fulfilled later by the backend.
#[must_use = "a ledger operation's answer says whether it happened"]
pub struct Pending<T>(State<T>);

enum State<T> {
    Ready(Option<Result<T, LedgerError>>),
    Waiting { answer: oneshot::Receiver<Result<T, LedgerError>>, location: String, undo: Option<Undo<T>> },
    Future(Pin<Box<dyn Future<Output = Result<T, LedgerError>> + Send>>),
}

/// What undoes an answer nobody took, shared by both ends: whichever finds the answer
/// orphaned (the backend's send refused, or the `Pending` dropped with the answer unread)
/// takes it and runs it, once.
type Undo<T> = Arc<Mutex<Option<Box<dyn FnOnce(T) + Send>>>>;

fn run_undo<T>(undo: &Option<Undo<T>>, answer: T) {
    if let Some(undo) = undo.as_ref().and_then(|u| u.lock().unwrap_or_else(|p| p.into_inner()).take()) {
        undo(answer);
    }
}

/// The backend's end of a [`Pending`]: fulfilled once, from any thread.
pub struct Completer<T> {
    answer: oneshot::Sender<Result<T, LedgerError>>,
    undo: Option<Undo<T>>,
}

impl<T> Pending<T> {
    /// An answer already known (an inline read, a refusal before any work).
    pub fn ready(answer: Result<T, LedgerError>) -> Self {
        Pending(State::Ready(Some(answer)))
    }

    /// A completion for work the backend runs elsewhere. If the [`Completer`] is dropped
    /// unanswered (the writer stopped), the `Pending` answers that `location` did not.
    pub fn channel(location: &str) -> (Completer<T>, Self) {
        let (tx, rx) = oneshot::channel();
        (
            Completer { answer: tx, undo: None },
            Pending(State::Waiting { answer: rx, location: location.to_owned(), undo: None }),
        )
    }

    /// [`Pending::channel`] for an answer that hands something over (a hold): if nobody takes
    /// the answer — the `Pending` was dropped before it came, or with it unread — `undo` gets
    /// it (to release the hold), exactly once.
    pub fn channel_undoing(location: &str, undo: impl FnOnce(T) + Send + 'static) -> (Completer<T>, Self) {
        let (tx, rx) = oneshot::channel();
        let undo: Undo<T> = Arc::new(Mutex::new(Some(Box::new(undo))));
        let pending = State::Waiting { answer: rx, location: location.to_owned(), undo: Some(undo.clone()) };
        (Completer { answer: tx, undo: Some(undo) }, Pending(pending))
    }

    /// Any future of an answer (a wrapper that measures, a composition of operations).
    pub fn from_future(future: impl Future<Output = Result<T, LedgerError>> + Send + 'static) -> Self {
        Pending(State::Future(Box::pin(future)))
    }

    /// Blocks this thread until the answer comes: for callers that are not async (the CLI).
    pub fn wait(self) -> Result<T, LedgerError> {
        futures_executor::block_on(self)
    }
}

// No answer is ever pinned in place: it is moved out whole.
impl<T> Unpin for Pending<T> {}

impl<T> Future for Pending<T> {
    type Output = Result<T, LedgerError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            State::Ready(answer) => Poll::Ready(answer.take().expect("a Pending is polled after it answered")),
            State::Waiting { answer, location, undo } => Pin::new(answer).poll(cx).map(|answered| {
                // Taken: nothing is left to undo.
                *undo = None;
                answered
                    .unwrap_or_else(|_| Err(LedgerError::unavailable(location.clone(), "the ledger did not answer")))
            }),
            State::Future(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if let State::Waiting { answer, undo: undo @ Some(_), .. } = &mut self.0 {
            // Closed first: an answer sent from now on is refused and undone by the sender;
            // one sent before is read here and undone.
            answer.close();
            if let Ok(Some(Ok(unread))) = answer.try_recv() {
                run_undo(undo, unread);
            }
        }
    }
}

impl<T> Completer<T> {
    /// Delivers the answer. When nobody waits for it any more (the `Pending` was dropped),
    /// gives it back, after running the undo of [`Pending::channel_undoing`] on it.
    pub fn complete(self, answer: Result<T, LedgerError>) -> Result<(), Result<T, LedgerError>> {
        match self.answer.send(answer) {
            Ok(()) => Ok(()),
            Err(Ok(orphaned)) if self.undo.is_some() => {
                run_undo(&self.undo, orphaned);
                Ok(())
            }
            Err(refused) => Err(refused),
        }
    }
}

/// Waits for any future on this thread: the CLI's way into the async library (a spend is an
/// `async fn` of [`crate::Issuer`]; the CLI has no runtime).
pub trait Wait: Future + Sized {
    fn wait(self) -> Self::Output {
        futures_executor::block_on(self)
    }
}

impl<F: Future> Wait for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reaches_the_waiter_from_another_thread() {
        let (done, pending) = Pending::<u32>::channel("here");
        std::thread::spawn(move || done.complete(Ok(7)).ok());
        assert_eq!(pending.wait().unwrap(), 7);
    }

    #[test]
    fn a_completer_dropped_unanswered_is_an_unavailable_ledger() {
        let (done, pending) = Pending::<u32>::channel("here");
        drop(done);
        let e = pending.wait().unwrap_err();
        assert_eq!(e.kind, crate::error::LedgerErrorKind::Unavailable);
    }

    #[test]
    fn an_answer_nobody_took_is_undone_once_whenever_it_came() {
        for read_late in [false, true] {
            let undone = Arc::new(Mutex::new(Vec::new()));
            let seen = undone.clone();
            let (done, pending) = Pending::<u32>::channel_undoing("here", move |n| seen.lock().unwrap().push(n));
            if read_late {
                // Answered, then dropped unread.
                done.complete(Ok(5)).unwrap();
                drop(pending);
            } else {
                drop(pending);
                done.complete(Ok(5)).unwrap();
            }
            assert_eq!(*undone.lock().unwrap(), vec![5], "read late: {read_late}");
        }
        // Taken: nothing to undo.
        let undone = Arc::new(Mutex::new(Vec::new()));
        let seen = undone.clone();
        let (done, pending) = Pending::<u32>::channel_undoing("here", move |n| seen.lock().unwrap().push(n));
        done.complete(Ok(5)).unwrap();
        assert_eq!(pending.wait().unwrap(), 5);
        assert!(undone.lock().unwrap().is_empty());
    }

    #[test]
    fn an_answer_nobody_waits_for_comes_back_to_the_backend() {
        let (done, pending) = Pending::<u32>::channel("here");
        drop(pending);
        assert_eq!(done.complete(Ok(3)).unwrap_err().unwrap(), 3);
    }
}
