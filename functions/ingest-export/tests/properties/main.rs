//! Property tests of the apply rules (R3), on the in-memory ports: random
//! exports cut from a random log of PSC events ([`world`]), delivered
//! through the real handler in a random order, with random duplicate
//! deliveries, invocations that run out of time after a random number of
//! rows and continue, and invocations killed at a random store call and
//! retried by Lambda ([`crashing`]). After every invocation and at the end:
//!
//! * the final table equals one in-order delivery's (and R3 read directly);
//! * a deleted contact never comes back: a contact's newest time never goes
//!   back, and a deletion is only ever followed by a newer record;
//! * the watermark never passes a gap: it only covers exports whose rows
//!   were in the table when their coverage was recorded, and it ends where
//!   the coverage contiguous from the initial from-date ends;
//! * every bad row is counted once and reported once with its line;
//! * the counts add up to the rows of the export.
//!
//! Cases: [`CASES`] by default, `PROPTEST_CASES` to change (see
//! docs/reliability.md for the long run).

mod crashing;
mod world;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use ingest_export::{ExportSummary, Ingest, Invocation, Settings};
use proptest::prelude::*;
use proptest::test_runner::Config;
use psc_bridge::domain::{Guid, Timestamp};
use psc_bridge::memory::{Held, MemoryContinuations, MemoryObjects, MemoryStore};
use psc_bridge::metrics::Metrics;
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::ExportLog;
use psc_bridge::retry::Backoff;
use psc_bridge::sync::SyncState;

use crashing::{CrashAt, Crashing};
use world::{BUCKET, Export, INITIAL, Op, Table, World, all_guids, at, world};

/// Cases per property by default: a few seconds in a debug build.
const CASES: u32 = 256;

/// [`CASES`], or `PROPTEST_CASES` when set (`with_cases` would ignore it).
/// A failure is not saved to a file in the source tree: the minimal case
/// it prints becomes a named regression test instead.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    Config { failure_persistence: None, ..Config::with_cases(cases) }
}

/// The table as a lookup shows it, deletion markers included.
fn table_of(store: &MemoryStore) -> Table {
    all_guids()
        .into_iter()
        .filter_map(|g| store.held(&g).map(|h| (g, h)))
        .map(|(g, h)| {
            let live = h.contact.map(|c| {
                let code = c.product_code.as_str().to_owned();
                (c.details.given_name, c.aws_account_id.as_str().to_owned(), code)
            });
            (g, (h.operation_time, live))
        })
        .collect()
}

/// How the ingest is run in one case.
#[derive(Debug, Clone)]
struct Schedule {
    /// Deliveries of each export's notification (1 to 3: SNS repeats).
    deliveries: Vec<u8>,
    /// Which of the queued invocations runs next (an index, modulo).
    picks: Vec<u8>,
    /// For each invocation in turn: one past its deadline (it stops after
    /// one segment and continues in a new invocation), until the list ends.
    short: Vec<bool>,
    /// For each invocation in turn: where it is killed, until the list ends.
    crashes: Vec<Option<CrashAt>>,
    checkpoint_rows: u64,
    concurrency: usize,
}

fn schedule(exports: usize) -> impl Strategy<Value = Schedule> {
    let crash =
        prop::option::weighted(0.4, (0..16u32, any::<bool>()).prop_map(|(call, after)| CrashAt { call, after }));
    (
        prop::collection::vec(1..=3u8, exports),
        prop::collection::vec(any::<u8>(), 0..24),
        prop::collection::vec(prop::bool::weighted(0.4), 0..12),
        prop::collection::vec(crash, 0..12),
        1..=4u64,
        1..=3usize,
    )
        .prop_map(|(deliveries, picks, short, crashes, checkpoint_rows, concurrency)| Schedule {
            deliveries,
            picks,
            short,
            crashes,
            checkpoint_rows,
            concurrency,
        })
}

fn world_and_schedule() -> impl Strategy<Value = (World, Schedule)> {
    world().prop_flat_map(|w| {
        let n = w.exports.len();
        (Just(w), schedule(n))
    })
}

