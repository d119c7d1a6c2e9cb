//! Work too long for one invocation (R9): done in segments, each ended by a
//! checkpoint, under a lease, and continued in a new invocation before the
//! deadline. The machinery every ingest function shares; what a segment
//! reads and writes, and where its checkpoint is kept, are the function's.
//!
//! * [`Invocation`]: who is working (the lease's owner) and until when;
//! * [`Plan`]: when a segment stops (rows between checkpoints, the
//!   invocation's time) and when the invocation is out of time;
//! * [`Segmented`] and [`run_segments`]: the loop of segments and
//!   checkpoints, which ends when the work is done, the invocation is out of
//!   time (its caller then continues it in a new one), or another invocation
//!   took the work over.

use std::time::{Duration, Instant, SystemTime};

use crate::aws::{AwsError, Failure};
use crate::domain::Timestamp;
use crate::model::Lease;
use crate::ports::Continuation;

/// A lease without a deadline (no Lambda context): 15 minutes, Lambda's
/// longest invocation.
pub const UNBOUNDED_LEASE_SECONDS: i64 = 900;

/// One invocation of a function: its request id (the lease's owner; Lambda
/// retries an invocation with the same one) and its deadline.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub id: String,
    /// `None`: no deadline (tests, the benchmark).
    pub deadline: Option<SystemTime>,
}

impl Invocation {
    /// An invocation without a deadline.
    pub fn unbounded(id: impl Into<String>) -> Self {
        Self { id: id.into(), deadline: None }
    }

    /// A Lambda invocation: its request id and its deadline as the runtime
    /// gives it (milliseconds since the Unix epoch). A deadline already past
    /// when the invocation starts is none Lambda gives: `cargo lambda watch`
    /// (the local run) sends one. Taken as it is, every such invocation
    /// would hand its work to a continuation after its first segment; it
    /// runs without a deadline instead (a lease of
    /// [`UNBOUNDED_LEASE_SECONDS`]).
    pub fn lambda(request_id: impl Into<String>, deadline_ms: u64) -> Self {
        let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
        Self { id: request_id.into(), deadline: (deadline > SystemTime::now()).then_some(deadline) }
    }

    /// This invocation's claim on a piece of work: until its deadline (or
    /// for [`UNBOUNDED_LEASE_SECONDS`] without one).
    pub fn lease(&self) -> Lease {
        let until = self
            .deadline
            .map_or_else(|| Timestamp::now().plus_seconds(UNBOUNDED_LEASE_SECONDS), Timestamp::from_system_time);
        Lease { owner: self.id.clone(), until }
    }

    /// When work started at `started` must stop, to leave time to drain
    /// its writes, record a checkpoint and invoke the continuation: `margin`
    /// before the deadline, or half the time left when that is shorter (a
    /// test's short deadline). `None` without a deadline.
    pub fn stop_at(&self, started: Instant, margin: Duration) -> Option<Instant> {
        self.deadline.map(|d| {
            let left = d.duration_since(SystemTime::now()).unwrap_or_default();
            started + left.saturating_sub(margin.min(left / 2))
        })
    }
}

/// No continuation: work without a deadline never needs one; asked anyway,
/// it says that none is configured.
pub struct NoContinuation;

impl Continuation for NoContinuation {
    async fn continue_later(&self, _payload: &serde_json::Value) -> Result<(), AwsError> {
        Err(AwsError::local(
            "Lambda",
            "Invoke",
            Failure::BadRequest,
            "no continuation is configured (AWS_LAMBDA_FUNCTION_NAME)".to_owned(),
        ))
    }
}

/// Where a segment stops: after `rows` rows, or once `at` has passed, at a
/// row boundary (the end of the input stops it too).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    pub rows: Option<u64>,
    pub at: Option<Instant>,
    /// Rows read before `at` counts.
    pub min_rows: u64,
    /// Writes that keep failing transiently are sent again until then; one
    /// still failing is left unfinished and the segment with it
    /// ([`Segment::Interrupted`]). `None`: the writer's own bound.
    pub writes_until: Option<Instant>,
}

impl Stop {
    /// The whole input.
    pub const NEVER: Stop = Stop { rows: None, at: None, min_rows: 0, writes_until: None };

    /// Whether a segment that has read `rows` rows stops here.
    pub fn reached(&self, rows: u64) -> bool {
        self.rows.is_some_and(|n| rows >= n)
            || (rows >= self.min_rows && self.at.is_some_and(|at| Instant::now() >= at))
    }
}

