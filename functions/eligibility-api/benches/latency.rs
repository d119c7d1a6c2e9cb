//! Lookup latency of the handler against DynamoDB Local, next to the bare
//! DynamoDB calls it makes. A measurement, not a test: it prints figures and
//! asserts nothing about them.
//!
//!     cargo run -q --bin with-emulators -- cargo bench -p eligibility-api --bench latency
//!
//! (without `with-emulators`, devkit starts DynamoDB Local itself).
//! Env: `BENCH_ITERATIONS` (default 2000), `BENCH_WARMUP` (default 200).
//!
//! Setup: one table from template.yaml, 50 contacts of one account written by
//! `ingest_export::apply_export`, a sync state written by
//! `ExportLog::record_coverage`. Then, interleaved so that the four series see
//! the same noise, each iteration times:
//! * `handler`: `GET /accounts/{id}` (limit 50) from the fixture event's
//!   JSON text to the serialized response (event parsing, routing,
//!   validation, the Query, decoding, aggregation, JSON), with the freshness
//!   cache as deployed: the sync state is re-read at most every 30 s, so in
//!   steady state a lookup makes one DynamoDB call;
//! * `handler, no freshness cache`: the same with the sync-state GetItem on
//!   every request (concurrent with the Query), the cost of a cache miss;
//! * `bare Query`: the SDK Query the store makes (ByAccount, limit 50),
//!   without decoding;
//! * `bare Query + GetItem`: that Query and the sync-state GetItem,
//!   concurrently, as the handler makes them on a cache miss;
//! * `live checks, cold cache`: the same lookup with `SellerProducts` set, so
//!   the handler also calls `SearchAgreements` (the unmodified SDK, RPC v2
//!   CBOR) on the local stand-in, which answers after a fixed added latency
//!   (`BENCH_AGREEMENT_DELAY_MS`, default 30), with the agreement cache off:
//!   the Agreement API is asked on every lookup, concurrently with the Query;
//! * `live checks, warm cache`: the same with the cache as deployed (300 s),
//!   so after the first lookup the agreements come from memory.
//!
//! * `with the data feeds`: the same lookup as `handler`, also reading the
//!   data feeds (`dataFeeds`: the account's bridge, its two agreements, their
//!   offers, the products, 90 days of usage of each product) from the same
//!   table, as deployed: the reference data (products, offers, `asOf`) kept
//!   for a minute, the bridge and the account's partition read every time.
//!
//! Targets (issue 11): cold cache at most the added delay + 2 ms over the
//! PSC-only handler; warm cache at most 2 ms over it. Issue 20: the lookup
//! with the data feeds at most 2 ms (p50) over the lookup without them.

// The fixtures it shares with the handler tests.
#[path = "../tests/eligibility_api/fixtures.rs"]
mod fixtures;

use std::io::Cursor;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region as SdkRegion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_standin::{Service, StandIn};
use eligibility_api::Api;
use eligibility_api::live::LiveChecks;
use fixtures::{BIG_ACCOUNT, BIG_PRODUCTS, event_json, fifty_contacts_csv, with_path, with_query};
use ingest_export::apply_export;
use lambda_http::Body;
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::aws::dynamodb::item::BY_ACCOUNT_INDEX;
use psc_bridge::aws::{AgreementClient, Ec2Client};
use psc_bridge::domain::Timestamp;
use psc_bridge::entitlement::SellerProducts;
use psc_bridge::feeds::{
    AccountRow, AgreementRow, CachedReference, DailyUsageRow, FeedReader, FeedRecord, ItemKey, OfferProductRow,
    ProductRow, REFERENCE_TTL, Row, Stored, Versioned, merge,
};
use psc_bridge::ports::{ExportLog, FeedStore};
use psc_bridge::sync::Coverage;
use std::collections::BTreeMap;

type LiveApi = Api<Store, Ec2Client, AgreementClient>;
type FeedsApi =
    Api<Store, eligibility_api::live::NotConfigured, eligibility_api::live::NotConfigured, CachedReference<Store>>;

