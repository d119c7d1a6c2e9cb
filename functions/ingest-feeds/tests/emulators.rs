//! The data-feeds ingest against DynamoDB Local and the S3 server: the
//! adapters' listing, ranged reads, batch reads and writes, and the
//! `ByAccount` bridge, as a deployed stack would use them.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use ingest_feeds::{FeedIngest, Settings};
use psc_bridge::aws::DynamoStore;
use psc_bridge::feeds::RunStatus;
use psc_bridge::metrics::Metrics;
use psc_bridge::ports::{ContactStore, FeedStore};
use psc_bridge::resumable::Invocation;
use serde_json::json;

const USAGE: &str = "DailyUsageFeed_V1/year=2025/month=06/data.csv";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/feeds").join(name);
    std::fs::read_to_string(path).expect("fixture")
}

struct Stack {
    s3: aws_sdk_s3::Client,
    ddb: aws_sdk_dynamodb::Client,
    store: DynamoStore,
    bucket: String,
    table: String,
}

async fn stack() -> Stack {
    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("feeds");
    devkit::create_table_from_template(&ddb, &table).await.expect("table from template.yaml");
    let s3 = emu.s3_client();
    let bucket = devkit::unique_name("feeds");
    devkit::create_bucket(&s3, &bucket).await.expect("bucket");
    Stack { store: DynamoStore::new(ddb.clone(), table.clone()), s3, ddb, bucket, table }
}

impl Stack {
    async fn put(&self, key: &str, body: String) {
        self.s3.put_object().bucket(&self.bucket).key(key).body(body.into_bytes().into()).send().await.unwrap();
    }

    fn ingest(&self, segment_rows: u64) -> FeedIngest<aws_sdk_s3::Client, &DynamoStore> {
        self.ingest_in_passes(segment_rows, ingest_feeds::config::DEFAULT_PASS_BYTES)
    }

    fn ingest_in_passes(&self, segment_rows: u64, pass_bytes: u64) -> FeedIngest<aws_sdk_s3::Client, &DynamoStore> {
        let settings = Settings { segment_rows, pass_bytes, ..Settings::new(self.bucket.clone()) };
        FeedIngest::new(self.s3.clone(), &self.store, settings, Metrics::new("Test"))
    }

    /// Every data-feed item (not the records of runs, objects and the
    /// lease), as (pk, sk, versions).
    async fn table(&self) -> Vec<(String, String, String)> {
        let out = self.ddb.scan().table_name(&self.table).send().await.unwrap();
        let text = |i: &std::collections::HashMap<String, AttributeValue>, n: &str| {
            i.get(n).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        let mut items: Vec<_> = out
            .items()
            .iter()
            .filter(|i| {
                text(i, "kind").starts_with("FEED_")
                    && !["FEED_RUN", "FEED_OBJECT", "FEED_LEASE"].contains(&text(i, "kind").as_str())
            })
            .map(|i| (text(i, "pk"), text(i, "sk"), text(i, "versions")))
            .collect();
        items.sort();
        items
    }
}

fn usage_rows(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| {
            format!(
                "2025-06-02 00:00:00.0,2025-06-02 03:10:00.0,2025-06-02 03:10:00.0,,id{i},2025-06-{:02},prod-1,,acct{},x,r,d,u,1,USD,1,S,o,1,c\n",
                1 + i % 28,
                i % 40
            )
        })
        .collect()
}

fn usage_header() -> String {
    fixture("daily_usage.csv").lines().next().unwrap().to_owned() + "\n"
}