/// How one invocation divides its work into segments.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rows between checkpoints.
    pub checkpoint_rows: u64,
    /// When the invocation stops ([`Invocation::stop_at`]).
    pub stop_at: Option<Instant>,
    /// Rows the first segment reads however close the deadline: every
    /// invocation makes progress.
    pub min_rows: u64,
}

impl Plan {
    /// Where segment `n` (0: the invocation's first) stops.
    pub fn stop(&self, n: u64) -> Stop {
        Stop {
            rows: Some(self.checkpoint_rows.max(1)),
            at: self.stop_at,
            min_rows: if n == 0 { self.min_rows } else { 0 },
            writes_until: None,
        }
    }

    /// Whether the invocation's time is up.
    pub fn out_of_time(&self) -> bool {
        self.stop_at.is_some_and(|at| Instant::now() >= at)
    }
}

/// How a segment ended.
#[derive(Debug)]
pub enum Segment<C> {
    /// Nothing is left to do in this invocation (the input ended, or the
    /// work must stop for a reason of its own).
    Done,
    /// Stopped at a checkpoint, with more to do.
    Checkpoint(C),
    /// The segment could not be finished in this invocation (a fault
    /// outlasted its time): its work is left to the next invocation, which
    /// starts again from `C`, the last checkpoint (saved again, to release
    /// the lease).
    Interrupted(C),
}

/// How [`run_segments`] ended.
#[derive(Debug)]
pub enum RunEnd<C> {
    /// [`Segment::Done`].
    Done,
    /// The invocation is out of time (or a segment was
    /// [interrupted](Segment::Interrupted)): `C` is saved and the lease
    /// released; the caller continues the work in a new invocation.
    OutOfTime(C),
    /// Another invocation holds the work now; this one ends.
    TakenOver,
}

/// Work done in segments.
pub trait Segmented {
    /// What a checkpoint records.
    type Checkpoint;
    type Error;

    /// Runs the next segment until `stop`: every row before the checkpoint
    /// it returns is applied (or given up on) and counted.
    fn segment(&mut self, stop: Stop) -> impl Future<Output = Result<Segment<Self::Checkpoint>, Self::Error>> + Send;

