//! The data-feeds ingest on the in-memory ports: what a seller's table holds
//! after the feeds are delivered, grown, rewritten, broken or re-ordered.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use ingest_feeds::{FeedIngest, Settings};
use psc_bridge::feeds::{FeedItem, FeedRun, ReadMode, RunStatus};
use psc_bridge::memory::{MemoryContinuations, MemoryFeeds, MemoryObjects};
use psc_bridge::metrics::Metrics;
use psc_bridge::ports::FeedStore;
use psc_bridge::resumable::Invocation;
use serde_json::{Value, json};

const BUCKET: &str = "feeds";
const ACCOUNT: &str = "AccountFeed_V1/year=2025/month=03/data.csv";
const AGREEMENTS: &str = "AgreementFeed_V1/year=2025/month=09/data.csv";
const OFFER_PRODUCT: &str = "OfferProductFeed_V1/year=2025/month=02/data.csv";
const PRODUCT: &str = "ProductFeed_V1/year=2010/month=01/data.csv";
const USAGE: &str = "DailyUsageFeed_V1/year=2025/month=06/data.csv";

/// The end user of the fixtures' usage rows.
const USER: &str = "Mn8bVc2xZl5kJh9gFd3sAp7oIu1yTr6eWq4mNb0vCx";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/feeds").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn deliver_all(objects: &MemoryObjects) {
    for (key, file) in [
        (ACCOUNT, "account.csv"),
        (AGREEMENTS, "agreements.csv"),
        (OFFER_PRODUCT, "offer_product.csv"),
        (PRODUCT, "product.csv"),
        (USAGE, "daily_usage.csv"),
    ] {
        objects.put(BUCKET, key, fixture(file));
    }
}

fn settings(segment_rows: u64) -> Settings {
    Settings { segment_rows, ..Settings::new(BUCKET) }
}

async fn run(objects: &MemoryObjects, feeds: &MemoryFeeds, event: Value) -> Value {
    let ingest = FeedIngest::new(objects, feeds, settings(1_000), Metrics::new("Test"));
    ingest.handle(event, &Invocation::unbounded("inv-1")).await.expect("the run succeeds")
}

async fn last_run(feeds: &MemoryFeeds) -> FeedRun {
    feeds.recent_feed_runs(1).await.unwrap().remove(0)
}

fn attr<'a>(item: &'a FeedItem, name: &str) -> Option<&'a str> {
    item.attrs.get(name).map(String::as_str)
}

fn item(feeds: &MemoryFeeds, pk: &str, sk: &str) -> FeedItem {
    feeds.item(pk, sk).unwrap_or_else(|| panic!("no item {pk} / {sk}"))
}

