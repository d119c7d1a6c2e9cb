//! End to end, in one process: start-export -> CAS stand-in -> S3 (moto) ->
//! notification -> ingest-export -> DynamoDB Local.
//!
//! The stand-in delivers each notification itself, straight to the ingest
//! (as it would to `cargo lambda watch`), so the test only starts exports and
//! waits for their delivery. A full export, then an incremental one with a
//! CREATE, an UPDATE and a DELETE, must leave exactly the expected table.
//!
//! Run with `make test SCOPE="-p start-export"`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_standin::{Delivery, DeliveryStatus, Notification, OperationType};
use ingest_export::Ingest;
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::domain::Guid;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::{ContactStore, ExportLog};
use start_export::{CasSource, Outcome, StartExport};

/// The personal attributes a contact item may hold.
const CONTACT_FIELDS: [&str; 8] =
    ["organization", "givenName", "surname", "telephoneNumber", "email", "title", "countryCode", "zipCode"];

type Item = BTreeMap<String, String>;

fn flatten(item: &HashMap<String, AttributeValue>) -> Item {
    item.iter()
        .map(|(k, v)| {
            let v = match v {
                AttributeValue::S(s) => s.clone(),
                AttributeValue::N(n) => n.clone(),
                AttributeValue::Bool(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            (k.clone(), v)
        })
        .collect()
}

async fn scan(ddb: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let item = flatten(item);
            out.insert(format!("{}|{}", item["pk"], item["sk"]), item);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

/// The contact item docs/data-model.md prescribes for a CSV row applied by `export_id`.
fn expected_item(row: &BTreeMap<String, String>, export_id: &str) -> Item {
    let guid = row["Customer Guid"].to_lowercase();
    let op = row["Operation Type"].as_str();
    let mut item: Item = [
        ("pk", format!("CONTACT#{guid}")),
        ("sk", "CONTACT".to_owned()),
        ("customerGuid", guid.clone()),
        ("operationTime", row["Operation Time"].clone()),
        ("exportRequestId", export_id.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if op == "DELETE" {
        item.insert("kind".into(), "DELETED".into());
        return item;
    }
    let account = row.get("AWS Customer Id").or_else(|| row.get("AWS Account Id")).unwrap().clone();
    let code = row["Product Code"].to_lowercase();
    let sub = row["Subscription Guid"].to_lowercase();
    let email = row["Email"].clone();
    for (k, v) in [
        ("kind", "CONTACT".to_owned()),
        ("gsi1pk", format!("ACCOUNT#{account}")),
        ("gsi1sk", format!("PRODUCT#{code}#SUB#{sub}#CONTACT#{guid}")),
        ("gsi2pk", format!("EMAIL#{}", email.to_lowercase())),
        ("gsi2sk", guid.clone()),
        ("productId", row["Product Id"].to_lowercase()),
        ("productCode", code.clone()),
        ("subscriptionGuid", sub.clone()),
        ("subscriptionStartDate", row["Subscription Start Date"].clone()),
        ("awsAccountId", account.clone()),
        ("operationType", op.to_owned()),
    ] {
        item.insert(k.to_owned(), v);
    }
    for (column, attr) in [
        ("Organization", "organization"),
        ("Given Name", "givenName"),
        ("Surname", "surname"),
        ("Telephone Number", "telephoneNumber"),
        ("Email", "email"),
        ("Title", "title"),
        ("Country Code", "countryCode"),
        ("ZIP Code", "zipCode"),
    ] {
        if !row[column].is_empty() {
            item.insert(attr.to_owned(), row[column].clone());
        }
    }
    item
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_export_ends_with_the_expected_table() {
    let f = fresh().await;
    let store = Store::new(f.ddb.clone(), f.table.clone());
    let ingest = Arc::new(Ingest::new(f.s3.clone(), store.clone(), ingest_settings(), Metrics::new("PscBridgeTest")));

    // The stand-in hands every notification's SNS event to the ingest itself.
    let delivery = Delivery::callback({
        let ingest = ingest.clone();
        move |n: Notification| {
            let ingest = ingest.clone();
            async move {
                match ingest.handle_event(n.sns_event()).await {
                    Ok(summaries) => Ok(serde_json::to_string(&summaries).unwrap()),
                    Err(e) => Err(format!("{}: {e}", e.error_type())),
                }
            }
        }
    });
    let standin = standin(delivery, &f).await;
    let handler = StartExport::new(
        CasSource(cas_client_for(&standin.endpoint_url())),
        store.clone(),
        settings(&f.bucket),
        Metrics::new("PscBridgeTest"),
    );

    // Starts a scheduled export and waits until the ingest has applied it;
    // returns its id and its CSV rows.
    let export = |label: &'static str| {
        let (handler, standin, s3) = (&handler, &standin, &f.s3);
        async move {
            let out = handler.handle(json(SCHEDULE)).await.unwrap_or_else(|e| panic!("{label}: {e}"));
            let id = out["requestId"].as_str().expect("started").to_owned();
            let entry = standin.wait_for_delivery(&id, WAIT).await.expect("delivered in time");
            match entry.delivery.as_ref().unwrap() {
                DeliveryStatus::Delivered { .. } => {}
                other => panic!("{label}: the ingest did not take the notification: {other:?}"),
            }
            let e = entry.export.as_ref().unwrap();
            let rows = read_csv(s3, &e.bucket_name, &e.data_set_key).await;
            (id, out, rows, entry)
        }
    };

    // ---- 1. full export of the guide's static test data set
    let (id1, out1, rows1, _) = export("full").await;
    assert_eq!(out1["fromDate"], INITIAL);
    assert_eq!(rows1.len(), GUIDE_GUIDS.len());
    let rec1 = store.export(&id1).await.unwrap().unwrap();
    assert_eq!(rec1.status, ExportStatus::Applied);
    assert_eq!(rec1.counts.applied(), 5);
    assert_eq!(rec1.counts.rejected, 0);
    let w1 = store.sync_state().await.unwrap().watermark.expect("watermark after the full export");
    for g in GUIDE_GUIDS {
        assert!(store.contact_by_guid(&Guid::parse(g).unwrap()).await.unwrap().is_some(), "{g}");
    }

    // ---- 2. changes: a new contact, an update, a delete
    tokio::time::sleep(Duration::from_millis(5)).await;
    let new_guid = "5d1c7a52-9a43-4c1b-8d0e-3f6b2a9c4e10";
    standin.store().upsert(new_contact(new_guid), None);
    let mut moved = standin.store().latest(GUIDE_GUIDS[4]).unwrap().contact();
    moved.email = Some("Abdul.Alves@Example.net".into());
    moved.title = Some("Director".into());
    standin.store().upsert(moved, None);
    let deleted = GUIDE_GUIDS[1]; // Angela Doe: ZIP 02201, country US
    standin.store().delete(deleted, None).unwrap();

    let (id2, out2, rows2, entry2) = export("incremental").await;
    assert_eq!(out2["fromDate"], w1.to_iso(), "the incremental export starts at the watermark");
    assert_eq!(rows2.len(), 3, "only the changes");
    let rec2 = store.export(&id2).await.unwrap().unwrap();
    assert_eq!(rec2.status, ExportStatus::Applied);
    assert_eq!((rec2.counts.created, rec2.counts.updated, rec2.counts.deleted), (1, 1, 1));
    assert_eq!(rec2.from_date, Some(w1));
    let w2 = store.sync_state().await.unwrap().watermark.unwrap();
    assert!(w2 > w1);

    // The DELETE: gone from every lookup, and nothing personal left behind.
    let deleted_guid = Guid::parse(deleted).unwrap();
    assert_eq!(store.contact_by_guid(&deleted_guid).await.unwrap(), None);
    assert!(store.contacts_by_email("adoe@example.com").await.unwrap().is_empty());
    let raw = store.raw_contact_item(&deleted_guid).await.unwrap().expect("the DELETE's time is remembered");
    for field in CONTACT_FIELDS.iter().chain(&["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]) {
        assert!(!raw.contains_key(*field), "{field} left behind after a DELETE");
    }
    // The update is found by its new email, case-insensitively, not by the old one.
    assert_eq!(store.contacts_by_email("abdul.alves@EXAMPLE.net").await.unwrap().len(), 1);
    assert!(store.contacts_by_email("abdal@example.com").await.unwrap().is_empty());

    // A repeated delivery of the incremental notification changes nothing.
    let before = scan(&f.ddb, &f.table).await;
    let again = ingest.handle_event(entry2.notification.as_ref().unwrap().sns_event()).await.unwrap();
    assert!(again[0].duplicate);
    assert_eq!(scan(&f.ddb, &f.table).await, before);

    // ---- 3. the expected table, item by item
    let mut expected: BTreeMap<String, Item> = BTreeMap::new();
    for (rows, id) in [(&rows1, &id1), (&rows2, &id2)] {
        for row in rows {
            let item = expected_item(row, id);
            expected.insert(format!("{}|{}", item["pk"], item["sk"]), item);
        }
    }
    let table = scan(&f.ddb, &f.table).await;
    let contacts: BTreeMap<_, _> =
        table.iter().filter(|(k, _)| k.starts_with("CONTACT#")).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(contacts, expected);

    // ... and it matches the stand-in's own latest state of every record.
    let latest = standin.store().latest_all();
    assert_eq!(latest.len(), 6);
    for r in &latest {
        let item = &contacts[&format!("CONTACT#{}|CONTACT", r.customer_guid)];
        assert_eq!(item["operationTime"], aws_standin::format_timestamp(r.operation_time));
        match r.operation_type {
            OperationType::Delete => {
                assert_eq!(item["kind"], "DELETED");
                let keys: BTreeSet<_> = item.keys().map(String::as_str).collect();
                assert_eq!(
                    keys,
                    BTreeSet::from(["pk", "sk", "kind", "customerGuid", "operationTime", "exportRequestId"])
                );
            }
            _ => {
                assert_eq!(item["kind"], "CONTACT");
                assert_eq!(item.get("email"), r.email.as_ref());
                assert_eq!(item["awsAccountId"], r.aws_customer_id);
                assert_eq!(item.get("zipCode"), r.zip_code.as_ref());
            }
        }
    }
    // The new contact kept its leading zeroes.
    let new_item = &contacts[&format!("CONTACT#{new_guid}|CONTACT")];
    assert_eq!(new_item["awsAccountId"], "000099998888");
    assert_eq!(new_item["zipCode"], "02110");

    // Besides contacts: the sync state and the two export records, nothing else.
    let others: BTreeSet<_> = table.keys().filter(|k| !k.starts_with("CONTACT#")).cloned().collect();
    assert_eq!(
        others,
        BTreeSet::from(["SYNC|STATE".to_owned(), format!("EXPORT#{id1}|EXPORT"), format!("EXPORT#{id2}|EXPORT")])
    );
    let sync = &table["SYNC|STATE"];
    assert_eq!(sync["watermark"], w2.to_iso());
    assert_eq!(sync["pendingRanges"], format!("{:?}", AttributeValue::L(vec![])));
    for (id, from) in [(&id1, INITIAL.to_owned()), (&id2, w1.to_iso())] {
        let e = &table[&format!("EXPORT#{id}|EXPORT")];
        assert_eq!(e["status"], "APPLIED");
        assert_eq!(e["fromDate"], from);
        assert_eq!(e["dataSetType"], "test_customer_support_contacts_data");
        assert_eq!(e["forced"], "false");
        assert!(!CONTACT_FIELDS.iter().any(|f| e.contains_key(*f)));
    }

    // ---- 4. nothing is pending, so the schedule keeps going
    let report = handler.run(json(SCHEDULE)).await;
    assert!(matches!(report.outcome, Ok(Outcome::Started { .. })), "{:?}", report.outcome);
    assert_eq!(report.metric("DataStale"), Some(0.0));
    standin.shutdown().await;
}
