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
//!   concurrently, as the handler makes them on a cache miss.

// The handler tests' fixtures; the benchmark uses a few of them.
#[allow(dead_code)]
#[path = "../tests/eligibility_api/common.rs"]
mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{BIG_ACCOUNT, event_json, fifty_contacts_csv, with_path, with_query};
use eligibility_api::Api;
use ingest_export::apply_export;
use lambda_http::Body;
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::aws::dynamodb::item::BY_ACCOUNT_INDEX;
use psc_bridge::domain::Timestamp;
use psc_bridge::ports::ExportLog;
use psc_bridge::sync::Coverage;

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

    let api = Api::new(store.clone());
    let api_uncached = Api::new(store.clone()).with_freshness_cache(Duration::ZERO);
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
    }

    let mut h = Series::new("handler GET /accounts/{id}, 50 contacts (as deployed)", iterations);
    let mut hu = Series::new("handler, no freshness cache (Query + GetItem each time)", iterations);
    let mut q = Series::new("bare Query (ByAccount, limit 50)", iterations);
    let mut qg = Series::new("bare Query + GetItem (concurrent)", iterations);
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
    }

    println!(
        "\nlookup latency against DynamoDB Local ({}), {iterations} iterations after {warmup} warm-up, response {body_len} bytes\n",
        emu.dynamodb_endpoint()
    );
    println!("| series | p50 ms | p99 ms | mean ms |");
    println!("|---|---:|---:|---:|");
    for s in [&h, &hu, &q, &qg] {
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
    let _ = ddb.delete_table().table_name(table).send().await;
    Ok(())
}
