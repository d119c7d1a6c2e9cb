//! The data-feeds ingest end to end against DynamoDB Local and the S3
//! server: a synthetic Daily usage month (and the other four feeds) applied
//! by the real function code and adapters, then the same month re-delivered
//! with one more day, as AWS does daily.
//!
//!     cargo run -q --bin with-emulators -- cargo bench -p ingest-feeds --bench feeds -- --rows 100000
//!
//! Prints, per run: rows, seconds, rows/s, this process's CPU per row
//! (user + system, `getrusage`), its peak RSS during the run (`VmHWM`, reset
//! before it), bytes read and items written; and one `BENCH {json}` line.
//! DynamoDB Local serves one request at a time and is far slower than
//! DynamoDB, so rows/s here is a floor; CPU per row, memory, bytes read and
//! items written are the function's own.

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use ingest_feeds::{FeedIngest, Settings};
use psc_bridge::aws::DynamoStore;
use psc_bridge::metrics::Metrics;
use psc_bridge::resumable::Invocation;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "The data-feeds ingest against DynamoDB Local and the S3 server")]
struct Args {
    /// Daily usage rows in the month (before the extra day).
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Buyer accounts.
    #[arg(long, default_value_t = 20_000)]
    accounts: usize,
    /// Products.
    #[arg(long, default_value_t = 5)]
    products: usize,
    /// Rows a segment holds before it writes their items.
    #[arg(long, default_value_t = ingest_feeds::config::DEFAULT_SEGMENT_ROWS)]
    segment_rows: u64,
    /// New bytes of a month object per pass.
    #[arg(long, default_value_t = ingest_feeds::config::DEFAULT_PASS_BYTES)]
    pass_bytes: u64,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

const USAGE_KEY: &str = "DailyUsageFeed_V1/year=2025/month=06/data.csv";
const USAGE_HEADER: &str = "valid_from,insert_date,update_date,delete_date,usage_feed_id,usage_date,product_id,agreement_id,end_user_account_id,payer_account_id,region,dimension_key,usage_unit,usage_quantity,pricing_currency,estimated_revenue_in_pricing_currency\n";
const DIMENSIONS: [&str; 3] = ["api_calls", "storage_gb", "users"];

/// Usage rows `from..to`: day by day (as AWS appends them), each row an
/// (account, product, dimension) of that day; one in a hundred is a soft
/// delete of an earlier row.
fn usage_rows(a: &Args, from: usize, to: usize, days: usize) -> String {
    let per_day = a.rows.div_ceil(days).max(1);
    let mut out = String::new();
    for i in from..to {
        let (id, delete) = match record(i) {
            (id, true) => (id, "2025-06-30 00:00:00.0"),
            (id, false) => (id, ""),
        };
        let day = 1 + (id / per_day).min(29);
        let (account, product) = pair(a, id);
        let dimension = DIMENSIONS[id % DIMENSIONS.len()];
        out.push_str(&format!(
            "2025-06-{day:02} 00:00:00.0,2025-06-{day:02} 03:00:00.0,2025-06-{day:02} 03:00:00.0,{delete},u{id:09},2025-06-{day:02},prod-{product},agmt-{account},acct{account:06},acct{account:06},us-east-1,{dimension},units,1,USD,0.01\n"
        ));
    }
    out
}

/// The (account, product) pairs rows `from..to` use (as [`usage_rows`]).
fn pairs(a: &Args, from: usize, to: usize) -> usize {
    (from..to).map(|i| pair(a, record(i).0)).collect::<std::collections::HashSet<_>>().len()
}

/// The record row `i` is a version of, and whether it is a soft delete: one
/// row in a hundred repeats the row 50 before it, with `delete_date` set.
fn record(i: usize) -> (usize, bool) {
    if i % 100 == 99 { (i - 50, true) } else { (i, false) }
}

/// Row `i`'s account and product.
fn pair(a: &Args, i: usize) -> (usize, usize) {
    ((i * 7919) % a.accounts, (i / a.accounts) % a.products)
}

fn reference_feeds(a: &Args) -> Vec<(String, String)> {
    let mut account = String::from("account_id,aws_account_id,valid_from,update_date,delete_date\n");
    let mut agreements = String::from(
        "agreement_id,status,offer_id,acceptor_account_id,start_time,end_time,acceptance_time,valid_from,update_date,delete_date\n",
    );
    for i in 0..a.accounts {
        account.push_str(&format!("acct{i:06},{:012},2025-01-01T00:00:00Z,2025-01-01T00:00:00Z,\n", 100_000_000 + i));
        agreements.push_str(&format!(
            "agmt-{i},ACTIVE,offer-{},acct{i:06},2025-01-01T00:00:00Z,,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z,\n",
            i % a.products
        ));
    }
    let mut products = String::from("product_id,product_code,title,valid_from,update_date,delete_date\n");
    let mut offers = String::from("offer_id,product_id,valid_from,update_date,delete_date\n");
    for p in 0..a.products {
        products.push_str(&format!("prod-{p},{:0>25},Product {p},2021-01-01,2021-01-01,\n", p));
        offers.push_str(&format!("offer-{p},prod-{p},2021-01-01,2021-01-01,\n"));
    }
    vec![
        ("AccountFeed_V1/year=2025/month=01/data.csv".into(), account),
        ("AgreementFeed_V1/year=2025/month=01/data.csv".into(), agreements),
        ("ProductFeed_V1/year=2010/month=01/data.csv".into(), products),
        ("OfferProductFeed_V1/year=2010/month=01/data.csv".into(), offers),
    ]
}

/// Uploads from a file, so the body is never in this process's memory.
async fn put_file(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(body.as_bytes()).expect("write");
    put_path(s3, bucket, key, f.path()).await;
}

async fn put_path(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, path: &std::path::Path) {
    let stream = aws_sdk_s3::primitives::ByteStream::from_path(path).await.expect("stream");
    s3.put_object().bucket(bucket).key(key).body(stream).send().await.expect("put");
}

/// Appends usage rows `from..to` to `file`, a day's worth at a time (the
/// month is never whole in memory: the peak RSS is the ingest's).
fn append_usage(file: &mut std::fs::File, a: &Args, from: usize, to: usize, days: usize) {
    let step = a.rows.div_ceil(days).max(1);
    for start in (from..to).step_by(step) {
        file.write_all(usage_rows(a, start, (start + step).min(to), days).as_bytes()).expect("write");
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn status_kb(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn measured(ingest: &FeedIngest<aws_sdk_s3::Client, DynamoStore>, label: &str, rows_hint: usize) -> Value {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (units0, table0) = ingest.store().feed_write_units();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let answer = ingest.handle(json!({}), &Invocation::unbounded(format!("bench-{label}"))).await.expect("the run");
    let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let (units, table) = ingest.store().feed_write_units();
    let (units, table) = (units - units0, table - table0);
    let items = answer["itemsWritten"].as_u64().unwrap_or(0);
    let per_item = |v: f64| (items > 0).then(|| (v / items as f64 * 100.0).round() / 100.0);
    let rows = answer["rows"].as_u64().unwrap_or(0);
    let per_row = |v: f64| (rows > 0).then(|| (v / rows as f64).round());
    let figures = json!({
        "run": label,
        "rows": answer["rows"],
        "seconds": (secs * 10.0).round() / 10.0,
        "rowsPerSecond": per_row(rows as f64 * rows as f64 / secs),
        "cpuMicrosPerRow": per_row(cpu * 1e6),
        "peakRssMb": status_kb("VmHWM") / 1024,
        "bytesRead": answer["bytesRead"],
        "itemsWritten": answer["itemsWritten"],
        "writeUnits": units,
        "tableWriteUnitsPerItem": per_item(table),
        "writeUnitsPerItem": per_item(units),
        "status": answer["status"],
        "usageRowsInMonth": rows_hint,
    });
    println!(
        "{label:>9}: {} rows in {:.1} s ({} rows/s), {} us CPU/row, peak RSS {} MB, {} bytes read, {} items written, {} write units ({} a table item, {} with the indexes)",
        figures["rows"],
        secs,
        figures["rowsPerSecond"],
        figures["cpuMicrosPerRow"],
        figures["peakRssMb"],
        figures["bytesRead"],
        figures["itemsWritten"],
        figures["writeUnits"],
        figures["tableWriteUnitsPerItem"],
        figures["writeUnitsPerItem"]
    );
    figures
}

fn main() {
    // As the function's `main`, so that its memory is what is measured.
    ingest_feeds::one_malloc_arena();
    tokio::runtime::Runtime::new().expect("runtime").block_on(bench());
}

async fn bench() {
    let a = Args::parse();
    let emu = devkit::Emulators::get().await;
    let (ddb, s3) = (emu.dynamodb_client(), emu.s3_client());
    let table = devkit::unique_name("bench-feeds");
    devkit::create_table_from_template(&ddb, &table).await.expect("table");
    let bucket = devkit::unique_name("bench-feeds");
    devkit::create_bucket(&s3, &bucket).await.expect("bucket");

    let days = 30;
    let per_day = a.rows.div_ceil(days);
    let mut month = tempfile::NamedTempFile::new().expect("temp file");
    month.write_all(USAGE_HEADER.as_bytes()).expect("write");
    append_usage(month.as_file_mut(), &a, 0, a.rows, days);
    for (key, body) in reference_feeds(&a) {
        put_file(&s3, &bucket, &key, &body).await;
    }
    put_path(&s3, &bucket, USAGE_KEY, month.path()).await;
    let bytes = month.as_file().metadata().expect("metadata").len();
    let month_pairs = pairs(&a, 0, a.rows);
    let reference = 2 * a.accounts + 2 * a.products;
    println!(
        "month: {} usage rows, {bytes} bytes; {} accounts, {} products; {month_pairs} (account, product) pairs used, {reference} reference rows: at most {} items",
        a.rows,
        a.accounts,
        a.products,
        month_pairs + reference
    );

    let store = DynamoStore::new(ddb.clone(), table.clone());
    let settings = Settings { segment_rows: a.segment_rows, pass_bytes: a.pass_bytes, ..Settings::new(bucket.clone()) };
    let ingest = FeedIngest::new(s3.clone(), store, settings, Metrics::new("PscBridgeBench"));
    let first = measured(&ingest, "backfill", a.rows).await;

    // The next day: the same object with one more day's rows appended.
    append_usage(month.as_file_mut(), &a, a.rows, a.rows + per_day, days);
    put_path(&s3, &bucket, USAGE_KEY, month.path()).await;
    println!("next day: {} (account, product) pairs used", pairs(&a, a.rows, a.rows + per_day));
    let grown = measured(&ingest, "next day", a.rows + per_day).await;
    let unchanged = measured(&ingest, "unchanged", a.rows + per_day).await;
    println!("BENCH {}", json!({ "bench": "ingest-feeds", "runs": [first, grown, unchanged] }));
}