#[tokio::test]
async fn a_first_backfill_keeps_the_bridge_products_agreements_and_last_usage() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    let answer = run(&objects, &feeds, json!({})).await;
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
    assert_eq!(answer["objects"], 5);

    // The bridge: the 12-digit id (leading zero kept) finds the feeds' id.
    let account = item(&feeds, "FEED#ACCOUNT#Qw3rTy7uIo1pAs5dFg9hJk2lZx6cVb0nMq4wEr8tYu", "ACCOUNT");
    assert_eq!(
        account.index,
        Some(("ACCOUNT#012345678901".into(), "FEED#ACCOUNT#Qw3rTy7uIo1pAs5dFg9hJk2lZx6cVb0nMq4wEr8tYu".into()))
    );
    // Nothing tax-related or personal is kept from the Account feed.
    let all = format!("{:?}", feeds.items());
    for secret in ["DE123456789", "Beispiel", "AdDr", "Xy7Kp2Lm9Qr4"] {
        assert!(!all.contains(secret), "{secret} was stored");
    }

    let product = item(&feeds, "FEED#PRODUCTS", "prod-syn0000000001");
    assert_eq!(attr(&product, "productCode"), Some("1a2b3c4d5e6f7g8h9i0jklmno"));
    assert_eq!(attr(&product, "title"), Some("Synthetic Analytics Platform"), "the later valid_from wins");

    let offer = item(&feeds, "FEED#OFFER#offer-abcd1234efgh5", "PRODUCT#prod-syn0000000001");
    assert_eq!(attr(&offer, "productId"), Some("prod-syn0000000001"));

    let ended = item(
        &feeds,
        "FEED#ACCOUNT#Qw3rTy7uIo1pAs5dFg9hJk2lZx6cVb0nMq4wEr8tYu",
        "AGREEMENT#agmt-aaaa1111bbbb2222cccc3333d",
    );
    assert_eq!(attr(&ended, "status"), Some("CANCELLED"));
    assert_eq!(attr(&ended, "startTime"), Some("2025-03-04T09:15:00.000Z"));
    let payg = item(&feeds, &format!("FEED#ACCOUNT#{USER}"), "AGREEMENT#agmt-zzzz9999yyyy8888xxxx7777w");
    assert_eq!(attr(&payg, "status"), Some("ACTIVE"));
    assert_eq!(attr(&payg, "endTime"), None, "pay-as-you-go: open-ended");

    // Usage by month: the soft-deleted row of 2025-06-02 does not count,
    // so the month's last usage is 2025-06-01.
    let used = item(&feeds, &format!("FEED#ACCOUNT#{USER}"), "ACTIVITY#2025-06#prod-syn0000000001");
    assert_eq!(attr(&used, "usageDate"), Some("2025-06-01"));

    let run = last_run(&feeds).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.rows, 12);
    assert_eq!(run.rejected, 0);
    assert!(run.as_of.is_some());
    assert!(run.objects.iter().all(|o| o.mode == ReadMode::Whole));
}

#[tokio::test]
async fn an_unchanged_rerun_reads_and_writes_nothing() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    run(&objects, &feeds, json!({})).await;
    let written = feeds.items_put.load(Ordering::Relaxed);
    let before = feeds.items();

    let answer = run(&objects, &feeds, json!({})).await;
    assert_eq!(answer["objects"], 0, "{answer}");
    assert_eq!(answer["unchangedObjects"], 5);
    assert_eq!(answer["bytesRead"], 0);
    assert_eq!(feeds.items_put.load(Ordering::Relaxed), written, "no item written again");
    assert_eq!(feeds.items(), before);
}

/// The next day's delivery: the month object rewritten with one more row.
#[tokio::test]
async fn a_grown_month_is_read_from_where_it_was_applied() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    run(&objects, &feeds, json!({})).await;
    let written = feeds.items_put.load(Ordering::Relaxed);

    let day = format!(
        "2025-06-04 00:00:00.0,2025-06-04 03:10:00.0,2025-06-04 03:10:00.0,,h4sh3,2025-06-03,prod-syn0000000001,,{USER},{USER},us-east-1,api_calls,units,5,USD,0.01,S,offer-payg0000000001,0.005,x\n"
    );
    objects.put(BUCKET, USAGE, fixture("daily_usage.csv") + &day);
    let answer = run(&objects, &feeds, json!({})).await;

    let run = last_run(&feeds).await;
    assert_eq!(run.objects.len(), 1, "{answer}");
    assert_eq!(run.objects[0].mode, ReadMode::Continued);
    assert_eq!(run.objects[0].bytes_read, day.len() as u64, "only the new day's bytes are read");
    assert_eq!(run.objects[0].rows, 1);
    assert_eq!(feeds.items_put.load(Ordering::Relaxed), written + 1, "one item: that user's month");
    let usage = item(&feeds, &format!("FEED#ACCOUNT#{USER}"), "ACTIVITY#2025-06#prod-syn0000000001");
    assert_eq!(attr(&usage, "usageDate"), Some("2025-06-03"));
}

