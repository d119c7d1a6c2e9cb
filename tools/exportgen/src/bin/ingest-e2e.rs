//! ingest-e2e: psc-bridge's ingest, end to end, against DynamoDB Local and
//! the S3 emulator (moto), with throughput and peak memory.
//!
//! ```text
//! ingest-e2e run --file EXPORT.csv [--concurrency 32] [--deadline-seconds N] [--keep]
//! ingest-e2e prepare --file EXPORT.csv      (for the Python reference)
//! ingest-e2e cleanup --table T --bucket B
//! ```
//!
//! `run` creates a fresh table (from template.yaml) and bucket, uploads the
//! CSV (streamed from disk) and its metadata as CAS would, resets the peak-RSS
//! counter, then times `Ingest::handle_message` on the notification, exactly
//! as the Lambda runs it (same retry settings, `--concurrency` writes in
//! flight, default 32 like the template's `WriteConcurrency`; the function's
//! runtime, allocator and DynamoDB client settings). With
//! `--deadline-seconds N`, every invocation gets a deadline N seconds after
//! it starts: the ingest stops at a checkpoint before it and asks for a
//! continuation, which `run` invokes at once, as Lambda would, until the
//! export is applied; the summary gives the number of invocations. It prints a
//! summary and one `BENCH {json}` line: rows/s, peak RSS (`VmHWM`) of the
//! ingest, the write units the table reported consumed by the contact
//! writes (`ReturnConsumedCapacity=INDEXES`: in all, and the table's own), and the CPU seconds this process, DynamoDB Local's JVM and moto
//! used meanwhile (the emulators are found by the ports of
//! `PSC_TEST_DYNAMODB_ENDPOINT` / `PSC_TEST_S3_ENDPOINT`). Then it deletes
//! the table and the objects (unless `--keep`).
//!
//! `prepare` does the same set-up and prints `{"table", "bucket", "csvKey",
//! "metaKey", "requestId"}` for `benches/python/reference_boto3.py`.
//!
//! Run it under devkit's `cargo run -q --bin with-emulators --`; without the endpoint variables
//! devkit starts its own emulators (and CPU figures for them are omitted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::primitives::ByteStream;
use clap::{Parser, Subcommand};
use exportgen::{Placement, metadata_json, notification_json};
use ingest_export::{Ingest, Invocation, Settings};
use psc_bridge::aws::{DynamoStore, retry_config};
use psc_bridge::domain::Timestamp;
use psc_bridge::memory::MemoryContinuations;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::ExportStatus;

/// The function's allocator, as its `main` sets it.
#[global_allocator]
static ALLOCATOR: ingest_export::Allocator = ingest_export::Allocator {};

const INITIAL_FROM_DATE: &str = "2010-01-01T00:00:00.000Z";

/// psc-bridge's ingest, end to end, against DynamoDB Local and moto.
#[derive(Parser)]
#[command(name = "ingest-e2e")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Stage the export in a fresh table and bucket and time its ingest.
    Run(RunArgs),
    /// Stage the export and print where (for the Python reference).
    Prepare {
        #[arg(long, value_name = "CSV")]
        file: PathBuf,
    },
    /// Delete a staged table and bucket.
    Cleanup {
        #[arg(long, value_name = "T")]
        table: String,
        #[arg(long, value_name = "B")]
        bucket: String,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The export to ingest.
    #[arg(long, value_name = "CSV")]
    file: PathBuf,
    /// Writes in flight (the template's WriteConcurrency default).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// A deadline this many seconds after each invocation starts.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    deadline_seconds: Option<u64>,
    /// Keep the table and the objects.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Cli::parse();
    // The function's own runtime (current-thread), run as its main runs it.
    match ingest_export::run_to_end(run(args)).expect("tokio runtime") {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest-e2e: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Cli) -> Result<()> {
    let emu = devkit::Emulators::try_get().await?;
    // The Lambda's retry policy, not devkit's defaults.
    // ... and the function's client settings.
    let ddb = psc_bridge::aws::dynamodb_client_from(
        aws_sdk_dynamodb::config::Builder::from(&emu.dynamodb_sdk_config()).retry_config(retry_config()),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&emu.s3_sdk_config())
            .force_path_style(true)
            .retry_config(retry_config())
            .build(),
    );
    match args.command {
        Cmd::Cleanup { table, bucket } => cleanup(&ddb, &s3, &table, &bucket).await,
        Cmd::Prepare { file } => {
            let staged = prepare(&ddb, &s3, &file).await?;
            println!(
                "{}",
                serde_json::json!({
                    "table": staged.table, "bucket": staged.bucket, "csvKey": staged.csv_key,
                    "metaKey": staged.meta_key, "requestId": staged.request_id,
                })
            );
            Ok(())
        }
        Cmd::Run(run) => bench(emu, &ddb, &s3, &run).await,
    }
}

