//! The write path against DynamoDB Local, as R3 asks: exports
//! delivered at the same time (and one of them twice) leave the table an
//! in-order delivery leaves; a contact's rows within one export apply in
//! file order; rows older than the table are counted stale and change nothing.

use std::io::Cursor;

use ingest_export::{Settings, Writes, apply_export, apply_export_with};
use psc_bridge::aws::DynamoStore;
use psc_bridge::aws::dynamodb::item::decode_contact;
use psc_bridge::domain::{Guid, Timestamp};
use psc_bridge::memory::MemoryStore;
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::{ContactStore, ExportLog};

use crate::helpers::*;

fn guid(i: usize) -> String {
    format!("5e1f0000-0000-4000-8000-{i:012}")
}

/// Hour `h` of January `day`, 2020.
fn at(day: u32, h: u32) -> String {
    format!("2020-01-{day:02}T{h:02}:00:00.000Z")
}

/// Every contact item (raw, deletion markers included) of `guids`.
async fn table_of(store: &DynamoStore, guids: &[String]) -> Vec<Option<psc_bridge::aws::dynamodb::item::Item>> {
    let mut out = Vec::with_capacity(guids.len());
    for g in guids {
        out.push(store.raw_contact_item(&Guid::parse(g).unwrap()).await.unwrap());
    }
    out
}

/// The given name of the live contact `g`, if any.
async fn name_of(store: &DynamoStore, g: String) -> Option<String> {
    let contact = store.contact_by_guid(&Guid::parse(&g).unwrap()).await.unwrap();
    contact.map(|c| c.details.given_name.as_str().to_owned())
}

fn want_all(reference: &MemoryStore, guids: &[String]) -> bool {
    guids.iter().all(|g| reference.held(&Guid::parse(g).unwrap()).is_some())
}

const CONTACTS: usize = 300;

/// Export A (January 1st to 5th): every contact created; every third
/// updated again later in the file, every fourth sent twice more with an
/// older time further on (as a re-sent correction would be), every fifth deleted.
fn export_a() -> String {
    let mut rows = Vec::new();
    for i in 0..CONTACTS {
        rows.push(upsert_row(&guid(i), &format!("Alpha{i}"), &at(2, (i % 20) as u32), "CREATE"));
    }
    for i in (0..CONTACTS).step_by(3) {
        rows.push(upsert_row(&guid(i), &format!("Alphaupd{i}"), &at(3, (i % 20) as u32), "UPDATE"));
    }
    for i in (0..CONTACTS).step_by(4) {
        rows.push(upsert_row(&guid(i), &format!("Alphaold{i}"), &at(1, 0), "UPDATE"));
        rows.push(upsert_row(&guid(i), &format!("Alphaold{i}"), &at(1, 0), "UPDATE"));
    }
    for i in (0..CONTACTS).step_by(5) {
        rows.push(delete_row(&guid(i), &at(4, 0)));
    }
    csv(&rows)
}

/// Export B (January 5th to 10th): newer rows for two contacts in three,
/// some of them twice in a row, and the re-creation of deleted ones.
fn export_b() -> String {
    let mut rows = Vec::new();
    for i in (0..CONTACTS).filter(|i| i % 3 != 2) {
        rows.push(upsert_row(&guid(i), &format!("Bravo{i}"), &at(6, (i % 20) as u32), "UPDATE"));
        if i % 7 == 0 {
            rows.push(upsert_row(&guid(i), &format!("Bravotwice{i}"), &at(7, 0), "UPDATE"));
        }
        if i % 10 == 0 {
            rows.push(delete_row(&guid(i), &at(8, 0)));
        }
    }
    csv(&rows)
}

const A_END: &str = "2020-01-05T00:00:00.000Z";
const B_END: &str = "2020-01-10T00:00:00.000Z";

