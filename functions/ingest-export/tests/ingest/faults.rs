//! Faults a local DynamoDB cannot produce on demand (throttling, 5xx,
//! timeouts, transaction conflicts), injected by a fake DynamoDB at the
//! HTTP level ([`fake_dynamodb`]: the contact write is sent without the
//! SDK's orchestrator, so aws-smithy-mocks cannot see it) or a black-hole
//! endpoint, on the write path (one conditional `PutItem` per
//! row): no write is lost; a write that fails transiently is sent again
//! until the segment's time, then left unfinished (for a new invocation);
//! one that fails for good is counted and fails the
//! export.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use ingest_export::{Ingest, IngestError, Settings, THROTTLING, Writes, apply_export_with};
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::aws::{retry_config, unlimited_retry_partition};
use psc_bridge::metrics::Metrics;
use psc_bridge::retry::Backoff;

use crate::helpers::{INITIAL, csv, delete_row, t, upsert_row};

fn guid(i: usize) -> String {
    format!("0f4a0d6e-0000-4000-8000-{i:012}")
}

fn rows(n: usize) -> String {
    csv(&(0..n)
        .map(|i| {
            if i % 5 == 4 {
                delete_row(&guid(i), "2020-01-05T00:00:00.000Z")
            } else {
                upsert_row(&guid(i), &format!("Person{i}"), "2020-01-05T00:00:00.000Z", "CREATE")
            }
        })
        .collect::<Vec<_>>())
}

/// Millisecond waits, the function's rounds.
const FAST: Backoff = Backoff::new(12, Duration::from_millis(2), Duration::from_millis(4));

fn row_mode(concurrency: usize) -> Writes {
    Writes { concurrency, throttling: THROTTLING }
}

fn throttled() -> Response<SdkBody> {
    Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#,
        ),
    )
}

fn server_error() -> Response<SdkBody> {
    Response::new(
        StatusCode::try_from(500).unwrap(),
        SdkBody::from(r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"internal failure"}"#),
    )
}

fn invalid() -> Response<SdkBody> {
    Response::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"item too large"}"#),
    )
}

/// The SDK's attempts (8) with millisecond waits.
fn fast_sdk() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2))
}

fn ok() -> Response<SdkBody> {
    Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from("{}"))
}

/// A request to [`fake_dynamodb`]: its operation and JSON body.
struct Req {
    op: String,
    body: serde_json::Value,
}

impl Req {
    fn is_put(&self) -> bool {
        self.op == "PutItem"
    }

    fn is_contact(&self) -> bool {
        self.is_put() && self.body["Item"]["pk"]["S"].as_str().is_some_and(|pk| pk.starts_with("CONTACT#"))
    }

    fn item_guid(&self) -> &str {
        self.body["Item"]["customerGuid"]["S"].as_str().unwrap_or_default()
    }
}

/// A DynamoDB client whose every request, SDK's or not, is answered by
/// `answer` (with the client's `retry` config).
fn fake_dynamodb(retry: RetryConfig, answer: impl Fn(&Req) -> Response<SdkBody> + Send + Sync + 'static) -> Client {
    let http = aws_smithy_http_client::test_util::infallible_client_fn(move |req| {
        let op = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let op = op.rsplit('.').next().unwrap_or_default().to_owned();
        let body = serde_json::from_slice(req.body().bytes().unwrap_or_default()).unwrap_or_default();
        answer(&Req { op, body }).try_into_http1x().unwrap()
    });
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "test"))
        .endpoint_url("http://fake-dynamodb.invalid")
        .http_client(http)
        .retry_config(retry)
        .retry_partition(unlimited_retry_partition())
        .build();
    Client::from_conf(conf)
}

/// Counts calls.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    /// Counts one; the count before it.
    fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst)
    }

    fn num_calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_no_write_is_lost() {
    // One writer at a time, so each row sees: throttled, a 500, accepted
    // (the faults follow the call order).
    let put = Counter::default();
    let calls = put.clone();
    let client = fake_dynamodb(retry_config(), move |_| match calls.hit() % 3 {
        0 => throttled(),
        1 => server_error(),
        _ => ok(),
    });
    let store = Store::new(client, "contacts");

    let report =
        apply_export_with(&store, std::io::Cursor::new(rows(25)), "req", t(INITIAL), row_mode(1)).await.unwrap();
    assert_eq!(report.failed_writes, 0);
    assert_eq!((report.counts.created, report.counts.deleted), (20, 5));
    assert_eq!(put.num_calls(), 75, "three attempts per row");
}

