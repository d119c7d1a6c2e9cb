//! One retry policy for every call psc-bridge retries itself: the
//! hand-signed clients (EC2, Lambda), contact-events' `PutEvents` and the
//! ingest's rounds for a throttled table.
//!
//! [`Backoff`] is capped exponential backoff with "equal jitter": the wait
//! before retry `n` is between half and all of `min(initial * 2^n, max)`,
//! spread by a seed so that callers that failed together do not come back
//! together.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How often, and after how long, a failed call is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Retries after the first attempt (0: none).
    pub retries: u32,
    /// The cap of the first wait; each later cap doubles.
    pub initial: Duration,
    /// No wait is longer.
    pub max: Duration,
}

impl Backoff {
    /// No retry at all.
    pub const NONE: Backoff = Backoff { retries: 0, initial: Duration::ZERO, max: Duration::ZERO };

    pub const fn new(retries: u32, initial: Duration, max: Duration) -> Self {
        Self { retries, initial, max }
    }

    /// Attempts in all, the first included.
    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// The wait before retry `retry` (1-based), spread by `seed` (any
    /// per-caller number; see [`seed`]).
    pub fn delay(&self, retry: u32, seed: u64) -> Duration {
        let cap = self.initial.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(self.max);
        // A cheap mix of the seed and the retry (splitmix64's finaliser):
        // no RNG crate for jitter.
        let mut x = seed ^ u64::from(retry).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        let frac = (x % 1000) as u32;
        (cap / 2) + cap.mul_f64(f64::from(frac) / 2000.0)
    }

    /// Runs `op` until it succeeds, fails with an error `retry_on` refuses,
    /// or the retries are spent; waits [`Backoff::delay`] between attempts.
    /// Returns the last result and the retries it took.
    pub async fn run<T, E, F, Fut>(&self, seed: u64, retry_on: impl Fn(&E) -> bool, mut op: F) -> (Result<T, E>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut retry = 0;
        loop {
            match op().await {
                Err(e) if retry < self.retries && retry_on(&e) => {
                    retry += 1;
                    tokio::time::sleep(self.delay(retry, seed)).await;
                }
                result => return (result, retry),
            }
        }
    }
}

/// A random seed for [`Backoff::delay`] (from the standard library's
/// per-process random hash keys).
pub fn seed() -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff::new(12, Duration::from_millis(200), Duration::from_secs(10));

    #[test]
    fn waits_grow_to_the_cap_and_stay_within_half_and_all_of_it() {
        for seed in [0, 1, 42, u64::MAX] {
            for retry in 1..=12 {
                let cap = Duration::from_millis(200 * (1 << (retry - 1))).min(Duration::from_secs(10));
                let d = B.delay(retry, seed);
                assert!(d >= cap / 2 && d <= cap, "retry {retry} seed {seed}: {d:?} against cap {cap:?}");
            }
        }
    }

    #[test]
    fn seeds_spread_the_waits() {
        let waits: std::collections::HashSet<_> = (0..50).map(|s| B.delay(3, s)).collect();
        assert!(waits.len() > 10, "{} distinct waits of 50", waits.len());
    }

    #[tokio::test]
    async fn run_stops_at_success_a_refused_error_or_the_last_retry() {
        let quick = Backoff::new(3, Duration::from_millis(1), Duration::from_millis(2));
        let mut calls = 0;
        let (r, retries) = quick
            .run(
                7,
                |_: &&str| true,
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n < 3 { Err("busy") } else { Ok(n) } }
                },
            )
            .await;
        assert_eq!((r, retries), (Ok(3), 2));

        let (r, retries) = quick.run(7, |e: &&str| *e == "busy", || async { Err::<(), _>("denied") }).await;
        assert_eq!((r, retries), (Err("denied"), 0));

        let (r, retries) = quick.run(7, |_: &&str| true, || async { Err::<(), _>("busy") }).await;
        assert_eq!((r, retries), (Err("busy"), 3));
        assert_eq!(quick.attempts(), 4);
    }
}
