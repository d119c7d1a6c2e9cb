//! contact-events' rules: every stream record shape to its event or to none
//! (with items written by the table's own codec), and the delivery to an
//! in-memory bus with refused entries, failed calls, the limits of a
//! `PutEvents` call and the order of one contact's events.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use contact_events::mapping::{
    self, CONTACT_CREATED, CONTACT_DELETED, CONTACT_UPDATED, Detail, EXPORT_FINISHED, StreamChange,
};
use contact_events::{ContactEvents, MAX_ENTRIES};
use psc_bridge::aws::AwsError;
use psc_bridge::aws::dynamodb::item::{Item, contact_item};
use psc_bridge::domain::ContactRecord;
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::memory::MemoryBus;
use psc_bridge::retry::Backoff;
use serde_json::{Value, json};

const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,\
AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";
const GUID: &str = "ba1d75cc-d984-4f07-bb14-ae04b952afbc";

fn row(guid: &str, email: &str, time: &str, op: &str) -> String {
    format!(
        "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,{guid},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
2016-05-27T00:00:00.000Z,Example Inc,000011112222,Eugene,Thietmar,555-947-8228,{email},,,,{time},{op}"
    )
}

/// The record of one CSV row, read by the library's own reader.
fn record(line: &str) -> ContactRecord {
    let csv = format!("{HEADER}\r\n{line}\r\n");
    let mut reader = ExportReader::new(std::io::Cursor::new(csv.into_bytes())).unwrap();
    match reader.next().unwrap().unwrap() {
        Row::Valid(r) => r,
        Row::Rejected(r) => panic!("fixture row rejected: {r:?}"),
    }
}

fn contact(guid: &str, email: &str, time: &str) -> Item {
    contact_item(&record(&row(guid, email, time, "CREATE")), "export-1")
}

fn deleted(guid: &str, time: &str) -> Item {
    let line = format!(
        "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,{guid},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
2016-05-01T00:00:00.000Z,,000011112222,,,,,,,,{time},DELETE"
    );
    contact_item(&record(&line), "export-2")
}

fn export(status: &str) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: u64| AttributeValue::N(v.to_string());
    Item::from([
        ("pk".to_owned(), s("EXPORT#req-1")),
        ("sk".to_owned(), s("EXPORT")),
        ("requestId".to_owned(), s("req-1")),
        ("status".to_owned(), s(status)),
        ("created".to_owned(), n(4)),
        ("updated".to_owned(), n(1)),
        ("rejected".to_owned(), n(2)),
        ("rejectsReport".to_owned(), s("s3://bucket/psc-exports/x.csv.rejects.csv")),
    ])
}

fn sync_item() -> Item {
    Item::from([
        ("pk".to_owned(), AttributeValue::S("SYNC".into())),
        ("sk".to_owned(), AttributeValue::S("STATE".into())),
        ("watermark".to_owned(), AttributeValue::S("2026-11-20T17:00:00.000Z".into())),
    ])
}

fn change(n: u32, name: &str, old: Option<Item>, new: Option<Item>) -> StreamChange {
    StreamChange {
        event_id: format!("event-{n}"),
        sequence_number: format!("{:021}", 1000 + n),
        event_name: name.to_owned(),
        old_image: old,
        new_image: new,
        time: None,
    }
}

fn event(c: &StreamChange) -> Option<(&'static str, Value)> {
    mapping::event_of(c, Detail::Full).map(|e| (e.detail_type, e.detail))
}

// ---------------------------------------------------------------- mapping

#[test]
fn a_new_contact_is_created_with_its_fields() {
    let (kind, d) =
        event(&change(1, "INSERT", None, Some(contact(GUID, "eugethi@example.org", "2016-05-12T03:54:46.143Z"))))
            .unwrap();
    assert_eq!(kind, CONTACT_CREATED);
    assert_eq!(d["schemaVersion"], 1);
    assert_eq!(d["eventId"], "event-1");
    assert_eq!(d["customerGuid"], GUID);
    assert_eq!(d["awsAccountId"], "000011112222");
    assert_eq!(d["productCode"], "4gzp2symm0v9zidfrn9f854w6");
    assert_eq!(d["exportRequestId"], "export-1");
    assert_eq!(d["operationTime"], "2016-05-12T03:54:46.143Z");
    assert_eq!(d["contact"]["email"], "eugethi@example.org");
    assert_eq!(d["contact"]["givenName"], "Eugene");
    assert!(d["contact"].get("title").is_none(), "empty optional fields are absent");

    // A contact back after a deletion is created again.
    let c = change(
        2,
        "MODIFY",
        Some(deleted(GUID, "2016-05-13T00:00:00.000Z")),
        Some(contact(GUID, "e@example.org", "2016-05-14T00:00:00.000Z")),
    );
    assert_eq!(event(&c).unwrap().0, CONTACT_CREATED);
}

