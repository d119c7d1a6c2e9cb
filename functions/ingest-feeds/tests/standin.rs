//! The data feeds as the local stand-in delivers them (`make local`'s data,
//! `tools/aws-standin/src/feeds.rs`), applied by the ingest against DynamoDB
//! Local and the S3 server, and read back as the lookups read them: the
//! first delivery (the backfill and yesterday), then the next day.

use std::time::Duration;

use aws_standin::feeds::{NEW_ACCOUNT, NO_CONTACTS_ACCOUNT};
use aws_standin::{FeedsTarget, StandIn, seed};
use ingest_feeds::{FeedIngest, Settings};
use psc_bridge::aws::DynamoStore;
use psc_bridge::domain::{AwsAccountId, ProductCode};
use psc_bridge::feeds::{
    AccountFeeds, AccountRow, AgreementRow, DailyUsageRow, OfferProductRow, ProductRow, ReadMode, account_feeds,
    account_feeds_paged, subscribers,
};
use psc_bridge::memory::MemoryFeeds;
use psc_bridge::metrics::Metrics;
use psc_bridge::ports::{FeedLookup, FeedStore};
use psc_bridge::resumable::Invocation;
use serde_json::Value;
use time::{Date, OffsetDateTime};

fn account(id: &str) -> AwsAccountId {
    AwsAccountId::parse(id).unwrap()
}

async fn feeds_of(store: &DynamoStore, id: &str) -> AccountFeeds {
    account_feeds(store, &account(id), None).await.unwrap()
}

fn day(offset: i64) -> Date {
    OffsetDateTime::now_utc().date() + time::Duration::days(offset)
}

#[tokio::test]
async fn the_standins_two_days_of_feeds_give_the_lookups_their_answers() {
    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("standin-feeds");
    devkit::create_table_from_template(&ddb, &table).await.unwrap();
    let s3 = emu.s3_client();
    let bucket = devkit::unique_name("standin-feeds");
    devkit::create_bucket(&s3, &bucket).await.unwrap();
    let feeds = FeedsTarget {
        bucket: bucket.clone(),
        prefix: String::new(),
        deliver_to: None,
        topic_arn: "arn:aws:sns:us-east-1:999988887777:feeds".into(),
    };
    let standin = StandIn { lag: Duration::ZERO, s3: Some(s3.clone()), feeds: Some(feeds), ..Default::default() }
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let store = DynamoStore::new(ddb, table);
    let ingest = FeedIngest::new(s3, &store, Settings::new(bucket), Metrics::new("Test"));
    let apply = |events: Vec<Value>, n: u32| {
        let ingest = &ingest;
        async move {
            let mut runs = Vec::new();
            for (i, event) in events.into_iter().enumerate() {
                let inv = Invocation::unbounded(format!("day{n}-{i}"));
                runs.push(ingest.handle(event, &inv).await.unwrap());
            }
            runs
        }
    };

    // Day 1: the backfill and yesterday; one notification per feed. The
    // first run applies everything, the other four find nothing new.
    let first = standin.deliver_feeds().await.unwrap();
    let runs = apply(first.sns_events, 1).await;
    assert_eq!(runs[0]["status"], "SUCCEEDED", "{}", runs[0]);
    assert!(runs[0]["itemsWritten"].as_u64().unwrap() > 10, "{}", runs[0]);
    assert!(runs[1..].iter().all(|r| r["itemsWritten"] == 0 && r["bytesRead"] == 0), "{runs:?}");
    assert!(store.feeds_as_of().await.unwrap().is_some());

    // 000011112222, delivered without its leading zeroes: subscribed, used yesterday.
    let a = feeds_of(&store, seed::ACCOUNT_ACTIVE).await;
    assert_eq!(a.products.len(), 1, "{a:?}");
    let p = &a.products[0];
    assert_eq!(p.product_code.as_ref().map(ProductCode::as_str), Some(seed::PRODUCT_CODE_1));
    assert!(p.active());
    assert_eq!(p.last_usage_date, Some(day(-1)));
    // 111122223333: its agreement expired; its last usage was in 2025.
    let expired = feeds_of(&store, seed::ACCOUNT_EXPIRED).await;
    assert!(!expired.products[0].active());
    assert_eq!(expired.products[0].agreements[0].status, "EXPIRED");
    assert_eq!(expired.products[0].last_usage_date.map(|d| d.year()), Some(2025));
    // 333344445555's account row was corrected: only the right number bridges.
    assert_eq!(feeds_of(&store, seed::ACCOUNT_ACTIVE_2).await.feed_accounts.len(), 1);
    assert!(feeds_of(&store, "333344445556").await.feed_accounts.is_empty());
    assert_eq!(feeds_of(&store, seed::ACCOUNT_ACTIVE_2).await.products[0].last_usage_date, Some(day(-1)));
    // An account with usage and no PSC contact.
    assert!(feeds_of(&store, NO_CONTACTS_ACCOUNT).await.products[0].active());

    // Day 2: a new subscriber, a cancellation, more usage, a soft delete.
    let next = standin.deliver_feeds().await.unwrap();
    let runs = apply(next.sns_events, 2).await;
    assert_eq!(runs[0]["status"], "SUCCEEDED", "{}", runs[0]);
    // The usage month of yesterday grew by today's delete row (and, in the
    // same month, today's usage): continued from where it was applied.
    let usage_key = format!("DailyUsageFeed_V1/year={}/month={:02}/data.csv", day(-1).year(), day(-1).month() as u8);
    let run = store.feed_run(runs[0]["runId"].as_str().unwrap()).await.unwrap().unwrap();
    let usage = run.objects.iter().find(|o| o.key == usage_key).expect("the grown usage month was read");
    let size = next.delivery.objects.iter().find(|o| o.key == usage_key).unwrap().bytes as u64;
    assert_eq!(usage.mode, ReadMode::Continued);
    assert!(usage.bytes_read < size / 2, "{usage:?} of {size} bytes");
    assert_eq!(feeds_of(&store, seed::ACCOUNT_ACTIVE).await.products[0].last_usage_date, Some(day(0)));
    assert!(!feeds_of(&store, NO_CONTACTS_ACCOUNT).await.products[0].active(), "cancelled");
    // The soft-deleted row of yesterday: the last usage is the day before.
    assert_eq!(feeds_of(&store, seed::ACCOUNT_ACTIVE_2).await.products[0].last_usage_date, Some(day(-2)));

    // The report of product 2: the new subscriber, active; all: also the expired one.
    let code = ProductCode::parse(seed::PRODUCT_CODE_2).unwrap();
    let active = subscribers(&store, &code, true, None, 100).await.unwrap();
    let ids: Vec<_> = active.subscribers.iter().map(|s| s.aws_account_id.as_ref().map(|a| a.as_str())).collect();
    assert_eq!(ids, [Some(NEW_ACCOUNT)]);
    assert_eq!(active.subscribers[0].last_usage_date, Some(day(0)));
    let all = subscribers(&store, &code, false, None, 1).await.unwrap();
    assert_eq!(all.subscribers.len(), 1);
    let rest = subscribers(&store, &code, false, all.next_cursor.as_deref(), 10).await.unwrap();
    let mut statuses: Vec<_> =
        all.subscribers.iter().chain(&rest.subscribers).map(|s| s.agreement.status.clone()).collect();
    statuses.sort();
    assert_eq!(statuses, ["ACTIVE", "EXPIRED"]);
    assert_eq!(rest.next_cursor, None);
    standin.shutdown().await;
}

