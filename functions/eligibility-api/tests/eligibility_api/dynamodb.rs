//! Integration tests against DynamoDB Local (devkit): the data is written by
//! the ingest path (`ingest_export::apply_export`, and the whole
//! `Ingest` for the sync status), never hand-inserted, then read through the
//! router with the fixture events. The read side and the write side cannot
//! drift apart unnoticed. The data feeds are merged as ingest-feeds merges
//! them (`MemoryFeeds::load_csv`) and written through the adapter.

use std::collections::BTreeSet;
use std::io::Cursor;

use crate::common::*;
use devkit::export_metadata_json as metadata;
use eligibility_api::Api;
use ingest_export::{Ingest, Settings, apply_export};
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::domain::Timestamp;
use psc_bridge::metrics::Metrics;
use serde_json::{Value, json};

const INITIAL: &str = "2010-01-01T00:00:00.000Z";
struct Env {
    store: Store,
}

impl Env {
    async fn new() -> Self {
        capture_logs();
        let emu = devkit::Emulators::get().await;
        let ddb = emu.dynamodb_client();
        let table = devkit::unique_name("eligibility");
        devkit::create_table_from_template(&ddb, &table).await.expect("table from template.yaml");
        Self { store: Store::new(ddb, table) }
    }

    async fn apply(&self, csv: &str, request_id: &str) {
        let report = apply_export(
            &self.store,
            Cursor::new(csv.as_bytes().to_vec()),
            request_id,
            Timestamp::parse(INITIAL).unwrap(),
            8,
        )
        .await
        .expect("export applied");
        assert_eq!(report.failed_writes, 0);
        assert_eq!(report.counts.rejected, 0);
    }

    fn api(&self) -> Api<Store> {
        Api::new(self.store.clone()).with_clock(now)
    }
}

async fn get(api: &Api<Store>, event: &Value) -> ApiResponse {
    answer(api.handle(request(event)).await)
}

fn account_event(account: &str, query: &str) -> Value {
    with_query(with_path(event_json("api-get-account"), "GET", &format!("/accounts/{account}")), query)
}

fn product_event(account: &str, product: &str, query: &str) -> Value {
    with_query(
        with_path(event_json("api-get-account-product"), "GET", &format!("/accounts/{account}/products/{product}")),
        query,
    )
}

fn guids(body: &Value) -> Vec<String> {
    body["contacts"].as_array().unwrap().iter().map(|c| c["customerGuid"].as_str().unwrap().to_owned()).collect()
}

fn assert_logs_clean(extra_csv: &str) {
    let text = capture_logs().text();
    let values: Vec<String> = contact_values(&guide_csv()).into_iter().chain(contact_values(extra_csv)).collect();
    // As whole tokens: a ZIP code inside a longer number (a checksum in the
    // SDK's DEBUG lines) is not a leak.
    let leaked = devkit::leaked(&text, &values);
    assert!(leaked.is_empty(), "contact values {leaked:?} in the logs");
}

