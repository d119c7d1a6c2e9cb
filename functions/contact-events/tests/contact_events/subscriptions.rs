//! The subscription events: every transition of an agreement's revision in
//! force to its event or to none (items folded and stored as ingest-feeds
//! does), and the handler completing them from the feeds (in memory), with
//! what it does when a read fails.

use aws_sdk_dynamodb::types::AttributeValue;
use contact_events::ContactEvents;
use contact_events::mapping::{self, Detail, StreamChange};
use contact_events::subscriptions::{
    ENDING_STATUSES, Lookups, SUBSCRIPTION_CHANGED, SUBSCRIPTION_ENDED, SUBSCRIPTION_STARTED, subscription_change,
    subscription_event,
};
use psc_bridge::aws::AwsError;
use psc_bridge::aws::dynamodb::item::Item;
use psc_bridge::domain::{AwsAccountId, Timestamp};
use psc_bridge::feeds::{AccountPage, FeedAccountId, FeedAgreement, FeedItem, FeedProduct, Versioned};
use psc_bridge::memory::{MemoryBus, MemoryFeeds};
use psc_bridge::model::Page;
use psc_bridge::ports::{FeedLookup, FeedStore, LookupError};
use psc_bridge::retry::Backoff;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::feeds::{
    AGREEMENT, BUYER, BUYER_AWS, CODE, OFFER, PRODUCT, agreement, fold, image, reference_items, revision, revision_of,
    version,
};

const END: &str = "2026-03-03T23:59:59Z";

fn change(n: u32, name: &str, old: Option<&FeedItem>, new: Option<&FeedItem>) -> StreamChange {
    StreamChange {
        event_id: format!("event-{n}"),
        sequence_number: format!("{:021}", 2000 + n),
        event_name: name.to_owned(),
        old_image: old.map(image),
        new_image: new.map(image),
        time: Some(Timestamp::parse("2025-03-05T00:07:12.000Z").unwrap()),
    }
}

/// The event of a record, without lookups (nothing known of the buyer and offer).
fn event(c: &StreamChange) -> Option<(&'static str, Value)> {
    assert_eq!(mapping::event_of(c, Detail::Full), None, "no contact event for an agreement item");
    subscription_change(c).map(|s| {
        let e = subscription_event(c, &s, &Lookups::default());
        assert_eq!(e.key, format!("AGREEMENT#{AGREEMENT}"));
        (e.detail_type, e.detail)
    })
}

fn active() -> FeedItem {
    agreement(None, vec![revision("2025-03-04T09:15:00Z", "ACTIVE", Some(END))])
}

// ---------------------------------------------------------------- mapping

#[test]
fn an_agreement_first_seen_active_is_started() {
    let item = active();
    let (kind, d) = event(&change(1, "INSERT", None, Some(&item))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_STARTED);
    assert_eq!(
        d,
        json!({
            "schemaVersion": 1,
            "eventId": "event-1",
            "agreementId": AGREEMENT,
            "feedAccountId": BUYER,
            "awsAccountId": null,
            "offerId": OFFER,
            "productId": null,
            "productCode": null,
            "productIds": [],
            "status": "ACTIVE",
            "previousStatus": null,
            "startTime": "2025-03-04T09:15:00.000Z",
            "endTime": "2026-03-03T23:59:59.000Z",
            "acceptanceTime": "2025-03-04T09:15:00.000Z",
            "revisionFrom": "2025-03-04T09:15:00.000Z",
            "changedFields": ["status", "startTime", "endTime", "acceptanceTime", "offerId"],
            "recordedAt": "2025-03-05T00:07:12.000Z"
        })
    );
    // A pay-as-you-go agreement has no end.
    let payg = agreement(None, vec![revision("2025-03-04T09:15:00Z", "ACTIVE", None)]);
    assert_eq!(event(&change(2, "INSERT", None, Some(&payg))).unwrap().1["endTime"], Value::Null);
}

#[test]
fn an_agreement_that_becomes_active_again_is_started() {
    let expired = agreement(None, vec![revision("2025-03-04T09:15:00Z", "EXPIRED", Some(END))]);
    let again = agreement(Some(&expired), vec![revision("2025-04-01T00:00:00Z", "ACTIVE", Some(END))]);
    let (kind, d) = event(&change(1, "MODIFY", Some(&expired), Some(&again))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_STARTED);
    assert_eq!((d["status"].as_str(), d["previousStatus"].as_str()), (Some("ACTIVE"), Some("EXPIRED")));
    assert_eq!(d["changedFields"], json!(["status"]));
    assert_eq!(d["revisionFrom"], "2025-04-01T00:00:00.000Z");
}

