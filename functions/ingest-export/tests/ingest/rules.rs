//! The ingest rules against the in-memory ports: no Java, no moto. The same
//! stories as the DynamoDB Local tests, plus the faults an emulator cannot
//! produce on demand.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ingest_export::{ExportSummary, Ingest, IngestError, Settings, Writes, apply_export_with};
use psc_bridge::aws::AwsError;
use psc_bridge::domain::Guid;
use psc_bridge::memory::{MemoryObjects, MemoryStore};
use psc_bridge::metrics::Metrics;
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::{ContactStore, ExportLog};
use psc_bridge::retry::Backoff;

use crate::helpers::{INITIAL, csv, delete_row, metadata, notification, t, upsert_row};

const BUCKET: &str = "exports";
/// Throttling backoff for tests: the same rounds, millisecond waits.
const FAST: Backoff = Backoff::new(12, Duration::from_millis(2), Duration::from_millis(4));
const X: &str = "0f4a0d6e-0000-4000-8000-00000000000a";
const Y: &str = "0f4a0d6e-0000-4000-8000-00000000000b";

struct Mem {
    ingest: Ingest<MemoryStore, MemoryObjects>,
}

impl Mem {
    fn new() -> Self {
        Self::with_store(MemoryStore::new())
    }

    fn with_store(store: MemoryStore) -> Self {
        let settings =
            Settings { initial_from_date: t(INITIAL), write_concurrency: 4, throttling: FAST, ..Settings::default() };
        Self { ingest: Ingest::new(MemoryObjects::new(), store, settings, Metrics::new("PscBridgeTest")) }
    }

    fn store(&self) -> &MemoryStore {
        self.ingest.store()
    }

    fn objects(&self) -> &MemoryObjects {
        self.ingest.objects()
    }

    /// Puts the CSV and metadata where CAS would; returns the notification.
    fn stage(&self, id: &str, csv: &str, start: &str, end: &str) -> String {
        let (csv_key, meta_key) = (format!("psc/{id}.csv"), format!("psc/{id}.meta.json"));
        self.objects().put(BUCKET, &csv_key, csv.as_bytes().to_vec());
        self.objects().put(BUCKET, &meta_key, metadata(id, start, end, BUCKET, &csv_key, &meta_key));
        notification(id, BUCKET, &csv_key, &meta_key)
    }

    async fn deliver(&self, msg: &str) -> Result<ExportSummary, IngestError> {
        self.ingest.handle_message(msg, "sns-message-id").await
    }

    async fn apply(&self, id: &str, csv: &str, start: &str, end: &str) -> ExportSummary {
        let msg = self.stage(id, csv, start, end);
        self.deliver(&msg).await.expect("export applied")
    }
}

fn guid(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

#[tokio::test]
async fn creates_updates_and_deletes_erase_the_contact_fields() {
    let m = Mem::new();
    let first = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row(Y, "Yolanda", "2020-01-03T00:00:00.000Z", "CREATE"),
    ]);
    let s = m.apply("req-1", &first, INITIAL, "2020-01-05T00:00:00.000Z").await;
    assert_eq!((s.status, s.counts.created), (ExportStatus::Applied, 2));
    assert_eq!(s.watermark, Some(t("2020-01-05T00:00:00.000Z")));

    let second =
        csv(&[upsert_row(X, "Xavi", "2020-01-06T00:00:00.000Z", "UPDATE"), delete_row(Y, "2020-01-06T00:00:00.000Z")]);
    let s = m.apply("req-2", &second, "2020-01-05T00:00:00.000Z", "2020-01-07T00:00:00.000Z").await;
    assert_eq!((s.counts.updated, s.counts.deleted), (1, 1));
    let x = m.store().contact_by_guid(&guid(X)).await.unwrap().expect("X is live");
    assert_eq!(x.details.given_name, "Xavi");
    let y = m.store().held(&guid(Y)).expect("a deletion marker");
    assert_eq!(y.contact, None, "a DELETE keeps no contact field");
    assert_eq!(y.operation_time, t("2020-01-06T00:00:00.000Z"));
    assert!(m.store().contacts_by_email("Yolanda@example.net").await.unwrap().is_empty());
    let recent: Vec<String> = m.store().recent_exports(10).await.unwrap().into_iter().map(|e| e.request_id).collect();
    assert_eq!(recent, ["req-2", "req-1"]);
}

