//! The handler against the CAS stand-in, S3 (moto) and DynamoDB Local.
//!
//! Each test has its own table, bucket and stand-in (seeded with the guide's
//! static test data set, lag 0, notifications to a channel that the test
//! hands to the ingest, requests accepted only when signed for us-east-1
//! while the shared configuration says eu-west-1).
//!
//! Run with `make test SCOPE="-p start-export"`.

use std::time::Duration;

use crate::common::*;
use aws_standin::{InjectedError, Service};
use psc_bridge::model::{ExportRequest, ExportStatus};
use psc_bridge::notification::RequestId;
use psc_bridge::ports::ExportLog;
use serde_json::json;
use start_export::{CasSource, Outcome, StartExportError};

fn started_json(report: &start_export::Report) -> serde_json::Value {
    report.outcome.as_ref().expect("started").to_json()
}

#[tokio::test]
async fn first_run_exports_the_full_set_then_the_next_only_the_changes() {
    let mut h = Harness::new().await;

    // --- first scheduled run: no watermark yet, so from the initial date.
    let (report, id1) = h.started(SCHEDULE).await;
    let body = started_json(&report);
    assert_eq!(
        body,
        json!({"requestId": id1, "fromDate": INITIAL, "dataSetType": "test_customer_support_contacts_data", "trigger": "schedule"})
    );
    assert_eq!(report.metric("StartExportFailed"), Some(0.0));
    assert_eq!(report.metric("DataStale"), Some(1.0), "no data yet: stale");
    assert!(report.metric("WatermarkAgeSeconds").unwrap() > 86_400.0 * 365.0);

    let rec = h.store.export(&id1).await.unwrap().expect("recorded");
    assert_eq!(rec.status, ExportStatus::Requested);
    assert_eq!(rec.from_date, Some(ts(INITIAL)));
    assert_eq!(rec.data_set_type.as_deref(), Some("test_customer_support_contacts_data"));
    assert!(!rec.forced);
    assert!(rec.requested_at.is_some());

    // What CAS received: every configured value, signed for us-east-1.
    let entry = h.entry(&id1).await;
    let p = entry.parameters.clone().expect("JSON body");
    assert_eq!(p["dataSetType"], "test_customer_support_contacts_data");
    assert_eq!(p["roleNameArn"], ROLE);
    assert_eq!(p["destinationS3BucketName"], h.bucket.as_str());
    assert_eq!(p["destinationS3Prefix"], PREFIX);
    assert_eq!(p["snsTopicArn"], TOPIC);
    assert_eq!(p["customerDefinedValues"], json!({"requestedBy": "psc-bridge", "trigger": "schedule"}));
    assert_eq!(p["fromDate"].as_f64(), Some(ts(INITIAL).unix_seconds() as f64));
    assert_eq!(entry.credential.as_ref().unwrap().region, "us-east-1");
    assert_eq!(entry.credential.as_ref().unwrap().service, "marketplacecommerceanalytics");

    // The full set: one row per record of the guide's data.
    let rows = h.csv(&id1).await;
    let mut guids: Vec<_> = rows.iter().map(|r| r["Customer Guid"].clone()).collect();
    guids.sort();
    let mut expected: Vec<_> = GUIDE_GUIDS.iter().map(|g| g.to_string()).collect();
    expected.sort();
    assert_eq!(guids, expected);

    let summary = h.deliver(&id1).await;
    assert_eq!(summary.status, ExportStatus::Applied);
    assert_eq!(summary.counts.applied(), 5);
    let w1 = h.store.sync_state().await.unwrap().watermark.expect("the first export sets the watermark");
    assert_eq!(h.store.export(&id1).await.unwrap().unwrap().status, ExportStatus::Applied);

    // --- the records change in the stand-in.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let new_guid = "5d1c7a52-9a43-4c1b-8d0e-3f6b2a9c4e10";
    h.standin.store().upsert(new_contact(new_guid), None);
    let mut changed = h.standin.store().latest(GUIDE_GUIDS[2]).unwrap().contact();
    changed.email = Some("ravi.smith@example.com".into());
    h.standin.store().upsert(changed, None);
    h.standin.store().delete(GUIDE_GUIDS[0], None).unwrap();

    // --- next scheduled run: from the watermark, only the changes.
    let (report, id2) = h.started(SCHEDULE).await;
    assert_ne!(id1, id2);
    assert_eq!(started_json(&report)["fromDate"], w1.to_iso());
    assert_eq!(report.metric("DataStale"), Some(0.0), "the watermark is fresh");
    assert!(report.metric("WatermarkAgeSeconds").unwrap() < 600.0);
    let rows = h.csv(&id2).await;
    let mut expected = vec![
        (new_guid.to_owned(), "CREATE".to_owned()),
        (GUIDE_GUIDS[2].to_owned(), "UPDATE".to_owned()),
        (GUIDE_GUIDS[0].to_owned(), "DELETE".to_owned()),
    ];
    expected.sort();
    assert_eq!(guid_ops(&rows), expected);
    let deleted = rows.iter().find(|r| r["Operation Type"] == "DELETE").unwrap();
    assert!(deleted["Email"].is_empty() && deleted["Given Name"].is_empty(), "a DELETE row carries no contact fields");
    let summary = h.deliver(&id2).await;
    assert_eq!(summary.status, ExportStatus::Applied);
    assert_eq!((summary.counts.created, summary.counts.updated, summary.counts.deleted), (1, 1, 1));
    assert_eq!(summary.counts.skipped_stale, 0);
    let w2 = h.store.sync_state().await.unwrap().watermark.unwrap();
    assert!(w2 > w1);
    let exports = h.store.recent_exports(10).await.unwrap();
    assert_eq!(exports.len(), 2);
    assert!(exports.iter().all(|e| e.status == ExportStatus::Applied));
}