#[test]
fn a_changed_contact_is_updated_and_names_what_changed() {
    let before = contact(GUID, "eugethi@example.org", "2016-05-12T03:54:46.143Z");
    let after = contact(GUID, "eugene@example.org", "2016-06-01T00:00:00.000Z");
    let (kind, d) = event(&change(1, "MODIFY", Some(before.clone()), Some(after))).unwrap();
    assert_eq!(kind, CONTACT_UPDATED);
    assert_eq!(d["changedFields"], json!(["email"]));
    assert_eq!(d["contact"]["email"], "eugene@example.org");

    // A newer row with the same content (only time and export moved): nothing visible changed.
    let mut same = contact(GUID, "eugethi@example.org", "2016-07-01T00:00:00.000Z");
    same.insert("exportRequestId".into(), AttributeValue::S("export-9".into()));
    assert_eq!(event(&change(2, "MODIFY", Some(before), Some(same))), None);
}

#[test]
fn a_deleted_contact_carries_identifiers_only() {
    let before = contact(GUID, "eugethi@example.org", "2016-05-12T03:54:46.143Z");
    for c in [
        change(1, "MODIFY", Some(before.clone()), Some(deleted(GUID, "2016-06-01T00:00:00.000Z"))),
        change(2, "REMOVE", Some(before.clone()), None),
    ] {
        for detail in [Detail::Full, Detail::Ids] {
            let e = mapping::event_of(&c, detail).unwrap();
            assert_eq!(e.detail_type, CONTACT_DELETED);
            let d = &e.detail;
            assert_eq!(d["customerGuid"], GUID);
            assert_eq!(d["awsAccountId"], "000011112222");
            assert!(d.get("contact").is_none(), "no contact field in a deletion: {d}");
            let text = d.to_string();
            for field in ["Eugene", "Thietmar", "eugethi", "555-947", "Example Inc"] {
                assert!(!text.contains(field), "{field} in {text}");
            }
        }
    }
    let (_, d) =
        event(&change(1, "MODIFY", Some(before.clone()), Some(deleted(GUID, "2016-06-01T00:00:00.000Z")))).unwrap();
    assert_eq!(
        (d["operationTime"].clone(), d["exportRequestId"].clone()),
        (json!("2016-06-01T00:00:00.000Z"), json!("export-2"))
    );
    assert_eq!(d["removedFromTable"], false);
    assert_eq!(event(&change(2, "REMOVE", Some(before), None)).unwrap().1["removedFromTable"], true);
}

#[test]
fn writes_that_changed_nothing_visible_give_no_event() {
    // A DELETE of a contact the table never held, or held deleted already.
    assert_eq!(event(&change(1, "INSERT", None, Some(deleted(GUID, "2016-06-01T00:00:00.000Z")))), None);
    let c = change(
        2,
        "MODIFY",
        Some(deleted(GUID, "2016-06-01T00:00:00.000Z")),
        Some(deleted(GUID, "2016-07-01T00:00:00.000Z")),
    );
    assert_eq!(event(&c), None);
    // The sync state; an export still in flight; an export record touched again once finished.
    assert_eq!(event(&change(3, "MODIFY", Some(sync_item()), Some(sync_item()))), None);
    assert_eq!(event(&change(4, "INSERT", None, Some(export("REQUESTED")))), None);
    assert_eq!(event(&change(5, "MODIFY", Some(export("REQUESTED")), Some(export("APPLYING")))), None);
    assert_eq!(event(&change(6, "MODIFY", Some(export("APPLIED")), Some(export("APPLIED")))), None);
    // An item that is not ours.
    let odd = Item::from([("pk".to_owned(), AttributeValue::S("SOMETHING#else".into()))]);
    assert_eq!(event(&change(7, "INSERT", None, Some(odd))), None);
}

#[test]
fn a_finished_export_says_how_it_ended() {
    for status in ["APPLIED", "PARTIAL", "FAILED"] {
        let (kind, d) = event(&change(1, "MODIFY", Some(export("APPLYING")), Some(export(status)))).unwrap();
        assert_eq!(kind, EXPORT_FINISHED);
        assert_eq!(d["status"], status);
        assert_eq!(d["exportRequestId"], "req-1");
        assert_eq!(d["counts"], json!({"created": 4, "updated": 1, "deleted": 0, "skippedStale": 0, "rejected": 2}));
        assert_eq!(d["rejectsReport"], "s3://bucket/psc-exports/x.csv.rejects.csv");
    }
}