#[tokio::test]
async fn a_duplicate_delivery_changes_nothing() {
    let m = Mem::new();
    let body = csv(&[upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE")]);
    let msg = m.stage("req-dup", &body, INITIAL, "2020-01-05T00:00:00.000Z");
    let first = m.deliver(&msg).await.unwrap();
    let writes = m.store().writes();
    let second = m.deliver(&msg).await.unwrap();
    assert!(!first.duplicate && second.duplicate);
    assert_eq!(second.counts, first.counts);
    assert_eq!(m.store().writes(), writes, "a duplicate writes no contact");
}

#[tokio::test]
async fn a_late_old_export_does_not_resurrect_a_deleted_contact() {
    let m = Mem::new();
    let old = csv(&[upsert_row(X, "Lazarus", "2020-01-05T00:00:00.000Z", "CREATE")]);
    let new = csv(&[delete_row(X, "2020-01-15T00:00:00.000Z")]);
    let b = m.apply("req-b", &new, "2020-01-10T00:00:00.000Z", "2020-01-20T00:00:00.000Z").await;
    assert_eq!((b.counts.deleted, b.watermark), (1, None), "a gap: the watermark waits");
    let a = m.apply("req-a", &old, INITIAL, "2020-01-10T00:00:00.000Z").await;
    assert_eq!((a.counts.created, a.counts.skipped_stale), (0, 1));
    assert_eq!(a.watermark, Some(t("2020-01-20T00:00:00.000Z")), "the gap closed");
    assert!(m.store().contact_by_guid(&guid(X)).await.unwrap().is_none());
    let again = m.apply("req-a-again", &old, INITIAL, "2020-01-10T00:00:00.000Z").await;
    assert_eq!(again.counts.skipped_stale, 1);
    assert_eq!(m.store().held(&guid(X)).unwrap().export_request_id, "req-b", "skipped without a write");
}

#[tokio::test]
async fn missing_files_and_failure_notifications_are_recorded_as_failed_not_retried() {
    let m = Mem::new();
    let s =
        m.deliver(r#"{"dataSetRequestId":"req-failed","success":false,"message":"Unable to write"}"#).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    let rec = m.store().export("req-failed").await.unwrap().unwrap();
    assert_eq!(rec.message.as_deref(), Some("Unable to write"));

    let msg = notification("req-nometa", BUCKET, "psc/none.csv", "psc/none.meta.json");
    let s = m.deliver(&msg).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    assert!(s.message.unwrap().contains("metadata file s3://exports/psc/none.meta.json does not exist"));

    let msg = m.stage("req-nocsv", "", INITIAL, "2020-01-05T00:00:00.000Z");
    let moved = msg.replace("psc/req-nocsv.csv", "psc/moved.csv");
    let s = m.deliver(&moved).await.unwrap();
    assert!(s.message.unwrap().contains("the data set s3://exports/psc/moved.csv does not exist"));
    assert_eq!(m.store().sync_state().await.unwrap().watermark, None);
}

#[tokio::test]
async fn a_write_that_fails_for_good_fails_the_export_and_holds_the_watermark() {
    let m = Mem::new();
    let doomed = guid(Y);
    m.store().fail_writes(move |rec| {
        (rec.key.customer_guid == doomed)
            .then(|| AwsError::service("DynamoDB", "PutItem", "ValidationException", "item too large", 400))
    });
    let body = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row(Y, "Yolanda", "2020-01-03T00:00:00.000Z", "CREATE"),
    ]);
    let msg = m.stage("req-fault", &body, INITIAL, "2020-01-05T00:00:00.000Z");
    let err = m.deliver(&msg).await.unwrap_err();
    assert!(matches!(err, IngestError::WritesFailed { failed: 1, .. }), "{err}");
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "WritesFailed");
    let rec = m.store().export("req-fault").await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Failed);
    assert_eq!(rec.counts.created, 1, "the other row applied");
    assert_eq!(m.store().sync_state().await.unwrap().watermark, None, "not past a lost write");
}