fn settings(s: &Schedule) -> Settings {
    Settings {
        initial_from_date: Timestamp::parse(INITIAL).unwrap(),
        write_concurrency: s.concurrency,
        checkpoint_rows: s.checkpoint_rows,
        throttling: Backoff::new(2, Duration::from_millis(1), Duration::from_millis(1)),
        ..Settings::default()
    }
}

fn objects(world: &World) -> MemoryObjects {
    let objects = MemoryObjects::new();
    for x in &world.exports {
        x.stage(&objects, &world.log);
    }
    objects
}

/// One in-order delivery: the exports by coverage, each once, in one
/// invocation each.
async fn in_order(world: &World, s: &Schedule) -> (Table, SyncState) {
    let ingest = Ingest::new(objects(world), MemoryStore::new(), settings(s), Metrics::new("PscBridgeTest"));
    let mut sorted: Vec<&Export> = world.exports.iter().collect();
    sorted.sort_by_key(|x| (x.start, x.end));
    for x in sorted {
        let summary = ingest.handle_message(&x.notification(), "sns").await.expect("an in-order delivery");
        assert!(summary.status.is_done(), "{summary:?}");
    }
    (table_of(ingest.store()), ingest.store().sync_state().await.unwrap())
}

/// One invocation waiting to run: a notification (SNS, or Lambda retrying
/// a killed invocation with its id) or a continuation.
#[derive(Debug, Clone)]
enum Work {
    Deliver { export: usize, inv: Option<String> },
    Continue { payload: serde_json::Value, inv: Option<String> },
}

struct Run<'a> {
    world: &'a World,
    ingest: Ingest<Crashing, MemoryObjects, MemoryContinuations>,
    store: Crashing,
    /// What each contact held after the last invocation.
    last: BTreeMap<Guid, Held>,
    watermark: Option<Timestamp>,
    invocations: u32,
}

