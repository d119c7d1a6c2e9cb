//! End to end on real engines: a real ingest (`ingest_export::apply_export`)
//! of the guide's data set, then a DELETE, into a DynamoDB Local table with a
//! `NEW_AND_OLD_IMAGES` stream; the stream's records (read with DynamoDB
//! Streams' `GetRecords`, as Lambda's poller reads them, and handed over in
//! the Lambda event's shape) through the handler to moto's EventBridge; a bus
//! rule to an SQS queue; and what arrives in the queue. The same for a
//! data-feeds agreement that starts and ends, written as ingest-feeds
//! writes it (`merge`, then `FeedStore::put_feed_items`).

use std::io::Cursor;
use std::time::Duration;

use contact_events::ContactEvents;
use contact_events::mapping::Detail;
use psc_bridge::aws::signed::SignedHttp;
use psc_bridge::aws::{DynamoStore, EventBridgeBus};
use psc_bridge::domain::Timestamp;
use psc_bridge::feeds::ItemKey;
use psc_bridge::feeds::store::merge;
use psc_bridge::ports::{EventBus, FeedLookup, FeedStore};
use serde_json::json;

use crate::feeds::{AGREEMENT, BUYER, BUYER_AWS, CODE, OFFER, PRODUCT, agreement, reference_items, revision};
use crate::moto::{BusToQueue, call, sdk};

const GUIDE: &str = include_str!("../../../../tests/fixtures/guide-sample.csv");
const HEADER_END: &str = "Operation Type";

#[tokio::test]
async fn an_ingest_and_a_delete_arrive_as_events_in_the_queue() {
    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("events-e2e");
    devkit::create_table_from_template(&ddb, &table).await.unwrap();
    // The stream as template.yaml declares it (NEW_AND_OLD_IMAGES).
    let stream_arn = devkit::enable_stream_from_template(&ddb, &table).await.expect("the stream is enabled");

    // The bus, a rule for psc-bridge's events and its queue, on moto.
    let moto = BusToQueue::create(emu.s3_endpoint()).await;
    let ddb_endpoint = emu.dynamodb_endpoint().trim_end_matches('/').to_owned();

    // A real ingest of the guide's data set, then a DELETE of Eugene.
    let store = DynamoStore::new(ddb.clone(), table.clone());
    let initial = Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap();
    let report = ingest_export::apply_export(&store, Cursor::new(GUIDE.as_bytes().to_vec()), "export-1", initial, 4)
        .await
        .unwrap();
    assert_eq!(report.counts.created, 4, "{:?}", report.counts);
    let header = &GUIDE[..GUIDE.find(HEADER_END).unwrap() + HEADER_END.len()];
    let delete = format!(
        "{header}\r\n4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,ba1d75cc-d984-4f07-bb14-ae04b952afbc,\
cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z,,000011112222,,,,,,,,2026-12-01T00:00:00.000Z,DELETE\r\n"
    );
    let report =
        ingest_export::apply_export(&store, Cursor::new(delete.into_bytes()), "export-2", initial, 4).await.unwrap();
    assert_eq!(report.counts.deleted, 1, "{:?}", report.counts);

    // Lambda's poller: every shard from its first record, in the Lambda
    // event's shape, through the handler.
    let handler = ContactEvents::new(EventBridgeBus::new(&moto.sdk, &moto.bus), Detail::Full);
    let sent = drain_stream(&handler, &ddb_endpoint, &stream_arn).await;
    // Five contacts (the guide's UPDATE of a contact the table never held
    // creates it), one deletion; the guide's stale DELETE wrote nothing.
    assert_eq!(sent, 6, "5 created, 1 deleted");

    let got = moto.receive(6).await;
    let kinds = |kind: &str| got.iter().filter(|e| e["detail-type"] == kind).collect::<Vec<_>>();
    assert_eq!(kinds("PSC Contact Created").len(), 5, "{got:#?}");
    let deleted = kinds("PSC Contact Deleted");
    assert_eq!(deleted.len(), 1, "{got:#?}");
    let d = &deleted[0]["detail"];
    assert_eq!(d["customerGuid"], "ba1d75cc-d984-4f07-bb14-ae04b952afbc");
    assert_eq!(d["exportRequestId"], "export-2");
    let text = deleted[0].to_string();
    for field in ["Eugene", "Thietmar", "eugethi", "555-947-8228"] {
        assert!(!text.contains(field), "{field} in the Deleted event: {text}");
    }
    let ravi =
        kinds("PSC Contact Created").into_iter().find(|e| e["detail"]["contact"]["givenName"] == "Ravi").expect("Ravi");
    assert_eq!(ravi["detail"]["contact"]["email"], "ravis@example.com");

    // The backfill, on the real table (Scan): the four live contacts, not Eugene.
    let r = handler.invoke(&store, &json!({"backfill": {"pageSize": 2}})).await.unwrap();
    assert_eq!((r["backfilled"].clone(), r["done"].clone()), (json!(4), json!(true)), "{r}");
    let backfilled = moto.receive(4).await;
    assert_eq!(backfilled.len(), 4, "{backfilled:#?}");
    assert!(backfilled.iter().all(|e| e["detail"]["backfill"] == true), "{backfilled:#?}");
    assert!(backfilled.iter().all(|e| e["detail"]["customerGuid"] != "ba1d75cc-d984-4f07-bb14-ae04b952afbc"));
    let _ = ddb.delete_table().table_name(&table).send().await;
}

