//! Exports that do not fit in one invocation (issue 14): DynamoDB Local and
//! the S3 server, with the test playing Lambda: it gives each invocation a
//! short deadline, and invokes the continuations the ingest asks for one
//! after the other, as Lambda runs asynchronous invokes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use ingest_export::{Ingest, Invocation, Settings, apply_export_with, rejects_key};
use psc_bridge::aws::AwsError;
use psc_bridge::aws::dynamodb::item::decode_contact;
use psc_bridge::domain::{AwsAccountId, ContactRecord, Guid, ProductCode};
use psc_bridge::memory::{MemoryContinuations, MemoryStore};
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{
    Checkpoint, Counts, ExportOutcome, ExportRecord, ExportRequest, ExportStatus, Lease, Page, StoredContact,
    WriteOutcome,
};
use psc_bridge::ports::{ContactStore, ExportLog, LookupError};
use psc_bridge::sync::{Coverage, SyncState};

use crate::helpers::*;

/// The split export's rows: one write request each, so a debug build takes
/// about a minute for them against DynamoDB Local (slower beside other
/// tests): enough for several invocations of 3 s.
const ROWS: usize = 3_000;
/// The killed export's rows, and where it checkpoints: killed past the
/// second checkpoint, it has rows on both sides of it.
const KILL_ROWS: usize = 3_000;
const KILL_CHECKPOINT_ROWS: u64 = 500;
const END: &str = "2026-11-30T00:00:00.000Z";

fn guid(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", 0x5e55_0000u32, i)
}

/// `n` rows: 45k contacts created, then later rows of earlier contacts
/// (updates and deletions, so a contact's rows fall in different segments),
/// and one bad row in a thousand (an unknown operation type).
fn big_export(n: usize) -> String {
    let contacts = n * 9 / 10;
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let time = format!("2026-01-01T00:{:02}:{:02}.{:03}Z", i / 60_000 % 60, i / 1000 % 60, i % 1000);
            if i % 1000 == 999 {
                upsert_row(&guid(i), &format!("Bad{i}"), &time, "FROB")
            } else if i < contacts {
                upsert_row(&guid(i), &format!("Person{i}"), &time, "CREATE")
            } else if i % 3 == 0 {
                delete_row(&guid(i - contacts), &time)
            } else {
                upsert_row(&guid(i - contacts), &format!("Renamed{i}"), &time, "UPDATE")
            }
        })
        .collect();
    csv(&rows)
}

/// The live contacts of `table`, by Customer Guid.
pub(crate) async fn live_contacts(table: &str) -> Vec<StoredContact> {
    let ddb = devkit::Emulators::get().await.dynamodb_client();
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = ddb.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        out.extend(page.items().iter().filter_map(decode_contact));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            out.sort_by(|a, b| a.customer_guid.as_str().cmp(b.customer_guid.as_str()));
            return out;
        }
    }
}

/// What one pass of `body` gives, on the in-memory store (the same rules
/// as the table's conditions): the counts, the live contacts, the rejects
/// report.
pub(crate) async fn one_pass(body: &str, request_id: &str) -> (Counts, Vec<StoredContact>, String) {
    let store = MemoryStore::new();
    let writes = Settings::default().writes();
    let report =
        apply_export_with(&store, std::io::Cursor::new(body.as_bytes().to_vec()), request_id, t(INITIAL), writes)
            .await
            .expect("one pass");
    let rejects = report.rejects.map(|f| std::fs::read_to_string(f.path()).unwrap()).unwrap_or_default();
    let mut live = store.live_contacts();
    live.sort_by(|a, b| a.customer_guid.as_str().cmp(b.customer_guid.as_str()));
    (report.counts, live, rejects)
}

fn after(ms: u64) -> Option<SystemTime> {
    Some(SystemTime::now() + Duration::from_millis(ms))
}