/// The table pages an account's partition as the in-memory store does:
/// whatever the page size, the lookup finds every agreement and each
/// product's last usage (a product used on most days, its newest day
/// soft-deleted; one used once, long before; one never).
#[tokio::test]
async fn the_tables_account_pages_give_the_lookup_what_the_memory_store_gives() {
    let v = "2025-01-01T00:00:00Z,2025-01-01T00:00:00Z";
    let memory = MemoryFeeds::new();
    memory.load_csv::<AccountRow>(&format!(
        "account_id,aws_account_id,valid_from,update_date,delete_date\nfa-3,123456789012,{v},\n"
    ));
    let (mut products, mut offers, mut agreements) = (
        String::from("product_id,product_code,valid_from,update_date,delete_date\n"),
        String::from("offer_id,product_id,valid_from,update_date,delete_date\n"),
        String::from(
            "agreement_id,status,offer_id,acceptor_account_id,start_time,end_time,acceptance_time,valid_from,update_date,delete_date\n",
        ),
    );
    for p in ["busy", "once", "never"] {
        products.push_str(&format!("prod-{p},,{v},\n"));
        offers.push_str(&format!("offer-{p},prod-{p},{v},\n"));
        agreements.push_str(&format!("agmt-{p},ACTIVE,offer-{p},fa-3,2025-01-01T00:00:00Z,,,{v},\n"));
    }
    let mut usage =
        String::from("usage_feed_id,usage_date,product_id,end_user_account_id,valid_from,update_date,delete_date\n");
    for d in (1..=12).filter(|d| d % 5 != 0) {
        usage.push_str(&format!("u-busy-{d},2025-03-{d:02},prod-busy,fa-3,{v},\n"));
    }
    usage.push_str(&format!("u-busy-13,2025-03-13,prod-busy,fa-3,{v},2025-03-14T00:00:00Z\n"));
    usage.push_str(&format!("u-once,2025-01-02,prod-once,fa-3,{v},\n"));
    memory.load_csv::<ProductRow>(&products);
    memory.load_csv::<OfferProductRow>(&offers);
    memory.load_csv::<AgreementRow>(&agreements);
    memory.load_csv::<DailyUsageRow>(&usage);

    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("feeds-pages");
    devkit::create_table_from_template(&ddb, &table).await.unwrap();
    let store = DynamoStore::new(ddb, table);
    store.put_feed_items(&memory.items()).await.unwrap();

    let buyer = account("123456789012");
    let expected = account_feeds(&memory, &buyer, None).await.unwrap();
    let last: Vec<_> = expected.products.iter().map(|p| (p.product_id.as_str(), p.last_usage_date)).collect();
    assert_eq!(
        last,
        [
            ("prod-busy", Some(Date::from_calendar_date(2025, time::Month::March, 12).unwrap())),
            ("prod-never", None),
            ("prod-once", Some(Date::from_calendar_date(2025, time::Month::January, 2).unwrap())),
        ]
    );
    for page in [1, 2, 3, 7, 32] {
        let found = account_feeds_paged(&store, &buyer, None, page).await.unwrap();
        assert_eq!(found, expected, "pages of {page}");
    }
    assert_eq!(store.last_usage(&psc_bridge::feeds::FeedAccountId::new("fa-3"), "prod-once").await.unwrap(), last[2].1);
    assert_eq!(store.last_usage(&psc_bridge::feeds::FeedAccountId::new("fa-3"), "prod-never").await.unwrap(), None);
}
