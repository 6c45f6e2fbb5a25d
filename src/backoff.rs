//! One schedule for every loop that waits before trying again (a busy SQLite file, a
//! PostgreSQL serialization failure, a ledger restarting under a settle, a token held by
//! another request, a server that did not answer): exponential backoff with full jitter.
//!
//! Each pause is drawn at random between zero and a ceiling that grows by a factor per pause
//! up to a cap. Many clients that failed together (agents sharing a server, replicas sharing
//! a database) then come back spread over the whole window instead of in lockstep, which
//! would make them collide again.
//!
//! A schedule is bounded by a number of pauses ([`Backoff::retries`]), or by a deadline
//! ([`Backoff::until`]): no pause ends past it, the last one is cut short to end at it, so
//! the caller tries once more at the deadline and then gives up.

use std::time::{Duration, Instant};

/// A retry schedule; as an iterator, the pauses to take before each retry (`None`: give up).
#[derive(Debug, Clone)]
pub struct Backoff {
    ceiling: Duration,
    factor: u32,
    max: Duration,
    retries_left: Option<u32>,
    deadline: Option<Instant>,
}

impl Backoff {
    /// Pauses of at most `first`, then `first * factor`, and so on up to `max`; unbounded in
    /// number until [`Backoff::retries`] or [`Backoff::until`] says.
    pub const fn exponential(first: Duration, factor: u32, max: Duration) -> Self {
        Backoff { ceiling: first, factor, max, retries_left: None, deadline: None }
    }

    /// At most `n` pauses: the first try and `n` retries.
    #[must_use]
    pub const fn retries(mut self, n: u32) -> Self {
        self.retries_left = Some(n);
        self
    }

    /// No pause past `deadline`.
    #[must_use]
    pub const fn until(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The next pause when the other side asked for `at_least` (an HTTP `Retry-After`): that
    /// long plus up to a quarter more at random, so the clients it was said to do not return
    /// together; `None` when that would pass the deadline (asking sooner would be refused).
    /// Without `at_least`, the schedule's own next pause.
    pub fn next_after(&mut self, at_least: Option<Duration>) -> Option<Duration> {
        let Some(at_least) = at_least else {
            return self.next();
        };
        let pause = at_least + jitter(at_least / 4);
        if self.retries_left == Some(0) || self.deadline.is_some_and(|d| Instant::now() + pause > d) {
            return None;
        }
        self.retries_left = self.retries_left.map(|n| n - 1);
        Some(pause)
    }

    /// Sleeps for the next pause and says so, or says there is none.
    pub fn wait(&mut self) -> bool {
        match self.next() {
            Some(pause) => {
                std::thread::sleep(pause);
                true
            }
            None => false,
        }
    }

    /// [`Backoff::wait`] for async callers: the pause holds no thread (a timer of its own,
    /// so it runs on any executor).
    pub async fn pause(&mut self) -> bool {
        match self.next() {
            Some(pause) => {
                futures_timer::Delay::new(pause).await;
                true
            }
            None => false,
        }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retries_left == Some(0) {
            return None;
        }
        let mut pause = jitter(self.ceiling);
        if let Some(deadline) = self.deadline {
            let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())?;
            pause = pause.min(left);
        }
        self.retries_left = self.retries_left.map(|n| n - 1);
        self.ceiling = self.ceiling.saturating_mul(self.factor).min(self.max);
        Some(pause)
    }
}

/// Runs `op` until it succeeds, fails in a way `again` does not retry, or `backoff` gives up
/// (the last error is returned), sleeping the schedule's pauses in between.
pub fn retry<T, E>(
    mut backoff: Backoff,
    mut op: impl FnMut() -> Result<T, E>,
    mut again: impl FnMut(&E) -> bool,
) -> Result<T, E> {
    loop {
        match op() {
            Err(e) if again(&e) && backoff.wait() => {}
            other => return other,
        }
    }
}