#[tokio::test]
async fn handle_returns_the_documented_json() {
    let h = Harness::new().await;
    let out = h.handler.handle(json(MANUAL)).await.expect("started");
    let obj = out.as_object().unwrap();
    let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["dataSetType", "fromDate", "requestId", "trigger"]);
    assert_eq!(out["trigger"], "manual");
    let entry = h.entry(out["requestId"].as_str().unwrap()).await;
    assert_eq!(entry.parameters.unwrap()["customerDefinedValues"]["trigger"], "manual");
}

#[tokio::test]
async fn manual_full_resync_resets_the_watermark_and_exports_everything() {
    let mut h = Harness::new().await;
    let (_, id1) = h.started(SCHEDULE).await;
    h.deliver(&id1).await;
    let w1 = h.store.sync_state().await.unwrap().watermark.unwrap();

    let (report, id2) = h.started(FULL_RESYNC).await;
    let body = started_json(&report);
    assert_eq!(body["fromDate"], INITIAL);
    assert_eq!(body["trigger"], "fullResync");
    assert_eq!(h.store.sync_state().await.unwrap().watermark, None, "reset before the export arrives");
    let entry = h.entry(&id2).await;
    assert_eq!(entry.parameters.unwrap()["customerDefinedValues"]["trigger"], "fullResync");
    assert_eq!(h.csv(&id2).await.len(), GUIDE_GUIDS.len(), "the full set again");
    let rec = h.store.export(&id2).await.unwrap().unwrap();
    assert_eq!(rec.from_date, Some(ts(INITIAL)));

    // Applying it finds every row already in the table, and rebuilds the watermark.
    let summary = h.deliver(&id2).await;
    assert_eq!(summary.status, ExportStatus::Applied);
    assert_eq!(summary.counts.skipped_stale, GUIDE_GUIDS.len() as u64);
    let w2 = h.store.sync_state().await.unwrap().watermark.expect("rebuilt");
    assert!(w2 >= w1);
}

#[tokio::test]
async fn an_explicit_from_date_exports_from_there_and_leaves_the_watermark_alone() {
    let mut h = Harness::new().await;
    let (_, id1) = h.started(SCHEDULE).await;
    h.deliver(&id1).await;
    let w1 = h.store.sync_state().await.unwrap().watermark;

    let (report, id2) = h.started(FROM_DATE).await;
    let body = started_json(&report);
    assert_eq!(body["fromDate"], "2016-05-01T00:00:00.000Z");
    assert_eq!(body["trigger"], "manual");
    assert_eq!(h.store.sync_state().await.unwrap().watermark, w1);
    // The guide's records changed on or after 2016-05-01.
    let mut guids: Vec<_> = h.csv(&id2).await.iter().map(|r| r["Customer Guid"].clone()).collect();
    guids.sort();
    let mut expected = vec![GUIDE_GUIDS[0], GUIDE_GUIDS[1], GUIDE_GUIDS[4]];
    expected.sort();
    assert_eq!(guids, expected);
}