#[tokio::test]
async fn the_guide_sample_through_every_route() {
    let env = Env::new().await;
    env.apply(&guide_csv(), "guide-sample").await;
    let api = env.api();

    let a = get(&api, &event_json("api-get-account")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], true);
    let mut g = guids(&a.body);
    g.sort();
    assert_eq!(g, ["1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc", GUID], "the older DELETE did not win");
    assert_eq!(a.body["products"][0]["productCode"], PRODUCT);
    assert_eq!(a.body["subscriptions"][0]["subscriptionStartDate"], "2016-05-19T00:00:00.000Z");
    assert_eq!(a.body["nextCursor"], Value::Null);
    // No export recorded a watermark (apply_export alone): unknown and stale.
    assert_eq!(a.body["freshness"]["watermark"], Value::Null);
    assert_eq!(a.body["freshness"]["staleBeyondOneBusinessDay"], true);

    let a = get(&api, &event_json("api-get-account-product")).await;
    assert_eq!((a.status, &a.body["eligible"]), (200, &json!(true)), "{}", a.text);
    assert_eq!(a.body["subscriptions"][0]["subscriptionGuid"], "cad371fb-6f2c-4537-a054-1a7afc6312fd");

    // Ravi's product is not eligible on Eugene's account.
    let a = get(&api, &product_event(ACCOUNT, "c0dcyyqczbk5uc62acmp6450t", "")).await;
    assert_eq!((a.status, &a.body["eligible"]), (200, &json!(false)), "{}", a.text);
    let a = get(&api, &product_event("111122223333", "c0dcyyqczbk5uc62acmp6450t", "")).await;
    assert_eq!(a.body["eligible"], true, "{}", a.text);

    let a = get(&api, &event_json("api-find-contacts")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(guids(&a.body), ["1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc"], "ADoe@Example.COM finds adoe@example.com");

    let a = get(&api, &event_json("api-get-contact")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["contact"]["surname"], "Thietmar");

    assert_eq!(get(&api, &event_json("api-get-contact-not-found")).await.status, 404);
    let a = get(&api, &event_json("api-get-account-unknown")).await;
    assert_eq!((a.status, &a.body["eligible"], &a.body["contacts"]), (200, &json!(false), &json!([])));

    let a = get(&api, &event_json("api-get-sync")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["exports"], json!([]));
    assert_eq!(a.body["watermark"], Value::Null);
    assert_logs_clean("");
}