#[tokio::test]
async fn a_short_deadline_splits_an_export_across_invocations_and_ends_as_one_pass_would() {
    let body = big_export(ROWS);

    // What one pass gives.
    let (counts, live, rejects) = one_pass(&body, "req-big").await;
    assert_eq!(counts.rejected as usize, ROWS / 1000, "{counts:?}");

    // The same export, 1 s per invocation (half of it for writes, and at
    // least the ingest's 1,000 rows per invocation: three invocations; at
    // 3 s the contact write, without the SDK's orchestrator, applied the
    // 3,000 rows in two), a checkpoint every 4,000 rows.
    let split = TestEnv::with_settings(|s| Settings { checkpoint_rows: 4_000, ..s }).await;
    let settings =
        Settings { initial_from_date: t(INITIAL), write_concurrency: 8, checkpoint_rows: 4_000, ..Settings::default() };
    let ingest = Ingest::new(split.s3.clone(), split.store.clone(), settings, Metrics::new("PscBridgeTest"))
        .with_continuation(MemoryContinuations::new());
    let msg = split.stage_export("req-big", &body, INITIAL, END).await;
    let started = std::time::Instant::now();
    let mut summary = ingest
        .handle_message_in(&msg, "sns-1", &Invocation { id: "inv-1".into(), deadline: after(1_000) })
        .await
        .expect("the first invocation");
    let mut invocations = 1;
    let mut seen_progress = None;
    while summary.status == ExportStatus::Applying {
        let rec = split.store.export("req-big").await.unwrap().expect("the export record");
        let cp = rec.checkpoint.expect("a checkpoint while in flight");
        assert!(cp.position.byte > 0 && cp.position.byte < cp.size, "{cp:?}");
        assert_eq!(cp.invocations, invocations, "{cp:?}");
        seen_progress.get_or_insert(cp.position);
        let payloads = ingest.continuation().take();
        assert_eq!(payloads.len(), 1, "one continuation per invocation that ran out of time: {payloads:?}");
        invocations += 1;
        assert!(invocations < 60, "the export must finish");
        let inv = Invocation { id: format!("inv-{invocations}"), deadline: after(1_000) };
        let out = ingest.handle(payloads[0].clone(), &inv).await.expect("a continuation");
        summary = out.into_iter().next().expect("one summary");
    }
    println!("{ROWS} rows: {invocations} invocations, {:.1}s", started.elapsed().as_secs_f64());
    assert!(invocations >= 3, "a 1 s deadline splits {ROWS} rows: {invocations} invocation(s)");
    assert!(ingest.continuation().take().is_empty(), "no continuation after the end");

    // The same table, counts and rejects report as the one pass.
    assert_eq!(summary.status, ExportStatus::Partial);
    assert_eq!(summary.counts, counts);
    assert!(live_contacts(split.store.table()).await == live, "the table differs from one pass's");
    let report = split.get_object(&rejects_key("psc/req-big.csv")).await.expect("the rejects report");
    assert_eq!(report.lines().count(), 1 + ROWS / 1000, "the header and the rejects, once each");
    assert_eq!(report, rejects, "the same rejects report");
    let rec = split.store.export("req-big").await.unwrap().unwrap();
    assert_eq!((rec.status, rec.counts, rec.lease), (ExportStatus::Partial, counts, None));
    split.assert_logs_clean();
}

/// A store that counts the contact writes it sends.
#[derive(Clone)]
struct Counting<S> {
    inner: S,
    rows: Arc<AtomicUsize>,
}