#[test]
fn an_active_agreement_that_reaches_an_ending_status_is_ended() {
    let before = active();
    for status in ENDING_STATUSES {
        let after = agreement(Some(&before), vec![revision("2025-09-01T12:00:00Z", status, Some(END))]);
        let (kind, d) = event(&change(1, "MODIFY", Some(&before), Some(&after))).unwrap();
        assert_eq!(kind, SUBSCRIPTION_ENDED, "{status}");
        assert_eq!((d["status"].as_str(), d["previousStatus"].as_str()), (Some(status), Some("ACTIVE")));
        assert_eq!(d["revisionFrom"], "2025-09-01T12:00:00.000Z", "the revision that ended it");
        assert_eq!(d["changedFields"], json!(["status"]));
    }
    // Every version withdrawn (soft-deleted): no revision in force, ended too.
    let mut withdrawn = revision("2025-03-04T09:15:00Z", "ACTIVE", Some(END));
    withdrawn.version = version("2025-03-04T09:15:00Z", "2025-03-06T00:00:00Z", true);
    let after = agreement(Some(&before), vec![withdrawn]);
    let (kind, d) = event(&change(2, "MODIFY", Some(&before), Some(&after))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_ENDED);
    assert_eq!((d["status"].clone(), d["previousStatus"].as_str()), (Value::Null, Some("ACTIVE")));
    assert_eq!(d["offerId"], OFFER, "the last revision's offer and dates");
    assert_eq!(d["endTime"], "2026-03-03T23:59:59.000Z");
}

#[test]
fn other_changes_of_the_revision_in_force_are_changed() {
    // A renewal that moves the end date of an active agreement.
    let before = active();
    let longer =
        agreement(Some(&before), vec![revision("2026-03-01T00:00:00Z", "ACTIVE", Some("2027-03-03T23:59:59Z"))]);
    let (kind, d) = event(&change(1, "MODIFY", Some(&before), Some(&longer))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_CHANGED);
    assert_eq!(d["changedFields"], json!(["endTime"]));
    assert_eq!((d["status"].as_str(), d["previousStatus"].as_str()), (Some("ACTIVE"), Some("ACTIVE")));
    assert_eq!(d["endTime"], "2027-03-03T23:59:59.000Z");

    // A move between statuses that are not ACTIVE.
    let cancelled = agreement(None, vec![revision("2025-09-01T12:00:00Z", "CANCELLED", Some(END))]);
    let archived = agreement(Some(&cancelled), vec![revision("2025-10-01T00:00:00Z", "ARCHIVED", Some(END))]);
    let (kind, d) = event(&change(2, "MODIFY", Some(&cancelled), Some(&archived))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_CHANGED);
    assert_eq!((d["status"].as_str(), d["previousStatus"].as_str()), (Some("ARCHIVED"), Some("CANCELLED")));

    // First seen already ended (a backfill of history): Changed, from nothing.
    let (kind, d) = event(&change(3, "INSERT", None, Some(&cancelled))).unwrap();
    assert_eq!(kind, SUBSCRIPTION_CHANGED);
    assert_eq!((d["status"].as_str(), d["previousStatus"].clone()), (Some("CANCELLED"), Value::Null));
}

#[test]
fn writes_that_leave_the_revision_in_force_as_it_was_give_no_event() {
    let before = active();
    // The same item written again.
    assert_eq!(event(&change(1, "MODIFY", Some(&before), Some(&before))), None);
    // A correction of the version in force with the same values (a later update_date).
    let mut same = revision("2025-03-04T09:15:00Z", "ACTIVE", Some(END));
    same.version = version("2025-03-04T09:15:00Z", "2025-03-07T00:00:00Z", false);
    let corrected = agreement(Some(&before), vec![same]);
    assert_ne!(corrected.versions, before.versions, "the versions changed");
    assert_eq!(event(&change(2, "MODIFY", Some(&before), Some(&corrected))), None);
    // A SUPERSEDED revision delivered late: the ACTIVE one stays in force.
    let late = agreement(Some(&before), vec![revision("2025-05-01T00:00:00Z", "SUPERSEDED", Some(END))]);
    assert_eq!(event(&change(3, "MODIFY", Some(&before), Some(&late))), None);
    // A re-delivery writes nothing at all.
    assert_eq!(fold(Some(&before), vec![revision("2025-03-04T09:15:00Z", "ACTIVE", Some(END))]), None);
    // A REMOVE (ingest-feeds never deletes an agreement item).
    assert_eq!(event(&change(4, "REMOVE", Some(&before), None)), None);
    // A new item with no revision in force.
    let mut gone = revision("2025-03-04T09:15:00Z", "ACTIVE", Some(END));
    gone.version.deleted = true;
    let empty = agreement(None, vec![gone]);
    assert_eq!(event(&change(5, "INSERT", None, Some(&empty))), None);
}