#[tokio::test]
async fn a_write_that_keeps_failing_transiently_is_left_unfinished_while_the_others_apply() {
    let (doomed, accepted) = (Counter::default(), Counter::default());
    let (d, a, doomed_guid) = (doomed.clone(), accepted.clone(), guid(7));
    let client = fake_dynamodb(fast_sdk(), move |req| {
        if req.item_guid() == doomed_guid {
            d.hit();
            server_error()
        } else {
            a.hit();
            ok()
        }
    });
    let store = Store::new(client, "contacts");

    let writes = Writes { throttling: FAST, ..row_mode(4) };
    let report = apply_export_with(&store, std::io::Cursor::new(rows(10)), "req", t(INITIAL), writes).await.unwrap();
    assert_eq!((report.failed_writes, report.unfinished_writes), (0, 1), "not given up on: unfinished");
    assert_eq!(report.counts.applied(), 9);
    assert_eq!(accepted.num_calls(), 9);
    assert_eq!(doomed.num_calls(), 8 * 13, "the SDK's 8 attempts in each of 13 rounds");
    assert!(report.concurrency_halvings >= 1, "the 5xx lowered the writes in flight");
}

#[tokio::test]
async fn a_failed_write_fails_the_export_and_the_invocation_so_lambda_retries() {
    // Failed for good: DynamoDB refuses the item (a 5xx would be retried).
    let doomed_guid = guid(3);
    let (doomed, contact_put, sync_put, failed_status) =
        (Counter::default(), Counter::default(), Counter::default(), Counter::default());
    let (d, c, p, f) = (doomed.clone(), contact_put.clone(), sync_put.clone(), failed_status.clone());
    // GetItem (no item), UpdateItem, the sync state's PutItem: accepted.
    let ddb = fake_dynamodb(retry_config(), move |req| {
        if req.is_contact() && req.item_guid() == doomed_guid {
            d.hit();
            return invalid();
        }
        if req.is_contact() {
            c.hit();
        } else if req.is_put() {
            p.hit();
        } else if req.op == "UpdateItem" && req.body["ExpressionAttributeValues"][":status"]["S"] == "FAILED" {
            f.hit();
        }
        ok()
    });

    let csv_body = rows(6);
    let meta = crate::helpers::metadata("req-fault", INITIAL, "2020-01-10T00:00:00.000Z", "b", "k.csv", "k.meta.json");
    let get_csv =
        mock!(aws_sdk_s3::Client::get_object).match_requests(|r| r.key() == Some("k.csv")).then_output(move || {
            aws_sdk_s3::operation::get_object::GetObjectOutput::builder()
                .body(csv_body.clone().into_bytes().into())
                .build()
        });
    let get_meta = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
        aws_sdk_s3::operation::get_object::GetObjectOutput::builder().body(meta.clone().into_bytes().into()).build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get_csv, &get_meta]);

    let ingest = Ingest::new(
        s3,
        Store::new(ddb, "contacts"),
        Settings { initial_from_date: t(INITIAL), write_concurrency: 4, ..Settings::default() },
        Metrics::new("PscBridgeTest"),
    );
    let notification = crate::helpers::notification("req-fault", "b", "k.csv", "k.meta.json");
    let err = ingest.handle_message(&notification, "m").await.unwrap_err();
    assert!(matches!(err, IngestError::WritesFailed { failed: 1, .. }), "{err}");
    assert_eq!(err.error_type(), "WritesFailed");
    assert_eq!(failed_status.num_calls(), 1, "the export is recorded FAILED");
    assert_eq!(sync_put.num_calls(), 0, "the watermark does not move past a lost write");
    assert_eq!(contact_put.num_calls(), 5);
    assert_eq!(doomed.num_calls(), 1, "a permanent error is not sent again");
}