#[tokio::test]
async fn a_month_rewritten_from_the_start_is_read_whole() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    run(&objects, &feeds, json!({})).await;

    // The same rows with the columns in another order: the first bytes differ.
    let rewritten = "product_code,product_id,title,valid_from,update_date,delete_date\n\
        1a2b3c4d5e6f7g8h9i0jklmno,prod-syn0000000001,Renamed,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,\n";
    objects.put(BUCKET, PRODUCT, rewritten);
    run(&objects, &feeds, json!({})).await;
    let run = last_run(&feeds).await;
    assert_eq!(run.objects[0].mode, ReadMode::Whole);
    let product = item(&feeds, "FEED#PRODUCTS", "prod-syn0000000001");
    assert_eq!(attr(&product, "title"), Some("Renamed"));
}

/// Rows split over files delivered in either order, and repeated: the
/// same table.
#[tokio::test]
async fn any_order_of_the_same_files_gives_the_same_table() {
    let agreements = fixture("agreements.csv");
    let (header, rows) = agreements.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    let first = format!("{header}\n{}\n", rows[1]);
    let second = format!("{header}\n{}\n{}\n", rows[0], rows[2]);
    let a = "AgreementFeed_V1/year=2025/month=05/data.csv";
    let b = "AgreementFeed_V1/year=2025/month=09/data.csv";

    let mut tables = Vec::new();
    for order in [[(a, &first), (b, &second)], [(b, &second), (a, &first)]] {
        let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
        for (key, body) in order {
            objects.put(BUCKET, key, body.as_str());
            run(&objects, &feeds, json!({})).await;
        }
        // A re-delivery of everything changes nothing.
        objects.put(BUCKET, a, first.clone());
        objects.put(BUCKET, "AgreementFeed_V1/year=2025/month=10/data.csv", agreements.clone());
        run(&objects, &feeds, json!({})).await;
        tables.push(feeds.items());
    }
    assert_eq!(tables[0], tables[1]);
    let ended = tables[0].iter().find(|i| i.key.sk == "AGREEMENT#agmt-aaaa1111bbbb2222cccc3333d").unwrap();
    assert_eq!(attr(ended, "status"), Some("CANCELLED"));
}

#[tokio::test]
async fn a_file_missing_a_column_is_rejected_and_nothing_else_is_lost() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    objects.put(BUCKET, ACCOUNT, "account_id,valid_from,update_date,delete_date\nx,2025-01-01,2025-01-01,\n");
    objects.put(BUCKET, "MysteryFeed_V9/year=2025/month=01/data.csv", "a,b\n1,2\n");
    objects.put(BUCKET, "AddressFeed_V1/year=2025/month=01/data.csv", "address_id\nsecret\n");
    let answer = run(&objects, &feeds, json!({})).await;
    assert_eq!(answer["status"], "PARTIAL", "{answer}");
    assert_eq!(answer["unknownFolders"], json!(["MysteryFeed_V9"]));

    let run = last_run(&feeds).await;
    let broken = run.objects.iter().find(|o| o.key == ACCOUNT).unwrap();
    let reason = broken.error.as_deref().unwrap();
    assert!(reason.contains("aws_account_id"), "{reason}");
    assert_eq!(run.rejects[0].key, ACCOUNT);
    assert_eq!(run.rejects[0].line, 1);
    assert_eq!(run.skipped_objects, 1, "the Address feed is not read");
    assert!(!format!("{:?}", feeds.items()).contains("secret"));
    // The other feeds are applied.
    assert!(feeds.item("FEED#PRODUCTS", "prod-syn0000000001").is_some());
    // And the broken file is not read again until it changes.
    let again = FeedIngest::new(&objects, &feeds, settings(1_000), Metrics::new("Test"))
        .handle(json!({}), &Invocation::unbounded("inv-2"))
        .await
        .unwrap();
    assert_eq!(again["objects"], 0, "{again}");
}