#[tokio::test]
async fn a_table_outage_fails_the_invocation_with_a_store_error() {
    let m = Mem::with_store(MemoryStore::failing(AwsError::service(
        "DynamoDB",
        "GetItem",
        "ProvisionedThroughputExceededException",
        "slow down",
        400,
    )));
    let msg = m.stage("req-outage", &csv(&[]), INITIAL, "2020-01-05T00:00:00.000Z");
    let err = m.deliver(&msg).await.unwrap_err();
    assert_eq!(err.error_type(), "StoreError");
    let IngestError::Store(e) = &err else { panic!("{err}") };
    assert!(e.retryable && e.has_code("ProvisionedThroughputExceededException"), "{e:?}");
}

#[tokio::test]
async fn rejected_rows_go_to_a_report_beside_the_export() {
    let m = Mem::new();
    let body = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row("not-a-guid", "Badguid", "2020-01-02T00:00:00.000Z", "CREATE"),
    ]);
    let s = m.apply("req-partial", &body, INITIAL, "2020-01-05T00:00:00.000Z").await;
    assert_eq!((s.status, s.counts.created, s.counts.rejected), (ExportStatus::Partial, 1, 1));
    assert_eq!(s.rejects_report.as_deref(), Some("s3://exports/psc/req-partial.csv.rejects.csv"));
    let report = String::from_utf8(m.objects().get(BUCKET, "psc/req-partial.csv.rejects.csv").unwrap()).unwrap();
    assert!(report.starts_with("line,reason,"), "{report}");
    assert!(report.contains("\n3,Customer Guid: must be a 36-character GUID"), "{report}");
    assert!(!report.contains("Badguid"), "no contact field in the report");
}

#[tokio::test]
async fn the_failed_export_event_fixture_is_recorded_as_failed() {
    let m = Mem::new();
    let event = include_str!("../../../../events/sns-export-failed.json");
    let event: aws_lambda_events::event::sns::SnsEvent = serde_json::from_str(event).unwrap();
    let out = m.ingest.handle_event(event).await.expect("recorded, not retried");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, ExportStatus::Failed);
    let rec = m.store().export("646dd4ed-6806-11e5-a6d8-fd5dbcaa74ab").await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Failed);
    assert_eq!(rec.message.as_deref(), Some("Access Denied: the role cannot write to the bucket"));
}

fn throttled() -> AwsError {
    AwsError::service("DynamoDB", "PutItem", "ProvisionedThroughputExceededException", "slow down", 400)
}

#[tokio::test]
async fn sustained_throttling_slows_the_ingest_down_and_loses_nothing() {
    let m = Mem::new();
    // Every write is throttled on its first attempts (the third row on 12,
    // the most a write waits through), as a table past its capacity answers.
    let attempts: Mutex<HashMap<Guid, u32>> = Mutex::new(HashMap::new());
    m.store().fail_writes(move |rec| {
        let mut a = attempts.lock().unwrap();
        let n = a.entry(rec.key.customer_guid.clone()).or_default();
        *n += 1;
        let limit = if rec.key.customer_guid.as_str().ends_with('c') { 12 } else { 2 };
        (*n <= limit).then(throttled)
    });
    let z = "0f4a0d6e-0000-4000-8000-00000000000c";
    let body = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row(Y, "Yolanda", "2020-01-03T00:00:00.000Z", "CREATE"),
        delete_row(z, "2020-01-03T00:00:00.000Z"),
    ]);
    let s = m.apply("req-throttled", &body, INITIAL, "2020-01-05T00:00:00.000Z").await;
    assert_eq!((s.status, s.counts.created, s.counts.deleted), (ExportStatus::Applied, 2, 1));
    assert_eq!(m.store().writes(), 3 + 3 + 13, "each write sent again until it landed");
    assert_eq!(s.watermark, Some(t("2020-01-05T00:00:00.000Z")));
}

