//! Faults a local DynamoDB cannot produce on demand (throttling, 5xx,
//! timeouts, transaction conflicts), injected with aws-smithy-mocks or a
//! black-hole endpoint, on the write path (one conditional `PutItem` per
//! row): no write is lost; a write that fails transiently is sent again
//! until the segment's time, then left unfinished (for a new invocation);
//! one that fails for good is counted and fails the
//! export.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
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

fn item_guid(req: &PutItemInput) -> String {
    match req.item().and_then(|i| i.get("customerGuid")) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

fn is_contact(req: &PutItemInput) -> bool {
    matches!(req.item().and_then(|i| i.get("pk")), Some(AttributeValue::S(pk)) if pk.starts_with("CONTACT#"))
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_no_write_is_lost() {
    // One writer at a time, so each row sees: throttled, a 500, accepted.
    // (The mock cannot see a retried request's input, so the faults follow
    // the call order.)
    let mut seq = mock!(Client::put_item).sequence();
    for _ in 0..25 {
        seq = seq.http_response(throttled).http_response(server_error).output(|| PutItemOutput::builder().build());
    }
    let put = seq.build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |b| b.retry_config(retry_config()));
    let store = Store::new(client, "contacts");

    let report =
        apply_export_with(&store, std::io::Cursor::new(rows(25)), "req", t(INITIAL), row_mode(1)).await.unwrap();
    assert_eq!(report.failed_writes, 0);
    assert_eq!((report.counts.created, report.counts.deleted), (20, 5));
    assert_eq!(put.num_calls(), 75, "three attempts per row");
}

fn doomed_rule(doomed: String) -> aws_smithy_mocks::Rule {
    mock!(Client::put_item).match_requests(move |req| item_guid(req) == doomed).then_http_response(server_error)
}

#[tokio::test]
async fn a_write_that_keeps_failing_transiently_is_left_unfinished_while_the_others_apply() {
    let doomed = doomed_rule(guid(7));
    let ok = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&doomed, &ok], |b| b
        .retry_config(fast_sdk())
        .retry_partition(unlimited_retry_partition()));
    let store = Store::new(client, "contacts");

    let writes = Writes { throttling: FAST, ..row_mode(4) };
    let report = apply_export_with(&store, std::io::Cursor::new(rows(10)), "req", t(INITIAL), writes).await.unwrap();
    assert_eq!((report.failed_writes, report.unfinished_writes), (0, 1), "not given up on: unfinished");
    assert_eq!(report.counts.applied(), 9);
    assert_eq!(ok.num_calls(), 9);
    assert_eq!(doomed.num_calls(), 8 * 13, "the SDK's 8 attempts in each of 13 rounds");
    assert!(report.concurrency_halvings >= 1, "the 5xx lowered the writes in flight");
}

#[tokio::test]
async fn a_failed_write_fails_the_export_and_the_invocation_so_lambda_retries() {
    // Failed for good: DynamoDB refuses the item (a 5xx would be retried).
    let doomed_guid = guid(3);
    let doomed =
        mock!(Client::put_item).match_requests(move |req| item_guid(req) == doomed_guid).then_http_response(invalid);
    let contact_put =
        mock!(Client::put_item).match_requests(is_contact).then_output(|| PutItemOutput::builder().build());
    let sync_put =
        mock!(Client::put_item).match_requests(|r| !is_contact(r)).then_output(|| PutItemOutput::builder().build());
    let get = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let failed_status = mock!(Client::update_item)
        .match_requests(|r| {
            r.expression_attribute_values().and_then(|v| v.get(":status")) == Some(&AttributeValue::S("FAILED".into()))
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let other_update = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let ddb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&doomed, &contact_put, &sync_put, &get, &failed_status, &other_update],
        |b| b.retry_config(retry_config())
    );

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
    let mut seq = mock!(Client::put_item).sequence();
    for row in 0..30 {
        if row % 3 == 0 {
            seq = seq.http_response(throttled).times(9);
        }
        seq = seq.output(|| PutItemOutput::builder().build());
    }
    let put = seq.build();
    let fast_sdk =
        retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&put], |b| b.retry_config(fast_sdk.clone()));
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
    let mut seq = mock!(Client::put_item).match_requests(is_contact).sequence();
    for _ in 0..300 {
        seq = seq
            .http_response(throttled)
            .output(|| PutItemOutput::builder().build())
            .output(|| PutItemOutput::builder().build());
    }
    let contact_put = seq.build();
    let sync_put =
        mock!(Client::put_item).match_requests(|r| !is_contact(r)).then_output(|| PutItemOutput::builder().build());
    let get = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let update = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let ddb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&contact_put, &sync_put, &get, &update], |b| b
        .retry_config(retry_config()));

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
