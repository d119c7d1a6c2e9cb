//! Property: the table the data-feeds ingest builds does not depend on how
//! the rows reach it. The same generated rows (account corrections,
//! agreement revisions of every class, usage with soft deletes and exact
//! ties) are split into month objects at random, in random row orders,
//! delivered in random order, some first in part and grown later (as AWS
//! rewrites a month object daily), and applied with random segment and
//! pass sizes:
//! every such delivery ends with the same items as one file per feed in one
//! run, and the lookups read from them what the reference model
//! (`psc_bridge::feeds::history::FeedState`, the fact sheet's rules applied
//! to all rows at once) says.
//!
//! `PROPTEST_CASES=2000 cargo nextest run -p ingest-feeds --test order` for
//! a longer run (docs/reliability.md).

use ingest_feeds::{FeedIngest, Settings};
use proptest::prelude::*;
use psc_bridge::domain::AwsAccountId;
use psc_bridge::feeds::history::FeedState;
use psc_bridge::feeds::{FeedReader, account_feeds};
use psc_bridge::memory::{MemoryFeeds, MemoryObjects};
use psc_bridge::metrics::Metrics;
use psc_bridge::resumable::Invocation;
use serde_json::json;

const BUCKET: &str = "feeds";
const AWS: [&str; 3] = ["000011112222", "111122223333", "222233334444"];
const PRODUCTS: [&str; 2] = ["prod-a", "prod-b"];

const ACCOUNT_HEADER: &str = "account_id,aws_account_id,valid_from,update_date,delete_date";
const AGREEMENT_HEADER: &str = "agreement_id,status,offer_id,acceptor_account_id,start_time,end_time,acceptance_time,valid_from,update_date,delete_date";
const USAGE_HEADER: &str = "usage_feed_id,usage_date,product_id,end_user_account_id,valid_from,update_date,delete_date";
const STATUSES: [&str; 5] = ["ACTIVE", "EXPIRED", "CANCELLED", "SUPERSEDED", "ROLLED_BACK"];

fn t(day: u8, hour: u8) -> String {
    format!("2025-06-{:02}T{hour:02}:00:00Z", 1 + day)
}

/// One generated row of a feed.
#[derive(Debug, Clone)]
enum Gen {
    /// Account `n`'s row; `typo` rows carry a wrong number and an earlier
    /// `update_date` than the right one of the same `valid_from`.
    Account {
        n: usize,
        typo: bool,
    },
    Agreement {
        n: usize,
        status: usize,
        from: u8,
        update: u8,
        deleted: bool,
    },
    Usage {
        n: usize,
        product: usize,
        day: u8,
        id: u8,
        update: u8,
        deleted: bool,
    },
}

impl Gen {
    fn folder(&self) -> &'static str {
        match self {
            Gen::Account { .. } => "AccountFeed_V1",
            Gen::Agreement { .. } => "AgreementFeed_V1",
            Gen::Usage { .. } => "DailyUsageFeed_V1",
        }
    }

    fn line(&self) -> String {
        match *self {
            Gen::Account { n, typo } => {
                let aws = if typo { format!("9{}", &AWS[n][1..]) } else { AWS[n].trim_start_matches('0').to_owned() };
                format!("fa-{n},{aws},{},{},", t(0, 0), t(0, if typo { 1 } else { 2 }))
            }
            Gen::Agreement { n, status, from, update, deleted } => {
                let del = if deleted { t(from, update + 1) } else { String::new() };
                format!(
                    "agmt-{n},{},offer-{},fa-{n},{},,{},{},{},{del}",
                    STATUSES[status],
                    n % 2,
                    t(0, 0),
                    t(0, 0),
                    t(from, 0),
                    t(from, update)
                )
            }
            Gen::Usage { n, product, day, id, update, deleted } => {
                let del = if deleted { t(day, update + 5) } else { String::new() };
                format!(
                    "u-{n}-{product}-{day}-{id},2025-06-{:02},{},fa-{n},{},{},{del}",
                    1 + day,
                    PRODUCTS[product],
                    t(day, 1),
                    t(day, 1 + update)
                )
            }
        }
    }
}