#[test]
fn ids_mode_leaves_the_contact_fields_out() {
    let c = change(1, "INSERT", None, Some(contact(GUID, "eugethi@example.org", "2016-05-12T03:54:46.143Z")));
    let e = mapping::event_of(&c, Detail::Ids).unwrap();
    assert_eq!(e.detail_type, CONTACT_CREATED);
    assert!(e.detail.get("contact").is_none());
    assert!(!e.detail.to_string().contains("eugethi"));
    assert_eq!(Detail::parse("ids"), Ok(Detail::Ids));
    assert!(Detail::parse("everything").is_err());
}

#[test]
fn stream_events_are_read_from_lambdas_json() {
    let event = json!({"Records": [{
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": format!("CONTACT#{GUID}")}, "sk": {"S": "CONTACT"}},
            "NewImage": {
                "pk": {"S": format!("CONTACT#{GUID}")}, "sk": {"S": "CONTACT"}, "kind": {"S": "CONTACT"},
                "customerGuid": {"S": GUID}, "awsAccountId": {"S": "000011112222"},
                "productId": {"S": "4b898955-84fa-4cfb-8f43-98287ad69c06"}, "productCode": {"S": "4gzp2symm0v9zidfrn9f854w6"},
                "subscriptionGuid": {"S": "cad371fb-6f2c-4537-a054-1a7afc6312fd"},
                "subscriptionStartDate": {"S": "2016-05-27T00:00:00.000Z"},
                "organization": {"S": "Example Inc"}, "givenName": {"S": "Eugene"}, "surname": {"S": "Thietmar"},
                "telephoneNumber": {"S": "555-947-8228"}, "email": {"S": "eugethi@example.org"},
                "operationTime": {"S": "2016-05-12T03:54:46.143Z"}, "operationType": {"S": "CREATE"},
                "exportRequestId": {"S": "export-1"}, "version": {"N": "3"}, "flags": {"L": [{"BOOL": true}, {"NULL": true}]}
            },
            "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]});
    let changes = mapping::stream_changes(&event).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].sequence_number.as_str(), changes[0].old_image.is_none()), ("111", true));
    assert_eq!(event_of_first(&changes), Some(CONTACT_CREATED));
    let bad =
        json!({"Records": [{"eventID": "x", "dynamodb": {"SequenceNumber": "1", "NewImage": {"pk": {"Q": "?"}}}}]});
    let e = mapping::stream_changes(&bad).unwrap_err();
    assert!(e.to_string().contains("NewImage is not a DynamoDB item"), "{e}");
    assert!(mapping::stream_changes(&json!({"detail": {}})).is_err());
}

fn event_of_first(changes: &[StreamChange]) -> Option<&'static str> {
    mapping::event_of(&changes[0], Detail::Full).map(|e| e.detail_type)
}

// --------------------------------------------------------------- delivery

fn quick() -> Backoff {
    Backoff::new(3, Duration::from_millis(1), Duration::from_millis(1))
}

/// `n` new contacts, one record each.
fn creations(n: u32) -> Vec<StreamChange> {
    (0..n)
        .map(|i| {
            let guid = format!("00000000-0000-4000-8000-{i:012}");
            change(i, "INSERT", None, Some(contact(&guid, "x@example.org", "2016-05-12T03:54:46.143Z")))
        })
        .collect()
}

fn detail_of(e: &psc_bridge::ports::BusEvent) -> Value {
    serde_json::from_str(&e.detail).unwrap()
}