#[tokio::test]
async fn fifty_contacts_page_by_page() {
    let env = Env::new().await;
    let csv = fifty_contacts_csv();
    env.apply(&csv, "fifty").await;
    env.apply(&guide_csv(), "guide-sample").await; // other accounts stay out
    let api = env.api();

    for (limit, sizes) in [(20, vec![20, 20, 10]), (25, vec![25, 25, 0]), (50, vec![50, 0]), (100, vec![50])] {
        let mut seen = Vec::new();
        let mut subs = BTreeSet::new();
        let mut products = BTreeSet::new();
        let mut got = Vec::new();
        let mut query = format!("limit={limit}");
        loop {
            let a = get(&api, &account_event(BIG_ACCOUNT, &query)).await;
            assert_eq!(a.status, 200, "{}", a.text);
            assert_eq!(a.body["eligible"], true, "limit {limit}: every page, even an empty last one");
            let page = guids(&a.body);
            got.push(page.len());
            let in_page: usize = a.body["subscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["contactCount"].as_u64().unwrap() as usize)
                .sum();
            assert_eq!(in_page, page.len(), "the aggregates cover the returned page");
            subs.extend(a.body["subscriptions"].as_array().unwrap().iter().map(|s| s["subscriptionGuid"].to_string()));
            products.extend(a.body["products"].as_array().unwrap().iter().map(|p| p["productCode"].to_string()));
            seen.extend(page);
            match a.body["nextCursor"].as_str() {
                Some(c) => query = format!("limit={limit}&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(got, sizes, "limit {limit}: page sizes");
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (50, 50), "limit {limit}: every contact once");
        assert_eq!(subs.len(), 5, "limit {limit}");
        assert_eq!(products.len(), 2, "limit {limit}");
    }

    // Default page size: 50.
    let a = get(&api, &account_event(BIG_ACCOUNT, "")).await;
    assert_eq!(guids(&a.body).len(), 50);

    // Per product, paged too: 30 contacts in subscriptions 0-2.
    let (_, code) = BIG_PRODUCTS[0];
    let first = get(&api, &product_event(BIG_ACCOUNT, code, "limit=20")).await;
    assert_eq!((first.status, guids(&first.body).len()), (200, 20), "{}", first.text);
    let c = first.body["nextCursor"].as_str().unwrap();
    let second = get(&api, &product_event(BIG_ACCOUNT, code, &format!("limit=20&cursor={c}"))).await;
    assert_eq!(guids(&second.body).len(), 10);
    assert_eq!(second.body["nextCursor"], Value::Null);
    assert_logs_clean(&csv);
}

#[tokio::test]
async fn a_cursor_of_another_listing_is_a_400_naming_cursor() {
    let env = Env::new().await;
    env.apply(&fifty_contacts_csv(), "fifty").await;
    env.apply(&guide_csv(), "guide-sample").await;
    let api = env.api();
    let page = get(&api, &account_event(BIG_ACCOUNT, "limit=40")).await;
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned(); // inside the second product
    let first_product = BIG_PRODUCTS[0].1;
    let guide_cursor =
        get(&api, &account_event(ACCOUNT, "limit=1")).await.body["nextCursor"].as_str().unwrap().to_owned();
    for event in [
        // Another account's cursor.
        account_event(BIG_ACCOUNT, &format!("cursor={guide_cursor}")),
        // The account listing's cursor, past the end of the first product's range.
        product_event(BIG_ACCOUNT, first_product, &format!("cursor={cursor}")),
        // Well-formed base64url, not a cursor.
        account_event(BIG_ACCOUNT, "cursor=eyJ4IjoieSJ9"),
        account_event(BIG_ACCOUNT, "cursor=AAAA"),
    ] {
        let a = get(&api, &event).await;
        assert_eq!(a.status, 400, "{}", a.text);
        assert_eq!(a.body["error"]["field"], "cursor", "{}", a.text);
    }
}

#[tokio::test]
async fn an_opt_out_removes_the_contact_from_every_lookup() {
    let env = Env::new().await;
    env.apply(&guide_csv(), "guide-sample").await;
    let delete = format!(
        "{HEADER}\n4b898955-84fa-4cfb-8f43-98287ad69c06,{PRODUCT},1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc,\
         cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-19T00:00:00.000Z,,{ACCOUNT},,,,,,,,2017-01-01T00:00:00.000Z,DELETE\n"
    );
    env.apply(&delete, "opt-out").await;
    let api = env.api();
    let by_guid = with_path(event_json("api-get-contact"), "GET", "/contacts/1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc");
    let a = get(&api, &by_guid).await;
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "NotFound");
    let a = get(&api, &event_json("api-find-contacts")).await;
    assert_eq!((a.status, &a.body["contacts"]), (200, &json!([])));
    let a = get(&api, &event_json("api-get-account")).await;
    assert_eq!(guids(&a.body), [GUID]);
    assert_eq!(a.body["eligible"], true, "Eugene is still on record");
}

// ------------------------------------------------- the whole ingest path

#[tokio::test]
async fn sync_status_after_an_export_delivered_through_ingest() {
    let env = Env::new().await;
    let emu = devkit::Emulators::get().await;
    let s3 = emu.s3_client();
    let bucket = devkit::unique_name("exports");
    devkit::create_bucket(&s3, &bucket).await.expect("bucket");
    let ingest = Ingest::new(
        s3.clone(),
        env.store.clone(),
        Settings { initial_from_date: Timestamp::parse(INITIAL).unwrap(), write_concurrency: 8, ..Settings::default() },
        Metrics::new("PscBridgeTest"),
    );
    let id = "c3c84ee0-5aba-11e6-8d9c-235dc080841d";
    let end = "2026-11-20T17:00:00.000Z"; // Friday 17:00; the test clock says Monday 17:00
    let (csv_key, meta_key) = (format!("psc/{id}.csv"), format!("psc/{id}.meta.json"));
    for (key, body) in [(&csv_key, guide_csv()), (&meta_key, metadata(id, INITIAL, end, &bucket, &csv_key, &meta_key))]
    {
        s3.put_object().bucket(&bucket).key(key).body(body.into_bytes().into()).send().await.expect("put");
    }
    let notification = json!({
        "dataSetS3Location": {"bucketName": bucket, "key": csv_key},
        "dataSetMetaDataS3Location": {"bucketName": bucket, "key": meta_key},
        "dataSetRequestId": id,
        "success": true
    });
    ingest.handle_message(&notification.to_string(), "sns-1").await.expect("export applied");

    let api = env.api();
    let a = get(&api, &event_json("api-get-sync")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["watermark"], end);
    assert_eq!(a.body["pendingRanges"], json!([]));
    let e = &a.body["exports"][0];
    assert_eq!(e["requestId"], id);
    assert_eq!(e["status"], "APPLIED");
    // Six valid rows, each counted once (the DELETE older than its CREATE
    // is either applied first and overwritten, or skipped as stale).
    let c = &e["counts"];
    assert_eq!(c["rejected"], 0, "{e}");
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("created") + n("updated") + n("deleted") + n("skippedStale"), 6, "{e}");
    assert_eq!(e["coverage"], json!({"start": INITIAL, "end": end}));
    assert_eq!(
        a.body["freshness"],
        json!({"watermark": end, "ageSeconds": 72 * 3600, "businessAgeSeconds": 24 * 3600, "staleBeyondOneBusinessDay": false})
    );
    // And every lookup says the same.
    let a = get(&api, &event_json("api-get-account")).await;
    assert_eq!(a.body["freshness"]["watermark"], end);
    assert_logs_clean("");
}

/// The data feeds on DynamoDB Local: the tests' feeds (`feeds.rs`), merged
/// as the ingest merges them and written through the adapter's own
/// `put_feed_items`, answer through `DynamoStore`'s `FeedLookup` exactly as
/// they do in memory: the `dataFeeds` source and eligibility of every
/// account of the data set, and the subscriber report page by page.
#[tokio::test]
async fn the_data_feeds_answer_on_dynamodb_as_in_memory() {
    use crate::feeds::{AS_OF, ENDED, Feeds, GUIDE, IDLE, NEW_BUYER, NOBODY, USED, report, rows};
    use psc_bridge::ports::FeedStore;

    let env = Env::new().await;
    env.apply(&guide_csv(), "guide-sample").await;
    let memory = Feeds::applied().await;
    env.store.put_feed_items(&memory.inner.items()).await.expect("feed items written");
    env.store.save_feeds_as_of(Timestamp::parse(AS_OF).unwrap()).await.unwrap();
    for rule in [None, Some(30)] {
        let on_ddb = Api::new(env.store.clone()).with_clock(now).with_feeds(env.store.clone()).with_usage_rule(rule);
        let in_memory = crate::feeds::api(&memory, rule);
        for account in [USED, IDLE, ENDED, GUIDE, NOBODY, NEW_BUYER] {
            for path in [format!("/accounts/{account}"), format!("/accounts/{account}/products/{PRODUCT}")] {
                let event = with_path(event_json("api-get-account"), "GET", &path);
                let d = answer(on_ddb.handle(request(&event)).await);
                let m = answer(in_memory.handle(request(&event)).await);
                assert_eq!(d.status, 200, "{}", d.text);
                for member in ["eligibility", "eligibilityReason", "eligible"] {
                    assert_eq!(d.body[member], m.body[member], "{path} {rule:?}: {member}");
                }
                assert_eq!(d.body["sources"]["dataFeeds"], m.body["sources"]["dataFeeds"], "{path} {rule:?}");
            }
        }
        for status in ["active", "all"] {
            let whole = report(&on_ddb, PRODUCT, &format!("status={status}")).await;
            let mine = report(&in_memory, PRODUCT, &format!("status={status}")).await;
            assert_eq!(whole.status, 200, "{}", whole.text);
            assert_eq!(whole.body, mine.body, "status={status}");
            let mut seen = Vec::new();
            let mut query = format!("status={status}&limit=1");
            for _ in 0..10 {
                let page = report(&on_ddb, PRODUCT, &query).await;
                assert_eq!(page.status, 200, "{}", page.text);
                seen.extend(rows(&page.body));
                match page.body["nextCursor"].as_str() {
                    Some(c) => query = format!("status={status}&limit=1&cursor={c}"),
                    None => break,
                }
            }
            assert_eq!(seen, rows(&whole.body), "status={status}, a row a page");
            let csv_d = report(&on_ddb, PRODUCT, &format!("status={status}&format=csv")).await;
            let csv_m = report(&in_memory, PRODUCT, &format!("status={status}&format=csv")).await;
            assert_eq!(csv_d.text, csv_m.text);
        }
    }
    assert_logs_clean("");
}
