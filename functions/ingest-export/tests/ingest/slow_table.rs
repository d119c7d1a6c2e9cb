//! A slow or failing database (issue 22): DynamoDB Local behind a
//! fault-injecting proxy ([`devkit::FaultProxy`]) that serves writes one at
//! a time, answers 500 to every write for a while, or delays and fails
//! writes throughout. In each the export must apply in full, in as many
//! invocations as it needs (the test plays Lambda: short deadlines, the
//! continuations invoked one after the other, a failed invocation retried
//! with its request id), never be recorded FAILED, and leave the table of a
//! clean pass. Each test prints its figures (docs/reliability.md).
//!
//! The outage lasts `PSC_FAULT_OUTAGE_SECONDS` (10 s by default; the
//! issue's 90 s: `PSC_FAULT_OUTAGE_SECONDS=90`).

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use devkit::{Fault, FaultProxy};
use ingest_export::{ExportSummary, Ingest, Invocation, Settings};
use psc_bridge::aws::{DynamoStore, retry_config, unlimited_retry_partition};
use psc_bridge::memory::MemoryContinuations;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::ExportStatus;
use psc_bridge::ports::ExportLog;
use std::sync::atomic::Ordering;

use crate::helpers::*;
use crate::resume::{live_contacts, one_pass};

const ROWS: usize = 3_000;
const END: &str = "2026-11-30T00:00:00.000Z";
/// Each invocation's time (a Lambda's is up to 15 minutes; the proportions
/// are kept: the attempt timeout below is a third of it).
const INVOCATION_MS: u64 = 4_000;
/// The SDK's attempt timeout through the proxy (10 s in the functions).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1_000);

fn guid(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", 0x51_0000u32, i)
}

/// `n` rows of distinct contacts, one in five a deletion, one in a
/// thousand rejected (an unknown operation type).
fn export(n: usize) -> String {
    csv(&(0..n)
        .map(|i| {
            let time = format!("2026-01-01T00:{:02}:{:02}.{:03}Z", i / 60_000 % 60, i / 1000 % 60, i % 1000);
            match i {
                _ if i % 1000 == 999 => upsert_row(&guid(i), &format!("Bad{i}"), &time, "FROB"),
                _ if i % 5 == 4 => delete_row(&guid(i), &time),
                _ => upsert_row(&guid(i), &format!("Person{i}"), &time, "CREATE"),
            }
        })
        .collect::<Vec<_>>())
}