#[test]
fn the_other_feed_items_give_no_event() {
    for item in reference_items() {
        let c = change(1, "INSERT", None, Some(&item));
        assert_eq!(mapping::event_of(&c, Detail::Full), None, "{:?}", item.key);
        assert_eq!(subscription_change(&c), None, "{:?}", item.key);
    }
    let usage = psc_bridge::feeds::DailyUsageRow {
        usage_feed_id: "u1".into(),
        usage_date: psc_bridge::feeds::parse_date("2025-06-01").unwrap(),
        product_id: PRODUCT.into(),
        end_user_account_id: FeedAccountId::new(BUYER),
    };
    let v = version("2025-06-02T00:00:00Z", "2025-06-02T00:00:00Z", false);
    let usage = fold(None, vec![Versioned { version: v, record: usage }]).unwrap();
    assert_eq!(subscription_change(&change(2, "INSERT", None, Some(&usage))), None);
}

// --------------------------------------------------------------- handler

fn quick() -> Backoff {
    Backoff::new(2, Duration::from_millis(1), Duration::from_millis(1))
}

async fn feeds_with(items: Vec<FeedItem>) -> MemoryFeeds {
    let feeds = MemoryFeeds::new();
    feeds.put_feed_items(&items).await.unwrap();
    feeds
}

fn details(bus: &MemoryBus) -> Vec<(String, Value)> {
    bus.accepted().iter().map(|e| (e.detail_type.clone(), serde_json::from_str(&e.detail).unwrap())).collect()
}

fn contact_change(n: u32) -> StreamChange {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let guid = "ba1d75cc-d984-4f07-bb14-ae04b952afbc";
    let item: Item = [
        ("pk", s(&format!("CONTACT#{guid}"))),
        ("sk", s("CONTACT")),
        ("kind", s("CONTACT")),
        ("customerGuid", s(guid)),
        ("awsAccountId", s(BUYER_AWS)),
        ("productId", s("4b898955-84fa-4cfb-8f43-98287ad69c06")),
        ("productCode", s(CODE)),
        ("subscriptionGuid", s("cad371fb-6f2c-4537-a054-1a7afc6312fd")),
        ("subscriptionStartDate", s("2016-05-27T00:00:00.000Z")),
        ("organization", s("Example Inc")),
        ("givenName", s("Eugene")),
        ("surname", s("Thietmar")),
        ("telephoneNumber", s("555-947-8228")),
        ("email", s("eugethi@example.org")),
        ("operationTime", s("2016-05-12T03:54:46.143Z")),
        ("operationType", s("CREATE")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    StreamChange {
        event_id: format!("event-{n}"),
        sequence_number: format!("{:021}", 2000 + n),
        event_name: "INSERT".into(),
        old_image: None,
        new_image: Some(item),
        time: None,
    }
}

#[tokio::test]
async fn the_handler_completes_subscription_events_from_the_feeds_beside_the_contact_events() {
    let feeds = feeds_with(reference_items()).await;
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_feeds(&feeds).with_retry(quick());
    let started = active();
    let ended = agreement(Some(&started), vec![revision("2025-09-01T12:00:00Z", "CANCELLED", Some(END))]);
    // Another buyer's agreement on an offer the feeds do not list yet.
    let mut other = revision_of("agmt-zzzz9999yyyy8888xxxx7777w", "2025-05-20T08:00:00Z", "ACTIVE", None);
    other.record.acceptor_account_id = Some(FeedAccountId::new("Mn8bVc2xZl5kJh9gFd3sAp7oIu1yTr6eWq4mNb0vCx"));
    other.record.offer_id = Some("offer-payg0000000001".into());
    let unknown = agreement(None, vec![other]);
    let account_item = reference_items().remove(0);
    let changes = vec![
        contact_change(1),
        change(2, "INSERT", None, Some(&started)),
        change(3, "INSERT", None, Some(&account_item)),
        change(4, "MODIFY", Some(&started), Some(&ended)),
        change(5, "INSERT", None, Some(&unknown)),
    ];
    let report = handler.deliver(&changes).await;
    assert_eq!((report.records, report.events, report.sent), (5, 4, 4), "{report:?}");
    assert!(report.response.batch_item_failures.is_empty());
    let got = details(&bus);
    let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["PSC Contact Created", SUBSCRIPTION_STARTED, SUBSCRIPTION_ENDED, SUBSCRIPTION_STARTED]);
    assert!(bus.accepted().iter().all(|e| e.source == "psc-bridge"));
    for (_, d) in &got[1..3] {
        assert_eq!(d["awsAccountId"], BUYER_AWS, "the bridge");
        assert_eq!((d["productId"].as_str(), d["productCode"].as_str()), (Some(PRODUCT), Some(CODE)));
        assert_eq!(d["productIds"], json!([PRODUCT]));
    }
    // Not known yet: the event still goes out, with nulls.
    let d = &got[3].1;
    assert_eq!(
        (d["awsAccountId"].clone(), d["productId"].clone(), d["productCode"].clone()),
        (json!(null), json!(null), json!(null))
    );
    assert_eq!(d["productIds"], json!([]));
    assert_eq!(d["offerId"], "offer-payg0000000001");
    // The subscription events carry no contact field.
    for (_, d) in &got[1..] {
        let text = d.to_string();
        for field in ["Eugene", "Thietmar", "eugethi", "555-947"] {
            assert!(!text.contains(field), "{field} in {text}");
        }
    }
}

/// A lookup that always fails (the table throttled or down).
struct Down;

fn down() -> AwsError {
    AwsError::service("DynamoDB", "BatchGetItem", "ProvisionedThroughputExceededException", "slow down", 400)
}

impl FeedLookup for Down {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        Err(down())
    }
    async fn feed_accounts(&self, _: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        Err(down())
    }
    async fn aws_account_ids(&self, _: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        Err(down())
    }
    async fn account_page(&self, _: &FeedAccountId, _: Option<&str>, _: usize) -> Result<AccountPage, AwsError> {
        Err(down())
    }
    async fn last_usage(&self, _: &FeedAccountId, _: &str) -> Result<Option<time::Date>, AwsError> {
        Err(down())
    }
    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        Err(down())
    }
    async fn offer_products(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Err(down())
    }
    async fn product_offers(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Err(down())
    }
    async fn offer_agreements(
        &self,
        _: &str,
        _: bool,
        _: Option<&str>,
        _: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        Err(LookupError::Aws(down()))
    }
}