#[tokio::test]
async fn bad_rows_are_reported_with_their_line_and_the_good_ones_applied() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    let body = fixture("product.csv")
        + "prod-bad,Sel1erAcct,1a2b3c4d5e6f7g8h9i0jklmno,T,not-a-time,2021-05-02T00:00:00Z,2021-05-02T00:00:00Z,\n";
    objects.put(BUCKET, PRODUCT, body);
    let answer = run(&objects, &feeds, json!({})).await;
    assert_eq!(answer["rejected"], 1, "{answer}");
    let run = last_run(&feeds).await;
    assert_eq!(run.rejects[0].line, 4);
    assert!(run.rejects[0].reason.contains("valid_from"), "{}", run.rejects[0].reason);
    assert!(!run.rejects[0].reason.contains("not-a-time"), "a reason never quotes a value");
    assert!(feeds.item("FEED#PRODUCTS", "prod-syn0000000001").is_some());
}

#[tokio::test]
async fn a_failed_delivery_notification_is_recorded() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    let message = r#"{"executionStatus":"FAILED","errors":["x"],"feedType":"AgreementFeed_V1","processedFiles":[]}"#;
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]});
    run(&objects, &feeds, event).await;
    let run = last_run(&feeds).await;
    assert_eq!(run.trigger, "notification");
    assert_eq!(run.deliveries.len(), 1);
    assert!(run.deliveries[0].failed());
    assert_eq!(run.deliveries[0].errors, 1);
}

/// An invocation that runs out of time hands over to a continuation, which
/// finishes the run: the table equals a run in one go.
#[tokio::test]
async fn a_run_out_of_time_continues_and_ends_like_one_in_one_go() {
    let big: String = (0..3_000)
        .map(|i| {
            format!(
                "2025-06-02 00:00:00.0,2025-06-02 03:10:00.0,2025-06-02 03:10:00.0,,id{i},2025-06-{:02},prod-syn0000000001,,acct{},x,r,d,u,1,USD,1,S,o,1,c\n",
                1 + i % 28,
                i % 50
            )
        })
        .collect();
    let header = fixture("daily_usage.csv").lines().next().unwrap().to_owned() + "\n";
    let body = header + &big;

    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    objects.put(BUCKET, USAGE, body.clone());
    let ingest = FeedIngest::new(&objects, &feeds, settings(200), Metrics::new("Test"))
        .with_continuation(MemoryContinuations::new());
    // A deadline already close: one segment per invocation.
    let mut invocations = 0;
    let mut event = json!({});
    loop {
        invocations += 1;
        let inv = Invocation {
            id: format!("inv-{invocations}"),
            deadline: Some(SystemTime::now() + Duration::from_millis(1)),
        };
        ingest.handle(event, &inv).await.unwrap();
        match ingest.continuation().take().pop() {
            Some(next) => event = next,
            None => break,
        }
        assert!(invocations < 100, "the run does not end");
    }
    assert!(invocations > 3, "{invocations} invocations");
    let run = last_run(&feeds).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.invocations, invocations);
    assert_eq!(run.rows, 3_000);

    let (objects2, once) = (MemoryObjects::new(), MemoryFeeds::new());
    objects2.put(BUCKET, USAGE, body);
    run_once(&objects2, &once).await;
    assert_eq!(feeds.items(), once.items());
}

async fn run_once(objects: &MemoryObjects, feeds: &MemoryFeeds) {
    run(objects, feeds, json!({})).await;
}

#[tokio::test]
async fn a_second_invocation_leaves_the_feeds_to_the_one_that_holds_them() {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    deliver_all(&objects);
    let lease = Invocation::unbounded("other").lease();
    assert!(feeds.claim_feeds(&lease, psc_bridge::domain::Timestamp::now()).await.unwrap());
    let answer = run(&objects, &feeds, json!({})).await;
    assert_eq!(answer["status"], "BUSY");
    assert!(feeds.items().is_empty());
}
