//! One retry policy for every call psc-bridge retries itself: the
//! hand-signed clients (EC2, Lambda), contact-events' `PutEvents` and the
//! ingest's rounds for a throttled, slow or failing table.
//!
//! * [`Backoff`]: the waits between attempts.
//! * [`Patience`]: rounds of attempts until a point in time (the end of an
//!   invocation's share of the work) rather than a number of attempts, and
//!   what is left unfinished then.
//! * [`AdaptiveLimit`]: how many calls may be in flight, halved on a fault
//!   and grown back one at a time while calls succeed.
//!
//! [`Backoff`] is capped exponential backoff with "equal jitter": the wait
//! before retry `n` is between half and all of `min(initial * 2^n, max)`,
//! spread by a seed so that callers that failed together do not come back
//! together.

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Why [`Patience::run`] returned without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUp<E> {
    /// An error that retrying cannot fix.
    Permanent(E),
    /// Still failing transiently when patience ran out (its last error;
    /// `None`: the attempt in flight was cut off at [`Patience::until`]).
    /// The call may or may not have taken effect.
    Unfinished(Option<E>),
}

/// Patient rounds: a call that fails transiently waits ([`Backoff::delay`])
/// and goes again, round after round, until it succeeds, fails for good,
/// or `until` (then it is left unfinished, for later). Without `until`,
/// at most `rounds.retries` rounds. Each attempt holds a permit of
/// `limit`, when there is one, and reports to it how it went.
#[derive(Debug, Clone, Copy)]
pub struct Patience<'a> {
    pub rounds: Backoff,
    /// No round starts after it.
    pub until: Option<Instant>,
    /// An attempt still in flight at `until`, while calls are failing (this
    /// one failed before, or a fault has lowered `limit`), is cut off: for
    /// work that another invocation does again. A healthy call runs to its
    /// end.
    pub cut_off: bool,
    pub limit: Option<&'a AdaptiveLimit>,
}

impl<'a> Patience<'a> {
    /// `rounds.retries` rounds, no time limit, no limit on calls in flight.
    pub fn rounds(rounds: Backoff) -> Self {
        Self { rounds, until: None, cut_off: false, limit: None }
    }

    /// The wait before round `round` (1-based), or `None` when patience has
    /// run out by then.
    pub fn wait(&self, round: u32, seed: u64) -> Option<Duration> {
        let d = self.rounds.delay(round, seed);
        match self.until {
            Some(until) => (Instant::now() + d < until).then_some(d),
            None => (round <= self.rounds.retries).then_some(d),
        }
    }

    /// `call`, cut off at `until` (`None` then) when `cut_off` and calls
    /// are failing: `failed_before` (this one), or a lowered limit.
    pub async fn within<F: Future>(&self, call: F, failed_before: bool) -> Option<F::Output> {
        let Some(until) = self.until.filter(|_| self.cut_off) else {
            return Some(call.await);
        };
        let mut call = std::pin::pin!(call);
        match tokio::time::timeout_at(until.into(), call.as_mut()).await {
            Ok(out) => Some(out),
            Err(_) if failed_before || self.limit.is_some_and(|l| l.halvings() > 0) => None,
            Err(_) => Some(call.await),
        }
    }

    /// A permit of the limit on calls in flight (none without a limit).
    pub async fn permit(&self) -> Option<Permit<'a>> {
        match self.limit {
            Some(limit) => Some(limit.acquire().await),
            None => None,
        }
    }

    /// Runs `op` in rounds (see [`Patience`]): returns its result or why it
    /// gave up, and the rounds it waited.
    pub async fn run<T, E, F, Fut>(
        &self,
        seed: u64,
        transient: impl Fn(&E) -> bool,
        mut op: F,
    ) -> (Result<T, GaveUp<E>>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut round = 0;
        loop {
            let permit = self.permit().await;
            let last = match self.within(op(), round > 0).await {
                Some(Ok(v)) => {
                    if let Some(p) = permit {
                        p.succeeded();
                    }
                    return (Ok(v), round);
                }
                Some(Err(e)) if transient(&e) => {
                    if let Some(p) = permit {
                        p.faulted();
                    }
                    Some(e)
                }
                Some(Err(e)) => return (Err(GaveUp::Permanent(e)), round),
                None => {
                    if let Some(p) = permit {
                        p.faulted();
                    }
                    None
                }
            };
            round += 1;
            match self.wait(round, seed) {
                Some(d) => tokio::time::sleep(d).await,
                None => return (Err(GaveUp::Unfinished(last)), round - 1),
            }
        }
    }
}

/// A limit on the calls in flight that adapts to how they go (AIMD, as TCP
/// does for packets): a transient fault halves it (at most once per
/// generation of calls: the calls already in flight when it was halved do
/// not halve it again), and every `limit` successes in a row raise it by
/// one, up to `ceiling`; never below 1. A slow or failing database is sent
/// fewer calls at once, so that a queue behind it does not grow past the
/// calls' timeouts, and gets the full concurrency back once it recovers.
#[derive(Debug)]
pub struct AdaptiveLimit {
    state: Mutex<LimitState>,
    freed: tokio::sync::Notify,
    ceiling: usize,
}

#[derive(Debug)]
struct LimitState {
    limit: usize,
    in_flight: usize,
    successes: usize,
    /// Halvings so far: a permit taken before the last one does not halve again.
    generation: u64,
    /// Halvings, for reports.
    halvings: u64,
}