#[tokio::test]
async fn bad_manual_payloads_are_rejected_and_nothing_is_requested() {
    let mut h = Harness::new().await;
    let (_, id1) = h.started(SCHEDULE).await;
    h.deliver(&id1).await;
    let state = h.store.sync_state().await.unwrap();
    let requests = h.standin.requests().len();

    let cases: Vec<(String, &str)> = vec![
        (BAD_UNKNOWN_KEY.to_owned(), "resync"),
        (BAD_WRONG_TYPE.to_owned(), "fullResync"),
        (BAD_BOTH.to_owned(), "fromDate"),
        (BAD_FUTURE_DATE.to_owned(), "fromDate"),
        (BAD_UNPARSEABLE_DATE.to_owned(), "fromDate"),
        (BAD_OTHER_EVENT.to_owned(), "detail-type"),
        ("null".to_owned(), "payload"),
        ("[]".to_owned(), "payload"),
        (r#"{"fullResync": true, "force": "yes"}"#.to_owned(), "force"),
        (r#"{"fromDate": 1462060800}"#.to_owned(), "fromDate"),
        (r#"{"fullResync": false}"#.to_owned(), "fullResync"),
    ];
    for (payload, field) in cases {
        let report = h.run(&payload).await;
        assert!(report.metrics.is_empty(), "{payload}: nothing emitted for bad input");
        let err = report.outcome.expect_err(&payload);
        assert!(matches!(err, StartExportError::InvalidInput(_)), "{payload}: {err:?}");
        assert_eq!(err.error_type(), "InvalidInput");
        let msg = err.to_string();
        assert!(msg.contains(&format!("'{field}'")), "{payload}: {msg}");
        let d = lambda_runtime::Diagnostic::from(err);
        assert_eq!(d.error_type, "InvalidInput");
        assert_eq!(d.error_message, msg);
    }
    // Nothing was called: no CAS request, no export record, the watermark untouched.
    assert_eq!(h.standin.requests().len(), requests);
    assert_eq!(h.store.recent_exports(10).await.unwrap().len(), 1);
    assert_eq!(h.store.sync_state().await.unwrap(), state);
}

#[tokio::test]
async fn no_pile_up_while_an_export_is_unanswered_unless_forced() {
    let mut h = Harness::new().await;
    let (_, id1) = h.started(SCHEDULE).await;

    // The schedule fires again before the export was answered: skipped.
    let report = h.run(SCHEDULE).await;
    let out = report.outcome.as_ref().expect("a skip is a success");
    let Outcome::Skipped { pending_request_id, reason } = out else { panic!("expected a skip, got {out:?}") };
    assert_eq!(pending_request_id, &id1);
    assert!(reason.contains(&id1) && reason.contains("force"), "{reason}");
    let body = out.to_json();
    assert_eq!(body["skipped"], true);
    assert_eq!(body["pendingRequestId"], id1.as_str());
    assert!(body["reason"].is_string());
    assert_eq!(report.metric("StartExportFailed"), Some(0.0));
    assert!(report.metric("DataStale").is_some(), "staleness is reported even when skipped");

    // So are unforced manual runs, a full re-sync included (which must not reset anything).
    for payload in [MANUAL, FULL_RESYNC, FROM_DATE] {
        let report = h.run(payload).await;
        assert!(matches!(report.outcome, Ok(Outcome::Skipped { .. })), "{payload}: {:?}", report.outcome);
    }
    assert_eq!(h.standin.requests().len(), 1);

    // A forced run goes through.
    let (report, id2) = h.started(FORCE).await;
    assert_ne!(id1, id2);
    assert_eq!(started_json(&report)["trigger"], "manual");
    assert!(h.store.export(&id2).await.unwrap().unwrap().forced);
    assert!(!h.store.export(&id1).await.unwrap().unwrap().forced);
    assert_eq!(h.standin.requests().len(), 2);

    // Both answered: the schedule runs again.
    h.deliver(&id1).await;
    assert!(matches!(h.run(SCHEDULE).await.outcome, Ok(Outcome::Skipped { .. })), "id2 still pending");
    h.deliver(&id2).await;
    let (_, id3) = h.started(SCHEDULE).await;
    assert!(id3 != id1 && id3 != id2);
}

#[tokio::test]
async fn an_unanswered_export_older_than_the_timeout_no_longer_blocks() {
    let h =
        Harness::with_settings(|s| start_export::Settings { pending_timeout: time::Duration::minutes(30), ..s }).await;
    let now = psc_bridge::domain::Timestamp::now();
    let old = |mins: i64| psc_bridge::domain::Timestamp::from_datetime(now.datetime() - time::Duration::minutes(mins));
    let request = |id: &str, mins: i64| ExportRequest {
        request_id: RequestId::parse(id).unwrap(),
        data_set_type: "test_customer_support_contacts_data".into(),
        from_date: ts(INITIAL),
        requested_at: old(mins),
        forced: false,
    };
    h.store.export_requested(&request("lost-request-1", 31)).await.unwrap();
    let (_, id) = h.started(SCHEDULE).await;
    assert_ne!(id, "lost-request-1");

    // A fresh Harness-independent check: a 29-minute-old unanswered request blocks.
    let h2 =
        Harness::with_settings(|s| start_export::Settings { pending_timeout: time::Duration::minutes(30), ..s }).await;
    h2.store.export_requested(&request("recent-request-1", 29)).await.unwrap();
    match h2.run(SCHEDULE).await.outcome {
        Ok(Outcome::Skipped { pending_request_id, .. }) => assert_eq!(pending_request_id, "recent-request-1"),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(h2.standin.requests().is_empty());
}

#[tokio::test]
async fn cas_errors_fail_with_cas_error_and_record_nothing() {
    let h = Harness::new().await;
    let expect_cas_error = |report: start_export::Report, needle: &str| {
        assert_eq!(report.metric("StartExportFailed"), Some(1.0));
        let err = report.outcome.expect_err("the call fails");
        assert_eq!(err.error_type(), "CasError", "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "CasError");
    };

    // The modelled server fault, on every attempt: retried, then given up.
    h.standin.inject_service_error(Service::Cas, InjectedError::service_fault("injected outage", 100));
    expect_cas_error(h.run(SCHEDULE).await, "MarketplaceCommerceAnalyticsException");
    let attempts = h.standin.requests().len();
    assert_eq!(attempts, 4, "the client retries a server fault");

    // Throttling, on every attempt.
    h.standin.inject_service_error(
        Service::Cas,
        InjectedError {
            error_type: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
            status: Some(400),
            count: 100,
        },
    );
    expect_cas_error(h.run(FORCE).await, "ThrottlingException");
    assert_eq!(h.standin.requests().len(), attempts + 4);

    // Access denied: not retried.
    h.standin.inject_service_error(
        Service::Cas,
        InjectedError {
            error_type: "AccessDeniedException".into(),
            message: "not authorized to perform marketplacecommerceanalytics:StartSupportDataExport".into(),
            status: Some(400),
            count: 1,
        },
    );
    expect_cas_error(h.run(MANUAL).await, "AccessDeniedException");
    assert_eq!(h.standin.requests().len(), attempts + 5);

    // Nothing was recorded as requested.
    assert!(h.store.recent_exports(10).await.unwrap().is_empty());

    // A fault that clears within the retries: one export, recorded once.
    h.standin.inject_service_error(Service::Cas, InjectedError::service_fault("blip", 2));
    let (_, id) = h.started(SCHEDULE).await;
    let exports = h.store.recent_exports(10).await.unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].request_id, id);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_cas_error() {
    let f = fresh().await;
    let store = psc_bridge::aws::DynamoStore::new(f.ddb.clone(), f.table.clone());
    // Nothing listens on port 9 of loopback.
    let handler = start_export::StartExport::new(
        CasSource(cas_client_for("http://127.0.0.1:9")),
        store.clone(),
        settings(&f.bucket),
        psc_bridge::metrics::Metrics::new("PscBridgeTest"),
    );
    let report = handler.run(json(SCHEDULE)).await;
    assert_eq!(report.metric("StartExportFailed"), Some(1.0));
    let err = report.outcome.unwrap_err();
    assert_eq!(err.error_type(), "CasError");
    assert!(err.to_string().contains("could not reach"), "{err}");
    assert!(store.recent_exports(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_export_notification_ends_with_the_export_failed() {
    let mut h = Harness::new().await;
    h.standin.fail_next("simulated CAS failure: the role could not be assumed");
    let (_, id) = h.started(SCHEDULE).await;
    assert_eq!(h.store.export(&id).await.unwrap().unwrap().status, ExportStatus::Requested);

    let n = h.notification(&id).await;
    assert!(!n.message.success);
    let out = h.ingest.handle_event(n.sns_event()).await.expect("a failure notification is handled");
    assert_eq!(out[0].status, ExportStatus::Failed);
    let rec = h.store.export(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Failed);
    assert!(rec.message.as_deref().unwrap_or("").contains("simulated CAS failure"), "{rec:?}");
    assert_eq!(rec.from_date, Some(ts(INITIAL)), "the request's own fields are kept");
    assert_eq!(h.store.sync_state().await.unwrap().watermark, None);

    // The failure answered it: the next scheduled run is not blocked, and retries from the same place.
    let (report, id2) = h.started(SCHEDULE).await;
    assert_ne!(id, id2);
    assert_eq!(started_json(&report)["fromDate"], INITIAL);
}

#[tokio::test]
async fn the_real_data_set_is_requested_when_configured() {
    let h = Harness::with_settings(|s| start_export::Settings {
        data_set_type: start_export::config::REAL_DATA_SET.into(),
        ..s
    })
    .await;
    let (report, id) = h.started(SCHEDULE).await;
    assert_eq!(started_json(&report)["dataSetType"], "customer_support_contacts_data");
    assert_eq!(h.entry(&id).await.parameters.unwrap()["dataSetType"], "customer_support_contacts_data");
    assert_eq!(
        h.store.export(&id).await.unwrap().unwrap().data_set_type.as_deref(),
        Some("customer_support_contacts_data")
    );
}