/// A DynamoDB client through `proxy`, configured as the function's
/// (`psc_bridge::aws::dynamodb_client`: retries, no retry quota) with a
/// shorter attempt timeout.
fn client_via(proxy: &FaultProxy) -> aws_sdk_dynamodb::Client {
    let sdk = devkit::sdk_config(proxy.endpoint());
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(retry_config())
        .retry_partition(unlimited_retry_partition())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// Figures of one faulty run.
struct Run {
    summary: ExportSummary,
    invocations: u32,
    failed_invocations: u32,
    seconds: f64,
}

/// Applies a staged export through `proxy` as Lambda would run it: short
/// invocations, each continuation invoked when the last one ends, a failed
/// invocation retried with the same request id. The export record must
/// never say FAILED.
async fn apply_through(env: &TestEnv, proxy: &FaultProxy, request_id: &str, body: &str) -> Run {
    let store = DynamoStore::new(client_via(proxy), env.store.table());
    let settings =
        Settings { initial_from_date: t(INITIAL), write_concurrency: 16, checkpoint_rows: 500, ..Settings::default() };
    let ingest = Ingest::new(env.s3.clone(), store, settings, Metrics::new("PscBridgeTest"))
        .with_continuation(MemoryContinuations::new());
    let msg = env.stage_export(request_id, body, INITIAL, END).await;
    let mut payload = serde_json::json!({"continuation": {"message": msg}});
    let started = Instant::now();
    let (mut invocations, mut failed_invocations, mut id) = (0u32, 0u32, 1u32);
    loop {
        invocations += 1;
        assert!(invocations <= 200, "the export must end");
        let deadline = Some(SystemTime::now() + Duration::from_millis(INVOCATION_MS));
        let inv = Invocation { id: format!("{request_id}-inv-{id}"), deadline };
        let out = ingest.handle(payload.clone(), &inv).await;
        let rec = env.store.export(request_id).await.unwrap().expect("the export record");
        assert_ne!(rec.status, ExportStatus::Failed, "never FAILED for a transient fault: {:?}", rec.message);
        match out {
            Err(e) => {
                // Lambda retries a failed invocation with its request id.
                failed_invocations += 1;
                println!("invocation {invocations} failed ({}); Lambda retries it", e.error_type());
            }
            Ok(mut summaries) => {
                let summary = summaries.pop().expect("one summary");
                if summary.status != ExportStatus::Applying {
                    return Run { summary, invocations, failed_invocations, seconds: started.elapsed().as_secs_f64() };
                }
                let mut next = ingest.continuation().take();
                assert_eq!(next.len(), 1, "one continuation per invocation out of time: {summary:?}");
                payload = next.remove(0);
                id += 1;
            }
        }
    }
}

/// Runs `fault` on an export of [`ROWS`] rows and checks the outcome
/// against a clean pass.
async fn export_survives(name: &str, fault: Fault) {
    let env = TestEnv::new().await;
    let proxy = FaultProxy::start(devkit::Emulators::get().await.dynamodb_endpoint(), fault).await.unwrap();
    let body = export(ROWS);
    let request_id = format!("req-{name}");
    let (counts, live, rejects) = one_pass(&body, &request_id).await;

    let run = apply_through(&env, &proxy, &request_id, &body).await;
    let stats = proxy.stats();
    println!(
        "{name}: {ROWS} rows applied in {} invocation(s) ({} failed and retried), {:.1} s; \
         the proxy saw {} write requests, answered {} with 500, delayed {}",
        run.invocations,
        run.failed_invocations,
        run.seconds,
        stats.writes.load(Ordering::SeqCst),
        stats.errors.load(Ordering::SeqCst),
        stats.delayed.load(Ordering::SeqCst),
    );
    assert_eq!(run.summary.status, ExportStatus::Partial, "{:?}", run.summary);
    assert_eq!(run.summary.counts.rejected, counts.rejected);
    assert_eq!(
        run.summary.counts.applied() + run.summary.counts.skipped_stale,
        counts.applied() + counts.skipped_stale,
        "every row counted once: {:?} against {counts:?}",
        run.summary.counts
    );
    assert!(live_contacts(env.store.table()).await == live, "the table differs from a clean pass's");
    let report = env.get_object(&ingest_export::rejects_key(&format!("psc/{request_id}.csv"))).await;
    assert_eq!(report.as_deref(), Some(rejects.as_str()), "the rejects report of a clean pass");
    let rec = env.store.export(&request_id).await.unwrap().unwrap();
    assert_eq!((rec.status, rec.lease), (ExportStatus::Partial, None));
    env.assert_logs_clean();
}

#[tokio::test]
async fn an_overloaded_engine_serving_one_write_at_a_time_slows_the_export_down() {
    export_survives("serial", Fault::Serial { per_item: Duration::from_millis(2) }).await;
}

#[tokio::test]
async fn an_outage_of_every_write_delays_the_export_until_the_database_recovers() {
    let seconds = std::env::var("PSC_FAULT_OUTAGE_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let fault = Fault::Outage { after_writes: 20, lasting: Duration::from_secs(seconds) };
    export_survives(&format!("outage-{seconds}s"), fault).await;
}

#[tokio::test]
async fn slow_and_failing_writes_throughout_do_not_fail_the_export() {
    // One write in five answered 500; one in seven held 1.5 s, past the
    // 1 s attempt timeout (then forwarded: it lands after its client gave up).
    let fault = Fault::Flaky { error_every: 5, delay_every: 7, delay: ATTEMPT_TIMEOUT * 3 / 2 };
    export_survives("flaky", fault).await;
}