fn gen_row() -> impl Strategy<Value = Gen> {
    prop_oneof![
        (0..3usize, prop::bool::weighted(0.3)).prop_map(|(n, typo)| Gen::Account { n, typo }),
        (0..3usize, 0..5usize, 0..4u8, 0..3u8, prop::bool::weighted(0.2))
            .prop_map(|(n, status, from, update, deleted)| Gen::Agreement { n, status, from, update, deleted }),
        (0..3usize, 0..2usize, 0..5u8, 0..2u8, 0..3u8, prop::bool::weighted(0.25))
            .prop_map(|(n, product, day, id, update, deleted)| Gen::Usage { n, product, day, id, update, deleted }),
    ]
}

fn header(folder: &str) -> &'static str {
    match folder {
        "AccountFeed_V1" => ACCOUNT_HEADER,
        "AgreementFeed_V1" => AGREEMENT_HEADER,
        _ => USAGE_HEADER,
    }
}

/// The reference data every case shares: two offers, one per product.
fn reference(objects: &MemoryObjects) {
    objects.put(
        BUCKET,
        "ProductFeed_V1/year=2010/month=01/data.csv",
        "product_id,product_code,title,valid_from,update_date,delete_date\n\
         prod-a,4gzp2symm0v9zidfrn9f854w6,A,2021-01-01,2021-01-01,\n\
         prod-b,c0dcyyqczbk5uc62acmp6450t,B,2021-01-01,2021-01-01,\n",
    );
    objects.put(
        BUCKET,
        "OfferProductFeed_V1/year=2010/month=01/data.csv",
        "offer_id,product_id,valid_from,update_date,delete_date\n\
         offer-0,prod-a,2021-01-01,2021-01-01,\noffer-1,prod-b,2021-01-01,2021-01-01,\n",
    );
}

/// An object's body: the header, then `rows`.
fn body(folder: &str, rows: &[&Gen]) -> String {
    let mut s = header(folder).to_owned() + "\n";
    for r in rows {
        s.push_str(&r.line());
        s.push('\n');
    }
    s
}

async fn apply(objects: &MemoryObjects, feeds: &MemoryFeeds, (segment_rows, pass_bytes): (u64, u64), run: usize) {
    let settings = Settings { segment_rows, pass_bytes, ..Settings::new(BUCKET) };
    let ingest = FeedIngest::new(objects, feeds, settings, Metrics::new("Test"));
    let answer = ingest.handle(json!({}), &Invocation::unbounded(format!("run-{run}"))).await.unwrap();
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
}

/// The reference: one file per feed, one run, one segment.
async fn in_one_go(rows: &[Gen]) -> MemoryFeeds {
    let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
    reference(&objects);
    for folder in ["AccountFeed_V1", "AgreementFeed_V1", "DailyUsageFeed_V1"] {
        let of: Vec<&Gen> = rows.iter().filter(|r| r.folder() == folder).collect();
        objects.put(BUCKET, &format!("{folder}/year=2010/month=01/data.csv"), body(folder, &of));
    }
    apply(&objects, &feeds, (1_000_000, 1 << 30), 0).await;
    feeds
}

/// The fact sheet's rules over every row at once.
fn model(rows: &[Gen], objects: &MemoryObjects) -> FeedState {
    let mut state = FeedState::default();
    let read = |key: &str| objects.get(BUCKET, key).unwrap();
    let all = |folder: &str| body(folder, &rows.iter().filter(|r| r.folder() == folder).collect::<Vec<_>>());
    state.accounts.add_rows(FeedReader::new(all("AccountFeed_V1").as_bytes()).unwrap().filter_map(Result::ok));
    state.agreements.add_rows(FeedReader::new(all("AgreementFeed_V1").as_bytes()).unwrap().filter_map(Result::ok));
    state.usage.add_rows(FeedReader::new(all("DailyUsageFeed_V1").as_bytes()).unwrap().filter_map(Result::ok));
    let products = read("ProductFeed_V1/year=2010/month=01/data.csv");
    state.products.add_rows(FeedReader::new(products.as_slice()).unwrap().filter_map(Result::ok));
    let offers = read("OfferProductFeed_V1/year=2010/month=01/data.csv");
    state.offer_products.add_rows(FeedReader::new(offers.as_slice()).unwrap().filter_map(Result::ok));
    state
}