#[tokio::test]
async fn events_go_out_in_calls_of_at_most_ten_and_in_order() {
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_retry(quick());
    let mut changes = creations(23);
    changes.push(change(99, "MODIFY", Some(sync_item()), Some(sync_item())));
    let report = handler.deliver(&changes).await;
    assert_eq!((report.records, report.events, report.sent), (24, 23, 23));
    assert_eq!(report.response.batch_item_failures, vec![]);
    assert_eq!(bus.calls(), vec![10, 10, 3]);
    assert!(bus.calls().iter().all(|&n| n <= MAX_ENTRIES));
    let ids: Vec<String> =
        bus.accepted().iter().map(|e| detail_of(e)["eventId"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = (0..23).map(|i| format!("event-{i}")).collect();
    assert_eq!(ids, expected, "in stream order");
    assert!(bus.accepted().iter().all(|e| e.source == "psc-bridge"));
}

#[tokio::test]
async fn one_contacts_events_leave_in_the_order_its_changes_happened() {
    let bus = MemoryBus::new();
    // The first attempt of every call refuses the first entry: a retry must
    // not let a later change of the same contact overtake it.
    bus.fail_entries(|_, call| (call % 2 == 1).then(|| "ThrottlingException".to_owned()));
    let handler = ContactEvents::new(&bus, Detail::Full).with_retry(quick());
    let a = contact(GUID, "one@example.org", "2016-05-12T00:00:00.000Z");
    let b = contact(GUID, "two@example.org", "2016-05-13T00:00:00.000Z");
    let changes = vec![
        change(1, "INSERT", None, Some(a.clone())),
        change(2, "MODIFY", Some(a), Some(b.clone())),
        change(3, "MODIFY", Some(b), Some(deleted(GUID, "2016-05-14T00:00:00.000Z"))),
    ];
    let report = handler.deliver(&changes).await;
    assert_eq!(report.sent, 3, "{report:?}");
    let kinds: Vec<String> = bus.accepted().iter().map(|e| e.detail_type.clone()).collect();
    assert_eq!(kinds, [CONTACT_CREATED, CONTACT_UPDATED, CONTACT_DELETED]);
}

#[tokio::test]
async fn refused_entries_are_retried_and_what_still_fails_is_reported_from_the_lowest() {
    // Refused once: retried, all delivered, nothing reported.
    let bus = MemoryBus::new();
    bus.fail_entries(|e, call| (call == 1 && e.detail.contains("-000000000004")).then(|| "InternalFailure".into()));
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&creations(12)).await;
    assert_eq!((report.sent, report.retried), (12, 1));
    assert!(report.response.batch_item_failures.is_empty());
    assert_eq!(bus.accepted().len(), 12);

    // Refused every time: the record is reported, and nothing after it is sent.
    let bus = MemoryBus::new();
    bus.fail_entries(|e, _| e.detail.contains("-000000000013").then(|| "InternalFailure".into()));
    let changes = creations(25);
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&changes).await;
    assert_eq!(
        report.response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect::<Vec<_>>(),
        [changes[13].sequence_number.as_str()]
    );
    assert_eq!(report.sent, 10, "the first call's ten; the second call never completed");
    let sent: Vec<Value> = bus.accepted().iter().map(detail_of).collect();
    assert!(sent.iter().all(|d| d["eventId"] != "event-20"), "nothing of the third call was sent");
    let response = serde_json::to_value(&report.response).unwrap();
    assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": changes[13].sequence_number}]}));
}

#[tokio::test]
async fn throttled_or_failed_calls_are_retried_with_backoff() {
    let bus = MemoryBus::new();
    let throttled = AwsError::service("EventBridge", "PutEvents", "ThrottlingException", "Rate exceeded", 400);
    bus.fail_next_calls(vec![throttled.clone(), throttled]);
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&creations(3)).await;
    assert_eq!((report.sent, report.retried), (3, 6));
    assert_eq!(bus.calls(), vec![3, 3, 3]);

    // Down for longer than the retries: the first record is reported.
    let bus = MemoryBus::new();
    let down = AwsError::service("EventBridge", "PutEvents", "InternalException", "down", 500);
    bus.fail_next_calls(vec![down; 10]);
    let changes = creations(3);
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&changes).await;
    assert_eq!(report.sent, 0);
    assert_eq!(report.response.batch_item_failures[0].item_identifier, changes[0].sequence_number);
    assert_eq!(bus.calls().len(), 4, "four attempts");
}

#[tokio::test]
async fn a_call_stays_within_256_kb() {
    let bus = MemoryBus::new();
    // Ten contacts with 40 KB organizations: 400 KB, so more than one call.
    let changes: Vec<StreamChange> = (0..10)
        .map(|i| {
            let guid = format!("00000000-0000-4000-8000-{i:012}");
            let mut item = contact(&guid, "x@example.org", "2016-05-12T03:54:46.143Z");
            item.insert("organization".into(), AttributeValue::S("o".repeat(40_000)));
            change(i, "INSERT", None, Some(item))
        })
        .collect();
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&changes).await;
    assert_eq!(report.sent, 10);
    assert!(bus.calls().len() >= 2, "{:?}", bus.calls());
    let mut at = 0;
    for n in bus.calls() {
        let bytes: usize = bus.accepted()[at..at + n].iter().map(|e| e.size()).sum();
        assert!(bytes <= contact_events::MAX_BYTES, "a call of {bytes} bytes");
        at += n;
    }
}

