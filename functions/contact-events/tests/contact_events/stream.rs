//! End to end on real engines: a real ingest (`ingest_export::apply_export`)
//! of the guide's data set, then a DELETE, into a DynamoDB Local table with a
//! `NEW_AND_OLD_IMAGES` stream; the stream's records (read with DynamoDB
//! Streams' `GetRecords`, as Lambda's poller reads them, and handed over in
//! the Lambda event's shape) through the handler to moto's EventBridge; a bus
//! rule to an SQS queue; and what arrives in the queue.

use std::io::Cursor;
use std::time::Duration;

use contact_events::ContactEvents;
use contact_events::mapping::Detail;
use psc_bridge::aws::signed::SignedHttp;
use psc_bridge::aws::{DynamoStore, EventBridgeBus};
use psc_bridge::domain::Timestamp;
use serde_json::json;

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
    let ddb_sdk = sdk(&ddb_endpoint);
    let streams = SignedHttp::new(&ddb_sdk, Duration::from_secs(5), Duration::from_secs(30), "test", "streams");
    let described = call(
        &streams,
        &ddb_endpoint,
        "dynamodb",
        "1.0",
        "DynamoDBStreams_20120810.DescribeStream",
        json!({"StreamArn": stream_arn}),
    )
    .await;
    let handler = ContactEvents::new(EventBridgeBus::new(&moto.sdk, &moto.bus), Detail::Full);
    let mut sent = 0;
    for shard in described["StreamDescription"]["Shards"].as_array().unwrap() {
        let it = call(
            &streams,
            &ddb_endpoint,
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
                &ddb_endpoint,
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
