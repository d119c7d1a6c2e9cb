//! The rules of start-export against the in-memory export log and a
//! recording export source: no Java, no moto, no stand-in.

use std::sync::Mutex;

use psc_bridge::aws::AwsError;
use psc_bridge::memory::MemoryStore;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{ExportParams, ExportRecord, ExportStatus};
use psc_bridge::ports::{ExportLog, ExportSource};
use psc_bridge::sync::SyncState;
use start_export::{Outcome, Report, StartExport};

use crate::common::*;

/// Records every request; answers with the next id, or with `error`.
#[derive(Default)]
struct Source {
    calls: Mutex<Vec<ExportParams>>,
    error: Mutex<Option<AwsError>>,
    answer: Mutex<Option<String>>,
}

impl ExportSource for &Source {
    async fn start_export(&self, params: &ExportParams) -> Result<String, AwsError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(params.clone());
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(self.answer.lock().unwrap().clone().unwrap_or_else(|| format!("mem-request-{}", calls.len())))
    }
}

impl Source {
    fn asked_from_dates(&self) -> Vec<String> {
        self.calls.lock().unwrap().iter().map(|p| p.from_date.to_iso()).collect()
    }
}

fn handler<'a>(source: &'a Source, store: &'a MemoryStore) -> StartExport<&'a Source, &'a MemoryStore> {
    StartExport::new(source, store, settings("psc-bucket"), Metrics::new("PscBridgeTest"))
}

fn started(report: Report) -> String {
    match report.outcome {
        Ok(Outcome::Started { request_id, .. }) => request_id,
        other => panic!("expected a start, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_run_starts_from_the_initial_date_and_records_the_request() {
    let (source, store) = (Source::default(), MemoryStore::new());
    let report = handler(&source, &store).run(json(SCHEDULE)).await;
    assert_eq!(report.metric("DataStale"), Some(1.0), "no watermark yet: stale");
    assert_eq!(report.metric("StartExportFailed"), Some(0.0));
    let id = started(report);
    assert_eq!(source.asked_from_dates(), [INITIAL]);
    let call = source.calls.lock().unwrap()[0].clone();
    assert_eq!((call.role_arn.as_str(), call.bucket.as_str(), call.prefix.as_str()), (ROLE, "psc-bucket", PREFIX));
    assert!(call.customer_defined_values.contains(&("trigger".into(), "schedule".into())));
    let rec = store.export(&id).await.unwrap().expect("recorded");
    assert_eq!(rec.status, ExportStatus::Requested);
    assert_eq!(rec.from_date, Some(ts(INITIAL)));
}

#[tokio::test]
async fn later_runs_start_from_the_watermark_or_the_date_asked_for() {
    let (source, store) = (Source::default(), MemoryStore::new());
    store.set_sync_state(SyncState { watermark: Some(ts("2026-11-20T17:00:00.000Z")), ..Default::default() });
    let h = handler(&source, &store);
    started(h.run(json(MANUAL)).await);
    started(h.run(json(r#"{"fromDate": "2016-05-01T00:00:00.000Z", "force": true}"#)).await);
    assert_eq!(source.asked_from_dates(), ["2026-11-20T17:00:00.000Z", "2016-05-01T00:00:00.000Z"]);
}

#[tokio::test]
async fn an_unanswered_recent_export_blocks_an_unforced_run() {
    let (source, store) = (Source::default(), MemoryStore::new());
    let h = handler(&source, &store);
    let first = started(h.run(json(SCHEDULE)).await);
    match h.run(json(SCHEDULE)).await.outcome {
        Ok(Outcome::Skipped { pending_request_id, reason }) => {
            assert_eq!(pending_request_id, first);
            assert!(reason.contains("force"), "{reason}");
        }
        other => panic!("expected a skip, got {other:?}"),
    }
    assert_eq!(source.calls.lock().unwrap().len(), 1, "no pile-up");
    started(h.run(json(FORCE)).await);
    assert_eq!(source.calls.lock().unwrap().len(), 2, "force starts another");

    // An answered export does not block.
    let (source, store) = (Source::default(), MemoryStore::new());
    let mut done = ExportRecord::new("answered-1", ExportStatus::Applied);
    done.requested_at = Some(psc_bridge::domain::Timestamp::now());
    store.insert_export(done);
    started(handler(&source, &store).run(json(SCHEDULE)).await);
}

#[tokio::test]
async fn a_full_resync_resets_the_watermark_before_it_asks() {
    let (source, store) = (Source::default(), MemoryStore::new());
    store.set_sync_state(SyncState { watermark: Some(ts("2026-11-20T17:00:00.000Z")), ..Default::default() });
    started(handler(&source, &store).run(json(FULL_RESYNC)).await);
    assert_eq!(source.asked_from_dates(), [INITIAL]);
    assert_eq!(store.sync_state().await.unwrap().watermark, None);
}

#[tokio::test]
async fn a_failed_or_odd_answer_is_a_cas_error_and_records_nothing() {
    let (source, store) = (Source::default(), MemoryStore::new());
    *source.error.lock().unwrap() =
        Some(AwsError::service("CAS", "StartSupportDataExport", "ThrottlingException", "Rate exceeded", 400));
    let report = handler(&source, &store).run(json(SCHEDULE)).await;
    assert_eq!(report.metric("StartExportFailed"), Some(1.0));
    let err = report.outcome.unwrap_err();
    assert_eq!(err.error_type(), "CasError");
    assert!(err.to_string().contains("ThrottlingException (HTTP 400): Rate exceeded"), "{err}");
    assert!(store.recent_exports(10).await.unwrap().is_empty());

    *source.error.lock().unwrap() = None;
    *source.answer.lock().unwrap() = Some("not a request id!".into());
    let err = handler(&source, &store).run(json(SCHEDULE)).await.outcome.unwrap_err();
    assert_eq!(err.error_type(), "CasError");
    assert!(err.to_string().contains("without a usable dataSetRequestId"), "{err}");
    assert!(store.recent_exports(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_table_outage_is_a_store_error_and_nothing_is_started() {
    let source = Source::default();
    let store = MemoryStore::failing(AwsError::service("DynamoDB", "GetItem", "AccessDeniedException", "denied", 400));
    let err = handler(&source, &store).run(json(SCHEDULE)).await.outcome.unwrap_err();
    assert_eq!(err.error_type(), "StoreError");
    assert!(err.to_string().ends_with("; no export was started"), "{err}");
    assert!(source.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_calls_nothing() {
    let (source, store) = (Source::default(), MemoryStore::new());
    let report = handler(&source, &store).run(json(BAD_UNKNOWN_KEY)).await;
    assert_eq!(report.outcome.unwrap_err().error_type(), "InvalidInput");
    assert!(source.calls.lock().unwrap().is_empty());
    assert_eq!(store.sync_reads(), 0);
}