/// Applies a feed's CSV to the table as ingest-feeds does (rows grouped by
/// item and merged), for the benchmark's account.
async fn load_feed<T: FeedRecord + Stored>(store: &Store, csv: &str) -> anyhow::Result<()> {
    let mut groups: BTreeMap<ItemKey, Vec<Versioned<T>>> = BTreeMap::new();
    for row in FeedReader::<_, T>::new(csv.as_bytes())? {
        if let Ok(Row::Valid(v)) = row {
            groups.entry(v.record.item_key().map_err(anyhow::Error::msg)?).or_default().push(v);
        }
    }
    let items: Vec<_> = groups.into_iter().filter_map(|(k, rows)| merge(&k, None, rows).ok().flatten()).collect();
    store.put_feed_items(&items).await?;
    Ok(())
}

/// The benchmark account in the feeds: an ACTIVE agreement for each of its
/// two products, 90 days of usage of each.
async fn load_feeds(store: &Store) -> anyhow::Result<()> {
    let v = "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,";
    load_feed::<AccountRow>(
        store,
        &format!("account_id,aws_account_id,valid_from,update_date,delete_date\nfa-big,{BIG_ACCOUNT},{v}\n"),
    )
    .await?;
    let mut products = String::from("product_id,product_code,title,valid_from,update_date,delete_date\n");
    let mut offers = String::from("offer_id,product_id,valid_from,update_date,delete_date\n");
    let mut agreements = String::from(
        "agreement_id,status,offer_id,acceptor_account_id,start_time,end_time,acceptance_time,valid_from,update_date,delete_date\n",
    );
    let mut usage =
        String::from("usage_feed_id,usage_date,product_id,end_user_account_id,valid_from,update_date,delete_date\n");
    for (i, (_, code)) in BIG_PRODUCTS.iter().enumerate() {
        products.push_str(&format!("prod-big{i},{code},Product {i},{v}\n"));
        offers.push_str(&format!("offer-big{i},prod-big{i},{v}\n"));
        agreements.push_str(&format!(
            "agmt-big{i},ACTIVE,offer-big{i},fa-big,2026-01-01T00:00:00Z,,2026-01-01T00:00:00Z,{v}\n"
        ));
        for day in 0..90 {
            let date = time::Date::from_ordinal_date(2026, 1 + day).expect("a day of 2026");
            usage.push_str(&format!("u{i}-{day},{date},prod-big{i},fa-big,{v}\n"));
        }
    }
    load_feed::<ProductRow>(store, &products).await?;
    load_feed::<OfferProductRow>(store, &offers).await?;
    load_feed::<AgreementRow>(store, &agreements).await?;
    load_feed::<DailyUsageRow>(store, &usage).await?;
    store.save_feeds_as_of(Timestamp::now()).await?;
    Ok(())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Series {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Series {
    fn new(name: &'static str, n: usize) -> Self {
        Self { name, samples: Vec::with_capacity(n) }
    }
    fn pct(&self, p: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort();
        let i = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
        s[i].as_secs_f64() * 1000.0
    }
    fn mean(&self) -> f64 {
        self.samples.iter().map(Duration::as_secs_f64).sum::<f64>() / self.samples.len() as f64 * 1000.0
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations = env_usize("BENCH_ITERATIONS", 2000);
    let warmup = env_usize("BENCH_WARMUP", 200);

    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let table = devkit::unique_name("bench-latency");
    devkit::create_table_from_template(&ddb, &table).await?;
    let store = Store::new(ddb.clone(), table.clone());
    let initial = Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap();
    let report = apply_export(&store, Cursor::new(fifty_contacts_csv().into_bytes()), "bench", initial, 16).await?;
    anyhow::ensure!(report.counts.created == 50, "expected 50 contacts, got {:?}", report.counts);
    store.record_coverage(Coverage::new(initial, Timestamp::now()).unwrap(), initial).await?;

    load_feeds(&store).await?;
    let api_feeds: &'static FeedsApi =
        Box::leak(Box::new(Api::new(store.clone()).with_feeds(CachedReference::new(store.clone(), REFERENCE_TTL))));
    let api = Api::new(store.clone());
    let api_uncached = Api::new(store.clone()).with_freshness_cache(Duration::ZERO);

    // The live checks: the stand-in's Agreement API with a fixed delay, and
    // an ACTIVE agreement of the benchmark's account on one of its products.
    let delay = Duration::from_millis(env_usize("BENCH_AGREEMENT_DELAY_MS", 30) as u64);
    let s3 = Some(aws_standin::s3_client_for_endpoint("http://127.0.0.1:9"));
    let standin = StandIn { seed: true, s3, ..Default::default() }.start("127.0.0.1:0").await?;
    let mut agreement =
        standin.agreements().get(aws_standin::seed::AGREEMENT_ACTIVE).cloned().expect("seeded agreement");
    agreement.acceptor_account_id = BIG_ACCOUNT.to_owned();
    agreement.agreement_id = "agmt-bench".to_owned();
    standin.agreements().insert(agreement.agreement_id.clone(), agreement);
    standin.set_latency(Service::Agreements, delay);
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(SdkRegion::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("AKIDBENCH", "bench", None, None, "b")))
        .endpoint_url(standin.endpoint_url())
        .build();
    let products = SellerProducts::parse(&format!(
        "{}={},{}={}",
        BIG_PRODUCTS[0].1,
        aws_standin::seed::PRODUCT_ID_1,
        BIG_PRODUCTS[1].1,
        aws_standin::seed::PRODUCT_ID_2
    ))?;
    let live = |ttl: Duration| {
        let checks = LiveChecks::new(
            products.clone(),
            Ec2Client::new(&sdk).with_endpoint(standin.endpoint_url()),
            AgreementClient::new(&sdk, Duration::from_millis(1500)),
        )
        .with_cache_ttl(ttl);
        Api::with_live_checks(store.clone(), checks)
    };
    let api_cold: &'static LiveApi = Box::leak(Box::new(live(Duration::ZERO)));
    let api_warm: &'static LiveApi = Box::leak(Box::new(live(eligibility_api::live::DEFAULT_AGREEMENTS_CACHE_TTL)));
    let event = with_query(with_path(event_json("api-get-account"), "GET", &format!("/accounts/{BIG_ACCOUNT}")), "");
    let event_text = event.to_string();
    let (event_text, ddb, table) = (&event_text, &ddb, &table);

    let handler = |api: &'static Api<Store>| async move {
        let req = lambda_http::request::from_str(event_text).expect("event");
        let resp = api.handle(req).await;
        assert_eq!(resp.status(), 200);
        match resp.body() {
            Body::Text(t) => t.len(),
            Body::Binary(b) => b.len(),
            _ => 0,
        }
    };
    let live_handler = |api: &'static LiveApi| async move {
        let req = lambda_http::request::from_str(event_text).expect("event");
        let resp = api.handle(req).await;
        assert_eq!(resp.status(), 200);
        let text = match resp.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b.as_slice(),
            _ => &[],
        };
        let answered = text.windows(34).any(|w| w == br#""agreements":{"verdict":"eligible""#);
        assert!(answered, "the agreements answered: {}", String::from_utf8_lossy(text));
    };
    let feeds_handler = |api: &'static FeedsApi| async move {
        let req = lambda_http::request::from_str(event_text).expect("event");
        let resp = api.handle(req).await;
        assert_eq!(resp.status(), 200);
        let text = match resp.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b.as_slice(),
            _ => &[],
        };
        let marker = br#""dataFeeds":{"verdict":"eligible""#;
        assert!(text.windows(marker.len()).any(|w| w == marker), "the feeds did not answer eligible");
    };
    let bare_query = || async move {
        let out = ddb
            .query()
            .table_name(table)
            .index_name(BY_ACCOUNT_INDEX)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(format!("ACCOUNT#{BIG_ACCOUNT}")))
            .limit(50)
            .send()
            .await
            .expect("query");
        assert_eq!(out.count(), 50);
    };
    let bare_get = || async move {
        ddb.get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("SYNC".into()))
            .key("sk", AttributeValue::S("STATE".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get");
    };

    let (api, api_uncached): (&'static Api<Store>, &'static Api<Store>) =
        (Box::leak(Box::new(api)), Box::leak(Box::new(api_uncached)));
    let body_len = handler(api).await;
    for _ in 0..warmup {
        handler(api).await;
        handler(api_uncached).await;
        bare_query().await;
        tokio::join!(bare_query(), bare_get());
        live_handler(api_cold).await;
        live_handler(api_warm).await;
        feeds_handler(api_feeds).await;
    }

    let mut h = Series::new("handler GET /accounts/{id}, 50 contacts (as deployed)", iterations);
    let mut hu = Series::new("handler, no freshness cache (Query + GetItem each time)", iterations);
    let mut q = Series::new("bare Query (ByAccount, limit 50)", iterations);
    let mut qg = Series::new("bare Query + GetItem (concurrent)", iterations);
    let mut lc = Series::new("live checks, cold cache (SearchAgreements every lookup)", iterations);
    let mut lw = Series::new("live checks, warm cache (agreements from memory)", iterations);
    let mut fd = Series::new("with the data feeds (as deployed)", iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        handler(api).await;
        h.samples.push(t.elapsed());
        let t = Instant::now();
        handler(api_uncached).await;
        hu.samples.push(t.elapsed());
        let t = Instant::now();
        bare_query().await;
        q.samples.push(t.elapsed());
        let t = Instant::now();
        tokio::join!(bare_query(), bare_get());
        qg.samples.push(t.elapsed());
        let t = Instant::now();
        live_handler(api_warm).await;
        lw.samples.push(t.elapsed());
        let t = Instant::now();
        feeds_handler(api_feeds).await;
        fd.samples.push(t.elapsed());
        let t = Instant::now();
        live_handler(api_cold).await;
        lc.samples.push(t.elapsed());
        // Untimed: the cold-cache lookup leaves the machine idle for the
        // added delay; the next iteration's first series should not pay for
        // waking it up.
        bare_query().await;
    }

    println!(
        "\nlookup latency against DynamoDB Local ({}), {iterations} iterations after {warmup} warm-up, response {body_len} bytes\n",
        emu.dynamodb_endpoint()
    );
    println!("| series | p50 ms | p99 ms | mean ms |");
    println!("|---|---:|---:|---:|");
    for s in [&h, &hu, &q, &qg, &lc, &lw, &fd] {
        println!("| {} | {:.2} | {:.2} | {:.2} |", s.name, s.pct(50.0), s.pct(99.0), s.mean());
    }
    println!(
        "\nhandler overhead over the bare Query it makes (target: at most 2 ms): p50 {:+.2} ms, p99 {:+.2} ms",
        h.pct(50.0) - q.pct(50.0),
        h.pct(99.0) - q.pct(99.0)
    );
    println!(
        "on a freshness-cache miss, over the bare Query + GetItem it makes: p50 {:+.2} ms, p99 {:+.2} ms",
        hu.pct(50.0) - qg.pct(50.0),
        hu.pct(99.0) - qg.pct(99.0)
    );
    let added = delay.as_secs_f64() * 1000.0;
    println!(
        "\nlive checks, cold cache, over the PSC-only handler (target: at most {added:.0} ms + 2 ms): p50 {:+.2} ms, p99 {:+.2} ms",
        lc.pct(50.0) - h.pct(50.0),
        lc.pct(99.0) - h.pct(99.0)
    );
    println!(
        "live checks, warm cache, over the PSC-only handler (target: at most 2 ms): p50 {:+.2} ms, p99 {:+.2} ms",
        lw.pct(50.0) - h.pct(50.0),
        lw.pct(99.0) - h.pct(99.0)
    );
    println!(
        "\nwith the data feeds, over the handler without them (target: at most 2 ms): p50 {:+.2} ms, p99 {:+.2} ms",
        fd.pct(50.0) - h.pct(50.0),
        fd.pct(99.0) - h.pct(99.0)
    );
    standin.shutdown().await;
    let _ = ddb.delete_table().table_name(table).send().await;
    Ok(())
}