impl Run<'_> {
    /// The checks after every invocation, killed or not.
    fn check_step(&mut self, sync: &SyncState) -> Result<(), TestCaseError> {
        // A contact's newest time never goes back; a deletion is only
        // followed by a newer record.
        for g in all_guids() {
            let now = self.store.inner.held(&g);
            if let Some(before) = self.last.get(&g) {
                let Some(now) = now.as_ref() else {
                    return Err(TestCaseError::fail(format!("{g:?} left the table: a deletion must leave a marker")));
                };
                prop_assert!(now.operation_time >= before.operation_time, "{g:?} went back in time");
                if before.contact.is_none() && now.contact.is_some() {
                    prop_assert!(
                        now.operation_time > before.operation_time,
                        "{g:?} came back after its deletion at {} without a newer record",
                        before.operation_time
                    );
                }
            }
            if let Some(now) = now {
                self.last.insert(g, now);
            }
        }
        // The watermark never goes back, and never passes a gap: every point
        // up to it is in a coverage recorded once its rows were in the table.
        prop_assert!(sync.watermark >= self.watermark, "the watermark went back");
        self.watermark = sync.watermark;
        let recorded = self.store.switch.recorded();
        for (coverage, held) in &recorded {
            // The rows of every export with this coverage (they may differ
            // at the start, which one may hold and another not).
            let same: Vec<&Export> = (self.world.exports.iter())
                .filter(|x| at(x.start) == coverage.start && at(x.end) == coverage.end)
                .collect();
            let rows = same[0].events.iter().filter(|e| same.iter().all(|x| x.events.contains(e)));
            for e in rows.map(|&i| &self.world.log[i]).filter(|e| e.bad.is_none()) {
                let in_table = held.get(&world::guid(e.contact)).and_then(|h| h.as_ref()).map(|h| h.operation_time);
                prop_assert!(
                    in_table >= Some(at(e.time)),
                    "coverage {}..{} recorded before its row of contact {} at {} was in the table",
                    same[0].start,
                    same[0].end,
                    e.contact,
                    e.time
                );
            }
        }
        if let Some(w) = sync.watermark {
            let mut ranges: Vec<_> = recorded.iter().map(|(c, _)| (c.start, c.end)).collect();
            ranges.sort();
            let mut reach = Timestamp::parse(INITIAL).unwrap();
            for (s, e) in ranges {
                if s <= reach {
                    reach = reach.max(e);
                }
            }
            prop_assert!(w <= reach, "the watermark {w} passed a gap at {reach}");
        }
        Ok(())
    }

    /// The checks of an export an invocation finished.
    async fn check_done(&self, x: &Export, summary: &ExportSummary) -> Result<(), TestCaseError> {
        let bad = x.bad_lines(&self.world.log);
        let c = summary.counts;
        prop_assert_eq!(c.rejected, bad.len() as u64, "every bad row counted once: {:?}", summary);
        prop_assert_eq!(
            c.applied() + c.skipped_stale + c.rejected,
            x.events.len() as u64,
            "the counts add up to the rows: {:?}",
            summary
        );
        let rec = self.store.inner.export(&x.id).await.unwrap().expect("the export's record");
        prop_assert_eq!(rec.counts, c, "the record keeps the summary's counts");
        prop_assert_eq!(rec.lease, None);
        let want = if bad.is_empty() { ExportStatus::Applied } else { ExportStatus::Partial };
        prop_assert_eq!(rec.status, want);
        let report = self.ingest.objects().get(BUCKET, &ingest_export::rejects_key(&x.keys().0));
        match (bad.is_empty(), report) {
            (true, report) => prop_assert!(summary.rejects_report.is_none() && report.is_none()),
            (false, None) => prop_assert!(false, "no rejects report for {:?}", bad),
            (false, Some(report)) => {
                let report = String::from_utf8(report).unwrap();
                let mut rows = csv::Reader::from_reader(report.as_bytes());
                let lines: Vec<u64> = rows.records().map(|r| r.unwrap()[0].parse().unwrap()).collect();
                prop_assert_eq!(&lines, &bad, "each bad row reported once, with its line:\n{}", report);
            }
        }
        Ok(())
    }

    /// Runs one invocation; returns what it leaves to run next.
    async fn invoke(&mut self, work: Work, short: bool, crash: Option<CrashAt>) -> Result<Vec<Work>, TestCaseError> {
        self.invocations += 1;
        let id = match &work {
            Work::Deliver { inv, .. } | Work::Continue { inv, .. } => inv.clone(),
        };
        let id = id.unwrap_or_else(|| format!("inv-{}", self.invocations));
        let deadline = short.then(|| SystemTime::now() - Duration::from_secs(1));
        let inv = Invocation { id: id.clone(), deadline };
        self.store.switch.arm(crash);
        let call = async {
            match &work {
                Work::Deliver { export, .. } => {
                    let msg = self.world.exports[*export].notification();
                    self.ingest.handle_message_in(&msg, &format!("sns-{export}"), &inv).await.map(|s| vec![s])
                }
                Work::Continue { payload, .. } => self.ingest.handle(payload.clone(), &inv).await,
            }
        };
        let outcome = tokio::select! {
            out = call => Some(out),
            () = self.store.switch.notify.notified() => None,
        };
        self.store.switch.arm(None);
        let sync = self.store.inner.sync_state().await.unwrap();
        self.check_step(&sync)?;
        let Some(out) = outcome else {
            // Killed: Lambda retries the invocation, with the same id.
            return Ok(vec![match work {
                Work::Deliver { export, .. } => Work::Deliver { export, inv: Some(id) },
                Work::Continue { payload, .. } => Work::Continue { payload, inv: Some(id) },
            }]);
        };
        let summaries = out.map_err(|e| TestCaseError::fail(format!("the invocation failed: {e}")))?;
        for summary in &summaries {
            let x = self.world.exports.iter().find(|x| x.id == summary.request_id).expect("one of the exports");
            if summary.status.is_done() && !summary.duplicate {
                self.check_done(x, summary).await?;
            }
            prop_assert!(summary.status != ExportStatus::Failed, "{:?}", summary);
        }
        let next = self.ingest.continuation().take();
        Ok(next.into_iter().map(|payload| Work::Continue { payload, inv: None }).collect())
    }
}