#[tokio::test]
async fn the_logs_hold_no_contact_field() {
    let logs = devkit::capture_logs(|| psc_bridge::logging::filter(tracing_subscriber::filter::LevelFilter::TRACE));
    let bus = MemoryBus::new();
    bus.fail_entries(|e, _| e.detail.contains("-000000000001").then(|| "InternalFailure".into()));
    let report = ContactEvents::new(&bus, Detail::Full).with_retry(quick()).deliver(&creations(3)).await;
    assert_eq!(report.response.batch_item_failures.len(), 1);
    let text = logs.text();
    assert!(text.contains("stream batch"), "the batch is logged");
    for field in ["Eugene", "Thietmar", "x@example.org", "555-947-8228", "Example Inc"] {
        assert!(!text.contains(field), "{field} in the logs");
    }
}

// --------------------------------------------------------------- backfill

fn store_with(n: usize) -> psc_bridge::memory::MemoryStore {
    let store = psc_bridge::memory::MemoryStore::new();
    for i in 0..n {
        let guid = format!("00000000-0000-4000-8000-{i:012}");
        store.apply_now(&record(&row(&guid, "x@example.org", "2016-05-12T03:54:46.143Z", "CREATE")), "e").unwrap();
    }
    // One erased contact: not backfilled.
    store.apply_now(&record(&row(GUID, "x@example.org", "2016-05-12T03:54:46.143Z", "CREATE")), "e").unwrap();
    let line = format!(
        "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,{GUID},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
2016-05-01T00:00:00.000Z,,000011112222,,,,,,,,2016-06-01T00:00:00.000Z,DELETE"
    );
    store.apply_now(&record(&line), "e2").unwrap();
    store
}

#[tokio::test]
async fn a_backfill_announces_every_live_contact_in_pages_and_resumes() {
    let store = store_with(25);
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_retry(quick());
    let first = handler.invoke(&store, &json!({"backfill": {"pages": 2, "pageSize": 10}})).await.unwrap();
    assert_eq!((first["backfilled"].clone(), first["done"].clone()), (json!(20), json!(false)), "{first}");
    let cursor = first["cursor"].as_str().expect("a cursor to go on").to_owned();
    let rest = handler.invoke(&store, &json!({"backfill": {"cursor": cursor}})).await.unwrap();
    assert_eq!(rest, json!({"backfilled": 5, "cursor": null, "done": true}));
    let events = bus.accepted();
    assert_eq!(events.len(), 25);
    assert!(events.iter().all(|e| e.detail_type == CONTACT_CREATED));
    let details: Vec<Value> = events.iter().map(detail_of).collect();
    assert!(details.iter().all(|d| d["backfill"] == true && d["contact"]["email"] == "x@example.org"));
    assert!(details.iter().all(|d| d["customerGuid"] != GUID), "the erased contact is not announced");
    let mut guids: Vec<&str> = details.iter().map(|d| d["customerGuid"].as_str().unwrap()).collect();
    guids.dedup();
    assert_eq!(guids.len(), 25, "each once");
}

#[tokio::test]
async fn a_backfill_that_cannot_deliver_stops_with_the_cursor_to_resume_from() {
    let store = store_with(25);
    let bus = MemoryBus::new();
    bus.fail_entries(|e, _| e.detail.contains("-000000000015").then(|| "InternalFailure".into()));
    let handler = ContactEvents::new(&bus, Detail::Ids).with_retry(quick());
    let r = handler.invoke(&store, &json!({"backfill": {"pageSize": 10}})).await.unwrap();
    assert_eq!(r["backfilled"], 10, "{r}");
    assert_eq!(r["cursor"], "o10", "the page that failed is sent again on resume");
    assert_eq!(r["done"], false);
    assert_eq!(r["error"], "InternalFailure");
    assert!(bus.accepted().iter().all(|e| !e.detail.contains("x@example.org")), "ids mode: no contact field");

    let bad = handler.invoke(&store, &json!({"backfill": {"pageSize": 10, "bogus": 1}})).await.unwrap_err();
    assert!(bad.to_string().contains("bad backfill request"), "{bad}");
    assert_eq!(bad.error_type(), "BadBackfillRequest");
    let r = handler.invoke(&store, &json!({"backfill": {"cursor": "nope"}})).await.unwrap();
    assert!(r["error"].as_str().unwrap().contains("cursor"), "{r}");
}