struct Staged {
    table: String,
    bucket: String,
    csv_key: String,
    meta_key: String,
    request_id: String,
}

/// A fresh table and bucket, the export and its metadata uploaded.
async fn prepare(ddb: &aws_sdk_dynamodb::Client, s3: &aws_sdk_s3::Client, file: &Path) -> Result<Staged> {
    let table = devkit::unique_name("bench-contacts");
    devkit::create_table_from_template(ddb, &table).await.context("creating the table from template.yaml")?;
    let bucket = devkit::unique_name("bench-exports");
    devkit::create_bucket(s3, &bucket).await?;
    let request_id = devkit::unique_name("bench");
    let csv_key = format!("psc/{request_id}.csv");
    let meta_key = format!("psc/{request_id}.meta.json");
    // Streamed from disk: the upload does not hold the file in memory.
    let body = ByteStream::from_path(file).await.with_context(|| format!("reading {}", file.display()))?;
    s3.put_object()
        .bucket(&bucket)
        .key(&csv_key)
        .content_type("text/csv")
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow!("uploading the export: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let at = Placement { request_id: &request_id, bucket: &bucket, csv_key: &csv_key, meta_key: &meta_key };
    // A full export requested now: coverage from the initial date to now.
    let meta = metadata_json(&at, INITIAL_FROM_DATE, &Timestamp::now().to_iso());
    s3.put_object()
        .bucket(&bucket)
        .key(&meta_key)
        .body(meta.into_bytes().into())
        .send()
        .await
        .map_err(|e| anyhow!("uploading the metadata: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(Staged { table, bucket, csv_key, meta_key, request_id })
}

async fn cleanup(ddb: &aws_sdk_dynamodb::Client, s3: &aws_sdk_s3::Client, table: &str, bucket: &str) -> Result<()> {
    ddb.delete_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| anyhow!("deleting table {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| anyhow!("listing {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    for obj in listed.contents() {
        if let Some(key) = obj.key() {
            let _ = s3.delete_object().bucket(bucket).key(key).send().await;
        }
    }
    let _ = s3.delete_bucket().bucket(bucket).send().await;
    Ok(())
}

async fn bench(
    emu: &devkit::Emulators,
    ddb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
    args: &RunArgs,
) -> Result<()> {
    let file = args.file.as_path();
    let (concurrency, deadline_seconds) = (args.concurrency, args.deadline_seconds);
    let bytes = std::fs::metadata(file).with_context(|| format!("{}", file.display()))?.len();
    let staged = prepare(ddb, s3, file).await?;
    let staging_hwm_kb = proc_status_kb("VmHWM");

    let store = DynamoStore::new(ddb.clone(), &staged.table);
    store.warm_up().await;
    let settings = Settings {
        initial_from_date: Timestamp::parse(INITIAL_FROM_DATE).expect("valid"),
        write_concurrency: concurrency,
        ..Settings::default()
    };
    let units = store.clone(); // shares the count of the write units the table reports
    let ingest = Ingest::new(s3.clone(), store, settings, Metrics::new("PscBridgeBench"))
        .with_continuation(MemoryContinuations::new());
    let at = Placement {
        request_id: &staged.request_id,
        bucket: &staged.bucket,
        csv_key: &staged.csv_key,
        meta_key: &staged.meta_key,
    };
    let message = notification_json(&at);

    let java = find_process(&["DynamoDBLocal.jar"], "-port", port_of(emu.dynamodb_endpoint()));
    let moto = find_process(&["moto_server"], "-p", port_of(emu.s3_endpoint()));
    // From here on VmHWM is the ingest's own peak, not the upload's.
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before_kb = proc_status_kb("VmRSS");
    let (java0, moto0, self0) = (java.and_then(cpu_seconds), moto.and_then(cpu_seconds), self_cpu_seconds());
    let start = Instant::now();
    let invocation = |n: u32| Invocation {
        id: format!("bench-invocation-{n}"),
        deadline: deadline_seconds.map(|s| SystemTime::now() + Duration::from_secs(s)),
    };
    let mut summary = ingest.handle_message_in(&message, "bench-sns-message", &invocation(1)).await?;
    let mut invocations = 1u32;
    while summary.status == ExportStatus::Applying {
        let next = ingest.continuation().take();
        let [payload] = next.as_slice() else {
            bail!("export {} is APPLYING with {} continuation(s) queued", summary.request_id, next.len());
        };
        invocations += 1;
        let out = ingest.handle(payload.clone(), &invocation(invocations)).await?;
        summary = out.into_iter().next().ok_or_else(|| anyhow!("a continuation answered no summary"))?;
    }
    let secs = start.elapsed().as_secs_f64();
    let (java1, moto1, self1) = (java.and_then(cpu_seconds), moto.and_then(cpu_seconds), self_cpu_seconds());
    let peak_kb = proc_status_kb("VmHWM");
    let (write_units, table_write_units) = units.contact_write_units();

    let c = summary.counts;
    let rows = c.created + c.updated + c.deleted + c.skipped_stale + c.rejected;
    let delta = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
    let (java_cpu, moto_cpu, self_cpu) = (delta(java0, java1), delta(moto0, moto1), self1 - self0);
    let result = serde_json::json!({
        "bench": "e2e-rust",
        "file": file.display().to_string(),
        "rows": rows,
        "bytes": bytes,
        "seconds": round(secs, 3),
        "rowsPerSec": round(rows as f64 / secs, 1),
        "concurrency": concurrency,
        "writeMode": "row",
        "deadlineSeconds": deadline_seconds,
        "invocations": invocations,
        "status": summary.status.as_str(),
        "counts": serde_json::to_value(&summary).map(|s| s["counts"].clone()).unwrap_or_default(),
        "peakRssKb": peak_kb,
        "peakRssIsIngestOnly": hwm_reset,
        "rssBeforeKb": rss_before_kb,
        "stagingPeakRssKb": staging_hwm_kb,
        "writeUnits": round(write_units, 1),
        "tableWriteUnits": round(table_write_units, 1),
        "selfCpuSec": round(self_cpu, 2),
        "javaCpuSec": java_cpu.map(|v| round(v, 2)),
        "motoCpuSec": moto_cpu.map(|v| round(v, 2)),
        "javaCores": java_cpu.map(|v| round(v / secs, 2)),
        "selfCores": round(self_cpu / secs, 2),
    });
    eprintln!(
        "ingest-e2e ({invocations} invocation(s)): {rows} rows ({:.1} MB) in {secs:.1}s = {:.0} rows/s, status {}, {write_units:.0} write units ({table_write_units:.0} the table's), peak RSS {:.1} MB{}; \
         CPU: ingest {:.2} cores ({:.0} µs/row), DynamoDB Local {}, moto {}",
        bytes as f64 / 1e6,
        rows as f64 / secs,
        summary.status.as_str(),
        peak_kb.unwrap_or(0) as f64 / 1024.0,
        if hwm_reset { " (ingest only)" } else { " (whole process)" },
        self_cpu / secs,
        self_cpu / rows.max(1) as f64 * 1e6,
        java_cpu.map_or("n/a".into(), |v| format!("{:.2} cores", v / secs)),
        moto_cpu.map_or("n/a".into(), |v| format!("{:.2} cores", v / secs)),
    );
    println!("BENCH {result}");
    if !args.keep {
        cleanup(ddb, s3, &staged.table, &staged.bucket).await?;
    }
    Ok(())
}

fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

fn port_of(endpoint: &str) -> Option<String> {
    endpoint.rsplit(':').next().map(|p| p.trim_end_matches('/').to_owned())
}

/// The process whose command line holds every one of `words` and `flag port`.
fn find_process(words: &[&str], flag: &str, port: Option<String>) -> Option<u32> {
    let port = port?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let has_word = |w: &str| args.iter().any(|a| a.windows(w.len()).any(|x| x == w.as_bytes()));
        let has_port = args.windows(2).any(|p| p[0] == flag.as_bytes() && p[1] == port.as_bytes());
        if words.iter().all(|w| has_word(w)) && has_port {
            return Some(pid);
        }
    }
    None
}

/// User + system CPU seconds of a process (all its threads).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After "pid (comm)": state is field 3, utime 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / ticks)
}

fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A `kB` line of /proc/self/status (VmHWM, VmRSS).
fn proc_status_kb(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