async fn run(world: &World, s: &Schedule) -> Result<(), TestCaseError> {
    let store = Crashing::new();
    let ingest = Ingest::new(objects(world), store.clone(), settings(s), Metrics::new("PscBridgeTest"))
        .with_continuation(MemoryContinuations::new());
    let mut run = Run { world, ingest, store, last: BTreeMap::new(), watermark: None, invocations: 0 };
    let mut queue: VecDeque<Work> = VecDeque::new();
    for (export, n) in s.deliveries.iter().enumerate() {
        for _ in 0..*n {
            queue.push_back(Work::Deliver { export, inv: None });
        }
    }
    let (mut short, mut crashes, mut picks) = (s.short.iter(), s.crashes.iter(), s.picks.iter());
    while !queue.is_empty() {
        prop_assert!(run.invocations < 400, "the exports must finish");
        let i = picks.next().map_or(0, |p| usize::from(*p) % queue.len());
        let work = queue.remove(i).unwrap();
        let next = run.invoke(work, short.next().copied().unwrap_or(false), crashes.next().copied().flatten()).await?;
        queue.extend(next);
    }

    // Every export is done, and the table and sync state are those of one
    // in-order delivery, and of R3 read directly.
    for x in &world.exports {
        let rec = run.store.inner.export(&x.id).await.unwrap().expect("a record");
        prop_assert!(rec.status.is_done() && rec.lease.is_none(), "{} left {:?}", x.id, rec.status);
    }
    let (table, sync) = in_order(world, s).await;
    let got = table_of(&run.store.inner);
    prop_assert_eq!(&got, &table, "the table differs from one in-order delivery's");
    prop_assert_eq!(&got, &world.expected_table(), "the table differs from R3 read directly");
    let state = run.store.inner.sync_state().await.unwrap();
    prop_assert_eq!(state.watermark, world.expected_watermark());
    prop_assert_eq!((state.watermark, &state.pending), (sync.watermark, &sync.pending), "the sync state differs");
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_delivery_of_the_exports_converges_to_one_in_order_delivery((world, schedule) in world_and_schedule()) {
        runtime().block_on(run(&world, &schedule))?;
    }
}

/// Found by the property: an export beyond a gap, killed after recording
/// its coverage and retried, was listed twice among the pending ranges.
#[test]
fn regression_a_retry_after_the_coverage_was_recorded_does_not_list_it_twice() {
    let world = World { log: vec![], exports: vec![Export { id: "req-0".into(), start: 8, end: 20, events: vec![] }] };
    let schedule = Schedule {
        deliveries: vec![1],
        picks: vec![],
        short: vec![],
        crashes: vec![Some(CrashAt { call: 4, after: true })],
        checkpoint_rows: 1,
        concurrency: 1,
    };
    runtime().block_on(run(&world, &schedule)).unwrap();
}

/// Finding (not fixed: it needs a tie-break stored with each contact): two
/// rows of one contact at the same operation time, in two overlapping
/// exports whose rows interleave. B applies the CREATE and stops at a
/// checkpoint; A finds both rows no newer than B's (another export's row at
/// the same time) and skips them, then moves the watermark past them; B's
/// UPDATE is then skipped by the watermark. The table keeps the CREATE, where
/// an in-order delivery keeps the UPDATE.
#[test]
#[ignore = "a known divergence, see docs/reliability.md"]
fn two_rows_of_one_contact_at_the_same_time_in_overlapping_exports() {
    use world::Event;
    let row = |op, variant| Event { contact: 2, time: 6, op, variant, account: 1, product: 1, bad: None };
    let world = World {
        log: vec![row(Op::Create, 2), row(Op::Update, 0)],
        exports: vec![
            Export { id: "req-a".into(), start: 0, end: 8, events: vec![0, 1] },
            Export { id: "req-b".into(), start: 4, end: 12, events: vec![0, 1] },
        ],
    };
    let schedule = Schedule {
        deliveries: vec![1, 1],
        // B first, out of time after one row; then A; then B's continuation.
        picks: vec![1, 0, 0],
        short: vec![true],
        crashes: vec![],
        checkpoint_rows: 1,
        concurrency: 1,
    };
    runtime().block_on(run(&world, &schedule)).unwrap();
}