#[tokio::test]
async fn feeds_apply_grow_and_rerun_against_dynamodb_local_and_s3() {
    let st = stack().await;
    st.put("AccountFeed_V1/year=2025/month=03/data.csv", fixture("account.csv")).await;
    st.put("AgreementFeed_V1/year=2025/month=09/data.csv", fixture("agreements.csv")).await;
    st.put(USAGE, fixture("daily_usage.csv")).await;
    st.put("SomethingElse/year=2025/month=01/data.csv", "a\n1\n".into()).await;

    let first = st.ingest(1_000).handle(json!({}), &Invocation::unbounded("i1")).await.unwrap();
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    assert_eq!(first["unknownFolders"], json!(["SomethingElse"]));

    // The bridge: the AWS account id finds the feeds' account on ByAccount.
    let bridge = st
        .ddb
        .query()
        .table_name(&st.table)
        .index_name("ByAccount")
        .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :f)")
        .expression_attribute_values(":p", AttributeValue::S("ACCOUNT#012345678901".into()))
        .expression_attribute_values(":f", AttributeValue::S("FEED#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(bridge.items().len(), 1);
    // ... and is not one of that account's contacts.
    let account = psc_bridge::domain::AwsAccountId::parse("012345678901").unwrap();
    let contacts = st.store.contacts_by_account(&account, None, None, 10).await.unwrap();
    assert!(contacts.items.is_empty());

    // The next day: the usage month grows by one row.
    let day = usage_rows(0, 1);
    st.put(USAGE, fixture("daily_usage.csv") + &day).await;
    let grown = st.ingest(1_000).handle(json!({}), &Invocation::unbounded("i2")).await.unwrap();
    assert_eq!(grown["bytesRead"], day.len(), "{grown}");
    assert_eq!(grown["itemsWritten"], 1);

    // Nothing changed: nothing read, nothing written.
    let before = st.table().await;
    let again = st.ingest(1_000).handle(json!({}), &Invocation::unbounded("i3")).await.unwrap();
    assert_eq!(again["bytesRead"], 0, "{again}");
    assert_eq!(again["itemsWritten"], 0);
    assert_eq!(st.table().await, before);
    let runs = st.store.recent_feed_runs(5).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
}

/// An invocation that stops at its deadline without a continuation (as if
/// it were killed there): the next run resumes from the saved progress and
/// reads each byte once; the table equals a run in one go.
#[tokio::test]
async fn a_run_stopped_part_way_resumes_where_it_stopped() {
    let body = usage_header() + &usage_rows(0, 1_500);
    let st = stack().await;
    st.put(USAGE, body.clone()).await;
    let inv = Invocation { id: "killed".into(), deadline: Some(SystemTime::now() + Duration::from_millis(1)) };
    let stopped = st.ingest(300).handle(json!({}), &inv).await;
    assert!(stopped.is_err(), "no continuation is configured");
    let partial = st.store.object_states().await.unwrap();
    let (stopped_at, _) = partial[0].read_from();
    assert!(stopped_at > 0 && stopped_at < body.len() as u64, "stopped part-way: {partial:?}");

    let resumed = st.ingest(300).handle(json!({}), &Invocation::unbounded("next")).await.unwrap();
    assert_eq!(resumed["status"], "SUCCEEDED", "{resumed}");
    assert_eq!(resumed["bytesRead"].as_u64().unwrap() + stopped_at, body.len() as u64, "each byte read once");

    let once = stack().await;
    once.put(USAGE, body).await;
    once.ingest(300).handle(json!({}), &Invocation::unbounded("once")).await.unwrap();
    assert_eq!(st.table().await, once.table().await);
}

/// A month too big for one pass (here: passes of 8 KB) is read in passes,
/// each applying the items whose key hashes to it: each of the 40 (account,
/// product, month) items is written once however its rows are spread, the
/// rows are counted once, and a run stopped between passes resumes there.
/// The table equals one pass's.
#[tokio::test]
async fn a_month_read_in_passes_writes_each_item_once_and_resumes_between_passes() {
    let body = usage_header() + &usage_rows(0, 1_500);
    let passes = (body.len() as u64).div_ceil(8 * 1024);
    assert!(passes >= 10, "{passes} passes");

    let once = stack().await;
    once.put(USAGE, body.clone()).await;
    let whole = once.ingest(10_000).handle(json!({}), &Invocation::unbounded("once")).await.unwrap();
    assert_eq!(whole["itemsWritten"], 40, "{whole}");

    let st = stack().await;
    st.put(USAGE, body.clone()).await;
    let inv = Invocation { id: "killed".into(), deadline: Some(SystemTime::now() + Duration::from_millis(1)) };
    let stopped = st.ingest_in_passes(10_000, 8 * 1024).handle(json!({}), &inv).await;
    assert!(stopped.is_err(), "no continuation is configured");
    let partial = st.store.object_states().await.unwrap();
    let sweep = partial[0].sweep.clone().expect("passes under way");
    assert_eq!((sweep.pass, u64::from(sweep.passes)), (1, passes), "the first pass is done: {sweep:?}");
    assert_eq!(sweep.end_bytes, Some(body.len() as u64));

    let resumed =
        st.ingest_in_passes(10_000, 8 * 1024).handle(json!({}), &Invocation::unbounded("next")).await.unwrap();
    assert_eq!(resumed["status"], "SUCCEEDED", "{resumed}");
    let runs = st.store.recent_feed_runs(5).await.unwrap();
    let items: u64 = runs.iter().map(|r| r.items_written).sum();
    let rows: u64 = runs.iter().map(|r| r.rows).sum();
    assert_eq!((items, rows), (40, 1_500), "each item written once, each row counted once");
    assert_eq!(
        resumed["bytesRead"].as_u64().unwrap(),
        (passes - 1) * body.len() as u64,
        "the passes left each read the object again"
    );
    assert!(st.store.object_states().await.unwrap()[0].complete());
    assert_eq!(st.table().await, once.table().await);
}
