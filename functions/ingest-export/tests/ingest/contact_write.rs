//! The contact write itself (`DynamoStore::apply`: one conditional
//! `PutItem` sent without the SDK's orchestrator) against DynamoDB Local's
//! real answers: what it writes, the write units it counts, and how each
//! refusal and fault reaches the ingest (an outcome, or an error that is
//! transient or not).

use std::time::Duration;

use devkit::{Fault, FaultProxy};
use psc_bridge::aws::{DynamoStore, Failure, retry_config, unlimited_retry_partition};
use psc_bridge::domain::{ContactRecord, Guid};
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::model::WriteOutcome;
use psc_bridge::ports::ContactStore;

use crate::helpers::*;

const GUID: &str = "7e0c2a51-0000-4000-8000-000000000001";

/// The record of one CSV row, read by the library's own reader.
fn record(line: &str) -> ContactRecord {
    let mut reader = ExportReader::new(std::io::Cursor::new(csv(&[line.to_owned()]).into_bytes())).unwrap();
    match reader.next().unwrap().unwrap() {
        Row::Valid(r) => r,
        Row::Rejected(r) => panic!("fixture row rejected: {r:?}"),
    }
}

/// An S attribute of an item.
fn attr<'a>(item: &'a psc_bridge::aws::dynamodb::item::Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

#[tokio::test]
async fn a_write_lands_only_over_older_records_and_counts_the_units_dynamodb_reports() {
    let env = TestEnv::new().await;
    let store = &env.store;
    let guid = Guid::parse(GUID).unwrap();
    let create = record(&upsert_row(GUID, "Ada", "2020-01-05T00:00:00.000Z", "CREATE"));

    assert_eq!(store.apply(&create, "req-1").await.unwrap(), WriteOutcome::Applied);
    let item = store.raw_contact_item(&guid).await.unwrap().expect("written");
    assert_eq!(attr(&item, "kind"), Some("CONTACT"));
    assert_eq!(attr(&item, "givenName"), Some("Ada"));
    assert_eq!(attr(&item, "exportRequestId"), Some("req-1"));
    assert_eq!(attr(&item, "gsi2pk"), Some("EMAIL#ada@example.net"));
    // The table and its two indexes (ByAccount, ByEmail): one unit each.
    assert_eq!(store.contact_write_units(), (3.0, 1.0));

    // The same record of the same export again (a resumed ingest): written again.
    assert_eq!(store.apply(&create, "req-1").await.unwrap(), WriteOutcome::Applied);
    // An older record, from another export: refused, nothing counted.
    let older = record(&upsert_row(GUID, "Bob", "2020-01-04T00:00:00.000Z", "UPDATE"));
    assert_eq!(store.apply(&older, "req-0").await.unwrap(), WriteOutcome::Stale);
    // The rewrite: the table's unit, and none for index entries it left unchanged.
    assert_eq!(store.contact_write_units(), (4.0, 2.0), "a refused write reports no units");
    let item = store.raw_contact_item(&guid).await.unwrap().expect("kept");
    assert_eq!(attr(&item, "givenName"), Some("Ada"), "the newer record stays");

    // A newer DELETE erases every contact field; the marker keeps the order.
    let delete = record(&delete_row(GUID, "2020-01-06T00:00:00.000Z"));
    assert_eq!(store.apply(&delete, "req-2").await.unwrap(), WriteOutcome::Applied);
    let item = store.raw_contact_item(&guid).await.unwrap().expect("marker");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["customerGuid", "exportRequestId", "kind", "operationTime", "pk", "sk"]);
    assert_eq!(attr(&item, "kind"), Some("DELETED"));
    // The CREATE it deleted is now stale.
    assert_eq!(store.apply(&create, "req-1").await.unwrap(), WriteOutcome::Stale);
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_waiting_does_not_fix() {
    let logs = capture_logs();
    let emu = devkit::Emulators::get().await;
    let store = DynamoStore::new(emu.dynamodb_client(), devkit::unique_name("no-such-table"));
    let rec = record(&upsert_row(GUID, "Ada", "2020-01-05T00:00:00.000Z", "CREATE"));

    let e = store.apply(&rec, "req-1").await.unwrap_err();
    assert_eq!((e.failure, e.code(), e.status), (Failure::Service, Some("ResourceNotFoundException"), Some(400)));
    assert!(!e.is_transient(), "{e}");
    assert_eq!(e.summary(), "DynamoDB PutItem failed: ResourceNotFoundException");
    assert_eq!(store.contact_write_units(), (0.0, 0.0));
    assert_no_contact_data_in(&format!("{e} {e:?} {}", logs.text()), "the error and the logs");
}

#[tokio::test]
async fn a_failing_database_is_a_transient_error_after_the_clients_attempts() {
    let env = TestEnv::new().await;
    let emu = devkit::Emulators::get().await;
    let outage = Fault::Outage { after_writes: 0, lasting: Duration::from_secs(3600) };
    let proxy = FaultProxy::start(emu.dynamodb_endpoint(), outage).await.unwrap();
    let conf = aws_sdk_dynamodb::config::Builder::from(&devkit::sdk_config(proxy.endpoint()))
        .retry_config(retry_config().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
        .retry_partition(unlimited_retry_partition())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), env.store.table());
    let rec = record(&upsert_row(GUID, "Ada", "2020-01-05T00:00:00.000Z", "CREATE"));

    let e = store.apply(&rec, "req-1").await.unwrap_err();
    assert_eq!((e.failure, e.code(), e.status), (Failure::Service, Some("InternalServerError"), Some(500)));
    assert!(e.is_transient() && e.retryable, "{e}");
    assert_eq!(proxy.stats().writes.load(std::sync::atomic::Ordering::SeqCst), 3, "the client's three attempts");
    assert!(env.store.raw_contact_item(&Guid::parse(GUID).unwrap()).await.unwrap().is_none());
}