    /// Records `checkpoint`; with `release`, this invocation's lease ends
    /// with it (for the continuation to take the work). False when another
    /// invocation has taken the work over.
    fn save(
        &mut self,
        checkpoint: &Self::Checkpoint,
        release: bool,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// Runs segments of `work` until it is done, the invocation is out of time,
/// or another invocation took it over; saves a checkpoint after every
/// segment but the last.
pub async fn run_segments<W: Segmented>(work: &mut W, plan: &Plan) -> Result<RunEnd<W::Checkpoint>, W::Error> {
    for n in 0.. {
        let (checkpoint, out_of_time) = match work.segment(plan.stop(n)).await? {
            Segment::Done => return Ok(RunEnd::Done),
            Segment::Checkpoint(checkpoint) => (checkpoint, plan.out_of_time()),
            Segment::Interrupted(checkpoint) => (checkpoint, true),
        };
        if !work.save(&checkpoint, out_of_time).await? {
            return Ok(RunEnd::TakenOver);
        }
        if out_of_time {
            return Ok(RunEnd::OutOfTime(checkpoint));
        }
    }
    unreachable!("u64 segments")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts rows of an input of `len` rows, a segment at a time.
    struct Rows {
        len: u64,
        at: u64,
        saved: Vec<(u64, bool)>,
        taken_over_after: Option<usize>,
    }

    impl Segmented for Rows {
        type Checkpoint = u64;
        type Error = ();

        async fn segment(&mut self, stop: Stop) -> Result<Segment<u64>, ()> {
            let mut rows = 0;
            while self.at < self.len && !stop.reached(rows) {
                self.at += 1;
                rows += 1;
            }
            Ok(if self.at == self.len { Segment::Done } else { Segment::Checkpoint(self.at) })
        }

        async fn save(&mut self, at: &u64, release: bool) -> Result<bool, ()> {
            self.saved.push((*at, release));
            Ok(self.taken_over_after.is_none_or(|n| self.saved.len() <= n))
        }
    }

    fn rows(len: u64) -> Rows {
        Rows { len, at: 0, saved: vec![], taken_over_after: None }
    }

    #[tokio::test]
    async fn a_checkpoint_after_every_segment_but_the_last() {
        let mut work = rows(25);
        let plan = Plan { checkpoint_rows: 10, stop_at: None, min_rows: 0 };
        assert!(matches!(run_segments(&mut work, &plan).await, Ok(RunEnd::Done)));
        assert_eq!(work.saved, [(10, false), (20, false)]);
        assert_eq!(work.at, 25);
    }

    #[tokio::test]
    async fn an_interrupted_segment_releases_the_lease_at_the_last_checkpoint() {
        struct Flaky(u32);
        impl Segmented for Flaky {
            type Checkpoint = u64;
            type Error = ();
            async fn segment(&mut self, _: Stop) -> Result<Segment<u64>, ()> {
                self.0 += 1;
                Ok(if self.0 < 3 { Segment::Checkpoint(u64::from(self.0) * 10) } else { Segment::Interrupted(20) })
            }
            async fn save(&mut self, at: &u64, release: bool) -> Result<bool, ()> {
                assert_eq!((*at, release), (if self.0 < 3 { u64::from(self.0) * 10 } else { 20 }, self.0 == 3));
                Ok(true)
            }
        }
        let plan = Plan { checkpoint_rows: 10, stop_at: None, min_rows: 0 };
        assert!(matches!(run_segments(&mut Flaky(0), &plan).await, Ok(RunEnd::OutOfTime(20))));
    }

    #[test]
    fn a_lambda_deadline_already_past_at_the_start_is_no_deadline() {
        let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let soon = Invocation::lambda("a", now + 60_000);
        assert!(soon.deadline.is_some_and(|d| d > SystemTime::now()));
        assert_eq!(Invocation::lambda("b", now - 1_000).deadline, None);
        assert_eq!(Invocation::lambda("c", 0).deadline, None);
    }

    #[tokio::test]
    async fn out_of_time_releases_the_lease_at_the_first_segment_after_min_rows() {
        let mut work = rows(1_000);
        let past = Instant::now() - Duration::from_secs(1);
        let plan = Plan { checkpoint_rows: 100, stop_at: Some(past), min_rows: 30 };
        let end = run_segments(&mut work, &plan).await;
        assert!(matches!(end, Ok(RunEnd::OutOfTime(30))), "{end:?}");
        assert_eq!(work.saved, [(30, true)]);
    }

    #[tokio::test]
    async fn another_owner_ends_the_run() {
        let mut work = Rows { taken_over_after: Some(1), ..rows(100) };
        let plan = Plan { checkpoint_rows: 10, stop_at: None, min_rows: 0 };
        assert!(matches!(run_segments(&mut work, &plan).await, Ok(RunEnd::TakenOver)));
        assert_eq!(work.saved.len(), 2);
        assert_eq!(work.at, 20);
    }

    #[test]
    fn stop_at_leaves_the_margin_or_half_the_time() {
        let now = Instant::now();
        let inv =
            |secs: u64| Invocation { id: "i".into(), deadline: Some(SystemTime::now() + Duration::from_secs(secs)) };
        let long = inv(60).stop_at(now, Duration::from_secs(5)).unwrap();
        assert!(
            long.duration_since(now) <= Duration::from_secs(55) && long.duration_since(now) > Duration::from_secs(53)
        );
        let short = inv(4).stop_at(now, Duration::from_secs(5)).unwrap();
        assert!(
            short.duration_since(now) <= Duration::from_secs(2) && short.duration_since(now) > Duration::from_secs(1)
        );
        assert!(Invocation::unbounded("i").stop_at(now, Duration::from_secs(5)).is_none());
    }

    #[test]
    fn the_lease_runs_to_the_deadline_or_fifteen_minutes() {
        let deadline = SystemTime::now() + Duration::from_secs(120);
        let lease = Invocation { id: "inv-1".into(), deadline: Some(deadline) }.lease();
        assert_eq!((lease.owner.as_str(), lease.until), ("inv-1", Timestamp::from_system_time(deadline)));
        let unbounded = Invocation::unbounded("inv-2").lease();
        let expected = Timestamp::now().plus_seconds(UNBOUNDED_LEASE_SECONDS);
        assert!((expected.datetime() - unbounded.until.datetime()).whole_seconds().abs() <= 2);
    }
}