/// Lambda's poller: every shard of the stream from its first record, handed
/// to the handler in the Lambda event's shape, page by page; the events sent.
async fn drain_stream<B: EventBus, F: FeedLookup>(
    handler: &ContactEvents<B, F>,
    ddb_endpoint: &str,
    stream_arn: &str,
) -> usize {
    let ddb_sdk = sdk(ddb_endpoint);
    let streams = SignedHttp::new(&ddb_sdk, Duration::from_secs(5), Duration::from_secs(30), "test", "streams");
    let described = call(
        &streams,
        ddb_endpoint,
        "dynamodb",
        "1.0",
        "DynamoDBStreams_20120810.DescribeStream",
        json!({"StreamArn": stream_arn}),
    )
    .await;
    let mut sent = 0;
    for shard in described["StreamDescription"]["Shards"].as_array().unwrap() {
        let it = call(
            &streams,
            ddb_endpoint,
            "dynamodb",
            "1.0",
            "DynamoDBStreams_20120810.GetShardIterator",
            json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut iterator = it["ShardIterator"].as_str().map(str::to_owned);
        for _ in 0..5 {
            let Some(i) = iterator.take() else { break };
            let page = call(
                &streams,
                ddb_endpoint,
                "dynamodb",
                "1.0",
                "DynamoDBStreams_20120810.GetRecords",
                json!({"ShardIterator": i}),
            )
            .await;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                break;
            }
            let report = handler.handle(&json!({"Records": records})).await;
            assert!(report.response.batch_item_failures.is_empty(), "{report:?}");
            sent += report.sent;
            iterator = page["NextShardIterator"].as_str().map(str::to_owned);
        }
    }
    sent
}

#[tokio::test]
async fn an_agreement_written_by_the_feeds_ingest_arrives_as_subscription_events() {
    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("events-subs");
    devkit::create_table_from_template(&ddb, &table).await.unwrap();
    let stream_arn = devkit::enable_stream_from_template(&ddb, &table).await.expect("the stream is enabled");
    let moto = BusToQueue::create(emu.s3_endpoint()).await;
    let ddb_endpoint = emu.dynamodb_endpoint().trim_end_matches('/').to_owned();
    let store = DynamoStore::new(ddb.clone(), table.clone());

    // The reference feeds (the bridge, the offer's product, the product),
    // then an agreement, as ingest-feeds writes them: the stored versions
    // read back, the new rows merged in, the changed item put.
    store.put_feed_items(&reference_items()).await.unwrap();
    let end = Some("2026-03-03T23:59:59Z");
    let key = ItemKey::new(format!("FEED#ACCOUNT#{BUYER}"), format!("AGREEMENT#{AGREEMENT}"));
    let ingest = |rows| {
        let (store, key) = (&store, &key);
        async move {
            let stored = store.feed_versions(std::slice::from_ref(key)).await.unwrap();
            let item = merge(key, stored.first().map(|(_, v)| v.as_str()), rows).unwrap();
            if let Some(item) = &item {
                store.put_feed_items(std::slice::from_ref(item)).await.unwrap();
            }
            item.is_some()
        }
    };
    assert!(ingest(vec![revision("2025-03-04T09:15:00Z", "ACTIVE", end)]).await, "the agreement is new");
    assert!(!ingest(vec![revision("2025-03-04T09:15:00Z", "ACTIVE", end)]).await, "a re-delivery writes nothing");
    assert!(ingest(vec![revision("2025-05-01T00:00:00Z", "SUPERSEDED", end)]).await, "a late superseded revision");
    assert!(ingest(vec![revision("2025-09-01T12:00:00Z", "CANCELLED", end)]).await, "the buyer cancels");
    assert_eq!(agreement(None, vec![revision("2025-03-04T09:15:00Z", "ACTIVE", end)]).key, key);

    let handler = ContactEvents::new(EventBridgeBus::new(&moto.sdk, &moto.bus), Detail::Full).with_feeds(store.clone());
    let sent = drain_stream(&handler, &ddb_endpoint, &stream_arn).await;
    assert_eq!(sent, 2, "Started and Ended; the reference items and the superseded revision are no event");

    let got = moto.receive(2).await;
    // An SQS queue does not keep the order: sorted by type (Ended < Started).
    let mut got = got;
    got.sort_by_key(|e| e["detail-type"].as_str().unwrap_or("").to_owned());
    let kinds: Vec<&str> = got.iter().filter_map(|e| e["detail-type"].as_str()).collect();
    assert_eq!(kinds, ["Marketplace Subscription Ended", "Marketplace Subscription Started"], "{got:#?}");
    for e in &got {
        let d = &e["detail"];
        assert_eq!(e["source"], "psc-bridge");
        assert_eq!((d["agreementId"].as_str(), d["feedAccountId"].as_str()), (Some(AGREEMENT), Some(BUYER)));
        assert_eq!(d["awsAccountId"], BUYER_AWS, "the bridge, read from the table");
        assert_eq!((d["offerId"].as_str(), d["productId"].as_str()), (Some(OFFER), Some(PRODUCT)));
        assert_eq!(d["productCode"], CODE);
        assert!(d["recordedAt"].is_string(), "the stream record's time: {d}");
    }
    let ended = &got[0]["detail"];
    assert_eq!((ended["status"].as_str(), ended["previousStatus"].as_str()), (Some("CANCELLED"), Some("ACTIVE")));
    assert_eq!(ended["revisionFrom"], "2025-09-01T12:00:00.000Z");
    let _ = ddb.delete_table().table_name(&table).send().await;
}