/// One call in flight under an [`AdaptiveLimit`]; report how it went with
/// [`Permit::succeeded`] or [`Permit::faulted`] (dropped unreported: no
/// effect on the limit).
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a AdaptiveLimit,
    generation: u64,
}

impl AdaptiveLimit {
    /// Starts at `ceiling` (at least 1).
    pub fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        let state = LimitState { limit: ceiling, in_flight: 0, successes: 0, generation: 0, halvings: 0 };
        Self { state: Mutex::new(state), freed: tokio::sync::Notify::new(), ceiling }
    }

    /// The calls allowed in flight now.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// How many times a fault has halved the limit.
    pub fn halvings(&self) -> u64 {
        self.lock().halvings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until fewer than the limit are in flight.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    return Permit { limit: self, generation: s.generation };
                }
            }
            freed.await;
        }
    }
}

impl Permit<'_> {
    /// The call succeeded: one more success towards raising the limit.
    pub fn succeeded(self) {
        let mut s = self.limit.lock();
        s.successes += 1;
        if s.successes >= s.limit {
            s.successes = 0;
            s.limit = (s.limit + 1).min(self.limit.ceiling);
        }
    }

    /// The call failed transiently (or timed out): halve the limit, unless
    /// a fault of a call as old as this one already did.
    pub fn faulted(self) {
        let mut s = self.limit.lock();
        s.successes = 0;
        if self.generation == s.generation {
            s.limit = (s.limit / 2).max(1);
            s.generation += 1;
            s.halvings += 1;
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limit.lock().in_flight -= 1;
        self.limit.freed.notify_waiters();
    }
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

    #[test]
    fn a_fault_halves_the_limit_once_per_generation_and_successes_grow_it_back_by_one() {
        let limit = AdaptiveLimit::new(32);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            // 32 in flight when the database fails: the first fault halves
            // the limit; the others, of calls sent before it, do not.
            let permits: Vec<_> = futures_like_join(&limit, 32).await;
            for p in permits {
                p.faulted();
            }
            assert_eq!(limit.limit(), 16);
            // Faults of calls sent after each halving keep halving, to 1.
            for expected in [8, 4, 2, 1, 1] {
                limit.acquire().await.faulted();
                assert_eq!(limit.limit(), expected);
            }
            // Then `limit` successes raise it by one: 1 + 2 + ... + 31.
            let mut successes = 0;
            while limit.limit() < 32 {
                limit.acquire().await.succeeded();
                successes += 1;
            }
            assert_eq!(successes, (1..32).sum::<usize>());
            limit.acquire().await.succeeded();
            assert_eq!(limit.limit(), 32, "never above the ceiling");
        });
    }

    async fn futures_like_join(limit: &AdaptiveLimit, n: usize) -> Vec<Permit<'_>> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(limit.acquire().await);
        }
        out
    }

    #[tokio::test]
    async fn no_more_calls_than_the_limit_are_in_flight() {
        let limit = std::sync::Arc::new(AdaptiveLimit::new(4));
        limit.acquire().await.faulted(); // 2
        assert_eq!(limit.limit(), 2);
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (limit, in_flight, peak) = (limit.clone(), in_flight.clone(), peak.clone());
                tokio::spawn(async move {
                    let p = limit.acquire().await;
                    let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    drop(p);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn patience_retries_transient_faults_until_its_time_and_leaves_the_rest_unfinished() {
        let quick = Backoff::new(3, Duration::from_millis(1), Duration::from_millis(2));
        let limit = AdaptiveLimit::new(8);
        // Fails transiently 5 times (more than 3 retries), then succeeds: with
        // a time limit, the rounds are not counted.
        let until = Some(Instant::now() + Duration::from_secs(5));
        let patient = Patience { rounds: quick, until, cut_off: true, limit: Some(&limit) };
        let mut calls = 0;
        let (r, rounds) = patient
            .run(
                1,
                |e: &&str| *e == "busy",
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n <= 5 { Err("busy") } else { Ok(n) } }
                },
            )
            .await;
        assert_eq!((r, rounds), (Ok(6), 5));
        assert_eq!(limit.limit(), 2, "halved to 1 by five faults in a row, raised by the success");

        // A permanent error is not retried.
        let (r, rounds) = patient.run(1, |e: &&str| *e == "busy", || async { Err::<(), _>("denied") }).await;
        assert_eq!((r, rounds), (Err(GaveUp::Permanent("denied")), 0));

        // Without a time limit: the rounds, then unfinished.
        let (r, rounds) = Patience::rounds(quick).run(1, |_: &&str| true, || async { Err::<(), _>("busy") }).await;
        assert_eq!((r, rounds), (Err(GaveUp::Unfinished(Some("busy"))), 3));

        // A call still in flight at the time limit is cut off while calls
        // fail (the limit was lowered above); a healthy one runs to its end.
        let until = Some(Instant::now() + Duration::from_millis(20));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, &str>(())
        };
        let failing = Patience { rounds: quick, until, cut_off: true, limit: Some(&limit) };
        assert_eq!(failing.run(1, |_: &&str| true, slow).await.0, Err(GaveUp::Unfinished(None)));
        let healthy_limit = AdaptiveLimit::new(8);
        let healthy = Patience { limit: Some(&healthy_limit), ..failing };
        assert_eq!(healthy.run(1, |_: &&str| true, slow).await.0, Ok(()));
    }
}