#[tokio::test]
async fn a_failed_read_of_the_feeds_fails_the_batch_from_the_first_subscription_record() {
    let logs = devkit::capture_logs(|| psc_bridge::logging::filter(tracing_subscriber::filter::LevelFilter::TRACE));
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_feeds(Down).with_retry(quick());
    let item = active();
    let mut later_contact = contact_change(3);
    later_contact.new_image.as_mut().unwrap().insert("email".into(), AttributeValue::S("later@example.org".into()));
    let changes = vec![contact_change(1), change(2, "INSERT", None, Some(&item)), later_contact];
    let report = handler.deliver(&changes).await;
    assert_eq!(report.sent, 1, "the contact event before it: {report:?}");
    assert_eq!(
        serde_json::to_value(&report.response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": changes[1].sequence_number}]}),
        "the stream retries from the agreement's record"
    );
    assert_eq!(details(&bus).len(), 1, "nothing after it is sent");
    assert!(logs.text().contains("ProvisionedThroughputExceededException"), "the cause is logged");

    // Contact records alone need no read: they go out whatever the feeds' state.
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_feeds(Down).with_retry(quick());
    let report = handler.deliver(&[contact_change(1)]).await;
    assert_eq!((report.sent, report.response.batch_item_failures.len()), (1, 0));
}

#[tokio::test]
async fn a_stream_event_in_lambdas_json_gives_its_subscription_event() {
    let feeds = feeds_with(reference_items()).await;
    let bus = MemoryBus::new();
    let handler = ContactEvents::new(&bus, Detail::Full).with_feeds(&feeds).with_retry(quick());
    let item = image(&active());
    let new_image: serde_json::Map<String, Value> =
        item.iter().map(|(k, v)| (k.clone(), json!({"S": v.as_s().unwrap()}))).collect();
    let event = json!({"Records": [{
        "eventID": "7de1555df0c2700329e815b93b32c571",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": 1741133232.0,
            "Keys": {"pk": new_image["pk"], "sk": new_image["sk"]},
            "NewImage": new_image,
            "SequenceNumber": "300", "SizeBytes": 512, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]});
    let answer = handler.invoke(&psc_bridge::memory::MemoryStore::new(), &event).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let got = details(&bus);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, SUBSCRIPTION_STARTED);
    assert_eq!(got[0].1["eventId"], "7de1555df0c2700329e815b93b32c571");
    assert_eq!(got[0].1["recordedAt"], "2025-03-05T00:07:12.000Z");
    assert_eq!(got[0].1["awsAccountId"], BUYER_AWS);
}