impl<S: ContactStore> ContactStore for Counting<S> {
    async fn apply(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, AwsError> {
        self.rows.fetch_add(1, Ordering::Relaxed);
        self.inner.apply(rec, request_id).await
    }
    async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Page<StoredContact>, LookupError> {
        self.inner.contacts_by_account(account, product, cursor, limit).await
    }
    async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, AwsError> {
        self.inner.contacts_by_email(email).await
    }
    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, AwsError> {
        self.inner.contact_by_guid(guid).await
    }
}

impl<S: ExportLog> ExportLog for Counting<S> {
    async fn sync_state(&self) -> Result<SyncState, AwsError> {
        self.inner.sync_state().await
    }
    async fn record_coverage(
        &self,
        c: Coverage,
        initial: psc_bridge::domain::Timestamp,
    ) -> Result<SyncState, AwsError> {
        self.inner.record_coverage(c, initial).await
    }
    async fn reset_watermark(&self) -> Result<SyncState, AwsError> {
        self.inner.reset_watermark().await
    }
    async fn export(&self, id: &str) -> Result<Option<ExportRecord>, AwsError> {
        self.inner.export(id).await
    }
    async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, AwsError> {
        self.inner.recent_exports(limit).await
    }
    async fn export_requested(&self, r: &ExportRequest) -> Result<(), AwsError> {
        self.inner.export_requested(r).await
    }
    async fn export_received(
        &self,
        id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> Result<(), AwsError> {
        self.inner.export_received(id, status, coverage, message).await
    }
    async fn export_finished(&self, id: &str, o: &ExportOutcome) -> Result<(), AwsError> {
        self.inner.export_finished(id, o).await
    }
    async fn claim_export(
        &self,
        id: &str,
        lease: &Lease,
        now: psc_bridge::domain::Timestamp,
    ) -> Result<Option<ExportRecord>, AwsError> {
        self.inner.claim_export(id, lease, now).await
    }
    async fn save_checkpoint(&self, id: &str, owner: &str, c: &Checkpoint, release: bool) -> Result<bool, AwsError> {
        self.inner.save_checkpoint(id, owner, c, release).await
    }
}

#[tokio::test]
async fn a_killed_invocation_resumes_from_its_checkpoint_and_a_duplicate_waits_its_turn() {
    let body = big_export(KILL_ROWS);
    let env = TestEnv::new().await;
    let msg = env.stage_export("req-kill", &body, INITIAL, END).await;
    let rows = Arc::new(AtomicUsize::new(0));
    let store = Counting { inner: env.store.clone(), rows: rows.clone() };
    let settings = Settings {
        initial_from_date: t(INITIAL),
        write_concurrency: 8,
        checkpoint_rows: KILL_CHECKPOINT_ROWS,
        ..Settings::default()
    };
    let ingest = Arc::new(Ingest::new(env.s3.clone(), store, settings, Metrics::new("PscBridgeTest")));

    // The first invocation is killed once it has checkpointed past its
    // second checkpoint: the task is dropped where it is, as a process kill
    // leaves it.
    // Its deadline is far off: the retry below reuses it, and one row per
    // request against a busy DynamoDB Local can take minutes for the rows.
    let first = Invocation { id: "inv-1".into(), deadline: after(900_000) };
    let task = {
        let (ingest, msg, first) = (ingest.clone(), msg.clone(), first.clone());
        tokio::spawn(async move { ingest.handle_message_in(&msg, "sns-1", &first).await })
    };
    let checkpoint = loop {
        let cp = env.store.export("req-kill").await.unwrap().and_then(|r| r.checkpoint);
        if let Some(cp) = cp.filter(|c| c.position.line > 2 * KILL_CHECKPOINT_ROWS) {
            task.abort();
            break cp;
        }
        assert!(!task.is_finished(), "the export ended before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = task.await;
    let sent_before = rows.load(Ordering::Relaxed);
    let done_before = (checkpoint.position.line - 2) as usize;
    assert!(
        sent_before >= done_before - checkpoint.counts.rejected as usize - checkpoint.counts.skipped_stale as usize
    );

    // A duplicate delivery while the killed invocation's lease runs: it
    // leaves the export alone and writes nothing.
    let dup = ingest
        .handle_message_in(&msg, "sns-1", &Invocation { id: "inv-2".into(), deadline: after(60_000) })
        .await
        .expect("a harmless duplicate");
    assert!(dup.duplicate && dup.status == ExportStatus::Applying, "{dup:?}");
    assert_eq!(rows.load(Ordering::Relaxed), sent_before, "the duplicate sent no write");

    // Lambda retries the killed invocation (the same request id): it goes
    // on from the checkpoint, not from the first row.
    rows.store(0, Ordering::Relaxed);
    let done = ingest.handle_message_in(&msg, "sns-1", &first).await.expect("resumed to the end");
    assert_eq!(done.status, ExportStatus::Partial, "{done:?}");
    let resent = rows.load(Ordering::Relaxed);
    let rest = KILL_ROWS - done_before;
    assert!(
        resent <= rest,
        "{resent} writes sent after the kill; rows after the checkpoint (line {}): {rest}",
        checkpoint.position.line
    );
    assert!(resent >= rest - 100, "{resent} writes for the {rest} rows left");

    // The end is the one pass's: the counts and rejects of every row once.
    let (counts, live, rejects) = one_pass(&body, "req-kill").await;
    assert_eq!(done.counts, counts);
    assert!(live_contacts(env.store.table()).await == live, "the table differs from one pass's");
    assert_eq!(env.get_object(&rejects_key("psc/req-kill.csv")).await.as_deref(), Some(rejects.as_str()));
    env.assert_logs_clean();
}