#[tokio::test]
async fn exports_delivered_at_the_same_time_leave_the_table_of_an_in_order_delivery() {
    let guids: Vec<String> = (0..CONTACTS).map(guid).collect();
    let (a, b) = (export_a(), export_b());

    // The reference: A, then B, one row at a time, in memory.
    let reference = MemoryStore::new();
    let in_order = Writes { concurrency: 1, throttling: ingest_export::THROTTLING };
    for (id, body) in [("req-a", &a), ("req-b", &b)] {
        let r = apply_export_with(&reference, Cursor::new(body.clone().into_bytes()), id, t(INITIAL), in_order);
        assert_eq!(r.await.unwrap().failed_writes, 0);
    }

    // B, A and A again, all at once, 4 writes in flight each: their
    // conditional writes meet on the same items.
    let env = TestEnv::with_settings(|s| Settings { write_concurrency: 4, ..s }).await;
    let msg_a = env.stage_export("req-a", &a, INITIAL, A_END).await;
    let msg_b = env.stage_export("req-b", &b, A_END, B_END).await;
    let (rb, ra, ra2) = tokio::join!(env.deliver(&msg_b), env.deliver(&msg_a), env.deliver(&msg_a));
    for (what, r) in [("B", rb), ("A", ra), ("A again", ra2)] {
        let s = r.unwrap_or_else(|e| panic!("export {what}: {e}"));
        assert_eq!(s.status, ExportStatus::Applied, "export {what}");
    }
    let mut differ = Vec::new();
    for g in &guids {
        let want = reference.held(&Guid::parse(g).unwrap()).map(|h| (h.operation_time, h.contact, h.export_request_id));
        let got = env.store.raw_contact_item(&Guid::parse(g).unwrap()).await.unwrap().map(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            (Timestamp::parse(&text("operationTime")).unwrap(), decode_contact(&item), text("exportRequestId"))
        });
        if got != want {
            differ.push(g);
        }
    }
    assert!(want_all(&reference, &guids), "the reference holds every contact");
    assert!(differ.is_empty(), "{} contact(s) differ from the in-order table, e.g. {:?}", differ.len(), differ.first());
    assert_eq!(env.store.sync_state().await.unwrap().watermark, Some(t(B_END)));

    // Spot checks of what a seller would see.
    let contact = |i: usize| name_of(&env.store, guid(i));
    assert_eq!(contact(1).await.as_deref(), Some("Bravo1"), "B is newer");
    assert_eq!(contact(2).await.as_deref(), Some("Alpha2"), "only A has it");
    assert_eq!(contact(3).await.as_deref(), Some("Bravo3"), "B over A's update");
    assert_eq!(contact(7).await.as_deref(), Some("Bravotwice7"), "B's later row of 7");
    assert!(contact(10).await.is_none(), "deleted by B");
    assert_eq!(contact(25).await.as_deref(), Some("Bravo25"), "deleted by A, updated by B");
    assert!(contact(30).await.is_none(), "deleted by A and by B");
    assert!(contact(35).await.is_none(), "deleted by A, B has no row of it");
    env.assert_logs_clean();
}

#[tokio::test]
async fn several_rows_of_one_contact_in_one_export_apply_in_file_order() {
    let env = TestEnv::new().await;
    let (x, y, z) = (guid(900_001), guid(900_002), guid(900_003));
    let mut rows = vec![
        // X: three rows in a row, the last one older than the second.
        upsert_row(&x, "Xfirst", &at(1, 0), "CREATE"),
        upsert_row(&x, "Xnewest", &at(3, 0), "UPDATE"),
        upsert_row(&x, "Xolder", &at(2, 0), "UPDATE"),
        // Y: created, deleted, created again, spread over the file.
        upsert_row(&y, "Yfirst", &at(1, 0), "CREATE"),
        // Z: deleted, then an older CREATE.
        delete_row(&z, &at(2, 0)),
        upsert_row(&z, "Zolder", &at(1, 0), "CREATE"),
    ];
    for i in 0..250 {
        rows.push(upsert_row(&guid(i), &format!("Filler{i}"), &at(1, 0), "CREATE"));
        if i == 120 {
            rows.push(delete_row(&y, &at(2, 0)));
        }
    }
    rows.push(upsert_row(&y, "Yagain", &at(3, 0), "CREATE"));
    let s = env.apply("req-dups", &csv(&rows), INITIAL, "2020-01-05T00:00:00.000Z").await;
    assert_eq!(s.status, ExportStatus::Applied);
    let c = s.counts;
    assert_eq!(
        (c.created, c.updated, c.deleted, c.skipped_stale),
        (250 + 1 + 2, 1, 1 + 1, 1 + 1),
        "every row counted once, in file order: {c:?}"
    );
    let contact = |g: &str| name_of(&env.store, g.to_owned());
    assert_eq!(contact(&x).await.as_deref(), Some("Xnewest"));
    assert_eq!(contact(&y).await.as_deref(), Some("Yagain"));
    assert!(contact(&z).await.is_none(), "an older CREATE does not undo a DELETE");

    // The same contacts with older rows, written (the watermark does not
    // skip them here): every one is turned away, and nothing changes.
    let guids = vec![x.clone(), y.clone(), z.clone(), guid(0), guid(249)];
    let before = table_of(&env.store, &guids).await;
    let old = csv(&guids.iter().map(|g| upsert_row(g, "Stale", &at(1, 0), "UPDATE")).collect::<Vec<_>>());
    remember_contact_values(&old);
    let report = apply_export(&env.store, Cursor::new(old.into_bytes()), "req-old", t(INITIAL), 8).await.unwrap();
    assert_eq!((report.counts.applied(), report.counts.skipped_stale, report.failed_writes), (0, 5, 0));
    assert_eq!(table_of(&env.store, &guids).await, before, "stale rows changed the table");
    env.assert_logs_clean();
}