#[tokio::test]
async fn timeouts_are_retried_then_left_unfinished_never_dropped() {
    // An endpoint that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(fast_sdk().with_max_attempts(2))
        .retry_partition(unlimited_retry_partition())
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(100))
                .build(),
        )
        .build();
    let store = Store::new(Client::from_conf(conf), "contacts");
    let one_round = Backoff::new(1, Duration::from_millis(1), Duration::from_millis(2));
    for writes in [row_mode(3), row_mode(1)] {
        let writes = Writes { throttling: one_round, ..writes };
        let report = apply_export_with(&store, std::io::Cursor::new(rows(3)), "req", t(INITIAL), writes).await.unwrap();
        assert_eq!((report.failed_writes, report.unfinished_writes), (0, 3), "{writes:?}");
        assert_eq!(report.counts.applied(), 0);
    }
}

#[tokio::test]
async fn throttling_that_outlasts_the_sdk_retries_slows_the_ingest_but_fails_nothing() {
    // One writer, so the requests follow the rows: every third row is
    // throttled 9 times in a row, one more than the SDK's 8 attempts, as a
    // table far past its capacity answers; the others are accepted at once.
    let mut script = Vec::new();
    for row in 0..30 {
        if row % 3 == 0 {
            script.extend([false; 9]);
        }
        script.push(true);
    }
    let put = Counter::default();
    let calls = put.clone();
    let fast_sdk =
        retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2));
    let client = fake_dynamodb(fast_sdk, move |_| if script[calls.hit()] { ok() } else { throttled() });
    let store = Store::new(client, "contacts");
    let writes = Writes { concurrency: 1, throttling: FAST };

    let report = apply_export_with(&store, std::io::Cursor::new(rows(30)), "req", t(INITIAL), writes).await.unwrap();
    assert_eq!(report.failed_writes, 0, "nothing lost");
    assert_eq!((report.counts.created, report.counts.deleted), (24, 6));
    assert_eq!(report.throttled_retries, 10, "each of the 10 rows was sent once more after the SDK gave up");
    assert_eq!(put.num_calls(), 30 + 10 * 9);
}

#[tokio::test]
async fn a_third_of_the_writes_throttled_still_applies_the_export_in_one_invocation() {
    // 600 rows, one write at a time. Every third request is throttled (the
    // SDK sends it again).
    let (contact_put, sync_put) = (Counter::default(), Counter::default());
    let (c, p) = (contact_put.clone(), sync_put.clone());
    let ddb = fake_dynamodb(retry_config(), move |req| {
        if req.is_contact() {
            if c.hit() % 3 == 0 {
                return throttled();
            }
        } else if req.is_put() {
            p.hit();
        }
        ok()
    });

    let csv_body = rows(600);
    let end = "2020-01-10T00:00:00.000Z";
    let meta = crate::helpers::metadata("req-busy", INITIAL, end, "b", "k.csv", "k.meta.json");
    let get_csv =
        mock!(aws_sdk_s3::Client::get_object).match_requests(|r| r.key() == Some("k.csv")).then_output(move || {
            aws_sdk_s3::operation::get_object::GetObjectOutput::builder()
                .body(csv_body.clone().into_bytes().into())
                .build()
        });
    let get_meta = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
        aws_sdk_s3::operation::get_object::GetObjectOutput::builder().body(meta.clone().into_bytes().into()).build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get_csv, &get_meta]);
    let settings =
        Settings { initial_from_date: t(INITIAL), write_concurrency: 1, throttling: FAST, ..Settings::default() };
    let ingest = Ingest::new(s3, Store::new(ddb, "contacts"), settings, Metrics::new("PscBridgeTest"));

    let notification = crate::helpers::notification("req-busy", "b", "k.csv", "k.meta.json");
    let s = ingest.handle_message(&notification, "m").await.expect("applied in this invocation");
    assert_eq!(s.status, psc_bridge::model::ExportStatus::Applied);
    assert_eq!((s.counts.created, s.counts.deleted), (480, 120));
    assert_eq!(contact_put.num_calls(), 900, "600 rows, 300 of them throttled once");
    assert_eq!(sync_put.num_calls(), 1, "the watermark moved");
}
