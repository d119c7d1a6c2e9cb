//! The ingest pipeline against DynamoDB Local and an S3 server: R2 and R3 as a
//! seller would see them in the table.

mod contact_write;
mod faults;
mod helpers;
mod ordering;
mod resume;
mod rules;
mod slow_table;

use helpers::*;
use ingest_export::IngestError;
use psc_bridge::domain::{AwsAccountId, Guid};
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::{ContactStore, ExportLog};

const GUIDE: &str = include_str!("../../../../tests/fixtures/guide-sample.csv");
const EUGENE: &str = "ba1d75cc-d984-4f07-bb14-ae04b952afbc";
const ANGELA: &str = "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc";
const NATHAN: &str = "91c72621-6cf4-4d69-8ebe-073ff4f8ab9e";
const GUIDE_END: &str = "2016-08-05T03:14:50.334Z";

fn guid(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

#[tokio::test]
async fn full_export_then_incremental_ones() {
    let env = TestEnv::new().await;

    // The guide's sample file as the first, full export.
    let full = env.apply("req-full", GUIDE, INITIAL, GUIDE_END).await;
    assert_eq!(full.status, ExportStatus::Applied);
    assert_eq!((full.counts.created, full.counts.updated, full.counts.rejected), (4, 1, 0));
    // Angela's DELETE (04-22) is older than her CREATE (05-19): whichever
    // lands first, the CREATE wins; the DELETE is either applied then
    // overwritten, or refused as stale.
    assert_eq!(full.counts.deleted + full.counts.skipped_stale, 1);
    assert_eq!(full.watermark, Some(t(GUIDE_END)));

    let account = AwsAccountId::parse("000011112222").unwrap();
    let page = env.store.contacts_by_account(&account, None, None, 50).await.unwrap();
    let mut names: Vec<&str> = page.items.iter().map(|c| c.details.given_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Angela", "Eugene"]);
    let angela = env.store.contact_by_guid(&guid(ANGELA)).await.unwrap().expect("Angela");
    assert_eq!(angela.details.zip_code.as_deref(), Some("02201"), "leading zero kept");
    assert_eq!(angela.aws_account_id.as_str(), "000011112222");

    // Incremental: Eugene changes his email, Nathan opts out, a new contact arrives.
    let new_guid = "0f4a0d6e-0000-4000-8000-000000000001";
    let inc = csv(&[
        upsert_row(EUGENE, "Eugenio", "2016-08-06T10:00:00.000Z", "UPDATE"),
        delete_row(NATHAN, "2016-08-06T11:00:00.000Z"),
        upsert_row(new_guid, "Newcomer", "2016-08-06T12:00:00.000Z", "CREATE"),
    ]);
    let s = env.apply("req-inc-1", &inc, GUIDE_END, "2016-08-07T00:00:00.000Z").await;
    assert_eq!((s.counts.created, s.counts.updated, s.counts.deleted), (1, 1, 1));
    assert_eq!(s.watermark, Some(t("2016-08-07T00:00:00.000Z")));

    assert!(env.store.contacts_by_email("eugethi@example.org").await.unwrap().is_empty(), "old email gone");
    let by_email = env.store.contacts_by_email("EUGENIO@Example.NET").await.unwrap();
    assert_eq!(by_email.len(), 1, "email lookup is case-insensitive");
    assert_eq!(by_email[0].customer_guid.as_str(), EUGENE);

    // Nathan: gone from every lookup, and nothing personal left in the table.
    assert!(env.store.contact_by_guid(&guid(NATHAN)).await.unwrap().is_none());
    assert!(env.store.contacts_by_email("nathanz@example.com").await.unwrap().is_empty());
    let nathan_account = AwsAccountId::parse("333344445555").unwrap();
    let left = env.store.contacts_by_account(&nathan_account, None, None, 50).await.unwrap();
    assert_eq!(left.items.len(), 1, "only Abdul remains on that account");
    let raw = env.store.raw_contact_item(&guid(NATHAN)).await.unwrap().expect("deletion marker");
    let mut attrs: Vec<&str> = raw.keys().map(String::as_str).collect();
    attrs.sort();
    assert!(attrs.iter().all(|a| TOMBSTONE_ATTRIBUTES.contains(a)), "a DELETE left {attrs:?}");

    // The export records tell the story.
    let rec = env.store.export("req-inc-1").await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Applied);
    assert_eq!(rec.coverage.unwrap().end, t("2016-08-07T00:00:00.000Z"));
    let recent = env.store.recent_exports(10).await.unwrap();
    assert_eq!(recent.iter().map(|e| e.request_id.as_str()).collect::<Vec<_>>(), ["req-inc-1", "req-full"]);
    env.assert_logs_clean();
}

#[tokio::test]
async fn the_same_notification_twice_changes_nothing() {
    let env = TestEnv::new().await;
    let msg = env.stage_export("req-dup", GUIDE, INITIAL, GUIDE_END).await;
    let first = env.deliver(&msg).await.unwrap();
    let before =
        env.store.contacts_by_account(&AwsAccountId::parse("000011112222").unwrap(), None, None, 50).await.unwrap();

    let second = env.deliver(&msg).await.unwrap();
    assert!(second.duplicate);
    assert_eq!(second.counts, first.counts, "the record keeps the first application's counts");
    let after =
        env.store.contacts_by_account(&AwsAccountId::parse("000011112222").unwrap(), None, None, 50).await.unwrap();
    assert_eq!(before.items, after.items);

    // The same rows under another request id (a re-sync) are all stale.
    let again = env.apply("req-dup-2", GUIDE, INITIAL, GUIDE_END).await;
    assert_eq!(again.counts.applied(), 0);
    assert_eq!(again.counts.skipped_stale, 6);
    env.assert_logs_clean();
}

#[tokio::test]
async fn an_old_export_arriving_after_a_newer_delete_does_not_resurrect() {
    let env = TestEnv::new().await;
    let x = "0f4a0d6e-0000-4000-8000-00000000000a";
    let old = csv(&[upsert_row(x, "Lazarus", "2020-01-05T00:00:00.000Z", "CREATE")]);
    let new = csv(&[delete_row(x, "2020-01-15T00:00:00.000Z")]);

    // The newer export (10th..20th) arrives first: applied, but it leaves a
    // gap before it, so the watermark does not move.
    let b = env.apply("req-b", &new, "2020-01-10T00:00:00.000Z", "2020-01-20T00:00:00.000Z").await;
    assert_eq!(b.counts.deleted, 1);
    assert_eq!(b.watermark, None);
    assert_eq!(env.store.sync_state().await.unwrap().pending.len(), 1);

    // The older one (initial..10th) arrives late: its CREATE is older than
    // the DELETE the table remembers, so it is refused; the gap closes and
    // the watermark jumps to the end of both.
    let a = env.apply("req-a", &old, INITIAL, "2020-01-10T00:00:00.000Z").await;
    assert_eq!(a.counts.created, 0);
    assert_eq!(a.counts.skipped_stale, 1);
    assert_eq!(a.watermark, Some(t("2020-01-20T00:00:00.000Z")));
    assert!(env.store.contact_by_guid(&guid(x)).await.unwrap().is_none());

    // Delivered again much later, the old export's row is at or before the
    // watermark: skipped without a write.
    let again = env.apply("req-a-again", &old, INITIAL, "2020-01-10T00:00:00.000Z").await;
    assert_eq!(again.counts.skipped_stale, 1);
    assert!(env.store.contact_by_guid(&guid(x)).await.unwrap().is_none());

    // A re-creation after the delete is a newer event and applies.
    let back = csv(&[upsert_row(x, "Lazarus", "2020-02-01T00:00:00.000Z", "CREATE")]);
    let c = env.apply("req-c", &back, "2020-01-20T00:00:00.000Z", "2020-02-02T00:00:00.000Z").await;
    assert_eq!(c.counts.created, 1);
    assert!(env.store.contact_by_guid(&guid(x)).await.unwrap().is_some());
    env.assert_logs_clean();
}

#[tokio::test]
async fn a_failure_notification_is_recorded_not_retried() {
    let env = TestEnv::new().await;
    let s = env
        .deliver(r#"{"dataSetRequestId":"req-failed","success":false,"message":"Unable to write to bucket"}"#)
        .await
        .expect("a CAS failure is recorded, not an invocation error");
    assert_eq!(s.status, ExportStatus::Failed);
    let rec = env.store.export("req-failed").await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Failed);
    assert_eq!(rec.message.as_deref(), Some("Unable to write to bucket"));
    assert_eq!(env.store.sync_state().await.unwrap().watermark, None);
    assert!(env.logs.text().contains("req-failed"), "the failure is logged with its request id");
    env.assert_logs_clean();
}

#[tokio::test]
async fn a_missing_object_fails_the_export_clearly() {
    let env = TestEnv::new().await;
    // No data set.
    let meta_key = "psc/req-nocsv.meta.json";
    env.put_object(meta_key, metadata("req-nocsv", INITIAL, GUIDE_END, &env.bucket, "psc/req-nocsv.csv", meta_key))
        .await;
    let s = env.deliver(&notification("req-nocsv", &env.bucket, "psc/req-nocsv.csv", meta_key)).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    let rec = env.store.export("req-nocsv").await.unwrap().unwrap();
    assert_eq!(rec.message.unwrap(), format!("the data set s3://{}/psc/req-nocsv.csv does not exist", env.bucket));

    // No metadata.
    let s = env.deliver(&notification("req-nometa", &env.bucket, "psc/x.csv", "psc/x.meta.json")).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    assert!(s.message.unwrap().contains("metadata file"));
    assert_eq!(env.store.sync_state().await.unwrap().watermark, None);
    env.assert_logs_clean();
}

#[tokio::test]
async fn metadata_whose_coverage_ends_before_it_starts_is_refused() {
    let env = TestEnv::new().await;
    let msg = env.stage_export("req-backwards", GUIDE, "2016-08-18T00:00:00.000Z", GUIDE_END).await;
    let s = env.deliver(&msg).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    assert!(s.message.unwrap().contains("ends (2016-08-05T03:14:50.334Z) before it starts"));
    let account = AwsAccountId::parse("000011112222").unwrap();
    assert!(env.store.contacts_by_account(&account, None, None, 50).await.unwrap().items.is_empty());
    env.assert_logs_clean();
}

#[tokio::test]
async fn bad_rows_are_reported_and_good_rows_still_apply() {
    let env = TestEnv::new().await;
    let good = "0f4a0d6e-0000-4000-8000-0000000000b1";
    let long_name = format!("Verylongname{}", "x".repeat(120));
    let rows = vec![
        upsert_row(good, "Goodrow", "2020-01-05T00:00:00.000Z", "CREATE"),
        upsert_row("not-a-guid", "Badguid", "2020-01-05T00:00:00.000Z", "CREATE"),
        upsert_row("0f4a0d6e-0000-4000-8000-0000000000b3", &long_name, "2020-01-05T00:00:00.000Z", "CREATE"),
        upsert_row("0f4a0d6e-0000-4000-8000-0000000000b4", "Badtime", "05/01/2020", "CREATE"),
        upsert_row("0f4a0d6e-0000-4000-8000-0000000000b5", "Badop", "2020-01-05T00:00:00.000Z", "MERGE"),
    ];
    let s = env.apply("req-partial", &csv(&rows), INITIAL, "2020-01-10T00:00:00.000Z").await;
    assert_eq!(s.status, ExportStatus::Partial);
    assert_eq!((s.counts.created, s.counts.rejected), (1, 4));
    assert!(env.store.contact_by_guid(&guid(good)).await.unwrap().is_some());
    assert_eq!(s.watermark, Some(t("2020-01-10T00:00:00.000Z")), "rejected rows do not hold the watermark back");

    // The report sits beside the export, with lines and reasons.
    let report_uri = s.rejects_report.clone().unwrap();
    assert_eq!(report_uri, format!("s3://{}/psc/req-partial.csv.rejects.csv", env.bucket));
    let report = env.get_object("psc/req-partial.csv.rejects.csv").await.expect("report");
    let mut rdr = csv::Reader::from_reader(report.as_bytes());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["line", "reason", "customerGuid", "subscriptionGuid", "productCode", "awsAccountId", "operationType"]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let lines: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(lines, ["3", "4", "5", "6"]);
    assert!(rows[0][1].starts_with("Customer Guid: must be a 36-character GUID"), "{:?}", rows[0]);
    assert_eq!(&rows[0][2], "", "an invalid guid is not repeated in the report");
    assert_eq!(&rows[1][1], "Given Name: is longer than 100 characters");
    assert_eq!(&rows[1][2], "0f4a0d6e-0000-4000-8000-0000000000b3");
    assert_eq!(&rows[1][5], "000011112222");
    assert!(rows[2][1].starts_with("Operation Time: must be an ISO 8601"), "{:?}", rows[2]);
    assert_eq!(&rows[3][1], "Operation Type: must be CREATE, UPDATE or DELETE");
    assert_eq!(&rows[3][6], "");
    assert_no_contact_data_in(&report, "the rejects report");
    assert!(!report.contains("Verylongname"));

    let rec = env.store.export("req-partial").await.unwrap().unwrap();
    assert_eq!(rec.status, ExportStatus::Partial);
    assert_eq!(rec.rejects_report.as_deref(), Some(report_uri.as_str()));
    env.assert_logs_clean();
}

#[tokio::test]
async fn a_wrong_header_fails_the_export_and_applies_nothing() {
    let env = TestEnv::new().await;
    let msg =
        env.stage_export("req-header", "id,name,email\r\n1,Someone,someone@example.org\r\n", INITIAL, GUIDE_END).await;
    let s = env.deliver(&msg).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    assert!(s.message.unwrap().starts_with("the CSV header lacks required column(s): Product Id"));
    assert_eq!(env.store.sync_state().await.unwrap().watermark, None);

    // Empty and header-only files.
    let msg = env.stage_export("req-empty", "", INITIAL, GUIDE_END).await;
    assert_eq!(env.deliver(&msg).await.unwrap().message.unwrap(), "the CSV is empty: it has no header row");
    let s = env.apply("req-header-only", &csv(&[]), INITIAL, GUIDE_END).await;
    assert_eq!(s.status, ExportStatus::Applied);
    assert_eq!(s.watermark, Some(t(GUIDE_END)), "an empty export still covers its range");
    env.assert_logs_clean();
}

#[tokio::test]
async fn a_metadata_file_for_another_export_is_refused() {
    let env = TestEnv::new().await;
    let meta_key = "psc/other.meta.json";
    env.put_object("psc/mine.csv", GUIDE.as_bytes().to_vec()).await;
    env.put_object(meta_key, metadata("req-other", INITIAL, GUIDE_END, &env.bucket, "psc/mine.csv", meta_key)).await;
    let s = env.deliver(&notification("req-mine", &env.bucket, "psc/mine.csv", meta_key)).await.unwrap();
    assert_eq!(s.status, ExportStatus::Failed);
    assert_eq!(s.message.unwrap(), "the metadata file belongs to export req-other, not req-mine");
    env.assert_logs_clean();
}

#[tokio::test]
async fn a_malformed_notification_fails_the_invocation() {
    let env = TestEnv::new().await;
    let err = env.deliver(r#"{"dataSetRequestId":"x","success":true}"#).await.unwrap_err();
    assert!(matches!(err, IngestError::BadNotification(_)));
    assert_eq!(err.error_type(), "BadNotification");
    assert_eq!(
        err.to_string(),
        "the SNS message is not a valid CAS notification: the notification lacks 'dataSetS3Location'"
    );
}

#[tokio::test]
async fn the_sns_event_fixture_is_handled_end_to_end() {
    let env = TestEnv::new().await;
    env.put_object("demo-prefix/x.csv", GUIDE.as_bytes().to_vec()).await;
    env.put_object(
        "demo-prefix/x.meta.json",
        metadata(
            "f65b7244-6806-11e5-a6d8-fd5dbcaa74ab",
            INITIAL,
            GUIDE_END,
            &env.bucket,
            "demo-prefix/x.csv",
            "demo-prefix/x.meta.json",
        ),
    )
    .await;
    let event = include_str!("../../../../events/sns-export-ready.json").replace("demo-bucket", &env.bucket);
    let event: aws_lambda_events::event::sns::SnsEvent = serde_json::from_str(&event).unwrap();
    let out = env.ingest.handle_event(event).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, ExportStatus::Applied);
    assert_eq!(out[0].counts.created, 4);
    env.assert_logs_clean();
}