/// A delivery plan: each row's month object (0..3), the rows' order, which
/// objects come first in part, the order objects are delivered in, and the
/// runs' segment sizes (rows held) and pass sizes (bytes: a pass per 60
/// bytes is about one a row).
type Plan = (Vec<u8>, Vec<usize>, Vec<bool>, Vec<usize>, Vec<(u64, u64)>);

fn case() -> impl Strategy<Value = (Vec<Gen>, Plan)> {
    prop::collection::vec(gen_row(), 1..40).prop_flat_map(|rows| {
        let n = rows.len();
        let order: Vec<usize> = (0..n).collect();
        let objects: Vec<usize> = (0..9).collect();
        let plan = (
            prop::collection::vec(0..3u8, n),
            Just(order).prop_shuffle(),
            prop::collection::vec(prop::bool::ANY, 9),
            Just(objects).prop_shuffle(),
            prop::collection::vec((1..6u64, prop::sample::select(vec![60u64, 300, 1 << 20])), 3),
        );
        (Just(rows), plan)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_order_growth_segmenting_and_passes_give_the_same_table_and_answers((rows, plan) in case()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (month_of, order, in_part, delivery, segments) = plan;
            // The objects: (folder, month) -> rows in the shuffled order.
            let folders = ["AccountFeed_V1", "AgreementFeed_V1", "DailyUsageFeed_V1"];
            let mut files: Vec<Vec<&Gen>> = vec![Vec::new(); 9];
            for &i in &order {
                let f = folders.iter().position(|f| *f == rows[i].folder()).unwrap();
                files[f * 3 + month_of[i] as usize].push(&rows[i]);
            }
            let key = |o: usize| format!("{}/year=2025/month={:02}/data.csv", folders[o / 3], 1 + o % 3);
            let (objects, feeds) = (MemoryObjects::new(), MemoryFeeds::new());
            reference(&objects);
            let mut run = 0;
            // First pass: every object in delivery order, some in part only.
            for &o in &delivery {
                let rows = &files[o];
                if rows.is_empty() {
                    continue;
                }
                let shown = if in_part[o] { rows.len() / 2 } else { rows.len() };
                objects.put(BUCKET, &key(o), body(folders[o / 3], &rows[..shown]));
                run += 1;
                apply(&objects, &feeds, segments[run % 3], run).await;
            }
            // Then the objects delivered in part grow to their whole.
            for &o in delivery.iter().rev() {
                if in_part[o] && !files[o].is_empty() {
                    objects.put(BUCKET, &key(o), body(folders[o / 3], &files[o]));
                    run += 1;
                    apply(&objects, &feeds, segments[run % 3], run).await;
                }
            }
            let once = in_one_go(&rows).await;
            assert_eq!(feeds.items(), once.items(), "the table depends on how the rows came");

            let state = model(&rows, &objects);
            for aws in AWS {
                let account = AwsAccountId::parse(aws).unwrap();
                let got = account_feeds(&feeds, &account, None).await.unwrap();
                let mut expected: Vec<(String, String, Option<time::Date>)> = state
                    .subscriptions(&account)
                    .iter()
                    .map(|s| (s.product_id.to_owned(), s.agreement.status.as_str().to_owned(), state.last_usage(&account, s.product_id)))
                    .collect();
                let mut seen: Vec<(String, String, Option<time::Date>)> = got
                    .products
                    .iter()
                    .flat_map(|p| p.agreements.iter().map(move |a| (p.product_id.clone(), a.status.clone(), p.last_usage_date)))
                    .collect();
                expected.sort();
                seen.sort();
                assert_eq!(seen, expected, "account {aws}");
            }
        });
    }
}
