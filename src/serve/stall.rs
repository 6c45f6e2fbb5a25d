//! A stall timer: how long something that should make progress (a client reading its answer,
//! an upstream sending one) has been waiting, started at the first wait and cleared by any
//! progress — so time spent elsewhere (a slow reader on the other side) never counts.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub struct Stall {
    limit: Duration,
    /// Running while waiting; `None` after progress.
    since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stall {
    pub fn new(limit: Duration) -> Self {
        Stall { limit, since: None }
    }

    /// Feeds one poll of the watched operation through: progress (`Ready`) clears the timer;
    /// a wait (`Pending`) starts it, and is `Ready(None)` once it has lasted the limit.
    pub fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<T>) -> Poll<Option<T>> {
        if let Poll::Ready(progress) = poll {
            self.since = None;
            return Poll::Ready(Some(progress));
        }
        let limit = self.limit;
        let since = self.since.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match since.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_times_out_only_when_it_lasts_the_limit_without_progress() {
        let mut stall = Stall::new(Duration::from_secs(10));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(stall.watch(&mut cx, Poll::<()>::Pending), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(stall.watch(&mut cx, Poll::Ready(1)), Poll::Ready(Some(1)), "progress clears the timer");
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(stall.watch(&mut cx, Poll::<()>::Pending), Poll::Pending, "a new wait starts afresh");
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(stall.watch(&mut cx, Poll::<()>::Pending), Poll::Pending);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(stall.watch(&mut cx, Poll::<()>::Pending), Poll::Ready(None));
    }
}