/// A duration drawn uniformly from `[0, ceiling]`. Without a random source (it never fails on
/// the systems crumb runs on) half the ceiling: still a pause, only not spread.
fn jitter(ceiling: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    let share = match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    ceiling.mul_f64(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn each_pause_is_drawn_under_its_ceiling_and_the_ceilings_grow_to_the_cap() {
        let ceilings = [100 * MS, 400 * MS, 1200 * MS, 1200 * MS];
        let (mut lowest, mut highest) = ([Duration::MAX; 4], [Duration::ZERO; 4]);
        for _ in 0..2000 {
            let pauses: Vec<Duration> = Backoff::exponential(100 * MS, 4, 1200 * MS).take(4).collect();
            for (i, pause) in pauses.into_iter().enumerate() {
                assert!(pause <= ceilings[i], "pause {i} is {pause:?}, over {:?}", ceilings[i]);
                lowest[i] = lowest[i].min(pause);
                highest[i] = highest[i].max(pause);
            }
        }
        for i in 0..4 {
            // Full jitter: the draws cover the window from near zero to near the ceiling.
            assert!(lowest[i] < ceilings[i] / 10, "pause {i} never fell low: {:?}", lowest[i]);
            assert!(highest[i] > ceilings[i] * 9 / 10, "pause {i} never rose high: {:?}", highest[i]);
        }
    }

    #[test]
    fn jittered_pauses_differ_between_clients() {
        let draws: std::collections::HashSet<Duration> = (0..50)
            .map(|_| Backoff::exponential(Duration::from_secs(1), 2, Duration::from_secs(1)).next().unwrap())
            .collect();
        assert!(draws.len() > 40, "50 clients drew only {} distinct pauses", draws.len());
    }

    #[test]
    fn retries_bounds_the_number_of_pauses() {
        assert_eq!(Backoff::exponential(MS, 2, MS).retries(3).count(), 3);
        assert_eq!(Backoff::exponential(MS, 2, MS).retries(0).count(), 0);
    }

    #[test]
    fn no_pause_ends_past_the_deadline() {
        let deadline = Instant::now() + 30 * MS;
        let backoff = Backoff::exponential(Duration::from_secs(10), 2, Duration::from_secs(10)).until(deadline);
        for pause in backoff {
            assert!(Instant::now() + pause <= deadline + MS, "{pause:?} ends past the deadline");
            std::thread::sleep(pause);
        }
        assert!(Instant::now() >= deadline);
        let mut passed = Backoff::exponential(MS, 2, MS).until(Instant::now());
        assert_eq!(passed.next(), None);
    }

    #[test]
    fn a_requested_wait_is_honoured_and_spread_by_a_quarter() {
        let mut backoff = Backoff::exponential(MS, 2, MS).until(Instant::now() + Duration::from_secs(60));
        for _ in 0..200 {
            let pause = backoff.next_after(Some(Duration::from_secs(2))).unwrap();
            assert!(pause >= Duration::from_secs(2) && pause <= Duration::from_millis(2500), "{pause:?}");
        }
        let mut short = Backoff::exponential(MS, 2, MS).until(Instant::now() + Duration::from_secs(1));
        assert_eq!(short.next_after(Some(Duration::from_secs(2))), None, "the wait asked for passes the deadline");
    }

    #[test]
    fn retry_stops_at_success_at_a_final_error_or_when_the_schedule_ends() {
        let mut calls = 0;
        let ok: Result<u32, &str> = retry(
            Backoff::exponential(MS, 2, MS).retries(5),
            || {
                calls += 1;
                if calls < 3 {
                    Err("busy")
                } else {
                    Ok(calls)
                }
            },
            |e| *e == "busy",
        );
        assert_eq!(ok, Ok(3));
        let mut calls = 0;
        let fatal: Result<(), &str> = retry(
            Backoff::exponential(MS, 2, MS).retries(5),
            || {
                calls += 1;
                Err("corrupt")
            },
            |e| *e == "busy",
        );
        assert_eq!((fatal, calls), (Err("corrupt"), 1));
        let mut calls = 0;
        let exhausted: Result<(), &str> = retry(
            Backoff::exponential(MS, 2, MS).retries(2),
            || {
                calls += 1;
                Err("busy")
            },
            |e| *e == "busy",
        );
        assert_eq!((exhausted, calls), (Err("busy"), 3));
    }
}