#[tokio::test]
async fn throttling_and_server_errors_beyond_the_last_round_leave_the_export_to_a_new_invocation() {
    // No deadline, so the rounds are counted: 12. A write still failing
    // transiently after them is not given up on: the export stays APPLYING,
    // its lease released, for a continuation (none is configured here, so
    // the invocation fails and Lambda would retry it).
    let m = Mem::new();
    m.store().fail_writes(|rec| {
        if rec.key.customer_guid.as_str().ends_with('a') {
            Some(throttled())
        } else {
            Some(AwsError::service("DynamoDB", "PutItem", "InternalServerError", "oops", 500))
        }
    });
    let body = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row(Y, "Yolanda", "2020-01-03T00:00:00.000Z", "CREATE"),
    ]);
    let msg = m.stage("req-hopeless", &body, INITIAL, "2020-01-05T00:00:00.000Z");
    let err = m.deliver(&msg).await.unwrap_err();
    assert!(matches!(err, IngestError::Continuation(_)), "{err}");
    assert_eq!(m.store().writes(), 2 * (1 + 12), "13 tries for each row, the 5xx as the throttled one");
    let rec = m.store().export("req-hopeless").await.unwrap().unwrap();
    assert_eq!((rec.status, rec.lease), (ExportStatus::Applying, None), "not FAILED, free for a new invocation");
    assert_eq!(rec.checkpoint.map(|c| c.position.byte), Some(0), "to start again from the first row");
    assert_eq!(m.store().sync_state().await.unwrap().watermark, None);
}

#[tokio::test]
async fn concurrent_writes_count_and_apply_like_one_row_at_a_time_in_file_order() {
    // Contacts X and Y recur all through the file, some rows newer than the
    // last, some older, among 400 others: writes in flight together must
    // give the counts and the table of one row at a time, in file order.
    let mut rows = Vec::new();
    for k in 0..400u32 {
        let other = format!("0f4a0d6e-0000-4000-8000-{:012}", 1000 + k);
        rows.push(upsert_row(&other, &format!("Other{k}"), "2020-01-02T00:00:00.000Z", "CREATE"));
        if k % 3 == 0 {
            let minute = if k % 2 == 0 { k } else { k / 2 };
            let at = format!("2020-01-03T{:02}:{:02}:00.000Z", minute / 60, minute % 60);
            rows.push(upsert_row(X, &format!("Xavier{k}"), &at, if k == 0 { "CREATE" } else { "UPDATE" }));
            rows.push(if k % 9 == 0 {
                delete_row(Y, &at)
            } else {
                upsert_row(Y, &format!("Yolanda{k}"), &at, "UPDATE")
            });
        }
    }
    let body = csv(&rows);
    let apply = |writes: Writes| {
        let body = body.clone();
        async move {
            let store = MemoryStore::new();
            let input = std::io::Cursor::new(body.into_bytes());
            let report = apply_export_with(&store, input, "req", t(INITIAL), writes).await.unwrap();
            (report, store)
        }
    };
    let (one_by_one, reference) = apply(Writes { concurrency: 1, throttling: FAST }).await;
    let (together, store) = apply(Writes { concurrency: 3, throttling: FAST }).await;
    assert_eq!(together.failed_writes, 0);
    assert_eq!(together.counts, one_by_one.counts);
    assert!(together.counts.skipped_stale > 20 && together.counts.deleted > 5, "{:?}", together.counts);
    assert_eq!(store.live_contacts(), reference.live_contacts());
    assert_eq!(store.held(&guid(Y)), reference.held(&guid(Y)));
    assert_eq!(store.writes(), rows.len(), "each row written once");
}

#[tokio::test]
async fn a_table_failing_past_the_outage_limit_interrupts_the_export_which_a_redelivery_resumes() {
    // No progress allowed at all (the function's limit is 30 minutes): the
    // first segment whose writes still fail at the end of the invocation's
    // time gives the export up, as INTERRUPTED, never FAILED.
    let settings = Settings {
        initial_from_date: t(INITIAL),
        write_concurrency: 4,
        throttling: FAST,
        outage_limit: Duration::ZERO,
        ..Settings::default()
    };
    let m =
        Mem { ingest: Ingest::new(MemoryObjects::new(), MemoryStore::new(), settings, Metrics::new("PscBridgeTest")) };
    m.store().fail_writes(|_| Some(AwsError::service("DynamoDB", "PutItem", "InternalServerError", "down", 500)));
    let body = csv(&[
        upsert_row(X, "Xavier", "2020-01-02T00:00:00.000Z", "CREATE"),
        upsert_row(Y, "Yolanda", "2020-01-03T00:00:00.000Z", "CREATE"),
    ]);
    let msg = m.stage("req-outage", &body, INITIAL, "2020-01-05T00:00:00.000Z");
    let s = m.deliver(&msg).await.expect("the invocation ends normally");
    assert_eq!(s.status, ExportStatus::Interrupted, "{s:?}");
    let rec = m.store().export("req-outage").await.unwrap().unwrap();
    assert_eq!((rec.status, rec.lease), (ExportStatus::Interrupted, None));
    let why = rec.message.unwrap_or_default();
    assert!(why.contains("can be retried") && why.contains("redeliver"), "{why}");
    assert_eq!(m.store().sync_state().await.unwrap().watermark, None);

    // The table is back: a redelivery of the notification applies it.
    m.store().fail_writes(|_| None);
    let s = m.deliver(&msg).await.expect("applied");
    assert_eq!((s.status, s.counts.created), (ExportStatus::Applied, 2));
    assert_eq!(m.store().sync_state().await.unwrap().watermark, Some(t("2020-01-05T00:00:00.000Z")));
}

/// A store whose writes take a while (a millisecond or two, by row) and
/// that notes any contact sent again while its write is still in flight.
struct Overlaps {
    inner: MemoryStore,
    in_flight: Mutex<std::collections::HashSet<Guid>>,
    overlaps: Mutex<Vec<Guid>>,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl ContactStore for Overlaps {
    async fn apply(
        &self,
        rec: &psc_bridge::domain::ContactRecord,
        request_id: &str,
    ) -> Result<psc_bridge::model::WriteOutcome, AwsError> {
        let guid = rec.key.customer_guid.clone();
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            if !in_flight.insert(guid.clone()) {
                self.overlaps.lock().unwrap().push(guid.clone());
            }
            self.most_in_flight.fetch_max(in_flight.len(), std::sync::atomic::Ordering::Relaxed);
        }
        let ms = 1 + u64::from(guid.as_str().as_bytes()[guid.as_str().len() - 1] % 2);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let out = self.inner.apply(rec, request_id).await;
        self.in_flight.lock().unwrap().remove(&guid);
        out
    }
    async fn contacts_by_account(
        &self,
        account: &psc_bridge::domain::AwsAccountId,
        product: Option<&psc_bridge::domain::ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<psc_bridge::model::Page<psc_bridge::model::StoredContact>, psc_bridge::ports::LookupError> {
        self.inner.contacts_by_account(account, product, cursor, limit).await
    }
    async fn contacts_by_email(&self, email: &str) -> Result<Vec<psc_bridge::model::StoredContact>, AwsError> {
        self.inner.contacts_by_email(email).await
    }
    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<psc_bridge::model::StoredContact>, AwsError> {
        self.inner.contact_by_guid(guid).await
    }
}

#[tokio::test]
async fn a_contact_never_has_two_writes_in_flight_and_its_rows_apply_in_file_order() {
    // X's rows come every other line, each newer than the one before, among
    // 300 other contacts; with 8 writes in flight, a second row of X must
    // wait for the first, and the last row of X is what the table keeps.
    let mut rows = Vec::new();
    for k in 0..300u32 {
        let other = format!("0f4a0d6e-0000-4000-8000-{:012}", 2000 + k);
        rows.push(upsert_row(&other, &format!("Other{k}"), "2020-01-02T00:00:00.000Z", "CREATE"));
        let at = format!("2020-01-03T{:02}:{:02}:00.000Z", k / 60, k % 60);
        rows.push(upsert_row(X, &format!("Xavier{k}"), &at, if k == 0 { "CREATE" } else { "UPDATE" }));
    }
    let store = Overlaps {
        inner: MemoryStore::new(),
        in_flight: Mutex::default(),
        overlaps: Mutex::default(),
        most_in_flight: Default::default(),
    };
    let input = std::io::Cursor::new(csv(&rows).into_bytes());
    let writes = Writes { concurrency: 8, throttling: FAST };
    let report = apply_export_with(&store, input, "req", t(INITIAL), writes).await.unwrap();
    assert_eq!(report.failed_writes, 0);
    assert_eq!((report.counts.created, report.counts.updated, report.counts.skipped_stale), (301, 299, 0));
    assert!(store.overlaps.lock().unwrap().is_empty(), "a contact had two writes in flight");
    assert!(store.most_in_flight.load(std::sync::atomic::Ordering::Relaxed) > 1, "the writes ran together");
    let held = store.inner.held(&guid(X)).expect("X is held");
    assert_eq!(held.operation_time, t("2020-01-03T04:59:00.000Z"), "the last row of X");
}
